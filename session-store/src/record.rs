//! Session records and their stored format.
//!
//! # Stored format
//! Backends that keep bytes (Redis, cookies) store a record as JSON with a format version:
//!
//! ```json
//! {"v":1,"exp":1700001800000,"created":1700000000000,"idle":1800000,"abs":1700086400000,
//!  "tags":["sid:3f…"],"data":{"user":"alice"}}
//! ```
//!
//! `created`, `abs` (absolute expiry) and `exp` (current deadline) are milliseconds since the
//! Unix epoch; `idle` is the idle timeout in milliseconds. Readers take the fields by name, in
//! any order; [`encode`] writes `exp` first, so a backend can move the deadline in place
//! without rewriting the record (see [`deadline_in_place`]). A new format gets a new `v`, and
//! [`decode`] keeps reading every older version it has ever written, converting it to the
//! current [`Record`]. A version it does not know (written by a newer release) or bytes that do
//! not parse are treated as absent, so a rollback or a corrupted value logs a warning and asks
//! the user to sign in again instead of failing the request.

use std::any::Any;
use std::collections::BTreeSet;
use std::fmt;
use std::ops::Range;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::time::millis;
use crate::{Error, Result, SessionKey, Timestamp};

/// The format version [`encode`] writes.
pub const CURRENT_VERSION: u32 = 1;

/// Longest interval between two writes of a sliding idle deadline.
const MAX_TOUCH_GRANULARITY: Duration = Duration::from_secs(60);

/// How long a session may live: an idle timeout and an absolute lifetime.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Expiry {
    idle: Duration,
    absolute: Duration,
}

impl Expiry {
    /// A session that ends after `idle` without activity, and after `absolute` in any case.
    ///
    /// An idle timeout longer than the absolute lifetime is shortened to it, and neither is
    /// allowed below one millisecond.
    pub fn new(idle: Duration, absolute: Duration) -> Self {
        let absolute = absolute.max(Duration::from_millis(1));
        Self {
            idle: idle.clamp(Duration::from_millis(1), absolute),
            absolute,
        }
    }

    /// The idle timeout.
    pub fn idle(&self) -> Duration {
        self.idle
    }

    /// The absolute lifetime.
    pub fn absolute(&self) -> Duration {
        self.absolute
    }
}

/// A tag on a record (e.g. the SSO session id or the user id) under which records are listed
/// and deleted together; see [`crate::SessionIndex`].
///
/// Written as `name:value`, where the name is 1–32 characters of `a-z`, `0-9` and `_`, and the
/// value is 1–1024 bytes of any text.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct IndexTag(String);

/// An [`IndexTag`] whose name or value is out of bounds.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid index tag: name must be 1-32 of [a-z0-9_], value 1-1024 bytes")]
pub struct InvalidTag;

impl IndexTag {
    /// A tag `name:value`.
    ///
    /// # Errors
    /// [`InvalidTag`] when the name or the value is out of bounds.
    pub fn new(name: &str, value: &str) -> Result<Self, InvalidTag> {
        let name_ok = (1..=32).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !name_ok || !(1..=1024).contains(&value.len()) {
            return Err(InvalidTag);
        }
        Ok(Self(format!("{name}:{value}")))
    }

    /// The tag's name, such as `sid`.
    pub fn name(&self) -> &str {
        self.0.split_once(':').map_or("", |(name, _)| name)
    }

    /// The tag's value.
    pub fn value(&self) -> &str {
        self.0.split_once(':').map_or("", |(_, value)| value)
    }

    /// The tag as `name:value`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for IndexTag {
    type Error = InvalidTag;

    fn try_from(text: String) -> Result<Self, InvalidTag> {
        let (name, value) = text.split_once(':').ok_or(InvalidTag)?;
        Self::new(name, value)
    }
}

impl From<IndexTag> for String {
    fn from(tag: IndexTag) -> Self {
        tag.0
    }
}

impl fmt::Debug for IndexTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IndexTag({})", self.0)
    }
}

/// The contents of a session: data, index tags and expiry.
///
/// Cloning is cheap: data and tags are shared between clones until one of them changes them
/// (copy on write), so an in-process store hands out records without copying them.
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    data: Arc<Data>,
    tags: Arc<BTreeSet<IndexTag>>,
    created_at: Timestamp,
    idle_timeout: Duration,
    absolute_expiry: Timestamp,
    expires_at: Timestamp,
}

