//! The id token: who signed in, for which sign-in (`nonce`) and which center session (`sid`).

use super::{Claims, KeySet, LEEWAY_SECS, date_claim, string_claim, verify_signed};
use crate::pkce::secrets_equal;

/// What must hold for the id token of one sign-in.
#[derive(Debug)]
pub(crate) struct Expected<'a> {
    pub(crate) issuer: &'a str,
    pub(crate) client_id: &'a str,
    pub(crate) nonce: &'a str,
    pub(crate) now: u64,
}

/// Verifies an id token (OIDC Core §3.1.3.7): signature, `iss`, `aud` (and `azp` when there
/// are several audiences), `exp`, `iat`, `sub` and the sign-in's `nonce`.
///
/// # Errors
/// A reason for the first check that fails.
pub(crate) fn verify(
    token: &str,
    keys: &KeySet,
    expected: &Expected<'_>,
) -> Result<Claims, String> {
    let claims = verify_signed(token, keys, expected.issuer, expected.client_id)?.claims;
    check_claims(&claims, expected)?;
    Ok(claims)
}

fn check_claims(claims: &Claims, expected: &Expected<'_>) -> Result<(), String> {
    if string_claim(claims, "sub").is_none_or(str::is_empty) {
        return Err("sub is missing".to_owned());
    }
    let iat = date_claim(claims, "iat").ok_or("iat is missing")?;
    if iat > expected.now + LEEWAY_SECS {
        return Err("iat is in the future".to_owned());
    }
    let nonce = string_claim(claims, "nonce").ok_or("nonce is missing")?;
    if !secrets_equal(nonce, expected.nonce) {
        return Err("nonce does not match this sign-in".to_owned());
    }
    let several_audiences = claims
        .get("aud")
        .and_then(serde_json::Value::as_array)
        .is_some_and(|aud| aud.len() > 1);
    match string_claim(claims, "azp") {
        Some(azp) if azp != expected.client_id => Err("azp names another client".to_owned()),
        None if several_audiences => Err("azp is missing for several audiences".to_owned()),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::tokens::test_keys::{CLIENT, ISSUER, TestKey, now};

    const NONCE: &str = "n-0S6_WzA2Mj";

    fn claims() -> Value {
        json!({"iss": ISSUER, "aud": CLIENT, "sub": "alice", "sid": "s-1",
               "iat": now(), "exp": now() + 300, "nonce": NONCE, "name": "Alice"})
    }

    fn check(key: &TestKey, claims: &Value) -> Result<Claims, String> {
        let token = key.sign("JWT", claims);
        let expected = Expected {
            issuer: ISSUER,
            client_id: CLIENT,
            nonce: NONCE,
            now: now(),
        };
        verify(&token, &TestKey::jwks(&[key]), &expected)
    }

    fn with(mut claims: Value, name: &str, value: Value) -> Value {
        claims[name] = value;
        claims
    }

    fn without(mut claims: Value, name: &str) -> Value {
        claims.as_object_mut().unwrap().remove(name);
        claims
    }

    #[test]
    fn a_valid_token_yields_its_claims() {
        let key = TestKey::generate("k1");
        let claims = check(&key, &claims()).unwrap();
        assert_eq!(string_claim(&claims, "sub"), Some("alice"));
        assert_eq!(string_claim(&claims, "name"), Some("Alice"));
    }

    #[test]
    fn wrong_issuer_audience_expiry_or_nonce_is_refused() {
        let key = TestKey::generate("k1");
        for bad in [
            with(claims(), "iss", json!("https://evil.example")),
            with(claims(), "aud", json!("app2")),
            with(claims(), "exp", json!(now() - 3600)),
            with(claims(), "nonce", json!("other")),
            without(claims(), "nonce"),
            without(claims(), "sub"),
            without(claims(), "iat"),
            with(claims(), "iat", json!(now() + 3600)),
            with(claims(), "aud", json!([CLIENT, "app2"])),
            with(claims(), "azp", json!("app2")),
        ] {
            assert!(check(&key, &bad).is_err(), "{bad}");
        }
        let several = with(claims(), "aud", json!([CLIENT, "app2"]));
        assert!(check(&key, &with(several, "azp", json!(CLIENT))).is_ok());
    }

    #[test]
    fn a_token_signed_by_another_key_is_refused() {
        let published = TestKey::generate("k1");
        let forger = TestKey::generate("k1");
        let token = forger.sign("JWT", &claims());
        let expected = Expected {
            issuer: ISSUER,
            client_id: CLIENT,
            nonce: NONCE,
            now: now(),
        };
        assert!(verify(&token, &TestKey::jwks(&[&published]), &expected).is_err());
    }
}
