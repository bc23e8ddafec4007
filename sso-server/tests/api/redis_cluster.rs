//! The center on a Redis Cluster configured as an operator would (`store.cluster_nodes`, built
//! by `build_store`): sign-in, single sign-on, a replayed code refused, single logout delivered,
//! and two replicas sharing the cluster acting as one center. Against the cluster of
//! `REDIS_CLUSTER_NODES` (scripts/test.sh starts one); without it the tests say they are skipped.

use sso_server::config::{Secret, Settings, StoreBackend};
use sso_server::startup::build_store;

use crate::helpers::*;
use crate::receiver::{Receiver, verify_logout_token};
use crate::redis::two_replicas_act_as_one_center;

const SKIPPED: &str =
    "skipped: REDIS_CLUSTER_NODES is not set (scripts/test.sh starts a Redis Cluster and sets it)";

/// The test settings with the Redis Cluster store under a prefix of the test's own, if the
/// environment has a cluster.
fn cluster_settings() -> Option<Settings> {
    let nodes = std::env::var("REDIS_CLUSTER_NODES").ok()?;
    let mut settings = test_settings();
    settings.store.backend = StoreBackend::Redis;
    settings.store.cluster_nodes = nodes
        .split(',')
        .filter(|node| !node.trim().is_empty())
        .map(|node| Secret::new(node.trim()))
        .collect();
    settings.store.prefix = unique_prefix();
    (!settings.store.cluster_nodes.is_empty()).then_some(settings)
}

#[tokio::test]
async fn login_sso_replay_and_slo_work_on_a_redis_cluster() {
    let Some(settings) = cluster_settings() else {
        eprintln!("{SKIPPED}");
        return;
    };
    let store = build_store(&settings).unwrap();
    let (database, dir) = new_database().await;
    let app = start(settings, &database, dir, store).await;
    app.seed().await;
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
    assert_eq!(
        first.status(),
        200,
        "single sign-on to app2 without a password"
    );
    let replay = app
        .exchange("app2", APP2_SECRET, &code, APP2_CALLBACK, Some(VERIFIER))
        .await;
    assert_eq!(replay.status(), 400, "a code is taken once");

    let response = app.admin_delete(&format!("/admin/sessions/{sid}")).await;
    assert_eq!(response.status(), 200);
    app.wait_for_deliveries(&sid, std::time::Duration::from_secs(10), |d| {
        d.len() == 1 && d[0]["state"] == "delivered"
    })
    .await;
    verify_logout_token(&app, &receiver.received()[0], "app2").await;
    assert_eq!(
        app.get_authorize(&AuthRequest::app1()).await.status(),
        200,
        "after the logout app1 gets the login page again"
    );
}

#[tokio::test]
async fn two_replicas_sharing_a_redis_cluster_act_as_one_center() {
    let Some(settings) = cluster_settings() else {
        eprintln!("{SKIPPED}");
        return;
    };
    two_replicas_act_as_one_center(
        build_store(&settings).unwrap(),
        build_store(&settings).unwrap(),
    )
    .await;
}
