//! The centralized backend: every node reads and writes one Redis (optionally found through
//! Sentinel) or one Redis Cluster, so sessions survive the loss of any application node and
//! single logout reaches every node at once.
//!
//! # Keys
//! All keys start with the configured prefix:
//!
//! | key | type | holds |
//! |---|---|---|
//! | `{prefix}s:{id}` | string | a session record (see [`crate::record`]), expiring at its deadline |
//! | `{prefix}t:{tag}` | sorted set | ids of sessions with the tag, scored by their deadline |
//! | `{prefix}o:{key}` | string | a one-time value |
//! | `{prefix}c:{name}` | string | a counter |
//!
//! Nothing relies on keyspace notifications: expired sessions leave an index when it is read
//! (members are scored by deadline) and an index key itself expires with its last member.
//!
//! # One Redis or a cluster
//! On one Redis (standalone or Sentinel) a session and its index entries change together in one
//! script. A Redis Cluster ([`RedisConfig::cluster`]) keeps the same keys, so data moved from one
//! Redis into a cluster still loads, but a session and its indexes live in different slots: there
//! every script touches one key and the order of the steps keeps single logout complete (how
//! is told in `redis/cluster.rs`). The same code runs on both through one connection type.
//!
//! # Failures
//! Every operation, connecting included, is bounded by [`RedisConfig::with_timeout`]. A
//! connection that fails, times out or meets a read-only replica (after a Sentinel failover) is
//! dropped, and the next operation connects again, re-resolving the primary through Sentinel.
//! Idempotent operations are retried once on a fresh connection, so a Redis restart costs at most
//! the non-idempotent operations (`take`, `increment`) that were in flight. A cluster connection
//! also follows slot moves and failovers by itself, as long as the operation's timeout allows.

use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use redis::cluster::{ClusterClient, ClusterClientBuilder};
use redis::sentinel::{SentinelClient, SentinelNodeConnectionInfo, SentinelServerType};
use redis::{AsyncConnectionConfig, Client, ErrorKind, RedisError, Script, ServerErrorKind};

use self::cache::{Cache, Tracker};
use self::connection::Connection;
use self::decoded::Decoded;
use crate::lock;
use crate::record::{DEADLINE_PREFIX, deadline_in_place, encode};
use crate::time::millis;
use crate::{
    CounterStore, Error, IndexTag, OneTimeKey, OneTimeStore, Record, Result, Session, SessionIndex,
    SessionKey, SessionStore, Timestamp,
};

/// Where the Redis primary is and how the store uses it.
#[derive(Clone, Debug)]
pub struct RedisConfig {
    target: Target,
    prefix: String,
    timeout: Duration,
    local_cache: bool,
    /// [`RedisConfig::with_server_password`] was given for a URL or a cluster.
    misplaced_password: bool,
}

/// A client asking the Sentinels for the primary of `service`, authenticating to it with
/// `password` when given.
fn sentinel_client(
    sentinels: Vec<String>,
    service: String,
    password: &Option<String>,
) -> redis::RedisResult<SentinelClient> {
    let node = password.as_ref().map(|password| {
        SentinelNodeConnectionInfo::default()
            .set_redis_connection_info(redis::RedisConnectionInfo::default().set_password(password))
    });
    SentinelClient::build(sentinels, service, node, SentinelServerType::Master)
}

#[derive(Clone)]
enum Target {
    Url(String),
    Sentinel {
        sentinels: Vec<String>,
        service: String,
        /// The password of the servers the Sentinels name (their own is in their URLs).
        password: Option<String>,
    },
    Cluster(Vec<String>),
}

/// URLs may carry passwords: show only that a target is configured.
impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Url(_) => f.write_str("Url(…)"),
            Self::Sentinel {
                sentinels,
                service,
                password,
            } => {
                let mut shown = f.debug_struct("Sentinel");
                shown
                    .field("sentinels", &sentinels.len())
                    .field("service", service);
                if password.is_some() {
                    shown.field("password", &"…");
                }
                shown.finish()
            }
            Self::Cluster(nodes) => f.debug_tuple("Cluster").field(&nodes.len()).finish(),
        }
    }
}

