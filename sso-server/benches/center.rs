//! Throughput of the center on this machine: a harness that prints figures, not a test.
//!
//! Run with `cargo bench -p sso-server --bench center`. It starts the server in-process
//! (SQLite in a temporary directory, memory store, OWASP argon2id cost) and measures:
//! argon2id hashes/s (the ceiling of logins, measured before and after the logins), logins/s
//! through `POST /login` (16 in flight, each a new browser) with the p99 of
//! silent-SSO `/authorize` calls made meanwhile, silent-SSO `/authorize` req/s alone, code
//! exchanges/s at `/token`, access-token checks/s at `/userinfo` and, against those, at
//! `/introspect`, the time to deliver single logout to 100 clients, refreshes/s at `/token`
//! (opaque access token, no new id token: each chain rotates its own family), and
//! client-credentials grants/s with an opaque token and with a JWT access token signed with
//! RS256 and with EdDSA. The JWT grants are set against the signing limit of each algorithm
//! measured in the same run (signatures/s of an access token's claims on all cores, right
//! before and right after the grants), against the opaque grants (which sign nothing), against
//! one signature plus one opaque grant (about the most a grant that signs on the cores serving
//! its HTTP can reach), and against one signature plus a bare actix-web answer to the same
//! requests (which no grant over HTTP can pass). Every load comes from an HTTP client in this
//! process, sharing the cores with the center; the client-credentials grants are measured a
//! second time with `wrk` as the load (when installed), whose own cost per request is a
//! fraction of the in-process client's.
//!
//! `BENCH_ONLY=grants,refresh` (comma-separated: `logins`, `silent`, `exchanges`, `checks`,
//! `slo`, `refresh`, `grants`) runs only those phases, e.g. to profile one of them.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use actix_web::{App, HttpResponse, HttpServer, web};
use jsonwebtoken::Algorithm;
use reqwest::redirect::Policy;
use session_store::{MemoryConfig, MemoryStore, SharedStore};
use sso_server::clients::{NewClient, TokenPolicy};
use sso_server::config::Settings;
use sso_server::config::{AccessTokenFormat, GrantType};
use sso_server::domain::{ClientId, RedirectUri, Username};
use sso_server::slo::EndReason;
use sso_server::startup::Application;
use sso_server::state::AppState;
use sso_server::users::{NewUser, Password};

const PASSWORD: &str = "correct horse battery staple";
const SECRET: &str = "bench-secret-0123456789abcdef0123";
const CALLBACK: &str = "http://bench.localhost/cb";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const PHASE: Duration = Duration::from_secs(5);
/// The login phase is longer, for enough latency samples at a probe's pace.
const LOGIN_PHASE: Duration = Duration::from_secs(10);
/// Pause between two silent-SSO latency samples: a probe, not a second load.
const PROBE_INTERVAL: Duration = Duration::from_millis(20);
const CONCURRENCY: usize = 8;
/// Logins in flight: enough that every hashing thread always has the next one waiting.
const LOGIN_CONCURRENCY: usize = 16;

fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(Policy::none())
        .build()
        .expect("client")
}

fn authorize_path(scope: &str) -> String {
    format!(
        "/authorize?response_type=code&client_id=bench&redirect_uri={CALLBACK}&scope={scope}\
         &state=s&code_challenge={CHALLENGE}&code_challenge_method=S256"
    )
}

struct Bench {
    base: String,
    state: AppState,
}

