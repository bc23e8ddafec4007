//! Sessions at scale: one million live sessions (`SCALE_SESSIONS`) in each backend, each shaped
//! like the record an app's SDK keeps for a signed-in user (claims, CSRF token, id token, access
//! and refresh tokens; about 1.3 KB of JSON) and tagged with its global session's `sid` and its
//! user, as single logout needs. For every backend it prints:
//!
//! - how fast the sessions were written (64 writers);
//! - memory per session: the process's resident memory for the in-process stores (memory, and
//!   the replicated store counted per node: two nodes in one process, each holding every
//!   session), Redis's `used_memory` for Redis and, summed over the primaries, for the Redis
//!   Cluster (`REDIS_CLUSTER_NODES`, comma-separated node URLs; skipped when unset);
//! - `load` latency at that size (one at a time, p50/p99) and throughput (32 at a time);
//! - single-logout latency at that size: `delete_by_tag` of one `sid` (p50/p99).
//!
//! Each backend runs in a process of its own, so one's memory never counts for another's. The
//! Redis keys are written under a prefix of their own and removed afterwards.
//!
//! Run with `scripts/bench.sh scale` (it makes sure Redis and the cluster run) or `cargo bench
//! -p session-store --bench scale`. Environment: `REDIS_URL` (default `redis://127.0.0.1:6379`),
//! `SCALE_SESSIONS` (default 1 000 000), `SCALE_BACKENDS` (comma-separated, default all).
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use session_store::{
    Expiry, IndexTag, MemoryConfig, MemoryStore, Peer, Record, RedisConfig, RedisStore,
    ReplicatedStore, ReplicationConfig, SessionKey, SharedStore,
};

const BACKENDS: &[&str] = &["memory", "replicated", "redis", "redis-cluster"];
const WRITERS: usize = 64;
const LATENCY_SAMPLES: usize = 20_000;
const LOGOUT_SAMPLES: usize = 2_000;
/// Sessions per user (tagged `user`), as with a user signed in to a few apps.
const SESSIONS_PER_USER: usize = 4;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(position) = args.iter().position(|arg| arg == "--backend") {
        let backend = args.get(position + 1).expect("--backend NAME").clone();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("tokio runtime");
        runtime.block_on(measure(&backend));
    } else {
        orchestrate();
    }
}