impl RedisConfig {
    /// A Redis server at `url` (`redis://[:password@]host:port[/db]`).
    pub fn new(url: impl Into<String>) -> Self {
        Self::with_target(Target::Url(url.into()))
    }

    /// The primary of `service` as reported by the Sentinels at `sentinel_urls`
    /// (`redis://[:password@]host:port`, the Sentinels' own password if they have one). When
    /// the servers they name require a password (`requirepass`), give it with
    /// [`Self::with_server_password`].
    pub fn sentinel(sentinel_urls: Vec<String>, service: impl Into<String>) -> Self {
        Self::with_target(Target::Sentinel {
            sentinels: sentinel_urls,
            service: service.into(),
            password: None,
        })
    }

    /// The password of the Redis servers the Sentinels name, for a configuration made with
    /// [`Self::sentinel`]; elsewhere a password belongs in the URLs, and [`RedisStore::new`]
    /// refuses a configuration that gives one here.
    #[must_use]
    pub fn with_server_password(mut self, password: impl Into<String>) -> Self {
        match &mut self.target {
            Target::Sentinel { password: kept, .. } => *kept = Some(password.into()),
            Target::Url(_) | Target::Cluster(_) => self.misplaced_password = true,
        }
        self
    }

    /// The Redis Cluster that any of `node_urls` belongs to (`redis://[:password@]host:port`;
    /// one reachable node is enough, the others are learnt from it). Every command goes to the
    /// primary owning its key; replicas are never used.
    ///
    /// # Limitations
    /// Needs Redis 6.2 or later. No local cache ([`Self::with_local_cache`]), and a prefix
    /// without braces (a hash tag in the prefix would put every key in one slot).
    pub fn cluster(node_urls: Vec<String>) -> Self {
        Self::with_target(Target::Cluster(node_urls))
    }

    fn with_target(target: Target) -> Self {
        Self {
            target,
            prefix: "session:".to_owned(),
            timeout: Duration::from_secs(2),
            local_cache: false,
            misplaced_password: false,
        }
    }

    /// Prefix of every key (default `session:`); give each use of one Redis its own.
    #[must_use]
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Longest time one operation may take, connecting included (default 2 s).
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Whether sessions read are kept in this process and served from there (default: no);
    /// so are the entries of a [`RevocationList`](crate::RevocationList) kept in this store,
    /// which cookie sessions check on every request.
    ///
    /// Redis keeps the copies honest: a connection of the store's own receives an
    /// invalidation for every change or deletion of a session (or revocation) by any node
    /// (RESP3 client-side caching, `CLIENT TRACKING … BCAST`), so a single logout on one node
    /// ends the session on every node as soon as the push arrives (well under a millisecond on
    /// a local network). While that connection is down, or has not answered its last `PING`
    /// (every 500 ms), the cache is empty and every load goes to Redis. Through Sentinel the
    /// connection goes to the primary, and is dropped (emptying the cache) as soon as a `ROLE`
    /// check after a `PING` finds the server demoted, then made again to the new primary.
    ///
    /// # Limitations
    /// Needs Redis 6 or later, reached by URL or through Sentinel (not a cluster), and a Tokio
    /// runtime when the store is made. A copy can outlive a change by the time its push takes
    /// to arrive, or, if the connection breaks silently or a failover demotes the server, until
    /// the next `PING` (at most 500 ms).
    #[must_use]
    pub fn with_local_cache(mut self, enabled: bool) -> Self {
        self.local_cache = enabled;
        self
    }
}

/// The Redis store. Cloning is cheap and clones share one connection.
#[derive(Clone, Debug)]
pub struct RedisStore {
    inner: Arc<Inner>,
}

struct Inner {
    prefix: String,
    timeout: Duration,
    dialer: tokio::sync::Mutex<Dialer>,
    connection: Mutex<Option<Connection>>,
    scripts: Scripts,
    /// Whether this is a Redis Cluster, where every script touches one key.
    cluster: bool,
    cluster_scripts: cluster::Scripts,
    cache: Option<Arc<Cache>>,
    _tracker: Option<Tracker>,
    decoded: Decoded,
}

