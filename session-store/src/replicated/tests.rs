//! The acceptance suite on a single node, and multi-node behaviour with three nodes on loopback
//! whose peer traffic runs through proxies this test controls, so partitions are real cuts.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use tokio::io::AsyncReadExt as _;

use super::*;
use crate::Expiry;
use crate::testing::Harness;

const SECRET: &[u8] = b"replication-test-secret-0123456789abcdef";

fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

#[derive(Debug)]
struct SingleNode(ReplicatedStore);

#[async_trait]
impl Harness for SingleNode {
    type Store = ReplicatedStore;

    async fn setup() -> Self {
        let config = ReplicationConfig::new("solo", loopback(), Vec::new(), SECRET.to_vec());
        Self(ReplicatedStore::start(config).unwrap())
    }

    fn store(&self) -> ReplicatedStore {
        self.0.clone()
    }
}

crate::acceptance_suite!(SingleNode);

/// A node that has caught up answers a load that moves nothing at once, from its own state.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caught_up_node_answers_loads_at_once() {
    let node = SingleNode::setup().await.store();
    let started = Instant::now();
    while !node.is_ready() {
        assert!(started.elapsed() < Duration::from_secs(5), "never ready");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    crate::testing::answers_loads_at_once(&node).await;
}

/// A TCP proxy between two nodes that the test can cut and heal.
struct Proxy {
    addr: SocketAddr,
    target: Arc<Mutex<Option<SocketAddr>>>,
    open: Arc<AtomicBool>,
    cut: watch::Sender<u64>,
    task: JoinHandle<()>,
}

impl Proxy {
    async fn start() -> Self {
        let listener = TcpListener::bind(loopback()).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let target = Arc::new(Mutex::new(None::<SocketAddr>));
        let open = Arc::new(AtomicBool::new(true));
        let cut = watch::Sender::new(0u64);
        let task = tokio::spawn({
            let (target, open, cut) = (Arc::clone(&target), Arc::clone(&open), cut.clone());
            async move {
                while let Ok((mut inbound, _)) = listener.accept().await {
                    let destination = *lock(&target);
                    let (Some(destination), true) = (destination, open.load(Ordering::SeqCst))
                    else {
                        continue;
                    };
                    let mut cut = cut.subscribe();
                    tokio::spawn(async move {
                        let Ok(mut outbound) = TcpStream::connect(destination).await else {
                            return;
                        };
                        tokio::select! {
                            _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                            _ = cut.changed() => {}
                        }
                    });
                }
            }
        });
        Self {
            addr,
            target,
            open,
            cut,
            task,
        }
    }

    fn point_to(&self, target: SocketAddr) {
        *lock(&self.target) = Some(target);
    }

