//! The in-process backend: fast, bounded, and gone when the process ends.
//!
//! Use it for a single node (the embedded demo) and for tests. Nothing is shared between
//! processes, so with several nodes each has its own sessions and single logout reaches only the
//! node that holds them.
//!
//! # Memory bound
//! Each kind of entry (sessions, one-time values, counters) holds at most
//! [`MemoryConfig::max_entries`]. Expired entries are reclaimed by a background task (when a
//! Tokio runtime is present at construction) and whenever a full map needs room; if a map is
//! still full, the entry closest to its expiry is evicted and a warning is logged.

use std::borrow::Borrow;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::hash::{BuildHasher, Hash, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use async_trait::async_trait;

use crate::lock;
use crate::{
    CounterStore, IndexTag, OneTimeKey, OneTimeStore, Record, Result, Session, SessionIndex,
    SessionKey, SessionStore, Timestamp,
};

/// Limits of a [`MemoryStore`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryConfig {
    /// Most entries of each kind (sessions, one-time values, counters) kept at once.
    pub max_entries: usize,
    /// How often the background task reclaims expired entries.
    pub reclaim_interval: Duration,
}

impl Default for MemoryConfig {
    fn default() -> Self {
        Self {
            max_entries: 100_000,
            reclaim_interval: Duration::from_secs(30),
        }
    }
}

/// The in-process store. Cloning is cheap and clones share their data.
#[derive(Clone, Debug)]
pub struct MemoryStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    sessions: Mutex<Sessions>,
    one_time: Mutex<ExpiringMap<String, Vec<u8>>>,
    counters: Mutex<ExpiringMap<String, u64>>,
    /// Counts increments of revocation-list entries: [`CounterStore::revocation_version`].
    increments: AtomicU64,
}

impl MemoryStore {
    /// An empty store. Inside a Tokio runtime this also starts the task that reclaims expired
    /// entries; it stops when the last clone of the store is dropped.
    pub fn new(config: MemoryConfig) -> Self {
        let capacity = config.max_entries.max(1);
        let inner = Arc::new(Inner {
            sessions: Mutex::new(Sessions {
                map: ExpiringMap::new("session", capacity),
                index: HashMap::new(),
            }),
            one_time: Mutex::new(ExpiringMap::new("one-time value", capacity)),
            counters: Mutex::new(ExpiringMap::new("counter", capacity)),
            increments: AtomicU64::new(0),
        });
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(reclaim_forever(
                Arc::downgrade(&inner),
                config.reclaim_interval,
            ));
        }
        Self { inner }
    }

    /// Removes every expired entry now.
    pub fn reclaim_expired(&self) {
        self.inner.reclaim(Timestamp::now());
    }

    /// How many sessions, one-time values and counters are held, expired or not.
    pub fn len(&self) -> (usize, usize, usize) {
        (
            lock(&self.inner.sessions).map.entries.len(),
            lock(&self.inner.one_time).entries.len(),
            lock(&self.inner.counters).entries.len(),
        )
    }

    /// Whether the store holds nothing at all.
    pub fn is_empty(&self) -> bool {
        self.len() == (0, 0, 0)
    }

    /// Stores `record` under `key` as given, for tests that need a session with a known key.
    #[cfg(any(test, feature = "testing"))]
    pub fn insert_raw(&self, key: &SessionKey, record: Record) {
        lock(&self.inner.sessions).insert(key.clone(), record);
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new(MemoryConfig::default())
    }
}

impl Inner {
    fn reclaim(&self, now: Timestamp) {
        lock(&self.sessions).purge_expired(now);
        lock(&self.one_time).purge_expired(now);
        lock(&self.counters).purge_expired(now);
    }
}

async fn reclaim_forever(inner: Weak<Inner>, every: Duration) {
    let mut ticker = tokio::time::interval(every);
    ticker.tick().await;
    loop {
        ticker.tick().await;
        match inner.upgrade() {
            Some(inner) => inner.reclaim(Timestamp::now()),
            None => return,
        }
    }
}

/// A map whose entries expire, bounded in size, with an expiry-ordered queue for reclaiming.
///
/// Keys are looked up as text. Maps whose keys come from outside (counter names) keep the
/// standard library's keyed hasher; the session map, whose keys are 256 random bits the store
/// generated, uses a faster one.
#[derive(Debug)]
struct ExpiringMap<K, V, S = RandomState> {
    what: &'static str,
    capacity: usize,
    entries: HashMap<K, (V, Timestamp), S>,
    by_expiry: BTreeSet<(Timestamp, K)>,
}

