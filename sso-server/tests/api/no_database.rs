//! The center without its database: PostgreSQL behind a cable (a TCP relay in this process)
//! that the tests cut and restore. Signed-in users keep signing in to apps and apps keep
//! exchanging codes; a password sign-in is asked to try again shortly; a logout ends the
//! sessions at once and its logout tokens go out once the database is back.

use std::io::{Read as _, Write as _};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sso_server::domain::Username;
use sso_server::users::{GroupChange, GroupName};
use url::Url;

use crate::helpers::*;
use crate::receiver::{Receiver, verify_logout_token};

/// The machine's PostgreSQL (trust authentication), never stopped by these tests.
fn postgres_url() -> String {
    std::env::var("DATABASE_URL")
        .ok()
        .filter(|url| url.starts_with("postgres"))
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// A TCP relay to PostgreSQL that can be cut (every connection through it broken, new ones
/// refused) and restored.
struct Cable {
    port: u16,
    connected: Arc<AtomicBool>,
    streams: Arc<Mutex<Vec<TcpStream>>>,
}

impl Cable {
    fn to(target: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let connected = Arc::new(AtomicBool::new(true));
        let streams = Arc::new(Mutex::new(Vec::new()));
        let (on, open) = (connected.clone(), streams.clone());
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                if !on.load(Ordering::SeqCst) {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                }
                let Ok(server) = TcpStream::connect(&target) else {
                    continue;
                };
                let mut open = open.lock().unwrap();
                open.push(client.try_clone().unwrap());
                open.push(server.try_clone().unwrap());
                pump(client.try_clone().unwrap(), server.try_clone().unwrap());
                pump(server, client);
            }
        });
        Self {
            port,
            connected,
            streams,
        }
    }

    fn cut(&self) {
        self.connected.store(false, Ordering::SeqCst);
        for stream in self.streams.lock().unwrap().drain(..) {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }

    fn restore(&self) {
        self.connected.store(true, Ordering::SeqCst);
    }
}

/// Copies `from` to `to` on a thread of its own until either side closes.
fn pump(mut from: TcpStream, mut to: TcpStream) {
    std::thread::spawn(move || {
        let mut buffer = [0_u8; 16 * 1024];
        while let Ok(read) = from.read(&mut buffer) {
            if read == 0 || to.write_all(&buffer[..read]).is_err() {
                break;
            }
        }
        let _ = to.shutdown(Shutdown::Both);
    });
}

/// A fresh PostgreSQL database; its URL.
async fn new_postgres_database() -> Url {
    sqlx::any::install_default_drivers();
    let mut url = Url::parse(&postgres_url()).unwrap();
    let name = format!("sso_test_nodb_{}", rand::random::<u32>());
    let mut admin = <sqlx::AnyConnection as sqlx::Connection>::connect(url.as_str())
        .await
        .expect("PostgreSQL must answer on DATABASE_URL or 127.0.0.1:5432");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .unwrap();
    url.set_path(&name);
    url
}

/// A cable to the server of `url`, and `url` through it.
fn through_a_cable(url: &Url) -> (Cable, Url) {
    let target = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap_or(5432));
    let cable = Cable::to(target);
    let mut through = url.clone();
    through.set_port(Some(cable.port)).unwrap();
    (cable, through)
}

/// A center on a fresh PostgreSQL database reached through a cable, with receivers for the
/// logout tokens of app1 and app2.
async fn center_behind_a_cable() -> (TestApp, Cable, Receiver, Receiver) {
    let (cable, url) = through_a_cable(&new_postgres_database().await);
    let app = start(
        test_settings(),
        url.as_str(),
        tempfile::tempdir().unwrap(),
        memory_store(),
    )
    .await;
    app.seed().await;
    let (one, two) = (Receiver::start().await, Receiver::start().await);
    app.add_client("app1", Some(APP1_SECRET), APP1_CALLBACK, Some(&one.uri))
        .await;
    app.add_client("app2", Some(APP2_SECRET), APP2_CALLBACK, Some(&two.uri))
        .await;
    // What the periodic reload does: the clients are in memory before the cable is cut.
    assert!(app.state.clients.refresh().await.unwrap() >= 2);
    (app, cable, one, two)
}

/// Silent sign-in of the browser's session at app2 with the groups scope, and the code
/// exchange.
async fn silent_sign_in_to_app2(app: &TestApp) -> reqwest::Response {
    let query = AuthRequest::app2()
        .query()
        .replace("openid+profile+email", "openid+profile+groups");
    let authorize = app
        .browser
        .get(app.url(&format!("/authorize?{query}")))
        .send()
        .await
        .unwrap();
    exchange_at_app2(app, &app.follow(authorize).await).await
}

/// App2's exchange of the code on `callback`.
async fn exchange_at_app2(app: &TestApp, callback: &Callback) -> reqwest::Response {
    app.exchange(
        "app2",
        APP2_SECRET,
        &callback.code(),
        APP2_CALLBACK,
        Some(VERIFIER),
    )
    .await
}