    fn set_open(&self, open: bool) {
        self.open.store(open, Ordering::SeqCst);
        if !open {
            self.cut.send_modify(|generation| *generation += 1);
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

struct Cluster {
    nodes: Vec<Option<ReplicatedStore>>,
    proxies: HashMap<(usize, usize), Proxy>,
    acknowledged: bool,
}

impl Cluster {
    async fn start(size: usize, acknowledged: bool) -> Self {
        let mut proxies = HashMap::new();
        for from in 0..size {
            for to in (0..size).filter(|&to| to != from) {
                proxies.insert((from, to), Proxy::start().await);
            }
        }
        let mut cluster = Self {
            nodes: (0..size).map(|_| None).collect(),
            proxies,
            acknowledged,
        };
        for node in 0..size {
            cluster.launch(node).await;
        }
        for node in 0..size {
            assert!(cluster.node(node).wait_ready(Duration::from_secs(10)).await);
        }
        cluster
    }

    fn config(&self, node: usize) -> ReplicationConfig {
        let peers = (0..self.nodes.len())
            .filter(|&other| other != node)
            .map(|other| Peer {
                id: format!("n{other}"),
                addr: self.proxies[&(node, other)].addr,
            })
            .collect();
        let mut config =
            ReplicationConfig::new(&format!("n{node}"), loopback(), peers, SECRET.to_vec());
        config.anti_entropy_interval = Duration::from_millis(200);
        config.peer_timeout = Duration::from_millis(500);
        config.acknowledged_writes = self.acknowledged;
        config
    }

    /// Starts (or restarts) a node and points the proxies towards it at its new address.
    async fn launch(&mut self, node: usize) {
        let store = ReplicatedStore::start(self.config(node)).unwrap();
        for ((_, to), proxy) in &self.proxies {
            if *to == node {
                proxy.point_to(store.local_addr());
            }
        }
        self.nodes[node] = Some(store);
    }

    fn node(&self, node: usize) -> &ReplicatedStore {
        self.nodes[node].as_ref().expect("node is running")
    }

    fn kill(&mut self, node: usize) {
        self.nodes[node] = None;
    }

    /// Cuts (or restores) all peer traffic to and from `node`.
    fn isolate(&self, node: usize, isolated: bool) {
        for ((from, to), proxy) in &self.proxies {
            if *from == node || *to == node {
                proxy.set_open(!isolated);
            }
        }
    }

    fn digests(&self, node: usize) -> Vec<u64> {
        lock(&self.node(node).shared.state).digests()
    }
}

fn record(user: &str) -> Record {
    let mut record = Record::new(Expiry::new(
        Duration::from_secs(60),
        Duration::from_secs(120),
    ));
    record.insert("user", user).unwrap();
    record
}

async fn user_on(store: &ReplicatedStore, key: &SessionKey) -> Option<String> {
    store
        .load(key)
        .await
        .unwrap()
        .and_then(|session| session.record().get::<String>("user"))
}

/// Polls `check` until it holds or `within` passes; returns how long it took.
async fn within<Fut: Future<Output = bool>>(
    within: Duration,
    what: &str,
    check: impl Fn() -> Fut,
) -> Duration {
    let started = Instant::now();
    while !check().await {
        assert!(
            started.elapsed() < within,
            "{what} did not happen within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    started.elapsed()
}

const BOUND: Duration = Duration::from_secs(3);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_on_one_node_is_read_on_the_others() {
    let cluster = Cluster::start(3, false).await;
    let session = cluster.node(0).create(record("alice")).await.unwrap();
    for node in [1, 2] {
        within(BOUND, "replication", || async {
            user_on(cluster.node(node), session.key()).await.as_deref() == Some("alice")
        })
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_are_on_a_peer_when_they_return() {
    let cluster = Cluster::start(2, true).await;
    for _ in 0..20 {
        let session = cluster.node(0).create(record("alice")).await.unwrap();
        assert!(cluster.node(1).load(session.key()).await.unwrap().is_some());
        cluster.node(0).delete(session.key()).await.unwrap();
        assert!(cluster.node(1).load(session.key()).await.unwrap().is_none());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delete_on_one_node_is_seen_on_every_node() {
    let cluster = Cluster::start(3, false).await;
    let sid = IndexTag::new("sid", "global-1").unwrap();
    let session = cluster
        .node(0)
        .create(record("alice").with_tag(sid.clone()))
        .await
        .unwrap();
    let other = cluster
        .node(1)
        .create(record("bob").with_tag(sid.clone()))
        .await
        .unwrap();
    within(BOUND, "replication", || async {
        cluster.node(2).list_by_tag(&sid).await.unwrap().len() == 2
    })
    .await;

    cluster.node(0).delete(session.key()).await.unwrap();
    within(BOUND, "delete replication", || async {
        cluster.node(2).load(session.key()).await.unwrap().is_none()
    })
    .await;
    assert_eq!(cluster.node(2).delete_by_tag(&sid).await.unwrap(), 1);
    for node in 0..3 {
        within(BOUND, "delete replication", || async {
            cluster
                .node(node)
                .load(session.key())
                .await
                .unwrap()
                .is_none()
                && cluster
                    .node(node)
                    .load(other.key())
                    .await
                    .unwrap()
                    .is_none()
                && cluster
                    .node(node)
                    .list_by_tag(&sid)
                    .await
                    .unwrap()
                    .is_empty()
        })
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_node_catches_up_before_it_is_ready() {
    let mut cluster = Cluster::start(3, false).await;
    let kept = cluster.node(0).create(record("kept")).await.unwrap();
    let doomed = cluster.node(0).create(record("doomed")).await.unwrap();
    within(BOUND, "replication", || async {
        cluster.node(1).load(doomed.key()).await.unwrap().is_some()
    })
    .await;

    cluster.kill(1);
    let mut written = Vec::new();
    for i in 0..1_500 {
        written.push(
            cluster
                .node(0)
                .create(record(&format!("u{i}")))
                .await
                .unwrap(),
        );
    }
    cluster.node(2).delete(doomed.key()).await.unwrap();

    cluster.launch(1).await;
    let restarted = cluster.node(1);
    assert_eq!(
        user_on(restarted, kept.key()).await.as_deref(),
        Some("kept"),
        "a request arriving while the node catches up waits for it"
    );
    assert!(restarted.is_ready());
    for session in written.iter().step_by(97) {
        assert!(restarted.load(session.key()).await.unwrap().is_some());
    }
    assert!(
        restarted.load(doomed.key()).await.unwrap().is_none(),
        "a record deleted while the node was down must not come back"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_healed_partition_converges_and_deletes_win() {
    let cluster = Cluster::start(3, false).await;
    let shared = cluster.node(0).create(record("before")).await.unwrap();
    within(BOUND, "replication", || async {
        cluster.node(1).load(shared.key()).await.unwrap().is_some()
    })
    .await;

    cluster.isolate(1, true);
    cluster.node(0).delete(shared.key()).await.unwrap();
    let on_majority = cluster.node(2).create(record("majority")).await.unwrap();
    let mut stale = cluster.node(1).load(shared.key()).await.unwrap().unwrap();
    stale.record_mut().insert("user", "stale write").unwrap();
    assert!(cluster.node(1).update(&mut stale).await.unwrap());
    let on_minority = cluster.node(1).create(record("minority")).await.unwrap();
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(
        cluster
            .node(1)
            .load(on_majority.key())
            .await
            .unwrap()
            .is_none(),
        "partition leaked"
    );

    cluster.isolate(1, false);
    for node in 0..3 {
        within(BOUND, "convergence after healing", || async {
            let store = cluster.node(node);
            store.load(shared.key()).await.unwrap().is_none()
                && store.load(on_majority.key()).await.unwrap().is_some()
                && store.load(on_minority.key()).await.unwrap().is_some()
        })
        .await;
    }
    within(BOUND, "identical digests", || async {
        cluster.digests(0) == cluster.digests(1) && cluster.digests(1) == cluster.digests(2)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_conflicting_updates_resolve_the_same_everywhere() {
    let cluster = Cluster::start(3, false).await;
    let created = cluster.node(0).create(record("original")).await.unwrap();
    within(BOUND, "replication", || async {
        cluster.node(1).load(created.key()).await.unwrap().is_some()
            && cluster.node(2).load(created.key()).await.unwrap().is_some()
    })
    .await;

    for round in 0..10 {
        let mut on_a = cluster.node(0).load(created.key()).await.unwrap().unwrap();
        let mut on_b = cluster.node(1).load(created.key()).await.unwrap().unwrap();
        on_a.record_mut()
            .insert("user", format!("a{round}"))
            .unwrap();
        on_b.record_mut()
            .insert("user", format!("b{round}"))
            .unwrap();
        let (a, b) = tokio::join!(
            cluster.node(0).update(&mut on_a),
            cluster.node(1).update(&mut on_b)
        );
        assert!(a.unwrap() && b.unwrap());
        within(BOUND, "agreement", || async {
            let values = [
                user_on(cluster.node(0), created.key()).await,
                user_on(cluster.node(1), created.key()).await,
                user_on(cluster.node(2), created.key()).await,
            ];
            values[0].is_some() && values.iter().all(|value| *value == values[0])
        })
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_taken_on_two_nodes_at_once_has_one_winner() {
    let cluster = Cluster::start(3, false).await;
    for round in 0..20u8 {
        let code = cluster
            .node(0)
            .put_once(vec![round], Duration::from_secs(30))
            .await
            .unwrap();
        let (b, c, a) = tokio::join!(
            cluster.node(1).take(&code),
            cluster.node(2).take(&code),
            cluster.node(0).take(&code),
        );
        let winners = [a.unwrap(), b.unwrap(), c.unwrap()]
            .into_iter()
            .flatten()
            .inspect(|value| assert_eq!(value, &vec![round]))
            .count();
        assert_eq!(winners, 1, "round {round}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counters_are_shared_across_nodes() {
    let cluster = Cluster::start(3, false).await;
    for node in 0..3 {
        cluster
            .node(node)
            .increment("login:alice", Duration::from_secs(30))
            .await
            .unwrap();
    }
    within(BOUND, "counter convergence", || async {
        cluster.node(0).count("login:alice").await.unwrap() == 3
            && cluster.node(2).count("login:alice").await.unwrap() == 3
    })
    .await;
}

/// A slot an outsider would like to plant.
fn forged_push() -> Request {
    let record = record("mallory");
    let slot = WireSlot {
        key: "s:forged-session-key-0000000000000000000000000".to_owned(),
        version: Version {
            wall: Timestamp::now().as_millis(),
            counter: 0,
            node: "n1".to_owned(),
        },
        value: state::WireValue::Session(
            String::from_utf8(crate::record::encode(&record).unwrap()).unwrap(),
        ),
    };
    Request::Push { slots: vec![slot] }
}

/// Sends one frame straight to `node`'s listener and returns whether any answer came back.
async fn answered(target: SocketAddr, codec: &Codec) -> bool {
    let mut stream = TcpStream::connect(target).await.unwrap();
    codec.send(&mut stream, &forged_push(), None).await.unwrap();
    let mut buffer = [0u8; 64];
    matches!(
        tokio::time::timeout(Duration::from_secs(2), stream.read(&mut buffer)).await,
        Ok(Ok(read)) if read > 0
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unauthenticated_peer_messages_are_refused() {
    let cluster = Cluster::start(2, false).await;
    let target = cluster.node(0).local_addr();
    let forged = SessionKey::parse("forged-session-key-0000000000000000000000000").unwrap();

    let wrong_secret = Codec::new("n1", b"not-the-cluster-secret-0123456789abcdef").unwrap();
    assert!(!answered(target, &wrong_secret).await);
    let unknown_node = Codec::new("intruder", SECRET).unwrap();
    assert!(!answered(target, &unknown_node).await);
    assert!(cluster.node(0).load(&forged).await.unwrap().is_none());

    let mut stream = TcpStream::connect(target).await.unwrap();
    let mut garbage = 64u32.to_be_bytes().to_vec();
    garbage.extend([0x55u8; 64]);
    tokio::io::AsyncWriteExt::write_all(&mut stream, &garbage)
        .await
        .unwrap();
    let mut buffer = [0u8; 64];
    let read = tokio::time::timeout(Duration::from_secs(2), stream.read(&mut buffer)).await;
    assert!(
        matches!(read, Ok(Ok(0)) | Ok(Err(_))),
        "garbage got {read:?}"
    );

    let member = Codec::new("n1", SECRET).unwrap();
    assert!(
        answered(target, &member).await,
        "a real peer is still served"
    );
    assert!(cluster.node(0).load(&forged).await.unwrap().is_some());
}

#[test]
fn invalid_configurations_are_refused() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let start = |config: ReplicationConfig| {
        let _entered = runtime.enter();
        ReplicatedStore::start(config)
    };
    let short_secret = ReplicationConfig::new("a", loopback(), Vec::new(), b"short".to_vec());
    assert!(matches!(start(short_secret), Err(Error::Config(_))));
    let bad_id = ReplicationConfig::new("A.B", loopback(), Vec::new(), SECRET.to_vec());
    assert!(matches!(start(bad_id), Err(Error::Config(_))));
    let own_peer = ReplicationConfig::new(
        "a",
        loopback(),
        vec![Peer {
            id: "a".into(),
            addr: loopback(),
        }],
        SECRET.to_vec(),
    );
    assert!(matches!(start(own_peer), Err(Error::Config(_))));
    let valid = ReplicationConfig::new("a", loopback(), Vec::new(), SECRET.to_vec());
    assert!(
        matches!(ReplicatedStore::start(valid), Err(Error::Config(_))),
        "outside a Tokio runtime"
    );
}
