//! The demo app's metrics endpoint (`metrics.listen`): app1 and app2 against the real center,
//! a sign-in, a silent sign-in, a refused callback, a forged logout token and a single logout,
//! then the SDK's series scraped from app1's endpoint and parsed with a Prometheus text
//! parser. Other tests of this binary share the process's recorder, so the assertions are
//! about series moving by at least what this test did.

mod support;

use std::time::Duration;

use reqwest::redirect::Policy;
use sso_common::html::hidden_input;
use sso_common::scrape::Figures;
use sso_server::clients::{NewClient, TokenPolicy};
use sso_server::domain::{ClientId, RedirectUri, Username};
use sso_server::state::AppState;
use sso_server::users::{NewUser, Password};
use subsystem_demo::{Application, Layered as _, Settings as DemoSettings};

use crate::support::free_port;

const PASSWORD: &str = "correct horse battery staple";

fn secret_of(id: &str) -> String {
    format!("{id}-secret-0123456789abcdef")
}

/// The real center with user `alice`, delivering logout tokens quickly; returns its URL and
/// keeps its database in `dir`.
async fn start_center(dir: &tempfile::TempDir) -> (String, AppState) {
    let (url, state) = support::start_center(dir, |settings| {
        settings.slo.poll_interval_ms = 50;
    })
    .await;
    let hash = state.hasher.hash(Password::new(PASSWORD)).await.unwrap();
    let alice = NewUser {
        username: Username::parse("alice").unwrap(),
        name: "Alice Liddell".to_owned(),
        email: "alice@example.test".to_owned(),
    };
    state.users.add(alice, hash).await.unwrap();
    (url, state)
}

/// A demo app registered as client `id` of the center at `issuer`, serving its metrics on a
/// free port; returns its URL and metrics port.
async fn start_app(id: &str, issuer: &str, state: &AppState) -> (String, u16) {
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let uri = |path: &str| RedirectUri::parse(&format!("{url}{path}")).unwrap();
    state
        .clients
        .upsert(NewClient {
            id: ClientId::parse(id).unwrap(),
            name: id.to_owned(),
            secret: Some(secret_of(id)),
            redirect_uris: vec![uri("/auth/callback")],
            post_logout_redirect_uris: vec![uri("/")],
            backchannel_logout_uri: Some(uri("/auth/backchannel-logout")),
            id_token_alg: jsonwebtoken::Algorithm::RS256,
            tokens: TokenPolicy::default(),
        })
        .await
        .unwrap();
    let env = [
        ("DEMO_APP_NAME", id),
        ("DEMO_APP_HTTP__PORT", &port.to_string()),
        ("DEMO_APP_HTTP__PUBLIC_URL", &url),
        ("DEMO_APP_SSO__ISSUER", issuer),
        ("DEMO_APP_SSO__CLIENT_SECRET", &secret_of(id)),
        ("DEMO_APP_SSO__COOKIE_SECURE", "false"),
        ("DEMO_APP_METRICS__LISTEN", "127.0.0.1:0"),
    ]
    .map(|(key, value)| (key.to_owned(), value.to_owned()));
    let settings = DemoSettings::load_from(None, env.to_vec()).unwrap();
    let app = Application::build(settings).unwrap();
    let metrics = app.metrics_port().expect("metrics.listen is set");
    tokio::spawn(app.run_until_stopped());
    (url, metrics)
}

fn location(response: &reqwest::Response) -> String {
    response.headers()["location"].to_str().unwrap().to_owned()
}

/// Follows redirects from `response` until one leads into `app`; returns the app's callback.
async fn follow_to(
    browser: &reqwest::Client,
    center: &str,
    app: &str,
    mut response: reqwest::Response,
) -> String {
    loop {
        assert!(response.status().is_redirection(), "{}", response.status());
        let target = location(&response);
        if target.starts_with(app) {
            return target;
        }
        let next = if target.starts_with('/') {
            format!("{center}{target}")
        } else {
            target
        };
        response = browser.get(next).send().await.unwrap();
    }
}

