//! RP-initiated logout.

use crate::helpers::*;

#[tokio::test]
async fn logout_without_a_hint_asks_first_and_a_confirmed_form_signs_out() {
    let app = spawn_app().await;
    app.login_app1("alice").await;
    let confirm = app.browser.get(app.url("/logout")).send().await.unwrap();
    assert_eq!(confirm.status(), 200);
    let html = confirm.text().await.unwrap();
    assert_eq!(
        app.get_authorize(&AuthRequest::app1()).await.status(),
        303,
        "still signed in until confirmed"
    );

    let forged = app
        .browser
        .post(app.url("/logout"))
        .form(&[("csrf_token", "forged-token-0123456789abc")])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 200);
    assert_eq!(
        app.get_authorize(&AuthRequest::app1()).await.status(),
        303,
        "a forged confirmation signs nobody out"
    );

    let done = app
        .browser
        .post(app.url("/logout"))
        .form(&[("csrf_token", hidden(&html, "csrf_token"))])
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 200);
    assert!(done.text().await.unwrap().contains("signed out"));
    assert_eq!(
        app.get_authorize(&AuthRequest::app1()).await.status(),
        200,
        "the login form again"
    );
}

#[tokio::test]
async fn an_unregistered_post_logout_redirect_uri_is_not_followed() {
    let app = spawn_app().await;
    let tokens = app.login_app1("alice").await;
    let response = app
        .browser
        .get(app.url("/logout"))
        .query(&[
            ("id_token_hint", tokens["id_token"].as_str().unwrap()),
            ("post_logout_redirect_uri", "http://evil.example/"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert!(response.headers().get("location").is_none());
}

#[tokio::test]
async fn a_forged_id_token_hint_is_rejected() {
    let app = spawn_app().await;
    let tokens = app.login_app1("alice").await;
    let id_token = tokens["id_token"].as_str().unwrap();
    let (head, rest) = id_token.split_once('.').unwrap();
    let (_, signature) = rest.split_once('.').unwrap();
    let payload = base64::Engine::encode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        br#"{"iss":"https://sso.test.localhost","aud":"app2","sid":"x"}"#,
    );
    let forged = format!("{head}.{payload}.{signature}");
    let response = app
        .browser
        .get(app.url("/logout"))
        .query(&[("id_token_hint", forged.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert_eq!(
        app.get_authorize(&AuthRequest::app1()).await.status(),
        303,
        "still signed in"
    );
}
