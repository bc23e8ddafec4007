use std::sync::Arc;

use actix_web::{HttpResponse, HttpServer, web};
use reqwest::redirect::Policy;
use serde_json::{Value, json};
use session_store::{KeyRing, MemoryStore, RedisConfig, RedisStore};
use sso_client::actix::SsoMiddleware;
use sso_client::{LocalSessions, MultiFactor, Principal, Secret, SsoClient, SsoConfig};
use sso_server::clients::{NewClient, TokenPolicy};
use sso_server::config::Settings;
use sso_server::domain::{ClientId, RedirectUri, Username};
use sso_server::startup::Application;
use sso_server::state::AppState;
use sso_server::users::{NewUser, Password};
use url::Url;

pub(crate) const PASSWORD: &str = "correct horse battery staple";

/// A free port, released for a server to bind next.
pub(crate) fn reserve_port() -> u16 {
    sso_common::ports::free_port()
}

/// The real center, with user `alice` ("Alice Liddell").
pub(crate) struct Center {
    pub(crate) url: String,
    pub(crate) state: AppState,
    _dir: tempfile::TempDir,
}

pub(crate) async fn start_center() -> Center {
    let port = reserve_port();
    start_center_at(port, &format!("http://127.0.0.1:{port}")).await
}

/// The real center listening on `port` with issuer `url` (which may point at a link in
/// front of it).
pub(crate) async fn start_center_at(port: u16, url: &str) -> Center {
    let url = url.to_owned();
    let mut settings = Settings {
        issuer: Url::parse(&url).unwrap(),
        ..Settings::default()
    };
    settings.http.port = port;
    settings.slo.poll_interval_ms = 50;
    settings.slo.initial_backoff_ms = 100;
    settings.slo.max_backoff_ms = 400;
    settings.slo.request_timeout_ms = 1_000;
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}/sso.db?mode=rwc", dir.path().display());
    let pool = sso_server::db::connect_url(&database, 5).await.unwrap();
    let application = Application::build_with(settings, pool, Arc::new(MemoryStore::default()))
        .await
        .unwrap();
    let state = application.state().clone();
    tokio::spawn(application.run_until_stopped());
    let hash = state.hasher.hash(Password::new(PASSWORD)).await.unwrap();
    state
        .users
        .add(
            NewUser {
                username: Username::parse("alice").unwrap(),
                name: "Alice Liddell".to_owned(),
                email: "alice@example.test".to_owned(),
            },
            hash,
        )
        .await
        .unwrap();
    Center {
        url,
        state,
        _dir: dir,
    }
}

/// How the center signs for client `id`: EdDSA for `app2`, RS256 for every other client, so
/// every test with both apps verifies both algorithms.
pub(crate) fn alg_of(id: &str) -> jsonwebtoken::Algorithm {
    if id == "app2" {
        jsonwebtoken::Algorithm::EdDSA
    } else {
        jsonwebtoken::Algorithm::RS256
    }
}

impl Center {
    /// Registers client `id` for an app at `app_url` with the SDK's default paths.
    pub(crate) async fn register(&self, id: &str, secret: &str, app_url: &str) {
        self.register_with(id, secret, app_url, TokenPolicy::default())
            .await;
    }

    /// Registers client `id` as [`Center::register`] does, with token policy `tokens`.
    pub(crate) async fn register_with(
        &self,
        id: &str,
        secret: &str,
        app_url: &str,
        tokens: TokenPolicy,
    ) {
        let uri = |path: &str| RedirectUri::parse(&format!("{app_url}{path}")).unwrap();
        self.state
            .clients
            .upsert(NewClient {
                id: ClientId::parse(id).unwrap(),
                name: format!("Application {id}"),
                secret: Some(secret.to_owned()),
                redirect_uris: vec![uri("/auth/callback")],
                post_logout_redirect_uris: vec![uri("/")],
                backchannel_logout_uri: Some(uri("/auth/backchannel-logout")),
                id_token_alg: alg_of(id),
                tokens,
            })
            .await
            .unwrap();
    }
}

/// An app protected by the SDK: `/` is public, `/me` answers with the principal as JSON, and
/// `/sensitive`, which requires a second factor, with how the user authenticated.
pub(crate) struct TestApp {
    pub(crate) url: String,
    pub(crate) client: SsoClient,
}

async fn home(user: Option<Principal>) -> HttpResponse {
    HttpResponse::Ok().body(user.map_or("anonymous".to_owned(), |user| user.sub().to_owned()))
}

