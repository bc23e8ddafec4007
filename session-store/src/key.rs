use std::fmt;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore as _;

/// Longest key accepted from outside: a cookie-sealed session fits in one 4096-byte cookie.
const MAX_KEY_LEN: usize = 4096;

/// Random bytes in a store-assigned identifier (256 bits).
const ID_BYTES: usize = 32;

/// `N` bytes from a CSPRNG (ChaCha, seeded and periodically reseeded by the operating system).
pub(crate) fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    rand::rng().fill_bytes(&mut bytes);
    bytes
}

/// A fresh random identifier: 256 bits, URL-safe base64.
pub(crate) fn random_id() -> String {
    URL_SAFE_NO_PAD.encode(random_bytes::<ID_BYTES>())
}

fn is_key_text(text: &str) -> bool {
    // Every byte is looked at, without an early exit, so the check runs many bytes at a time:
    // a sealed cookie session is a kilobyte long and arrives with every request.
    !text.is_empty()
        && text.len() <= MAX_KEY_LEN
        && text.bytes().fold(true, |ok, b| ok & is_key_byte(b))
}

/// `A-Z a-z 0-9 - _ .`, branch-free.
#[inline]
fn is_key_byte(b: u8) -> bool {
    let letter = (b | 0x20).wrapping_sub(b'a') < 26;
    let digit = b.wrapping_sub(b'0') < 10;
    letter | digit | (b == b'-') | (b == b'_') | (b == b'.')
}

macro_rules! opaque_key {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        ///
        /// Clones share the text: a sealed cookie session is a kilobyte long.
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Arc<str>);

        impl $name {
            /// Accepts a key that came from outside (a cookie, a form, a URL).
            ///
            /// Returns `None` unless the text is 1–4096 characters of URL-safe base64 or `.`;
            /// whether a record exists under it is for the store to say.
            pub fn parse(text: &str) -> Option<Self> {
                is_key_text(text).then(|| Self(Arc::from(text)))
            }

            /// [`Self::parse`] for bytes, such as a header value.
            pub fn parse_bytes(bytes: &[u8]) -> Option<Self> {
                std::str::from_utf8(bytes).ok().and_then(Self::parse)
            }

            pub(crate) fn generate() -> Self {
                Self(random_id().into())
            }

            /// The key as text, e.g. for a cookie value.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        /// Keys are bearer secrets: only a prefix is ever shown in logs.
        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let shown = self.0.get(..6).unwrap_or("");
                write!(f, "{}({shown}…)", stringify!($name))
            }
        }
    };
}

opaque_key!(
    /// The handle of a session: the value a client sends back (usually in a cookie).
    ///
    /// For server-side stores this is a random identifier; for [`crate::CookieStore`] it is the
    /// sealed session itself.
    SessionKey
);

impl SessionKey {
    /// A key built by the store itself (a sealed cookie, an id read back from an index).
    pub(crate) fn from_trusted(text: String) -> Self {
        Self(text.into())
    }
}

/// Stores keep maps by session key and look them up by the text a client presented.
impl std::borrow::Borrow<str> for SessionKey {
    fn borrow(&self) -> &str {
        &self.0
    }
}

opaque_key!(
    /// The handle of a one-time value, such as an authorization code.
    OneTimeKey
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_are_256_bit_url_safe_and_distinct() {
        let a = SessionKey::generate();
        let b = SessionKey::generate();
        assert_eq!(a.as_str().len(), 43);
        assert!(SessionKey::parse(a.as_str()).is_some());
        assert_ne!(a, b);
    }

    #[test]
    fn parse_rejects_non_url_safe_and_oversized_text() {
        assert!(SessionKey::parse("").is_none());
        assert!(SessionKey::parse("a b").is_none());
        assert!(SessionKey::parse("abc/def").is_none());
        assert!(SessionKey::parse(&"a".repeat(MAX_KEY_LEN + 1)).is_none());
        assert!(SessionKey::parse(&"a".repeat(MAX_KEY_LEN)).is_some());
    }

    #[test]
    fn key_bytes_are_exactly_url_safe_base64_and_dots() {
        for b in 0..=u8::MAX {
            let expected = b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.');
            assert_eq!(is_key_byte(b), expected, "byte {b:#04x}");
        }
    }

    #[test]
    fn debug_does_not_reveal_the_key() {
        let key = SessionKey::parse("abcdefghijklmnop").unwrap();
        assert_eq!(format!("{key:?}"), "SessionKey(abcdef…)");
    }
}
