//! The acceptance suite against a real Redis (`REDIS_URL`, default `redis://127.0.0.1:6379`),
//! each test in its own key prefix, plus failure tests against Redis processes started here.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use super::*;
use crate::Expiry;
use crate::testing::{Harness, RawBytes};

fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

fn unique_prefix() -> String {
    format!("test:{}:", &SessionKey::generate().as_str()[..16])
}

#[derive(Debug)]
struct RedisHarness {
    store: RedisStore,
    prefix: String,
}

#[async_trait]
impl Harness for RedisHarness {
    type Store = RedisStore;

    async fn setup() -> Self {
        let prefix = unique_prefix();
        let store = RedisStore::new(RedisConfig::new(redis_url()).with_prefix(&prefix)).unwrap();
        Self { store, prefix }
    }

    fn store(&self) -> RedisStore {
        self.store.clone()
    }

    async fn second_store(&self) -> RedisStore {
        RedisStore::new(RedisConfig::new(redis_url()).with_prefix(&self.prefix)).unwrap()
    }
}

#[async_trait]
impl RawBytes for RedisHarness {
    async fn write_raw(&self, bytes: &[u8], ttl: Duration) -> SessionKey {
        let key = SessionKey::generate();
        let client = Client::open(redis_url()).unwrap();
        let mut conn = client.get_multiplexed_async_connection().await.unwrap();
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

crate::acceptance_suite!(RedisHarness);
crate::stored_bytes_suite!(RedisHarness);

fn expiry() -> Expiry {
    Expiry::new(Duration::from_secs(30), Duration::from_secs(60))
}

/// Runs every kind of operation once and returns the errors; none may take longer than `bound`.
async fn every_operation_fails(store: &RedisStore, bound: Duration) -> Vec<Error> {
    let key = SessionKey::generate();
    let tag = IndexTag::new("sid", "x").unwrap();
    let mut session = Session::new(key.clone(), Record::new(expiry()));
    let started = Instant::now();
    let errors = vec![
        store.create(Record::new(expiry())).await.unwrap_err(),
        store.load(&key).await.unwrap_err(),
        store.update(&mut session).await.unwrap_err(),
        store.delete(&key).await.unwrap_err(),
        store.list_by_tag(&tag).await.unwrap_err(),
        store.delete_by_tag(&tag).await.unwrap_err(),
        store
            .put_once(vec![1], Duration::from_secs(1))
            .await
            .unwrap_err(),
        store.take(&OneTimeKey::generate()).await.unwrap_err(),
        store
            .increment("n", Duration::from_secs(1))
            .await
            .unwrap_err(),
        store.count("n").await.unwrap_err(),
        store.ping().await.unwrap_err(),
    ];
    assert!(
        started.elapsed() < bound * 11,
        "failing operations took {:?}",
        started.elapsed()
    );
    errors
}

/// A port for a Redis this test starts (see [`crate::ports`]).
fn free_port() -> u16 {
    crate::ports::free_port()
}

#[tokio::test]
async fn an_unreachable_redis_is_an_error_not_a_panic() {
    let port = free_port();
    let store = RedisStore::new(
        RedisConfig::new(format!("redis://127.0.0.1:{port}"))
            .with_timeout(Duration::from_millis(500)),
    )
    .unwrap();
    for error in every_operation_fails(&store, Duration::from_secs(1)).await {
        assert!(
            matches!(error, Error::Unavailable(_) | Error::Timeout(_)),
            "{error:?}"
        );
    }
}

#[tokio::test]
async fn a_redis_that_never_answers_times_out() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let held = tokio::spawn(async move {
        let mut sockets = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            sockets.push(socket);
        }
    });
    let timeout = Duration::from_millis(300);
    let store = RedisStore::new(
        RedisConfig::new(format!("redis://127.0.0.1:{port}")).with_timeout(timeout),
    )
    .unwrap();
    for error in every_operation_fails(&store, Duration::from_secs(1)).await {
        assert!(
            matches!(error, Error::Timeout(t) if t == timeout),
            "{error:?}"
        );
    }
    held.abort();
}