impl fmt::Debug for Inner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

enum Dialer {
    Direct(Client),
    Sentinel(Box<SentinelClient>),
    Cluster(Box<ClusterClient>),
}

impl RedisStore {
    /// A store for `config`. No connection is made yet: the first operation connects, so a
    /// process can start while Redis is down and work once it is up.
    ///
    /// # Errors
    /// [`Error::Config`] when the URLs cannot be parsed, or a cluster is combined with a local
    /// cache or with a prefix holding a brace.
    pub fn new(config: RedisConfig) -> Result<Self> {
        let invalid = |error: RedisError| Error::Config(format!("redis: {error}"));
        // The local cache follows the primary through Sentinel with a client of its own.
        if config.misplaced_password {
            return Err(Error::Config(
                "redis: a server password goes in the URL unless the servers are found through \
                 Sentinel"
                    .to_owned(),
            ));
        }
        let sentinel_for_cache = match (&config.target, config.local_cache) {
            (
                Target::Sentinel {
                    sentinels,
                    service,
                    password,
                },
                true,
            ) => Some(
                sentinel_client(sentinels.clone(), service.clone(), password).map_err(invalid)?,
            ),
            _ => None,
        };
        let dialer = match config.target {
            Target::Url(url) => Dialer::Direct(Client::open(url).map_err(invalid)?),
            Target::Sentinel {
                sentinels,
                service,
                password,
            } => Dialer::Sentinel(Box::new(
                sentinel_client(sentinels, service, &password).map_err(invalid)?,
            )),
            Target::Cluster(nodes) => {
                if nodes.is_empty() {
                    return Err(Error::Config("redis: a cluster needs node URLs".to_owned()));
                }
                if config.prefix.contains(['{', '}']) {
                    return Err(Error::Config(
                        "redis: in a cluster the key prefix must not contain braces (a hash tag \
                         would put every key in one slot)"
                            .to_owned(),
                    ));
                }
                Dialer::Cluster(Box::new(
                    ClusterClientBuilder::new(nodes)
                        .connection_timeout(config.timeout)
                        .response_timeout(config.timeout)
                        .build()
                        .map_err(invalid)?,
                ))
            }
        };
        let cluster = matches!(dialer, Dialer::Cluster(_));
        let source = match (&dialer, config.local_cache) {
            (_, false) => None,
            (Dialer::Direct(client), true) => Some(cache::Source::Direct(client.clone())),
            (Dialer::Sentinel(_), true) => {
                sentinel_for_cache.map(|sentinel| cache::Source::Sentinel(Box::new(sentinel)))
            }
            (Dialer::Cluster(_), true) => None,
        };
        let (cache, tracker) = match (&dialer, source) {
            (Dialer::Cluster(_), _) if config.local_cache => {
                return Err(Error::Config(
                    "redis: a local cache needs a Redis URL or Sentinel, not a cluster".to_owned(),
                ));
            }
            (_, None) => (None, None),
            (_, Some(source)) => {
                if tokio::runtime::Handle::try_current().is_err() {
                    return Err(Error::Config(
                        "redis: a local cache must be made inside a Tokio runtime".to_owned(),
                    ));
                }
                let cache = Arc::new(Cache::default());
                let tracker = cache::track(
                    Arc::clone(&cache),
                    source,
                    config.prefix.clone(),
                    config.timeout,
                );
                (Some(cache), Some(tracker))
            }
        };
        Ok(Self {
            inner: Arc::new(Inner {
                prefix: config.prefix,
                timeout: config.timeout,
                dialer: tokio::sync::Mutex::new(dialer),
                connection: Mutex::new(None),
                scripts: Scripts::new(),
                cluster,
                cluster_scripts: cluster::Scripts::new(),
                cache,
                _tracker: tracker,
                decoded: Decoded::default(),
            }),
        })
    }

    /// How many sessions the local cache holds (always 0 without one, and while its
    /// invalidations are not being received).
    pub fn cached_sessions(&self) -> usize {
        self.inner.cache.as_ref().map_or(0, |cache| cache.len())
    }

