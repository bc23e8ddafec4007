//! Per-request cost of the SDK: requests per second and p99 latency of a "Hello" page taking a
//! [`Principal`] on each local-session backend, against a bare actix-web "Hello" and against
//! actix-session (cookie and Redis) reading one session value, as ratios to bare actix-web
//! measured in the same run; and the axum layer (memory and cookie sessions) against a bare
//! axum "Hello" on a single-threaded Tokio runtime, as ratios to bare axum. Every variant's run
//! follows a run of its baseline, and its ratio is taken to that run (this machine's speed
//! drifts within a minute).
//!
//! Each server runs in a process of its own with one actix worker pinned to core 0
//! (`taskset -c 0`); `wrk -t1 -c32` runs on core 1. Sessions are created in the server process
//! through [`SsoClient::insert_session`] (no center involved), so only the per-request path is
//! measured (cookie sessions are not due for their re-check during the run); before any load,
//! one request checks that the page answers `200 Hello, …` for the signed-in user, so a
//! misconfigured run cannot measure a redirect. Before each run, one request picks up any cookie
//! the server set (a cookie session is resealed once a minute), so wrk presents the latest one
//! as a browser would.
//!
//! Run it with `scripts/bench-sdk.sh` (it installs wrk and makes sure a Redis is there), or
//! `cargo bench -p sso-client --features testing,axum --bench middleware`. Environment:
//! `REDIS_URL` (default `redis://127.0.0.1:6379`), `BENCH_SECONDS` per run (default 1),
//! `BENCH_RUNS` per variant (default 15: many short runs side by side with their baseline
//! say more than a few long ones on a machine whose speed wanders; the median and the
//! quartiles of the ratios are shown), `BENCH_CONNECTIONS` (default 32),
//! `BENCH_ONLY` (comma-separated variant names).
//!
//! `BENCH_MODE=instructions` (`scripts/bench-sdk.sh --instructions`) counts instead the
//! instructions each server executes per request under callgrind: figures that do not move
//! with the machine's load, to see what a change to the per-request path costs or saves.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use actix_web::cookie::Key;
use actix_web::{App, HttpResponse, HttpServer, web};
use session_store::{
    KeyRing, MemoryStore, RedisConfig, RedisStore, ReplicatedStore, ReplicationConfig,
};
use sso_client::actix::SsoMiddleware;
use sso_client::axum::SsoLayer;
use sso_client::{LocalSessions, Principal, Secret, SsoClient, SsoConfig};

/// The variants, in the order they run; the first is the baseline.
const VARIANTS: &[&str] = &[
    "bare",
    "memory",
    "replicated",
    "cookie",
    "cookie+redis-revocations",
    "cookie+redis-cached",
    "redis",
    "redis+local-cache",
    "actix-session-cookie",
    "actix-session-redis",
    "axum-bare",
    "axum+memory",
    "axum+cookie",
];

const COOKIE_NAME: &str = "app_session";

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(position) = args.iter().position(|arg| arg == "--serve") {
        let variant = args.get(position + 1).expect("--serve VARIANT");
        serve(variant);
    } else if std::env::var("BENCH_MODE").as_deref() == Ok("instructions") {
        count_instructions();
    } else {
        orchestrate();
    }
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

fn redis_url() -> String {
    std::env::var("REDIS_URL")
        .ok()
        .filter(|url| !url.is_empty())
        .unwrap_or_else(|| "redis://127.0.0.1:6379".to_owned())
}

// ---- the servers -----------------------------------------------------------------------------

