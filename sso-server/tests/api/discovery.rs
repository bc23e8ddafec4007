//! Discovery, keys and probes.

use serde_json::Value;
use sso_server::keys::Keys;

use crate::helpers::*;

#[tokio::test]
async fn discovery_describes_the_endpoints_under_the_issuer() {
    let app = spawn_app().await;
    let doc: Value = app.get_json("/.well-known/openid-configuration").await;
    assert_eq!(doc["issuer"], ISSUER);
    assert_eq!(doc["token_endpoint"], format!("{ISSUER}/token"));
    assert_eq!(doc["jwks_uri"], format!("{ISSUER}/jwks.json"));
    assert_eq!(doc["end_session_endpoint"], format!("{ISSUER}/logout"));
    assert_eq!(
        doc["introspection_endpoint"],
        format!("{ISSUER}/introspect")
    );
    assert_eq!(
        doc["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    assert_eq!(doc["backchannel_logout_session_supported"], true);
}

async fn jwks(app: &TestApp) -> Vec<Value> {
    let body: Value = app.get_json("/jwks.json").await;
    body["keys"].as_array().unwrap().clone()
}

#[tokio::test]
async fn jwks_publishes_rs256_and_eddsa_keys_with_kids() {
    let app = spawn_app().await;
    let keys = jwks(&app).await;
    assert_eq!(keys.len(), 2);
    let algs: Vec<&str> = keys.iter().map(|k| k["alg"].as_str().unwrap()).collect();
    assert!(
        algs.contains(&"RS256") && algs.contains(&"EdDSA"),
        "{algs:?}"
    );
    assert!(
        keys.iter()
            .all(|k| k["kid"].as_str().is_some_and(|kid| !kid.is_empty()))
    );
    assert!(
        keys.iter().all(|k| k.get("d").is_none()),
        "no private parts"
    );
}

#[tokio::test]
async fn rotation_signs_with_the_new_key_and_keeps_the_old_one_published() {
    let app = spawn_app().await;
    let before = app.login_app1("alice").await;
    let old_kid = jsonwebtoken::decode_header(before["id_token"].as_str().unwrap())
        .unwrap()
        .kid
        .unwrap();
    let store = app.state.settings.tokens.key_store(app.state.pool.clone());
    Keys::rotate(&store).await.unwrap();
    app.state.keys.reload().await.unwrap();
    let keys = jwks(&app).await;
    assert_eq!(keys.len(), 4);
    assert!(keys.iter().any(|k| k["kid"] == old_kid.as_str()));
    let callback = app
        .follow(app.get_authorize(&AuthRequest::app1()).await)
        .await;
    let after: Value = app
        .exchange(
            "app1",
            APP1_SECRET,
            &callback.code(),
            APP1_CALLBACK,
            Some(VERIFIER),
        )
        .await
        .json()
        .await
        .unwrap();
    let new_kid = jsonwebtoken::decode_header(after["id_token"].as_str().unwrap())
        .unwrap()
        .kid
        .unwrap();
    assert_ne!(old_kid, new_kid);
}

#[tokio::test]
async fn keys_persist_across_restarts() {
    let (url, dir) = new_database().await;
    let first = build_only(&url).await.state().keys.jwks();
    let second = start(test_settings(), &url, dir, memory_store()).await;
    assert_eq!(
        serde_json::to_value(first).unwrap()["keys"],
        Value::Array(jwks(&second).await)
    );
}

#[tokio::test]
async fn probes_report_health_and_readiness() {
    let app = spawn_app().await;
    let health = app.api.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let ready = app.api.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    app.state.pool.close().await;
    let ready = app.api.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 503);
}