    /// Forgets `redis_key` in the local cache at once: this node's own writes must not wait
    /// for their invalidation to come back.
    fn forget_cached(&self, redis_key: &str) {
        self.inner.decoded.forget(redis_key);
        if let Some(cache) = &self.inner.cache {
            cache.invalidate(redis_key);
        }
    }

    /// Whether Redis answers a `PING` within the timeout (for readiness checks).
    ///
    /// # Errors
    /// When it does not.
    pub async fn ping(&self) -> Result<()> {
        self.run(Retry::Once, |mut conn| async move {
            redis::cmd("PING").query_async::<()>(&mut conn).await
        })
        .await
    }

    fn session_key(&self, key: &SessionKey) -> String {
        self.session_key_of(key.as_str())
    }

    fn counter_key(&self, name: &str) -> String {
        format!("{}c:{name}", self.inner.prefix)
    }

    /// The local cache, for a counter it keeps: revocation-list entries, read on every request
    /// of a cookie session and written once in a session's life.
    fn counter_cache(&self, name: &str) -> Option<&Cache> {
        self.inner
            .cache
            .as_deref()
            .filter(|_| crate::store::is_revocation_entry(name))
    }

    fn session_key_of(&self, id: &str) -> String {
        // One allocation, no formatting machinery: this runs on every signed-in request.
        [self.inner.prefix.as_str(), "s:", id].concat()
    }

    /// The session under `key` as the local cache holds it: `Some(None)` when it has lapsed,
    /// `None` when Redis must be asked (not cached, or the load must move its deadline: Redis
    /// then invalidates every node's copy).
    fn load_cached(&self, key: &SessionKey, redis_key: &str) -> Option<Option<Session>> {
        let mut record = self.inner.cache.as_deref()?.get(redis_key)?;
        let now = Timestamp::now();
        if !record.is_live_at(now) {
            return Some(None);
        }
        (!record.slide(now)).then(|| Some(Session::new(key.clone(), record)))
    }

    fn index_key(&self, tag: &IndexTag) -> String {
        format!("{}t:{}", self.inner.prefix, tag.as_str())
    }

    /// Runs `op` on a connection within the timeout; drops the connection when it failed.
    async fn run<T, F, Fut>(&self, retry: Retry, op: F) -> Result<T>
    where
        F: Fn(Connection) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        let timeout = self.inner.timeout;
        let attempt = async {
            let mut last = None;
            for _ in 0..retry.attempts() {
                let conn = self.connection().await.map_err(|e| self.error(e))?;
                match op(conn).await {
                    Ok(value) => return Ok(value),
                    Err(error) if needs_reconnect(&error) => {
                        self.drop_connection();
                        last = Some(error);
                    }
                    Err(error) => return Err(self.error(error)),
                }
            }
            Err(last.map_or(Error::Timeout(timeout), |e| self.error(e)))
        };
        match tokio::time::timeout(timeout, attempt).await {
            Ok(result) => result,
            Err(_) => {
                self.drop_connection();
                Err(Error::Timeout(timeout))
            }
        }
    }

    fn error(&self, error: RedisError) -> Error {
        if error.is_timeout() {
            Error::Timeout(self.inner.timeout)
        } else {
            Error::Unavailable(Box::new(error))
        }
    }

    async fn connection(&self) -> redis::RedisResult<Connection> {
        if let Some(conn) = self.cached_connection() {
            return Ok(conn);
        }
        let mut dialer = self.inner.dialer.lock().await;
        if let Some(conn) = self.cached_connection() {
            return Ok(conn);
        }
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(self.inner.timeout))
            .set_response_timeout(Some(self.inner.timeout));
        let conn = match &mut *dialer {
            Dialer::Direct(client) => Connection::Single(
                client
                    .get_multiplexed_async_connection_with_config(&config)
                    .await?,
            ),
            Dialer::Sentinel(client) => {
                Connection::Single(client.get_async_connection_with_config(&config).await?)
            }
            Dialer::Cluster(client) => Connection::Cluster(client.get_async_connection().await?),
        };
        *lock(&self.inner.connection) = Some(conn.clone());
        Ok(conn)
    }

    fn cached_connection(&self) -> Option<Connection> {
        lock(&self.inner.connection).clone()
    }

    fn drop_connection(&self) {
        lock(&self.inner.connection).take();
    }

    async fn write_index(
        &self,
        script: &Script,
        key: &SessionKey,
        record: &Record,
    ) -> Result<bool> {
        let value = encode(record)?;
        let deadline = record.expires_at().as_millis();
        let session_key = self.session_key(key);
        let index_keys: Vec<String> = record.tags().map(|tag| self.index_key(tag)).collect();
        let prefix = &self.inner.prefix;
        self.run(Retry::Once, |mut conn| {
            let mut invocation = script.key(&session_key);
            invocation
                .key(&index_keys)
                .arg(&value)
                .arg(deadline)
                .arg(key.as_str())
                .arg(prefix);
            async move { invocation.invoke_async::<i64>(&mut conn).await }
        })
        .await
        .map(|written| written == 1)
    }
}

