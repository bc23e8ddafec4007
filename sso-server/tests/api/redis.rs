//! The same flows with the Redis store, and two replicas sharing Redis and the database
//! behaving as one center, against the Redis of [`redis_url`].

use serde_json::Value;

use crate::helpers::*;
use crate::receiver::{Receiver, verify_logout_token};

async fn spawn_redis_app(url: &str) -> TestApp {
    let (database, dir) = new_database().await;
    let app = start(
        test_settings(),
        &database,
        dir,
        redis_store(url, &unique_prefix()),
    )
    .await;
    app.seed().await;
    app
}

#[tokio::test]
async fn login_sso_replay_and_slo_work_with_the_redis_store() {
    let url = redis_url();
    let app = spawn_redis_app(&url).await;
    let receiver = Receiver::start().await;
    app.add_client(
        "app2",
        Some(APP2_SECRET),
        APP2_CALLBACK,
        Some(&receiver.uri),
    )
    .await;
    let tokens = app.login_app1("alice").await;
    let sid = sid_of(&tokens);

    let callback = app
        .follow(app.get_authorize(&AuthRequest::app2()).await)
        .await;
    let code = callback.code();
    let first = app
        .exchange("app2", APP2_SECRET, &code, APP2_CALLBACK, Some(VERIFIER))
        .await;
    assert_eq!(first.status(), 200);
    let replay = app
        .exchange("app2", APP2_SECRET, &code, APP2_CALLBACK, Some(VERIFIER))
        .await;
    assert_eq!(replay.status(), 400);

    let response = app.admin_delete(&format!("/admin/sessions/{sid}")).await;
    assert_eq!(response.status(), 200);
    app.wait_for_deliveries(&sid, std::time::Duration::from_secs(10), |d| {
        d.len() == 1 && d[0]["state"] == "delivered"
    })
    .await;
    verify_logout_token(&app, &receiver.received()[0], "app2").await;
    assert_eq!(app.get_authorize(&AuthRequest::app1()).await.status(), 200);
}

#[tokio::test]
async fn two_replicas_sharing_redis_and_the_database_act_as_one_center() {
    let url = redis_url();
    let prefix = unique_prefix();
    two_replicas_act_as_one_center(redis_store(&url, &prefix), redis_store(&url, &prefix)).await;
}

/// Two replicas of the center over one database, each with its handle on a shared store: a
/// code issued by one is redeemed at the other, a code raced at both is redeemed once, and
/// the session's registered clients are the same seen from either.
pub(crate) async fn two_replicas_act_as_one_center(
    store_a: std::sync::Arc<dyn session_store::SharedStore>,
    store_b: std::sync::Arc<dyn session_store::SharedStore>,
) {
    let (database, dir) = new_database().await;
    let a = start(test_settings(), &database, dir, store_a).await;
    a.seed().await;
    let (_, other_dir) = new_database().await;
    let mut b = start(test_settings(), &database, other_dir, store_b).await;
    // One browser: the same cookie jar talks to both replicas.
    b.browser = a.browser.clone();

    let code = a.login(&AuthRequest::app1(), "alice").await.code();
    let tokens = b
        .exchange("app1", APP1_SECRET, &code, APP1_CALLBACK, Some(VERIFIER))
        .await;
    assert_eq!(tokens.status(), 200, "a code from A is redeemed at B");

    let callback = b.follow(b.get_authorize(&AuthRequest::app2()).await).await;
    let code = callback.code();
    let (at_a, at_b) = tokio::join!(
        a.exchange("app2", APP2_SECRET, &code, APP2_CALLBACK, Some(VERIFIER)),
        b.exchange("app2", APP2_SECRET, &code, APP2_CALLBACK, Some(VERIFIER)),
    );
    let mut statuses = [at_a.status().as_u16(), at_b.status().as_u16()];
    statuses.sort_unstable();
    assert_eq!(
        statuses,
        [200, 400],
        "a raced code is redeemed exactly once"
    );

    let sessions: Value = b
        .admin_get("/admin/users/alice/sessions")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        sessions["sessions"][0]["clients"],
        serde_json::json!(["app1", "app2"])
    );
}
