//! Recovery codes: ten single-use codes shown once, kept as SHA-256 digests.
//!
//! A code is ten characters of an alphabet without look-alikes (about 49 bits), shown as two
//! groups of five. Using one is an update of one row that has not been used, so a code works
//! once whatever the number of replicas.

use rand::Rng as _;

use crate::crypto::sha256_hex;

/// Codes made at once.
pub const COUNT: usize = 10;
const LENGTH: usize = 10;
const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";

/// A fresh code, as shown: `xxxxx-xxxxx`.
pub fn new_code() -> String {
    let mut rng = rand::rng();
    let chars: String = (0..LENGTH)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect();
    format!("{}-{}", &chars[..LENGTH / 2], &chars[LENGTH / 2..])
}

/// A code as typed, reduced to its characters; `None` when it cannot be a code.
pub fn normalize(typed: &str) -> Option<String> {
    let code: String = typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_lowercase())
        .collect();
    let valid = code.len() == LENGTH && code.bytes().all(|b| ALPHABET.contains(&b));
    valid.then_some(code)
}

/// The digest stored for `user_id`'s code (normalized).
pub fn digest(user_id: &str, code: &str) -> String {
    sha256_hex(&format!("recovery-code\0{user_id}\0{code}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_codes_normalize_to_themselves_and_differ() {
        let code = new_code();
        assert_eq!(code.len(), LENGTH + 1);
        let plain = normalize(&code).unwrap();
        assert_eq!(normalize(&code.to_uppercase()), Some(plain.clone()));
        assert_eq!(normalize(&format!(" {} ", plain)), Some(plain));
        assert_ne!(new_code(), new_code());
    }

    #[test]
    fn what_cannot_be_a_code_is_refused() {
        for typed in [
            "",
            "abcde",
            "abcde-fghij-k",
            "abcde-fgh1j",
            "abcde-fghi0",
            "ab<de-fghij",
        ] {
            assert_eq!(normalize(typed), None, "{typed:?}");
        }
    }

    #[test]
    fn digests_bind_the_user() {
        assert_ne!(digest("u1", "abcdefghjk"), digest("u2", "abcdefghjk"));
    }
}