impl<K, V, S> ExpiringMap<K, V, S>
where
    K: Borrow<str> + Hash + Ord + Clone,
    S: BuildHasher + Default,
{
    fn new(what: &'static str, capacity: usize) -> Self {
        Self {
            what,
            capacity,
            entries: HashMap::default(),
            by_expiry: BTreeSet::new(),
        }
    }

    /// The key and value under `key` unless it has expired.
    fn get_live(&self, key: &str, now: Timestamp) -> Option<(&K, &V)> {
        self.entries
            .get_key_value(key)
            .filter(|(_, (_, expires_at))| now < *expires_at)
            .map(|(key, (value, _))| (key, value))
    }

    /// The value under `key` unless it has expired. Expired entries are left for
    /// [`Self::purge_expired`], which also lets the session index drop them.
    fn get_live_mut(&mut self, key: &str, now: Timestamp) -> Option<&mut V> {
        self.entries
            .get_mut(key)
            .filter(|(_, expires_at)| now < *expires_at)
            .map(|(value, _)| value)
    }

    /// Inserts or replaces `key`; returns the entries removed to make room.
    fn insert(&mut self, key: K, value: V, expires_at: Timestamp, now: Timestamp) -> Vec<(K, V)> {
        let mut removed = Vec::new();
        if !self.entries.contains_key(key.borrow()) && self.entries.len() >= self.capacity {
            removed = self.purge_expired(now);
            while self.entries.len() >= self.capacity {
                let Some((_, oldest)) = self.by_expiry.first().cloned() else {
                    break;
                };
                tracing::warn!(
                    capacity = self.capacity,
                    "memory store is full; evicting the {} closest to expiry",
                    self.what
                );
                removed.extend(self.remove(oldest.borrow()).map(|value| (oldest, value)));
            }
        }
        if let Some((_, old_expiry)) = self.entries.get(key.borrow()) {
            self.by_expiry.remove(&(*old_expiry, key.clone()));
        }
        self.by_expiry.insert((expires_at, key.clone()));
        self.entries.insert(key, (value, expires_at));
        removed
    }

    fn set_expiry(&mut self, key: &str, expires_at: Timestamp) {
        let Some((stored, (_, current))) = self.entries.get_key_value(key) else {
            return;
        };
        let queued = (*current, stored.clone());
        self.by_expiry.remove(&queued);
        self.by_expiry.insert((expires_at, queued.1));
        if let Some((_, current)) = self.entries.get_mut(key) {
            *current = expires_at;
        }
    }

    fn remove(&mut self, key: &str) -> Option<V> {
        let (key, (value, expires_at)) = self.entries.remove_entry(key)?;
        self.by_expiry.remove(&(expires_at, key));
        Some(value)
    }

    fn purge_expired(&mut self, now: Timestamp) -> Vec<(K, V)> {
        let mut removed = Vec::new();
        while let Some((expires_at, key)) = self.by_expiry.first().cloned() {
            if expires_at > now {
                break;
            }
            let value = self.remove(key.borrow());
            removed.extend(value.map(|value| (key, value)));
        }
        removed
    }
}

/// Sessions plus the tag index over them; the two change together under one lock.
#[derive(Debug)]
struct Sessions {
    map: ExpiringMap<SessionKey, Record, foldhash::fast::RandomState>,
    index: HashMap<IndexTag, HashSet<SessionKey>>,
}

impl Sessions {
    fn insert(&mut self, key: SessionKey, record: Record) {
        let now = Timestamp::now();
        if let Some((old, _)) = self.map.entries.get(&key) {
            let stale: Vec<IndexTag> = old
                .tags()
                .filter(|tag| !record.tags().any(|new| new == *tag))
                .cloned()
                .collect();
            for tag in &stale {
                self.unindex(tag, key.as_str());
            }
        }
        for tag in record.tags() {
            self.index
                .entry(tag.clone())
                .or_default()
                .insert(key.clone());
        }
        let expires_at = record.expires_at();
        let evicted = self.map.insert(key, record, expires_at, now);
        self.unindex_all(evicted);
    }

    fn remove(&mut self, key: &str) -> Option<Record> {
        let record = self.map.remove(key)?;
        for tag in record.tags() {
            self.unindex(tag, key);
        }
        Some(record)
    }

    fn purge_expired(&mut self, now: Timestamp) {
        let removed = self.map.purge_expired(now);
        self.unindex_all(removed);
    }

    fn unindex_all(&mut self, removed: Vec<(SessionKey, Record)>) {
        for (key, record) in removed {
            for tag in record.tags() {
                self.unindex(tag, key.as_str());
            }
        }
    }