impl Record {
    /// An empty record whose lifetime starts now.
    pub fn new(expiry: Expiry) -> Self {
        let now = Timestamp::now();
        let absolute_expiry = now.saturating_add(expiry.absolute);
        Self {
            data: Arc::default(),
            tags: Arc::default(),
            created_at: now,
            idle_timeout: expiry.idle,
            absolute_expiry,
            expires_at: now.saturating_add(expiry.idle).min(absolute_expiry),
        }
    }

    /// The value under `key`, if present and of type `T`.
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Option<T> {
        self.data
            .map
            .get(key)
            .and_then(|value| T::deserialize(value).ok())
    }

    /// Sets `key` to `value`.
    ///
    /// # Errors
    /// [`Error::Encode`] when `value` cannot be represented as JSON.
    pub fn insert<T: Serialize>(&mut self, key: &str, value: T) -> Result<()> {
        let value = serde_json::to_value(value).map_err(Error::Encode)?;
        self.data_mut().insert(key.to_owned(), value);
        Ok(())
    }

    /// Removes `key`, returning whether it was present.
    pub fn remove(&mut self, key: &str) -> bool {
        self.data_mut().remove(key).is_some()
    }

    /// All data of the record.
    pub fn data(&self) -> &Map<String, Value> {
        &self.data.map
    }

    /// The data, unshared from other clones and without its view, ready to change.
    fn data_mut(&mut self) -> &mut Map<String, Value> {
        let data = Arc::make_mut(&mut self.data);
        data.view.take();
        &mut data.map
    }

    /// A typed view of the data, made by `parse` once per version of the data and shared by
    /// every clone of the record in this process: records an in-process store hands out are
    /// parsed once, not on every load. `None` when `parse` finds nothing to view (not kept, so
    /// the next call parses again).
    ///
    /// # Limitations
    /// A record keeps one view: asking for a view of another type parses every time.
    pub fn view<T: Any + Send + Sync>(
        &self,
        parse: impl FnOnce(&Map<String, Value>) -> Option<T>,
    ) -> Option<Arc<T>> {
        if let Some(view) = self.data.view.get() {
            return match Arc::clone(view).downcast::<T>() {
                Ok(view) => Some(view),
                Err(_) => parse(&self.data.map).map(Arc::new),
            };
        }
        let view = Arc::new(parse(&self.data.map)?);
        let shared: Arc<dyn Any + Send + Sync> = view.clone();
        // Another clone may have made the view meanwhile; both are parses of the same data.
        let _ = self.data.view.set(shared);
        Some(view)
    }

    /// Adds an index tag.
    pub fn tag(&mut self, tag: IndexTag) {
        Arc::make_mut(&mut self.tags).insert(tag);
    }

    /// The record with an index tag added.
    #[must_use]
    pub fn with_tag(mut self, tag: IndexTag) -> Self {
        self.tag(tag);
        self
    }

    /// The record's index tags.
    pub fn tags(&self) -> impl ExactSizeIterator<Item = &IndexTag> {
        self.tags.iter()
    }

    /// When the record was created.
    pub fn created_at(&self) -> Timestamp {
        self.created_at
    }

    /// The idle timeout.
    pub fn idle_timeout(&self) -> Duration {
        self.idle_timeout
    }

    /// When the record ends whatever its activity.
    pub fn absolute_expiry(&self) -> Timestamp {
        self.absolute_expiry
    }

    /// When the record ends unless there is activity before.
    pub fn expires_at(&self) -> Timestamp {
        self.expires_at
    }

    /// Whether the record is still alive at `now`.
    pub fn is_live_at(&self, now: Timestamp) -> bool {
        now < self.expires_at
    }

    /// How far the idle deadline must be able to move before a load writes it back:
    /// a quarter of the idle timeout, at most one minute.
    pub fn touch_granularity(&self) -> Duration {
        (self.idle_timeout / 4).min(MAX_TOUCH_GRANULARITY)
    }