/// Runs the server of `variant` on a free port; prints `READY <port> <cookie>` once it serves.
fn serve(variant: &str) {
    if variant.starts_with("axum") {
        serve_axum(variant);
        return;
    }
    let system = actix_web::rt::System::new();
    system.block_on(async move {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("local addr").port();
        let (server, cookie) = match variant {
            "bare" => (
                HttpServer::new(|| App::new().route("/", web::get().to(bare_hello)))
                    .workers(1)
                    .listen(listener)
                    .expect("listen")
                    .run(),
                String::new(),
            ),
            "actix-session-cookie" => {
                let key = Key::generate();
                let server = HttpServer::new(move || {
                    App::new()
                        .wrap(actix_session::SessionMiddleware::new(
                            actix_session::storage::CookieSessionStore::default(),
                            key.clone(),
                        ))
                        .route("/", web::get().to(session_hello))
                        .route("/set", web::get().to(session_set))
                })
                .workers(1)
                .listen(listener)
                .expect("listen")
                .run();
                (server, String::new())
            }
            "actix-session-redis" => {
                let store = actix_session::storage::RedisSessionStore::new(redis_url())
                    .await
                    .expect("redis session store");
                let key = Key::generate();
                let server = HttpServer::new(move || {
                    App::new()
                        .wrap(actix_session::SessionMiddleware::new(
                            store.clone(),
                            key.clone(),
                        ))
                        .route("/", web::get().to(session_hello))
                        .route("/set", web::get().to(session_set))
                })
                .workers(1)
                .listen(listener)
                .expect("listen")
                .run();
                (server, String::new())
            }
            sdk => {
                let client = sdk_client(sdk, port).await;
                let (key, _) = client
                    .insert_session(claims(), &fake_token(820), Some(&fake_token(43)))
                    .await
                    .expect("insert a session");
                let cookie = format!("{COOKIE_NAME}={}", key.as_str());
                let server = HttpServer::new(move || {
                    App::new()
                        .wrap(SsoMiddleware::new(client.clone()))
                        .route("/", web::get().to(sdk_hello))
                })
                .workers(1)
                .listen(listener)
                .expect("listen")
                .run();
                (server, cookie)
            }
        };
        println!("READY {port} {cookie}");
        std::io::stdout().flush().expect("stdout");
        server.await.expect("server");
    });
}

/// Runs the axum server of `variant` on a single-threaded runtime (as one actix worker);
/// prints `READY <port> <cookie>` once it serves.
fn serve_axum(variant: &str) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("local addr").port();
        let (router, cookie) = match variant {
            "axum-bare" => (
                axum::Router::new().route("/", axum::routing::get(axum_bare_hello)),
                String::new(),
            ),
            sdk => {
                let backend = sdk.strip_prefix("axum+").expect("axum+BACKEND");
                let client = sdk_client(backend, port).await;
                let (key, _) = client
                    .insert_session(claims(), &fake_token(820), Some(&fake_token(43)))
                    .await
                    .expect("insert a session");
                let router = axum::Router::new()
                    .route("/", axum::routing::get(axum_sdk_hello))
                    .layer(SsoLayer::new(client));
                (router, format!("{COOKIE_NAME}={}", key.as_str()))
            }
        };
        println!("READY {port} {cookie}");
        std::io::stdout().flush().expect("stdout");
        axum::serve(listener, router).await.expect("server");
    });
}

async fn sdk_client(variant: &str, port: u16) -> SsoClient {
    let sessions = match variant {
        "memory" => LocalSessions::memory(MemoryStore::default()),
        "replicated" => {
            let config = ReplicationConfig::new(
                "bench-a",
                "127.0.0.1:0".parse().expect("address"),
                Vec::new(),
                vec![7; 32],
            );
            LocalSessions::replicated(ReplicatedStore::start(config).expect("replicated store"))
        }
        "cookie" => LocalSessions::cookie(ring(), MemoryStore::default()),
        "cookie+redis-revocations" => LocalSessions::cookie(ring(), redis_store(false)),
        "cookie+redis-cached" => LocalSessions::cookie(ring(), redis_store(true)),
        "redis" => LocalSessions::redis(redis_store(false)),
        "redis+local-cache" => LocalSessions::redis(redis_store(true)),
        other => panic!("unknown variant {other}"),
    };
    let mut config = SsoConfig::new(
        // Nothing listens there: a signed-in request must never need the center.
        "http://127.0.0.1:9",
        "bench",
        Secret::new("bench-secret-0123456789abcdef"),
        format!("http://127.0.0.1:{port}").parse().expect("url"),
    );
    config.cookie.name = COOKIE_NAME.to_owned();
    // A browser stores the cookie a re-check reseals; wrk keeps sending the first one, which
    // would be due again on every request once the interval passed during the run.
    config.session.recheck_secs = 3600;
    SsoClient::new(config, sessions).expect("client")
}

