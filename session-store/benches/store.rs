//! Throughput of `load` and `update` on every backend, and for Redis the ratio to raw `GET`/`SET`
//! round trips made with the same client library against the same server: the physical limit of
//! a store that needs one round trip per operation. Then every operation of the Redis store on
//! one Redis against a Redis Cluster (`REDIS_CLUSTER_NODES`, comma-separated node URLs), with
//! the ratio cluster / one Redis.
//!
//! Run with `scripts/bench.sh` (it makes sure a Redis and a Redis Cluster are there; `REDIS_URL`
//! and `REDIS_CLUSTER_NODES` pick others). `BENCH_SECONDS` sets the time per figure (default 2).
#![allow(clippy::print_stdout)]

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use session_store::{
    CookieStore, CounterStore, Expiry, IndexTag, KeyRing, MemoryStore, OneTimeStore, Record,
    RedisConfig, RedisStore, Session, SessionIndex, SessionStore,
};

/// Operations kept in flight at once in the concurrent runs.
const IN_FLIGHT: usize = 64;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(run());
}

fn seconds() -> Duration {
    let seconds = std::env::var("BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .unwrap_or(2.0);
    Duration::from_secs_f64(seconds)
}

/// A typical session: user, roles, the SSO sid tag and a CSRF token.
fn record() -> Record {
    let mut record = Record::new(Expiry::new(
        Duration::from_secs(1800),
        Duration::from_secs(8 * 3600),
    ));
    record
        .insert("sub", "8d0c5c2e-2f0a-4f7e-9a55-1b1f0f6b2d11")
        .unwrap();
    record.insert("name", "Alice Example").unwrap();
    record.insert("email", "alice@example.test").unwrap();
    record.insert("roles", ["user", "admin"]).unwrap();
    record
        .insert("csrf", "p8Rq0yQ2m1uVvN6sXl3tZ9wKcE4hJbA7")
        .unwrap();
    record.with_tag(session_store::IndexTag::new("sid", "b7f9a1c4e2d84f63").unwrap())
}

/// Runs `op` with `parallel` copies in flight for the configured time; returns ops/s.
async fn measure<F, Fut>(parallel: usize, op: F) -> f64
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send,
{
    let op = Arc::new(op);
    for _ in 0..200 {
        op().await;
    }
    let deadline = Instant::now() + seconds();
    let started = Instant::now();
    let workers: Vec<_> = (0..parallel)
        .map(|_| {
            let op = Arc::clone(&op);
            tokio::spawn(async move {
                let mut done = 0u64;
                while Instant::now() < deadline {
                    op().await;
                    done += 1;
                }
                done
            })
        })
        .collect();
    let mut total = 0;
    for worker in workers {
        total += worker.await.expect("worker");
    }
    total as f64 / started.elapsed().as_secs_f64()
}

struct Figures {
    load: f64,
    update: f64,
}

async fn bench_store<S: SessionStore + Clone + 'static>(store: S, parallel: usize) -> Figures {
    let session = store.create(record()).await.expect("create");
    let key = session.key().clone();
    let load = {
        let (store, key) = (store.clone(), key.clone());
        measure(parallel, move || {
            let (store, key) = (store.clone(), key.clone());
            async move {
                store.load(&key).await.expect("load").expect("live session");
            }
        })
        .await
    };
    let update = {
        let store = store.clone();
        measure(parallel, move || {
            let (store, mut session): (S, Session) = (store.clone(), session.clone());
            async move {
                assert!(store.update(&mut session).await.expect("update"));
            }
        })
        .await
    };
    Figures { load, update }
}

async fn raw_redis(url: &str, parallel: usize, value: Vec<u8>) -> Figures {
    let client = redis::Client::open(url).expect("redis url");
    let conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("redis connection");
    let key = "bench:raw:session";
    let get = {
        let conn = conn.clone();
        measure(parallel, move || {
            let mut conn = conn.clone();
            async move {
                let _: Option<Vec<u8>> = redis::cmd("GET")
                    .arg(key)
                    .query_async(&mut conn)
                    .await
                    .expect("GET");
            }
        })
        .await
    };
    let set = measure(parallel, move || {
        let (mut conn, value) = (conn.clone(), value.clone());
        async move {
            redis::cmd("SET")
                .arg(key)
                .arg(value)
                .arg("PX")
                .arg(60_000)
                .query_async::<()>(&mut conn)
                .await
                .expect("SET");
        }
    })
    .await;
    Figures {
        load: get,
        update: set,
    }
}

