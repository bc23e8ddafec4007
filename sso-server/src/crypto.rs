//! Small cryptographic helpers shared by the modules.

use aws_lc_rs::digest;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// A fresh random identifier: 128 bits from the operating system's CSPRNG, URL-safe base64.
pub fn random_id() -> String {
    let bytes: [u8; 16] = rand::random();
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The SHA-256 digest of `text`, lowercase hex.
pub fn sha256_hex(text: &str) -> String {
    hex::encode(digest::digest(&digest::SHA256, text.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_matches_the_known_vector() {
        assert_eq!(
            sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn random_ids_are_128_bit_and_distinct() {
        let (a, b) = (random_id(), random_id());
        assert_eq!(a.len(), 22);
        assert_ne!(a, b);
    }
}