fn ring() -> KeyRing {
    KeyRing::new("k1", &KeyRing::generate_key()).expect("key ring")
}

fn redis_store(local_cache: bool) -> RedisStore {
    let prefix = format!("bench-sdk-{}:", std::process::id());
    let config = RedisConfig::new(redis_url())
        .with_prefix(prefix)
        .with_local_cache(local_cache);
    RedisStore::new(config).expect("redis store")
}

/// The claims of an id token as the center issues them.
fn claims() -> serde_json::Map<String, serde_json::Value> {
    let claims = serde_json::json!({
        "iss": "https://sso.example.test",
        "sub": "8d0c5c2e-2f0a-4f7e-9a55-1b1f0f6b2d11",
        "aud": "bench",
        "exp": 4_000_000_000u64,
        "iat": 1_700_000_000u64,
        "auth_time": 1_700_000_000u64,
        "nonce": "Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0",
        "sid": "b7f9a1c4e2d84f63a0c1d2e3f4a5b6c7",
        "name": "Alice Liddell",
        "preferred_username": "alice",
        "email": "alice@example.test",
        "groups": ["staff", "admins"],
    });
    claims.as_object().expect("object").clone()
}

/// A token-shaped string of `len` characters (the SDK stores tokens as they came).
fn fake_token(len: usize) -> String {
    "eyJhbGciOiJSUzI1NiJ9.".chars().cycle().take(len).collect()
}

async fn bare_hello() -> HttpResponse {
    HttpResponse::Ok().body("Hello, world")
}

async fn sdk_hello(user: Principal) -> HttpResponse {
    HttpResponse::Ok().body(format!("Hello, {}", user.display_name()))
}

async fn axum_bare_hello() -> &'static str {
    "Hello, world"
}

async fn axum_sdk_hello(user: Principal) -> String {
    format!("Hello, {}", user.display_name())
}

async fn session_hello(session: actix_session::Session) -> HttpResponse {
    match session.get::<String>("user") {
        Ok(Some(user)) => HttpResponse::Ok().body(format!("Hello, {user}")),
        _ => HttpResponse::Unauthorized().finish(),
    }
}

async fn session_set(session: actix_session::Session) -> HttpResponse {
    session
        .insert("user", "Alice Liddell")
        .expect("session insert");
    HttpResponse::Ok().finish()
}

// ---- the load -------------------------------------------------------------------------------

struct Server {
    child: Child,
    port: u16,
    cookie: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The server of `variant`, on core 0.
fn start_server(variant: &str) -> Server {
    let mut command = Command::new("taskset");
    command.args(["-c", "0"]);
    launch(variant, command)
}

/// The server of `variant`, started by `command` (a program that runs the rest of its
/// arguments) and ready to serve a signed-in request.
fn launch(variant: &str, mut command: Command) -> Server {
    let exe = std::env::current_exe().expect("current exe");
    let mut child = command
        .arg(exe)
        .args(["--serve", variant])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|error| panic!("start the server of {variant} with {command:?}: {error}"));
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("server output");
    let mut words = line.split_whitespace();
    assert_eq!(words.next(), Some("READY"), "server of {variant}: {line:?}");
    let port = words.next().and_then(|p| p.parse().ok()).expect("port");
    let mut cookie = words.next().unwrap_or_default().to_owned();
    if variant.starts_with("actix-session") {
        let (_, headers, _) = get(port, "/set", "");
        cookie = set_cookie(&headers).expect("actix-session sets its cookie");
    }
    Server {
        child,
        port,
        cookie,
    }
}

