//! Each security property in its own test.

use std::time::Duration;

use serde_json::Value;

use crate::helpers::*;

/// The OAuth `error` of a JSON error response.
async fn error_code(response: reqwest::Response) -> Value {
    let body: Value = response.json().await.unwrap();
    body["error"].clone()
}

#[tokio::test]
async fn an_unregistered_redirect_uri_gets_an_error_page_not_a_redirect() {
    let app = spawn_app().await;
    let request = AuthRequest::new("app1", "http://evil.example/callback");
    let response = app.get_authorize(&request).await;
    assert_eq!(response.status(), 400);
    assert!(response.headers().get("location").is_none());
    let html = response.text().await.unwrap();
    assert!(html.contains("not registered"), "{html}");
    assert!(!html.contains("evil.example"));
}

#[tokio::test]
async fn a_redirect_uri_differing_by_a_trailing_slash_is_rejected() {
    let app = spawn_app().await;
    let request = AuthRequest::new("app1", &format!("{APP1_CALLBACK}/"));
    let response = app.get_authorize(&request).await;
    assert_eq!(response.status(), 400);
    assert!(response.headers().get("location").is_none());
}

#[tokio::test]
async fn an_unknown_client_gets_an_error_page_not_a_redirect() {
    let app = spawn_app().await;
    let request = AuthRequest::new("nobody", APP1_CALLBACK);
    let response = app.get_authorize(&request).await;
    assert_eq!(response.status(), 400);
    assert!(response.headers().get("location").is_none());
}

#[tokio::test]
async fn a_replayed_code_fails_and_revokes_the_first_access_token() {
    let app = spawn_app().await;
    let code = app.login(&AuthRequest::app1(), "alice").await.code();
    let first = app
        .exchange("app1", APP1_SECRET, &code, APP1_CALLBACK, Some(VERIFIER))
        .await;
    assert_eq!(first.status(), 200);
    let tokens: Value = first.json().await.unwrap();
    let access_token = tokens["access_token"].as_str().unwrap();
    let userinfo = |token: String| {
        let app = &app;
        async move { app.userinfo(&token).await.status() }
    };
    assert_eq!(userinfo(access_token.to_owned()).await, 200);

    let replay = app
        .exchange("app1", APP1_SECRET, &code, APP1_CALLBACK, Some(VERIFIER))
        .await;
    assert_eq!(replay.status(), 400);
    assert_eq!(error_code(replay).await, "invalid_grant");
    assert_eq!(userinfo(access_token.to_owned()).await, 401, "revoked");
}

#[tokio::test]
async fn a_pkce_mismatch_fails_the_exchange() {
    let app = spawn_app().await;
    let code = app.login(&AuthRequest::app1(), "alice").await.code();
    let wrong = "x".repeat(43);
    let response = app
        .exchange("app1", APP1_SECRET, &code, APP1_CALLBACK, Some(&wrong))
        .await;
    assert_eq!(response.status(), 400);
    assert_eq!(error_code(response).await, "invalid_grant");
}

#[tokio::test]
async fn a_missing_pkce_verifier_fails_the_exchange() {
    let app = spawn_app().await;
    let code = app.login(&AuthRequest::app1(), "alice").await.code();
    let response = app
        .exchange("app1", APP1_SECRET, &code, APP1_CALLBACK, None)
        .await;
    assert_eq!(error_code(response).await, "invalid_grant");
}

#[tokio::test]
async fn a_public_client_without_pkce_is_refused() {
    let app = spawn_app().await;
    let mut request = AuthRequest::new("spa", SPA_CALLBACK);
    request.challenge = None;
    let callback = app.follow(app.get_authorize(&request).await).await;
    assert_eq!(callback.param("error").as_deref(), Some("invalid_request"));
}

#[tokio::test]
async fn a_wrong_client_secret_is_invalid_client() {
    let app = spawn_app().await;
    let code = app.login(&AuthRequest::app1(), "alice").await.code();
    let response = app
        .exchange(
            "app1",
            "not-the-secret",
            &code,
            APP1_CALLBACK,
            Some(VERIFIER),
        )
        .await;
    assert_eq!(response.status(), 401);
    assert!(response.headers().contains_key("www-authenticate"));
    assert_eq!(error_code(response).await, "invalid_client");
    let retry = app
        .exchange("app1", APP1_SECRET, &code, APP1_CALLBACK, Some(VERIFIER))
        .await;
    assert_eq!(
        retry.status(),
        200,
        "a failed client authentication does not burn the code"
    );
}

#[tokio::test]
async fn a_code_issued_to_one_client_cannot_be_redeemed_by_another() {
    let app = spawn_app().await;
    let code = app.login(&AuthRequest::app1(), "alice").await.code();
    let response = app
        .exchange("app2", APP2_SECRET, &code, APP1_CALLBACK, Some(VERIFIER))
        .await;
    assert_eq!(error_code(response).await, "invalid_grant");
}

#[tokio::test]
async fn a_different_redirect_uri_at_exchange_is_invalid_grant() {
    let app = spawn_app().await;
    let code = app.login(&AuthRequest::app1(), "alice").await.code();
    let response = app
        .exchange("app1", APP1_SECRET, &code, APP2_CALLBACK, Some(VERIFIER))
        .await;
    assert_eq!(error_code(response).await, "invalid_grant");
}

