//! The logout token of OIDC Back-Channel Logout 1.0: the center telling this subsystem that a
//! center session (`sid`) or all sessions of a user (`sub`) have ended.

use serde_json::Value;

use super::{KeySet, LEEWAY_SECS, date_claim, string_claim, verify_signed};

/// The `events` member that marks a logout token.
pub(crate) const BACKCHANNEL_LOGOUT_EVENT: &str =
    "http://schemas.openid.net/event/backchannel-logout";

/// Longest `jti` accepted (it becomes part of a store key).
const MAX_JTI_LEN: usize = 256;

/// What a verified logout token asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct LogoutRequest {
    /// The token's unique id, remembered until `exp` so it cannot be replayed.
    pub(crate) jti: String,
    /// When the token expires (seconds since the epoch).
    pub(crate) exp: u64,
    /// The center session that ended, if named.
    pub(crate) sid: Option<String>,
    /// The user whose sessions ended, if named.
    pub(crate) sub: Option<String>,
}

/// Verifies a logout token (Back-Channel Logout 1.0 §2.6): signature, `iss`, `aud`, `exp`,
/// `iat`, `jti`, the back-channel logout event, `sid` or `sub`, and no `nonce`; in the header,
/// no `crit`, and a `typ`, when present, of `logout+jwt` (§2.4, so that no other kind of JWT the
/// center signs for this client passes as a logout token). Tokens without `typ` are accepted,
/// as the specification allows. Replay of the `jti` is for the caller to check.
///
/// # Errors
/// A reason for the first check that fails.
pub(crate) fn verify(
    token: &str,
    keys: &KeySet,
    issuer: &str,
    client_id: &str,
    now: u64,
) -> Result<LogoutRequest, String> {
    let verified = verify_signed(token, keys, issuer, client_id)?;
    match verified.header.get("typ") {
        None => {}
        Some(Value::String(typ)) if is_logout_type(typ) => {}
        Some(_) => return Err("typ is not logout+jwt".to_owned()),
    }
    let claims = verified.claims;
    let events = claims
        .get("events")
        .and_then(Value::as_object)
        .ok_or("events is missing")?;
    if !events
        .get(BACKCHANNEL_LOGOUT_EVENT)
        .is_some_and(Value::is_object)
    {
        return Err("events does not name a back-channel logout".to_owned());
    }
    if claims.contains_key("nonce") {
        return Err("a logout token must not carry a nonce".to_owned());
    }
    let iat = date_claim(&claims, "iat").ok_or("iat is missing")?;
    if iat > now + LEEWAY_SECS {
        return Err("iat is in the future".to_owned());
    }
    let exp = date_claim(&claims, "exp").ok_or("exp is missing")?;
    let jti = string_claim(&claims, "jti")
        .filter(|jti| (1..=MAX_JTI_LEN).contains(&jti.len()))
        .ok_or("jti is missing or too long")?;
    let non_empty = |name| string_claim(&claims, name).filter(|value| !value.is_empty());
    let sid = non_empty("sid").map(str::to_owned);
    let sub = non_empty("sub").map(str::to_owned);
    if sid.is_none() && sub.is_none() {
        return Err("neither sid nor sub is present".to_owned());
    }
    Ok(LogoutRequest {
        jti: jti.to_owned(),
        exp,
        sid,
        sub,
    })
}

