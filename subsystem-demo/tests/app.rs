//! The demo app over HTTP, started on a free port like `main` starts it. The center is not
//! running here (its port is closed), which is exactly the "center down" case; the full
//! sign-in flow needs the real center and lives with the center's integration tests.

use reqwest::StatusCode;
use reqwest::redirect::Policy;
use subsystem_demo::{Application, Layered as _, Settings};

fn closed_port_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

async fn spawn(extra: &[(&str, &str)]) -> String {
    let issuer = closed_port_url();
    let mut env = vec![
        ("DEMO_APP_HTTP__PORT".to_owned(), "0".to_owned()),
        ("DEMO_APP_SSO__ISSUER".to_owned(), issuer),
        (
            "DEMO_APP_SSO__CLIENT_SECRET".to_owned(),
            "test-secret".to_owned(),
        ),
    ];
    env.extend(
        extra
            .iter()
            .map(|(key, value)| ((*key).to_owned(), (*value).to_owned())),
    );
    let settings = Settings::load_from(None, env).unwrap();
    let app = Application::build(settings).unwrap();
    let address = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    address
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap()
}

#[tokio::test]
async fn the_home_page_offers_anonymous_visitors_a_sign_in() {
    let base = spawn(&[]).await;
    let response = http().get(format!("{base}/")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let csp = response.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("frame-ancestors 'none'"));
    let body = response.text().await.unwrap();
    assert!(body.contains("Welcome to app1"));
    assert!(body.contains(r#"href="/auth/login?return_to=%2Fprofile""#));
    assert!(
        body.contains("memory"),
        "the footer names the session backend"
    );
}

#[tokio::test]
async fn the_profile_needs_a_sign_in_which_is_unavailable_while_the_center_is_down() {
    let base = spawn(&[]).await;
    let response = http().get(format!("{base}/profile")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("Sign-in service unavailable")
    );

    let api = http()
        .get(format!("{base}/profile"))
        .header("Accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn assets_and_health_are_public() {
    let base = spawn(&[]).await;
    let css = http()
        .get(format!("{base}/static/demo.css"))
        .send()
        .await
        .unwrap();
    assert_eq!(css.status(), StatusCode::OK);
    assert!(
        css.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/css")
    );
    let health = http().get(format!("{base}/health")).send().await.unwrap();
    assert_eq!(health.text().await.unwrap(), "ok");
}

#[tokio::test]
async fn the_cookie_backend_is_named_on_the_pages() {
    let key = session_store::KeyRing::generate_key();
    let base = spawn(&[
        ("DEMO_APP_NAME", "app2"),
        ("DEMO_APP_NODE", "app2-b"),
        ("DEMO_APP_STORE__BACKEND", "cookie"),
        ("DEMO_APP_STORE__COOKIE_KEY", &key),
    ])
    .await;
    let body = http()
        .get(format!("{base}/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(body.contains("Welcome to app2"));
    assert!(body.contains("app2-b"));
    assert!(body.contains("cookie"));
    assert!(body.contains("theme-app2"));
}

#[tokio::test]
async fn unsupported_methods_on_known_paths_get_405_with_allow() {
    let base = spawn(&[]).await;
    for path in ["/", "/health", "/static/demo.css"] {
        let head = http().head(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(head.status(), StatusCode::OK, "HEAD {path}");
        for method in ["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE"] {
            let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
            let response = http()
                .request(method.clone(), format!("{base}{path}"))
                .send()
                .await
                .unwrap();
            assert_eq!(
                response.status(),
                StatusCode::METHOD_NOT_ALLOWED,
                "{method} {path}"
            );
            assert_eq!(response.headers()["allow"], "GET, HEAD", "{method} {path}");
        }
    }
    let callback = http()
        .post(format!("{base}/auth/callback"))
        .send()
        .await
        .unwrap();
    assert_eq!(callback.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(callback.headers()["allow"], "GET, HEAD");
}