impl Bench {
    async fn start() -> (Self, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut settings = Settings::default();
        settings.http.port = 0;
        // One user signs in from one address over and over: no budget may stop the figures.
        settings.login.max_attempts_per_ip = u64::MAX;
        settings.login.max_failures_per_user = u64::MAX;
        settings.login.max_failures_per_user_address = u64::MAX;
        settings.login.max_failures_per_device = u64::MAX;
        settings.slo.poll_interval_ms = 1_000;
        let url = format!("sqlite://{}/bench.db?mode=rwc", dir.path().display());
        let pool = sso_server::db::connect_url(&url, 8)
            .await
            .expect("database");
        let store: Arc<dyn SharedStore> = Arc::new(MemoryStore::new(MemoryConfig::default()));
        let app = Application::build_with(settings, pool, store)
            .await
            .expect("application");
        let base = format!("http://127.0.0.1:{}", app.port());
        let state = app.state().clone();
        tokio::spawn(app.run_until_stopped());
        let hash = state
            .hasher
            .hash(Password::new(PASSWORD))
            .await
            .expect("hash");
        state
            .users
            .add(
                NewUser {
                    username: Username::parse("alice").expect("name"),
                    name: "Alice".to_owned(),
                    email: "alice@example.test".to_owned(),
                },
                hash,
            )
            .await
            .expect("user");
        register(&state, "bench", None).await;
        (Self { base, state }, dir)
    }

    /// A browser signed in to the center.
    async fn signed_in(&self) -> reqwest::Client {
        let client = browser();
        assert!(self.login(&client, false).await, "login");
        client
    }

    /// One sign-in: the login page, then the form. With `send_cookies`, `client` keeps no
    /// cookies and the page's cookies are sent back by hand: a new browser each time, on
    /// connections shared with other browsers.
    async fn login(&self, client: &reqwest::Client, send_cookies: bool) -> bool {
        let page = client
            .get(format!("{}/login", self.base))
            .send()
            .await
            .and_then(|r| r.error_for_status());
        let Ok(page) = page else { return false };
        let cookies = send_cookies.then(|| cookie_header(&page));
        let html = page.text().await.unwrap_or_default();
        let mut request = client.post(format!("{}/login", self.base));
        if let Some(cookies) = cookies {
            request = request.header(reqwest::header::COOKIE, cookies);
        }
        let response = request
            .form(&[
                (
                    "csrf_token",
                    sso_common::html::hidden_input(&html, "csrf_token")
                        .unwrap_or_default()
                        .as_str(),
                ),
                ("return_to", ""),
                ("username", "alice"),
                ("password", PASSWORD),
            ])
            .send()
            .await;
        response.is_ok_and(|r| r.status() == 303)
    }

    async fn code(&self, client: &reqwest::Client) -> Option<String> {
        self.code_for(client, "openid").await
    }

    /// A code for a signed-in browser, for `scope` (`+`-separated).
    async fn code_for(&self, client: &reqwest::Client, scope: &str) -> Option<String> {
        let response = client
            .get(format!("{}{}", self.base, authorize_path(scope)))
            .send()
            .await
            .ok()?;
        let location = response.headers().get("location")?.to_str().ok()?;
        let url = url::Url::parse(location).ok()?;
        url.query_pairs()
            .find(|(name, _)| name == "code")
            .map(|(_, code)| code.into_owned())
    }
}

async fn register(state: &AppState, id: &str, backchannel: Option<String>) {
    register_with(
        state,
        id,
        backchannel,
        TokenPolicy::default(),
        Algorithm::RS256,
    )
    .await;
}

async fn register_with(
    state: &AppState,
    id: &str,
    backchannel: Option<String>,
    tokens: TokenPolicy,
    alg: Algorithm,
) {
    state
        .clients
        .upsert(NewClient {
            id: ClientId::parse(id).expect("id"),
            name: id.to_owned(),
            secret: Some(SECRET.to_owned()),
            redirect_uris: vec![RedirectUri::parse(CALLBACK).expect("uri")],
            post_logout_redirect_uris: Vec::new(),
            backchannel_logout_uri: backchannel.map(|uri| RedirectUri::parse(&uri).expect("uri")),
            id_token_alg: alg,
            tokens,
        })
        .await
        .expect("client");
}

/// The `Cookie` header a browser would send back after `response`.
fn cookie_header(response: &reqwest::Response) -> String {
    response
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok()?.split(';').next())
        .collect::<Vec<_>>()
        .join("; ")
}

fn p99(mut samples: Vec<Duration>) -> Duration {
    samples.sort_unstable();
    samples
        .get(samples.len().saturating_mul(99) / 100)
        .copied()
        .unwrap_or_default()
}

