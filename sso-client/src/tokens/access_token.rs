//! JWT access tokens (RFC 9068) presented to an app's API: verified locally against the
//! center's JWKS, without a call to the center.

use serde_json::Value;

use super::{Claims, KeySet, LEEWAY_SECS, date_claim, string_claim, verify_signed};

/// A verified JWT access token (RFC 9068 §2.2).
#[derive(Clone, Debug, PartialEq)]
pub struct AccessToken {
    /// The user, or the client itself for a `client_credentials` token.
    pub sub: String,
    /// The client the token was issued to.
    pub client_id: String,
    /// The scopes granted.
    pub scopes: Vec<String>,
    /// The center session the token belongs to (absent for service tokens).
    pub sid: Option<String>,
    /// When it expires (seconds since the epoch).
    pub exp: u64,
    /// Its unique id.
    pub jti: String,
    /// Every claim, for anything else the API wants to read.
    pub claims: Claims,
}

impl AccessToken {
    /// Whether scope `scope` was granted.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|granted| granted == scope)
    }
}

/// Verifies `token` as an RFC 9068 access token meant for `audience`: the `typ` header
/// `at+jwt`, the signature against `keys`, `iss`, `aud`, `exp`, and the required `sub`,
/// `client_id`, `iat` and `jti`.
///
/// # Errors
/// A reason for the first check that fails.
pub(crate) fn verify(
    token: &str,
    keys: &KeySet,
    issuer: &str,
    audience: &str,
    now: u64,
) -> Result<AccessToken, String> {
    let verified = verify_signed(token, keys, issuer, audience)?;
    let typ = verified
        .header
        .get("typ")
        .and_then(Value::as_str)
        .map(str::to_ascii_lowercase);
    // RFC 9068 §4: refuse anything not typed as an access token, so an id token (signed by
    // the same keys, for the same audience) is never taken for one.
    if !matches!(typ.as_deref(), Some("at+jwt" | "application/at+jwt")) {
        return Err("typ is not at+jwt".to_owned());
    }
    let claims = verified.claims;
    let required = |name: &str| {
        string_claim(&claims, name)
            .filter(|value| !value.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| format!("{name} is missing"))
    };
    let sub = required("sub")?;
    let client_id = required("client_id")?;
    let jti = required("jti")?;
    let iat = date_claim(&claims, "iat").ok_or("iat is missing")?;
    if iat > now + LEEWAY_SECS {
        return Err("iat is in the future".to_owned());
    }
    let exp = date_claim(&claims, "exp").ok_or("exp is missing")?;
    let scopes = string_claim(&claims, "scope")
        .map(|scope| scope.split_ascii_whitespace().map(str::to_owned).collect())
        .unwrap_or_default();
    let sid = string_claim(&claims, "sid").map(str::to_owned);
    Ok(AccessToken {
        sub,
        client_id,
        scopes,
        sid,
        exp,
        jti,
        claims,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::tokens::test_keys::{CLIENT, ISSUER, TestKey, now};

    fn claims() -> Value {
        json!({"iss": ISSUER, "aud": CLIENT, "sub": "alice", "client_id": CLIENT, "sid": "s-1",
               "iat": now(), "exp": now() + 300, "jti": "j-1", "scope": "openid profile"})
    }

    fn check(key: &TestKey, typ: &str, claims: &Value) -> Result<AccessToken, String> {
        let token = key.sign(typ, claims);
        verify(&token, &TestKey::jwks(&[key]), ISSUER, CLIENT, now())
    }

    #[test]
    fn a_valid_token_yields_its_claims() {
        let key = TestKey::generate("k1");
        let token = check(&key, "at+jwt", &claims()).unwrap();
        assert_eq!(token.sub, "alice");
        assert_eq!(token.client_id, CLIENT);
        assert_eq!(token.sid.as_deref(), Some("s-1"));
        assert!(token.has_scope("profile"));
        assert!(!token.has_scope("email"));
        assert!(check(&key, "application/at+jwt", &claims()).is_ok());
    }

    #[test]
    fn id_tokens_and_tokens_for_others_are_refused() {
        let key = TestKey::generate("k1");
        assert!(check(&key, "JWT", &claims()).is_err(), "an id token");
        let mut bad = Vec::new();
        for (name, value) in [
            ("aud", json!("app2")),
            ("iss", json!("https://evil.example")),
            ("exp", json!(now() - 3600)),
            ("iat", json!(now() + 3600)),
            ("client_id", json!("")),
        ] {
            let mut claims = claims();
            claims[name] = value;
            bad.push(claims);
        }
        for name in ["sub", "client_id", "jti", "iat"] {
            let mut claims = claims();
            claims.as_object_mut().unwrap().remove(name);
            bad.push(claims);
        }
        for claims in bad {
            assert!(check(&key, "at+jwt", &claims).is_err(), "{claims}");
        }
        let forger = TestKey::generate("k1");
        let forged = forger.sign("at+jwt", &claims());
        assert!(verify(&forged, &TestKey::jwks(&[&key]), ISSUER, CLIENT, now()).is_err());
    }
}
