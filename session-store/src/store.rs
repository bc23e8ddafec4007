use std::fmt::Debug;
use std::time::Duration;

use async_trait::async_trait;

use crate::{IndexTag, OneTimeKey, Record, Result, Session, SessionKey};

/// Where a revocation list (the cookie store's `RevocationList`) keeps its entries among the
/// counters of its store: the stores tell revocations from other counters by it.
pub(crate) const REVOCATION_PREFIX: &str = "revoked:";

/// Whether the counter `name` is a revocation-list entry (see [`REVOCATION_PREFIX`]).
pub(crate) fn is_revocation_entry(name: &str) -> bool {
    name.starts_with(REVOCATION_PREFIX)
}

/// Sessions with idle and absolute expiry.
#[async_trait]
pub trait SessionStore: Send + Sync + Debug {
    /// Stores a new session under a key the store generates.
    ///
    /// # Errors
    /// When the backend is unavailable, or (cookie) the sealed session is too large.
    async fn create(&self, record: Record) -> Result<Session>;

    /// The live session under `key`, or `None` if there is none (never created, expired,
    /// deleted, or unreadable).
    ///
    /// Loading is activity: it slides the idle deadline (see [`Record::touch_granularity`]).
    /// For a cookie store the returned session may carry a new key that must reach the client.
    ///
    /// # Errors
    /// When the backend is unavailable.
    async fn load(&self, key: &SessionKey) -> Result<Option<Session>>;

    /// [`Self::load`] for a key as a client presented it (a cookie value, say): `None` when
    /// the bytes are not a key. A store that recognises a value it has seen before can skip
    /// checking and copying it (a sealed cookie session is hundreds of bytes, on every request).
    ///
    /// # Errors
    /// When the backend is unavailable.
    async fn load_presented(&self, presented: &[u8]) -> Result<Option<Session>> {
        match SessionKey::parse_bytes(presented) {
            Some(key) => self.load(&key).await,
            None => Ok(None),
        }
    }

    /// [`Self::load_presented`] answered at once, when the store can answer from this
    /// process's memory with nothing to wait for (no backend to ask, nothing to write or send):
    /// then the same answer `load_presented` would give. `None` when it cannot; the caller then
    /// awaits `load_presented`. The default never can.
    ///
    /// It saves a signed-in request the future of an asynchronous call, which costs about as
    /// much as the lookup itself for a store in memory.
    fn load_presented_now(&self, presented: &[u8]) -> Option<Result<Option<Session>>> {
        let _ = presented;
        None
    }

    /// Writes the session's record back and refreshes its idle deadline.
    ///
    /// Returns `false`, writing nothing, when the session no longer exists: an update never
    /// brings back a session that was deleted (by single logout, say) or has expired. For a
    /// cookie store the session's key is replaced by the new sealed value.
    ///
    /// # Errors
    /// When the backend is unavailable, or (cookie) the sealed session is too large.
    async fn update(&self, session: &mut Session) -> Result<bool>;

    /// Deletes the session under `key`; deleting an absent session is not an error.
    ///
    /// # Errors
    /// When the backend is unavailable.
    async fn delete(&self, key: &SessionKey) -> Result<()>;
}

/// Sessions found and deleted by their [`IndexTag`]s.
#[async_trait]
pub trait SessionIndex: SessionStore {
    /// The keys of all live sessions tagged with `tag`.
    ///
    /// # Errors
    /// When the backend is unavailable.
    async fn list_by_tag(&self, tag: &IndexTag) -> Result<Vec<SessionKey>>;

    /// Deletes all sessions tagged with `tag`; returns how many were deleted.
    ///
    /// # Errors
    /// When the backend is unavailable.
    async fn delete_by_tag(&self, tag: &IndexTag) -> Result<usize>;
}

/// Values that can be taken exactly once, such as authorization codes.
#[async_trait]
pub trait OneTimeStore: Send + Sync + Debug {
    /// Stores `value` for at most `ttl` under a key the store generates.
    ///
    /// # Errors
    /// When the backend is unavailable.
    async fn put_once(&self, value: Vec<u8>, ttl: Duration) -> Result<OneTimeKey>;

    /// Removes and returns the value under `key`. Of any number of concurrent takers, across
    /// every process sharing the store, exactly one gets the value.
    ///
    /// # Errors
    /// When the backend is unavailable; the value is then not consumed.
    async fn take(&self, key: &OneTimeKey) -> Result<Option<Vec<u8>>>;
}

/// Counters that start at zero and reset when their window ends, such as login attempts.
#[async_trait]
pub trait CounterStore: Send + Sync + Debug {
    /// Adds one to the counter `name` and returns its new value. The first increment starts a
    /// window of `window`; when it ends the counter is back to zero.
    ///
    /// # Errors
    /// When the backend is unavailable.
    async fn increment(&self, name: &str, window: Duration) -> Result<u64>;

    /// The counter's value in its current window (zero when there is none).
    ///
    /// # Errors
    /// When the backend is unavailable.
    async fn count(&self, name: &str) -> Result<u64>;

    /// Whether any of the counters `names` is above zero in its current window: one call for
    /// several names, such as the revocation check of every tag of a session.
    ///
    /// # Errors
    /// When the backend is unavailable.
    async fn any_counted(&self, names: &[&str]) -> Result<bool> {
        for name in names {
            if self.count(name).await? > 0 {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// A number that changes whenever an entry may have been added to a
    /// [`RevocationList`](crate::RevocationList) kept in this store, as far as this process can
    /// tell; `None` (the default) when the store cannot tell. While it stays the same, a session
    /// whose tags were found unrevoked is still unrevoked (an entry only goes away, at the end of
    /// its window), so the check need not be asked again.
    fn revocation_version(&self) -> Option<u64> {
        None
    }

    /// Ends the counter's window now.
    ///
    /// # Errors
    /// When the backend is unavailable.
    async fn reset(&self, name: &str) -> Result<()>;
}

/// Every capability at once: what the SSO center needs from a store shared by its replicas.
pub trait SharedStore: SessionIndex + OneTimeStore + CounterStore {}

impl<T: SessionIndex + OneTimeStore + CounterStore + ?Sized> SharedStore for T {}