/// Whether `typ` names a logout token: `logout+jwt`, or the full media type
/// `application/logout+jwt`, in any case (RFC 7515 §4.1.9).
fn is_logout_type(typ: &str) -> bool {
    let typ = typ.to_ascii_lowercase();
    typ.strip_prefix("application/").unwrap_or(&typ) == "logout+jwt"
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use jsonwebtoken::{Algorithm, EncodingKey, Header};
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;
    use crate::tokens::test_keys::{CLIENT, ISSUER, TestKey, now};

    fn claims() -> Value {
        json!({"iss": ISSUER, "aud": CLIENT, "iat": now(), "exp": now() + 120,
               "jti": "j-1", "sid": "s-1", "sub": "alice",
               "events": {BACKCHANNEL_LOGOUT_EVENT: {}}})
    }

    fn check(key: &TestKey, claims: &Value) -> Result<LogoutRequest, String> {
        let token = key.sign("logout+jwt", claims);
        verify(&token, &TestKey::jwks(&[key]), ISSUER, CLIENT, now())
    }

    fn edit(change: impl FnOnce(&mut serde_json::Map<String, Value>)) -> Value {
        let mut claims = claims();
        change(claims.as_object_mut().unwrap());
        claims
    }

    #[test]
    fn a_valid_token_names_the_session_to_end() {
        let key = TestKey::generate("k1");
        let request = check(&key, &claims()).unwrap();
        assert_eq!(request.jti, "j-1");
        assert_eq!(request.sid.as_deref(), Some("s-1"));
        assert_eq!(request.sub.as_deref(), Some("alice"));

        let sub_only = edit(|c| {
            c.remove("sid");
        });
        assert_eq!(check(&key, &sub_only).unwrap().sid, None);
    }

    #[test]
    fn claim_violations_are_refused() {
        let key = TestKey::generate("k1");
        let cases = [
            (
                "wrong issuer",
                edit(|c| {
                    c.insert("iss".into(), json!("https://evil.example"));
                }),
            ),
            (
                "wrong audience",
                edit(|c| {
                    c.insert("aud".into(), json!("app2"));
                }),
            ),
            (
                "expired",
                edit(|c| {
                    c.insert("iat".into(), json!(now() - 7200));
                    c.insert("exp".into(), json!(now() - 3600));
                }),
            ),
            (
                "no exp",
                edit(|c| {
                    c.remove("exp");
                }),
            ),
            (
                "no iat",
                edit(|c| {
                    c.remove("iat");
                }),
            ),
            (
                "iat in the future",
                edit(|c| {
                    c.insert("iat".into(), json!(now() + 3600));
                }),
            ),
            (
                "no events",
                edit(|c| {
                    c.remove("events");
                }),
            ),
            (
                "other event",
                edit(|c| {
                    c.insert("events".into(), json!({"urn:other": {}}));
                }),
            ),
            (
                "nonce present",
                edit(|c| {
                    c.insert("nonce".into(), json!("n"));
                }),
            ),
            (
                "no jti",
                edit(|c| {
                    c.remove("jti");
                }),
            ),
            (
                "neither sid nor sub",
                edit(|c| {
                    c.remove("sid");
                    c.remove("sub");
                }),
            ),
        ];
        for (name, bad) in cases {
            assert!(check(&key, &bad).is_err(), "{name} was accepted");
        }
    }

    fn header(members: Value) -> Value {
        let mut header = json!({"alg": "EdDSA", "kid": "k1"});
        for (name, value) in members.as_object().unwrap() {
            header[name] = value.clone();
        }
        header
    }

    fn check_header(key: &TestKey, header: &Value) -> Result<LogoutRequest, String> {
        let token = key.sign_raw(header, &claims());
        verify(&token, &TestKey::jwks(&[key]), ISSUER, CLIENT, now())
    }

    #[test]
    fn typ_when_present_must_name_a_logout_token() {
        let key = TestKey::generate("k1");
        assert!(check_header(&key, &header(json!({}))).is_ok(), "no typ");
        for typ in [
            "logout+jwt",
            "Logout+JWT",
            "application/logout+jwt",
            "Application/LOGOUT+jwt",
        ] {
            let accepted = check_header(&key, &header(json!({ "typ": typ })));
            assert!(accepted.is_ok(), "{typ}: {accepted:?}");
        }
        for typ in [
            json!("JWT"),
            json!("at+jwt"),
            json!("application/jwt"),
            json!("logout+jwt2"),
            json!("application/application/logout+jwt"),
            json!(""),
            json!(null),
            json!(["logout+jwt"]),
        ] {
            assert!(
                check_header(&key, &header(json!({ "typ": typ }))).is_err(),
                "typ {typ} was accepted"
            );
        }
    }

    #[test]
    fn a_critical_header_extension_is_refused() {
        let key = TestKey::generate("k1");
        for crit in [
            json!(["exp"]),
            json!(["urn:example:ext"]),
            json!([]),
            json!(null),
        ] {
            let with_crit = header(json!({"typ": "logout+jwt", "crit": crit, "exp": 1}));
            let refused = check_header(&key, &with_crit).unwrap_err();
            assert!(refused.contains("crit"), "{crit}: {refused}");
        }
    }

    fn any_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            ".{0,12}".prop_map(Value::from),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                proptest::collection::btree_map(".{0,8}", inner, 0..4)
                    .prop_map(|members| Value::Object(members.into_iter().collect())),
            ]
        })
    }

    /// Values that sit on the edge of some check.
    fn edge_values() -> Vec<Value> {
        vec![
            json!(ISSUER),
            json!("https://evil.example"),
            json!(CLIENT),
            json!([CLIENT, "app2"]),
            json!(["app2"]),
            json!(now() + 100),
            json!(now() - 10_000),
            json!(now() + 10_000),
            json!(-1),
            json!(1e300),
            json!(""),
            json!("j".repeat(300)),
            json!({ BACKCHANNEL_LOGOUT_EVENT: {} }),
            json!({ BACKCHANNEL_LOGOUT_EVENT: true }),
            json!("logout+jwt"),
            json!("APPLICATION/LOGOUT+JWT"),
            json!("JWT"),
            json!(["exp"]),
            json!("EdDSA"),
            json!("HS256"),
            json!("k1"),
        ]
    }

    /// Members to set (`Some`) or remove (`None`), by name.
    fn edits(
        names: &'static [&'static str],
    ) -> impl Strategy<Value = Vec<(String, Option<Value>)>> {
        let name = prop_oneof![
            proptest::sample::select(names).prop_map(str::to_owned),
            "[a-z]{1,6}",
        ];
        let value = prop_oneof![any_json(), proptest::sample::select(edge_values())];
        proptest::collection::vec((name, proptest::option::of(value)), 0..5)
    }

    fn apply(target: &mut Value, edits: Vec<(String, Option<Value>)>) {
        let members = target.as_object_mut().unwrap();
        for (name, value) in edits {
            match value {
                Some(value) => members.insert(name, value),
                None => members.remove(&name),
            };
        }
    }

    const HEADER_MEMBERS: &[&str] = &["alg", "kid", "typ", "crit", "cty", "jku", "b64"];
    const CLAIMS: &[&str] = &[
        "iss", "aud", "iat", "exp", "nbf", "jti", "sid", "sub", "events", "nonce",
    ];

    proptest! {
        #[test]
        fn any_text_is_refused_without_panicking(
            text in prop_oneof![
                any::<String>(),
                "[A-Za-z0-9_=-]{0,30}(\\.[A-Za-z0-9_=-]{0,30}){0,4}",
                any_json().prop_map(|header| format!(
                    "{}.e30.AAAA",
                    URL_SAFE_NO_PAD.encode(header.to_string())
                )),
            ]
        ) {
            let key = TestKey::generate("k1");
            let keys = TestKey::jwks(&[&key]);
            prop_assert!(verify(&text, &keys, ISSUER, CLIENT, now()).is_err());
        }

        #[test]
        fn signed_tokens_of_any_shape_are_accepted_only_when_every_check_holds(
            header_edits in edits(HEADER_MEMBERS),
            claim_edits in edits(CLAIMS),
        ) {
            let key = TestKey::generate("k1");
            let mut header = json!({"alg": "EdDSA", "kid": "k1", "typ": "logout+jwt"});
            apply(&mut header, header_edits);
            let mut claims = claims();
            apply(&mut claims, claim_edits);
            let token = key.sign_raw(&header, &claims);
            let Ok(request) = verify(&token, &TestKey::jwks(&[&key]), ISSUER, CLIENT, now())
            else {
                return Ok(());
            };
            prop_assert!(header.get("crit").is_none(), "{header}");
            match header.get("typ") {
                None => {}
                Some(Value::String(typ)) => prop_assert!(is_logout_type(typ), "{typ}"),
                Some(other) => prop_assert!(false, "typ {other} was accepted"),
            }
            prop_assert_eq!(&claims["iss"], &json!(ISSUER));
            let aud = &claims["aud"];
            prop_assert!(
                aud == &json!(CLIENT)
                    || aud.as_array().is_some_and(|list| list.contains(&json!(CLIENT))),
                "aud {aud}"
            );
            prop_assert!(claims["events"][BACKCHANNEL_LOGOUT_EVENT].is_object(), "{claims}");
            prop_assert!(claims.get("nonce").is_none(), "{claims}");
            prop_assert!(claims["iat"].as_u64().is_some_and(|iat| iat <= now() + LEEWAY_SECS));
            prop_assert!(claims["exp"].as_u64().is_some_and(|exp| exp + LEEWAY_SECS >= now()));
            prop_assert_eq!(claims["jti"].as_str(), Some(request.jti.as_str()));
            prop_assert!(request.sid.is_some() || request.sub.is_some());
        }
    }

    #[test]
    fn forged_signatures_and_symmetric_algorithms_are_refused() {
        let published = TestKey::generate("k1");
        let forger = TestKey::generate("k1");
        let keys = TestKey::jwks(&[&published]);
        let forged = forger.sign("logout+jwt", &claims());
        assert!(verify(&forged, &keys, ISSUER, CLIENT, now()).is_err());

        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some("k1".to_owned());
        let hmac =
            jsonwebtoken::encode(&header, &claims(), &EncodingKey::from_secret(b"k1")).unwrap();
        assert!(verify(&hmac, &keys, ISSUER, CLIENT, now()).is_err());

        let unsigned = format!(
            "{}.{}.",
            "eyJhbGciOiJub25lIiwia2lkIjoiazEifQ",
            forged.split('.').nth(1).unwrap()
        );
        assert!(verify(&unsigned, &keys, ISSUER, CLIENT, now()).is_err());
    }
}
