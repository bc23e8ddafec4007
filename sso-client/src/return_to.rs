//! Where to send the browser after sign-in: a path on this app, never another site.

use std::fmt;

use serde::{Deserialize, Serialize};
use url::Url;

/// Longest return path kept.
const MAX_LEN: usize = 2048;

/// A same-origin path (with optional query) to return to after sign-in.
///
/// Only text that a browser resolves to this app's own origin is accepted: it must start with
/// a single `/`, and may not contain `\`, whitespace or control characters (which browsers
/// strip or treat as `/`, turning `/\evil.example` into another host).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ReturnTo(String);

/// Text refused as a [`ReturnTo`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a same-origin path")]
pub struct NotSameOrigin;

impl ReturnTo {
    /// The app's root, `/`.
    pub fn root() -> Self {
        Self("/".to_owned())
    }

    /// Accepts `text` if it is a same-origin path.
    ///
    /// # Errors
    /// [`NotSameOrigin`] for anything else (absolute or scheme-relative URLs, backslashes,
    /// control characters, overlong text).
    pub fn parse(text: &str) -> Result<Self, NotSameOrigin> {
        let shape_ok = (1..=MAX_LEN).contains(&text.len())
            && text.starts_with('/')
            && !text.starts_with("//")
            && !text
                .chars()
                .any(|c| c == '\\' || c.is_whitespace() || c.is_control());
        if !shape_ok {
            return Err(NotSameOrigin);
        }
        let base = Url::parse("http://origin.invalid/").map_err(|_| NotSameOrigin)?;
        let resolved = base.join(text).map_err(|_| NotSameOrigin)?;
        if resolved.origin() != base.origin() {
            return Err(NotSameOrigin);
        }
        Ok(Self(text.to_owned()))
    }

    /// The path as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ReturnTo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ReturnTo({})", self.0)
    }
}

impl TryFrom<String> for ReturnTo {
    type Error = NotSameOrigin;

    fn try_from(text: String) -> Result<Self, NotSameOrigin> {
        Self::parse(&text)
    }
}

impl From<ReturnTo> for String {
    fn from(value: ReturnTo) -> Self {
        value.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_origin_paths_are_kept() {
        for path in ["/", "/me", "/a/b?x=1&y=%2F%2F", "/p#frag", "/%5Cescaped"] {
            assert_eq!(ReturnTo::parse(path).unwrap().as_str(), path);
        }
    }

    #[test]
    fn open_redirect_attempts_are_refused() {
        for attack in [
            "https://evil.example/",
            "//evil.example",
            "///evil.example",
            "/\\evil.example",
            "\\\\evil.example",
            "/\t/evil.example",
            "/\n/evil.example",
            " /me",
            "javascript:alert(1)",
            "evil.example",
            "",
        ] {
            assert_eq!(ReturnTo::parse(attack), Err(NotSameOrigin), "{attack:?}");
        }
        assert!(ReturnTo::parse(&format!("/{}", "a".repeat(MAX_LEN))).is_err());
    }

    #[test]
    fn deserializing_applies_the_same_check() {
        assert!(serde_json::from_str::<ReturnTo>(r#""//evil.example""#).is_err());
        assert_eq!(
            serde_json::from_str::<ReturnTo>(r#""/ok""#).unwrap(),
            ReturnTo::parse("/ok").unwrap()
        );
    }
}
