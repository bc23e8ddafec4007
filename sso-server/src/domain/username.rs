use std::fmt;

/// A login name: 1–64 characters of letters, digits, `.`, `_`, `-` and `@`, compared as given.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Username(String);

impl Username {
    /// Accepts a username typed into a form or given on the command line.
    ///
    /// # Errors
    /// A readable message when the text is not a valid username.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let valid = (1..=64).contains(&text.chars().count())
            && text
                .chars()
                .all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'));
        if valid {
            Ok(Self(text.to_owned()))
        } else {
            Err(format!(
                "{text:?} is not a valid username (1-64 letters, digits, '.', '_', '-', '@')"
            ))
        }
    }

    /// The username as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Username({})", self.0)
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_names_and_trims() {
        assert_eq!(Username::parse(" alice ").unwrap().as_str(), "alice");
        assert!(Username::parse("bob.smith@example").is_ok());
        assert!(Username::parse("张伟").is_ok());
    }

    #[test]
    fn rejects_empty_long_and_odd_names() {
        assert!(Username::parse("").is_err());
        assert!(Username::parse(&"a".repeat(65)).is_err());
        assert!(Username::parse("a b").is_err());
        assert!(Username::parse("a:b").is_err());
    }
}