#[test]
fn malformed_urls_are_configuration_errors() {
    assert!(matches!(
        RedisStore::new(RedisConfig::new("http://nowhere")),
        Err(Error::Config(_))
    ));
    let shown = format!("{:?}", RedisConfig::new("redis://:hunter2@127.0.0.1:6379"));
    assert!(!shown.contains("hunter2"), "{shown}");
}

/// A `redis-server` process of this test's own, killed when dropped.
struct RedisProcess {
    child: Child,
    port: u16,
    /// Sent with `AUTH` before every command, for a server with `requirepass`.
    password: Option<String>,
}

impl RedisProcess {
    fn start(dir: &Path, port: u16, extra: &[&str]) -> Self {
        Self::start_with_password(dir, port, extra, None)
    }

    /// A server started with `extra`, where `password` is its `requirepass` (passed in
    /// `extra` by the caller) when given.
    fn start_with_password(dir: &Path, port: u16, extra: &[&str], password: Option<&str>) -> Self {
        let server = std::env::var("REDIS_SERVER_BIN").unwrap_or_else(|_| "redis-server".into());
        let child = Command::new(server)
            .args(extra)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--dir"])
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server must be installed (scripts/test.sh installs it)");
        let process = Self {
            child,
            port,
            password: password.map(str::to_owned),
        };
        process.wait_until(|reply| reply.starts_with("+PONG"), "PING");
        process
    }

    /// Sends one inline command and returns the raw reply.
    fn command(&self, command: &str) -> std::io::Result<String> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port))?;
        stream.set_read_timeout(Some(Duration::from_secs(2)))?;
        if let Some(password) = &self.password {
            stream.write_all(format!("AUTH {password}\r\n").as_bytes())?;
            let mut ok = [0u8; 5];
            stream.read_exact(&mut ok)?;
            if &ok != b"+OK\r\n" {
                return Err(std::io::Error::other("AUTH refused"));
            }
        }
        stream.write_all(format!("{command}\r\n").as_bytes())?;
        let mut reply = vec![0u8; 16 * 1024];
        let read = stream.read(&mut reply)?;
        Ok(String::from_utf8_lossy(&reply[..read]).into_owned())
    }

    fn wait_until(&self, ready: impl Fn(&str) -> bool, command: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if self.command(command).is_ok_and(|reply| ready(&reply)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("redis on port {} never satisfied {command:?}", self.port);
    }
}

impl Drop for RedisProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn temp_dir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