/// One `GET` over a fresh connection: status, head and body.
fn get(port: u16, path: &str, cookie: &str) -> (u16, String, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let cookie = if cookie.is_empty() {
        String::new()
    } else {
        format!("Cookie: {cookie}\r\n")
    };
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{cookie}Connection: close\r\n\r\n"
    )
    .expect("request");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("response");
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, head.to_owned(), body.to_owned())
}

fn set_cookie(head: &str) -> Option<String> {
    head.lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("set-cookie")
                .then_some(value.trim())
        })
        .and_then(|value| value.split(';').next())
        .map(str::to_owned)
}

struct Figures {
    requests_per_sec: f64,
    p99_ms: f64,
    errors: bool,
}

impl Server {
    /// Presents the latest cookie the server set, as a browser does: a session's cookie is
    /// resealed once a minute (sliding expiry), and wrk, which never stores cookies, would
    /// otherwise make every later request present the old one and get the new one back in a
    /// `Set-Cookie`.
    fn follow_cookie(&mut self) {
        if self.cookie.is_empty() {
            return;
        }
        let (_, head, _) = get(self.port, "/", &self.cookie);
        if let Some(cookie) = set_cookie(&head).filter(|cookie| !cookie.ends_with('=')) {
            self.cookie = cookie;
        }
    }
}

fn wrk(server: &mut Server, seconds: u64) -> Figures {
    server.follow_cookie();
    let connections: u32 = env_or("BENCH_CONNECTIONS", 32);
    let url = format!("http://127.0.0.1:{}/", server.port);
    let mut command = Command::new("taskset");
    command.args(["-c", "1", "wrk", "-t1", "--latency"]);
    command.arg(format!("-c{connections}"));
    command.arg(format!("-d{seconds}s"));
    if !server.cookie.is_empty() {
        command.args(["-H", &format!("Cookie: {}", server.cookie)]);
    }
    let output = command
        .arg(url)
        .output()
        .expect("run wrk (scripts/bench-sdk.sh installs it)");
    let text = String::from_utf8_lossy(&output.stdout);
    let requests_per_sec = text
        .lines()
        .find_map(|line| line.strip_prefix("Requests/sec:"))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or_else(|| panic!("no Requests/sec in wrk output:\n{text}"));
    let p99_ms = text
        .lines()
        .find_map(|line| line.trim().strip_prefix("99%"))
        .map_or(f64::NAN, |value| millis(value.trim()));
    Figures {
        requests_per_sec,
        p99_ms,
        errors: text.contains("Non-2xx") || text.contains("Socket errors"),
    }
}

/// wrk's latency (`812.00us`, `1.20ms`, `2.00s`) in milliseconds.
fn millis(text: &str) -> f64 {
    let split = text
        .find(|c: char| c.is_ascii_alphabetic())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().unwrap_or(f64::NAN);
    match unit {
        "us" => number / 1000.0,
        "ms" => number,
        "s" => number * 1000.0,
        _ => f64::NAN,
    }
}

fn median(values: Vec<f64>) -> f64 {
    quartiles(values).1
}

/// The lower quartile, median and upper quartile of `values` (nearest rank).
fn quartiles(mut values: Vec<f64>) -> (f64, f64, f64) {
    values.sort_by(f64::total_cmp);
    let at = |fraction: f64| {
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss
        )]
        let index = ((values.len() - 1) as f64 * fraction).round() as usize;
        values[index]
    };
    (at(0.25), at(0.5), at(0.75))
}

