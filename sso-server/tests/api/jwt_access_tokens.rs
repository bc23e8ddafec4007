//! Access tokens as JWTs (RFC 9068), verified here with the `jsonwebtoken` crate and the JWKS,
//! not with the center's own verifier.

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;
use sso_server::config::{AccessTokenFormat, GrantType};
use sso_server::slo::EndReason;

use crate::client_credentials::{SERVICE_SECRET, client_credentials, service_app};
use crate::helpers::*;
use crate::refresh::{
    code_for, exchange_ok, introspect, oauth_error, policy, refresh, register, text,
};
use crate::revocation::revoke;

const API_SECRET: &str = "api-secret-0123456789abcdef";
const API_CALLBACK: &str = "http://api.localhost:8085/callback";

/// A center with `api`, a client whose access tokens are JWTs signed with `alg`.
async fn jwt_app(alg: Algorithm) -> TestApp {
    let app = spawn_app().await;
    register(
        &app,
        "api",
        Some(API_SECRET),
        Some(API_CALLBACK),
        policy(
            &[GrantType::AuthorizationCode, GrantType::RefreshToken],
            &[],
            AccessTokenFormat::Jwt,
            false,
        ),
        alg,
    )
    .await;
    app
}

async fn sign_in(app: &TestApp) -> Value {
    let code = code_for(app, "api", API_CALLBACK, "openid profile", "alice").await;
    exchange_ok(app, "api", API_SECRET, &code, API_CALLBACK).await
}

/// Verifies `token` as an API would: signature from the JWKS, `typ`, `iss`, `aud`, `exp`.
async fn verify_independently(app: &TestApp, token: &str, audience: &str) -> Value {
    let header = jsonwebtoken::decode_header(token).unwrap();
    assert_eq!(header.typ.as_deref(), Some("at+jwt"));
    let kid = header.kid.expect("a kid");
    let jwks: JwkSet = app.get_json("/jwks.json").await;
    let jwk = jwks.find(&kid).expect("the kid is published");
    let mut validation = Validation::new(header.alg);
    validation.set_issuer(&[ISSUER]);
    validation.set_audience(&[audience]);
    validation.set_required_spec_claims(&["iss", "sub", "aud", "exp"]);
    jsonwebtoken::decode::<Value>(token, &DecodingKey::from_jwk(jwk).unwrap(), &validation)
        .expect("the access token verifies with the JWKS")
        .claims
}

#[tokio::test]
async fn jwt_access_tokens_carry_the_rfc9068_claims_and_verify_with_the_jwks() {
    for alg in [Algorithm::RS256, Algorithm::EdDSA] {
        let app = jwt_app(alg).await;
        let tokens = sign_in(&app).await;
        let access = text(&tokens, "access_token");
        assert_eq!(jsonwebtoken::decode_header(access).unwrap().alg, alg);
        let claims = verify_independently(&app, access, "api").await;
        let alice = app.user("alice").await;
        assert_eq!(claims["iss"], ISSUER);
        assert_eq!(claims["sub"], alice.id.as_str());
        assert_eq!(claims["aud"], "api");
        assert_eq!(claims["client_id"], "api");
        assert_eq!(claims["scope"], "openid profile");
        assert_eq!(claims["sid"], sid_of(&tokens).as_str());
        assert!(!text(&claims, "jti").is_empty());
        let (iat, exp) = (
            claims["iat"].as_u64().unwrap(),
            claims["exp"].as_u64().unwrap(),
        );
        assert_eq!(exp - iat, tokens["expires_in"].as_u64().unwrap());

        let wrong_audience = {
            let header = jsonwebtoken::decode_header(access).unwrap();
            let jwks: JwkSet = app.get_json("/jwks.json").await;
            let key = DecodingKey::from_jwk(jwks.find(&header.kid.unwrap()).unwrap()).unwrap();
            let mut validation = Validation::new(alg);
            validation.set_audience(&["another-api"]);
            jsonwebtoken::decode::<Value>(access, &key, &validation)
        };
        assert!(
            wrong_audience.is_err(),
            "an API of another client refuses it"
        );
    }
}