async fn me(user: Principal) -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "sub": user.sub(), "name": user.name(), "email": user.email(), "sid": user.sid(),
        "csrf_token": user.csrf_token(), "claims": user.claims(),
    }))
}

/// What `/sensitive` shows: who, and how they authenticated.
pub(crate) fn factors_of(user: &Principal) -> Value {
    json!({
        "sub": user.sub(), "sid": user.sid(), "acr": user.acr(), "amr": user.amr(),
        "auth_time": user.auth_time(),
    })
}

async fn sensitive(user: MultiFactor) -> HttpResponse {
    HttpResponse::Ok().json(factors_of(&user))
}

/// The SDK configuration of client `id` at `app_url`.
pub(crate) fn config(center: &Center, id: &str, app_url: &str) -> SsoConfig {
    let mut config = SsoConfig::new(
        center.url.clone(),
        id,
        Secret::new(secret_of(id)),
        app_url.parse().unwrap(),
    );
    config.public_paths = vec!["/".to_owned()];
    config.cookie.name = format!("{id}_session");
    config
}

pub(crate) fn secret_of(id: &str) -> String {
    format!("{id}-secret-0123456789abcdef")
}

/// The Redis server of the test environment (`REDIS_URL`); without it Redis is not tested,
/// and the test says so.
/// The Redis the tests use: `REDIS_URL`, or the local default (scripts/test.sh provides one).
pub(crate) fn redis_url() -> String {
    std::env::var("REDIS_URL")
        .ok()
        .filter(|url| !url.is_empty())
        .unwrap_or_else(|| "redis://127.0.0.1:6379".to_owned())
}

/// A local-session backend for the apps of a test.
#[derive(Clone, Debug)]
pub(crate) enum Backend {
    Memory,
    /// Cookie sessions; each app gets its own key and revocation list.
    Cookie,
    /// Redis at this URL, under a key prefix of the test's own.
    Redis(String),
}

impl Backend {
    /// Every backend.
    pub(crate) fn all() -> Vec<Self> {
        vec![Self::Memory, Self::Cookie, Self::Redis(redis_url())]
    }

    pub(crate) fn sessions(&self) -> LocalSessions {
        match self {
            Self::Memory => LocalSessions::memory(MemoryStore::default()),
            Self::Cookie => {
                let ring = KeyRing::new("k1", &KeyRing::generate_key()).unwrap();
                LocalSessions::cookie(ring, MemoryStore::default())
            }
            Self::Redis(url) => {
                let prefix = format!("sso-client-test-{}:", reserve_port());
                let config = RedisConfig::new(url.clone()).with_prefix(prefix);
                LocalSessions::redis(RedisStore::new(config).unwrap())
            }
        }
    }

    pub(crate) fn name(&self) -> &'static str {
        match self {
            Self::Memory => "memory",
            Self::Cookie => "cookie",
            Self::Redis(_) => "redis",
        }
    }
}

/// Registers client `id` and starts an app for it with in-memory sessions.
pub(crate) async fn start_app(center: &Center, id: &str) -> TestApp {
    start_app_on(center, id, &Backend::Memory).await
}

/// Registers client `id` and starts an app for it on `backend`.
pub(crate) async fn start_app_on(center: &Center, id: &str, backend: &Backend) -> TestApp {
    let port = reserve_port();
    let url = format!("http://127.0.0.1:{port}");
    center.register(id, &secret_of(id), &url).await;
    let app = serve(config(center, id, &url), backend.sessions(), port);
    assert_eq!(app.client.session_backend(), backend.name());
    app
}

/// Serves an app with `config` and `sessions` on `port`.
pub(crate) fn serve(config: SsoConfig, sessions: LocalSessions, port: u16) -> TestApp {
    let url = format!("http://127.0.0.1:{port}");
    let client = SsoClient::new(config, sessions).unwrap();
    let shared = client.clone();
    let server = HttpServer::new(move || {
        actix_web::App::new()
            .wrap(SsoMiddleware::new(shared.clone()))
            .route("/", web::get().to(home))
            .route("/me", web::get().to(me))
            .route("/sensitive", web::get().to(sensitive))
    })
    .workers(1)
    .bind(("127.0.0.1", port))
    .unwrap()
    .run();
    tokio::spawn(server);
    TestApp { url, client }
}

/// A browser: keeps cookies, does not follow redirects.
pub(crate) fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(Policy::none())
        .build()
        .unwrap()
}

