//! The demo app's API (`/api/me`) against the real center: bearer access tokens, JWT ones
//! verified by signature in the app and opaque ones introspected at the center.

mod support;

use reqwest::StatusCode;
use serde_json::Value;
use sso_server::clients::{NewClient, TokenPolicy};
use sso_server::config::{AccessTokenFormat, GrantType};
use sso_server::domain::{ClientId, RedirectUri};
use subsystem_demo::{Application, Layered as _, Settings as DemoSettings};

const SECRET: &str = "app1-secret-0123456789abcdef";

/// Starts the center with clients `app1` (JWT access tokens) and `app9` (opaque ones), both
/// allowed `client_credentials`; returns its URL.
async fn start_center(dir: &tempfile::TempDir) -> String {
    let (url, state) = support::start_center(dir, |_| ()).await;
    for (id, format) in [
        ("app1", AccessTokenFormat::Jwt),
        ("app9", AccessTokenFormat::Opaque),
    ] {
        let grants = vec![GrantType::AuthorizationCode, GrantType::ClientCredentials];
        let tokens = TokenPolicy::new(grants, vec!["reports".to_owned()], format, false).unwrap();
        state
            .clients
            .upsert(NewClient {
                id: ClientId::parse(id).unwrap(),
                name: id.to_owned(),
                secret: Some(SECRET.to_owned()),
                redirect_uris: vec![RedirectUri::parse("http://127.0.0.1:1/cb").unwrap()],
                post_logout_redirect_uris: Vec::new(),
                backchannel_logout_uri: None,
                id_token_alg: jsonwebtoken::Algorithm::RS256,
                tokens,
            })
            .await
            .unwrap();
    }
    url
}

/// Starts the demo app as client `app1` of the center at `issuer`; returns its URL.
fn start_app(issuer: &str) -> String {
    let env = [
        ("DEMO_APP_HTTP__PORT", "0"),
        ("DEMO_APP_SSO__ISSUER", issuer),
        ("DEMO_APP_SSO__CLIENT_SECRET", SECRET),
    ]
    .map(|(key, value)| (key.to_owned(), value.to_owned()));
    let settings = DemoSettings::load_from(None, env.to_vec()).unwrap();
    let app = Application::build(settings).unwrap();
    let url = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    url
}

/// A service token for client `id` from the center.
async fn service_token(center: &str, id: &str) -> String {
    let answer: Value = reqwest::Client::new()
        .post(format!("{center}/token"))
        .basic_auth(id, Some(SECRET))
        .form(&[("grant_type", "client_credentials"), ("scope", "reports")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    answer["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("no access token: {answer}"))
        .to_owned()
}

async fn call(app: &str, authorization: Option<&str>) -> (StatusCode, Option<String>, Value) {
    let mut request = reqwest::Client::new().get(format!("{app}/api/me"));
    if let Some(value) = authorization {
        request = request.header("Authorization", value);
    }
    let response = request.send().await.unwrap();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|value| value.to_str().unwrap().to_owned());
    (response.status(), challenge, response.json().await.unwrap())
}

#[tokio::test]
async fn the_api_accepts_the_apps_own_tokens_only() {
    let dir = tempfile::tempdir().unwrap();
    let center = start_center(&dir).await;
    let app = start_app(&center);

    let jwt = service_token(&center, "app1").await;
    let (status, _, body) = call(&app, Some(&format!("Bearer {jwt}"))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["sub"], "app1");
    assert_eq!(body["scope"], "reports");
    assert_eq!(body["verified_by"], "signature");

    let mut forged: Vec<String> = jwt.split('.').map(str::to_owned).collect();
    forged[2] = forged[2].chars().rev().collect();
    let (status, challenge, body) = call(&app, Some(&format!("Bearer {}", forged.join(".")))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(challenge.unwrap().contains(r#"error="invalid_token""#));
    assert_eq!(body["error"], "invalid_token");

    // Another client's token, opaque: introspection says it is not this app's.
    let other = service_token(&center, "app9").await;
    let (status, _, body) = call(&app, Some(&format!("Bearer {other}"))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");

    let (status, challenge, _) = call(&app, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(challenge.unwrap().contains(r#"error="invalid_request""#));
    let (status, _, _) = call(&app, Some("Basic YXBwMTpzZWNyZXQ=")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}
