//! The axum layer against the real center: sign-in, single sign-on with an actix-web app,
//! refused callbacks, sign-out with and without the CSRF token, single logout both ways,
//! refused logout tokens, API answers, public paths, and sign-ins while the center is down.

use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::routing::{get, post};
use serde_json::{Value, json};
use sso_client::axum::SsoLayer;
use sso_client::{LocalSessions, Principal, SsoClient, SsoConfig};
use url::Url;

use crate::helpers::*;

async fn home(user: Option<Principal>) -> String {
    user.map_or("anonymous".to_owned(), |user| user.sub().to_owned())
}

async fn me(user: Principal) -> Json<Value> {
    Json(json!({
        "sub": user.sub(), "name": user.name(), "email": user.email(), "sid": user.sid(),
        "csrf_token": user.csrf_token(), "claims": user.claims(),
    }))
}

/// Serves an axum app protected by the layer with `config` and `sessions` on `listener`:
/// `/` is public, `/me` (GET) and `/api/me` (POST) need a user.
fn serve_axum(
    config: SsoConfig,
    sessions: LocalSessions,
    listener: std::net::TcpListener,
) -> TestApp {
    let url = format!("http://{}", listener.local_addr().unwrap());
    let client = SsoClient::new(config, sessions).unwrap();
    let app = Router::new()
        .route("/", get(home))
        .route("/me", get(me))
        .route("/api/me", post(me))
        .layer(SsoLayer::new(client.clone()));
    listener.set_nonblocking(true).unwrap();
    let listener = tokio::net::TcpListener::from_std(listener).unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    TestApp { url, client }
}

/// Registers client `id` and starts an axum app for it on `backend`.
async fn start_axum_app_on(center: &Center, id: &str, backend: &Backend) -> TestApp {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    center.register(id, &secret_of(id), &url).await;
    serve_axum(config(center, id, &url), backend.sessions(), listener)
}

async fn start_axum_app(center: &Center, id: &str) -> TestApp {
    start_axum_app_on(center, id, &Backend::Memory).await
}

