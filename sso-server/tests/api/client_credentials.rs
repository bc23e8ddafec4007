//! `grant_type=client_credentials`: tokens for a service itself.

use sso_server::config::{AccessTokenFormat, GrantType};

use crate::helpers::*;
use crate::refresh::{introspect, oauth_error, policy, register, text, token_request};

pub(crate) const SERVICE_SECRET: &str = "service-secret-0123456789abcdef";

/// A center with `reports`, a service account allowed two scopes, its tokens in `format`.
pub(crate) async fn service_app(format: AccessTokenFormat) -> TestApp {
    let app = spawn_app().await;
    register(
        &app,
        "reports",
        Some(SERVICE_SECRET),
        None,
        policy(
            &[GrantType::ClientCredentials],
            &["reports.read", "reports.write"],
            format,
            false,
        ),
        jsonwebtoken::Algorithm::RS256,
    )
    .await;
    app
}

pub(crate) async fn client_credentials(
    app: &Center,
    client_id: &str,
    secret: Option<&str>,
    scope: Option<&str>,
) -> reqwest::Response {
    let mut form = vec![("grant_type", "client_credentials")];
    if let Some(scope) = scope {
        form.push(("scope", scope));
    }
    token_request(app, client_id, secret, &form).await
}

#[tokio::test]
async fn a_service_gets_a_token_of_its_own_with_its_allowed_scopes() {
    let app = service_app(AccessTokenFormat::Opaque).await;
    let response = client_credentials(&app, "reports", Some(SERVICE_SECRET), None).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let tokens: serde_json::Value = response.json().await.unwrap();
    assert_eq!(tokens["scope"], "reports.read reports.write");
    assert_eq!(tokens["token_type"], "Bearer");
    assert!(tokens.get("refresh_token").is_none(), "no refresh token");
    assert!(tokens.get("id_token").is_none(), "no user, no id token");

    let access = text(&tokens, "access_token");
    let body = introspect(&app, access).await;
    assert_eq!(body["active"], true);
    assert_eq!(body["sub"], "reports");
    assert_eq!(body["client_id"], "reports");
    assert!(body.get("username").is_none() && body.get("sid").is_none());
    assert_eq!(
        app.userinfo(access).await.status(),
        401,
        "nobody to describe"
    );
}

#[tokio::test]
async fn client_credentials_scopes_are_limited_to_the_allowed_ones() {
    let app = service_app(AccessTokenFormat::Opaque).await;
    let one = client_credentials(&app, "reports", Some(SERVICE_SECRET), Some("reports.read")).await;
    assert_eq!(one.status(), 200);
    let one: serde_json::Value = one.json().await.unwrap();
    assert_eq!(one["scope"], "reports.read");
    assert_eq!(
        introspect(&app, text(&one, "access_token")).await["scope"],
        "reports.read"
    );
    for scope in ["admin", "reports.read openid", "openid"] {
        let response = client_credentials(&app, "reports", Some(SERVICE_SECRET), Some(scope)).await;
        assert_eq!(
            oauth_error(response).await,
            (400, "invalid_scope".to_owned()),
            "{scope}"
        );
    }
}

#[tokio::test]
async fn client_credentials_are_refused_to_clients_not_allowed_them_and_to_public_clients() {
    let app = service_app(AccessTokenFormat::Opaque).await;
    let signed_in_app = client_credentials(&app, "app1", Some(APP1_SECRET), None).await;
    assert_eq!(
        oauth_error(signed_in_app).await,
        (400, "unauthorized_client".to_owned())
    );
    let public = client_credentials(&app, "spa", None, None).await;
    assert_eq!(
        oauth_error(public).await,
        (400, "unauthorized_client".to_owned())
    );
    let wrong = client_credentials(&app, "reports", Some(APP1_SECRET), None).await;
    assert_eq!(oauth_error(wrong).await, (401, "invalid_client".to_owned()));
    let anonymous = client_credentials(&app, "reports", None, None).await;
    assert_eq!(
        oauth_error(anonymous).await,
        (401, "invalid_client".to_owned())
    );

    // The service account cannot sign users in either.
    let code = token_request(
        &app,
        "reports",
        Some(SERVICE_SECRET),
        &[("grant_type", "authorization_code"), ("code", "x")],
    )
    .await;
    assert_eq!(
        oauth_error(code).await,
        (400, "unauthorized_client".to_owned())
    );
}

#[tokio::test]
async fn a_public_client_cannot_be_registered_for_client_credentials() {
    let app = spawn_app().await;
    let refused = app
        .state
        .clients
        .upsert(sso_server::clients::NewClient {
            id: sso_server::domain::ClientId::parse("sneaky").unwrap(),
            name: "Sneaky".to_owned(),
            secret: None,
            redirect_uris: Vec::new(),
            post_logout_redirect_uris: Vec::new(),
            backchannel_logout_uri: None,
            id_token_alg: jsonwebtoken::Algorithm::RS256,
            tokens: policy(
                &[GrantType::ClientCredentials],
                &["x"],
                AccessTokenFormat::Opaque,
                false,
            ),
        })
        .await;
    assert!(refused.is_err());
}

#[tokio::test]
async fn a_revoked_service_token_is_inactive() {
    let app = service_app(AccessTokenFormat::Opaque).await;
    let tokens: serde_json::Value = client_credentials(&app, "reports", Some(SERVICE_SECRET), None)
        .await
        .json()
        .await
        .unwrap();
    let access = text(&tokens, "access_token");
    let revoked = crate::revocation::revoke(&app, "reports", SERVICE_SECRET, access).await;
    assert_eq!(revoked.status(), 200);
    assert_eq!(introspect(&app, access).await["active"], false);
}