fn sessions() -> usize {
    std::env::var("SCALE_SESSIONS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000_000)
}

fn orchestrate() {
    let exe = std::env::current_exe().expect("current exe");
    println!(
        "session stores at scale: {} live sessions per backend, {WRITERS} writers, {} cores",
        sessions(),
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    println!(
        "{:<14} {:>10} {:>11} {:>10} {:>10} {:>11} {:>11} {:>11}",
        "backend",
        "writes/s",
        "bytes/sess",
        "load p50",
        "load p99",
        "loads/s",
        "logout p50",
        "logout p99"
    );
    let only = std::env::var("SCALE_BACKENDS").ok();
    for backend in BACKENDS.iter().filter(|backend| {
        only.as_ref()
            .is_none_or(|only| only.split(',').any(|o| o == **backend))
    }) {
        let status = std::process::Command::new(&exe)
            .args(["--backend", backend])
            .status()
            .expect("run a backend");
        if !status.success() {
            eprintln!("{backend}: failed ({status})");
        }
    }
}

/// A record like the one the SDK keeps for a signed-in user of an app.
fn record(i: usize) -> Record {
    let mut record = Record::new(Expiry::new(
        Duration::from_secs(1800),
        Duration::from_secs(8 * 3600),
    ))
    .with_tag(IndexTag::new("sid", &sid(i)).expect("tag"))
    .with_tag(IndexTag::new("user", &format!("u{:08}", i / SESSIONS_PER_USER)).expect("tag"));
    let token = |n: usize| "x".repeat(n);
    record
        .insert(
            "principal",
            serde_json::json!({
                "sub": format!("8d0c5c2e-2f0a-4f7e-9a55-{i:012}"),
                "name": "Alice Example",
                "email": "alice@example.com",
                "preferred_username": "alice",
                "groups": ["staff", "engineering"],
                "sid": sid(i),
            }),
        )
        .expect("insert");
    record.insert("csrf", token(43)).expect("insert");
    record.insert("id_token", token(820)).expect("insert");
    record.insert("access_token", token(43)).expect("insert");
    record.insert("refresh_token", token(43)).expect("insert");
    record
        .insert("access_expires_at", 1_800_000_000_u64)
        .expect("insert");
    record
}

fn sid(i: usize) -> String {
    format!("s{i:015}")
}

/// A prefix of this run's own, so that the keys can be found and removed afterwards.
fn prefix() -> String {
    format!("scale{}:", std::process::id())
}

async fn measure(backend: &str) {
    let n = sessions();
    let (stores, memory): (Vec<Arc<dyn SharedStore>>, Box<dyn Memory>) = match backend {
        "memory" => {
            let config = MemoryConfig {
                max_entries: n + 1,
                ..MemoryConfig::default()
            };
            (vec![Arc::new(MemoryStore::new(config))], Box::new(Resident))
        }
        "replicated" => (replicated_pair().await, Box::new(Resident)),
        "redis" => {
            let url = redis_url();
            let store = RedisStore::new(RedisConfig::new(url.clone()).with_prefix(prefix()))
                .expect("redis config");
            (vec![Arc::new(store)], Box::new(RedisMemory(vec![url])))
        }
        "redis-cluster" => {
            let Some(nodes) = std::env::var("REDIS_CLUSTER_NODES").ok() else {
                println!("{backend:<14} skipped: REDIS_CLUSTER_NODES is not set");
                return;
            };
            let nodes: Vec<String> = nodes.split(',').map(str::to_owned).collect();
            let store = RedisStore::new(RedisConfig::cluster(nodes.clone()).with_prefix(prefix()))
                .expect("cluster config");
            (vec![Arc::new(store)], Box::new(RedisMemory(nodes)))
        }
        other => panic!("unknown backend {other}"),
    };
    let store = Arc::clone(&stores[0]);
    let before = memory.bytes().await;

    let started = Instant::now();
    let keys = fill(&store, n).await;
    let writes_per_sec = n as f64 / started.elapsed().as_secs_f64();
    if stores.len() > 1 {
        // Every node holds every session before memory counts.
        let last = keys.last().expect("a session");
        while stores[1].load(last).await.expect("load").is_none() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let after = memory.bytes().await;
    let per_session =
        after.saturating_sub(before) as f64 / (n as f64 * stores.len() as f64).max(1.0);

    let mut loads = Vec::with_capacity(LATENCY_SAMPLES);
    for i in 0..LATENCY_SAMPLES {
        let key = &keys[spread(i, n)];
        let at = Instant::now();
        assert!(store.load(key).await.expect("load").is_some(), "live");
        loads.push(at.elapsed());
    }
    loads.sort();
    let loads_per_sec = concurrent_loads(&store, &keys).await;

    let mut logouts = Vec::with_capacity(LOGOUT_SAMPLES);
    for i in 0..LOGOUT_SAMPLES {
        let tag = IndexTag::new("sid", &sid(spread(i, n) | 1)).expect("tag");
        let at = Instant::now();
        let ended = store.delete_by_tag(&tag).await.expect("logout");
        logouts.push(at.elapsed());
        assert_eq!(ended, 1, "one session per sid");
    }
    logouts.sort();

    println!(
        "{backend:<14} {writes_per_sec:>10.0} {per_session:>11.0} {:>10} {:>10} {loads_per_sec:>11.0} {:>11} {:>11}",
        micros(percentile(&loads, 0.50)),
        micros(percentile(&loads, 0.99)),
        micros(percentile(&logouts, 0.50)),
        micros(percentile(&logouts, 0.99)),
    );
    memory.clean().await;
}

/// The `i`-th of a set of distinct, scattered session numbers below `n` (even ones, so that
/// the odd ones stay for single logout).
fn spread(i: usize, n: usize) -> usize {
    (i.wrapping_mul(2_654_435_761) % (n / 2).max(1)) * 2
}

fn micros(duration: Duration) -> String {
    format!("{:.0} µs", duration.as_secs_f64() * 1e6)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// Writes `n` sessions with [`WRITERS`] writers; their keys by session number.
async fn fill(store: &Arc<dyn SharedStore>, n: usize) -> Vec<SessionKey> {
    let next = Arc::new(AtomicUsize::new(0));
    let writers: Vec<_> = (0..WRITERS)
        .map(|_| {
            let (store, next) = (Arc::clone(store), Arc::clone(&next));
            tokio::spawn(async move {
                let mut mine = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        return mine;
                    }
                    let session = store.create(record(i)).await.expect("create");
                    mine.push((i, session.key().clone()));
                }
            })
        })
        .collect();
    let mut keys = vec![None; n];
    for writer in writers {
        for (i, key) in writer.await.expect("writer") {
            keys[i] = Some(key);
        }
    }
    keys.into_iter().map(|key| key.expect("written")).collect()
}

async fn concurrent_loads(store: &Arc<dyn SharedStore>, keys: &[SessionKey]) -> f64 {
    let keys: Arc<Vec<SessionKey>> = Arc::new(
        (0..4096)
            .map(|i| keys[spread(i, keys.len())].clone())
            .collect(),
    );
    let deadline = Instant::now() + Duration::from_secs(2);
    let started = Instant::now();
    let readers: Vec<_> = (0..32)
        .map(|reader| {
            let (store, keys) = (Arc::clone(store), Arc::clone(&keys));
            tokio::spawn(async move {
                let mut done = 0_u64;
                let mut i = reader;
                while Instant::now() < deadline {
                    store.load(&keys[i % keys.len()]).await.expect("load");
                    i += 32;
                    done += 1;
                }
                done
            })
        })
        .collect();
    let mut done = 0;
    for reader in readers {
        done += reader.await.expect("reader");
    }
    done as f64 / started.elapsed().as_secs_f64()
}

/// Two replicated nodes in this process that know each other.
async fn replicated_pair() -> Vec<Arc<dyn SharedStore>> {
    const SECRET: &[u8] = b"scale-benchmark-replication-secret-0123456789";
    let addrs: Vec<std::net::SocketAddr> = (0..2)
        .map(|_| {
            let socket = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
            socket.local_addr().expect("addr")
        })
        .collect();
    let mut nodes: Vec<Arc<dyn SharedStore>> = Vec::new();
    let mut started = Vec::new();
    for (i, addr) in addrs.iter().enumerate() {
        let peer = Peer {
            id: format!("n{}", 1 - i),
            addr: addrs[1 - i],
        };
        let config = ReplicationConfig::new(&format!("n{i}"), *addr, vec![peer], SECRET.to_vec());
        let node = ReplicatedStore::start(config).expect("node starts");
        started.push(node.clone());
        nodes.push(Arc::new(node));
    }
    for node in &started {
        assert!(node.wait_ready(Duration::from_secs(10)).await);
    }
    nodes
}

fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// How memory is counted for a backend, and how its data is removed afterwards.
#[async_trait::async_trait]
trait Memory: Send + Sync {
    async fn bytes(&self) -> u64;
    async fn clean(&self) {}
}

/// This process's resident memory.
struct Resident;

#[async_trait::async_trait]
impl Memory for Resident {
    async fn bytes(&self) -> u64 {
        let statm = std::fs::read_to_string("/proc/self/statm").expect("statm");
        let pages: u64 = statm
            .split_whitespace()
            .nth(1)
            .and_then(|pages| pages.parse().ok())
            .expect("resident pages");
        pages * 4096
    }
}

/// `used_memory` summed over the primaries among these Redis servers.
struct RedisMemory(Vec<String>);

impl RedisMemory {
    async fn primaries(&self) -> Vec<redis::aio::MultiplexedConnection> {
        let mut primaries = Vec::new();
        for url in &self.0 {
            let client = redis::Client::open(url.as_str()).expect("redis url");
            // A node that is down (a failed-over primary) holds nothing that counts.
            let Ok(mut conn) = client.get_multiplexed_async_connection().await else {
                continue;
            };
            let role: Vec<redis::Value> = redis::cmd("ROLE")
                .query_async(&mut conn)
                .await
                .expect("ROLE");
            let primary = matches!(role.first(), Some(redis::Value::BulkString(r)) if r == b"master")
                || matches!(role.first(), Some(redis::Value::SimpleString(r)) if r == "master");
            if primary {
                primaries.push(conn);
            }
        }
        primaries
    }
}

#[async_trait::async_trait]
impl Memory for RedisMemory {
    async fn bytes(&self) -> u64 {
        let mut total = 0;
        for mut conn in self.primaries().await {
            let info: String = redis::cmd("INFO")
                .arg("memory")
                .query_async(&mut conn)
                .await
                .expect("INFO");
            total += info
                .lines()
                .find_map(|line| line.strip_prefix("used_memory:"))
                .and_then(|bytes| bytes.trim().parse::<u64>().ok())
                .expect("used_memory");
        }
        total
    }

    /// Removes every key under this run's prefix (`SCAN` and `UNLINK` on each primary).
    async fn clean(&self) {
        let pattern = format!("*{}*", prefix());
        for mut conn in self.primaries().await {
            let mut cursor: u64 = 0;
            loop {
                let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                    .arg(cursor)
                    .arg("MATCH")
                    .arg(&pattern)
                    .arg("COUNT")
                    .arg(10_000)
                    .query_async(&mut conn)
                    .await
                    .expect("SCAN");
                // One command per key (in a cluster, a batch's keys live in many slots), sent
                // in one pipeline.
                let mut pipe = redis::pipe();
                for key in keys {
                    pipe.cmd("UNLINK").arg(key).ignore();
                }
                let _: () = pipe.query_async(&mut conn).await.expect("UNLINK");
                if next == 0 {
                    break;
                }
                cursor = next;
            }
        }
    }
}
