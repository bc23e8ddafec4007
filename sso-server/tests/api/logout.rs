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

/// Whether the browser of `center` still has a global session (silent SSO answers with a code).
async fn signed_in(center: &Center) -> bool {
    center.get_authorize(&AuthRequest::app1()).await.status() == 303
}

/// `GET /logout?id_token_hint=…` from the browser of `center`.
async fn logout_link(center: &Center, hint: &str) -> reqwest::Response {
    center
        .browser
        .get(center.url("/logout"))
        .query(&[("id_token_hint", hint)])
        .send()
        .await
        .unwrap()
}

/// Submits the sign-out confirmation form with `token` from the browser of `center`.
async fn confirm_logout(center: &Center, token: String) -> reqwest::Response {
    center
        .browser
        .post(center.url("/logout"))
        .form(&[("csrf_token", token)])
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn another_users_id_token_hint_asks_before_signing_anyone_out() {
    let app = spawn_app().await;
    let alice = app.login_app1("alice").await;
    let bob = Center::attach(app.address.clone());
    bob.login_app1("bob").await;

    let link = logout_link(&bob, alice["id_token"].as_str().unwrap()).await;
    assert_eq!(link.status(), 200);
    let page = link.text().await.unwrap();
    assert!(page.contains("csrf_token"), "the confirmation form: {page}");
    assert!(
        signed_in(&bob).await,
        "bob is not signed out by alice's hint"
    );
    assert!(signed_in(&app).await, "nor is alice");

    let confirmed = confirm_logout(&bob, hidden(&page, "csrf_token")).await;
    assert_eq!(confirmed.status(), 200);
    assert!(!signed_in(&bob).await, "bob confirmed: signed out");
    assert!(signed_in(&app).await, "alice's session is untouched");
}

#[tokio::test]
async fn a_hint_of_an_earlier_session_of_the_same_browser_asks_first() {
    let app = spawn_app().await;
    let earlier = app.login_app1("alice").await;
    let hint = earlier["id_token"].as_str().unwrap();
    let first = logout_link(&app, hint).await;
    assert_eq!(first.status(), 200);
    assert!(!signed_in(&app).await, "a matching hint signs out at once");

    app.login_app1("alice").await;
    let stale = logout_link(&app, hint).await;
    assert_eq!(stale.status(), 200);
    assert!(stale.text().await.unwrap().contains("csrf_token"));
    assert!(
        signed_in(&app).await,
        "an old hint does not end the new session"
    );
}

#[tokio::test]
async fn a_confirmation_form_is_bound_to_the_session_it_was_shown_for() {
    let app = spawn_app().await;
    app.login_app1("alice").await;
    let page = app
        .browser
        .get(app.url("/logout"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let token = hidden(&page, "csrf_token");
    // The browser signs in again (a new session, same CSRF cookie): the old form is void.
    let mut again = AuthRequest::app1();
    again.prompt = Some("login".to_owned());
    app.login(&again, "bob").await;
    let late = confirm_logout(&app, token).await;
    assert_eq!(late.status(), 200);
    assert!(
        late.text().await.unwrap().contains("csrf_token"),
        "asked again"
    );
    assert!(signed_in(&app).await);
}

#[tokio::test]
async fn a_browser_without_a_session_is_not_asked_to_confirm() {
    let app = spawn_app().await;
    let response = app.browser.get(app.url("/logout")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let page = response.text().await.unwrap();
    assert!(page.contains("signed out"), "{page}");
    assert!(!page.contains("csrf_token"));
}
