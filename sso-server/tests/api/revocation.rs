//! Token revocation (RFC 7009) at `/revoke`.

use serde_json::Value;

use crate::helpers::*;
use crate::refresh::{oauth_error, refresh, refresh_ok, text};

/// `POST /revoke` of `token` by `client_id` with `secret` (HTTP Basic).
pub(crate) async fn revoke(
    app: &Center,
    client_id: &str,
    secret: &str,
    token: &str,
) -> reqwest::Response {
    app.api
        .post(app.url("/revoke"))
        .basic_auth(client_id, Some(secret))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn revoking_a_refresh_token_revokes_its_family_and_their_access_tokens() {
    let app = spawn_app().await;
    let tokens = app.login_app1("alice").await;
    let refreshed = refresh_ok(&app, text(&tokens, "refresh_token")).await;

    let response = revoke(&app, "app1", APP1_SECRET, text(&refreshed, "refresh_token")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");

    let response = refresh(
        &app,
        "app1",
        Some(APP1_SECRET),
        text(&refreshed, "refresh_token"),
        None,
    )
    .await;
    assert_eq!(
        oauth_error(response).await,
        (400, "invalid_grant".to_owned())
    );
    for access in [&tokens, &refreshed] {
        assert_eq!(
            app.userinfo(text(access, "access_token")).await.status(),
            401
        );
    }
}

#[tokio::test]
async fn revoking_an_access_token_revokes_that_token_alone() {
    let app = spawn_app().await;
    let tokens = app.login_app1("alice").await;
    let access = text(&tokens, "access_token");
    assert_eq!(app.userinfo(access).await.status(), 200);

    let response = revoke(&app, "app1", APP1_SECRET, access).await;
    assert_eq!(response.status(), 200);
    assert_eq!(app.userinfo(access).await.status(), 401);
    let refreshed = refresh_ok(&app, text(&tokens, "refresh_token")).await;
    assert_eq!(
        app.userinfo(text(&refreshed, "access_token"))
            .await
            .status(),
        200,
        "the refresh token still works"
    );
}

#[tokio::test]
async fn unknown_or_already_revoked_tokens_are_answered_200() {
    let app = spawn_app().await;
    let tokens = app.login_app1("alice").await;
    let access = text(&tokens, "access_token");
    assert_eq!(
        revoke(&app, "app1", APP1_SECRET, access).await.status(),
        200
    );
    let long = "A".repeat(4000);
    for token in [
        access,
        "garbage",
        "a~b",
        "eyJ.eyJ.sig",
        "Ünïcode ✓",
        long.as_str(),
    ] {
        assert_eq!(
            revoke(&app, "app1", APP1_SECRET, token).await.status(),
            200,
            "{token:?}"
        );
    }
}

#[tokio::test]
async fn a_client_cannot_revoke_another_clients_tokens() {
    let app = spawn_app().await;
    let tokens = app.login_app1("alice").await;
    for name in ["refresh_token", "access_token"] {
        let response = revoke(&app, "app2", APP2_SECRET, text(&tokens, name)).await;
        assert_eq!(
            oauth_error(response).await,
            (400, "invalid_grant".to_owned()),
            "{name}"
        );
    }
    assert_eq!(
        app.userinfo(text(&tokens, "access_token")).await.status(),
        200
    );
    refresh_ok(&app, text(&tokens, "refresh_token")).await;
}

#[tokio::test]
async fn revocation_needs_client_authentication_and_a_token() {
    let app = spawn_app().await;
    let tokens = app.login_app1("alice").await;
    let token = text(&tokens, "refresh_token");

    let anonymous = app
        .api
        .post(app.url("/revoke"))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap();
    assert_eq!(
        oauth_error(anonymous).await,
        (401, "invalid_client".to_owned())
    );
    let wrong = revoke(&app, "app1", APP2_SECRET, token).await;
    assert_eq!(oauth_error(wrong).await, (401, "invalid_client".to_owned()));
    let missing = app
        .api
        .post(app.url("/revoke"))
        .basic_auth("app1", Some(APP1_SECRET))
        .form(&[("token_type_hint", "refresh_token")])
        .send()
        .await
        .unwrap();
    assert_eq!(
        oauth_error(missing).await,
        (400, "invalid_request".to_owned())
    );
    let get = app.api.get(app.url("/revoke")).send().await.unwrap();
    assert_eq!(get.status(), 405);
    refresh_ok(&app, token).await;
}

#[tokio::test]
async fn discovery_advertises_revocation_and_the_grant_types() {
    let app = spawn_app().await;
    let metadata: Value = app.get_json("/.well-known/openid-configuration").await;
    assert_eq!(metadata["revocation_endpoint"], format!("{ISSUER}/revoke"));
    assert_eq!(
        metadata["grant_types_supported"],
        serde_json::json!(["authorization_code", "refresh_token", "client_credentials"])
    );
    assert!(
        metadata["scopes_supported"]
            .as_array()
            .unwrap()
            .contains(&"offline_access".into())
    );
}
