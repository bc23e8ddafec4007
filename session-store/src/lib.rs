//! Pluggable session storage shared by the SSO center and its subsystems.
//!
//! One set of traits covers everything the SSO stack keeps between requests:
//!
//! | trait | what it stores | used for |
//! |---|---|---|
//! | [`SessionStore`] | [`Record`]s with idle and absolute expiry | global and local sessions |
//! | [`SessionIndex`] | tags on records, listed and deleted together | single logout, "sign out everywhere" |
//! | [`OneTimeStore`] | values that can be taken exactly once | authorization codes |
//! | [`CounterStore`] | counters that reset after a window | login-attempt limiting |
//!
//! Backends implement the capabilities they can honour, and no more, so a missing capability is
//! a compile error rather than a run-time surprise:
//!
//! | backend | session | index | one-time | counter | survives a node loss |
//! |---|---|---|---|---|---|
//! | [`MemoryStore`] | yes | yes | yes | yes | no |
//! | [`RedisStore`] (feature `redis`; one Redis, Sentinel or Redis Cluster) | yes | yes | yes | yes | yes |
//! | [`CookieStore`] (feature `cookie`) | yes | no (see [`Revocation`]) | no | no | yes (the browser holds it) |
//! | [`ReplicatedStore`] (feature `replicated`) | yes | yes | yes | yes | yes (≥ 1 peer alive) |
//!
//! [`SharedStore`] names the full set, for code (such as the SSO center) that needs all four.
//!
//! # Identifiers
//! Stores assign every session key and one-time key themselves from a CSPRNG (256 bits,
//! URL-safe base64); a key chosen by a client is never used for a new record.
//!
//! # Expiry
//! A record has an idle timeout and an absolute expiry fixed at creation. Loading a record is
//! activity: it slides the idle deadline forward, never past the absolute expiry. To keep reads
//! cheap the slide is written back at most once per [`Record::touch_granularity`] (a quarter of the
//! idle timeout, at most one minute), so an idle session may end up to that much earlier than its
//! full idle timeout.
//!
//! # Stored format
//! Records are stored as versioned JSON (`{"v":1,…}`); [`record`] documents the format and how
//! older versions are read. Data that cannot be decoded is treated as absent (and logged), never
//! as an error that takes a page down; a backend that cannot be reached is an [`Error`].
#![cfg_attr(docsrs, feature(doc_auto_cfg))]

mod error;
mod key;
pub mod memory;
pub mod record;
mod store;
mod time;

#[cfg(feature = "cookie")]
pub mod cookie;
#[cfg(any(test, feature = "testing"))]
pub mod ports;
#[cfg(feature = "redis")]
pub mod redis;
#[cfg(feature = "replicated")]
pub mod replicated;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use error::{Error, Result};
pub use key::{OneTimeKey, SessionKey};
pub use memory::{MemoryConfig, MemoryStore};
pub use record::{Expiry, IndexTag, Record, Session};
pub use store::{CounterStore, OneTimeStore, SessionIndex, SessionStore, SharedStore};
pub use time::Timestamp;

#[cfg(feature = "cookie")]
pub use cookie::{CookieStore, KeyRing, Revocation, RevocationList};
#[cfg(feature = "redis")]
pub use redis::{RedisConfig, RedisStore};
#[cfg(feature = "replicated")]
pub use replicated::{Peer, ReplicatedStore, ReplicationConfig};

/// Locks `mutex`, also after a panic elsewhere poisoned it: every store keeps its maps
/// consistent at each step, so the data is still usable.
pub(crate) fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