#[derive(Clone, Copy)]
enum Retry {
    /// Safe to repeat: retried once on a fresh connection.
    Once,
    /// Not safe to repeat (it may have taken effect before the connection failed).
    Never,
}

impl Retry {
    fn attempts(self) -> usize {
        match self {
            Self::Once => 2,
            Self::Never => 1,
        }
    }
}

fn needs_reconnect(error: &RedisError) -> bool {
    error.is_io_error()
        || error.is_connection_dropped()
        || error.is_timeout()
        || error.is_unrecoverable_error()
        || error.kind() == ErrorKind::Server(ServerErrorKind::ReadOnly)
}

/// Lua shared by the scripts: index maintenance.
///
/// `index_add` keeps an index key alive exactly as long as its longest-lived member;
/// `unindex` removes a session from the indexes its stored record names (if it still parses).
const LUA_INDEX: &str = r"
local function index_add(index, deadline, id)
  redis.call('ZADD', index, deadline, id)
  local last = redis.call('ZRANGE', index, -1, -1, 'WITHSCORES')
  redis.call('PEXPIREAT', index, last[2])
end
local function unindex(stored, id, prefix)
  local ok, record = pcall(cjson.decode, stored)
  if ok and type(record) == 'table' and type(record.tags) == 'table' then
    for _, tag in ipairs(record.tags) do
      if type(tag) == 'string' then redis.call('ZREM', prefix .. 't:' .. tag, id) end
    end
  end
end
";

struct Scripts {
    create: Script,
    update: Script,
    touch: Script,
    delete: Script,
    list: Script,
    delete_by_tag: Script,
    increment: Script,
}

