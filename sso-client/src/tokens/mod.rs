//! Verifying the JWTs the center signs: id tokens at sign-in and logout tokens for single
//! logout. Signatures are checked against the center's JWKS; only asymmetric algorithms are
//! accepted, so a token "signed" with `none` or with a shared secret never verifies.

pub(crate) mod access_token;
pub(crate) mod id_token;
pub(crate) mod keys;
pub(crate) mod logout_token;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};

use self::keys::KeySet;

/// Clock skew tolerated between this app and the center, in seconds.
pub(crate) const LEEWAY_SECS: u64 = 60;

/// The signature algorithms accepted from the center.
const ACCEPTED: [Algorithm; 9] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// Claims of a verified token.
pub(crate) type Claims = Map<String, Value>;

/// The signing algorithm and key id a token names, before anything is trusted.
///
/// # Errors
/// A reason when the token is malformed or names an algorithm that is not accepted.
pub(crate) fn signing_key_hint(token: &str) -> Result<(Algorithm, Option<String>), String> {
    let header = jsonwebtoken::decode_header(token).map_err(|error| error.to_string())?;
    if !ACCEPTED.contains(&header.alg) {
        return Err(format!("algorithm {:?} is not accepted", header.alg));
    }
    Ok((header.alg, header.kid))
}

/// A token whose signature, `iss`, `aud` and `exp` hold.
#[derive(Debug)]
pub(crate) struct Verified {
    /// Every member of the token's protected header.
    pub(crate) header: Map<String, Value>,
    /// The token's claims.
    pub(crate) claims: Claims,
}

/// Checks the signature (with the key `keys` holds for the token's `kid`), `iss`, `aud` and
/// `exp` of `token`, and that its header asks for no extension (`crit`, RFC 7515 §4.1.11: this
/// code understands none, so a token that makes one critical is refused).
///
/// # Errors
/// A reason for the first check that fails.
pub(crate) fn verify_signed(
    token: &str,
    keys: &KeySet,
    issuer: &str,
    audience: &str,
) -> Result<Verified, String> {
    let header = header_members(token)?;
    if header.contains_key("crit") {
        return Err("the header makes extensions critical (crit); none are supported".to_owned());
    }
    let (alg, kid) = signing_key_hint(token)?;
    let key = keys
        .find(kid.as_deref())
        .ok_or_else(|| format!("no published key with id {kid:?}"))?;
    let claims = verify_with_key(token, alg, key, issuer, audience)?;
    Ok(Verified { header, claims })
}

/// The members of a token's protected header, as sent (members a header struct does not know
/// would be lost, and `"crit": null` would read as no `crit`).
fn header_members(token: &str) -> Result<Map<String, Value>, String> {
    let encoded = token.split('.').next().unwrap_or_default();
    let json = URL_SAFE_NO_PAD
        .decode(encoded)
        .map_err(|_| "the header is not base64url".to_owned())?;
    serde_json::from_slice(&json).map_err(|_| "the header is not a JSON object".to_owned())
}

fn verify_with_key(
    token: &str,
    alg: Algorithm,
    key: &DecodingKey,
    issuer: &str,
    audience: &str,
) -> Result<Claims, String> {
    let mut validation = Validation::new(alg);
    validation.set_issuer(&[issuer]);
    validation.set_audience(&[audience]);
    validation.set_required_spec_claims(&["exp", "iss", "aud"]);
    validation.leeway = LEEWAY_SECS;
    jsonwebtoken::decode::<Claims>(token, key, &validation)
        .map(|data| data.claims)
        .map_err(|error| error.to_string())
}

/// A string claim, if present and a string.
pub(crate) fn string_claim<'a>(claims: &'a Claims, name: &str) -> Option<&'a str> {
    claims.get(name).and_then(Value::as_str)
}

/// A numeric date claim (seconds since the epoch), if present and a non-negative integer.
pub(crate) fn date_claim(claims: &Claims, name: &str) -> Option<u64> {
    claims.get(name).and_then(Value::as_u64)
}

/// Test keys and signing, shared by the token tests.
#[cfg(test)]
pub(crate) mod test_keys {
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair as _};
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use jsonwebtoken::jwk::JwkSet;
    use jsonwebtoken::{Algorithm, EncodingKey, Header};
    use serde_json::json;

    use super::keys::KeySet;

    pub(crate) const ISSUER: &str = "https://sso.example.test";
    pub(crate) const CLIENT: &str = "app1";

    /// An Ed25519 key generated for the test.
    pub(crate) struct TestKey {
        pub(crate) kid: String,
        encoding: EncodingKey,
        public_x: String,
    }

    impl TestKey {
        pub(crate) fn generate(kid: &str) -> Self {
            let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
            let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
            Self {
                kid: kid.to_owned(),
                encoding: EncodingKey::from_ed_der(pkcs8.as_ref()),
                public_x: URL_SAFE_NO_PAD.encode(pair.public_key().as_ref()),
            }
        }

        pub(crate) fn jwks(keys: &[&Self]) -> KeySet {
            let keys: Vec<_> = keys
                .iter()
                .map(|key| {
                    json!({"kty": "OKP", "crv": "Ed25519", "x": key.public_x,
                           "kid": key.kid, "use": "sig", "alg": "EdDSA"})
                })
                .collect();
            let set: JwkSet = serde_json::from_value(json!({ "keys": keys })).unwrap();
            KeySet::from_jwks(&set)
        }

        /// A token with exactly `header` over `claims`, signed with this key (EdDSA).
        pub(crate) fn sign_raw(
            &self,
            header: &serde_json::Value,
            claims: &serde_json::Value,
        ) -> String {
            let message = format!(
                "{}.{}",
                URL_SAFE_NO_PAD.encode(header.to_string()),
                URL_SAFE_NO_PAD.encode(claims.to_string())
            );
            let signature =
                jsonwebtoken::crypto::sign(message.as_bytes(), &self.encoding, Algorithm::EdDSA)
                    .unwrap();
            format!("{message}.{signature}")
        }

        pub(crate) fn sign(&self, typ: &str, claims: &serde_json::Value) -> String {
            let mut header = Header::new(Algorithm::EdDSA);
            header.kid = Some(self.kid.clone());
            header.typ = Some(typ.to_owned());
            jsonwebtoken::encode(&header, claims, &self.encoding).unwrap()
        }
    }

    pub(crate) fn now() -> u64 {
        jsonwebtoken::get_current_timestamp()
    }
}
