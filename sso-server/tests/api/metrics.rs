//! The metrics endpoint: scraped on its own listener after some traffic and parsed with a
//! Prometheus text parser. Every test binary shares one recorder, and other tests run at the
//! same time, so the assertions are about series moving by at least what this test did.

use std::time::Duration;

use sso_common::scrape::Figures;

use crate::helpers::{APP1_CALLBACK, APP1_SECRET, AuthRequest, VERIFIER, spawn_app_with};

#[tokio::test]
async fn the_metrics_endpoint_counts_sign_ins_codes_sessions_and_requests() {
    let app = spawn_app_with(|settings| {
        settings.metrics.listen = Some("127.0.0.1:0".to_owned());
        settings.login.max_failures_per_user = 2;
    })
    .await;
    let port = app.metrics_port.expect("metrics.listen is set");
    let public = app.api.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(public.status(), 404, "metrics stay off the public port");
    let before = Figures::scrape(port).await;

    // A wrong password, an unknown user, then bob's budget runs out.
    for username in ["bob", "nobody", "bob", "bob", "bob"] {
        let page = app.get_authorize(&AuthRequest::app1()).await;
        let page = page.text().await.unwrap();
        let response = app.submit_login(&page, username, "not the password").await;
        assert!(
            [401, 429].contains(&response.status().as_u16()),
            "{}",
            response.status()
        );
    }
    let tokens = app.login_app1("alice").await;
    let sid = crate::helpers::sid_of(&tokens);
    // Signed in already: a second code without a password, then the same code again.
    let callback = app
        .follow(app.get_authorize(&AuthRequest::app1()).await)
        .await;
    let code = callback.code();
    let first = app
        .exchange("app1", APP1_SECRET, &code, APP1_CALLBACK, Some(VERIFIER))
        .await;
    assert_eq!(first.status(), 200);
    let replay = app
        .exchange("app1", APP1_SECRET, &code, APP1_CALLBACK, Some(VERIFIER))
        .await;
    assert_eq!(replay.status(), 400);
    let killed = app.admin_delete(&format!("/admin/sessions/{sid}")).await;
    assert_eq!(killed.status(), 200);
    let unknown = app
        .api
        .get(app.url("/no/such/path/12345"))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);

    let after = Figures::scrape(port).await;
    let moved = |metric: &str, labels: &[(&str, &str)], by: f64| {
        after.assert_moved(&before, metric, labels, by);
    };
    let sign_ins = "sso_sign_ins_total";
    moved(sign_ins, &[("outcome", "success")], 1.0);
    moved(sign_ins, &[("outcome", "wrong_password")], 3.0);
    moved(sign_ins, &[("outcome", "limited")], 1.0);
    moved("sso_global_sessions_started_total", &[], 1.0);
    moved(
        "sso_global_sessions_ended_total",
        &[("reason", "admin_kill")],
        1.0,
    );
    moved(
        "sso_authorization_codes_total",
        &[("outcome", "issued")],
        2.0,
    );
    moved(
        "sso_authorization_codes_total",
        &[("outcome", "exchanged")],
        2.0,
    );
    moved(
        "sso_authorization_codes_total",
        &[("outcome", "refused")],
        1.0,
    );
    moved("sso_signatures_total", &[("algorithm", "RS256")], 2.0);
    moved(
        "sso_http_requests_total",
        &[("route", "/login"), ("method", "POST"), ("status", "401")],
        3.0,
    );
    moved(
        "sso_http_requests_total",
        &[("route", "/login"), ("method", "POST"), ("status", "429")],
        1.0,
    );
    moved(
        "sso_http_requests_total",
        &[("route", "/token"), ("status", "200")],
        2.0,
    );
    moved(
        "sso_http_requests_total",
        &[("route", "unmatched"), ("status", "404")],
        1.0,
    );

    let grew = |metric: &str, labels: &[(&str, &str)], by: f64| {
        after.assert_observed(&before, metric, labels, by);
    };
    grew(
        "sso_password_hash_duration_seconds",
        &[("operation", "verify")],
        5.0,
    );
    grew(
        "sso_http_request_duration_seconds",
        &[("route", "/authorize"), ("method", "GET")],
        2.0,
    );
    grew(
        "sso_store_operation_duration_seconds",
        &[("backend", "memory"), ("operation", "take")],
        3.0,
    );
    grew(
        "sso_store_operation_duration_seconds",
        &[("backend", "memory"), ("operation", "create")],
        1.0,
    );

    let routes = after.label_values("sso_http_requests_total", "route");
    assert!(
        routes.iter().all(|route| !route.contains("12345")),
        "raw paths must not become labels: {routes:?}"
    );
}

#[tokio::test]
async fn the_outbox_gauges_and_delivery_outcomes_follow_a_failing_logout() {
    let app = spawn_app_with(|settings| {
        settings.metrics.listen = Some("127.0.0.1:0".to_owned());
        settings.slo.max_attempts = 2;
        settings.slo.initial_backoff_ms = 1_000;
    })
    .await;
    let port = app.metrics_port.expect("metrics.listen is set");
    // Nothing listens on port 9: every delivery fails.
    app.add_client(
        "dead",
        Some("dead-secret-0123456789abcdef"),
        "http://dead.localhost:9/cb",
        Some("http://127.0.0.1:9/logout"),
    )
    .await;
    let before = Figures::scrape(port).await;
    let request = AuthRequest::new("dead", "http://dead.localhost:9/cb");
    let callback = app.login(&request, "alice").await;
    let tokens: serde_json::Value = app
        .exchange(
            "dead",
            "dead-secret-0123456789abcdef",
            &callback.code(),
            "http://dead.localhost:9/cb",
            Some(VERIFIER),
        )
        .await
        .json()
        .await
        .unwrap();
    let sid = crate::helpers::sid_of(&tokens);
    let killed = app.admin_delete(&format!("/admin/sessions/{sid}")).await;
    assert_eq!(killed.status(), 200);

    // The first attempt fails and is retried; the outbox holds it meanwhile.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let mut saw_pending = false;
    loop {
        let now = Figures::scrape(port).await;
        let retried = now.value("sso_slo_deliveries_total", &[("outcome", "retrying")])
            - before.value("sso_slo_deliveries_total", &[("outcome", "retrying")]);
        let gave_up = now.value("sso_slo_deliveries_total", &[("outcome", "gave_up")])
            - before.value("sso_slo_deliveries_total", &[("outcome", "gave_up")]);
        if retried >= 1.0 && gave_up >= 1.0 {
            break;
        }
        if retried >= 1.0 && gave_up < 1.0 {
            // The gauges are the process's, set by every center of this test binary: the
            // figure they show is checked at its source, the series by its presence.
            let (pending, oldest) = app.state.outbox.backlog().await.unwrap();
            if pending == 1 {
                assert!(oldest > Duration::ZERO);
                assert!(now.matching("sso_slo_outbox_pending", &[]).next().is_some());
                assert!(
                    now.matching("sso_slo_outbox_oldest_age_seconds", &[])
                        .next()
                        .is_some()
                );
                saw_pending = true;
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the deliveries were not counted: retried {retried}, gave up {gave_up}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(saw_pending, "the retried delivery was never seen pending");
    let (pending, _) = app.state.outbox.backlog().await.unwrap();
    assert_eq!(pending, 0, "a delivery given up is no longer pending");
}