impl Scripts {
    fn new() -> Self {
        let with_index = |body: &str| Script::new(&format!("{LUA_INDEX}{body}"));
        Self {
            // KEYS: session, indexes…  ARGV: record, deadline, id, prefix
            create: with_index(
                r"
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PXAT', ARGV[2]) then return 0 end
for i = 2, #KEYS do index_add(KEYS[i], ARGV[2], ARGV[3]) end
return 1",
            ),
            update: with_index(
                r"
local old = redis.call('GET', KEYS[1])
if not old then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PXAT', ARGV[2])
unindex(old, ARGV[3], ARGV[4])
for i = 2, #KEYS do index_add(KEYS[i], ARGV[2], ARGV[3]) end
return 1",
            ),
            // KEYS: session, indexes…  ARGV: deadline, id, offset of the deadline's digits in
            // the record (-1: not written in place), what precedes them. The record is checked
            // again here: a writer of another layout may have replaced it since it was read.
            touch: with_index(
                r"
if redis.call('PEXPIREAT', KEYS[1], ARGV[1]) == 0 then return 0 end
local at = tonumber(ARGV[3])
if at > 0 and redis.call('GETRANGE', KEYS[1], 0, at - 1) == ARGV[4]
  and redis.call('GETRANGE', KEYS[1], at + #ARGV[1], at + #ARGV[1]) == ',' then
  redis.call('SETRANGE', KEYS[1], at, ARGV[1])
end
for i = 2, #KEYS do
  if redis.call('ZSCORE', KEYS[i], ARGV[2]) then index_add(KEYS[i], ARGV[1], ARGV[2]) end
end
return 1",
            ),
            // KEYS: session  ARGV: id, prefix
            delete: with_index(
                r"
local old = redis.call('GET', KEYS[1])
if not old then return 0 end
redis.call('DEL', KEYS[1])
unindex(old, ARGV[1], ARGV[2])
return 1",
            ),
            // KEYS: index  ARGV: now, prefix
            list: Script::new(
                r"
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
local live = {}
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  if redis.call('EXISTS', ARGV[2] .. 's:' .. id) == 1 then
    table.insert(live, id)
  else
    redis.call('ZREM', KEYS[1], id)
  end
end
return live",
            ),
            // KEYS: index  ARGV: prefix
            delete_by_tag: with_index(
                r"
local deleted = 0
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local key = ARGV[1] .. 's:' .. id
  local old = redis.call('GET', key)
  if old then
    redis.call('DEL', key)
    unindex(old, id, ARGV[1])
    deleted = deleted + 1
  end
end
redis.call('DEL', KEYS[1])
return deleted",
            ),
            // KEYS: counter  ARGV: window in ms
            increment: Script::new(
                r"
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return count",
            ),
        }
    }
}

#[async_trait]
impl SessionStore for RedisStore {
    async fn create(&self, record: Record) -> Result<Session> {
        let key = SessionKey::generate();
        let created = if self.inner.cluster {
            self.cluster_write(&key, &record, true).await?
        } else {
            self.write_index(&self.inner.scripts.create, &key, &record)
                .await?
        };
        if !created {
            // 256 random bits never collide in practice; refuse rather than overwrite.
            return Err(Error::Config(
                "generated session id already exists".to_owned(),
            ));
        }
        Ok(Session::new(key, record))
    }

    async fn load(&self, key: &SessionKey) -> Result<Option<Session>> {
        let redis_key = self.session_key(key);
        if let Some(cached) = self.load_cached(key, &redis_key) {
            return Ok(cached);
        }
        let cache = self.inner.cache.as_deref();
        let epoch = cache.map(Cache::epoch);
        let bytes: Option<Vec<u8>> = self
            .run(Retry::Once, |mut conn| {
                let mut command = redis::cmd("GET");
                command.arg(&redis_key);
                async move { command.query_async(&mut conn).await }
            })
            .await?;
        let Some(bytes) = bytes else {
            return Ok(None);
        };
        let Some(mut record) = self.inner.decoded.decode(&redis_key, &bytes) else {
            return Ok(None);
        };
        let now = Timestamp::now();
        // A record written by this release carries its current deadline (touches move it in
        // place); one written by an older release has a stale one, and only the TTL knows.
        let in_place = deadline_in_place(&bytes, record.expires_at()).is_some();
        if !in_place {
            let ttl_ms: i64 = self
                .run(Retry::Once, |mut conn| {
                    let mut command = redis::cmd("PTTL");
                    command.arg(&redis_key);
                    async move { command.query_async(&mut conn).await }
                })
                .await?;
            let Ok(ttl_ms) = u64::try_from(ttl_ms) else {
                return Ok(None);
            };
            record.set_expires_at(now.saturating_add(Duration::from_millis(ttl_ms)));
        } else if !record.is_live_at(now) {
            return Ok(None);
        }
        if record.slide(now) {
            let deadline = record.expires_at().as_millis();
            let index_keys: Vec<String> = if self.inner.cluster {
                self.cluster_touch_indexes(key, &record).await?;
                Vec::new()
            } else {
                record.tags().map(|tag| self.index_key(tag)).collect()
            };
            let digits = deadline_in_place(&bytes, record.expires_at());
            let touched = self
                .run(Retry::Once, |mut conn| {
                    let mut invocation = self.inner.scripts.touch.key(&redis_key);
                    invocation
                        .key(&index_keys)
                        .arg(deadline)
                        .arg(key.as_str())
                        .arg(digits.as_ref().map_or(-1, |digits| digits.start as i64))
                        .arg(DEADLINE_PREFIX);
                    async move { invocation.invoke_async::<i64>(&mut conn).await }
                })
                .await?;
            if touched == 0 {
                return Ok(None);
            }
        } else if let (Some(cache), Some(epoch), true) = (cache, epoch, in_place) {
            // Only records carrying their deadline are kept: for the others it lives in the
            // TTL, which a copy would not follow.
            cache.put(redis_key, record.clone(), epoch);
        }
        Ok(Some(Session::new(key.clone(), record)))
    }