    /// Records activity at `now`: moves the idle deadline to `now + idle` (capped by the
    /// absolute expiry) if that moves it by at least [`Self::touch_granularity`].
    ///
    /// Returns whether the deadline moved, i.e. whether a backend must write it back.
    pub(crate) fn slide(&mut self, now: Timestamp) -> bool {
        let due = self.would_slide(now);
        if due {
            self.expires_at = self.next_deadline(now);
        }
        due
    }

    /// Whether [`Self::slide`] at `now` would move the deadline.
    pub(crate) fn would_slide(&self, now: Timestamp) -> bool {
        let deadline = self.next_deadline(now);
        deadline.saturating_since(self.expires_at) >= self.touch_granularity()
            && deadline > self.expires_at
    }

    /// Records activity at `now` unconditionally, as a write does.
    pub(crate) fn refresh(&mut self, now: Timestamp) {
        self.expires_at = self.next_deadline(now).max(self.expires_at);
    }

    fn next_deadline(&self, now: Timestamp) -> Timestamp {
        now.saturating_add(self.idle_timeout)
            .min(self.absolute_expiry)
    }

    /// Moves the deadline to `expires_at` if that is later (capped by the absolute expiry), as
    /// a refresh made on another node.
    #[cfg(feature = "replicated")]
    pub(crate) fn extend_to(&mut self, expires_at: Timestamp) {
        self.expires_at = self.expires_at.max(expires_at.min(self.absolute_expiry));
    }

    /// Sets the current deadline as a backend keeps it outside the stored bytes (Redis TTL).
    #[cfg(feature = "redis")]
    pub(crate) fn set_expires_at(&mut self, expires_at: Timestamp) {
        self.expires_at = expires_at.min(self.absolute_expiry);
    }
}

/// A record's data and the typed view parsed from it ([`Record::view`]).
#[derive(Default)]
struct Data {
    map: Map<String, Value>,
    view: OnceLock<Arc<dyn Any + Send + Sync>>,
}

/// A copy is made to be changed, so it starts without a view.
impl Clone for Data {
    fn clone(&self) -> Self {
        Self {
            map: self.map.clone(),
            view: OnceLock::new(),
        }
    }
}

impl PartialEq for Data {
    fn eq(&self, other: &Self) -> bool {
        self.map == other.map
    }
}

impl fmt::Debug for Data {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.map.fmt(f)
    }
}

/// A stored session: its key and its record.
#[derive(Clone, Debug, PartialEq)]
pub struct Session {
    key: SessionKey,
    record: Record,
}

impl Session {
    pub(crate) fn new(key: SessionKey, record: Record) -> Self {
        Self { key, record }
    }

    /// The key the client presents. For [`crate::CookieStore`] it changes whenever the record is
    /// resealed, and the new value must be sent back to the client.
    pub fn key(&self) -> &SessionKey {
        &self.key
    }

    pub(crate) fn set_key(&mut self, key: SessionKey) {
        self.key = key;
    }

    /// The session's record.
    pub fn record(&self) -> &Record {
        &self.record
    }

    /// The session's record, to change before [`crate::SessionStore::update`].
    pub fn record_mut(&mut self) -> &mut Record {
        &mut self.record
    }

    /// The record, dropping the key.
    pub fn into_record(self) -> Record {
        self.record
    }

    /// The key, dropping the record.
    pub fn into_key(self) -> SessionKey {
        self.key
    }
}

/// Format version 1 as written: `exp` first (see [`deadline_in_place`]).
#[derive(Serialize)]
struct WriteV1<'a> {
    v: u32,
    exp: Timestamp,
    created: Timestamp,
    idle: u64,
    abs: Timestamp,
    tags: &'a BTreeSet<IndexTag>,
    data: &'a Map<String, Value>,
}

/// Format version 1 as read: fields in any order.
#[derive(Deserialize)]
struct StoredV1 {
    v: u32,
    data: Map<String, Value>,
    tags: BTreeSet<IndexTag>,
    created: Timestamp,
    idle: u64,
    abs: Timestamp,
    exp: Timestamp,
}

#[derive(Deserialize)]
struct VersionOnly {
    v: u32,
}

/// What [`encode`] writes before the deadline's digits.
pub(crate) const DEADLINE_PREFIX: &[u8] = br#"{"v":1,"exp":"#;
/// Digits of a deadline in milliseconds from 2001 to 2286.
const DEADLINE_DIGITS: usize = 13;

