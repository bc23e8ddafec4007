//! The center's public keys, as published in its JWKS.

use std::fmt;

use jsonwebtoken::DecodingKey;
use jsonwebtoken::jwk::{AlgorithmParameters, JwkSet, PublicKeyUse};

/// Verification keys by key id.
#[derive(Clone, Default)]
pub(crate) struct KeySet {
    keys: Vec<(Option<String>, DecodingKey)>,
}

impl fmt::Debug for KeySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.keys.iter().map(|(kid, _)| kid))
            .finish()
    }
}

impl KeySet {
    /// The signature keys of `set`. Symmetric keys, encryption keys and keys that do not
    /// parse are left out.
    pub(crate) fn from_jwks(set: &JwkSet) -> Self {
        let keys = set
            .keys
            .iter()
            .filter(|jwk| !matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)))
            .filter(|jwk| !matches!(jwk.algorithm, AlgorithmParameters::OctetKey(_)))
            .filter_map(|jwk| match DecodingKey::from_jwk(jwk) {
                Ok(key) => Some((jwk.common.key_id.clone(), key)),
                Err(error) => {
                    tracing::warn!(kid = ?jwk.common.key_id, %error, "skipping unusable JWKS key");
                    None
                }
            })
            .collect();
        Self { keys }
    }

    /// The key with id `kid`; a token without `kid` can only use the set's only key.
    pub(crate) fn find(&self, kid: Option<&str>) -> Option<&DecodingKey> {
        match kid {
            Some(kid) => self
                .keys
                .iter()
                .find(|(id, _)| id.as_deref() == Some(kid))
                .map(|(_, key)| key),
            None => match self.keys.as_slice() {
                [(_, key)] => Some(key),
                _ => None,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::tokens::test_keys::TestKey;

    #[test]
    fn keys_are_found_by_kid() {
        let a = TestKey::generate("a");
        let b = TestKey::generate("b");
        let set = TestKey::jwks(&[&a, &b]);
        assert!(set.find(Some("a")).is_some());
        assert!(set.find(Some("b")).is_some());
        assert!(set.find(Some("c")).is_none());
        assert!(set.find(None).is_none(), "ambiguous without kid");
        assert!(TestKey::jwks(&[&a]).find(None).is_some());
    }

    #[test]
    fn symmetric_and_encryption_keys_are_ignored() {
        let set: JwkSet = serde_json::from_value(json!({"keys": [
            {"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"},
            {"kty": "OKP", "crv": "Ed25519", "use": "enc", "kid": "enc",
             "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}
        ]}))
        .unwrap();
        let set = KeySet::from_jwks(&set);
        assert!(set.find(Some("hmac")).is_none());
        assert!(set.find(Some("enc")).is_none());
    }
}