/// The variants `BENCH_ONLY` names (all by default), with the baselines they need.
fn chosen_variants() -> Vec<&'static str> {
    let only: Option<Vec<String>> = std::env::var("BENCH_ONLY")
        .ok()
        .map(|list| list.split(',').map(str::to_owned).collect());
    VARIANTS
        .iter()
        .copied()
        .filter(|variant| {
            *variant == "bare"
                || (*variant == "axum-bare"
                    && only
                        .as_ref()
                        .is_none_or(|only| only.iter().any(|o| o.starts_with("axum"))))
                || only
                    .as_ref()
                    .is_none_or(|only| only.iter().any(|o| o == variant))
        })
        .collect()
}

/// The baseline `variant` is compared with: bare axum for the axum layer, else bare actix-web.
fn baseline_name(variant: &str) -> &'static str {
    if variant.starts_with("axum+") {
        "axum-bare"
    } else {
        "bare"
    }
}

// ---- instructions per request ----------------------------------------------------------------

/// Requests of the shorter and the longer run of each server under callgrind: the difference
/// of their instruction counts, over the difference of their requests, is the count per request
/// without the start-up.
const COUNTED_RUNS: [u32; 2] = [500, 2500];

/// `BENCH_MODE=instructions`: instructions the server executes per request, for each variant,
/// counted by callgrind (valgrind) over one keep-alive connection. Unlike requests per second
/// these are the same from run to run and whatever else the machine does; they leave out the
/// kernel's share of a request, and count an instruction that waits on memory as one.
fn count_instructions() {
    let variants = chosen_variants();
    println!(
        "sso-client middleware benchmark, instructions per request (callgrind; runs of {} and \
         {} requests on one connection, the difference over the difference)",
        COUNTED_RUNS[0], COUNTED_RUNS[1]
    );
    let per_request: Vec<f64> = variants
        .iter()
        .map(|variant| {
            let [short, long] = COUNTED_RUNS.map(|requests| counted_run(variant, requests));
            (long - short) / f64::from(COUNTED_RUNS[1] - COUNTED_RUNS[0])
        })
        .collect();
    println!(
        "{:<26} {:>14} {:>14} {:>9}",
        "variant", "instr/request", "over base", "base/this"
    );
    for (variant, count) in variants.iter().zip(&per_request) {
        let base = variants
            .iter()
            .position(|v| *v == baseline_name(variant))
            .map_or(*count, |b| per_request[b]);
        println!(
            "{variant:<26} {count:>14.0} {:>14.0} {:>8.2}x  (to {})",
            count - base,
            base / count,
            baseline_name(variant)
        );
    }
}

/// Instructions of a server of `variant` under callgrind that answered `requests` signed-in
/// requests (after warming up) and then shut down.
fn counted_run(variant: &str, requests: u32) -> f64 {
    let out = std::env::temp_dir().join(format!(
        "sso-bench-{}-{variant}-{requests}.callgrind",
        std::process::id()
    ));
    let mut valgrind = Command::new("valgrind");
    valgrind
        .arg("--tool=callgrind")
        .arg(format!("--callgrind-out-file={}", out.display()));
    let mut server = launch(variant, valgrind);
    let mut stream = TcpStream::connect(("127.0.0.1", server.port)).expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    for _ in 0..200 + requests {
        let body = keep_alive_get(&mut stream, &server.cookie);
        assert!(body.starts_with(b"Hello, "), "{variant} did not say hello");
    }
    drop(stream);
    // Callgrind writes its counts when the program ends; SIGINT ends both servers cleanly.
    Command::new("kill")
        .args(["-INT", &server.child.id().to_string()])
        .status()
        .expect("kill");
    server.child.wait().expect("server exit");
    let counts = std::fs::read_to_string(&out).expect("callgrind output");
    let _ = std::fs::remove_file(&out);
    counts
        .lines()
        .find_map(|line| {
            line.strip_prefix("summary:")
                .or_else(|| line.strip_prefix("totals:"))
        })
        .and_then(|total| total.trim().parse().ok())
        .expect("callgrind total")
}