/// Serializes a record in the current format.
///
/// # Errors
/// [`Error::Encode`] if serialization fails (it does not for records built through this API).
pub fn encode(record: &Record) -> Result<Vec<u8>> {
    let stored = WriteV1 {
        v: CURRENT_VERSION,
        exp: record.expires_at,
        created: record.created_at,
        idle: millis(record.idle_timeout),
        abs: record.absolute_expiry,
        tags: &record.tags,
        data: &record.data.map,
    };
    serde_json::to_vec(&stored).map_err(Error::Encode)
}

/// Where the deadline's digits are in `bytes`, when [`encode`] wrote them there and a new
/// deadline `deadline` has as many digits: a backend can then overwrite them in place (Redis
/// `SETRANGE`) instead of rewriting the record. `None` for records written otherwise (by an
/// older release, say), which must be rewritten whole.
pub fn deadline_in_place(bytes: &[u8], deadline: Timestamp) -> Option<Range<usize>> {
    let digits = DEADLINE_PREFIX.len()..DEADLINE_PREFIX.len() + DEADLINE_DIGITS;
    let fits = bytes.starts_with(DEADLINE_PREFIX)
        && bytes.get(digits.clone())?.iter().all(u8::is_ascii_digit)
        && bytes.get(digits.end) == Some(&b',')
        && deadline.as_millis().to_string().len() == DEADLINE_DIGITS;
    fits.then_some(digits)
}

/// Reads a record in any format version this crate has written, in one parse.
///
/// Returns `None` (and logs why) for bytes that do not parse or carry an unknown version.
pub fn decode(bytes: &[u8]) -> Option<Record> {
    match serde_json::from_slice::<StoredV1>(bytes) {
        Ok(stored) if stored.v == 1 => Some(Record::from(stored)),
        Ok(StoredV1 { v, .. }) => {
            unknown_version(v);
            None
        }
        // Only on this rare path is the version read on its own, to log the right reason.
        Err(error) => {
            match serde_json::from_slice::<VersionOnly>(bytes) {
                Ok(VersionOnly { v }) if v != 1 => unknown_version(v),
                Ok(_) => tracing::warn!(
                    %error,
                    version = 1,
                    "stored session record is corrupt; treating it as absent"
                ),
                Err(_) => tracing::warn!(
                    %error,
                    "stored session record is not readable; treating it as absent"
                ),
            }
            None
        }
    }
}

fn unknown_version(version: u32) {
    tracing::warn!(
        version,
        "stored session record has an unknown format version; treating it as absent"
    );
}

