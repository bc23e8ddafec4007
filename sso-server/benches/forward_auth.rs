//! Cost of forward auth on this machine: a harness that prints figures, not a test.
//!
//! Run with `scripts/bench-forward-auth.sh` (or `cargo bench -p sso-server --bench
//! forward_auth`; needs `wrk`, `taskset`, nginx at `NGINX_BIN` or `/usr/sbin/nginx`, and Redis at
//! `REDIS_URL`, by default the local one). `BENCH_ROUNDS` (1) rounds of `BENCH_SECONDS` (5) each,
//! taking turns and keeping each figure's best round, with `wrk -t1 -c32` on core 1 and every
//! server on core 0:
//!
//! - `GET /forward-auth/verify` with a live forward-auth session, as nginx asks it, on the
//!   center with the memory store, the Redis store, and the Redis store with
//!   `store.forward_auth_cache`, against a bare actix-web hello;
//! - a static page through nginx with the snippets' `auth_request` (nginx and the center, memory
//!   store, share core 0) against the same page through nginx without it.
//!
//! Each server is a child process (this binary with `--serve`) pinned with `taskset -c 0`; the
//! center gets one worker, as actix-web starts one per core it may run on. Besides requests/s,
//! the harness reads the CPU time the serving processes spent per request (`/proc/<pid>/stat`):
//! other work on the machine moves throughput much more than it moves that cost, so its ratio
//! is the steadier estimate of the ratio on an idle core.

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use actix_web::{App, HttpResponse, HttpServer, web};
use session_store::{Expiry, MemoryStore, RedisConfig, RedisStore, SharedStore};
use sso_common::nginx::{self, KillOnDrop, Nginx};
use sso_server::config::{ForwardAuthSettings, Secret, Settings, StoreBackend};
use sso_server::domain::Username;
use sso_server::forward_auth::request::HostName;
use sso_server::startup::Application;
use sso_server::users::{GroupChange, GroupName, NewUser, Password};

/// The protected host the sessions are made for.
const HOST: &str = "app.bench";
const CONNECTIONS: u32 = 32;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.iter().position(|arg| arg == "--serve") {
        Some(position) => serve(args.get(position + 1).expect("--serve VARIANT")),
        None => orchestrate(),
    }
}

fn redis_url() -> String {
    std::env::var("REDIS_URL")
        .ok()
        .filter(|url| !url.is_empty())
        .unwrap_or_else(|| "redis://127.0.0.1:6379".to_owned())
}

// ---- the servers (child processes) ----------------------------------------------------------