    fn unindex(&mut self, tag: &IndexTag, key: &str) {
        if let Some(keys) = self.index.get_mut(tag) {
            keys.remove(key);
            if keys.is_empty() {
                self.index.remove(tag);
            }
        }
    }

    fn is_live(&self, key: &str, now: Timestamp) -> bool {
        self.map
            .entries
            .get(key)
            .is_some_and(|(_, expires_at)| now < *expires_at)
    }
}

impl MemoryStore {
    /// The live session under `key`, its idle deadline slid.
    fn load_key(&self, key: &str) -> Option<Session> {
        let now = Timestamp::now();
        let mut sessions = lock(&self.inner.sessions);
        let (stored, record) = sessions.map.get_live(key, now)?;
        if !record.would_slide(now) {
            return Some(Session::new(stored.clone(), record.clone()));
        }
        let stored = stored.clone();
        let record = sessions.map.get_live_mut(key, now)?;
        record.slide(now);
        let (record, expires_at) = (record.clone(), record.expires_at());
        sessions.map.set_expiry(key, expires_at);
        Some(Session::new(stored, record))
    }

    /// Looks the text up as it came: a key of this store is found only if it is one.
    fn load_presented_text(&self, presented: &[u8]) -> Option<Session> {
        self.load_key(std::str::from_utf8(presented).ok()?)
    }
}

#[async_trait]
impl SessionStore for MemoryStore {
    async fn create(&self, record: Record) -> Result<Session> {
        let key = SessionKey::generate();
        lock(&self.inner.sessions).insert(key.clone(), record.clone());
        Ok(Session::new(key, record))
    }

    async fn load(&self, key: &SessionKey) -> Result<Option<Session>> {
        Ok(self.load_key(key.as_str()))
    }

    async fn load_presented(&self, presented: &[u8]) -> Result<Option<Session>> {
        Ok(self.load_presented_text(presented))
    }

    fn load_presented_now(&self, presented: &[u8]) -> Option<Result<Option<Session>>> {
        Some(Ok(self.load_presented_text(presented)))
    }

    async fn update(&self, session: &mut Session) -> Result<bool> {
        let now = Timestamp::now();
        let mut sessions = lock(&self.inner.sessions);
        if sessions
            .map
            .get_live_mut(session.key().as_str(), now)
            .is_none()
        {
            return Ok(false);
        }
        session.record_mut().refresh(now);
        sessions.insert(session.key().clone(), session.record().clone());
        Ok(true)
    }

    async fn delete(&self, key: &SessionKey) -> Result<()> {
        lock(&self.inner.sessions).remove(key.as_str());
        Ok(())
    }
}

#[async_trait]
impl SessionIndex for MemoryStore {
    async fn list_by_tag(&self, tag: &IndexTag) -> Result<Vec<SessionKey>> {
        let now = Timestamp::now();
        let sessions = lock(&self.inner.sessions);
        let keys = sessions.index.get(tag).into_iter().flatten();
        Ok(keys
            .filter(|key| sessions.is_live(key.as_str(), now))
            .cloned()
            .collect())
    }

    async fn delete_by_tag(&self, tag: &IndexTag) -> Result<usize> {
        let now = Timestamp::now();
        let mut sessions = lock(&self.inner.sessions);
        let keys = sessions.index.get(tag).cloned().unwrap_or_default();
        let mut deleted = 0;
        for key in keys {
            let live = sessions.is_live(key.as_str(), now);
            if sessions.remove(key.as_str()).is_some() && live {
                deleted += 1;
            }
        }
        Ok(deleted)
    }
}

#[async_trait]
impl OneTimeStore for MemoryStore {
    async fn put_once(&self, value: Vec<u8>, ttl: Duration) -> Result<OneTimeKey> {
        let key = OneTimeKey::generate();
        let now = Timestamp::now();
        lock(&self.inner.one_time).insert(
            key.as_str().to_owned(),
            value,
            now.saturating_add(ttl),
            now,
        );
        Ok(key)
    }

    async fn take(&self, key: &OneTimeKey) -> Result<Option<Vec<u8>>> {
        let mut values = lock(&self.inner.one_time);
        if values
            .get_live_mut(key.as_str(), Timestamp::now())
            .is_none()
        {
            return Ok(None);
        }
        Ok(values.remove(key.as_str()))
    }
}