pub(crate) fn location(response: &reqwest::Response) -> String {
    response
        .headers()
        .get(reqwest::header::LOCATION)
        .unwrap_or_else(|| panic!("no Location; status {}", response.status()))
        .to_str()
        .unwrap()
        .to_owned()
}

/// A hidden input's value in an HTML page.
pub(crate) fn hidden(html: &str, name: &str) -> String {
    sso_common::html::hidden_input(html, name).unwrap_or_else(|| panic!("no {name} in page"))
}

/// Follows redirects within the center until one points at `app_url`; returns that URL.
pub(crate) async fn follow_to_app(
    browser: &reqwest::Client,
    center: &Center,
    mut response: reqwest::Response,
    app_url: &str,
) -> String {
    loop {
        assert!(
            response.status().is_redirection(),
            "expected a redirect, got {}: {}",
            response.status(),
            response.text().await.unwrap_or_default()
        );
        let target = location(&response);
        if target.starts_with(app_url) {
            return target;
        }
        let next = if target.starts_with('/') {
            format!("{}{target}", center.url)
        } else {
            target
        };
        response = browser.get(next).send().await.unwrap();
    }
}

/// Opens `path` on `app` without a session and goes through the center's login form;
/// returns the callback URL the center sends the browser back to.
pub(crate) async fn login_until_callback(
    browser: &reqwest::Client,
    center: &Center,
    app: &TestApp,
    path: &str,
) -> String {
    let response = browser
        .get(format!("{}{path}", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        302,
        "a protected page sends the browser to the center"
    );
    let authorize = location(&response);
    password_at_center(browser, center, &authorize, &app.url).await
}

/// Opens the authorization request `authorize`, signs alice in with her password at the
/// center's login form, and returns the callback URL the center sends the browser back to.
pub(crate) async fn password_at_center(
    browser: &reqwest::Client,
    center: &Center,
    authorize: &str,
    app_url: &str,
) -> String {
    assert!(
        authorize.starts_with(&format!("{}/authorize?", center.url)),
        "{authorize}"
    );
    let page = browser.get(authorize).send().await.unwrap();
    assert_eq!(page.status(), 200, "the center shows its login form");
    let html = page.text().await.unwrap();
    let submitted = browser
        .post(format!("{}/login", center.url))
        .form(&[
            ("csrf_token", hidden(&html, "csrf_token")),
            ("return_to", hidden(&html, "return_to")),
            ("username", "alice".to_owned()),
            ("password", PASSWORD.to_owned()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(submitted.status(), 303, "the password is accepted");
    follow_to_app(browser, center, submitted, app_url).await
}

/// Delivers the callback and returns where the app sends the browser next.
pub(crate) async fn deliver_callback(
    browser: &reqwest::Client,
    callback: &str,
) -> reqwest::Response {
    browser.get(callback).send().await.unwrap()
}

/// `GET {app}/me` as JSON: the principal, or `None` when the app answers 401.
pub(crate) async fn whoami(browser: &reqwest::Client, app: &TestApp) -> Option<Value> {
    let response = browser
        .get(format!("{}/me", app.url))
        .header("Accept", "application/json")
        .send()
        .await
        .unwrap();
    match response.status().as_u16() {
        200 => Some(response.json().await.unwrap()),
        401 => None,
        other => panic!("unexpected status {other} from /me"),
    }
}

/// Signs alice in to `app` with her password; returns `/me`.
pub(crate) async fn sign_in(browser: &reqwest::Client, center: &Center, app: &TestApp) -> Value {
    let callback = login_until_callback(browser, center, app, "/me").await;
    let response = deliver_callback(browser, &callback).await;
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), "/me");
    whoami(browser, app)
        .await
        .expect("signed in after the callback")
}

/// Signs alice in to `app` on the strength of her center session, without a password;
/// returns `/me`.
pub(crate) async fn sign_in_silently(
    browser: &reqwest::Client,
    center: &Center,
    app: &TestApp,
) -> Value {
    let response = browser.get(format!("{}/me", app.url)).send().await.unwrap();
    assert_eq!(response.status(), 302);
    let at_center = browser.get(location(&response)).send().await.unwrap();
    assert!(
        at_center.status().is_redirection(),
        "no login form with a center session: {}",
        at_center.status()
    );
    let callback = follow_to_app(browser, center, at_center, &app.url).await;
    let landed = deliver_callback(browser, &callback).await;
    assert_eq!(location(&landed), "/me");
    whoami(browser, app)
        .await
        .expect("signed in without a password")
}
