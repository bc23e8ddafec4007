use std::fmt;

/// A registered client's identifier: 1–64 characters of `a-z`, `A-Z`, `0-9`, `-`, `_` and `.`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct ClientId(String);

impl ClientId {
    /// Accepts a client id from a request or the configuration; `None` when it cannot be one.
    pub fn parse(text: &str) -> Option<Self> {
        let valid = (1..=64).contains(&text.len())
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        valid.then(|| Self(text.to_owned()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ClientId({})", self.0)
    }
}

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_plain_ids_only() {
        assert!(ClientId::parse("app1").is_some());
        assert!(ClientId::parse("").is_none());
        assert!(ClientId::parse("app 1").is_none());
        assert!(ClientId::parse(&"a".repeat(65)).is_none());
    }
}
