//! Private signing keys sealed at rest: AES-256-GCM under a key derived with HKDF-SHA256 from
//! the configured `tokens.key_encryption_key`, each sealed key bound to its kid and algorithm
//! (so a sealed key cannot be passed off as another row's).
//!
//! A stored key is either a PEM document (no key encryption key configured) or
//! `sealed:v1:` followed by base64 of the 96-bit nonce, the ciphertext and the tag.

use anyhow::Context as _;
use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::hkdf::{HKDF_SHA256, Salt};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sso_common::Secret;

const PREFIX: &str = "sealed:v1:";
const SALT: &[u8] = b"sso-server signing keys";
const INFO: &[u8] = b"aes-256-gcm v1";

/// Seals and opens private signing keys.
pub struct KeySealer {
    key: LessSafeKey,
}

impl std::fmt::Debug for KeySealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeySealer(..)")
    }
}

/// Whether `stored` is a sealed key rather than a PEM document.
pub fn is_sealed(stored: &str) -> bool {
    stored.starts_with(PREFIX)
}

fn aad(kid: &str, alg: &str) -> Vec<u8> {
    format!("{alg}\n{kid}").into_bytes()
}

impl KeySealer {
    /// A sealer under `secret`, the configured key encryption key.
    pub fn new(secret: &Secret) -> Self {
        let prk = Salt::new(HKDF_SHA256, SALT).extract(secret.expose().as_bytes());
        let okm = prk
            .expand(&[INFO], &AES_256_GCM)
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        Self {
            key: LessSafeKey::new(UnboundKey::from(okm)),
        }
    }

    /// Seals the PEM document `pem` of key `kid` of algorithm `alg`.
    ///
    /// # Errors
    /// When encryption fails.
    pub fn seal(&self, kid: &str, alg: &str, pem: &str) -> anyhow::Result<String> {
        let nonce: [u8; NONCE_LEN] = rand::random();
        let mut sealed = pem.as_bytes().to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad(kid, alg)),
                &mut sealed,
            )
            .map_err(|_| anyhow::anyhow!("cannot seal signing key {kid}"))?;
        let mut bytes = nonce.to_vec();
        bytes.extend_from_slice(&sealed);
        Ok(format!("{PREFIX}{}", STANDARD.encode(bytes)))
    }

    /// The PEM document sealed in `stored` for key `kid` of algorithm `alg`.
    ///
    /// # Errors
    /// When `stored` is not a sealed key, or was sealed under another key encryption key or
    /// for another key.
    pub fn open(&self, kid: &str, alg: &str, stored: &str) -> anyhow::Result<String> {
        let encoded = stored
            .strip_prefix(PREFIX)
            .with_context(|| format!("signing key {kid} is not sealed"))?;
        let mut bytes = STANDARD
            .decode(encoded)
            .ok()
            .filter(|bytes| bytes.len() > NONCE_LEN)
            .with_context(|| format!("sealed signing key {kid} is malformed"))?;
        let mut sealed = bytes.split_off(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(&bytes)
            .map_err(|_| anyhow::anyhow!("sealed signing key {kid} is malformed"))?;
        let pem = self
            .key
            .open_in_place(nonce, Aad::from(aad(kid, alg)), &mut sealed)
            .map_err(|_| {
                anyhow::anyhow!(
                    "cannot open signing key {kid}: it was sealed under another \
                     tokens.key_encryption_key"
                )
            })?;
        String::from_utf8(pem.to_vec())
            .with_context(|| format!("sealed signing key {kid} is not a PEM document"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PEM: &str = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";

    fn sealer(secret: &str) -> KeySealer {
        KeySealer::new(&Secret::new(secret))
    }

    #[test]
    fn a_sealed_key_opens_to_the_same_pem_and_does_not_contain_it() {
        let sealer = sealer("0123456789abcdef0123456789abcdef");
        let sealed = sealer.seal("kid-1", "RS256", PEM).unwrap();
        assert!(is_sealed(&sealed));
        assert!(!sealed.contains("PRIVATE KEY"));
        assert_ne!(
            sealed,
            sealer.seal("kid-1", "RS256", PEM).unwrap(),
            "fresh nonce"
        );
        assert_eq!(sealer.open("kid-1", "RS256", &sealed).unwrap(), PEM);
    }

    #[test]
    fn a_sealed_key_does_not_open_under_another_secret() {
        let sealed = sealer("0123456789abcdef0123456789abcdef")
            .seal("kid-1", "RS256", PEM)
            .unwrap();
        let error = sealer("another-secret-of-32-characters!!")
            .open("kid-1", "RS256", &sealed)
            .unwrap_err();
        assert!(
            error
                .to_string()
                .contains("another tokens.key_encryption_key")
        );
    }

    #[test]
    fn a_sealed_key_is_bound_to_its_kid_and_algorithm() {
        let sealer = sealer("0123456789abcdef0123456789abcdef");
        let sealed = sealer.seal("kid-1", "RS256", PEM).unwrap();
        assert!(sealer.open("kid-2", "RS256", &sealed).is_err());
        assert!(sealer.open("kid-1", "EdDSA", &sealed).is_err());
    }

    #[test]
    fn malformed_sealed_keys_are_errors_not_panics() {
        let sealer = sealer("0123456789abcdef0123456789abcdef");
        for stored in [PEM, "sealed:v1:", "sealed:v1:!!!", "sealed:v1:AAAA"] {
            assert!(sealer.open("kid-1", "RS256", stored).is_err(), "{stored}");
        }
        let sealed = sealer.seal("kid-1", "RS256", PEM).unwrap();
        let truncated = &sealed[..sealed.len() - 4];
        assert!(sealer.open("kid-1", "RS256", truncated).is_err());
    }
}
