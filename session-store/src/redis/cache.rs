//! The local cache of a [`RedisStore`](super::RedisStore) (see
//! [`RedisConfig::with_local_cache`](super::RedisConfig::with_local_cache)), kept honest by
//! Redis itself.
//!
//! A connection of its own (to the primary, found through Sentinel when the store uses it)
//! asks Redis for client-side caching invalidations
//! (`CLIENT TRACKING ON BCAST PREFIX {prefix}s: PREFIX {prefix}c:revoked:` over RESP3): every
//! change or deletion of a session key or of a revocation-list entry (see
//! [`RevocationList`](crate::RevocationList)), by any node, reaches this node as a push that
//! drops the cached copy. Revocation-list reads are cached, absent entries included, so a
//! cookie session's revocation check costs no round trip either. The
//! cache serves only while that connection is up: when it drops (or stops answering the
//! periodic `PING`), every cached copy is forgotten and loads go to Redis until a new
//! connection tracks again, so no invalidation can be missed unnoticed.
//!
//! A load keeps what it read only if no invalidation arrived since it asked, so a copy read
//! just before a change cannot outlive the change's push.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use redis::sentinel::SentinelClient;
use redis::{AsyncConnectionConfig, Client, ProtocolVersion, PushInfo, PushKind, Value};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::Record;
use crate::lock;
use crate::store::REVOCATION_PREFIX;

/// Most records kept; the cache starts over when it is full.
const CAPACITY: usize = 100_000;
/// How often the invalidation connection proves it is alive.
const PING_EVERY: Duration = Duration::from_millis(500);
/// Longest pause between two attempts to connect again.
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// Cached records by Redis key.
#[derive(Debug, Default)]
pub(crate) struct Cache {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// Whether invalidations are being received; nothing is served or kept otherwise.
    tracking: bool,
    /// Moves on with every invalidation, loss and recovery.
    epoch: u64,
    records: HashMap<String, Record>,
    /// Revocation-list counters (0 for an absent one), by Redis key.
    counts: HashMap<String, u64>,
}

impl Cache {
    /// The cached record under `key`, while invalidations are being received.
    pub(crate) fn get(&self, key: &str) -> Option<Record> {
        let state = lock(&self.state);
        if !state.tracking {
            return None;
        }
        state.records.get(key).cloned()
    }

    /// The epoch while invalidations are being received: it moves on with every change of a
    /// tracked key by any node, so revocation counters found at zero in one epoch are still at
    /// zero while it lasts.
    pub(crate) fn tracked_epoch(&self) -> Option<u64> {
        let state = lock(&self.state);
        state.tracking.then_some(state.epoch)
    }

    /// The epoch to hand to [`Self::put`] for what is about to be read.
    pub(crate) fn epoch(&self) -> u64 {
        lock(&self.state).epoch
    }

    /// Keeps `record`, read from Redis after [`Self::epoch`] returned `epoch`, unless an
    /// invalidation (or a loss of the connection) came in since.
    pub(crate) fn put(&self, key: String, record: Record, epoch: u64) {
        let mut state = lock(&self.state);
        if !state.tracking || state.epoch != epoch {
            return;
        }
        if state.records.len() >= CAPACITY {
            state.records.clear();
        }
        state.records.insert(key, record);
    }

    /// The cached revocation counter under `key`, while invalidations are being received.
    pub(crate) fn count(&self, key: &str) -> Option<u64> {
        let state = lock(&self.state);
        if !state.tracking {
            return None;
        }
        state.counts.get(key).copied()
    }

    /// Keeps `count`, read from Redis after [`Self::epoch`] returned `epoch`, unless an
    /// invalidation (or a loss of the connection) came in since.
    pub(crate) fn put_count(&self, key: String, count: u64, epoch: u64) {
        let mut state = lock(&self.state);
        if !state.tracking || state.epoch != epoch {
            return;
        }
        if state.counts.len() >= CAPACITY {
            state.counts.clear();
        }
        state.counts.insert(key, count);
    }

    /// Forgets `key` (changed or deleted).
    pub(crate) fn invalidate(&self, key: &str) {
        let mut state = lock(&self.state);
        state.epoch += 1;
        state.records.remove(key);
        state.counts.remove(key);
    }

    /// Forgets everything, e.g. after deleting sessions whose keys are not known here.
    pub(crate) fn invalidate_all(&self) {
        let mut state = lock(&self.state);
        state.epoch += 1;
        state.records.clear();
        state.counts.clear();
    }

    /// How many records are cached.
    pub(crate) fn len(&self) -> usize {
        lock(&self.state).records.len()
    }

    fn set_tracking(&self, tracking: bool) {
        let mut state = lock(&self.state);
        state.epoch += 1;
        state.records.clear();
        state.counts.clear();
        state.tracking = tracking;
    }

    fn apply(&self, push: &PushInfo) {
        let keys = push.data.first().and_then(|value| match value {
            Value::Array(keys) => keys
                .iter()
                .map(|key| match key {
                    Value::BulkString(bytes) => String::from_utf8(bytes.clone()).ok(),
                    _ => None,
                })
                .collect::<Option<Vec<_>>>(),
            _ => None,
        });
        match keys {
            Some(keys) => {
                let mut state = lock(&self.state);
                state.epoch += 1;
                for key in keys {
                    state.records.remove(&key);
                    state.counts.remove(&key);
                }
            }
            // A flush of the whole database, or a form not understood: forget everything.
            None => self.invalidate_all(),
        }
    }
}

/// Where the invalidations come from: the one Redis, or the primary Sentinel names at each
/// (re)connection.
pub(crate) enum Source {
    Direct(Client),
    Sentinel(Box<SentinelClient>),
}