fn row(name: &str, parallel: usize, figures: &Figures) {
    println!(
        "{name:<28} {parallel:>4} in flight   load {:>10.0} ops/s   update {:>10.0} ops/s",
        figures.load, figures.update
    );
}

/// A typical session with a `sid` tag of its own, living a minute (the benchmark makes many).
fn fresh_record(next: &AtomicU64) -> Record {
    let sid = format!("bench-{}", next.fetch_add(1, Ordering::Relaxed));
    let mut record = Record::new(Expiry::new(
        Duration::from_secs(60),
        Duration::from_secs(120),
    ));
    record.insert("sub", "8d0c5c2e").unwrap();
    record.insert("roles", ["user", "admin"]).unwrap();
    record
        .with_tag(IndexTag::new("sid", &sid).unwrap())
        .with_tag(IndexTag::new("user", "8d0c5c2e").unwrap())
}

/// Every operation of the Redis store, in ops/s, under the names printed.
async fn every_operation(store: &RedisStore, parallel: usize) -> Vec<(&'static str, f64)> {
    let next = Arc::new(AtomicU64::new(0));
    let live = store.create(fresh_record(&next)).await.expect("create");
    let mut figures = Vec::new();
    let (s, n) = (store.clone(), Arc::clone(&next));
    figures.push((
        "create",
        measure(parallel, move || {
            let (s, n) = (s.clone(), Arc::clone(&n));
            async move {
                s.create(fresh_record(&n)).await.expect("create");
            }
        })
        .await,
    ));
    let (s, key) = (store.clone(), live.key().clone());
    figures.push((
        "load",
        measure(parallel, move || {
            let (s, key) = (s.clone(), key.clone());
            async move {
                s.load(&key).await.expect("load").expect("live session");
            }
        })
        .await,
    ));
    let s = store.clone();
    figures.push((
        "update",
        measure(parallel, move || {
            let (s, mut session) = (s.clone(), live.clone());
            async move {
                assert!(s.update(&mut session).await.expect("update"));
            }
        })
        .await,
    ));
    let (s, n) = (store.clone(), Arc::clone(&next));
    figures.push((
        "create + delete",
        measure(parallel, move || {
            let (s, n) = (s.clone(), Arc::clone(&n));
            async move {
                let session = s.create(fresh_record(&n)).await.expect("create");
                s.delete(session.key()).await.expect("delete");
            }
        })
        .await,
    ));
    let (s, n) = (store.clone(), Arc::clone(&next));
    figures.push((
        "create + single logout",
        measure(parallel, move || {
            let (s, n) = (s.clone(), Arc::clone(&n));
            async move {
                let session = s.create(fresh_record(&n)).await.expect("create");
                let sid = session
                    .record()
                    .tags()
                    .find(|tag| tag.name() == "sid")
                    .expect("sid tag")
                    .clone();
                assert_eq!(s.delete_by_tag(&sid).await.expect("logout"), 1);
            }
        })
        .await,
    ));
    let s = store.clone();
    figures.push((
        "code put + take",
        measure(parallel, move || {
            let s = s.clone();
            async move {
                let code = s
                    .put_once(vec![7; 200], Duration::from_secs(60))
                    .await
                    .expect("put");
                assert!(s.take(&code).await.expect("take").is_some());
            }
        })
        .await,
    ));
    let (s, n) = (store.clone(), next);
    figures.push((
        "increment",
        measure(parallel, move || {
            let s = s.clone();
            let name = format!("bench-{}", n.fetch_add(1, Ordering::Relaxed) % 1000);
            async move {
                s.increment(&name, Duration::from_secs(60))
                    .await
                    .expect("increment");
            }
        })
        .await,
    ));
    figures
}

