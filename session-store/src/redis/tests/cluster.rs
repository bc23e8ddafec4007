//! The store on a real Redis Cluster: the acceptance suite against the shared 6-node cluster of
//! the test environment (`REDIS_CLUSTER_NODES`, started by scripts/test.sh; without it those
//! tests say they are skipped), checks that keys spread over every primary and that replicas
//! are never used, and a failover on a cluster of this test's own.

use redis::cluster::ClusterClient;

use super::*;

const SKIPPED: &str =
    "REDIS_CLUSTER_NODES is not set (scripts/test.sh starts a Redis Cluster and sets it)";

/// The nodes of the shared cluster, if the environment has one.
fn cluster_nodes() -> Option<Vec<String>> {
    std::env::var("REDIS_CLUSTER_NODES")
        .ok()
        .filter(|nodes| !nodes.trim().is_empty())
        .map(|nodes| {
            nodes
                .split(',')
                .map(|node| node.trim().to_owned())
                .collect()
        })
}

fn cluster_store(nodes: Vec<String>, prefix: &str) -> RedisStore {
    RedisStore::new(RedisConfig::cluster(nodes).with_prefix(prefix)).unwrap()
}

#[derive(Debug)]
struct ClusterHarness {
    store: RedisStore,
    nodes: Vec<String>,
    prefix: String,
}

#[async_trait]
impl Harness for ClusterHarness {
    type Store = RedisStore;

    async fn setup() -> Self {
        let nodes = cluster_nodes().expect(SKIPPED);
        let prefix = unique_prefix();
        Self {
            store: cluster_store(nodes.clone(), &prefix),
            nodes,
            prefix,
        }
    }

    fn store(&self) -> RedisStore {
        self.store.clone()
    }

    async fn second_store(&self) -> RedisStore {
        cluster_store(self.nodes.clone(), &self.prefix)
    }

    fn unavailable() -> Option<String> {
        cluster_nodes().is_none().then(|| SKIPPED.to_owned())
    }
}

#[async_trait]
impl RawBytes for ClusterHarness {
    async fn write_raw(&self, bytes: &[u8], ttl: Duration) -> SessionKey {
        let key = SessionKey::generate();
        let client = ClusterClient::new(self.nodes.clone()).unwrap();
        let mut conn = client.get_async_connection().await.unwrap();
        redis::cmd("SET")
            .arg(format!("{}s:{}", self.prefix, key.as_str()))
            .arg(bytes)
            .arg("PX")
            .arg(millis(ttl))
            .query_async::<()>(&mut conn)
            .await
            .unwrap();
        key
    }
}

crate::acceptance_suite!(ClusterHarness);
crate::stored_bytes_suite!(ClusterHarness);

fn tagged(tags: &[&IndexTag]) -> Record {
    let mut record = Record::new(expiry());
    for tag in tags {
        record.tag((*tag).clone());
    }
    record
}

/// A node of a cluster, by its line in `CLUSTER NODES`.
#[derive(Debug)]
struct Node {
    url: String,
    primary: bool,
}

/// Every node of the cluster that `url` belongs to.
async fn nodes_of(url: &str) -> Vec<Node> {
    let mut conn = Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let listing: String = redis::cmd("CLUSTER")
        .arg("NODES")
        .query_async(&mut conn)
        .await
        .unwrap();
    listing
        .lines()
        .filter(|line| !line.contains("fail"))
        .filter_map(|line| {
            let fields: Vec<&str> = line.split(' ').collect();
            let address = fields.get(1)?.split('@').next()?;
            Some(Node {
                url: format!("redis://{address}"),
                primary: fields.get(2)?.contains("master"),
            })
        })
        .collect()
}