/// Opens `app`'s profile and signs in, with the password on the center's form when
/// `password` is set and silently otherwise; returns the profile page.
async fn sign_in(browser: &reqwest::Client, center: &str, app: &str, password: bool) -> String {
    let start = browser.get(format!("{app}/profile")).send().await.unwrap();
    assert_eq!(
        start.status(),
        302,
        "the profile sends the browser to the center"
    );
    let at_center = browser.get(location(&start)).send().await.unwrap();
    let after_login = if password {
        let html = at_center.text().await.unwrap();
        let field = |name| hidden_input(&html, name).expect("a login form");
        browser
            .post(format!("{center}/login"))
            .form(&[
                ("csrf_token", field("csrf_token")),
                ("return_to", field("return_to")),
                ("username", "alice".to_owned()),
                ("password", PASSWORD.to_owned()),
            ])
            .send()
            .await
            .unwrap()
    } else {
        at_center
    };
    let callback = follow_to(browser, center, app, after_login).await;
    let landed = browser.get(callback).send().await.unwrap();
    assert_eq!(landed.status(), 303, "the callback signs in");
    let profile = browser.get(format!("{app}/profile")).send().await.unwrap();
    assert_eq!(profile.status(), 200);
    profile.text().await.unwrap()
}

#[tokio::test]
async fn the_metrics_endpoint_counts_sign_ins_and_single_logout() {
    let dir = tempfile::tempdir().unwrap();
    let (center, state) = start_center(&dir).await;
    let (app1, metrics) = start_app("app1", &center, &state).await;
    let (app2, _) = start_app("app2", &center, &state).await;
    let public = reqwest::get(format!("{app1}/metrics")).await.unwrap();
    let body = public.text().await.unwrap();
    assert!(!body.contains("# TYPE"), "metrics stay off the public port");
    let before = Figures::scrape(metrics).await;

    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(Policy::none())
        .build()
        .unwrap();
    sign_in(&browser, &center, &app1, true).await;
    let profile = sign_in(&browser, &center, &app2, false).await;

    // A callback this browser did not start, and a logout token nobody signed.
    let stray = browser
        .get(format!("{app1}/auth/callback?code=c&state=not-ours"))
        .send()
        .await
        .unwrap();
    assert_eq!(stray.status(), 400);
    let forged = reqwest::Client::new()
        .post(format!("{app1}/auth/backchannel-logout"))
        .form(&[("logout_token", "eyJhbGciOiJSUzI1NiJ9.e30.c2ln")])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 400);

    // Signing out of app2 signs alice out of app1 through a logout token.
    let csrf = hidden_input(&profile, "csrf_token").expect("a sign-out form");
    let signed_out = browser
        .post(format!("{app2}/auth/logout"))
        .form(&[("csrf_token", csrf)])
        .send()
        .await
        .unwrap();
    assert_eq!(signed_out.status(), 303);
    let at_center = browser.get(location(&signed_out)).send().await.unwrap();
    assert!(
        at_center.status().is_redirection(),
        "{}",
        at_center.status()
    );

    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let after = loop {
        let now = Figures::scrape(metrics).await;
        let ended = now.value("sso_client_slo_sessions_ended_total", &[])
            - before.value("sso_client_slo_sessions_ended_total", &[]);
        if ended >= 1.0 {
            break now;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no local session was ended by single logout"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let moved = |metric: &str, labels: &[(&str, &str)], by: f64| {
        after.assert_moved(&before, metric, labels, by);
    };
    moved("sso_client_sign_ins_total", &[], 2.0);
    moved(
        "sso_client_callbacks_refused_total",
        &[("reason", "invalid_state")],
        1.0,
    );
    moved("sso_client_sign_outs_total", &[], 1.0);
    moved(
        "sso_client_logout_tokens_total",
        &[("outcome", "accepted")],
        1.0,
    );
    moved(
        "sso_client_logout_tokens_total",
        &[("outcome", "invalid")],
        1.0,
    );
    let calls = "sso_client_center_requests_total";
    moved(calls, &[("endpoint", "token"), ("outcome", "ok")], 2.0);
    moved(calls, &[("endpoint", "discovery"), ("outcome", "ok")], 1.0);
    moved(calls, &[("endpoint", "jwks"), ("outcome", "ok")], 1.0);

    let grew = |metric: &str, labels: &[(&str, &str)], by: f64| {
        after.assert_observed(&before, metric, labels, by);
    };
    grew(
        "sso_client_center_request_duration_seconds",
        &[("endpoint", "token")],
        2.0,
    );
    let store = "sso_client_store_operation_duration_seconds";
    grew(
        store,
        &[("backend", "memory"), ("operation", "create")],
        2.0,
    );
    grew(
        store,
        &[("backend", "memory"), ("operation", "delete_by_tag")],
        1.0,
    );
    grew(
        store,
        &[("backend", "memory"), ("operation", "increment")],
        1.0,
    );
    assert!(
        after.observations(store, &[("operation", "load")])
            <= before.observations(store, &[("operation", "load")]) + 2.0,
        "the per-request session read is not timed (only sign-out's read is)"
    );
    assert!(
        after
            .matching("sso_client_center_circuit_state", &[])
            .next()
            .is_some(),
        "the breaker's state is shown"
    );
}
