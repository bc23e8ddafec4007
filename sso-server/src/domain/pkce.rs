use aws_lc_rs::digest;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use subtle::ConstantTimeEq as _;

/// A PKCE `code_challenge` with method `S256` (RFC 7636): 43 characters of URL-safe base64.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CodeChallenge(String);

/// A PKCE `code_verifier`: 43–128 characters of `[A-Za-z0-9-._~]`.
#[derive(Clone, Debug)]
pub struct CodeVerifier(String);

impl CodeChallenge {
    /// Accepts an S256 challenge; `None` for a malformed one.
    pub fn parse(text: &str) -> Option<Self> {
        let valid = text.len() == 43
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'));
        valid.then(|| Self(text.to_owned()))
    }

    /// Whether `verifier` hashes to this challenge (constant time).
    pub fn matches(&self, verifier: &CodeVerifier) -> bool {
        let computed =
            URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, verifier.0.as_bytes()));
        computed.as_bytes().ct_eq(self.0.as_bytes()).into()
    }
}

impl CodeVerifier {
    /// Accepts a verifier; `None` for a malformed one.
    pub fn parse(text: &str) -> Option<Self> {
        let valid = (43..=128).contains(&text.len())
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
        valid.then(|| Self(text.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7636_appendix_b_example() {
        let verifier = CodeVerifier::parse("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk").unwrap();
        let challenge =
            CodeChallenge::parse("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM").unwrap();
        assert!(challenge.matches(&verifier));
        let other = CodeVerifier::parse(&"a".repeat(43)).unwrap();
        assert!(!challenge.matches(&other));
    }

    #[test]
    fn malformed_values_are_rejected() {
        assert!(CodeChallenge::parse("short").is_none());
        assert!(CodeVerifier::parse("short").is_none());
        assert!(CodeVerifier::parse(&"a".repeat(129)).is_none());
    }
}