/// Runs `bare`, `center-memory`, `center-redis` or `center-redis-cached` on a free port; prints `READY <port>
/// <cookie>` once it serves (the cookie names a live forward-auth session on [`HOST`]).
fn serve(variant: &str) {
    actix_web::rt::System::new().block_on(async move {
        if variant == "bare" {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            let port = listener.local_addr().expect("local addr").port();
            let server = HttpServer::new(|| {
                App::new().route(
                    "/",
                    web::get().to(|| async { HttpResponse::Ok().body("hello") }),
                )
            })
            .workers(1)
            .listen(listener)
            .expect("listen")
            .run();
            ready(port, "-");
            server.await.expect("bare server");
            return;
        }
        let mut settings = Settings::default();
        let store: Arc<dyn SharedStore> = match variant {
            "center-memory" => Arc::new(MemoryStore::default()),
            "center-redis" | "center-redis-cached" => {
                let prefix = format!("bench-fa-{}:", std::process::id());
                settings.store.backend = StoreBackend::Redis;
                settings.store.redis_url = Some(Secret::new(redis_url()));
                settings.store.prefix.clone_from(&prefix);
                settings.store.forward_auth_cache = variant == "center-redis-cached";
                Arc::new(
                    RedisStore::new(RedisConfig::new(redis_url()).with_prefix(prefix))
                        .expect("Redis URL"),
                )
            }
            other => panic!("unknown variant {other}"),
        };
        let dir = tempfile::tempdir().expect("temp dir");
        settings.http.port = 0;
        settings.login.trusted_proxies = vec![[127, 0, 0, 1].into()];
        settings.forward_auth = vec![ForwardAuthSettings {
            name: "bench".to_owned(),
            hosts: vec![HOST.to_owned()],
            allowed_users: Vec::new(),
            allowed_groups: vec!["staff".to_owned()],
            idle_timeout_secs: 600,
            absolute_timeout_secs: 3_600,
            mfa: None,
        }];
        let url = format!("sqlite://{}/bench.db?mode=rwc", dir.path().display());
        let pool = sso_server::db::connect_url(&url, 4)
            .await
            .expect("database");
        let app = Application::build_with(settings, pool, store)
            .await
            .expect("application");
        let port = app.port();
        let state = app.state().clone();
        let hash = state
            .hasher
            .hash(Password::new("bench password"))
            .await
            .expect("hash");
        let username = Username::parse("alice").expect("name");
        let user = state
            .users
            .add(
                NewUser {
                    username: username.clone(),
                    name: "Alice".to_owned(),
                    email: "alice@example.test".to_owned(),
                },
                hash,
            )
            .await
            .expect("user");
        let groups = GroupName::parse_list("staff").expect("groups");
        state
            .users
            .change_groups(&username, &GroupChange::Set(groups.clone()))
            .await
            .expect("groups");
        let groups: Vec<GroupName> = groups.into_iter().collect();
        let key = state
            .forward_auth
            .sessions
            .create(
                &HostName::parse(HOST).expect("host"),
                &user,
                &groups,
                "bench-sid",
                Expiry::new(Duration::from_secs(600), Duration::from_secs(3_600)),
            )
            .await
            .expect("a forward-auth session");
        ready(port, key.as_str());
        app.run_until_stopped().await.expect("center");
    });
}

fn ready(port: u16, cookie: &str) {
    let mut out = std::io::stdout().lock();
    writeln!(out, "READY {port} {cookie}").expect("stdout");
    out.flush().expect("stdout");
}

// ---- the load -------------------------------------------------------------------------------

/// Starts `variant` on core 0; its port and session cookie.
fn start(variant: &str) -> (KillOnDrop, u16, String) {
    let mut child = Command::new("taskset")
        .args(["-c", "0"])
        .arg(std::env::current_exe().expect("current exe"))
        .args(["--serve", variant])
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the server (is taskset installed?)");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("server output");
    let words: Vec<&str> = line.split_whitespace().collect();
    assert!(
        words.len() == 3 && words[0] == "READY",
        "{variant}: {line:?}"
    );
    (
        KillOnDrop(child),
        words[1].parse().expect("port"),
        words[2].to_owned(),
    )
}

/// What one wrk run measured.
struct Run {
    per_second: f64,
    requests: f64,
}

/// Requests/s and requests of `wrk` on core 1 against `url` with `headers`; panics when any
/// answer was not 2xx, so a figure is never one of errors.
fn wrk(url: &str, headers: &[String], seconds: u64) -> Run {
    let mut command = Command::new("taskset");
    command.args(["-c", "1", "wrk", "-t1"]);
    command.arg(format!("-c{CONNECTIONS}"));
    command.arg(format!("-d{seconds}s"));
    for header in headers {
        command.args(["-H", header]);
    }
    let output = command.arg(url).output().expect("run wrk");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        !text.contains("Non-2xx or 3xx responses") && !text.contains("Socket errors"),
        "errors under load at {url}:\n{text}"
    );
    let per_second = text
        .lines()
        .find_map(|line| line.strip_prefix("Requests/sec:"))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or_else(|| panic!("no Requests/sec in wrk output:\n{text}"));
    let requests = text
        .lines()
        .find_map(|line| line.trim().split_once(" requests in "))
        .and_then(|(count, _)| count.parse().ok())
        .unwrap_or_else(|| panic!("no request count in wrk output:\n{text}"));
    Run {
        per_second,
        requests,
    }
}