/// Raw `GET`s of one key through `conn`, in ops/s: what the client library itself costs.
async fn raw_get<C>(conn: C, parallel: usize) -> f64
where
    C: redis::aio::ConnectionLike + Clone + Send + Sync + 'static,
{
    measure(parallel, move || {
        let mut conn = conn.clone();
        async move {
            let _: Option<Vec<u8>> = redis::cmd("GET")
                .arg("bench:raw:session")
                .query_async(&mut conn)
                .await
                .expect("GET");
        }
    })
    .await
}

/// One Redis against the cluster, operation by operation, after raw `GET`s through each client.
async fn single_against_cluster(
    single: &RedisStore,
    cluster: &RedisStore,
    url: &str,
    nodes: Vec<String>,
) {
    let single_conn = redis::Client::open(url)
        .expect("redis url")
        .get_multiplexed_async_connection()
        .await
        .expect("redis connection");
    let cluster_conn = redis::cluster::ClusterClient::new(nodes)
        .expect("cluster urls")
        .get_async_connection()
        .await
        .expect("cluster connection");
    println!();
    println!("one Redis against a Redis Cluster (ops/s; ratio cluster / one Redis)");
    for parallel in [1, IN_FLIGHT] {
        let mut one = vec![(
            "raw GET (client only)",
            raw_get(single_conn.clone(), parallel).await,
        )];
        let mut many = vec![(
            "raw GET (client only)",
            raw_get(cluster_conn.clone(), parallel).await,
        )];
        one.extend(every_operation(single, parallel).await);
        many.extend(every_operation(cluster, parallel).await);
        for ((name, one), (_, many)) in one.into_iter().zip(many) {
            println!(
                "{name:<24} {parallel:>4} in flight   one Redis {one:>10.0}   cluster {many:>10.0}   {:>6.2} x",
                many / one
            );
        }
    }
}

async fn run() {
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let encoded_len = session_store::record::encode(&record())
        .expect("encode")
        .len();
    println!(
        "session-store benchmark: {:?} per figure, record of {encoded_len} bytes, {} cores",
        seconds(),
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );

    let memory = MemoryStore::default();
    let cookie = CookieStore::new(
        "session",
        KeyRing::new("k1", &KeyRing::generate_key()).unwrap(),
    );
    let deflated = CookieStore::new(
        "session",
        KeyRing::new("k1", &KeyRing::generate_key()).unwrap(),
    )
    .with_compression();
    let prefix = format!("bench:{}:", std::process::id());
    let redis_store =
        RedisStore::new(RedisConfig::new(url.clone()).with_prefix(prefix)).expect("redis config");

    for parallel in [1, IN_FLIGHT] {
        println!();
        row(
            "memory",
            parallel,
            &bench_store(memory.clone(), parallel).await,
        );
        row(
            "cookie (AES-256-GCM)",
            parallel,
            &bench_store(cookie.clone(), parallel).await,
        );
        row(
            "cookie, deflated",
            parallel,
            &bench_store(deflated.clone(), parallel).await,
        );
        let store = bench_store(redis_store.clone(), parallel).await;
        row("redis store", parallel, &store);
        let raw = raw_redis(&url, parallel, vec![b'x'; encoded_len]).await;
        row("redis raw GET / SET", parallel, &raw);
        println!(
            "{:<28} {parallel:>4} in flight   load {:>10.2} x GET     update {:>10.2} x SET",
            "redis store / raw",
            store.load / raw.load,
            store.update / raw.update
        );
    }

    match std::env::var("REDIS_CLUSTER_NODES") {
        Ok(nodes) if !nodes.trim().is_empty() => {
            let nodes: Vec<String> = nodes.split(',').map(|n| n.trim().to_owned()).collect();
            let prefix = format!("bench:{}:", std::process::id());
            let cluster = RedisStore::new(RedisConfig::cluster(nodes.clone()).with_prefix(prefix))
                .expect("cluster config");
            single_against_cluster(&redis_store, &cluster, &url, nodes).await;
        }
        _ => println!("\nno REDIS_CLUSTER_NODES: one Redis against a cluster not measured"),
    }
}
