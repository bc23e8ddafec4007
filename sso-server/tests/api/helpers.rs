use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::redirect::Policy;
use serde_json::Value;
use session_store::{MemoryConfig, MemoryStore, RedisConfig, RedisStore, SharedStore};
use sso_server::clients::NewClient;
use sso_server::config::{PasswordSettings, Settings};
use sso_server::domain::{ClientId, RedirectUri, Username};
use sso_server::startup::Application;
use sso_server::state::AppState;
use sso_server::users::{NewUser, Password};
use url::Url;

pub(crate) const ISSUER: &str = "https://sso.test.localhost";
pub(crate) const ADMIN_TOKEN: &str = "test-admin-token-0123456789";
pub(crate) const PASSWORD: &str = "correct horse battery staple";
pub(crate) const APP1_SECRET: &str = "app1-secret-0123456789abcdef";
pub(crate) const APP2_SECRET: &str = "app2-secret-0123456789abcdef";
pub(crate) const APP1_CALLBACK: &str = "http://app1.localhost:8081/auth/callback";
pub(crate) const APP2_CALLBACK: &str = "http://app2.localhost:8082/auth/callback";
pub(crate) const SPA_CALLBACK: &str = "http://spa.localhost:8083/callback";
pub(crate) const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub(crate) const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

/// A center reached over HTTP, with a browser and a back-channel client.
pub(crate) struct Center {
    pub(crate) address: String,
    /// A browser: keeps cookies, does not follow redirects.
    pub(crate) browser: reqwest::Client,
    /// A back-channel client without cookies.
    pub(crate) api: reqwest::Client,
}

/// A center running in this process, and its state.
pub(crate) struct TestApp {
    center: Center,
    pub(crate) state: AppState,
    /// The port of the metrics endpoint, when `metrics.listen` is set.
    pub(crate) metrics_port: Option<u16>,
    _dir: tempfile::TempDir,
}

impl std::ops::Deref for TestApp {
    type Target = Center;

    fn deref(&self) -> &Center {
        &self.center
    }
}

impl std::ops::DerefMut for TestApp {
    fn deref_mut(&mut self) -> &mut Center {
        &mut self.center
    }
}

/// Settings for a test: the real (OWASP) password cost, short single-logout and sweep timings.
pub(crate) fn test_settings() -> Settings {
    let mut settings = Settings {
        issuer: Url::parse(ISSUER).unwrap(),
        password: PasswordSettings::default(),
        ..Settings::default()
    };
    settings.http.port = 0;
    settings.admin.token = Some(sso_server::config::Secret::new(ADMIN_TOKEN));
    settings.slo.poll_interval_ms = 50;
    settings.slo.initial_backoff_ms = 100;
    settings.slo.max_backoff_ms = 400;
    settings.slo.request_timeout_ms = 1_000;
    settings.session.sweep_interval_secs = 1;
    settings
}

async fn database_url(dir: &tempfile::TempDir) -> String {
    match std::env::var("DATABASE_URL") {
        Ok(base) if !base.is_empty() => {
            sqlx::any::install_default_drivers();
            let name = format!("sso_test_{}", uuid_like());
            let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&base)
                .await
                .expect("DATABASE_URL must reach PostgreSQL");
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(&mut conn)
                .await
                .expect("cannot create test database");
            let mut url = Url::parse(&base).unwrap();
            url.set_path(&name);
            url.to_string()
        }
        _ => format!("sqlite://{}/sso.db?mode=rwc", dir.path().display()),
    }
}