/// One `GET /` on an open connection; the response body.
fn keep_alive_get(stream: &mut TcpStream, cookie: &str) -> Vec<u8> {
    let cookie = if cookie.is_empty() {
        String::new()
    } else {
        format!("Cookie: {cookie}\r\n")
    };
    // One write: a request in pieces would wait on delayed acknowledgements (Nagle).
    let request = format!("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n{cookie}\r\n");
    stream.write_all(request.as_bytes()).expect("request");
    let mut received = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        let read = stream.read(&mut chunk).expect("response");
        assert!(read > 0, "the server closed the connection");
        received.extend_from_slice(&chunk[..read]);
        let Some(end) = received.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&received[..end]).to_ascii_lowercase();
        let length: usize = head
            .lines()
            .find_map(|line| line.strip_prefix("content-length:"))
            .and_then(|value| value.trim().parse().ok())
            .expect("content-length");
        if received.len() >= end + 4 + length {
            return received[end + 4..end + 4 + length].to_vec();
        }
    }
}

fn orchestrate() {
    let seconds: u64 = env_or("BENCH_SECONDS", 1);
    let runs: usize = env_or::<usize>("BENCH_RUNS", 15).max(1);
    let variants = chosen_variants();
    println!(
        "sso-client middleware benchmark: {runs} rounds of {seconds} s per variant, \
         wrk -t1 -c{} on core 1, one actix worker on core 0; medians over the rounds, each ratio \
         taken to a run of the baseline right before the variant's (its quartiles shown too)",
        env_or::<u32>("BENCH_CONNECTIONS", 32)
    );
    let mut servers: Vec<Server> = variants
        .iter()
        .map(|variant| {
            let mut server = start_server(variant);
            let (status, _, body) = get(server.port, "/", &server.cookie);
            assert!(
                status == 200 && body.starts_with("Hello, "),
                "{variant}: the signed-in page answered {status} {body:?}"
            );
            wrk(&mut server, 1);
            server
        })
        .collect();
    // Each round runs every variant right after a run of its baseline (bare actix-web, or bare
    // axum for the axum layer), and takes the ratio to that run: the machine's speed drifts
    // over a round, so a baseline measured a minute earlier would be compared with another
    // machine. Rounds go through every variant in turn, so noise from the rest of the machine
    // spreads over all of them instead of landing on whichever ran at the time.
    let baseline_of = |variant: &str| variants.iter().position(|v| *v == baseline_name(variant));
    let mut figures: Vec<Vec<Figures>> = variants.iter().map(|_| Vec::new()).collect();
    let mut ratios: Vec<Vec<f64>> = variants.iter().map(|_| Vec::new()).collect();
    for _ in 0..runs {
        for (i, variant) in variants.iter().enumerate() {
            let baseline = baseline_of(variant).filter(|&b| b != i);
            let before = baseline.map(|b| wrk(&mut servers[b], seconds));
            let measured = wrk(&mut servers[i], seconds);
            ratios[i].push(
                before
                    .as_ref()
                    .map_or(1.0, |b| measured.requests_per_sec / b.requests_per_sec),
            );
            if let (Some(b), Some(before)) = (baseline, before) {
                figures[b].push(before);
            }
            figures[i].push(measured);
        }
    }
    println!(
        "{:<26} {:>12} {:>10} {:>9} {:>13}",
        "variant", "req/s", "p99 ms", "/ base", "quartiles"
    );
    for (i, variant) in variants.iter().enumerate() {
        let runs = &figures[i];
        let errors = runs.iter().any(|run| run.errors);
        let rps = median(runs.iter().map(|run| run.requests_per_sec).collect());
        let p99 = median(runs.iter().map(|run| run.p99_ms).collect());
        let (low, ratio, high) = quartiles(ratios[i].clone());
        let base = baseline_of(variant).map_or("", |b| variants[b]);
        println!(
            "{variant:<26} {rps:>12.0} {p99:>10.2} {ratio:>8.2}x {low:>6.2}-{high:.2}  (to {base}){}",
            if errors { "  (errors!)" } else { "" }
        );
    }
}