#[async_trait]
impl CounterStore for MemoryStore {
    async fn increment(&self, name: &str, window: Duration) -> Result<u64> {
        let now = Timestamp::now();
        let mut counters = lock(&self.inner.counters);
        // Under the lock: a reader of the version that then checks counters sees this one.
        // Other counters (sign-in budgets, say) cannot revoke anything: they leave it be.
        if crate::store::is_revocation_entry(name) {
            self.inner.increments.fetch_add(1, Ordering::Release);
        }
        if let Some(count) = counters.get_live_mut(name, now) {
            *count = count.saturating_add(1);
            return Ok(*count);
        }
        counters.insert(name.to_owned(), 1, now.saturating_add(window), now);
        Ok(1)
    }

    async fn count(&self, name: &str) -> Result<u64> {
        let mut counters = lock(&self.inner.counters);
        Ok(counters
            .get_live_mut(name, Timestamp::now())
            .map_or(0, |count| *count))
    }

    async fn any_counted(&self, names: &[&str]) -> Result<bool> {
        let now = Timestamp::now();
        let mut counters = lock(&self.inner.counters);
        Ok(names.iter().any(|name| {
            counters
                .get_live_mut(name, now)
                .is_some_and(|count| *count > 0)
        }))
    }

    fn revocation_version(&self) -> Option<u64> {
        Some(self.inner.increments.load(Ordering::Acquire))
    }

    async fn reset(&self, name: &str) -> Result<()> {
        lock(&self.inner.counters).remove(name);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Expiry;

    fn config(max_entries: usize) -> MemoryConfig {
        MemoryConfig {
            max_entries,
            reclaim_interval: Duration::from_millis(50),
        }
    }

    fn expiry(idle_ms: u64) -> Expiry {
        Expiry::new(Duration::from_millis(idle_ms), Duration::from_secs(3600))
    }

    crate::acceptance_suite!(crate::testing::MemoryHarness);

    #[tokio::test]
    async fn every_load_is_answered_at_once() {
        crate::testing::answers_loads_at_once(&MemoryStore::default()).await;
    }

    #[tokio::test]
    async fn only_revocation_entries_move_the_revocation_version() {
        let store = MemoryStore::default();
        let before = store.revocation_version();
        store
            .increment("login:ip:10.0.0.1", Duration::from_secs(60))
            .await
            .unwrap();
        assert_eq!(store.revocation_version(), before, "a sign-in budget");
        store
            .increment(
                &format!("{}sid:s-1", crate::store::REVOCATION_PREFIX),
                Duration::from_secs(60),
            )
            .await
            .unwrap();
        assert_ne!(store.revocation_version(), before, "a revocation");
    }

    #[tokio::test]
    async fn memory_is_bounded_by_evicting_the_entry_closest_to_expiry() {
        let store = MemoryStore::new(config(10));
        let soonest = store.create(Record::new(expiry(5_000))).await.unwrap();
        for _ in 0..25 {
            store.create(Record::new(expiry(60_000))).await.unwrap();
            store
                .put_once(vec![1], Duration::from_secs(60))
                .await
                .unwrap();
            store
                .increment(
                    &SessionKey::generate().as_str()[..8],
                    Duration::from_secs(60),
                )
                .await
                .unwrap();
        }
        assert_eq!(store.len(), (10, 10, 10));
        assert!(store.load(soonest.key()).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn evicted_sessions_leave_the_index() {
        let store = MemoryStore::new(config(2));
        let tag = IndexTag::new("sid", "s").unwrap();
        store
            .create(Record::new(expiry(1_000)).with_tag(tag.clone()))
            .await
            .unwrap();
        for _ in 0..2 {
            store.create(Record::new(expiry(60_000))).await.unwrap();
        }
        assert!(store.list_by_tag(&tag).await.unwrap().is_empty());
        assert!(lock(&store.inner.sessions).index.is_empty());
    }

    #[tokio::test]
    async fn expired_entries_are_reclaimed_in_the_background() {
        let store = MemoryStore::new(config(100));
        let tag = IndexTag::new("sid", "s").unwrap();
        for _ in 0..5 {
            store
                .create(Record::new(expiry(30)).with_tag(tag.clone()))
                .await
                .unwrap();
        }
        store
            .put_once(vec![1], Duration::from_millis(30))
            .await
            .unwrap();
        store
            .increment("n", Duration::from_millis(30))
            .await
            .unwrap();
        assert_eq!(store.len(), (5, 1, 1));
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(store.is_empty(), "left: {:?}", store.len());
        assert!(lock(&store.inner.sessions).index.is_empty());
    }

    #[tokio::test]
    async fn the_reclaim_task_ends_with_the_store() {
        let store = MemoryStore::new(config(10));
        let weak = Arc::downgrade(&store.inner);
        drop(store);
        tokio::time::sleep(Duration::from_millis(120)).await;
        assert!(weak.upgrade().is_none());
    }
}
