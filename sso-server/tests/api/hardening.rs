//! What a hostile client on the network meets: slow requests are cut off, connections are
//! capped, unsupported methods and oversized bodies get their own statuses, ambiguous
//! credentials are refused, and the forms' CSRF tokens cannot be made up.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::helpers::*;

/// Reads what the server sends until it closes the connection (or `limit` passes, which fails
/// the test: the server must have cut the client off by then).
async fn read_until_closed(stream: &mut (impl AsyncRead + Unpin), limit: Duration) -> String {
    let mut received = Vec::new();
    let read = tokio::time::timeout(limit, async {
        let mut buffer = [0u8; 4096];
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => received.extend_from_slice(&buffer[..n]),
            }
        }
    })
    .await;
    assert!(read.is_ok(), "the server kept the connection open");
    String::from_utf8_lossy(&received).into_owned()
}

/// Sends `head`, then `chunk` every 50 ms for ten seconds (or until the server hangs up), and
/// returns what the server answered before closing the connection.
async fn trickle(app: &TestApp, head: &'static [u8], chunk: &'static [u8]) -> String {
    let (mut reader, mut writer) = connect(app).await.into_split();
    writer.write_all(head).await.unwrap();
    tokio::spawn(async move {
        for _ in 0..200 {
            if writer.write_all(chunk).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    read_until_closed(&mut reader, Duration::from_secs(8)).await
}

fn port_of(app: &TestApp) -> u16 {
    app.address.rsplit(':').next().unwrap().parse().unwrap()
}

async fn connect(app: &TestApp) -> TcpStream {
    TcpStream::connect(("127.0.0.1", port_of(app)))
        .await
        .unwrap()
}

#[tokio::test]
async fn a_trickling_body_is_cut_off_with_408_and_the_connection_closed() {
    let app = spawn_app_with(|s| s.http.request_timeout_ms = 400).await;
    let answer = trickle(
        &app,
        b"POST /login HTTP/1.1\r\nHost: sso\r\n\
          Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 4000\r\n\r\n",
        b"a",
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
}

#[tokio::test]
async fn a_trickling_head_is_cut_off() {
    let app = spawn_app_with(|s| s.http.request_timeout_ms = 400).await;
    let answer = trickle(
        &app,
        b"GET /healthz HTTP/1.1\r\nHost: sso\r\n",
        b"X-Slow: 1\r\n",
    )
    .await;
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
        "{answer}"
    );
}

#[tokio::test]
async fn connections_past_the_cap_wait_until_one_closes() {
    let workers = std::thread::available_parallelism().map_or(1, usize::from);
    let app = spawn_app_with(|s| s.http.max_connections = workers).await;
    // One idle connection per worker fills the cap (each worker takes at most one).
    let mut idle = Vec::new();
    for _ in 0..workers {
        let mut stream = connect(&app).await;
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: sso\r\n\r\n")
            .await
            .unwrap();
        let mut buffer = [0u8; 512];
        let n = stream.read(&mut buffer).await.unwrap();
        assert!(String::from_utf8_lossy(&buffer[..n]).starts_with("HTTP/1.1 200"));
        idle.push(stream);
    }
    let waiting = tokio::spawn({
        let url = app.url("/healthz");
        async move { reqwest::get(url).await.map(|r| r.status().as_u16()) }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!waiting.is_finished(), "served past the connection cap");
    drop(idle);
    let status = tokio::time::timeout(Duration::from_secs(10), waiting)
        .await
        .expect("served once connections closed")
        .unwrap()
        .unwrap();
    assert_eq!(status, 200);
}

#[tokio::test]
async fn unsupported_methods_on_known_paths_get_405_with_allow() {
    let app = spawn_app().await;
    let page = app.api.put(app.url("/login")).send().await.unwrap();
    assert_eq!(page.status(), 405);
    assert_eq!(page.headers()["allow"], "GET, HEAD, POST");
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let oauth = app.api.get(app.url("/token")).send().await.unwrap();
    assert_eq!(oauth.status(), 405);
    assert_eq!(oauth.headers()["allow"], "POST");
    let body: serde_json::Value = oauth.json().await.unwrap();
    assert_eq!(body["error"], "invalid_request");
    let admin = app
        .api
        .post(app.url("/admin/users/alice/sessions"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(admin.status(), 405);
    assert_eq!(admin.headers()["allow"], "DELETE, GET, HEAD");
    let unknown = app.api.put(app.url("/nowhere")).send().await.unwrap();
    assert_eq!(unknown.status(), 404);
}

#[tokio::test]
async fn oversized_forms_get_413() {
    let app = spawn_app().await;
    let big = "x".repeat(64 * 1024);
    let page = app
        .api
        .post(app.url("/login"))
        .form(&[("username", big.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 413);
    let token = app
        .api
        .post(app.url("/token"))
        .form(&[("grant_type", "authorization_code"), ("code", big.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(token.status(), 413);
    let body: serde_json::Value = token.json().await.unwrap();
    assert_eq!(body["error"], "invalid_request");
}

#[tokio::test]
async fn two_authorization_headers_are_refused_wherever_credentials_are_read() {
    let app = spawn_app().await;
    let tokens = app.login_app1("alice").await;
    let access = tokens["access_token"].as_str().unwrap();
    let userinfo = app
        .api
        .get(app.url("/userinfo"))
        .header("authorization", format!("Bearer {access}"))
        .header("authorization", "Bearer another")
        .send()
        .await
        .unwrap();
    assert_eq!(userinfo.status(), 400);

    let basic = |secret: &str| {
        use base64::Engine as _;
        let encoded = base64::engine::general_purpose::STANDARD.encode(format!("app1:{secret}"));
        format!("Basic {encoded}")
    };
    let token = app
        .api
        .post(app.url("/token"))
        .header("authorization", basic(APP1_SECRET))
        .header("authorization", basic("wrong"))
        .form(&[("grant_type", "authorization_code"), ("code", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(token.status(), 400);
    let body: serde_json::Value = token.json().await.unwrap();
    assert_eq!(body["error"], "invalid_request");

    let admin = app
        .api
        .get(app.url("/admin/logout-deliveries?username=alice"))
        .header("authorization", format!("Bearer {ADMIN_TOKEN}"))
        .header("authorization", "Bearer x")
        .send()
        .await
        .unwrap();
    assert_eq!(admin.status(), 400);
}

#[tokio::test]
async fn admin_answers_are_never_cached() {
    let app = spawn_app().await;
    let ok = app.admin_get("/admin/users/alice/sessions").await;
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.headers()["cache-control"], "no-store");
    let refused = app
        .api
        .get(app.url("/admin/users/alice/sessions"))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    assert_eq!(refused.headers()["cache-control"], "no-store");
}

#[tokio::test]
async fn the_csrf_cookie_is_host_prefixed_and_host_only() {
    let app = spawn_app().await;
    let page = app.api.get(app.url("/login")).send().await.unwrap();
    let cookie = page
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|v| v.starts_with("__Host-sso_csrf="))
        .expect("a __Host- CSRF cookie");
    assert!(cookie.contains("Secure"), "{cookie}");
    assert!(cookie.contains("Path=/"), "{cookie}");
    assert!(!cookie.to_ascii_lowercase().contains("domain="), "{cookie}");
}

#[tokio::test]
async fn a_self_chosen_csrf_cookie_with_an_equal_field_is_refused() {
    let app = spawn_app().await;
    let chosen = "AAAAAAAAAAAAAAAAAAAAAA";
    for name in ["__Host-sso_csrf", "sso_csrf"] {
        let response = app
            .api
            .post(app.url("/login"))
            .header("cookie", format!("{name}={chosen}"))
            .form(&[
                ("csrf_token", chosen),
                ("username", "alice"),
                ("password", PASSWORD),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 403, "{name}");
        assert!(response.headers().get("location").is_none());
    }
}