    /// Answers from the local cache, when there is one, it holds the session and the load
    /// need not move its deadline.
    fn load_presented_now(&self, presented: &[u8]) -> Option<Result<Option<Session>>> {
        self.inner.cache.as_ref()?;
        let Some(key) = SessionKey::parse_bytes(presented) else {
            return Some(Ok(None));
        };
        self.load_cached(&key, &self.session_key(&key)).map(Ok)
    }

    async fn update(&self, session: &mut Session) -> Result<bool> {
        session.record_mut().refresh(Timestamp::now());
        self.forget_cached(&self.session_key(session.key()));
        if self.inner.cluster {
            return self
                .cluster_write(session.key(), session.record(), false)
                .await;
        }
        self.write_index(&self.inner.scripts.update, session.key(), session.record())
            .await
    }

    async fn delete(&self, key: &SessionKey) -> Result<()> {
        if self.inner.cluster {
            return self.cluster_delete(key).await;
        }
        let redis_key = self.session_key(key);
        self.forget_cached(&redis_key);
        let prefix = &self.inner.prefix;
        self.run(Retry::Once, |mut conn| {
            let mut invocation = self.inner.scripts.delete.key(&redis_key);
            invocation.arg(key.as_str()).arg(prefix);
            async move { invocation.invoke_async::<i64>(&mut conn).await }
        })
        .await
        .map(drop)
    }
}

#[async_trait]
impl SessionIndex for RedisStore {
    async fn list_by_tag(&self, tag: &IndexTag) -> Result<Vec<SessionKey>> {
        if self.inner.cluster {
            return self.cluster_list_by_tag(tag).await;
        }
        let index_key = self.index_key(tag);
        let now = Timestamp::now().as_millis();
        let prefix = &self.inner.prefix;
        let ids: Vec<String> = self
            .run(Retry::Once, |mut conn| {
                let mut invocation = self.inner.scripts.list.key(&index_key);
                invocation.arg(now).arg(prefix);
                async move { invocation.invoke_async(&mut conn).await }
            })
            .await?;
        Ok(ids
            .into_iter()
            .filter_map(|id| SessionKey::parse(&id))
            .collect())
    }

    async fn delete_by_tag(&self, tag: &IndexTag) -> Result<usize> {
        if self.inner.cluster {
            return self.cluster_delete_by_tag(tag).await;
        }
        if let Some(cache) = &self.inner.cache {
            cache.invalidate_all();
        }
        let index_key = self.index_key(tag);
        let prefix = &self.inner.prefix;
        self.run(Retry::Once, |mut conn| {
            let mut invocation = self.inner.scripts.delete_by_tag.key(&index_key);
            invocation.arg(prefix);
            async move { invocation.invoke_async::<usize>(&mut conn).await }
        })
        .await
    }
}

#[async_trait]
impl OneTimeStore for RedisStore {
    async fn put_once(&self, value: Vec<u8>, ttl: Duration) -> Result<OneTimeKey> {
        let key = OneTimeKey::generate();
        let redis_key = format!("{}o:{}", self.inner.prefix, key.as_str());
        let ttl_ms = millis(ttl).max(1);
        let stored: Option<String> = self
            .run(Retry::Once, |mut conn| {
                let mut command = redis::cmd("SET");
                command
                    .arg(&redis_key)
                    .arg(&value)
                    .arg("PX")
                    .arg(ttl_ms)
                    .arg("NX");
                async move { command.query_async(&mut conn).await }
            })
            .await?;
        match stored {
            Some(_) => Ok(key),
            None => Err(Error::Config(
                "generated one-time key already exists".to_owned(),
            )),
        }
    }