async fn wait_for_tokens(receiver: &Receiver, within: Duration) -> Vec<String> {
    let deadline = Instant::now() + within;
    loop {
        let received = receiver.received();
        if !received.is_empty() || Instant::now() > deadline {
            return received;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn signed_in_users_sign_in_to_apps_and_sign_out_while_the_database_is_cut() {
    let (app, cable, one, two) = center_behind_a_cable().await;
    let staff = GroupName::parse_list("staff").unwrap();
    let alice = Username::parse("alice").unwrap();
    app.state
        .users
        .change_groups(&alice, &GroupChange::Add(staff))
        .await
        .unwrap();
    let tokens = app.login_app1("alice").await;
    let sid = sid_of(&tokens);
    let id_token = tokens["id_token"].as_str().unwrap().to_owned();

    cable.cut();

    let ready = app.api.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 503);
    let ready: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(ready["database"], false);
    assert_eq!(ready["store"], true);

    // Silent single sign-on to app2, and its code exchange, with the claims of the sign-in.
    let exchanged = silent_sign_in_to_app2(&app).await;
    assert_eq!(exchanged.status(), 200);
    let app2_tokens: serde_json::Value = exchanged.json().await.unwrap();
    let app2_claims = claims(app2_tokens["id_token"].as_str().unwrap());
    assert_eq!(app2_claims["sid"], sid.as_str());
    assert_eq!(app2_claims["name"], "Alice Liddell");
    assert_eq!(app2_claims["aud"], "app2");
    assert_eq!(app2_claims["groups"], serde_json::json!(["staff"]));
    let access_token = app2_tokens["access_token"].as_str().unwrap();
    let userinfo = app.userinfo(access_token).await;
    assert_eq!(userinfo.status(), 200);
    let userinfo: serde_json::Value = userinfo.json().await.unwrap();
    assert_eq!(userinfo["groups"], serde_json::json!(["staff"]));

    // A client the center never read cannot be served: the token endpoint asks to retry.
    let unknown = app
        .exchange("app3", APP2_SECRET, "code", APP2_CALLBACK, None)
        .await;
    assert_eq!(unknown.status(), 503);
    assert_eq!(unknown.headers()["retry-after"], "5");
    let unknown: serde_json::Value = unknown.json().await.unwrap();
    assert_eq!(unknown["error"], "temporarily_unavailable");

    // A new password sign-in, from another browser, is asked to try again shortly.
    let other = Center::attach(app.url(""));
    let page = other.get_authorize(&AuthRequest::app1()).await;
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    let refused = other.submit_login(&page, "bob", PASSWORD).await;
    assert_eq!(refused.status(), 503);
    assert_eq!(refused.headers()["retry-after"], "5");
    let body = refused.text().await.unwrap();
    assert!(body.contains("try again in a few moments"), "{body}");
    assert!(!body.to_lowercase().contains("sqlx"), "{body}");

    // The logout ends the session at once; its logout tokens wait for the database.
    let logout = app
        .browser
        .get(app.url("/logout"))
        .query(&[("id_token_hint", id_token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), 200);
    assert_eq!(app.userinfo(access_token).await.status(), 401);
    let mut again = AuthRequest::app2();
    again.prompt = Some("none".to_owned());
    let callback = app.follow(app.get_authorize(&again).await).await;
    assert_eq!(callback.param("error").as_deref(), Some("login_required"));
    assert!(one.received().is_empty() && two.received().is_empty());

    cable.restore();

    // Both apps are told: app1 joined before the cut, app2 while it was cut.
    for (receiver, audience) in [(&one, "app1"), (&two, "app2")] {
        let received = wait_for_tokens(receiver, Duration::from_secs(20)).await;
        assert_eq!(received.len(), 1, "{audience} is told once");
        let logout = verify_logout_token(&app, &received[0], audience).await;
        assert_eq!(logout["sid"], sid.as_str());
    }
    let ready = app.api.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_session_ended_while_the_database_is_cut_cannot_be_joined() {
    let (app, cable, _one, two) = center_behind_a_cable().await;
    let tokens = app.login_app1("alice").await;
    let sid = sid_of(&tokens);
    let callback = app
        .follow(app.get_authorize(&AuthRequest::app2()).await)
        .await;

    cable.cut();
    assert!(
        app.state
            .sessions
            .end(&sid, sso_server::slo::EndReason::AdminKill)
            .await
            .unwrap()
    );
    assert!(!app.state.sessions.is_live(&sid).await.unwrap());
    let exchanged = exchange_at_app2(&app, &callback).await;
    assert_eq!(exchanged.status(), 400, "the code of an ended session");
    cable.restore();

    // The center finds the database back within a probe interval, and replays the end.
    let deadline = Instant::now() + Duration::from_secs(10);
    while app.state.sessions.replay_pending().await.is_err() {
        assert!(Instant::now() < deadline, "the database is not found back");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(!app.state.database.is_down());
    assert!(!app.state.sessions.is_live(&sid).await.unwrap());
    assert!(two.received().is_empty(), "app2 never joined");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_center_waits_for_a_database_that_comes_up_after_it_starts() {
    let (cable, url) = through_a_cable(&new_postgres_database().await);
    cable.cut();
    let connecting =
        tokio::spawn(async move { sso_server::db::connect_url(url.as_str(), 2).await });
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(!connecting.is_finished(), "the center gave up at once");
    cable.restore();
    let pool = connecting
        .await
        .unwrap()
        .expect("connected once the database answers");
    sqlx::query("SELECT 1").execute(&pool).await.unwrap();
}
