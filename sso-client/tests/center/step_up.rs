//! Step-up against the real center: a page requiring a second factor sends a user signed in
//! with a password back through the center, which asks for their TOTP code only and upgrades
//! the center session; the page then shows `acr` and `amr` of two factors. A user without a
//! second factor gets a 403 page after the callback, never a loop. Both glues.

use axum::Router;
use axum::routing::get;
use serde_json::Value;
use sso_client::axum::SsoLayer;
use sso_client::{ACR_MFA, ACR_PASSWORD, MultiFactor, SsoClient};
use sso_server::domain::Username;
use sso_server::factors::CodeCheck;
use sso_server::factors::totp::Generator;

use crate::helpers::*;

const STEP_UP: &str = "/auth/login?return_to=%2Fsensitive&acr_values=urn%3Asso%3Aacr%3Amfa";

fn now() -> u64 {
    jsonwebtoken::get_current_timestamp()
}

/// Enrolls a TOTP secret for alice at the center, confirmed with the previous step's code (so
/// the current step's code is still unused); returns her authenticator.
async fn enroll_totp(center: &Center) -> Generator {
    let factors = &center.state.factors;
    let alice = center
        .state
        .users
        .find(&Username::parse("alice").unwrap())
        .await
        .unwrap()
        .unwrap();
    let enrollment = factors.begin_totp(&alice).await.unwrap();
    let first_code = enrollment.generator.code_at(now() - 30);
    let confirmed = factors
        .confirm_totp(&alice, enrollment.key.as_str(), &first_code)
        .await
        .unwrap();
    assert_eq!(confirmed, CodeCheck::Accepted);
    enrollment.generator
}

async fn axum_sensitive(user: MultiFactor) -> axum::Json<Value> {
    axum::Json(factors_of(&user))
}

async fn axum_me(user: sso_client::Principal) -> axum::Json<Value> {
    axum::Json(serde_json::json!({"sub": user.sub(), "sid": user.sid(), "claims": user.claims()}))
}

/// Registers client `id` and starts an axum app for it: `/me` and `/sensitive` as the
/// actix-web test app has them.
async fn start_axum_app(center: &Center, id: &str) -> TestApp {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    center.register(id, &secret_of(id), &url).await;
    let client = SsoClient::new(config(center, id, &url), Backend::Memory.sessions()).unwrap();
    let router = Router::new()
        .route("/me", get(axum_me))
        .route("/sensitive", get(axum_sensitive))
        .layer(SsoLayer::new(client.clone()));
    tokio::spawn(async move { axum::serve(listener, router).await });
    TestApp { url, client }
}

/// A center and an app of it on `app_of` ("actix" or "axum").
async fn center_and_app(app_of: &str) -> (Center, TestApp) {
    let center = start_center().await;
    let app = if app_of == "axum" {
        start_axum_app(&center, "axum1").await
    } else {
        start_app(&center, "app1").await
    };
    (center, app)
}