impl From<StoredV1> for Record {
    fn from(stored: StoredV1) -> Self {
        Self {
            data: Arc::new(Data {
                map: stored.data,
                view: OnceLock::new(),
            }),
            tags: Arc::new(stored.tags),
            created_at: stored.created,
            idle_timeout: Duration::from_millis(stored.idle),
            absolute_expiry: stored.abs,
            expires_at: stored.exp.min(stored.abs),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> Record {
        let mut record = Record::new(Expiry::new(
            Duration::from_secs(60),
            Duration::from_secs(600),
        ))
        .with_tag(IndexTag::new("sid", "abc").unwrap());
        record.insert("user", "alice").unwrap();
        record
    }

    #[test]
    fn encode_then_decode_is_identity() {
        let record = record();
        assert_eq!(decode(&encode(&record).unwrap()), Some(record));
    }

    #[test]
    fn version_1_written_by_the_first_release_still_reads() {
        // Frozen bytes in format version 1: changing the current format without a new version
        // and a migration turns this test red.
        let bytes = br#"{"v":1,"data":{"user":"alice","n":3},"tags":["sid:s-1","user:alice"],"created":1700000000000,"idle":1800000,"abs":1700086400000,"exp":1700001800000}"#;
        let record = decode(bytes).expect("version 1 must stay readable");
        assert_eq!(record.get::<String>("user").as_deref(), Some("alice"));
        assert_eq!(record.get::<u32>("n"), Some(3));
        assert_eq!(
            record.tags().map(IndexTag::as_str).collect::<Vec<_>>(),
            ["sid:s-1", "user:alice"]
        );
        assert_eq!(
            record.created_at(),
            Timestamp::from_millis(1_700_000_000_000)
        );
        assert_eq!(record.idle_timeout(), Duration::from_secs(1800));
        assert_eq!(
            record.absolute_expiry(),
            Timestamp::from_millis(1_700_086_400_000)
        );
        assert_eq!(
            record.expires_at(),
            Timestamp::from_millis(1_700_001_800_000)
        );
    }

    #[test]
    fn the_deadline_is_written_first_and_can_move_in_place() {
        let record = record();
        let mut bytes = encode(&record).unwrap();
        let later = record.expires_at().saturating_add(Duration::from_secs(30));
        let digits = deadline_in_place(&bytes, later).expect("written in place");
        bytes.splice(digits, later.as_millis().to_string().into_bytes());
        let moved = decode(&bytes).unwrap();
        assert_eq!(moved.expires_at(), later);
        assert_eq!(moved.data(), record.data());

        let older_layout = br#"{"v":1,"data":{},"tags":[],"created":1700000000000,"idle":1800000,"abs":1700086400000,"exp":1700001800000}"#;
        assert_eq!(deadline_in_place(older_layout, later), None);
        assert_eq!(
            deadline_in_place(&encode(&record).unwrap(), Timestamp::from_millis(5)),
            None,
            "a deadline of another width is never written in place"
        );
    }

    #[test]
    fn views_are_parsed_once_shared_by_clones_and_dropped_on_change() {
        let mut record = record();
        let parses = std::sync::atomic::AtomicUsize::new(0);
        let parse = |data: &Map<String, Value>| {
            parses.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            data.get("user").and_then(Value::as_str).map(str::to_owned)
        };
        let first = record.view(parse).unwrap();
        let clone = record.clone();
        let again = clone.view(parse).unwrap();
        assert!(Arc::ptr_eq(&first, &again));
        assert_eq!(parses.load(std::sync::atomic::Ordering::SeqCst), 1);

        record.insert("user", "bob").unwrap();
        assert_eq!(record.view(parse).unwrap().as_str(), "bob");
        assert_eq!(
            clone.view(parse).unwrap().as_str(),
            "alice",
            "clones keep theirs"
        );
        assert_eq!(parses.load(std::sync::atomic::Ordering::SeqCst), 2);
        assert_eq!(
            record.view(|_| Some(1u8)).as_deref(),
            Some(&1),
            "another type parses"
        );
    }

    #[test]
    fn unknown_versions_and_garbage_decode_as_absent() {
        assert_eq!(decode(br#"{"v":99,"whatever":true}"#), None);
        assert_eq!(decode(b"\x00\xffnot json"), None);
        assert_eq!(decode(br#"{"v":1,"data":"not a map"}"#), None);
        assert_eq!(decode(b""), None);
    }

    #[test]
    fn sliding_never_passes_the_absolute_expiry() {
        let mut record = Record::new(Expiry::new(
            Duration::from_secs(10),
            Duration::from_secs(15),
        ));
        let later = record.created_at().saturating_add(Duration::from_secs(12));
        assert!(record.slide(later));
        assert_eq!(record.expires_at(), record.absolute_expiry());
        assert!(!record.slide(later.saturating_add(Duration::from_secs(1))));
    }

    #[test]
    fn sliding_writes_back_only_past_the_granularity() {
        let mut record = Record::new(Expiry::new(
            Duration::from_secs(40),
            Duration::from_secs(600),
        ));
        let start = record.created_at();
        assert!(!record.slide(start.saturating_add(Duration::from_secs(5))));
        assert!(record.slide(start.saturating_add(Duration::from_secs(10))));
        assert_eq!(
            record.expires_at(),
            start.saturating_add(Duration::from_secs(50))
        );
    }

    #[test]
    fn tags_validate_name_and_value() {
        assert!(IndexTag::new("sid", "x").is_ok());
        assert!(IndexTag::new("Sid", "x").is_err());
        assert!(IndexTag::new("", "x").is_err());
        assert!(IndexTag::new("sid", "").is_err());
        assert!(IndexTag::new("sid", &"x".repeat(1025)).is_err());
        let tag = IndexTag::new("user", "a:b").unwrap();
        assert_eq!((tag.name(), tag.value()), ("user", "a:b"));
    }
}
