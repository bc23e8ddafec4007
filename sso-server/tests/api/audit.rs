//! The audit trail: what is recorded, how the admin API pages through it, and the sweeper.

use std::time::Duration;

use serde_json::Value;
use sso_server::audit::{AuditLog, Entry, Event};

use crate::helpers::*;

async fn events(app: &TestApp, query: &str) -> Value {
    let response = app.admin_get(&format!("/admin/audit?{query}")).await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

fn names(page: &Value) -> Vec<String> {
    page["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| event["event"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn sign_ins_sign_outs_and_admin_actions_are_recorded_without_secrets() {
    let app = spawn_app().await;
    let page = app
        .get_authorize(&AuthRequest::app1())
        .await
        .text()
        .await
        .unwrap();
    let wrong = app
        .submit_login(&page, "alice", "not-her-password-at-all")
        .await;
    assert_eq!(wrong.status(), 401);
    let me = app.login_app1("alice").await;
    let sid = sid_of(&me);
    assert_eq!(
        app.admin_delete(&format!("/admin/sessions/{sid}"))
            .await
            .status(),
        200
    );

    let page = events(&app, "username=alice").await;
    assert_eq!(
        names(&page),
        ["session_ended", "sign_in_succeeded", "sign_in_failed"],
        "{page}"
    );
    let events_of = |name: &str| -> Value {
        page["events"]
            .as_array()
            .unwrap()
            .iter()
            .find(|event| event["event"] == name)
            .cloned()
            .unwrap()
    };
    let failed = events_of("sign_in_failed");
    assert_eq!(failed["detail"]["reason"], "wrong_password");
    assert_eq!(failed["client_id"], "app1");
    assert!(failed["ip"].as_str().is_some_and(|ip| !ip.is_empty()));
    let ended = events_of("session_ended");
    assert_eq!(ended["detail"]["reason"], "admin_kill");
    assert_eq!(ended["detail"]["sid"], sid.as_str());
    assert_eq!(
        events_of("sign_in_succeeded")["detail"]["sid"],
        sid.as_str()
    );

    let kills = events(&app, "event=admin_action").await;
    assert_eq!(kills["events"][0]["detail"]["action"], "end_session");
    assert_eq!(kills["events"][0]["actor"], "admin-api");

    let everything = app
        .admin_get("/admin/audit?limit=500")
        .await
        .text()
        .await
        .unwrap();
    for secret in [
        "not-her-password-at-all",
        PASSWORD,
        ADMIN_TOKEN,
        APP1_SECRET,
    ] {
        assert!(!everything.contains(secret), "the trail holds a secret");
    }
}

#[tokio::test]
async fn the_trail_pages_newest_first_and_filters_by_time() {
    let app = spawn_app().await;
    for n in 0..5 {
        let entry = Entry::new(Event::AdminAction).actor("test").with("n", n);
        app.state.audit.record(entry).await;
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let first = events(&app, "event=admin_action&limit=2").await;
    let ns = |page: &Value| -> Vec<i64> {
        page["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|event| event["detail"]["n"].as_i64().unwrap())
            .collect()
    };
    assert_eq!(ns(&first), [4, 3]);
    let next = first["next"].as_str().unwrap();
    let second = events(&app, &format!("event=admin_action&limit=2&after={next}")).await;
    assert_eq!(ns(&second), [2, 1]);
    let next = second["next"].as_str().unwrap();
    let last = events(&app, &format!("event=admin_action&limit=2&after={next}")).await;
    assert_eq!(ns(&last), [0]);
    assert!(last["next"].is_null());

    let newest = first["events"][0]["at_ms"].as_i64().unwrap();
    let since = events(&app, &format!("event=admin_action&since={newest}")).await;
    assert_eq!(ns(&since), [4]);
    let until = events(&app, &format!("event=admin_action&until={newest}")).await;
    assert_eq!(ns(&until), [3, 2, 1, 0]);
}

#[tokio::test]
async fn malformed_queries_get_400_with_a_json_error() {
    let app = spawn_app().await;
    for query in [
        "event=drop_table",
        "limit=0",
        "limit=501",
        "after=nonsense",
        "since=yesterday",
        "colour=blue",
    ] {
        let response = app.admin_get(&format!("/admin/audit?{query}")).await;
        assert_eq!(response.status(), 400, "{query}");
        let body: Value = response.json().await.unwrap();
        assert!(body["error"].is_string(), "{query}: {body}");
    }
}

#[tokio::test]
async fn events_past_their_retention_are_swept() {
    let app = spawn_app().await;
    app.state
        .audit
        .record(Entry::new(Event::AdminAction).actor("test"))
        .await;
    let short = AuditLog::new(app.state.pool.clone(), Duration::from_millis(1));
    tokio::time::sleep(Duration::from_millis(5)).await;
    assert_eq!(short.sweep().await.unwrap(), 1);
    let page = events(&app, "").await;
    assert!(page["events"].as_array().unwrap().is_empty());
    assert_eq!(
        app.state.audit.sweep().await.unwrap(),
        0,
        "nothing is 90 days old"
    );
}