#[tokio::test]
async fn an_expired_code_is_invalid_grant() {
    let app = spawn_app_with(|s| s.tokens.code_ttl_secs = 1).await;
    let code = app.login(&AuthRequest::app1(), "alice").await.code();
    tokio::time::sleep(Duration::from_millis(1_300)).await;
    let response = app
        .exchange("app1", APP1_SECRET, &code, APP1_CALLBACK, Some(VERIFIER))
        .await;
    assert_eq!(response.status(), 400);
    assert_eq!(error_code(response).await, "invalid_grant");
}

#[tokio::test]
async fn a_login_without_the_csrf_token_is_refused() {
    let app = spawn_app().await;
    let page = app
        .get_authorize(&AuthRequest::app1())
        .await
        .text()
        .await
        .unwrap();
    let response = app
        .browser
        .post(app.url("/login"))
        .form(&[
            ("return_to", hidden(&page, "return_to")),
            ("username", "alice".to_owned()),
            ("password", PASSWORD.to_owned()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    assert!(
        response
            .headers()
            .get_all("set-cookie")
            .iter()
            .all(|c| !c.to_str().unwrap().starts_with("sso_session=")),
        "no session without the CSRF token"
    );
    let html = response.text().await.unwrap();
    assert!(html.contains("expired"), "the form says what happened");
}

#[tokio::test]
async fn a_login_with_a_forged_csrf_token_is_refused() {
    let app = spawn_app().await;
    let page = app
        .get_authorize(&AuthRequest::app1())
        .await
        .text()
        .await
        .unwrap();
    let forged = page.replace(&hidden(&page, "csrf_token"), "forged-token-0123456789abc");
    let response = app.submit_login(&forged, "alice", PASSWORD).await;
    assert_eq!(response.status(), 403);
}

#[tokio::test]
async fn repeated_failures_lock_the_username_with_retry_after() {
    let app = spawn_app_with(|s| s.login.max_failures_per_user = 3).await;
    let page = app
        .get_authorize(&AuthRequest::app1())
        .await
        .text()
        .await
        .unwrap();
    for _ in 0..3 {
        let response = app.submit_login(&page, "alice", "wrong password").await;
        assert_eq!(response.status(), 401);
        assert!(response.text().await.unwrap().contains("not correct"));
    }
    let response = app.submit_login(&page, "alice", PASSWORD).await;
    assert_eq!(response.status(), 429, "even the right password waits");
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_after > 0);
    assert!(response.text().await.unwrap().contains("Too many"));
    let other = app.submit_login(&page, "bob", PASSWORD).await;
    assert_eq!(other.status(), 303, "other users are not affected");
}

#[tokio::test]
async fn too_many_attempts_from_one_ip_are_limited() {
    let app = spawn_app_with(|s| s.login.max_attempts_per_ip = 2).await;
    let page = app
        .get_authorize(&AuthRequest::app1())
        .await
        .text()
        .await
        .unwrap();
    for user in ["nobody1", "nobody2"] {
        assert_eq!(app.submit_login(&page, user, "x").await.status(), 401);
    }
    let response = app.submit_login(&page, "alice", PASSWORD).await;
    assert_eq!(response.status(), 429);
    assert!(response.headers().contains_key("retry-after"));
}

#[tokio::test]
async fn a_disabled_user_cannot_sign_in() {
    let app = spawn_app().await;
    let alice = sso_server::domain::Username::parse("alice").unwrap();
    assert!(app.state.users.set_disabled(&alice, true).await.unwrap());
    let page = app
        .get_authorize(&AuthRequest::app1())
        .await
        .text()
        .await
        .unwrap();
    let response = app.submit_login(&page, "alice", PASSWORD).await;
    assert_eq!(response.status(), 403);
    assert!(response.text().await.unwrap().contains("disabled"));
}

#[tokio::test]
async fn an_unknown_user_gets_the_same_answer_as_a_wrong_password() {
    let app = spawn_app().await;
    let page = app
        .get_authorize(&AuthRequest::app1())
        .await
        .text()
        .await
        .unwrap();
    let unknown = app.submit_login(&page, "mallory", PASSWORD).await;
    let wrong = app.submit_login(&page, "alice", "wrong password").await;
    assert_eq!(unknown.status(), wrong.status());
    // Every rendering of the form has its own form id.
    let strip = |html: String, name: &str| {
        let form_id = hidden(&html, "form_id");
        html.replace(name, "").replace(&form_id, "")
    };
    assert_eq!(
        strip(unknown.text().await.unwrap(), "mallory"),
        strip(wrong.text().await.unwrap(), "alice")
    );
}

#[tokio::test]
async fn internal_errors_reveal_nothing() {
    let app = spawn_app().await;
    app.state.pool.close().await;
    let response = app.get_authorize(&AuthRequest::app1()).await;
    assert_eq!(response.status(), 500);
    let html = response.text().await.unwrap();
    assert!(html.contains("internal error"), "{html}");
    for leak in ["sqlx", "pool", "closed", "database"] {
        assert!(
            !html.to_lowercase().contains(leak),
            "500 page mentions {leak}"
        );
    }
    let token = app
        .exchange("app1", APP1_SECRET, "code", APP1_CALLBACK, None)
        .await;
    assert_eq!(token.status(), 500);
    let body: Value = token.json().await.unwrap();
    assert_eq!(body["error"], "server_error");
    assert_eq!(body["error_description"], "internal error");
}

#[tokio::test]
async fn a_malformed_token_request_gets_an_oauth_error() {
    let app = spawn_app().await;
    let response = app
        .api
        .post(app.url("/token"))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert_eq!(error_code(response).await, "invalid_request");
}
