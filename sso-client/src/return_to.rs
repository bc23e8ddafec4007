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
///
/// The path is kept percent-encoded: every character outside RFC 3986's unreserved and
/// reserved sets (non-ASCII text, `"`, `<`, `{`, ...) is replaced by its UTF-8 bytes as `%XX`,
/// so [`ReturnTo::as_str`] is plain ASCII, fit for a `Location` header. `%` itself is kept, so
/// text that is already encoded stays as it is and parsing is idempotent.
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

    /// Accepts `text` if it is a same-origin path, percent-encoding what is not URL-safe.
    ///
    /// # Errors
    /// [`NotSameOrigin`] for anything else (absolute or scheme-relative URLs, backslashes,
    /// whitespace, control characters, text longer than 2048 bytes once encoded).
    pub fn parse(text: &str) -> Result<Self, NotSameOrigin> {
        let shape_ok = text.starts_with('/')
            && !text.starts_with("//")
            && !text
                .chars()
                .any(|c| c == '\\' || c.is_whitespace() || c.is_control());
        if !shape_ok || text.len() > MAX_LEN {
            return Err(NotSameOrigin);
        }
        let encoded = percent_encode(text);
        if encoded.len() > MAX_LEN {
            return Err(NotSameOrigin);
        }
        let base = Url::parse("http://origin.invalid/").map_err(|_| NotSameOrigin)?;
        let resolved = base.join(&encoded).map_err(|_| NotSameOrigin)?;
        if resolved.origin() != base.origin() {
            return Err(NotSameOrigin);
        }
        Ok(Self(encoded))
    }

    /// The path as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `text` with every byte that is not URL-safe written as `%XX`.
fn percent_encode(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        if is_url_safe(byte) {
            encoded.push(char::from(byte));
        } else {
            encoded.push('%');
            encoded.push(char::from(HEX[usize::from(byte >> 4)]));
            encoded.push(char::from(HEX[usize::from(byte & 0x0f)]));
        }
    }
    encoded
}

const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// RFC 3986 unreserved and reserved characters, and `%`.
fn is_url_safe(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"-._~:/?#[]@!$&'()*+,;=%".contains(&byte)
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
    use proptest::prelude::*;

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
    fn text_that_is_not_url_safe_is_percent_encoded() {
        for (raw, encoded) in [
            ("/café", "/caf%C3%A9"),
            ("/search?q=日本", "/search?q=%E6%97%A5%E6%9C%AC"),
            ("/a\"b<c>{d}|^`", "/a%22b%3Cc%3E%7Bd%7D%7C%5E%60"),
            ("/already%20encoded", "/already%20encoded"),
            ("/\u{200b}/evil.example", "/%E2%80%8B/evil.example"),
        ] {
            let parsed = ReturnTo::parse(raw).unwrap();
            assert_eq!(parsed.as_str(), encoded, "{raw:?}");
            assert_eq!(ReturnTo::parse(encoded).unwrap(), parsed, "idempotent");
        }
        let long = format!("/{}", "é".repeat(MAX_LEN / 4));
        assert!(long.len() <= MAX_LEN);
        assert!(ReturnTo::parse(&long).is_err(), "too long once encoded");
    }

    /// Pieces that open redirects and header injection are made of.
    const PIECES: &[&str] = &[
        "/",
        "//",
        "\\",
        ".",
        "..",
        "%2F",
        "%2f",
        "%5C",
        "%00",
        "%",
        "@",
        ":",
        "?",
        "#",
        "&",
        "=",
        "évil",
        "日本",
        "\t",
        "\n",
        "\r",
        "\u{3000}",
        "\u{200b}",
        "\u{feff}",
        "\u{85}",
        " ",
        "http:",
        "https://",
        "evil.example",
        "javascript:",
        "\"",
        "<",
        "{",
    ];

    /// Where the browser may be when it reads the `Location` (the callback, a deep page).
    const BASES: &[&str] = &[
        "https://app1.example.test/auth/callback?code=c&state=s",
        "https://app1.example.test/deep/page/?x=1#top",
        "http://127.0.0.1:8081/",
    ];

    fn path_like() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<String>(),
            "/\\PC{0,60}",
            proptest::collection::vec(proptest::sample::select(PIECES), 0..10)
                .prop_map(|pieces| pieces.concat()),
        ]
    }

    proptest! {
        #[test]
        fn any_text_is_refused_or_becomes_an_ascii_same_origin_path(text in path_like()) {
            let Ok(path) = ReturnTo::parse(&text) else {
                return Ok(());
            };
            let kept = path.as_str();
            prop_assert!(kept.is_ascii(), "{kept:?}");
            prop_assert!(kept.len() <= MAX_LEN);
            prop_assert!(kept.starts_with('/') && !kept.starts_with("//"), "{kept:?}");
            prop_assert!(
                !kept.bytes().any(|b| b == b'\\' || b.is_ascii_whitespace() || b.is_ascii_control()),
                "{kept:?}"
            );
            for base in BASES {
                let base = Url::parse(base).unwrap();
                let resolved = base.join(kept).unwrap();
                prop_assert_eq!(resolved.origin(), base.origin(), "{:?} from {}", kept, base);
            }
            prop_assert_eq!(ReturnTo::parse(kept), Ok(path.clone()), "parsing is idempotent");
        }
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
