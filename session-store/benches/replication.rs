//! The replicated store with three nodes on loopback: replication lag (p50/p99) of single
//! writes, sustained write throughput and the time until peers hold every write, and the cost of
//! the read path relative to the memory store measured in the same run.
//!
//! Run with `cargo bench -p session-store --bench replication`.
#![allow(clippy::print_stdout)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use session_store::{
    Expiry, MemoryStore, Peer, Record, ReplicatedStore, ReplicationConfig, SessionKey, SessionStore,
};

const SECRET: &[u8] = b"replication-benchmark-secret-0123456789";
const LAG_SAMPLES: usize = 2_000;
const WRITERS: usize = 32;
const WRITE_SECONDS: u64 = 3;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(run());
}

fn record() -> Record {
    let mut record = Record::new(Expiry::new(
        Duration::from_secs(1800),
        Duration::from_secs(8 * 3600),
    ));
    record
        .insert("sub", "8d0c5c2e-2f0a-4f7e-9a55-1b1f0f6b2d11")
        .unwrap();
    record.insert("name", "Alice Example").unwrap();
    record
        .insert("csrf", "p8Rq0yQ2m1uVvN6sXl3tZ9wKcE4hJbA7")
        .unwrap();
    record
}

/// Three nodes that know each other: ports are reserved first, then every node starts.
async fn cluster() -> Vec<ReplicatedStore> {
    let addrs: Vec<SocketAddr> = (0..3)
        .map(|_| {
            let socket = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
            socket.local_addr().expect("addr")
        })
        .collect();
    let mut nodes = Vec::new();
    for (i, addr) in addrs.iter().enumerate() {
        let peers = addrs
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .map(|(j, addr)| Peer {
                id: format!("n{j}"),
                addr: *addr,
            })
            .collect();
        let config = ReplicationConfig::new(&format!("n{i}"), *addr, peers, SECRET.to_vec());
        nodes.push(ReplicatedStore::start(config).expect("node starts"));
    }
    for node in &nodes {
        assert!(node.wait_ready(Duration::from_secs(10)).await);
    }
    nodes
}

async fn visible(store: &ReplicatedStore, key: &SessionKey) -> bool {
    store.load(key).await.expect("load").is_some()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

async fn reads_per_second<S: SessionStore + Clone + 'static>(store: S) -> f64 {
    let key = store.create(record()).await.expect("create").key().clone();
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(2);
    let started = Instant::now();
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let (store, key, done) = (store.clone(), key.clone(), Arc::clone(&done));
            tokio::spawn(async move {
                while Instant::now() < deadline {
                    store.load(&key).await.expect("load").expect("live");
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for reader in readers {
        reader.await.expect("reader");
    }
    done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

async fn run() {
    let nodes = cluster().await;
    println!(
        "replicated store: 3 nodes on loopback, {} cores",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );

    let mut lags = Vec::with_capacity(LAG_SAMPLES);
    for _ in 0..LAG_SAMPLES {
        let started = Instant::now();
        let key = nodes[0]
            .create(record())
            .await
            .expect("create")
            .key()
            .clone();
        while !visible(&nodes[1], &key).await {
            tokio::task::yield_now().await;
        }
        lags.push(started.elapsed());
    }
    lags.sort();
    println!(
        "replication lag, one write at a time ({LAG_SAMPLES} writes): p50 {:?}  p99 {:?}  max {:?}",
        percentile(&lags, 0.50),
        percentile(&lags, 0.99),
        lags[lags.len() - 1]
    );

    let written = Arc::new(std::sync::Mutex::new(Vec::new()));
    let deadline = Instant::now() + Duration::from_secs(WRITE_SECONDS);
    let started = Instant::now();
    let writers: Vec<_> = (0..WRITERS)
        .map(|_| {
            let (node, written) = (nodes[0].clone(), Arc::clone(&written));
            tokio::spawn(async move {
                let mut mine = Vec::new();
                while Instant::now() < deadline {
                    mine.push(node.create(record()).await.expect("create").key().clone());
                }
                written.lock().expect("lock").extend(mine);
            })
        })
        .collect();
    for writer in writers {
        writer.await.expect("writer");
    }
    let elapsed = started.elapsed();
    let keys = std::mem::take(&mut *written.lock().expect("lock"));
    let last = keys.last().expect("some writes").clone();
    println!(
        "sustained writes on one node ({WRITERS} writers): {:.0} writes/s ({} in {elapsed:?})",
        keys.len() as f64 / elapsed.as_secs_f64(),
        keys.len()
    );
    let converge = Instant::now();
    for node in &nodes[1..] {
        while !visible(node, &last).await {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    let mut missing = 0;
    for key in &keys {
        for node in &nodes[1..] {
            if !visible(node, key).await {
                missing += 1;
            }
        }
    }
    println!(
        "peers held the last write {:?} after the writers stopped; writes missing on peers: {missing}",
        converge.elapsed()
    );

    let memory = reads_per_second(MemoryStore::default()).await;
    let replicated = reads_per_second(nodes[0].clone()).await;
    println!(
        "read path: memory {memory:.0} loads/s, replicated {replicated:.0} loads/s ({:.2} x memory)",
        replicated / memory
    );
}
