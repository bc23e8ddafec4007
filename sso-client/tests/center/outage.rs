//! The center becoming unreachable after the apps have talked to it. The apps reach the real
//! center through a TCP link the test can cut: first it refuses connections, then it accepts
//! them and never answers (a hung center), which is what timeouts and the circuit breaker are
//! for.

use std::time::{Duration, Instant};

use session_store::MemoryStore;
use sso_client::LocalSessions;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::helpers::*;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Link {
    Up,
    /// Accepts connections and never answers.
    Hung,
}

/// A TCP link on a free port forwarding to `target`; changing its state drops every open
/// connection.
async fn link_to(target: u16) -> (u16, watch::Sender<Link>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (state, watcher) = watch::channel(Link::Up);
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            let mut changes = watcher.clone();
            let link = *changes.borrow_and_update();
            tokio::spawn(async move {
                if link == Link::Up {
                    let mut outbound = TcpStream::connect(("127.0.0.1", target)).await.unwrap();
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = changes.changed() => {}
                    }
                } else {
                    let _ = changes.changed().await;
                }
            });
        }
    });
    (port, state)
}

#[tokio::test]
async fn a_hung_center_leaves_signed_in_users_working_and_fails_new_sign_ins_fast() {
    let center_port = reserve_port();
    let (link_port, link) = link_to(center_port).await;
    let center = start_center_at(center_port, &format!("http://127.0.0.1:{link_port}")).await;
    let port = reserve_port();
    let url = format!("http://127.0.0.1:{port}");
    center.register("app1", &secret_of("app1"), &url).await;
    let mut config = config(&center, "app1", &url);
    config.center.request_timeout_ms = 700;
    config.center.failure_threshold = 2;
    config.center.open_secs = 60;
    config.center.metadata_ttl_secs = 0;
    let app = serve(config, LocalSessions::memory(MemoryStore::default()), port);
    let alice = browser();
    sign_in(&alice, &center, &app).await;

    link.send(Link::Hung).unwrap();

    assert!(
        whoami(&alice, &app).await.is_some(),
        "signed-in users keep working"
    );
    let newcomer = browser();
    let mut timings = Vec::new();
    for _ in 0..3 {
        let started = Instant::now();
        let response = newcomer
            .get(format!("{}/me", app.url))
            .send()
            .await
            .unwrap();
        timings.push(started.elapsed());
        assert_eq!(response.status(), 503);
        assert!(
            response
                .text()
                .await
                .unwrap()
                .contains("Sign-in service unavailable")
        );
    }
    assert!(
        timings[..2].iter().all(|t| *t < Duration::from_secs(3)),
        "calls to a hung center time out: {timings:?}"
    );
    assert!(
        timings[2] < Duration::from_millis(300),
        "after two failures the circuit is open and nothing waits on the center: {timings:?}"
    );
}