impl Source {
    /// The client of the Redis to track now.
    async fn client(&mut self) -> redis::RedisResult<Client> {
        match self {
            Self::Direct(client) => Ok(client.clone()),
            Self::Sentinel(sentinel) => sentinel.async_get_client().await,
        }
    }
}

/// The task receiving invalidations; it ends when the store is dropped.
#[derive(Debug)]
pub(crate) struct Tracker(JoinHandle<()>);

impl Drop for Tracker {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Starts receiving invalidations of the keys under `{prefix}s:` into `cache`, connecting to
/// `source` (and again after every loss; through Sentinel, to the primary of the moment). Must
/// run inside a Tokio runtime.
pub(crate) fn track(
    cache: Arc<Cache>,
    mut source: Source,
    prefix: String,
    timeout: Duration,
) -> Tracker {
    Tracker(tokio::spawn(async move {
        let mut backoff = Duration::from_millis(50);
        loop {
            let primary_only = matches!(source, Source::Sentinel(_));
            let followed = match source.client().await {
                Ok(client) => follow(&cache, &client, &prefix, timeout, primary_only).await,
                Err(error) => Err(error),
            };
            match followed {
                Ok(()) => backoff = Duration::from_millis(50),
                Err(error) => {
                    tracing::warn!(%error, "session cache: invalidations unavailable; serving from Redis");
                }
            }
            cache.set_tracking(false);
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }))
}

/// Tracks on one connection until it is lost, or, with `primary_only`, until the server stops
/// being the primary (a Sentinel failover demoted it): the writes then go elsewhere, and their
/// invalidations with them.
async fn follow(
    cache: &Cache,
    client: &Client,
    prefix: &str,
    timeout: Duration,
    primary_only: bool,
) -> redis::RedisResult<()> {
    let info = client.get_connection_info().clone();
    let settings = info
        .redis_settings()
        .clone()
        .set_protocol(ProtocolVersion::RESP3);
    let client = Client::open(info.set_redis_settings(settings))?;
    let (sender, mut pushes) = mpsc::unbounded_channel();
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(timeout))
        .set_response_timeout(Some(timeout))
        .set_push_sender(sender);
    let mut conn = client
        .get_multiplexed_async_connection_with_config(&config)
        .await?;
    redis::cmd("CLIENT")
        .arg("SETNAME")
        .arg(format!("{}cache-tracking", prefix.replace(' ', "_")))
        .query_async::<()>(&mut conn)
        .await?;
    redis::cmd("CLIENT")
        .arg(&["TRACKING", "ON", "BCAST", "PREFIX"][..])
        .arg(format!("{prefix}s:"))
        .arg("PREFIX")
        .arg(format!("{prefix}c:{REVOCATION_PREFIX}"))
        .query_async::<()>(&mut conn)
        .await?;
    cache.set_tracking(true);
    let mut ping = tokio::time::interval(PING_EVERY);
    loop {
        tokio::select! {
            push = pushes.recv() => match push {
                Some(push) if push.kind == PushKind::Invalidate => cache.apply(&push),
                Some(push) if push.kind == PushKind::Disconnection => {
                    return Err(redis::RedisError::from((
                        redis::ErrorKind::Io,
                        "invalidation connection closed",
                    )));
                }
                Some(_) => {}
                None => return Ok(()),
            },
            _ = ping.tick() => {
                redis::cmd("PING").query_async::<()>(&mut conn).await?;
                if primary_only && !is_primary(&mut conn).await? {
                    return Err(redis::RedisError::from((
                        redis::ErrorKind::Io,
                        "the tracked server is no longer the primary",
                    )));
                }
            }
        }
    }
}

/// Whether the server behind `conn` is a primary (`ROLE`).
async fn is_primary(conn: &mut redis::aio::MultiplexedConnection) -> redis::RedisResult<bool> {
    let role: Vec<Value> = redis::cmd("ROLE").query_async(conn).await?;
    Ok(
        matches!(role.first(), Some(Value::BulkString(role)) if role == b"master")
            || matches!(role.first(), Some(Value::SimpleString(role)) if role == "master"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Expiry;

    fn record() -> Record {
        Record::new(Expiry::new(
            Duration::from_secs(60),
            Duration::from_secs(60),
        ))
    }

    #[test]
    fn nothing_is_served_or_kept_unless_tracking() {
        let cache = Cache::default();
        cache.put("k".into(), record(), cache.epoch());
        assert!(cache.get("k").is_none());
        cache.set_tracking(true);
        cache.put("k".into(), record(), cache.epoch());
        assert!(cache.get("k").is_some());
        cache.set_tracking(false);
        assert!(cache.get("k").is_none());
        cache.set_tracking(true);
        assert!(
            cache.get("k").is_none(),
            "a lost connection forgets everything"
        );
    }

    #[test]
    fn a_read_that_an_invalidation_overtook_is_not_kept() {
        let cache = Cache::default();
        cache.set_tracking(true);
        let epoch = cache.epoch();
        cache.invalidate("k");
        cache.put("k".into(), record(), epoch);
        assert!(cache.get("k").is_none());
    }

    #[test]
    fn pushes_drop_the_keys_they_name_or_everything() {
        let cache = Cache::default();
        cache.set_tracking(true);
        for key in ["a", "b"] {
            cache.put(key.into(), record(), cache.epoch());
        }
        cache.apply(&PushInfo {
            kind: PushKind::Invalidate,
            data: vec![Value::Array(vec![Value::BulkString(b"a".to_vec())])],
        });
        assert!(cache.get("a").is_none());
        assert!(cache.get("b").is_some());
        cache.apply(&PushInfo {
            kind: PushKind::Invalidate,
            data: vec![Value::Nil],
        });
        assert_eq!(cache.len(), 0);
    }
}