#[tokio::test]
async fn introspection_and_userinfo_accept_jwt_access_tokens() {
    let app = jwt_app(Algorithm::RS256).await;
    let tokens = sign_in(&app).await;
    let access = text(&tokens, "access_token");
    let body = introspect(&app, access).await;
    assert_eq!(body["active"], true);
    assert_eq!(body["client_id"], "api");
    assert_eq!(body["username"], "alice");
    assert_eq!(body["scope"], "openid profile");
    let userinfo = app.userinfo(access).await;
    assert_eq!(userinfo.status(), 200);
    let userinfo: Value = userinfo.json().await.unwrap();
    assert_eq!(userinfo["preferred_username"], "alice");

    let refreshed = refresh(
        &app,
        "api",
        Some(API_SECRET),
        text(&tokens, "refresh_token"),
        None,
    )
    .await;
    assert_eq!(refreshed.status(), 200);
    let refreshed: Value = refreshed.json().await.unwrap();
    let claims = verify_independently(&app, text(&refreshed, "access_token"), "api").await;
    assert_eq!(claims["sid"], sid_of(&tokens).as_str());
}

#[tokio::test]
async fn a_jwt_access_token_of_an_ended_session_is_inactive_at_introspection() {
    let app = jwt_app(Algorithm::RS256).await;
    let tokens = sign_in(&app).await;
    let access = text(&tokens, "access_token");
    assert!(
        app.state
            .sessions
            .end(&sid_of(&tokens), EndReason::Logout)
            .await
            .unwrap()
    );
    verify_independently(&app, access, "api").await;
    assert_eq!(introspect(&app, access).await["active"], false);
    assert_eq!(app.userinfo(access).await.status(), 401);
}

#[tokio::test]
async fn revoked_jwt_access_tokens_and_those_of_a_revoked_family_are_inactive() {
    let app = jwt_app(Algorithm::RS256).await;
    let tokens = sign_in(&app).await;
    let access = text(&tokens, "access_token");
    assert_eq!(revoke(&app, "api", API_SECRET, access).await.status(), 200);
    assert_eq!(introspect(&app, access).await["active"], false);

    let refreshed = refresh(
        &app,
        "api",
        Some(API_SECRET),
        text(&tokens, "refresh_token"),
        None,
    )
    .await;
    let refreshed: Value = refreshed.json().await.unwrap();
    let second = text(&refreshed, "access_token");
    assert_eq!(introspect(&app, second).await["active"], true);
    let response = revoke(&app, "api", API_SECRET, text(&refreshed, "refresh_token")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        introspect(&app, second).await["active"],
        false,
        "revoking the refresh token reaches the family's JWTs"
    );
    let other = revoke(&app, "app1", APP1_SECRET, access).await;
    assert_eq!(oauth_error(other).await, (400, "invalid_grant".to_owned()));
}

#[tokio::test]
async fn tokens_that_are_not_our_jwt_access_tokens_are_inactive() {
    let app = jwt_app(Algorithm::RS256).await;
    let tokens = sign_in(&app).await;
    let access = text(&tokens, "access_token");
    // An id token is signed by the center too, but it is not an access token (typ JWT).
    assert_eq!(
        introspect(&app, text(&tokens, "id_token")).await["active"],
        false
    );
    assert_eq!(app.userinfo(text(&tokens, "id_token")).await.status(), 401);
    // Claims changed after signing.
    let mut parts: Vec<String> = access.split('.').map(str::to_owned).collect();
    let mut claims = claims(access);
    claims["scope"] = "openid profile admin".into();
    parts[1] = base64::Engine::encode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        serde_json::to_vec(&claims).unwrap(),
    );
    let tampered = parts.join(".");
    assert_eq!(introspect(&app, &tampered).await["active"], false);
    // Signed with a key of someone else's.
    let foreign = jsonwebtoken::encode(
        &jsonwebtoken::Header {
            typ: Some("at+jwt".to_owned()),
            ..jsonwebtoken::Header::new(Algorithm::HS256)
        },
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(b"not the center's key"),
    )
    .unwrap();
    assert_eq!(introspect(&app, &foreign).await["active"], false);
    assert_eq!(introspect(&app, access).await["active"], true);
}

#[tokio::test]
async fn client_credentials_jwts_name_the_service_as_subject() {
    let app = service_app(AccessTokenFormat::Jwt).await;
    let response =
        client_credentials(&app, "reports", Some(SERVICE_SECRET), Some("reports.read")).await;
    assert_eq!(response.status(), 200);
    let tokens: Value = response.json().await.unwrap();
    let access = text(&tokens, "access_token");
    let claims = verify_independently(&app, access, "reports").await;
    assert_eq!(claims["sub"], "reports");
    assert_eq!(claims["client_id"], "reports");
    assert_eq!(claims["scope"], "reports.read");
    assert!(claims.get("sid").is_none());
    let body = introspect(&app, access).await;
    assert_eq!(body["active"], true);
    assert_eq!(body["sub"], "reports");
    assert_eq!(app.userinfo(access).await.status(), 401);
}