async fn node_query<T: redis::FromRedisValue>(url: &str, command: &redis::Cmd) -> T {
    let mut conn = Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    command.query_async(&mut conn).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_and_indexes_spread_over_every_primary() {
    let Some(nodes) = cluster_nodes() else {
        eprintln!("skipped: {SKIPPED}");
        return;
    };
    let prefix = unique_prefix();
    let store = cluster_store(nodes.clone(), &prefix);
    for i in 0..60 {
        let tag = IndexTag::new("sid", &format!("s-{i}")).unwrap();
        store.create(tagged(&[&tag])).await.unwrap();
    }
    let primaries: Vec<Node> = nodes_of(&nodes[0])
        .await
        .into_iter()
        .filter(|node| node.primary)
        .collect();
    assert_eq!(primaries.len(), 3, "{primaries:?}");
    for primary in &primaries {
        let mut keys = redis::cmd("KEYS");
        keys.arg(format!("{prefix}*"));
        let held: Vec<String> = node_query(&primary.url, &keys).await;
        assert!(
            held.iter()
                .any(|key| key.starts_with(&format!("{prefix}s:")))
                && held
                    .iter()
                    .any(|key| key.starts_with(&format!("{prefix}t:"))),
            "{} holds no session or no index of this test: {held:?}",
            primary.url
        );
    }
}

/// Replicas serve nothing: a command a client sent there would show in its command statistics
/// (commands replicated from the primary are writes, never `GET`, `GETDEL` or scripts).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_are_never_read_from_nor_written_to() {
    let Some(nodes) = cluster_nodes() else {
        eprintln!("skipped: {SKIPPED}");
        return;
    };
    let store = cluster_store(nodes.clone(), &unique_prefix());
    let tag = IndexTag::new("sid", "s-1").unwrap();
    for _ in 0..20 {
        let mut session = store.create(tagged(&[&tag])).await.unwrap();
        assert!(store.load(session.key()).await.unwrap().is_some());
        assert!(store.update(&mut session).await.unwrap());
        let code = store
            .put_once(vec![1], Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(store.take(&code).await.unwrap(), Some(vec![1]));
        store.increment("n", Duration::from_secs(5)).await.unwrap();
        store.count("n").await.unwrap();
    }
    assert_eq!(store.list_by_tag(&tag).await.unwrap().len(), 20);
    assert_eq!(store.delete_by_tag(&tag).await.unwrap(), 20);

    let replicas: Vec<Node> = nodes_of(&nodes[0])
        .await
        .into_iter()
        .filter(|node| !node.primary)
        .collect();
    assert_eq!(replicas.len(), 3, "{replicas:?}");
    let mut info = redis::cmd("INFO");
    info.arg("commandstats");
    for replica in &replicas {
        let stats: String = node_query(&replica.url, &info).await;
        for command in ["get", "getdel", "evalsha", "eval", "exists", "zrange"] {
            assert!(
                !stats.contains(&format!("cmdstat_{command}:")),
                "replica {} was sent {command}: {stats}",
                replica.url
            );
        }
    }
}

/// The invariant that keeps single logout complete without multi-key scripts: whatever runs at
/// the same time, every live session is listed under its tags.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_live_session_is_missing_from_its_indexes_under_concurrency() {
    let Some(nodes) = cluster_nodes() else {
        eprintln!("skipped: {SKIPPED}");
        return;
    };
    let prefix = unique_prefix();
    let stores = [
        cluster_store(nodes.clone(), &prefix),
        cluster_store(nodes, &prefix),
    ];
    let sid = IndexTag::new("sid", "shared").unwrap();
    let user = IndexTag::new("user", "alice").unwrap();
    let mut tasks = Vec::new();
    for i in 0..120 {
        let store = stores[i % 2].clone();
        let (sid, user) = (sid.clone(), user.clone());
        tasks.push(tokio::spawn(async move {
            match i % 6 {
                // Logouts of the sid, racing the creations and updates.
                0 => {
                    store.delete_by_tag(&sid).await.unwrap();
                }
                // Updates that drop and add tags.
                1 => {
                    let mut session = store.create(tagged(&[&sid, &user])).await.unwrap();
                    let mut record = tagged(&[&user]);
                    std::mem::swap(session.record_mut(), &mut record);
                    store.update(&mut session).await.unwrap();
                    session.record_mut().tag(sid.clone());
                    store.update(&mut session).await.unwrap();
                }
                _ => {
                    store.create(tagged(&[&sid, &user])).await.unwrap();
                }
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let last = stores[0].create(tagged(&[&sid, &user])).await.unwrap();

    let mut by_sid = stores[0].list_by_tag(&sid).await.unwrap();
    let mut by_user = stores[1].list_by_tag(&user).await.unwrap();
    by_sid.sort();
    by_user.sort();
    // Every session was made with both tags and ends with both: both lists name the same ones.
    assert_eq!(by_sid, by_user);
    assert!(by_sid.contains(last.key()));
    assert_eq!(stores[1].delete_by_tag(&sid).await.unwrap(), by_sid.len());
    for key in &by_sid {
        assert!(stores[0].load(key).await.unwrap().is_none());
    }
    assert!(stores[0].list_by_tag(&user).await.unwrap().is_empty());
}

#[test]
fn a_cluster_refuses_a_local_cache_a_braced_prefix_and_no_nodes() {
    let nodes = vec!["redis://127.0.0.1:7101".to_owned()];
    let refused = [
        RedisStore::new(RedisConfig::cluster(nodes.clone()).with_local_cache(true)),
        RedisStore::new(RedisConfig::cluster(nodes.clone()).with_prefix("{sso}:")),
        RedisStore::new(RedisConfig::cluster(Vec::new())),
        RedisStore::new(RedisConfig::cluster(vec!["http://nowhere".to_owned()])),
    ];
    for result in refused {
        assert!(matches!(result, Err(Error::Config(_))), "{result:?}");
    }
    let shown = format!(
        "{:?}",
        RedisConfig::cluster(vec!["redis://:hunter2@127.0.0.1:7101".to_owned()])
    );
    assert!(!shown.contains("hunter2"), "{shown}");
}

/// A cluster of this test's own: six `redis-server` processes (killed when dropped), three
/// primaries with a replica each, failing over after 1 s without its primary.
struct OwnCluster {
    nodes: Vec<RedisProcess>,
    _dirs: Vec<tempfile::TempDir>,
}

impl OwnCluster {
    fn start() -> Self {
        let mut nodes = Vec::new();
        let mut dirs = Vec::new();
        for _ in 0..6 {
            let dir = temp_dir();
            let bus = free_port().to_string();
            nodes.push(RedisProcess::start(
                dir.path(),
                free_port(),
                &[
                    "--cluster-enabled",
                    "yes",
                    "--cluster-node-timeout",
                    "1000",
                    "--cluster-port",
                    &bus,
                ],
            ));
            dirs.push(dir);
        }
        let cli = std::env::var("REDIS_CLI_BIN").unwrap_or_else(|_| "redis-cli".into());
        let created = Command::new(cli)
            .arg("--cluster")
            .arg("create")
            .args(nodes.iter().map(|node| format!("127.0.0.1:{}", node.port)))
            .args(["--cluster-replicas", "1", "--cluster-yes"])
            .stdin(Stdio::null())
            .output()
            .expect("redis-cli must be installed (scripts/test.sh installs it)");
        assert!(
            created.status.success(),
            "{}",
            String::from_utf8_lossy(&created.stdout)
        );
        let cluster = Self { nodes, _dirs: dirs };
        for node in &cluster.nodes {
            node.wait_until(|info| info.contains("cluster_state:ok"), "CLUSTER INFO");
        }
        cluster
    }

    fn urls(&self) -> Vec<String> {
        self.nodes
            .iter()
            .map(|node| format!("redis://127.0.0.1:{}", node.port))
            .collect()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_primary_is_replaced_by_its_replica_and_the_store_recovers() {
    let mut cluster = OwnCluster::start();
    let store = RedisStore::new(
        RedisConfig::cluster(cluster.urls())
            .with_prefix(unique_prefix())
            .with_timeout(Duration::from_secs(1)),
    )
    .unwrap();
    let sid = IndexTag::new("sid", "s-1").unwrap();
    let mut before = Vec::new();
    for _ in 0..30 {
        before.push(store.create(tagged(&[&sid])).await.unwrap());
    }
    let code = store
        .put_once(vec![7], Duration::from_secs(60))
        .await
        .unwrap();

    // The victim: a primary holding sessions, once its replica has everything it wrote.
    let nodes = nodes_of(&cluster.urls()[0]).await;
    let victim = cluster
        .nodes
        .iter()
        .position(|node| {
            nodes
                .iter()
                .any(|n| n.primary && n.url == format!("redis://127.0.0.1:{}", node.port))
        })
        .unwrap();
    let primary = &cluster.nodes[victim];
    let offset = |info: &str, field: &str| -> Option<u64> {
        let at = info.find(field)? + field.len();
        info[at..]
            .split(|c: char| !c.is_ascii_digit())
            .next()?
            .parse()
            .ok()
    };
    let info = primary.command("INFO replication").unwrap();
    let written = offset(&info, "master_repl_offset:").unwrap();
    primary.wait_until(
        |info| offset(info, ",offset=").is_some_and(|copied| copied >= written),
        "INFO replication",
    );

    let killed = cluster.nodes.remove(victim);
    drop(killed);
    let (_, took) = eventually(Duration::from_secs(20), || async {
        for session in &before {
            if store.load(session.key()).await?.is_none() {
                return Err(Error::Config("a session is missing".to_owned()));
            }
        }
        store.create(tagged(&[&sid])).await
    })
    .await;
    eprintln!("every session loads and writes succeed {took:?} after the primary was killed");

    store
        .ping()
        .await
        .expect("every primary, the promoted replica included, answers");
    assert_eq!(store.take(&code).await.unwrap(), Some(vec![7]));
    assert_eq!(store.take(&code).await.unwrap(), None);
    assert_eq!(
        store.increment("n", Duration::from_secs(5)).await.unwrap(),
        1
    );
    assert_eq!(store.delete_by_tag(&sid).await.unwrap(), before.len() + 1);
    for session in &before {
        assert!(store.load(session.key()).await.unwrap().is_none());
    }
    let primaries = nodes_of(&cluster.urls()[0])
        .await
        .into_iter()
        .filter(|node| node.primary)
        .count();
    assert_eq!(
        primaries, 3,
        "a replica took over the killed primary's slots"
    );
}