/// `GET {app}/sensitive` as JSON: status and body.
async fn sensitive_json(browser: &reqwest::Client, app: &TestApp) -> (u16, Value) {
    let response = browser
        .get(format!("{}/sensitive", app.url))
        .header("Accept", "application/json")
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

/// Opens the SDK's sign-in route `url` as a signed-in user; returns the authorization request
/// it sends the browser to at the center.
async fn sign_in_route(browser: &reqwest::Client, center: &Center, url: &str) -> String {
    let login = browser.get(url).send().await.unwrap();
    assert_eq!(
        login.status(),
        302,
        "the signed-in user is sent to the center"
    );
    let authorize = location(&login);
    assert!(
        authorize.starts_with(&format!("{}/authorize?", center.url)),
        "{authorize}"
    );
    authorize
}

/// Opens `/sensitive` as a page and follows the SDK's step-up to the center; returns the
/// center's answer to the authorization request (with `acr_values` asking for two factors).
async fn step_up_at_center(
    browser: &reqwest::Client,
    center: &Center,
    app: &TestApp,
) -> reqwest::Response {
    let page = browser
        .get(format!("{}/sensitive", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 303);
    assert_eq!(location(&page), STEP_UP);
    let authorize = sign_in_route(browser, center, &format!("{}{STEP_UP}", app.url)).await;
    assert!(
        authorize.contains("&acr_values=urn%3Asso%3Aacr%3Amfa"),
        "{authorize}"
    );
    browser.get(authorize).send().await.unwrap()
}

async fn a_password_session_steps_up_with_its_totp_code(app_of: &str) {
    let (center, app) = center_and_app(app_of).await;
    let authenticator = enroll_totp(&center).await;
    let browser = browser();

    let me = sign_in(&browser, &center, &app).await;
    assert_eq!(me["claims"]["acr"], ACR_PASSWORD, "{app_of}");
    assert_eq!(me["claims"]["amr"], serde_json::json!(["pwd"]));
    let (status, refused) = sensitive_json(&browser, &app).await;
    assert_eq!(status, 403, "{app_of}: {refused}");
    assert_eq!(refused["error"], "insufficient_user_authentication");

    let at_center = step_up_at_center(&browser, &center, &app).await;
    assert_eq!(
        at_center.status(),
        303,
        "the center asks for the second step"
    );
    let factor_url = format!("{}{}", center.url, location(&at_center));
    assert!(factor_url.contains("/login/factor?"), "{factor_url}");
    let factor_page = browser.get(&factor_url).send().await.unwrap();
    assert_eq!(factor_page.status(), 200, "a password is not asked again");
    let html = factor_page.text().await.unwrap();
    assert!(!html.contains(r#"name="password""#), "{html}");
    let submitted = browser
        .post(format!("{}/login/factor", center.url))
        .form(&[
            ("csrf_token", hidden(&html, "csrf_token")),
            ("return_to", hidden(&html, "return_to")),
            ("code", authenticator.code_at(now())),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(submitted.status(), 303, "the code is accepted");
    let callback = follow_to_app(&browser, &center, submitted, &app.url).await;
    let landed = deliver_callback(&browser, &callback).await;
    assert_eq!(landed.status(), 303, "{app_of}");
    assert_eq!(
        location(&landed),
        "/sensitive",
        "back to the page asked for"
    );

    let (status, shown) = sensitive_json(&browser, &app).await;
    assert_eq!(status, 200, "{app_of}: {shown}");
    assert_eq!(shown["acr"], ACR_MFA);
    let amr: Vec<&str> = shown["amr"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        amr.contains(&"pwd") && amr.contains(&"otp") && amr.contains(&"mfa"),
        "{amr:?}"
    );
    assert_eq!(shown["sid"], me["sid"], "the same center session, upgraded");
    assert!(shown["auth_time"].as_u64().is_some());
}

#[tokio::test]
async fn a_password_session_steps_up_with_its_totp_code_on_actix() {
    a_password_session_steps_up_with_its_totp_code("actix").await;
}

#[tokio::test]
async fn a_password_session_steps_up_with_its_totp_code_on_axum() {
    a_password_session_steps_up_with_its_totp_code("axum").await;
}

async fn a_user_without_a_second_factor_gets_a_403_page_not_a_loop(app_of: &str) {
    let (center, app) = center_and_app(app_of).await;
    let browser = browser();
    sign_in(&browser, &center, &app).await;

    // Alice has no second factor: the center issues a code with what her session has.
    let at_center = step_up_at_center(&browser, &center, &app).await;
    let callback = follow_to_app(&browser, &center, at_center, &app.url).await;
    let landed = deliver_callback(&browser, &callback).await;
    assert_eq!(landed.status(), 403, "{app_of}");
    assert!(landed.headers().get("location").is_none(), "no redirect");
    let page = landed.text().await.unwrap();
    assert!(page.contains("Second factor required"), "{page}");

    let me = whoami(&browser, &app).await.expect("still signed in");
    assert_eq!(me["claims"]["acr"], ACR_PASSWORD);
    let (status, _) = sensitive_json(&browser, &app).await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn a_user_without_a_second_factor_gets_a_403_page_not_a_loop_on_actix() {
    a_user_without_a_second_factor_gets_a_403_page_not_a_loop("actix").await;
}

#[tokio::test]
async fn a_user_without_a_second_factor_gets_a_403_page_not_a_loop_on_axum() {
    a_user_without_a_second_factor_gets_a_403_page_not_a_loop("axum").await;
}

async fn a_sign_in_asking_for_a_recent_authentication_signs_in_again_and_lands(app_of: &str) {
    let (center, app) = center_and_app(app_of).await;
    let browser = browser();
    let first = sign_in(&browser, &center, &app).await;
    let first_auth = first["claims"]["auth_time"].as_u64().unwrap();
    // Past the second of the first sign-in: `max_age=0` is then unmet.
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;

    let login = format!("{}/auth/login?return_to=%2Fme&max_age=0", app.url);
    let authorize = sign_in_route(&browser, &center, &login).await;
    assert!(authorize.contains("&max_age=0"), "{app_of}: {authorize}");
    let callback = password_at_center(&browser, &center, &authorize, &app.url).await;
    // The SDK checks the new auth_time against max_age (with its clock leeway): the center's
    // fresh authentication passes, and the browser goes where it wanted to.
    let landed = deliver_callback(&browser, &callback).await;
    assert_eq!(landed.status(), 303, "{app_of}");
    assert_eq!(location(&landed), "/me");
    let me = whoami(&browser, &app).await.expect("signed in");
    assert!(
        me["claims"]["auth_time"].as_u64().unwrap() > first_auth,
        "{app_of}: a new authentication: {me}"
    );
}

#[tokio::test]
async fn a_sign_in_asking_for_a_recent_authentication_signs_in_again_and_lands_on_actix() {
    a_sign_in_asking_for_a_recent_authentication_signs_in_again_and_lands("actix").await;
}

#[tokio::test]
async fn a_sign_in_asking_for_a_recent_authentication_signs_in_again_and_lands_on_axum() {
    a_sign_in_asking_for_a_recent_authentication_signs_in_again_and_lands("axum").await;
}
