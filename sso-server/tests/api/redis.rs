//! The same flows with the Redis store, and two replicas sharing Redis and the database
//! behaving as one center, against the Redis of [`redis_url`].

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use session_store::{RedisConfig, RedisStore};

use crate::helpers::*;
use crate::receiver::{Receiver, reserve_port, verify_logout_token};

/// A Redis server of this test's own (`REDIS_SERVER_BIN`, or `redis-server` on the path), so
/// that it can be paused without disturbing the other tests.
struct OwnRedis {
    child: Child,
    port: u16,
}

impl OwnRedis {
    fn start() -> Self {
        let port = reserve_port();
        let binary = std::env::var("REDIS_SERVER_BIN").unwrap_or_else(|_| "redis-server".into());
        let child = Command::new(binary)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server must be installed (scripts/test.sh installs it)");
        let redis = Self { child, port };
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while !redis.answers_ping() {
            assert!(std::time::Instant::now() < deadline, "redis did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        redis
    }

    fn answers_ping(&self) -> bool {
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
        let mut reply = [0u8; 7];
        stream.write_all(b"PING\r\n").is_ok()
            && stream.read_exact(&mut reply).is_ok()
            && reply == *b"+PONG\r\n"
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Sends `signal` (`STOP` or `CONT`) to the server.
    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([format!("-{signal}"), self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

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

#[tokio::test]
async fn an_admin_kill_completes_while_the_store_hangs_and_what_it_left_is_refused_later() {
    let redis = OwnRedis::start();
    let store =
        RedisStore::new(RedisConfig::new(redis.url()).with_timeout(Duration::from_millis(300)))
            .unwrap();
    let (database, dir) = new_database().await;
    let app = start(test_settings(), &database, dir, Arc::new(store)).await;
    app.seed().await;
    let receiver = Receiver::for_app1(&app).await;
    let tokens = app.login_app1("alice").await;
    let sid = sid_of(&tokens);

    redis.signal("STOP");
    let killed = app.admin_delete(&format!("/admin/sessions/{sid}")).await;
    let status = killed.status();
    redis.signal("CONT");
    assert_eq!(status, 200, "the session ends in the registry all the same");
    app.wait_for_deliveries(&sid, Duration::from_secs(10), |deliveries| {
        deliveries.len() == 1 && deliveries[0]["state"] == "delivered"
    })
    .await;
    verify_logout_token(&app, &receiver.received()[0], "app1").await;

    // The session's records outlived the kill in Redis; neither still signs anyone in.
    let page = app.get_authorize(&AuthRequest::app1()).await;
    assert_eq!(page.status(), 200, "the login form, not a silent sign-in");
    let userinfo = app.userinfo(tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(userinfo.status(), 401);
}
