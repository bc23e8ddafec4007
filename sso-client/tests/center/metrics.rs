//! The SDK's series, recorded into the process's recorder and scraped from an endpoint the
//! test serves as an app would (`sso_common::metrics::serve`). Other tests of this binary
//! record at the same time, so the assertions are about series moving by at least what each
//! test did.

use jsonwebtoken::Algorithm;
use session_store::MemoryStore;
use sso_client::{LocalSessions, Secret, SsoConfig};
use sso_common::scrape::Figures;
use sso_server::slo::logout_token::LogoutClaims;

use crate::helpers::*;

/// Serves the process's metrics on a free port; returns the port.
fn metrics_endpoint() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(sso_common::metrics::serve(listener).unwrap());
    port
}

#[tokio::test]
async fn a_center_that_does_not_answer_shows_as_failed_calls_and_an_opened_circuit() {
    let metrics = metrics_endpoint();
    let before = Figures::scrape(metrics).await;
    let port = reserve_port();
    let mut config = SsoConfig::new(
        format!("http://127.0.0.1:{}", reserve_port()),
        "app1",
        Secret::new(secret_of("app1")),
        format!("http://127.0.0.1:{port}").parse().unwrap(),
    );
    config.center.failure_threshold = 1;
    config.center.open_secs = 60;
    let app = serve(config, LocalSessions::memory(MemoryStore::default()), port);

    for _ in 0..2 {
        let page = browser()
            .get(format!("{}/me", app.url))
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 503, "no sign-in while the center is down");
    }

    let after = Figures::scrape(metrics).await;
    let calls = "sso_client_center_requests_total";
    let discovery = |outcome| [("endpoint", "discovery"), ("outcome", outcome)];
    after.assert_moved(&before, calls, &discovery("unavailable"), 1.0);
    after.assert_moved(&before, calls, &discovery("circuit_open"), 1.0);
    after.assert_moved(&before, "sso_client_center_circuit_opened_total", &[], 1.0);
    after.assert_observed(
        &before,
        "sso_client_center_request_duration_seconds",
        &[("endpoint", "discovery")],
        1.0,
    );
    assert!(
        after
            .matching("sso_client_center_circuit_state", &[])
            .next()
            .is_some()
    );
}

#[tokio::test]
async fn logout_tokens_are_counted_accepted_then_replayed_and_the_sessions_they_end() {
    let metrics = metrics_endpoint();
    let center = start_center().await;
    let app = start_app(&center, "app1").await;
    let browser = browser();
    let me = sign_in(&browser, &center, &app).await;
    let before = Figures::scrape(metrics).await;

    let claims = LogoutClaims::new(
        &center.url,
        "app1",
        me["sub"].as_str().unwrap(),
        me["sid"].as_str().unwrap(),
    );
    let token = center
        .state
        .keys
        .sign(Algorithm::RS256, "logout+jwt", &claims)
        .unwrap();
    for expected in [200, 400] {
        let answer = reqwest::Client::new()
            .post(format!("{}/auth/backchannel-logout", app.url))
            .form(&[("logout_token", &token)])
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), expected);
    }
    assert!(whoami(&browser, &app).await.is_none());

    let after = Figures::scrape(metrics).await;
    let tokens = "sso_client_logout_tokens_total";
    after.assert_moved(&before, tokens, &[("outcome", "accepted")], 1.0);
    after.assert_moved(&before, tokens, &[("outcome", "replayed")], 1.0);
    after.assert_moved(&before, "sso_client_slo_sessions_ended_total", &[], 1.0);
    let store = "sso_client_store_operation_duration_seconds";
    let memory = |operation| [("backend", "memory"), ("operation", operation)];
    after.assert_observed(&before, store, &memory("delete_by_tag"), 1.0);
    after.assert_observed(&before, store, &memory("increment"), 2.0);
}
