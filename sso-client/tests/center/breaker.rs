//! The app's circuit breaker counts only the center's failures: a client that resets its own
//! callbacks, or sends codes the center refuses, cannot open it and block everyone's sign-in.

use std::time::Duration;

use session_store::MemoryStore;
use sso_client::LocalSessions;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use url::Url;

use crate::helpers::*;

/// What the gate saw on one connection from the app to the center.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Seen {
    /// The app sent bytes on connection `n` (a call to the center is under way).
    Sent(u64),
    /// The app closed connection `n`.
    Closed(u64),
}

/// A TCP link in front of the center that can hold back what the app sends, so that a call to
/// the center stays in flight for as long as the test likes, and that reports what the app
/// does on each connection.
struct Gate {
    open: watch::Sender<bool>,
    seen: mpsc::UnboundedReceiver<Seen>,
}

impl Gate {
    async fn to(target: u16) -> (u16, Self) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (open, watcher) = watch::channel(true);
        let (report, seen) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut next = 0_u64;
            while let Ok((inbound, _)) = listener.accept().await {
                next += 1;
                let id = next;
                let mut watcher = watcher.clone();
                let report = report.clone();
                tokio::spawn(async move {
                    let outbound = TcpStream::connect(("127.0.0.1", target)).await.unwrap();
                    let (mut from_app, mut to_app) = inbound.into_split();
                    let (mut from_center, mut to_center) = outbound.into_split();
                    tokio::spawn(async move {
                        let _ = tokio::io::copy(&mut from_center, &mut to_app).await;
                    });
                    // Forward in a task of its own, so that the app closing the connection is
                    // seen while its bytes are held.
                    let (held, mut forward) = mpsc::unbounded_channel::<Vec<u8>>();
                    let forwarder = tokio::spawn(async move {
                        while let Some(bytes) = forward.recv().await {
                            if watcher.wait_for(|open| *open).await.is_err()
                                || to_center.write_all(&bytes).await.is_err()
                            {
                                return;
                            }
                        }
                        let _ = to_center.shutdown().await;
                    });
                    let mut buffer = vec![0; 16 * 1024];
                    loop {
                        let read = from_app.read(&mut buffer).await.unwrap_or(0);
                        if read == 0 {
                            forwarder.abort();
                            let _ = report.send(Seen::Closed(id));
                            return;
                        }
                        let _ = report.send(Seen::Sent(id));
                        let _ = held.send(buffer[..read].to_vec());
                    }
                });
            }
        });
        (port, Self { open, seen })
    }

    /// Holds back whatever the app sends from now on, and forgets what it saw so far.
    fn hold(&mut self) {
        self.open.send_replace(false);
        while self.seen.try_recv().is_ok() {}
    }

    fn release(&self) {
        self.open.send_replace(true);
    }

    /// The next event, failing the test instead of hanging if nothing happens.
    async fn next(&mut self) -> Seen {
        tokio::time::timeout(Duration::from_secs(20), self.seen.recv())
            .await
            .expect("the app did not talk to the center")
            .expect("the gate is running")
    }

    async fn wait_for(&mut self, wanted: impl Fn(Seen) -> bool) -> Seen {
        loop {
            let seen = self.next().await;
            if wanted(seen) {
                return seen;
            }
        }
    }
}

/// A sign-in started by `browser` on `app`: its `state` and the sign-in cookie (`name=value`).
async fn started_sign_in(browser: &reqwest::Client, app: &TestApp) -> (String, String) {
    let response = browser.get(format!("{}/me", app.url)).send().await.unwrap();
    assert_eq!(response.status(), 302);
    let cookie = response
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .map(|value| value.to_str().unwrap())
        .find(|value| value.starts_with(app.client.login_cookie_name()))
        .and_then(|value| value.split(';').next())
        .expect("a sign-in cookie")
        .to_owned();
    let authorize = Url::parse(&location(&response)).unwrap();
    let state = authorize
        .query_pairs()
        .find(|(name, _)| name == "state")
        .map(|(_, value)| value.into_owned())
        .expect("a state");
    (state, cookie)
}

/// An app whose circuit opens after two failures, for a minute, and that waits long enough on
/// the center never to time out in a test.
async fn app_with_a_touchy_breaker(center: &Center) -> TestApp {
    let port = reserve_port();
    let url = format!("http://127.0.0.1:{port}");
    center.register("app1", &secret_of("app1"), &url).await;
    let mut config = config(center, "app1", &url);
    config.center.failure_threshold = 2;
    config.center.open_secs = 60;
    config.center.request_timeout_ms = 60_000;
    serve(config, LocalSessions::memory(MemoryStore::default()), port)
}

#[tokio::test]
async fn callbacks_reset_by_their_client_do_not_open_the_circuit() {
    let center_port = reserve_port();
    let (gate_port, mut gate) = Gate::to(center_port).await;
    let center = start_center_at(center_port, &format!("http://127.0.0.1:{gate_port}")).await;
    let app = app_with_a_touchy_breaker(&center).await;
    let (state, login_cookie) = started_sign_in(&browser(), &app).await;
    let app_address = app.url.trim_start_matches("http://").to_owned();

    gate.hold();
    for attempt in 0..4 {
        let mut stream = TcpStream::connect(&app_address).await.unwrap();
        stream.set_zero_linger().unwrap();
        let request = format!(
            "GET /auth/callback?code=junk-{attempt}&state={state} HTTP/1.1\r\n\
             Host: {app_address}\r\nCookie: {login_cookie}\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut answer = [0; 64];
        let call = tokio::select! {
            seen = gate.wait_for(|seen| matches!(seen, Seen::Sent(_))) => seen,
            read = stream.read(&mut answer) => panic!(
                "callback {attempt} was answered without asking the center (the circuit is \
                 open): {:?}",
                String::from_utf8_lossy(&answer[..read.unwrap_or(0)])
            ),
        };
        // The code exchange is under way (held at the gate); the client resets its connection.
        drop(stream);
        let Seen::Sent(connection) = call else {
            unreachable!()
        };
        gate.wait_for(|seen| seen == Seen::Closed(connection)).await;
    }
    gate.release();

    let alice = browser();
    let me = sign_in(&alice, &center, &app).await;
    assert_eq!(
        me["name"], "Alice Liddell",
        "a real user signs in: the circuit stayed closed"
    );
}

#[tokio::test]
async fn codes_the_center_refuses_do_not_open_the_circuit() {
    let center = start_center().await;
    let app = app_with_a_touchy_breaker(&center).await;
    let (state, login_cookie) = started_sign_in(&browser(), &app).await;
    let attacker = reqwest::Client::new();
    // Junk of every size: a code longer than the center reads in a form included.
    for junk in [
        "junk".to_owned(),
        "x".repeat(20_000),
        "junk".to_owned(),
        "y".repeat(20_000),
    ] {
        let response = attacker
            .get(format!(
                "{}/auth/callback?code={junk}&state={state}",
                app.url
            ))
            .header(reqwest::header::COOKIE, &login_cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            400,
            "invalid_grant is the user's problem"
        );
        assert!(
            response
                .text()
                .await
                .unwrap()
                .contains("Sign-in could not be completed")
        );
    }

    let alice = browser();
    let me = sign_in(&alice, &center, &app).await;
    assert_eq!(me["name"], "Alice Liddell");
}
