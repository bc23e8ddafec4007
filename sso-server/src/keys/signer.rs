//! Signatures with private keys parsed once.
//!
//! `jsonwebtoken` parses the private key again for every signature, which costs about two
//! thirds of the signature itself for an RSA key and more than the signature for Ed25519. The center signs
//! an id token per code exchange and a JWT per access token, so [`install`] puts a
//! [`CryptoProvider`] in place whose signers keep each parsed key, by its DER bytes, for the life
//! of the process. Verification and everything else stays `jsonwebtoken`'s own `aws-lc-rs`
//! provider.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Once, PoisonError, RwLock};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{Ed25519KeyPair, RSA_PKCS1_SHA256, RsaKeyPair};
use jsonwebtoken::crypto::{CryptoProvider, JwtSigner};
use jsonwebtoken::errors::{Error, ErrorKind};
use jsonwebtoken::signature::{self, Signer};
use jsonwebtoken::{Algorithm, EncodingKey};

/// Parsed keys kept at most: keys rotate by hand, a few times a year; past this many the
/// oldest are simply parsed again.
const MAX_PARSED: usize = 32;

enum Parsed {
    Rsa(RsaKeyPair),
    Ed25519(Ed25519KeyPair),
}

/// Parsed keys by their DER bytes.
type ParsedKeys = HashMap<Box<[u8]>, Arc<Parsed>>;

static PARSED: LazyLock<RwLock<ParsedKeys>> = LazyLock::new(RwLock::default);

/// Makes the process's `jsonwebtoken` signatures (RS256 and EdDSA) use keys parsed once. Call
/// it before anything signs or verifies; later calls do nothing.
pub(super) fn install() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let provider: &'static CryptoProvider = Box::leak(Box::new(CryptoProvider {
            signer_factory: signer,
            ..jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER.clone()
        }));
        if provider.install_default().is_err() {
            tracing::warn!(
                "a JWT crypto provider was in place before the center's: keys are parsed for \
                 every signature"
            );
        }
    });
}

/// A signer for `alg` with `key`, parsed or found parsed; any other algorithm is left to the
/// `aws-lc-rs` provider.
fn signer(alg: &Algorithm, key: &EncodingKey) -> Result<Box<dyn JwtSigner>, Error> {
    let parse: fn(&[u8]) -> Option<Parsed> = match alg {
        Algorithm::RS256 => |der| RsaKeyPair::from_der(der).ok().map(Parsed::Rsa),
        Algorithm::EdDSA => |der| Ed25519KeyPair::from_pkcs8(der).ok().map(Parsed::Ed25519),
        _ => return (jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER.signer_factory)(alg, key),
    };
    let der = key.as_bytes();
    let known = PARSED
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .get(der)
        .cloned();
    let parsed = match known {
        Some(parsed) => parsed,
        None => {
            let parsed =
                Arc::new(parse(der).ok_or_else(|| Error::from(ErrorKind::InvalidKeyFormat))?);
            let mut all = PARSED.write().unwrap_or_else(PoisonError::into_inner);
            if all.len() >= MAX_PARSED {
                all.clear();
            }
            all.insert(der.into(), Arc::clone(&parsed));
            parsed
        }
    };
    match (alg, &*parsed) {
        (Algorithm::RS256, Parsed::Rsa(_)) | (Algorithm::EdDSA, Parsed::Ed25519(_)) => {
            Ok(Box::new(KeptSigner { alg: *alg, parsed }))
        }
        _ => Err(ErrorKind::InvalidKeyFormat.into()),
    }
}

struct KeptSigner {
    alg: Algorithm,
    parsed: Arc<Parsed>,
}

impl Signer<Vec<u8>> for KeptSigner {
    fn try_sign(&self, message: &[u8]) -> Result<Vec<u8>, signature::Error> {
        match &*self.parsed {
            Parsed::Rsa(pair) => {
                let mut signature = vec![0; pair.public_modulus_len()];
                pair.sign(
                    &RSA_PKCS1_SHA256,
                    &SystemRandom::new(),
                    message,
                    &mut signature,
                )
                .map_err(signature::Error::from_source)?;
                Ok(signature)
            }
            Parsed::Ed25519(pair) => Ok(pair.sign(message).as_ref().to_vec()),
        }
    }
}

impl JwtSigner for KeptSigner {
    fn algorithm(&self) -> Algorithm {
        self.alg
    }
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::jwk::Jwk;
    use jsonwebtoken::{DecodingKey, Header, Validation};

    use super::super::{encoding_key, generate_pem};
    use super::*;

    fn kept(key: &EncodingKey) -> Option<Arc<Parsed>> {
        PARSED.read().unwrap().get(key.as_bytes()).cloned()
    }

    #[test]
    fn tokens_signed_with_kept_keys_verify_and_each_key_is_parsed_once() {
        install();
        let claims = serde_json::json!({"sub": "svc", "exp": 4_000_000_000u64});
        for alg in [Algorithm::RS256, Algorithm::EdDSA] {
            let encoding = encoding_key(alg, &generate_pem(alg).unwrap()).unwrap();
            let decoding =
                DecodingKey::from_jwk(&Jwk::from_encoding_key(&encoding, alg).unwrap()).unwrap();
            let mut validation = Validation::new(alg);
            validation.required_spec_claims.clear();
            let mut first = None;
            for _ in 0..3 {
                let token = jsonwebtoken::encode(&Header::new(alg), &claims, &encoding).unwrap();
                let read =
                    jsonwebtoken::decode::<serde_json::Value>(&token, &decoding, &validation)
                        .unwrap();
                assert_eq!(read.claims["sub"], "svc");
                let parsed = kept(&encoding).expect("the parsed key is kept");
                let first = first.get_or_insert_with(|| Arc::clone(&parsed));
                assert!(Arc::ptr_eq(first, &parsed), "{alg:?}: parsed once");
            }
        }
    }

    #[test]
    fn a_key_of_the_wrong_algorithm_is_refused_not_used() {
        install();
        let ed = encoding_key(Algorithm::EdDSA, &generate_pem(Algorithm::EdDSA).unwrap()).unwrap();
        assert!(signer(&Algorithm::RS256, &ed).is_err());
        let rsa = encoding_key(Algorithm::RS256, &generate_pem(Algorithm::RS256).unwrap()).unwrap();
        assert!(signer(&Algorithm::EdDSA, &rsa).is_err());
    }
}