/// Polls until `app` no longer knows the browser's session, or panics after `timeout`.
async fn wait_signed_out(browser: &reqwest::Client, app: &TestApp, timeout: Duration) {
    let deadline = tokio::time::Instant::now() + timeout;
    while whoami(browser, app).await.is_some() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "still signed in at {} after {timeout:?}",
            app.url
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn sign_out(browser: &reqwest::Client, app: &TestApp, csrf_token: &str) -> reqwest::Response {
    browser
        .post(format!("{}/auth/logout", app.url))
        .form(&[("csrf_token", csrf_token)])
        .send()
        .await
        .unwrap()
}

fn set_cookies(response: &reqwest::Response) -> Vec<String> {
    response
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .map(|value| value.to_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_password_at_the_center_signs_in_to_the_axum_app_on_every_backend() {
    for backend in Backend::all() {
        eprintln!("backend: {}", backend.name());
        let center = start_center().await;
        let app = start_axum_app_on(&center, "axum1", &backend).await;
        let browser = browser();
        let callback = login_until_callback(&browser, &center, &app, "/me?tab=claims").await;
        let landed = deliver_callback(&browser, &callback).await;
        assert_eq!(landed.status(), 303);
        assert_eq!(
            location(&landed),
            "/me?tab=claims",
            "back to the page first asked for"
        );
        let cookies = set_cookies(&landed);
        let session = cookies
            .iter()
            .find(|cookie| cookie.starts_with("axum1_session="))
            .expect("a session cookie");
        assert!(
            session.contains("; HttpOnly; SameSite=Lax; Secure; Path=/; Max-Age=28800"),
            "{session}"
        );
        assert!(
            cookies
                .iter()
                .any(|cookie| cookie.starts_with("axum1_session_login=;")
                    && cookie.contains("Max-Age=0")),
            "the sign-in cookie is deleted: {cookies:?}"
        );

        let me = whoami(&browser, &app).await.expect("signed in");
        assert_eq!(me["name"], "Alice Liddell");
        assert_eq!(me["claims"]["aud"], "axum1");
        let home = browser.get(format!("{}/", app.url)).send().await.unwrap();
        assert_eq!(home.text().await.unwrap(), me["sub"].as_str().unwrap());
    }
}

#[tokio::test]
async fn one_password_signs_in_to_an_actix_app_and_an_axum_app() {
    let center = start_center().await;
    let app1 = start_app(&center, "app1").await;
    let axum_app = start_axum_app(&center, "axum1").await;
    let browser = browser();

    let me1 = sign_in(&browser, &center, &app1).await;
    let me2 = sign_in_silently(&browser, &center, &axum_app).await;
    assert_eq!(me2["sid"], me1["sid"], "one center session");
    assert_eq!(me2["sub"], me1["sub"]);

    let browser = crate::helpers::browser();
    let me2 = sign_in(&browser, &center, &axum_app).await;
    let me1 = sign_in_silently(&browser, &center, &app1).await;
    assert_eq!(me1["sid"], me2["sid"], "and the other way round");
}

#[tokio::test]
async fn a_tampered_callback_state_is_refused_with_a_clear_page() {
    let center = start_center().await;
    let app = start_axum_app(&center, "axum1").await;
    let browser = browser();
    let callback = login_until_callback(&browser, &center, &app, "/me").await;

    let mut tampered = Url::parse(&callback).unwrap();
    let pairs: Vec<(String, String)> = tampered
        .query_pairs()
        .map(|(name, value)| {
            let value = if name == "state" {
                format!("{value}x")
            } else {
                value.into_owned()
            };
            (name.into_owned(), value)
        })
        .collect();
    tampered.query_pairs_mut().clear().extend_pairs(pairs);
    let response = deliver_callback(&browser, tampered.as_str()).await;
    assert_eq!(response.status(), 400);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let page = response.text().await.unwrap();
    assert!(page.contains("Sign-in could not be completed"), "{page}");
    assert!(
        whoami(&browser, &app).await.is_none(),
        "no session from a tampered callback"
    );

    let fresh = crate::helpers::browser();
    let forged = fresh
        .get(format!(
            "{}/auth/callback?code=stolen&state=guessed",
            app.url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(
        forged.status(),
        400,
        "a callback this browser did not start"
    );
}

#[tokio::test]
async fn sign_out_needs_the_csrf_token_and_ends_both_sessions() {
    let center = start_center().await;
    let app = start_axum_app(&center, "axum1").await;
    let browser = browser();
    let me = sign_in(&browser, &center, &app).await;

    let forged = sign_out(&browser, &app, "wrong").await;
    assert_eq!(forged.status(), 400);
    assert!(
        forged
            .text()
            .await
            .unwrap()
            .contains("Sign-out not confirmed")
    );
    let without_form = browser
        .post(format!("{}/auth/logout", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(without_form.status(), 400);
    assert!(whoami(&browser, &app).await.is_some(), "still signed in");

    let get = browser
        .get(format!("{}/auth/logout", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(get.status(), 405);
    assert_eq!(get.headers()["allow"], "POST");

    let response = sign_out(&browser, &app, me["csrf_token"].as_str().unwrap()).await;
    assert_eq!(response.status(), 303);
    let removal = set_cookies(&response)
        .into_iter()
        .find(|cookie| cookie.starts_with("axum1_session="))
        .expect("the session cookie is deleted");
    assert!(
        removal.starts_with("axum1_session=; HttpOnly; SameSite=Lax; Secure; Path=/; Max-Age=0"),
        "{removal}"
    );
    let end_session = Url::parse(&location(&response)).unwrap();
    assert!(
        end_session
            .as_str()
            .starts_with(&format!("{}/logout?", center.url))
    );
    assert!(
        end_session
            .query_pairs()
            .any(|(name, _)| name == "id_token_hint")
    );
    assert!(
        whoami(&browser, &app).await.is_none(),
        "the local session is gone at once"
    );

    let at_center = browser.get(end_session).send().await.unwrap();
    assert_eq!(location(&at_center), format!("{}/", app.url));
    let again = browser.get(format!("{}/me", app.url)).send().await.unwrap();
    let login_page = browser.get(location(&again)).send().await.unwrap();
    assert_eq!(
        login_page.status(),
        200,
        "the center asks for the password again"
    );
}

#[tokio::test]
async fn single_logout_reaches_the_axum_app_and_leaves_it() {
    let center = start_center().await;
    let app1 = start_app(&center, "app1").await;
    let axum_app = start_axum_app(&center, "axum1").await;

    let browser = browser();
    let me1 = sign_in(&browser, &center, &app1).await;
    sign_in_silently(&browser, &center, &axum_app).await;
    let response = sign_out(&browser, &app1, me1["csrf_token"].as_str().unwrap()).await;
    let at_center = browser.get(location(&response)).send().await.unwrap();
    assert!(at_center.status().is_redirection());
    wait_signed_out(&browser, &axum_app, Duration::from_secs(10)).await;

    let browser = crate::helpers::browser();
    sign_in(&browser, &center, &app1).await;
    let me2 = sign_in_silently(&browser, &center, &axum_app).await;
    let response = sign_out(&browser, &axum_app, me2["csrf_token"].as_str().unwrap()).await;
    let at_center = browser.get(location(&response)).send().await.unwrap();
    assert!(at_center.status().is_redirection());
    wait_signed_out(&browser, &app1, Duration::from_secs(10)).await;
}

#[tokio::test]
async fn forged_and_malformed_logout_requests_are_refused() {
    let center = start_center().await;
    let app = start_axum_app(&center, "axum1").await;
    let browser = browser();
    let me = sign_in(&browser, &center, &app).await;
    let url = format!("{}/auth/backchannel-logout", app.url);
    let http = reqwest::Client::new();

    let claims = sso_server::slo::logout_token::LogoutClaims::new(
        &center.url,
        "app1",
        me["sub"].as_str().unwrap(),
        me["sid"].as_str().unwrap(),
    );
    let for_another_app = center
        .state
        .keys
        .sign(jsonwebtoken::Algorithm::RS256, "logout+jwt", &claims)
        .unwrap();
    let mut forged = for_another_app.clone();
    forged.pop();
    for token in [for_another_app.as_str(), forged.as_str(), "not-a-jwt"] {
        let response = http
            .post(&url)
            .form(&[("logout_token", token)])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{token}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], "invalid_request");
    }
    let not_a_form = http
        .post(&url)
        .json(&json!({"logout_token": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(not_a_form.status(), 415);
    let no_token = http
        .post(&url)
        .form(&[("other", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(no_token.status(), 400);
    let oversized = http
        .post(&url)
        .form(&[("logout_token", "a".repeat(20_000))])
        .send()
        .await
        .unwrap();
    assert_eq!(oversized.status(), 413);
    assert!(
        whoami(&browser, &app).await.is_some(),
        "refused tokens end nothing"
    );

    let mut genuine = claims;
    genuine.aud = "axum1".to_owned();
    let genuine = center
        .state
        .keys
        .sign(jsonwebtoken::Algorithm::RS256, "logout+jwt", &genuine)
        .unwrap();
    let response = http
        .post(&url)
        .form(&[("logout_token", &genuine)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        whoami(&browser, &app).await.is_none(),
        "the logout token ends the session"
    );
    let replayed = http
        .post(&url)
        .form(&[("logout_token", &genuine)])
        .send()
        .await
        .unwrap();
    assert_eq!(replayed.status(), 400, "replayed");
}

#[tokio::test]
async fn api_clients_get_401_json_and_public_paths_serve_anonymous_visitors() {
    let center = start_center().await;
    let app = start_axum_app(&center, "axum1").await;
    let http = browser();

    let post = http
        .post(format!("{}/api/me", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), 401);
    assert_eq!(post.headers()["content-type"], "application/json");
    let body: Value = post.json().await.unwrap();
    assert_eq!(body["error"], "unauthenticated");
    assert!(
        whoami(&http, &app).await.is_none(),
        "GET with Accept: application/json"
    );

    let home = http.get(format!("{}/", app.url)).send().await.unwrap();
    assert_eq!(home.status(), 200);
    assert_eq!(home.text().await.unwrap(), "anonymous");

    let stale = http
        .get(format!("{}/", app.url))
        .header("Cookie", "axum1_session=k1.unknown")
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), 200);
    assert!(
        set_cookies(&stale)
            .iter()
            .any(|cookie| cookie.starts_with("axum1_session=;")),
        "an unknown session cookie is deleted"
    );

    let page = http
        .get(format!("{}/me", app.url))
        .header("Accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 302, "browsers go to the center");
    assert!(location(&page).starts_with(&format!("{}/authorize?", center.url)));
    let off_site = http
        .get(format!(
            "{}/auth/login?return_to=https%3A%2F%2Fevil.example",
            app.url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(off_site.status(), 302);
}

#[tokio::test]
async fn while_the_center_is_down_sign_ins_get_a_503_page_and_other_methods_405() {
    let port = reserve_port();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let mut config = SsoConfig::new(
        format!("http://127.0.0.1:{port}"),
        "axum1",
        sso_client::Secret::new(secret_of("axum1")),
        url.parse().unwrap(),
    );
    config.public_paths = vec!["/".to_owned()];
    let app = serve_axum(
        config,
        LocalSessions::memory(session_store::MemoryStore::default()),
        listener,
    );
    let http = browser();

    let page = http.get(format!("{}/me", app.url)).send().await.unwrap();
    assert_eq!(page.status(), 503);
    assert_eq!(page.headers()["retry-after"], "30");
    let body = page.text().await.unwrap();
    assert!(body.contains("Sign-in service unavailable"), "{body}");
    assert!(
        !body.contains("127.0.0.1"),
        "no internal details on the page"
    );

    for (method, path, allow) in [
        (reqwest::Method::POST, "/auth/callback", "GET, HEAD"),
        (reqwest::Method::POST, "/auth/login", "GET, HEAD"),
        (reqwest::Method::GET, "/auth/logout", "POST"),
        (reqwest::Method::PUT, "/auth/backchannel-logout", "POST"),
    ] {
        let response = http
            .request(method.clone(), format!("{}{path}", app.url))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 405, "{method} {path}");
        assert_eq!(response.headers()["allow"], allow, "{method} {path}");
    }
}
