//! The demo app on axum over HTTP, started on a free port like its `main` starts it, with the
//! center down (its port is closed); the full sign-in and single logout run in the browser
//! tests (`e2e`).

use reqwest::StatusCode;
use reqwest::redirect::Policy;
use sso_common::scrape::Figures;
use subsystem_demo::axum_app::AxumApplication;
use subsystem_demo::{Layered as _, Settings};

async fn spawn() -> String {
    spawn_with(&[]).await.0
}

/// The app with the `extra` settings; returns its URL and metrics port, if any.
async fn spawn_with(extra: &[(&str, &str)]) -> (String, Option<u16>) {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let issuer = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let base = [
        ("DEMO_APP_NAME", "axum"),
        ("DEMO_APP_HTTP__PORT", "0"),
        ("DEMO_APP_SSO__ISSUER", issuer.as_str()),
        ("DEMO_APP_SSO__CLIENT_SECRET", "test-secret"),
    ];
    let env: Vec<(String, String)> = base
        .iter()
        .chain(extra)
        .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
        .collect();
    let settings = Settings::load_from(None, env).unwrap();
    let app = AxumApplication::build(settings).unwrap();
    let address = format!("http://127.0.0.1:{}", app.port());
    let metrics = app.metrics_port();
    tokio::spawn(app.run_until_stopped());
    (address, metrics)
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap()
}

#[tokio::test]
async fn the_home_page_offers_anonymous_visitors_a_sign_in_under_a_strict_policy() {
    let base = spawn().await;
    let response = http().get(format!("{base}/")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let csp = response.headers()["content-security-policy"]
        .to_str()
        .unwrap();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(
        csp.contains("form-action 'self' http://127.0.0.1:"),
        "{csp}"
    );
    assert_eq!(response.headers()["x-frame-options"], "DENY");
    let body = response.text().await.unwrap();
    assert!(body.contains("Welcome to axum"), "{body}");
    assert!(body.contains(r#"href="/auth/login?return_to=%2Fprofile""#));
    assert!(
        !body.contains("Sign out"),
        "no sign-out form for anonymous visitors"
    );
}

#[tokio::test]
async fn the_profile_needs_a_sign_in_which_is_unavailable_while_the_center_is_down() {
    let base = spawn().await;
    let page = http().get(format!("{base}/profile")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        page.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .starts_with("default-src 'none'"),
        "the SDK's page keeps its own policy"
    );
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("Sign-in service unavailable")
    );

    let api = http()
        .get(format!("{base}/profile"))
        .header("Accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), StatusCode::UNAUTHORIZED);

    let health = http().get(format!("{base}/health")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK, "a public path");
}

#[tokio::test]
async fn the_metrics_endpoint_shows_the_failed_calls_to_a_center_that_is_down() {
    let (base, metrics) = spawn_with(&[("DEMO_APP_METRICS__LISTEN", "127.0.0.1:0")]).await;
    let metrics = metrics.expect("metrics.listen is set");
    let before = Figures::scrape(metrics).await;
    let response = http().get(format!("{base}/profile")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);

    let after = Figures::scrape(metrics).await;
    after.assert_moved(
        &before,
        "sso_client_center_requests_total",
        &[("endpoint", "discovery"), ("outcome", "unavailable")],
        1.0,
    );
    let text = reqwest::get(format!("http://127.0.0.1:{metrics}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains("# HELP sso_client_center_requests_total"),
        "the series are described"
    );
}