/// CPU time process `pid` has used so far, user and system, in seconds.
fn cpu_seconds(pid: u32, ticks_per_second: f64) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("the server's stat");
    // Fields after the command name (which may hold spaces): utime and stime are the 12th and
    // 13th of them.
    let (_, fields) = stat.rsplit_once(')').expect("a stat line");
    let fields: Vec<&str> = fields.split_whitespace().collect();
    let ticks: f64 = fields[11..=12]
        .iter()
        .map(|field| field.parse::<f64>().expect("a tick count"))
        .sum();
    ticks / ticks_per_second
}

fn ticks_per_second() -> f64 {
    let output = Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .expect("run getconf");
    String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .expect("CLK_TCK")
}

/// What nginx sends the center for a request to `/` on [`HOST`], with the session cookie.
fn verify_headers(cookie: &str) -> Vec<String> {
    vec![
        format!("Cookie: sso_fa_session={cookie}"),
        format!("X-Forwarded-Host: {HOST}"),
        "X-Forwarded-Proto: https".to_owned(),
        "X-Forwarded-Uri: /".to_owned(),
        "X-Forwarded-Method: GET".to_owned(),
    ]
}

/// nginx's servers, one process (pinned to core 0 by its caller): the same static page in
/// `dir/site` on `open_port` and, behind the snippets' `auth_request` to the center at
/// `center_port` (an upstream keeping as many idle connections as wrk makes concurrent
/// requests, as the snippets' guide recommends), on `protected_port`.
fn servers(dir: &Path, open_port: u16, protected_port: u16, center_port: u16) -> String {
    format!(
        r#"    upstream sso_center {{
        server 127.0.0.1:{center_port};
        keepalive {CONNECTIONS};
        keepalive_requests 100000;
    }}
    server {{
        listen 127.0.0.1:{open_port};
        root {dir}/site;
    }}
    server {{
        listen 127.0.0.1:{protected_port};
        server_name {HOST};
        root {dir}/site;
        set $sso_center http://sso_center;
        include {snippets}/server.conf;
        location / {{
            include {snippets}/location.conf;
        }}
    }}
"#,
        dir = dir.display(),
        snippets = nginx::snippets().display(),
    )
}

fn report(line: &str) {
    writeln!(std::io::stdout(), "{line}").expect("stdout");
}

fn free_port() -> u16 {
    sso_common::ports::free_port()
}

/// A variable of the environment as a number, or `default`.
fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

/// One measured URL: what wrk asks, the processes that serve it, the figure it is compared
/// with (the index of its baseline among the loads, and the target), the best requests/s so
/// far and the least CPU time per request (microseconds, all serving processes together).
struct Load {
    name: String,
    url: String,
    headers: Vec<String>,
    servers: Vec<u32>,
    against: Option<(usize, &'static str)>,
    best: f64,
    cpu_us: f64,
}

impl Load {
    fn new(name: &str, url: String, headers: Vec<String>, servers: Vec<u32>) -> Self {
        Self {
            name: name.to_owned(),
            url,
            headers,
            servers,
            against: None,
            best: 0.0,
            cpu_us: f64::INFINITY,
        }
    }

    /// One wrk run, keeping the best figures.
    fn measure(&mut self, seconds: u64, ticks_per_second: f64) {
        let cpu = |servers: &[u32]| -> f64 {
            servers
                .iter()
                .map(|pid| cpu_seconds(*pid, ticks_per_second))
                .sum()
        };
        let before = cpu(&self.servers);
        let run = wrk(&self.url, &self.headers, seconds);
        let used = cpu(&self.servers) - before;
        self.best = self.best.max(run.per_second);
        self.cpu_us = self.cpu_us.min(used * 1e6 / run.requests);
    }