fn uuid_like() -> String {
    let bytes: [u8; 8] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub(crate) async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub(crate) async fn spawn_app_with(configure: impl FnOnce(&mut Settings)) -> TestApp {
    let mut settings = test_settings();
    configure(&mut settings);
    let dir = tempfile::tempdir().unwrap();
    let url = database_url(&dir).await;
    let app = start(settings, &url, dir, memory_store()).await;
    app.seed().await;
    app
}

/// A new in-process store.
pub(crate) fn memory_store() -> Arc<dyn SharedStore> {
    Arc::new(MemoryStore::new(MemoryConfig::default()))
}

/// The Redis server of the test environment: `REDIS_URL`, or the local default
/// (scripts/test.sh provides one). A test that needs it fails when it is unreachable.
pub(crate) fn redis_url() -> String {
    std::env::var("REDIS_URL")
        .ok()
        .filter(|url| !url.is_empty())
        .unwrap_or_else(|| "redis://127.0.0.1:6379".to_owned())
}

/// A Redis store under a key prefix of its own, so tests never see each other's keys; every
/// store made with the same `prefix` shares the data.
pub(crate) fn redis_store(url: &str, prefix: &str) -> Arc<dyn SharedStore> {
    Arc::new(RedisStore::new(RedisConfig::new(url).with_prefix(prefix)).unwrap())
}

/// A fresh key prefix.
pub(crate) fn unique_prefix() -> String {
    format!("sso-test-{}:", uuid_like())
}

impl TestApp {
    /// The users and clients every test starts with.
    pub(crate) async fn seed(&self) {
        self.add_user("alice", "Alice Liddell").await;
        self.add_user("bob", "Bob Builder").await;
        self.add_client("app1", Some(APP1_SECRET), APP1_CALLBACK, None)
            .await;
        self.add_client("app2", Some(APP2_SECRET), APP2_CALLBACK, None)
            .await;
        self.add_client("spa", None, SPA_CALLBACK, None).await;
    }
}

/// A fresh database for a test, and the directory that holds it (SQLite).
pub(crate) async fn new_database() -> (String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    (database_url(&dir).await, dir)
}

/// Builds the application on `url` without running it: no HTTP, no background tasks.
pub(crate) async fn build_only(url: &str) -> Application {
    let pool = sso_server::db::connect_url(url, 5).await.unwrap();
    Application::build_with(test_settings(), pool, memory_store())
        .await
        .unwrap()
}

/// Starts the application on an existing database.
pub(crate) async fn start(
    settings: Settings,
    url: &str,
    dir: tempfile::TempDir,
    store: Arc<dyn SharedStore>,
) -> TestApp {
    let pool = sso_server::db::connect_url(url, 5).await.unwrap();
    let application = Application::build_with(settings, pool, store)
        .await
        .unwrap();
    let address = format!("http://127.0.0.1:{}", application.port());
    let state = application.state().clone();
    let metrics_port = application.metrics_port();
    tokio::spawn(application.run_until_stopped());
    TestApp {
        center: Center::attach(address),
        state,
        metrics_port,
        _dir: dir,
    }
}

/// What the client gets back on its redirect URI.
#[derive(Debug)]
pub(crate) struct Callback {
    pub(crate) url: Url,
}

impl Callback {
    pub(crate) fn param(&self, name: &str) -> Option<String> {
        self.url
            .query_pairs()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.into_owned())
    }

    pub(crate) fn code(&self) -> String {
        self.param("code")
            .unwrap_or_else(|| panic!("no code in {}", self.url))
    }
}

/// Parameters of an authorization request.
#[derive(Clone, Debug)]
pub(crate) struct AuthRequest {
    pub(crate) client_id: String,
    pub(crate) redirect_uri: String,
    pub(crate) state: String,
    pub(crate) nonce: String,
    pub(crate) challenge: Option<String>,
    pub(crate) prompt: Option<String>,
}

impl AuthRequest {
    pub(crate) fn new(client_id: &str, redirect_uri: &str) -> Self {
        Self {
            client_id: client_id.to_owned(),
            redirect_uri: redirect_uri.to_owned(),
            state: format!("state-{}", uuid_like()),
            nonce: format!("nonce-{}", uuid_like()),
            challenge: Some(CHALLENGE.to_owned()),
            prompt: None,
        }
    }

    pub(crate) fn app1() -> Self {
        Self::new("app1", APP1_CALLBACK)
    }