    async fn take(&self, key: &OneTimeKey) -> Result<Option<Vec<u8>>> {
        let redis_key = format!("{}o:{}", self.inner.prefix, key.as_str());
        self.run(Retry::Never, |mut conn| {
            let mut command = redis::cmd("GETDEL");
            command.arg(&redis_key);
            async move { command.query_async(&mut conn).await }
        })
        .await
    }
}

#[async_trait]
impl CounterStore for RedisStore {
    async fn increment(&self, name: &str, window: Duration) -> Result<u64> {
        let redis_key = self.counter_key(name);
        if crate::store::is_revocation_entry(name) {
            self.forget_cached(&redis_key);
        }
        let window_ms = millis(window).max(1);
        self.run(Retry::Never, |mut conn| {
            let mut invocation = self.inner.scripts.increment.key(&redis_key);
            invocation.arg(window_ms);
            async move { invocation.invoke_async(&mut conn).await }
        })
        .await
    }

    async fn count(&self, name: &str) -> Result<u64> {
        let redis_key = self.counter_key(name);
        let cache = self.counter_cache(name);
        if let Some(count) = cache.and_then(|cache| cache.count(&redis_key)) {
            return Ok(count);
        }
        let epoch = cache.map(Cache::epoch);
        let count: Option<u64> = self
            .run(Retry::Once, |mut conn| {
                let mut command = redis::cmd("GET");
                command.arg(&redis_key);
                async move { command.query_async(&mut conn).await }
            })
            .await?;
        let count = count.unwrap_or(0);
        if let (Some(cache), Some(epoch)) = (cache, epoch) {
            cache.put_count(redis_key, count, epoch);
        }
        Ok(count)
    }

    /// One `MGET` for the counters the local cache does not hold (one `GET` each on a cluster,
    /// where the names may live on different primaries).
    async fn any_counted(&self, names: &[&str]) -> Result<bool> {
        if self.inner.cluster {
            for name in names {
                if self.count(name).await? > 0 {
                    return Ok(true);
                }
            }
            return Ok(false);
        }
        let mut unknown = Vec::with_capacity(names.len());
        for name in names {
            let (redis_key, cache) = (self.counter_key(name), self.counter_cache(name));
            match cache.and_then(|cache| cache.count(&redis_key)) {
                Some(count) if count > 0 => return Ok(true),
                Some(_) => {}
                None => unknown.push((redis_key, cache)),
            }
        }
        if unknown.is_empty() {
            return Ok(false);
        }
        let epoch = self.inner.cache.as_deref().map(Cache::epoch);
        let counts: Vec<Option<u64>> = self
            .run(Retry::Once, |mut conn| {
                let mut command = redis::cmd("MGET");
                for (redis_key, _) in &unknown {
                    command.arg(redis_key);
                }
                async move { command.query_async(&mut conn).await }
            })
            .await?;
        let mut counted = false;
        for ((redis_key, cache), count) in unknown.into_iter().zip(counts) {
            let count = count.unwrap_or(0);
            counted |= count > 0;
            if let (Some(cache), Some(epoch)) = (cache, epoch) {
                cache.put_count(redis_key, count, epoch);
            }
        }
        Ok(counted)
    }

    /// With the local cache, while it receives invalidations (they cover the revocation list).
    fn revocation_version(&self) -> Option<u64> {
        self.inner.cache.as_deref().and_then(Cache::tracked_epoch)
    }

    async fn reset(&self, name: &str) -> Result<()> {
        let redis_key = self.counter_key(name);
        if crate::store::is_revocation_entry(name) {
            self.forget_cached(&redis_key);
        }
        self.run(Retry::Once, |mut conn| {
            let mut command = redis::cmd("DEL");
            command.arg(&redis_key);
            async move { command.query_async::<()>(&mut conn).await }
        })
        .await
    }
}

mod cache;
mod cluster;
mod connection;
mod decoded;
#[cfg(test)]
mod tests;