    fn against(mut self, baseline: usize, target: &'static str) -> Self {
        self.against = Some((baseline, target));
        self
    }
}

fn orchestrate() {
    let seconds = env_number("BENCH_SECONDS", 5);
    let rounds = env_number("BENCH_ROUNDS", 1).max(1);
    let ticks = ticks_per_second();
    report(&format!(
        "forward auth, {rounds} round(s) of {seconds} s each (the best round counts): \
         wrk -t1 -c{CONNECTIONS} on core 1, servers on core 0"
    ));

    // Every server runs from the start; the rounds take turns, so a burst of other work on
    // the machine hits a variant and its baseline alike.
    let (bare, bare_port, _) = start("bare");
    let mut loads = vec![Load::new(
        "bare actix-web hello",
        format!("http://127.0.0.1:{bare_port}/"),
        Vec::new(),
        vec![bare.0.id()],
    )];
    let mut centers = Vec::new();
    for (variant, store, target) in [
        ("center-memory", "memory store", ">= 0.60x"),
        ("center-redis", "Redis store", ">= 0.45x"),
        ("center-redis-cached", "Redis, cached", ">= 0.45x"),
    ] {
        let (center, port, cookie) = start(variant);
        loads.push(
            Load::new(
                &format!("/forward-auth/verify ({store})"),
                format!("http://127.0.0.1:{port}/forward-auth/verify"),
                verify_headers(&cookie),
                vec![center.0.id()],
            )
            .against(0, target),
        );
        centers.push((center, port, cookie));
    }
    let (center, center_port, cookie) = &centers[0];
    let page = format!(
        "<!doctype html><title>static</title><p>{}</p>\n",
        "x".repeat(512)
    );
    let (open_port, protected_port) = (free_port(), free_port());
    let mut nginx_dir = std::path::PathBuf::new();
    let _nginx = Nginx::start(
        |dir| {
            nginx_dir = dir.to_path_buf();
            std::fs::create_dir(dir.join("site"))?;
            std::fs::write(dir.join("site/index.html"), page)?;
            Ok(servers(dir, open_port, protected_port, *center_port))
        },
        &["taskset", "-c", "0"],
        &[open_port, protected_port],
    )
    .expect("start nginx");
    let nginx_pid: u32 = std::fs::read_to_string(nginx_dir.join("nginx.pid"))
        .expect("nginx's pid file")
        .trim()
        .parse()
        .expect("nginx's pid");
    let open = loads.len();
    loads.push(Load::new(
        "static page through nginx",
        format!("http://127.0.0.1:{open_port}/"),
        Vec::new(),
        vec![nginx_pid],
    ));
    loads.push(
        Load::new(
            "the same page behind auth_request (memory)",
            format!("http://127.0.0.1:{protected_port}/"),
            vec![
                format!("Host: {HOST}"),
                format!("Cookie: sso_fa_session={cookie}"),
            ],
            vec![nginx_pid, center.0.id()],
        )
        .against(open, ">= 0.50x"),
    );

    for _ in 0..rounds {
        for load in &mut loads {
            load.measure(seconds, ticks);
        }
    }

    // Requests/s depend on whatever else the machine runs; the CPU time the servers spend per
    // request much less, so its ratio (what the throughput ratio would be on an idle core)
    // follows in the last columns. The Redis server's own CPU time is not counted.
    report(&format!(
        "  {:<44} {:>9}        {:>5}   {:>8}  {:>5}",
        "", "req/s", "ratio", "CPU/req", "ratio"
    ));
    for load in &loads {
        let (ratio, cpu_ratio, target) = match load.against {
            None => (1.0, 1.0, String::new()),
            Some((base, target)) => (
                load.best / loads[base].best,
                loads[base].cpu_us / load.cpu_us,
                format!("  (target {target})"),
            ),
        };
        report(&format!(
            "  {:<44} {:>9.0} req/s  {ratio:>5.2}x  {:>6.1} µs  {cpu_ratio:>5.2}x{target}",
            load.name, load.best, load.cpu_us
        ));
    }
}