    pub(crate) fn app2() -> Self {
        Self::new("app2", APP2_CALLBACK)
    }

    pub(crate) fn query(&self) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        query
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.client_id)
            .append_pair("redirect_uri", &self.redirect_uri)
            .append_pair("scope", "openid profile email")
            .append_pair("state", &self.state)
            .append_pair("nonce", &self.nonce);
        if let Some(challenge) = &self.challenge {
            query
                .append_pair("code_challenge", challenge)
                .append_pair("code_challenge_method", "S256");
        }
        if let Some(prompt) = &self.prompt {
            query.append_pair("prompt", prompt);
        }
        query.finish()
    }
}

/// A hidden input's value in an HTML page.
pub(crate) fn hidden(html: &str, name: &str) -> String {
    sso_common::html::hidden_input(html, name).unwrap_or_else(|| panic!("no {name} in page"))
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

/// The `sid` of the id_token in a token response.
pub(crate) fn sid_of(tokens: &Value) -> String {
    claims(tokens["id_token"].as_str().unwrap())["sid"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The claims of a JWT, unverified (tests that check signatures do so separately).
pub(crate) fn claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

impl Center {
    /// Clients for a center at `address`.
    pub(crate) fn attach(address: String) -> Self {
        Self {
            address,
            browser: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(Policy::none())
                .build()
                .unwrap(),
            api: reqwest::Client::builder()
                .redirect(Policy::none())
                .build()
                .unwrap(),
        }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// A public JSON document of the center, e.g. discovery or the JWKS.
    pub(crate) async fn get_json<T: serde::de::DeserializeOwned>(&self, path: &str) -> T {
        self.api
            .get(self.url(path))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// `GET /userinfo` with `access_token`.
    pub(crate) async fn userinfo(&self, access_token: &str) -> reqwest::Response {
        self.api
            .get(self.url("/userinfo"))
            .bearer_auth(access_token)
            .send()
            .await
            .unwrap()
    }

    /// `GET path` of the center in the browser.
    pub(crate) async fn get_page(&self, path: &str) -> reqwest::Response {
        self.browser.get(self.url(path)).send().await.unwrap()
    }

    /// The HTML of `GET path` of the center in the browser.
    pub(crate) async fn page_html(&self, path: &str) -> String {
        self.get_page(path).await.text().await.unwrap()
    }

    pub(crate) async fn get_authorize(&self, request: &AuthRequest) -> reqwest::Response {
        self.browser
            .get(self.url(&format!("/authorize?{}", request.query())))
            .send()
            .await
            .unwrap()
    }

    /// Submits the login form of `page` (the HTML of the login page).
    pub(crate) async fn submit_login(
        &self,
        page: &str,
        username: &str,
        password: &str,
    ) -> reqwest::Response {
        self.browser
            .post(self.url("/login"))
            .form(&[
                ("csrf_token", hidden(page, "csrf_token")),
                ("return_to", hidden(page, "return_to")),
                ("username", username.to_owned()),
                ("password", password.to_owned()),
            ])
            .send()
            .await
            .unwrap()
    }

    /// Follows redirects on the center until one leaves it.
    pub(crate) async fn follow(&self, mut response: reqwest::Response) -> Callback {
        loop {
            assert!(
                response.status().is_redirection(),
                "expected a redirect, got {}: {}",
                response.status(),
                response.text().await.unwrap_or_default()
            );
            let target = location(&response);
            if target.starts_with('/') {
                response = self.browser.get(self.url(&target)).send().await.unwrap();
            } else {
                return Callback {
                    url: Url::parse(&target).unwrap(),
                };
            }
        }
    }

    /// The whole browser side of a login: authorize, login form, back to the client.
    pub(crate) async fn login(&self, request: &AuthRequest, username: &str) -> Callback {
        let page = self.get_authorize(request).await;
        assert_eq!(page.status(), 200);
        let page = page.text().await.unwrap();
        let response = self.submit_login(&page, username, PASSWORD).await;
        assert_eq!(response.status(), 303, "login must succeed");
        self.follow(response).await
    }

    /// Exchanges a code as a confidential client with HTTP Basic authentication.
    pub(crate) async fn exchange(
        &self,
        client_id: &str,
        secret: &str,
        code: &str,
        redirect_uri: &str,
        verifier: Option<&str>,
    ) -> reqwest::Response {
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri),
        ];
        if let Some(verifier) = verifier {
            form.push(("code_verifier", verifier));
        }
        self.api
            .post(self.url("/token"))
            .basic_auth(client_id, Some(secret))
            .form(&form)
            .send()
            .await
            .unwrap()
    }

    /// Exchanges a code as a public client: its id, no secret, the PKCE verifier.
    pub(crate) async fn exchange_public(
        &self,
        client_id: &str,
        code: &str,
        redirect_uri: &str,
    ) -> reqwest::Response {
        self.api
            .post(self.url("/token"))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", redirect_uri),
                ("client_id", client_id),
                ("code_verifier", VERIFIER),
            ])
            .send()
            .await
            .unwrap()
    }

    /// Login at app1 and exchange the code: the tokens.
    pub(crate) async fn login_app1(&self, username: &str) -> Value {
        let callback = self.login(&AuthRequest::app1(), username).await;
        let response = self
            .exchange(
                "app1",
                APP1_SECRET,
                &callback.code(),
                APP1_CALLBACK,
                Some(VERIFIER),
            )
            .await;
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }

    pub(crate) async fn admin_get(&self, path: &str) -> reqwest::Response {
        self.api
            .get(self.url(path))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .unwrap()
    }

    pub(crate) async fn admin_delete(&self, path: &str) -> reqwest::Response {
        self.api
            .delete(self.url(path))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .unwrap()
    }

    /// Polls the admin API until the deliveries of `sid` satisfy `done`, or panics after
    /// `timeout`.
    pub(crate) async fn wait_for_deliveries(
        &self,
        sid: &str,
        timeout: Duration,
        done: impl Fn(&[Value]) -> bool,
    ) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let body: Value = self
                .admin_get(&format!("/admin/logout-deliveries?sid={sid}"))
                .await
                .json()
                .await
                .unwrap();
            let deliveries = body["deliveries"].as_array().unwrap().clone();
            if done(&deliveries) {
                return deliveries;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "deliveries did not settle: {deliveries:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl TestApp {
    pub(crate) async fn add_user(&self, username: &str, name: &str) {
        let hash = self
            .state
            .hasher
            .hash(Password::new(PASSWORD))
            .await
            .unwrap();
        self.state
            .users
            .add(
                NewUser {
                    username: Username::parse(username).unwrap(),
                    name: name.to_owned(),
                    email: format!("{username}@example.test"),
                },
                hash,
            )
            .await
            .unwrap();
    }

    /// The seeded user `username`.
    pub(crate) async fn user(&self, username: &str) -> sso_server::users::User {
        self.state
            .users
            .find(&Username::parse(username).unwrap())
            .await
            .unwrap()
            .unwrap()
    }

    pub(crate) async fn add_client(
        &self,
        id: &str,
        secret: Option<&str>,
        redirect_uri: &str,
        backchannel: Option<&str>,
    ) {
        let origin = Url::parse(redirect_uri).unwrap();
        let home = format!("{}/", origin.origin().ascii_serialization());
        self.state
            .clients
            .upsert(NewClient {
                id: ClientId::parse(id).unwrap(),
                name: format!("Application {id}"),
                secret: secret.map(str::to_owned),
                redirect_uris: vec![RedirectUri::parse(redirect_uri).unwrap()],
                post_logout_redirect_uris: vec![RedirectUri::parse(&home).unwrap()],
                backchannel_logout_uri: backchannel.map(|uri| RedirectUri::parse(uri).unwrap()),
                id_token_alg: jsonwebtoken::Algorithm::RS256,
                tokens: sso_server::clients::TokenPolicy::default(),
            })
            .await
            .unwrap();
    }
}