fn per_second(count: usize, elapsed: Duration) -> f64 {
    count as f64 / elapsed.as_secs_f64()
}

fn report(line: &str) {
    use std::io::Write as _;
    writeln!(std::io::stdout(), "{line}").expect("stdout");
}

async fn argon2_rate(state: &AppState) -> f64 {
    let cores = std::thread::available_parallelism().map_or(2, usize::from);
    let done = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..cores {
        let (hasher, done) = (state.hasher.clone(), done.clone());
        tasks.push(tokio::spawn(async move {
            while start.elapsed() < PHASE {
                hasher.hash(Password::new(PASSWORD)).await.expect("hash");
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    for task in tasks {
        task.await.expect("task");
    }
    per_second(done.load(Ordering::Relaxed), start.elapsed())
}

async fn logins_with_silent_sso(bench: &Arc<Bench>) -> (f64, Duration, usize) {
    let done = Arc::new(AtomicUsize::new(0));
    // Every login is a new browser; they share one client's connections, as a load balancer's
    // would, so the load generator spends little of the CPU the center hashes with.
    let shared = reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .expect("client");
    let start = Instant::now();
    let mut logins = Vec::new();
    for _ in 0..LOGIN_CONCURRENCY {
        let (bench, done, shared) = (bench.clone(), done.clone(), shared.clone());
        logins.push(tokio::spawn(async move {
            while start.elapsed() < LOGIN_PHASE {
                if bench.login(&shared, true).await {
                    done.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    let signed_in = bench.signed_in().await;
    let mut latencies = Vec::new();
    while start.elapsed() < LOGIN_PHASE {
        let t = Instant::now();
        bench.code(&signed_in).await.expect("silent code");
        latencies.push(t.elapsed());
        tokio::time::sleep(PROBE_INTERVAL).await;
    }
    for task in logins {
        task.await.expect("task");
    }
    let count = latencies.len();
    (
        per_second(done.load(Ordering::Relaxed), start.elapsed()),
        p99(latencies),
        count,
    )
}

async fn silent_sso_rate(bench: &Arc<Bench>) -> f64 {
    let done = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..CONCURRENCY {
        let (bench, done) = (bench.clone(), done.clone());
        tasks.push(tokio::spawn(async move {
            let client = bench.signed_in().await;
            while start.elapsed() < PHASE {
                if bench.code(&client).await.is_some() {
                    done.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for task in tasks {
        task.await.expect("task");
    }
    per_second(done.load(Ordering::Relaxed), start.elapsed())
}

async fn exchange_rate(bench: &Arc<Bench>) -> f64 {
    let client = bench.signed_in().await;
    let mut codes = Vec::new();
    for _ in 0..2_000 {
        codes.push(bench.code(&client).await.expect("code"));
    }
    let codes = Arc::new(std::sync::Mutex::new(codes));
    let done = Arc::new(AtomicUsize::new(0));
    let api = reqwest::Client::new();
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..CONCURRENCY {
        let (bench, codes, done, api) = (bench.clone(), codes.clone(), done.clone(), api.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let Some(code) = codes.lock().expect("lock").pop() else {
                    break;
                };
                let response = exchange(&api, &bench, &code)
                    .send()
                    .await
                    .expect("token request");
                if response.status() == 200 {
                    done.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for task in tasks {
        task.await.expect("task");
    }
    per_second(done.load(Ordering::Relaxed), start.elapsed())
}

/// The exchange of `code` at `/token` as the bench client.
fn exchange(api: &reqwest::Client, bench: &Bench, code: &str) -> reqwest::RequestBuilder {
    api.post(format!("{}/token", bench.base))
        .basic_auth("bench", Some(SECRET))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", CALLBACK),
            ("code_verifier", VERIFIER),
        ])
}

/// An access token for a signed-in browser.
async fn access_token(bench: &Bench, api: &reqwest::Client) -> String {
    let client = bench.signed_in().await;
    let code = bench.code(&client).await.expect("code");
    let tokens: serde_json::Value = exchange(api, bench, &code)
        .send()
        .await
        .expect("token request")
        .json()
        .await
        .expect("tokens");
    tokens["access_token"]
        .as_str()
        .expect("access token")
        .to_owned()
}

/// Checks of live access tokens per second: at `/userinfo` (the bearer itself) or, with
/// `introspect`, at `/introspect` (a confidential client asking about it).
async fn token_check_rate(bench: &Arc<Bench>, introspect: bool) -> f64 {
    let api = reqwest::Client::new();
    let done = Arc::new(AtomicUsize::new(0));
    let mut tokens = Vec::new();
    for _ in 0..CONCURRENCY {
        tokens.push(access_token(bench, &api).await);
    }
    let start = Instant::now();
    let mut tasks = Vec::new();
    for token in tokens {
        let (bench, done, api) = (bench.clone(), done.clone(), api.clone());
        tasks.push(tokio::spawn(async move {
            while start.elapsed() < PHASE {
                let request = if introspect {
                    api.post(format!("{}/introspect", bench.base))
                        .basic_auth("bench", Some(SECRET))
                        .form(&[("token", token.as_str())])
                } else {
                    api.get(format!("{}/userinfo", bench.base))
                        .bearer_auth(&token)
                };
                let body = request
                    .send()
                    .await
                    .expect("request")
                    .text()
                    .await
                    .expect("body");
                // Introspection answers 200 either way; only an active answer counts.
                if !introspect || body.contains("\"active\":true") {
                    done.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for task in tasks {
        task.await.expect("task");
    }
    per_second(done.load(Ordering::Relaxed), start.elapsed())
}

/// Refreshes per second: `CONCURRENCY` chains, each rotating a family of its own, asking for
/// scope `profile` only, so no id token is signed (the access tokens are opaque).
async fn refresh_rate(bench: &Arc<Bench>) -> f64 {
    let api = reqwest::Client::new();
    let client = bench.signed_in().await;
    let mut chains = Vec::new();
    for _ in 0..CONCURRENCY {
        let code = bench
            .code_for(&client, "openid+profile")
            .await
            .expect("code");
        let tokens: serde_json::Value = exchange(&api, bench, &code)
            .send()
            .await
            .expect("token request")
            .json()
            .await
            .expect("tokens");
        chains.push(
            tokens["refresh_token"]
                .as_str()
                .expect("refresh token")
                .to_owned(),
        );
    }
    let done = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for mut token in chains {
        let (bench, done, api) = (bench.clone(), done.clone(), api.clone());
        tasks.push(tokio::spawn(async move {
            while start.elapsed() < PHASE {
                let response = api
                    .post(format!("{}/token", bench.base))
                    .basic_auth("bench", Some(SECRET))
                    .form(&[
                        ("grant_type", "refresh_token"),
                        ("refresh_token", token.as_str()),
                        ("scope", "profile"),
                    ])
                    .send()
                    .await
                    .expect("refresh");
                let tokens: serde_json::Value = response.json().await.expect("tokens");
                let Some(next) = tokens["refresh_token"].as_str() else {
                    panic!("refresh refused: {tokens}");
                };
                assert!(
                    tokens.get("id_token").is_none(),
                    "no id token was asked for"
                );
                token = next.to_owned();
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    for task in tasks {
        task.await.expect("task");
    }
    per_second(done.load(Ordering::Relaxed), start.elapsed())
}

/// Client-credentials grants per second for the service account `client`.
async fn client_credentials_rate(bench: &Arc<Bench>, client: &'static str) -> f64 {
    let api = reqwest::Client::new();
    let done = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..CONCURRENCY {
        let (bench, done, api) = (bench.clone(), done.clone(), api.clone());
        tasks.push(tokio::spawn(async move {
            while start.elapsed() < PHASE {
                let response = api
                    .post(format!("{}/token", bench.base))
                    .basic_auth(client, Some(SECRET))
                    .form(&[("grant_type", "client_credentials")])
                    .send()
                    .await
                    .expect("token request");
                if response.status() == 200 && response.bytes().await.is_ok() {
                    done.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for task in tasks {
        task.await.expect("task");
    }
    per_second(done.load(Ordering::Relaxed), start.elapsed())
}

/// Client-credentials grants per second for `client`, driven by `wrk` (a load generator in C
/// costing a few microseconds per request) instead of the in-process HTTP client, whose own
/// cost per request would count against the center on these same cores; `None` when wrk is
/// not installed (`scripts/bench-sdk.sh` installs it).
async fn client_credentials_rate_wrk(bench: &Arc<Bench>, client: &str) -> Option<f64> {
    grants_rate_wrk(&format!("{}/token", bench.base), client).await
}

/// Client-credentials requests per second for `client` at `url`, driven by `wrk`.
async fn grants_rate_wrk(url: &str, client: &str) -> Option<f64> {
    use base64::Engine as _;
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{client}:{SECRET}"));
    let script = tempfile::NamedTempFile::new().expect("wrk script");
    std::fs::write(
        script.path(),
        format!(
            "wrk.method = \"POST\"\n\
             wrk.body = \"grant_type=client_credentials\"\n\
             wrk.headers[\"Content-Type\"] = \"application/x-www-form-urlencoded\"\n\
             wrk.headers[\"Authorization\"] = \"Basic {basic}\"\n"
        ),
    )
    .expect("wrk script");
    let output = tokio::process::Command::new("wrk")
        .args(["-t1", &format!("-c{CONCURRENCY}")])
        .arg(format!("-d{}s", PHASE.as_secs()))
        .arg("-s")
        .arg(script.path())
        .arg(url)
        .output()
        .await
        .ok()?;
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        !text.contains("Non-2xx") && !text.contains("Socket errors"),
        "wrk saw failed grants:\n{text}"
    );
    text.lines()
        .find_map(|line| line.strip_prefix("Requests/sec:"))
        .and_then(|value| value.trim().parse().ok())
}

/// The same requests as the grants, driven the same way, answered by a bare actix-web server
/// with as many workers as the center and a fixed token response: what HTTP alone allows on
/// these cores, the ceiling of any grant.
async fn bare_http_rate() -> Option<f64> {
    let workers = std::thread::available_parallelism().map_or(1, usize::from);
    let server = HttpServer::new(|| {
        App::new().route(
            "/token",
            // Reading the form, as a grant does (a body left unread closes the connection).
            web::post().to(|_form: web::Bytes| async {
                HttpResponse::Ok().content_type("application/json").body(
                    r#"{"access_token":"5Yq2n0T4kQ9bW8vX1cZ7aR3eU6hJ0mLp","token_type":"Bearer","expires_in":600,"scope":"reports.read"}"#,
                )
            }),
        )
    })
    .workers(workers)
    .bind(("127.0.0.1", 0))
    .expect("bind");
    let url = format!("http://127.0.0.1:{}/token", server.addrs()[0].port());
    let server = server.run();
    let handle = server.handle();
    tokio::spawn(server);
    let rate = grants_rate_wrk(&url, "svc-opaque").await;
    handle.stop(true).await;
    rate
}

/// Signatures per second of an access token's claims with `alg`, on all cores: the ceiling of
/// JWT access tokens.
async fn signing_rate(state: &AppState, alg: Algorithm) -> f64 {
    let cores = std::thread::available_parallelism().map_or(2, usize::from);
    let done = Arc::new(AtomicUsize::new(0));
    let claims = sso_server::tokens::jwt::JwtAccessClaims::new(
        "http://sso.localhost",
        &sso_server::tokens::AccessGrant {
            client_id: "svc".to_owned(),
            user_id: None,
            sid: None,
            scope: "reports.read".to_owned(),
            grant_id: None,
        },
        Duration::from_secs(600),
    );
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..cores {
        let (keys, done, claims) = (state.keys.clone(), done.clone(), claims.clone());
        tasks.push(tokio::task::spawn_blocking(move || {
            while start.elapsed() < PHASE {
                keys.sign(alg, sso_server::tokens::jwt::TYP, &claims)
                    .expect("signature");
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    for task in tasks {
        task.await.expect("task");
    }
    per_second(done.load(Ordering::Relaxed), start.elapsed())
}

async fn slo_fan_out(bench: &Arc<Bench>, receivers: usize) -> Duration {
    let received = Arc::new(AtomicUsize::new(0));
    let counter = received.clone();
    let server = HttpServer::new(move || {
        let counter = counter.clone();
        App::new().route(
            "/r/{n}",
            web::post().to(move || {
                let counter = counter.clone();
                async move {
                    counter.fetch_add(1, Ordering::Relaxed);
                    HttpResponse::Ok().finish()
                }
            }),
        )
    })
    .bind(("127.0.0.1", 0))
    .expect("bind");
    let port = server.addrs()[0].port();
    tokio::spawn(server.run());
    let state = &bench.state;
    let alice = state
        .users
        .find(&Username::parse("alice").expect("name"))
        .await
        .expect("db")
        .expect("alice");
    let session = state
        .sessions
        .create(&alice, &[], &Default::default())
        .await
        .expect("session");
    for n in 0..receivers {
        let id = format!("rp{n}");
        register(state, &id, Some(format!("http://127.0.0.1:{port}/r/{n}"))).await;
        let id = ClientId::parse(&id).expect("id");
        state
            .sessions
            .register_client(&session.sid, &id)
            .await
            .expect("register");
    }
    let start = Instant::now();
    state
        .sessions
        .end(&session.sid, EndReason::Logout)
        .await
        .expect("end");
    while received.load(Ordering::Relaxed) < receivers {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "SLO did not finish"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    start.elapsed()
}

/// Whether the phase `name` runs: every phase unless `BENCH_ONLY` names others.
fn wanted(name: &str) -> bool {
    std::env::var("BENCH_ONLY").map_or(true, |only| {
        only.split(',').any(|phase| phase.trim() == name)
    })
}

#[tokio::main]
async fn main() {
    let (bench, _dir) = Bench::start().await;
    let bench = Arc::new(bench);
    report("sso-server benchmark (in-process, SQLite, memory store, argon2id m=19456 t=2 p=1)");

    if wanted("logins") {
        // The hashing limit is measured right before and right after the logins, and their mean
        // is the baseline, so a drift in the machine's speed does not skew the ratio.
        let before = argon2_rate(&bench.state).await;
        let (logins, p99_silent, samples) = logins_with_silent_sso(&bench).await;
        let after = argon2_rate(&bench.state).await;
        let hashes = f64::midpoint(before, after);
        report(&format!(
            "argon2id hashes/s (all cores):         {hashes:>9.1}  (before {before:.1}, after {after:.1})"
        ));
        report(&format!(
            "logins/s via POST /login:              {logins:>9.1}  ({:.0}% of the hashing limit)",
            100.0 * logins / hashes
        ));
        report(&format!(
            "  silent /authorize p99 meanwhile:     {:>9.2} ms  ({samples} samples)",
            p99_silent.as_secs_f64() * 1e3
        ));
    }
    if wanted("silent") {
        let silent = silent_sso_rate(&bench).await;
        report(&format!(
            "silent-SSO /authorize req/s:           {silent:>9.1}"
        ));
    }
    if wanted("exchanges") {
        let exchanges = exchange_rate(&bench).await;
        report(&format!(
            "code exchanges/s at /token:            {exchanges:>9.1}"
        ));
    }
    if wanted("checks") {
        let userinfo = token_check_rate(&bench, false).await;
        report(&format!(
            "access-token checks/s at /userinfo:    {userinfo:>9.1}"
        ));
        let introspections = token_check_rate(&bench, true).await;
        report(&format!(
            "introspections/s at /introspect:       {introspections:>9.1}  ({:.2}x /userinfo)",
            introspections / userinfo
        ));
    }
    if wanted("slo") {
        let fan_out = slo_fan_out(&bench, 100).await;
        report(&format!(
            "single logout to 100 clients:          {:>9.1} ms",
            fan_out.as_secs_f64() * 1e3
        ));
    }

    // Keycloak sizes its clusters at 120 of either per second per vCPU.
    let keycloak = 120.0 * std::thread::available_parallelism().map_or(2, usize::from) as f64;
    if wanted("refresh") {
        let refreshes = refresh_rate(&bench).await;
        report(&format!(
            "refreshes/s at /token (opaque, no id): {refreshes:>9.1}  ({:.0}x Keycloak's sizing)",
            refreshes / keycloak
        ));
    }
    if !wanted("grants") {
        return;
    }
    let service = |format, alg| {
        TokenPolicy::new(
            vec![GrantType::ClientCredentials],
            vec!["reports.read".to_owned()],
            format,
            false,
        )
        .map(|policy| (policy, alg))
        .expect("policy")
    };
    for (id, (policy, alg)) in [
        (
            "svc-opaque",
            service(AccessTokenFormat::Opaque, Algorithm::RS256),
        ),
        (
            "svc-rs256",
            service(AccessTokenFormat::Jwt, Algorithm::RS256),
        ),
        (
            "svc-eddsa",
            service(AccessTokenFormat::Jwt, Algorithm::EdDSA),
        ),
    ] {
        register_with(&bench.state, id, None, policy, alg).await;
    }
    let opaque = client_credentials_rate(&bench, "svc-opaque").await;
    report(&format!(
        "client credentials/s (opaque):         {opaque:>9.1}  ({:.0}x Keycloak's sizing)",
        opaque / keycloak
    ));
    let opaque_wrk = client_credentials_rate_wrk(&bench, "svc-opaque").await;
    if let Some(opaque) = opaque_wrk {
        report(&format!(
            "  the same, load from wrk:             {opaque:>9.1}  ({:.0}x Keycloak's sizing)",
            opaque / keycloak
        ));
    }
    let bare = bare_http_rate().await;
    if let Some(bare) = bare {
        report(&format!(
            "bare actix-web, same requests (wrk):   {bare:>9.1}  (HTTP alone: no grant is faster)"
        ));
    }
    for (id, alg, name) in [
        ("svc-rs256", Algorithm::RS256, "RS256"),
        ("svc-eddsa", Algorithm::EdDSA, "EdDSA"),
    ] {
        // The limit is measured right before and right after the grants, and the grants are
        // compared with the mean: a machine that speeds up or slows down meanwhile (frequency,
        // neighbours) moves both alike.
        let before = signing_rate(&bench.state, alg).await;
        let granted = client_credentials_rate(&bench, id).await;
        let granted_wrk = client_credentials_rate_wrk(&bench, id).await;
        let after = signing_rate(&bench.state, alg).await;
        let limit = f64::midpoint(before, after);
        report(&format!(
            "{name} signatures/s (all cores):       {limit:>9.1}  (before {before:.1}, after {after:.1})"
        ));
        report(&format!(
            "client credentials/s (JWT, {name}):   {granted:>9.1}  ({:.0}% of the signing limit)",
            100.0 * granted / limit
        ));
        match granted_wrk {
            Some(granted) => {
                // A JWT grant costs about an opaque grant (whose store write it skips) plus one
                // signature, both on the same cores: about the most it can reach.
                let opaque = opaque_wrk.unwrap_or(opaque);
                let bound = 1.0 / (1.0 / limit + 1.0 / opaque);
                report(&format!(
                    "  the same, load from wrk:             {granted:>9.1}  ({:.0}% of the signing \
                     limit, {:.0}% of the opaque grants, which sign nothing)",
                    100.0 * granted / limit,
                    100.0 * granted / opaque
                ));
                report(&format!(
                    "  one signature + one opaque grant:    {bound:>9.1}  (the JWT grants: {:.0}%)",
                    100.0 * granted / bound
                ));
                if let Some(bare) = bare {
                    let ceiling = 1.0 / (1.0 / limit + 1.0 / bare);
                    report(&format!(
                        "  one signature + bare HTTP:           {ceiling:>9.1}  ({:.0}% of the \
                         signing limit: no JWT grant over HTTP here can pass it)",
                        100.0 * ceiling / limit
                    ));
                }
            }
            None => report("  the same, load from wrk:             (wrk is not installed)"),
        }
    }
}
