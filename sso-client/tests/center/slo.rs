//! Single logout: the center's logout tokens end local sessions on every node, and forged,
//! expired, replayed or misdirected tokens are refused.

use std::time::Duration;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::Ed25519KeyPair;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use std::net::SocketAddr;
use std::sync::Mutex;

use session_store::{
    KeyRing, MemoryStore, Peer, RedisConfig, RedisStore, ReplicatedStore, ReplicationConfig,
};
use sso_client::{LocalSessions, Secret};
use sso_server::slo::logout_token::LogoutClaims;

use crate::helpers::*;

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

async fn post_logout_token(app_url: &str, token: &str) -> u16 {
    reqwest::Client::new()
        .post(format!("{app_url}/auth/backchannel-logout"))
        .form(&[("logout_token", token)])
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// A logout token signed with the center's own key, for the session of `me`.
fn center_token(center: &Center, audience: &str, me: &serde_json::Value) -> (LogoutClaims, String) {
    let claims = LogoutClaims::new(
        &center.url,
        audience,
        me["sub"].as_str().unwrap(),
        me["sid"].as_str().unwrap(),
    );
    let token = sign_with_center(center, &claims);
    (claims, token)
}

fn sign_with_center(center: &Center, claims: &LogoutClaims) -> String {
    center
        .state
        .keys
        .sign(Algorithm::RS256, "logout+jwt", claims)
        .unwrap()
}

#[tokio::test]
async fn signing_out_of_one_app_signs_the_user_out_of_every_app_on_every_backend() {
    for backend in Backend::all() {
        eprintln!("backend: {}", backend.name());
        signing_out_of_one_app_signs_the_user_out_of_every_app(&backend).await;
    }
}

async fn signing_out_of_one_app_signs_the_user_out_of_every_app(backend: &Backend) {
    let center = start_center().await;
    let app1 = start_app_on(&center, "app1", backend).await;
    let app2 = start_app_on(&center, "app2", backend).await;
    let browser = browser();
    sign_in(&browser, &center, &app1).await;
    let me2 = sign_in_silently(&browser, &center, &app2).await;

    let response = browser
        .post(format!("{}/auth/logout", app2.url))
        .form(&[("csrf_token", me2["csrf_token"].as_str().unwrap())])
        .send()
        .await
        .unwrap();
    let at_center = browser.get(location(&response)).send().await.unwrap();
    assert!(at_center.status().is_redirection());

    wait_signed_out(&browser, &app1, Duration::from_secs(10)).await;
    assert!(whoami(&browser, &app2).await.is_none());
}

#[tokio::test]
async fn forged_expired_misdirected_and_replayed_logout_tokens_are_refused() {
    let center = start_center().await;
    let app = start_app(&center, "app1").await;
    let browser = browser();
    let me = sign_in(&browser, &center, &app).await;

    let (_, for_app2) = center_token(&center, "app2", &me);
    assert_eq!(
        post_logout_token(&app.url, &for_app2).await,
        400,
        "other audience"
    );

    let (mut expired, _) = center_token(&center, "app1", &me);
    expired.iat -= 3_600;
    expired.exp = expired.iat + 120;
    let expired = sign_with_center(&center, &expired);
    assert_eq!(post_logout_token(&app.url, &expired).await, 400, "expired");

    let (claims, genuine) = center_token(&center, "app1", &me);
    let kid = jsonwebtoken::decode_header(&genuine).unwrap().kid;
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = kid;
    let forged =
        jsonwebtoken::encode(&header, &claims, &EncodingKey::from_ed_der(pkcs8.as_ref())).unwrap();
    assert_eq!(post_logout_token(&app.url, &forged).await, 400, "forged");
    assert_eq!(
        post_logout_token(&app.url, "not-a-jwt").await,
        400,
        "garbage"
    );

    assert!(
        whoami(&browser, &app).await.is_some(),
        "refused tokens end no session"
    );

    assert_eq!(post_logout_token(&app.url, &genuine).await, 200);
    assert!(whoami(&browser, &app).await.is_none());
    assert_eq!(post_logout_token(&app.url, &genuine).await, 400, "replayed");
}

/// Two nodes of one app behind the same URL as far as the center knows: the browser's cookie
/// (same host) reaches both, and the logout token reaches only the second.
async fn two_nodes(center: &Center, sessions: impl Fn() -> LocalSessions) -> (TestApp, TestApp) {
    two_nodes_with(center, sessions, |_| {}).await
}

async fn two_nodes_with(
    center: &Center,
    sessions: impl Fn() -> LocalSessions,
    adjust: impl Fn(&mut sso_client::SsoConfig),
) -> (TestApp, TestApp) {
    let (port_a, port_b) = (reserve_port(), reserve_port());
    let url_a = format!("http://127.0.0.1:{port_a}");
    center.register("app1", &secret_of("app1"), &url_a).await;
    let login_key = KeyRing::generate_key();
    let node = |port| {
        let mut config = config(center, "app1", &url_a);
        config.login_cookie_key = Some(Secret::new(login_key.clone()));
        adjust(&mut config);
        serve(config, sessions(), port)
    };
    (node(port_a), node(port_b))
}

#[tokio::test]
async fn cookie_sessions_are_revoked_on_every_node_sharing_the_revocation_list() {
    let center = start_center().await;
    let revocations = MemoryStore::default();
    let cookie_key = KeyRing::generate_key();
    let (node_a, node_b) = two_nodes(&center, || {
        let ring = KeyRing::new("k1", &cookie_key).unwrap();
        LocalSessions::cookie(ring, revocations.clone())
    })
    .await;
    assert_eq!(node_a.client.session_backend(), "cookie");
    let browser = browser();
    let me = sign_in(&browser, &center, &node_a).await;
    assert!(
        whoami(&browser, &node_b).await.is_some(),
        "node b opens node a's cookie"
    );

    let (_, token) = center_token(&center, "app1", &me);
    assert_eq!(post_logout_token(&node_b.url, &token).await, 200);
    assert!(
        whoami(&browser, &node_a).await.is_none(),
        "revoked on node a too"
    );
    assert!(whoami(&browser, &node_b).await.is_none());
}

#[tokio::test]
async fn a_node_that_missed_the_logout_ends_cookie_sessions_within_the_recheck_interval() {
    let center = start_center().await;
    let cookie_key = KeyRing::generate_key();
    let (node_a, node_b) = two_nodes_with(
        &center,
        || {
            let ring = KeyRing::new("k1", &cookie_key).unwrap();
            LocalSessions::cookie(ring, MemoryStore::default())
        },
        |config| config.session.recheck_secs = 1,
    )
    .await;
    let browser = browser();
    let me = sign_in(&browser, &center, &node_a).await;
    // Node b keeps its own revocation list, so only the re-check can tell it about the end.
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    assert!(
        whoami(&browser, &node_b).await.is_some(),
        "a re-check while the center session lives keeps the session"
    );

    let sid = me["sid"].as_str().unwrap();
    assert!(
        center
            .state
            .sessions
            .end(sid, sso_server::slo::EndReason::AdminKill)
            .await
            .unwrap()
    );
    wait_signed_out(&browser, &node_b, Duration::from_secs(3)).await;
}

#[tokio::test]
async fn redis_sessions_end_on_every_node_sharing_redis() {
    let url = redis_url();
    let center = start_center().await;
    let prefix = format!("sso-client-test-{}:", reserve_port());
    let (node_a, node_b) = two_nodes(&center, || {
        let store = RedisStore::new(RedisConfig::new(url.clone()).with_prefix(prefix.clone()));
        LocalSessions::redis(store.unwrap())
    })
    .await;
    let browser = browser();
    let me = sign_in(&browser, &center, &node_a).await;
    assert!(
        whoami(&browser, &node_b).await.is_some(),
        "one session, two nodes"
    );

    let (_, token) = center_token(&center, "app1", &me);
    assert_eq!(post_logout_token(&node_b.url, &token).await, 200);
    assert!(
        whoami(&browser, &node_a).await.is_none(),
        "deleted for node a too"
    );
    assert_eq!(
        post_logout_token(&node_a.url, &token).await,
        400,
        "a token replayed to another node is refused"
    );
}

#[tokio::test]
async fn replicated_sessions_end_on_every_node_of_the_cluster() {
    let center = start_center().await;
    let addr = |port| SocketAddr::from(([127, 0, 0, 1], port));
    let (port_a, port_b) = (reserve_port(), reserve_port());
    let node_store = |me: &str, port, peer: &str, peer_port| {
        let peers = vec![Peer {
            id: peer.to_owned(),
            addr: addr(peer_port),
        }];
        let secret = b"two-node-replication-secret-0123456789".to_vec();
        let mut config = ReplicationConfig::new(me, addr(port), peers, secret);
        config.acknowledged_writes = true;
        ReplicatedStore::start(config).unwrap()
    };
    let stores = Mutex::new(vec![
        node_store("b", port_b, "a", port_a),
        node_store("a", port_a, "b", port_b),
    ]);
    let (node_a, node_b) = two_nodes(&center, || {
        LocalSessions::replicated(stores.lock().unwrap().pop().unwrap())
    })
    .await;
    assert_eq!(node_a.client.session_backend(), "replicated");
    let browser = browser();
    let me = sign_in(&browser, &center, &node_a).await;
    assert!(
        whoami(&browser, &node_b).await.is_some(),
        "the session replicated to node b before sign-in finished"
    );

    let (_, token) = center_token(&center, "app1", &me);
    assert_eq!(post_logout_token(&node_b.url, &token).await, 200);
    wait_signed_out(&browser, &node_a, Duration::from_secs(3)).await;
    assert!(whoami(&browser, &node_b).await.is_none());
}