/// Retries `op` until it succeeds or `within` passes; returns the value and how long it took.
async fn eventually<T, Fut: Future<Output = Result<T>>>(
    within: Duration,
    op: impl Fn() -> Fut,
) -> (T, Duration) {
    let started = Instant::now();
    loop {
        match op().await {
            Ok(value) => return (value, started.elapsed()),
            Err(error) if started.elapsed() < within => {
                tracing::debug!(%error, "not yet");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(error) => panic!("still failing after {within:?}: {error:?}"),
        }
    }
}

#[tokio::test]
async fn a_redis_restart_is_survived_without_restarting_the_store() {
    let dir = temp_dir();
    let port = free_port();
    let redis = RedisProcess::start(dir.path(), port, &[]);
    let store = RedisStore::new(
        RedisConfig::new(format!("redis://127.0.0.1:{port}"))
            .with_timeout(Duration::from_millis(500)),
    )
    .unwrap();
    let before = store.create(Record::new(expiry())).await.unwrap();
    assert!(store.load(before.key()).await.unwrap().is_some());

    drop(redis);
    let down = store.load(before.key()).await;
    assert!(
        matches!(down, Err(Error::Unavailable(_) | Error::Timeout(_))),
        "{down:?}"
    );

    let _redis = RedisProcess::start(dir.path(), port, &[]);
    let (after, _) = eventually(Duration::from_secs(5), || {
        store.create(Record::new(expiry()))
    })
    .await;
    assert!(store.load(after.key()).await.unwrap().is_some());
    // The restarted server kept nothing (no persistence here): the old session is gone,
    // reported as absent rather than as an error.
    assert!(store.load(before.key()).await.unwrap().is_none());
}

/// A primary, its replica and one Sentinel watching them as service `sso` (failover after a
/// second), each a redis-server of its own on a free port.
struct SentinelSet {
    primary: RedisProcess,
    replica: RedisProcess,
    sentinel: RedisProcess,
    sentinel_port: u16,
    _dirs: [tempfile::TempDir; 3],
}

impl SentinelSet {
    fn start() -> Self {
        Self::start_with_password(None)
    }

    /// The set with `password` required by the primary and the replica (and given to the
    /// replica and the Sentinel to reach them).
    fn start_with_password(password: Option<&str>) -> Self {
        let dirs = [temp_dir(), temp_dir(), temp_dir()];
        let (primary_port, replica_port, sentinel_port) = (free_port(), free_port(), free_port());
        let auth: Vec<&str> = password
            .map(|password| vec!["--requirepass", password, "--masterauth", password])
            .unwrap_or_default();
        let primary =
            RedisProcess::start_with_password(dirs[0].path(), primary_port, &auth, password);
        let primary_port_text = primary_port.to_string();
        let mut replica_args = vec!["--replicaof", "127.0.0.1", primary_port_text.as_str()];
        replica_args.extend(&auth);
        let replica = RedisProcess::start_with_password(
            dirs[1].path(),
            replica_port,
            &replica_args,
            password,
        );
        replica.wait_until(
            |info| info.contains("master_link_status:up"),
            "INFO replication",
        );
        let conf = dirs[2].path().join("sentinel.conf");
        std::fs::write(
            &conf,
            format!(
                "sentinel monitor sso 127.0.0.1 {primary_port} 1\n\
                 sentinel down-after-milliseconds sso 1000\n\
                 sentinel failover-timeout sso 5000\n{}",
                password.map_or(String::new(), |password| format!(
                    "sentinel auth-pass sso {password}\n"
                ))
            ),
        )
        .unwrap();
        let sentinel = RedisProcess::start(
            dirs[2].path(),
            sentinel_port,
            &[conf.to_str().unwrap(), "--sentinel"],
        );
        sentinel.wait_until(|reply| reply.contains("slaves=1"), "INFO sentinel");
        Self {
            primary,
            replica,
            sentinel,
            sentinel_port,
            _dirs: dirs,
        }
    }
}

/// Servers that require a password are reached through Sentinel with
/// [`RedisConfig::with_server_password`], the local cache's tracking connection included;
/// without it every operation fails, and a password meant for a URL is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servers_found_through_sentinel_are_reached_with_their_password() {
    let set = SentinelSet::start_with_password(Some("s3cret-pass"));
    let sentinels = vec![format!("redis://127.0.0.1:{}", set.sentinel_port)];
    let config = || {
        RedisConfig::sentinel(sentinels.clone(), "sso")
            .with_prefix(unique_prefix())
            .with_timeout(Duration::from_secs(1))
    };

    let store = RedisStore::new(
        config()
            .with_server_password("s3cret-pass")
            .with_local_cache(true),
    )
    .unwrap();
    let shown = format!("{:?}", config().with_server_password("s3cret-pass"));
    assert!(!shown.contains("s3cret-pass"), "{shown}");
    let created = store.create(Record::new(expiry())).await.unwrap();
    assert!(store.load(created.key()).await.unwrap().is_some());
    let deadline = Instant::now() + Duration::from_secs(5);
    while store.cached_sessions() == 0 {
        assert!(
            Instant::now() < deadline,
            "the cache never tracked the primary"
        );
        store.load(created.key()).await.unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let without = RedisStore::new(config()).unwrap();
    assert!(without.create(Record::new(expiry())).await.is_err());
    assert!(without.load(created.key()).await.is_err());
    assert!(matches!(
        RedisStore::new(RedisConfig::new("redis://127.0.0.1:1").with_server_password("x")),
        Err(Error::Config(_))
    ));
}

#[tokio::test]
async fn sentinel_failover_is_followed_to_the_new_primary() {
    let set = SentinelSet::start();
    let (primary, replica, sentinel, sentinel_port) =
        (&set.primary, &set.replica, &set.sentinel, set.sentinel_port);

    let store = RedisStore::new(
        RedisConfig::sentinel(vec![format!("redis://127.0.0.1:{sentinel_port}")], "sso")
            .with_prefix(unique_prefix())
            .with_timeout(Duration::from_secs(1)),
    )
    .unwrap();
    let before = store.create(Record::new(expiry())).await.unwrap();
    assert!(primary.command("WAIT 1 2000").unwrap().starts_with(":1"));

    sentinel.wait_until(|reply| reply.starts_with("+OK"), "SENTINEL FAILOVER sso");
    primary.wait_until(|info| info.contains("role:slave"), "INFO replication");

    let (after, took) = eventually(Duration::from_secs(15), || {
        store.create(Record::new(expiry()))
    })
    .await;
    assert!(store.load(after.key()).await.unwrap().is_some());
    assert!(
        store.load(before.key()).await.unwrap().is_some(),
        "a session written before the failover survives it"
    );
    assert!(
        replica
            .command("INFO replication")
            .unwrap()
            .contains("role:master")
    );
    tracing::info!(?took, "writes resumed after failover");
}

/// The local cache through Sentinel: it tracks the primary, follows a failover to the new one
/// (emptying itself meanwhile), and a logout on one node still reaches the other's cache.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cache_through_sentinel_follows_the_failover_and_stays_honest() {
    let set = SentinelSet::start();
    let (primary, replica, sentinel, sentinel_port) =
        (&set.primary, &set.replica, &set.sentinel, set.sentinel_port);

    let prefix = unique_prefix();
    let node = || {
        RedisStore::new(
            RedisConfig::sentinel(vec![format!("redis://127.0.0.1:{sentinel_port}")], "sso")
                .with_prefix(prefix.clone())
                .with_timeout(Duration::from_secs(1))
                .with_local_cache(true),
        )
        .unwrap()
    };
    let (node_a, node_b) = (node(), node());
    let sid = |n: &str| IndexTag::new("sid", n).unwrap();
    let cached_then_ended_on_the_other = |sid: IndexTag| {
        let (node_a, node_b) = (node_a.clone(), node_b.clone());
        async move {
            let session = node_a
                .create(Record::new(expiry()).with_tag(sid.clone()))
                .await
                .unwrap();
            let deadline = Instant::now() + Duration::from_secs(10);
            while node_b.cached_sessions() == 0 {
                assert!(Instant::now() < deadline, "node b never cached the session");
                let _ = node_b.load(session.key()).await;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            let ended = Instant::now();
            assert_eq!(node_a.delete_by_tag(&sid).await.unwrap(), 1);
            while node_b.load(session.key()).await.unwrap().is_some() {
                assert!(
                    ended.elapsed() < Duration::from_millis(100),
                    "node b still serves its cached copy 100 ms after the logout"
                );
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
    };
    cached_then_ended_on_the_other(sid("before")).await;

    sentinel.wait_until(|reply| reply.starts_with("+OK"), "SENTINEL FAILOVER sso");
    primary.wait_until(|info| info.contains("role:slave"), "INFO replication");
    // Writes go to the new primary; the caches follow it and stay honest there.
    eventually(Duration::from_secs(15), || {
        node_a.create(Record::new(expiry()))
    })
    .await;
    cached_then_ended_on_the_other(sid("after")).await;
    assert!(
        replica
            .command("CLIENT LIST")
            .unwrap()
            .contains("cache-tracking"),
        "the caches track the new primary"
    );
}

/// The same store with its local cache: every check of the suite holds, and caches on two
/// nodes stay honest.
mod cached {
    use super::*;

    fn cached_store(prefix: &str) -> RedisStore {
        RedisStore::new(
            RedisConfig::new(redis_url())
                .with_prefix(prefix)
                .with_local_cache(true),
        )
        .unwrap()
    }

    /// Loads `key` until the store serves it from its cache (the cache tracks once its
    /// connection is up).
    async fn load_until_cached(store: &RedisStore, key: &SessionKey) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while store.cached_sessions() == 0 {
            assert!(Instant::now() < deadline, "the session was never cached");
            assert!(store.load(key).await.unwrap().is_some());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    #[derive(Debug)]
    struct CachedHarness {
        store: RedisStore,
        prefix: String,
    }

    #[async_trait]
    impl Harness for CachedHarness {
        type Store = RedisStore;

        async fn setup() -> Self {
            let prefix = unique_prefix();
            Self {
                store: cached_store(&prefix),
                prefix,
            }
        }

        fn store(&self) -> RedisStore {
            self.store.clone()
        }

        async fn second_store(&self) -> RedisStore {
            cached_store(&self.prefix)
        }
    }

    #[async_trait]
    impl RawBytes for CachedHarness {
        async fn write_raw(&self, bytes: &[u8], ttl: Duration) -> SessionKey {
            let raw = RedisHarness {
                store: self.store.clone(),
                prefix: self.prefix.clone(),
            };
            raw.write_raw(bytes, ttl).await
        }
    }

    crate::session_suite!(CachedHarness);
    crate::deletion_suite!(CachedHarness);
    crate::index_suite!(CachedHarness);
    crate::stored_bytes_suite!(CachedHarness);

    fn tagged(sid: &str) -> Record {
        Record::new(expiry()).with_tag(IndexTag::new("sid", sid).unwrap())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_logout_on_one_node_refuses_the_session_cached_on_another_within_100_ms() {
        let prefix = unique_prefix();
        let (node_a, node_b) = (cached_store(&prefix), cached_store(&prefix));
        let session = node_a.create(tagged("s-1")).await.unwrap();
        load_until_cached(&node_b, session.key()).await;
        let presented = session.key().as_str().as_bytes();
        let answered_at_once = || matches!(node_b.load_presented_now(presented), Some(Ok(Some(_))));
        assert!(answered_at_once(), "node b answers from its cache at once");

        let ended = Instant::now();
        assert_eq!(
            node_a
                .delete_by_tag(&IndexTag::new("sid", "s-1").unwrap())
                .await
                .unwrap(),
            1
        );
        while answered_at_once() || node_b.load(session.key()).await.unwrap().is_some() {
            assert!(
                ended.elapsed() < Duration::from_millis(100),
                "node b still serves its cached copy 100 ms after the logout"
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_revocation_on_one_node_reaches_the_revocation_checks_cached_on_another_within_100_ms()
     {
        let prefix = unique_prefix();
        let (node_a, node_b) = (cached_store(&prefix), cached_store(&prefix));
        let list_a = crate::RevocationList::new(node_a.clone());
        let tag = IndexTag::new("sid", "s-1").unwrap();
        // Node b checks (and caches) "not revoked" until the tracking connection is up.
        let started = Instant::now();
        while node_b
            .inner
            .cache
            .as_ref()
            .unwrap()
            .count(&format!("{prefix}c:revoked:sid:s-1"))
            .is_none()
        {
            assert!(
                !crate::Revocation::is_revoked(&node_b_list(&node_b), &tag)
                    .await
                    .unwrap()
            );
            assert!(started.elapsed() < Duration::from_secs(5), "never cached");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }

        let revoked = Instant::now();
        list_a.revoke(&tag, Duration::from_secs(60)).await.unwrap();
        while !crate::Revocation::is_revoked(&node_b_list(&node_b), &tag)
            .await
            .unwrap()
        {
            assert!(
                revoked.elapsed() < Duration::from_millis(100),
                "node b still trusts its cached check 100 ms after the revocation"
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        // Counters other than revocations are never cached.
        node_b
            .increment("login:alice", Duration::from_secs(60))
            .await
            .unwrap();
        node_a
            .increment("login:alice", Duration::from_secs(60))
            .await
            .unwrap();
        assert_eq!(node_b.count("login:alice").await.unwrap(), 2);
    }

    /// A cookie session's node trusts its last revocation check while its cache's epoch stands
    /// still, and checks again as soon as an invalidation moves it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_cookie_session_trusted_on_one_node_is_refused_there_within_100_ms_of_a_revocation_on_another()
     {
        use crate::{CookieStore, KeyRing, Revocation as _, RevocationList};
        let prefix = unique_prefix();
        let (node_a, node_b) = (cached_store(&prefix), cached_store(&prefix));
        let list_b = Arc::new(RevocationList::new(node_b.clone()));
        let cookies_b = CookieStore::new(
            "app_session",
            KeyRing::new("k1", &KeyRing::generate_key()).unwrap(),
        )
        .with_revocation(list_b.clone());
        let session = cookies_b.create(tagged("s-9")).await.unwrap();
        let started = Instant::now();
        while list_b.version().is_none() {
            assert!(started.elapsed() < Duration::from_secs(5), "never tracking");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let version = list_b.version();
        for _ in 0..3 {
            assert!(cookies_b.load(session.key()).await.unwrap().is_some());
        }
        assert_eq!(
            list_b.version(),
            version,
            "nothing revoked, nothing invalidated"
        );

        let revoked = Instant::now();
        RevocationList::new(node_a.clone())
            .revoke(
                &IndexTag::new("sid", "s-9").unwrap(),
                Duration::from_secs(60),
            )
            .await
            .unwrap();
        while cookies_b.load(session.key()).await.unwrap().is_some() {
            assert!(
                revoked.elapsed() < Duration::from_millis(100),
                "node b still trusts the cookie 100 ms after the revocation"
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    fn node_b_list(store: &RedisStore) -> crate::RevocationList<RedisStore> {
        crate::RevocationList::new(store.clone())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_cache_empties_itself_while_its_invalidations_are_lost_and_comes_back() {
        let prefix = unique_prefix();
        let store = cached_store(&prefix);
        let session = store.create(tagged("s-1")).await.unwrap();
        load_until_cached(&store, session.key()).await;

        // Cut the invalidation connection, and change the session behind the cache's back
        // before it is noticed: that push is lost.
        let client = Client::open(redis_url()).unwrap();
        let mut admin = client.get_multiplexed_async_connection().await.unwrap();
        let clients: String = redis::cmd("CLIENT")
            .arg("LIST")
            .query_async(&mut admin)
            .await
            .unwrap();
        let name = format!("name={prefix}cache-tracking ");
        let id = clients
            .lines()
            .find(|line| line.contains(&name))
            .and_then(|line| line.strip_prefix("id="))
            .and_then(|line| line.split(' ').next())
            .expect("the tracking connection is listed")
            .to_owned();
        let mut pipe = redis::pipe();
        pipe.cmd("CLIENT").arg("KILL").arg("ID").arg(&id);
        pipe.cmd("DEL")
            .arg(format!("{prefix}s:{}", session.key().as_str()));
        pipe.query_async::<()>(&mut admin).await.unwrap();

        let deadline = Instant::now() + Duration::from_secs(5);
        while store.cached_sessions() > 0 {
            assert!(Instant::now() < deadline, "the cache kept its copies");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(
            store.load(session.key()).await.unwrap().is_none(),
            "the deleted session is not served from a stale copy"
        );

        let next = store.create(tagged("s-2")).await.unwrap();
        load_until_cached(&store, next.key()).await;
    }
}

mod cluster;
