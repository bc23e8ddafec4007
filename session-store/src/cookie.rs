//! The client-side backend: the whole session, sealed with AES-256-GCM, is the cookie value.
//!
//! Nothing is stored on the server, so every node can read every session and losing a node
//! loses nothing. The price:
//!
//! # Limitations
//! - **No server-side delete.** [`SessionStore::delete`] cannot reach the copy a browser (or an
//!   attacker who stole it) still holds; the sealed value stays valid until it expires. Ending
//!   such sessions early is what [`Revocation`] is for: give the store a revocation check with
//!   [`CookieStore::with_revocation`] and revoke the session's tags (e.g. its SSO `sid`) through
//!   a [`RevocationList`] shared by every node. The SSO client re-checks the global session with
//!   the center at a bounded interval on top of this.
//! - **No index, no one-time values, no counters**: the store implements [`SessionStore`] only.
//! - **Size.** A browser keeps at most 4096 bytes of `name=value` per cookie; a record that
//!   seals larger is refused with [`Error::TooLarge`], never truncated.
//! - **Sliding expiry** reseals the cookie, so a load may return a session with a new key that
//!   must be sent back in `Set-Cookie` (at most once per [`Record::touch_granularity`]).
//!
//! # Opened cookies
//! A store remembers the last [`OPENED_CAPACITY`] cookie values it sealed or opened, with their
//! records, so a browser presenting the same cookie again costs a lookup instead of a
//! decryption and a parse (it starts over when full). Only an exact copy of a value this store
//! authenticated matches; expiry is checked on every load all the same, and revocation on every
//! load too unless the list can say nothing was revoked since the value's last check (see
//! [`CounterStore::revocation_version`]).
//!
//! # Compression
//! [`CookieStore::with_compression`] deflates records before sealing them, which makes a
//! typical signed-in session about 40 % smaller: fewer bytes on every request. Only turn it on
//! for records that never hold text an attacker chooses next to a secret: the length of a
//! compressed value says how well its parts repeat each other (the CRIME attack). Values sealed
//! with or without it open either way.
//!
//! # Stored format
//! The sealed plaintext is the record as [`encode`] writes it (JSON, starting with `{`), or, when
//! compressed, the byte `0x01` followed by that JSON as raw DEFLATE (RFC 1951). Any other first
//! byte is a format this release does not know: the value reads as absent.
//!
//! # Keys
//! A [`KeyRing`] holds one current key, used to seal, and any number of older keys that are
//! only used to open. Each sealed value names its key id, so keys rotate without signing anyone
//! out: add the new key as current, keep the old one as previous for one absolute session
//! lifetime, then drop it. A session opened with a previous key is resealed with the current one.
//! Random 96-bit nonces are used, so rotate a key well before 2³² seals.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

use crate::key::random_bytes;
use crate::lock;
use crate::record::{decode, encode};
use crate::store::REVOCATION_PREFIX;
use crate::{
    CounterStore, Error, IndexTag, Record, Result, Session, SessionKey, SessionStore, Timestamp,
};

/// Browsers store at least this many bytes of `name=value` per cookie (RFC 6265 §6.1).
pub const MAX_COOKIE_BYTES: usize = 4096;

/// Most opened cookie values a store remembers (see the module documentation).
pub const OPENED_CAPACITY: usize = 10_000;

/// Characters at the end of a sealed value that encode (part of) its authentication tag:
/// different for every seal, so they key the opened values.
const TAG_CHARS: usize = 22;

/// First plaintext byte of a compressed record (a JSON record starts with `{`).
const DEFLATED: u8 = 0x01;

/// Longest record a compressed value may inflate to: far more than fits a cookie, so only a
/// forged value could reach it, and none can be forged without the key.
const MAX_INFLATED_BYTES: usize = 64 * 1024;

/// Compression level for [`CookieStore::with_compression`]: a session-sized record is as small
/// at 6 as at 9, and sealing it takes about 25 µs at any level (at most once a minute per
/// session); opening takes about 4 µs, once per node.
const DEFLATE_LEVEL: u8 = 6;

const NONCE_BYTES: usize = 12;
const KEY_BYTES: usize = 32;

struct SealingKey {
    id: String,
    cipher: Aes256Gcm,
}

/// The keys a [`CookieStore`] seals with (the current one) and opens with (all of them).
pub struct KeyRing {
    current: SealingKey,
    previous: Vec<SealingKey>,
}

impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyRing")
            .field("current", &self.current.id)
            .field(
                "previous",
                &self.previous.iter().map(|key| &key.id).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl KeyRing {
    /// A ring whose current key is `key` (32 bytes, standard base64) with id `id`
    /// (1–16 characters of `A-Z a-z 0-9 _ -`).
    ///
    /// # Errors
    /// [`Error::Config`] for a malformed id or key.
    pub fn new(id: &str, key_base64: &str) -> Result<Self> {
        Ok(Self {
            current: sealing_key(id, key_base64)?,
            previous: Vec::new(),
        })
    }

    /// Adds an older key that is still accepted for opening.
    ///
    /// # Errors
    /// [`Error::Config`] for a malformed id or key, or an id already in the ring.
    pub fn with_previous(mut self, id: &str, key_base64: &str) -> Result<Self> {
        let key = sealing_key(id, key_base64)?;
        if self.find(id).is_some() {
            return Err(Error::Config(format!("cookie key id {id:?} is used twice")));
        }
        self.previous.push(key);
        Ok(self)
    }

    /// A new random key in the form [`KeyRing::new`] takes.
    pub fn generate_key() -> String {
        STANDARD.encode(random_bytes::<KEY_BYTES>())
    }

    fn find(&self, id: &str) -> Option<&SealingKey> {
        std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|key| key.id == id)
    }
}

fn sealing_key(id: &str, key_base64: &str) -> Result<SealingKey> {
    let id_ok = (1..=16).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'));
    if !id_ok {
        return Err(Error::Config(format!(
            "cookie key id {id:?} must be 1-16 characters of A-Z a-z 0-9 _ -"
        )));
    }
    let bytes = STANDARD
        .decode(key_base64.trim())
        .ok()
        .filter(|bytes| bytes.len() == KEY_BYTES)
        .ok_or_else(|| {
            Error::Config(format!(
                "cookie key {id:?} must be {KEY_BYTES} bytes in standard base64"
            ))
        })?;
    let cipher = Aes256Gcm::new_from_slice(&bytes)
        .map_err(|_| Error::Config(format!("cookie key {id:?} has the wrong length")))?;
    Ok(SealingKey {
        id: id.to_owned(),
        cipher,
    })
}

/// Decides whether sessions carrying a tag have been revoked.
#[async_trait]
pub trait Revocation: Send + Sync + fmt::Debug {
    /// Whether sessions tagged `tag` must no longer be accepted.
    ///
    /// # Errors
    /// When the list cannot be read; the session is then not accepted either.
    async fn is_revoked(&self, tag: &IndexTag) -> Result<bool>;

    /// Whether any of `tags` is revoked: the check a session makes of all its tags at once.
    ///
    /// # Errors
    /// When the list cannot be read; the session is then not accepted either.
    async fn any_revoked(&self, tags: &[&IndexTag]) -> Result<bool> {
        for tag in tags {
            if self.is_revoked(tag).await? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// A number that changes whenever a tag may have been revoked, as far as this process can
    /// tell (see [`CounterStore::revocation_version`]); `None` (the default) when the list
    /// cannot tell, and every load asks [`Self::any_revoked`].
    fn version(&self) -> Option<u64> {
        None
    }
}

/// A revocation list kept in any [`CounterStore`]: with a shared store (Redis) a revocation made
/// on one node is seen by all of them.
#[derive(Debug, Clone)]
pub struct RevocationList<C> {
    counters: C,
}

impl<C: CounterStore> RevocationList<C> {
    /// A list kept in `counters`.
    pub fn new(counters: C) -> Self {
        Self { counters }
    }

    /// Revokes every session tagged `tag` for `duration`, which should be at least the longest
    /// absolute lifetime of such a session.
    ///
    /// # Errors
    /// When the store is unavailable.
    pub async fn revoke(&self, tag: &IndexTag, duration: Duration) -> Result<()> {
        self.counters
            .increment(&revocation_name(tag), duration)
            .await
            .map(drop)
    }
}

fn revocation_name(tag: &IndexTag) -> String {
    // Sized up front: checked for every tag of every cookie session on every request.
    let mut name = String::with_capacity(REVOCATION_PREFIX.len() + tag.as_str().len());
    name.push_str(REVOCATION_PREFIX);
    name.push_str(tag.as_str());
    name
}

#[async_trait]
impl<C: CounterStore> Revocation for RevocationList<C> {
    async fn is_revoked(&self, tag: &IndexTag) -> Result<bool> {
        Ok(self.counters.count(&revocation_name(tag)).await? > 0)
    }

    async fn any_revoked(&self, tags: &[&IndexTag]) -> Result<bool> {
        let names: Vec<String> = tags.iter().map(|tag| revocation_name(tag)).collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        self.counters.any_counted(&names).await
    }

    fn version(&self) -> Option<u64> {
        self.counters.revocation_version()
    }
}

/// The encrypted-cookie store. Cloning is cheap.
#[derive(Clone, Debug)]
pub struct CookieStore {
    inner: Arc<Inner>,
}

struct Inner {
    cookie_name: String,
    ring: KeyRing,
    revocation: Option<Arc<dyn Revocation>>,
    compress: bool,
    opened: Mutex<OpenedValues>,
}

/// Opened values by the end of their authentication tag: only values this store authenticated
/// are kept, and no one without the key can choose their tags, so a fast hash is enough.
type OpenedValues = HashMap<Box<[u8]>, Remembered, foldhash::fast::RandomState>;

/// A value this store sealed or authenticated.
struct Remembered {
    key: SessionKey,
    opened: Opened,
    /// The revocation list's version when the record's tags were last found unrevoked.
    unrevoked_at: Option<u64>,
}

/// Opened values are sessions: shown as a count only.
impl fmt::Debug for Inner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CookieStore")
            .field("cookie_name", &self.cookie_name)
            .field("ring", &self.ring)
            .field("revocation", &self.revocation)
            .field("compress", &self.compress)
            .field("opened", &lock(&self.opened).len())
            .finish()
    }
}

#[derive(Clone)]
enum Opened {
    Current(Record),
    /// Sealed with a previous key: reseal with the current one.
    Stale(Record),
    /// Resealed by a load (sliding expiry, key rotation) as the key given: requests still
    /// presenting this value (a page's concurrent asset requests, a client yet to store the
    /// new cookie) get that one again instead of a seal each.
    Resealed(Record, SessionKey),
}

impl Opened {
    fn record(&self) -> &Record {
        match self {
            Opened::Current(record) | Opened::Stale(record) | Opened::Resealed(record, _) => record,
        }
    }
}

impl CookieStore {
    /// A store for the cookie named `cookie_name`. The name is bound into every seal, so a value
    /// sealed for one cookie cannot be replayed as another.
    pub fn new(cookie_name: &str, ring: KeyRing) -> Self {
        Self {
            inner: Arc::new(Inner {
                cookie_name: cookie_name.to_owned(),
                ring,
                revocation: None,
                compress: false,
                opened: Mutex::default(),
            }),
        }
    }

    /// The store, refusing sessions any of whose tags `revocation` reports revoked.
    #[must_use]
    pub fn with_revocation(self, revocation: Arc<dyn Revocation>) -> Self {
        self.changed(|inner| inner.revocation = Some(revocation))
    }

    /// The store, compressing the records it seals (see the module documentation for when
    /// that is safe).
    #[must_use]
    pub fn with_compression(self) -> Self {
        self.changed(|inner| inner.compress = true)
    }

    /// The store with a setting changed; values opened so far are remembered only when no
    /// clone shares them.
    fn changed(self, change: impl FnOnce(&mut Inner)) -> Self {
        let mut inner = Arc::try_unwrap(self.inner).unwrap_or_else(|shared| Inner {
            cookie_name: shared.cookie_name.clone(),
            ring: KeyRing {
                current: clone_key(&shared.ring.current),
                previous: shared.ring.previous.iter().map(clone_key).collect(),
            },
            revocation: shared.revocation.clone(),
            compress: shared.compress,
            opened: Mutex::default(),
        });
        change(&mut inner);
        Self {
            inner: Arc::new(inner),
        }
    }

    /// Seals arbitrary bytes as a cookie value with the current key.
    pub(crate) fn seal_bytes(&self, plaintext: &[u8]) -> Result<SessionKey> {
        let key = &self.inner.ring.current;
        let nonce = random_bytes::<NONCE_BYTES>();
        let payload = Payload {
            msg: plaintext,
            aad: self.inner.cookie_name.as_bytes(),
        };
        let ciphertext = key
            .cipher
            .encrypt(Nonce::from_slice(&nonce), payload)
            .map_err(|_| Error::Config("cookie sealing failed".to_owned()))?;
        let mut sealed = nonce.to_vec();
        sealed.extend_from_slice(&ciphertext);
        let value = format!("{}.{}", key.id, URL_SAFE_NO_PAD.encode(sealed));
        let size = self.inner.cookie_name.len() + 1 + value.len();
        if size > MAX_COOKIE_BYTES {
            return Err(Error::TooLarge {
                size,
                limit: MAX_COOKIE_BYTES,
            });
        }
        Ok(SessionKey::from_trusted(value))
    }

    fn seal(&self, record: &Record) -> Result<SessionKey> {
        let encoded = encode(record)?;
        let key = if self.inner.compress {
            let mut plaintext = vec![DEFLATED];
            plaintext.extend(miniz_oxide::deflate::compress_to_vec(
                &encoded,
                DEFLATE_LEVEL,
            ));
            self.seal_bytes(&plaintext)?
        } else {
            self.seal_bytes(&encoded)?
        };
        self.remember(&key, Opened::Current(record.clone()));
        Ok(key)
    }

    /// Opens the value a client presented, or finds it among the values opened before: the
    /// value as a key, what it holds, and the revocation version it was last found unrevoked at.
    /// A remembered value is matched byte for byte, so it need not be checked or copied again.
    fn open(&self, presented: &[u8]) -> Option<(SessionKey, Opened, Option<u64>)> {
        if let Some(known) = lock(&self.inner.opened).get(tag_of(presented))
            && known.key.as_str().as_bytes() == presented
        {
            return Some((known.key.clone(), known.opened.clone(), known.unrevoked_at));
        }
        let key = SessionKey::parse_bytes(presented)?;
        let opened = self.decrypt(&key)?;
        self.remember(&key, opened.clone());
        Some((key, opened, None))
    }

    fn remember(&self, key: &SessionKey, opened: Opened) {
        let mut remembered = lock(&self.inner.opened);
        if remembered.len() >= OPENED_CAPACITY {
            remembered.clear();
        }
        let entry = Remembered {
            key: key.clone(),
            opened,
            unrevoked_at: None,
        };
        remembered.insert(tag_of(key.as_str().as_bytes()).into(), entry);
    }

    /// Notes that `key`'s record was found unrevoked at revocation version `version`.
    fn mark_unrevoked(&self, key: &SessionKey, version: u64) {
        if let Some(known) = lock(&self.inner.opened).get_mut(tag_of(key.as_str().as_bytes()))
            && known.key == *key
        {
            known.unrevoked_at = Some(version);
        }
    }

    /// Opens a sealed value; `None` for anything not sealed by this ring for this cookie.
    fn decrypt(&self, key: &SessionKey) -> Option<Opened> {
        let (id, sealed) = key.as_str().split_once('.')?;
        let Some(sealing_key) = self.inner.ring.find(id) else {
            tracing::debug!(key_id = id, "session cookie sealed with an unknown key");
            return None;
        };
        let sealed = URL_SAFE_NO_PAD.decode(sealed).ok()?;
        if sealed.len() < NONCE_BYTES {
            return None;
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_BYTES);
        let payload = Payload {
            msg: ciphertext,
            aad: self.inner.cookie_name.as_bytes(),
        };
        let Ok(plaintext) = sealing_key
            .cipher
            .decrypt(Nonce::from_slice(nonce), payload)
        else {
            tracing::debug!("session cookie failed authentication");
            return None;
        };
        let record = match plaintext.split_first() {
            Some((&DEFLATED, deflated)) => {
                let inflated = miniz_oxide::inflate::decompress_to_vec_with_limit(
                    deflated,
                    MAX_INFLATED_BYTES,
                )
                .inspect_err(|_| tracing::warn!("session cookie does not inflate"))
                .ok()?;
                decode(&inflated)?
            }
            _ => decode(&plaintext)?,
        };
        Some(if std::ptr::eq(sealing_key, &self.inner.ring.current) {
            Opened::Current(record)
        } else {
            Opened::Stale(record)
        })
    }

    /// [`Self::accepts`] when it can be told without asking the revocation list: `None` when
    /// the list must be asked.
    fn accepts_now(
        &self,
        record: &Record,
        now: Timestamp,
        unrevoked_at: Option<u64>,
    ) -> Option<bool> {
        if !record.is_live_at(now) {
            return Some(false);
        }
        let Some(revocation) = &self.inner.revocation else {
            return Some(true);
        };
        let version = revocation.version()?;
        (Some(version) == unrevoked_at).then_some(true)
    }

    /// The session of an accepted `opened` value presented as `key`, its idle deadline slid
    /// at `now` (resealed when that moved it, or when it was sealed with a previous key).
    fn loaded(&self, key: SessionKey, opened: Opened, now: Timestamp) -> Result<Session> {
        let (mut record, stale, successor) = match opened {
            Opened::Current(record) => (record, false, None),
            Opened::Stale(record) => (record, true, None),
            Opened::Resealed(record, successor) => (record, false, Some(successor)),
        };
        let sealed = match (record.slide(now) || stale, successor) {
            (false, successor) => successor.unwrap_or(key),
            (true, _) => {
                let sealed = self.seal(&record)?;
                self.remember(&key, Opened::Resealed(record.clone(), sealed.clone()));
                sealed
            }
        };
        Ok(Session::new(sealed, record))
    }

    /// Whether `record` is alive at `now` and none of its tags is revoked. `remembered` is the
    /// value it was opened from and the revocation version that value was last found unrevoked
    /// at: while the list's version is still that one, the list is not asked again.
    async fn accepts(
        &self,
        record: &Record,
        now: Timestamp,
        remembered: Option<(&SessionKey, Option<u64>)>,
    ) -> Result<bool> {
        let unrevoked_at = remembered.and_then(|(_, unrevoked_at)| unrevoked_at);
        if let Some(accepted) = self.accepts_now(record, now, unrevoked_at) {
            return Ok(accepted);
        }
        let Some(revocation) = &self.inner.revocation else {
            return Ok(true);
        };
        // Read before asking: a revocation made meanwhile moves the version past this one.
        let version = revocation.version();
        let tags: Vec<&IndexTag> = record.tags().collect();
        if revocation.any_revoked(&tags).await? {
            return Ok(false);
        }
        if let (Some(version), Some((key, _))) = (version, remembered) {
            self.mark_unrevoked(key, version);
        }
        Ok(true)
    }
}

/// The characters that key a sealed value among the opened ones (see [`TAG_CHARS`]).
fn tag_of(value: &[u8]) -> &[u8] {
    &value[value.len().saturating_sub(TAG_CHARS)..]
}

fn clone_key(key: &SealingKey) -> SealingKey {
    SealingKey {
        id: key.id.clone(),
        cipher: key.cipher.clone(),
    }
}

#[async_trait]
impl SessionStore for CookieStore {
    async fn create(&self, record: Record) -> Result<Session> {
        let key = self.seal(&record)?;
        Ok(Session::new(key, record))
    }

    async fn load(&self, key: &SessionKey) -> Result<Option<Session>> {
        self.load_presented(key.as_str().as_bytes()).await
    }

    async fn load_presented(&self, presented: &[u8]) -> Result<Option<Session>> {
        let now = Timestamp::now();
        let Some((key, opened, unrevoked_at)) = self.open(presented) else {
            return Ok(None);
        };
        if !self
            .accepts(opened.record(), now, Some((&key, unrevoked_at)))
            .await?
        {
            return Ok(None);
        }
        self.loaded(key, opened, now).map(Some)
    }

    /// Answers at once unless the revocation list must be asked: a value this store opened
    /// before and found unrevoked at the list's current version, or any value when there is
    /// no list.
    fn load_presented_now(&self, presented: &[u8]) -> Option<Result<Option<Session>>> {
        let now = Timestamp::now();
        let Some((key, opened, unrevoked_at)) = self.open(presented) else {
            return Some(Ok(None));
        };
        if !self.accepts_now(opened.record(), now, unrevoked_at)? {
            return Some(Ok(None));
        }
        Some(self.loaded(key, opened, now).map(Some))
    }

    async fn update(&self, session: &mut Session) -> Result<bool> {
        let now = Timestamp::now();
        if !self.accepts(session.record(), now, None).await? {
            return Ok(false);
        }
        session.record_mut().refresh(now);
        let key = self.seal(session.record())?;
        session.set_key(key);
        Ok(true)
    }

    /// Nothing to delete server-side: the caller clears the cookie. See the module's
    /// limitations for ending a copy that is still out there.
    async fn delete(&self, _key: &SessionKey) -> Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{Harness, RawBytes};
    use crate::{Expiry, MemoryStore};

    const NAME: &str = "app_session";

    fn ring(id: &str) -> (KeyRing, String) {
        let key = KeyRing::generate_key();
        (KeyRing::new(id, &key).unwrap(), key)
    }

    fn record() -> Record {
        let mut record = Record::new(Expiry::new(
            Duration::from_secs(60),
            Duration::from_secs(600),
        ));
        record.insert("user", "alice").unwrap();
        record.with_tag(IndexTag::new("sid", "s-1").unwrap())
    }

    /// A store sealing records as they are, or deflated when `COMPRESS`.
    #[derive(Debug)]
    struct CookieHarness<const COMPRESS: bool>(CookieStore);

    #[async_trait]
    impl<const COMPRESS: bool> Harness for CookieHarness<COMPRESS> {
        type Store = CookieStore;

        async fn setup() -> Self {
            let store = CookieStore::new(NAME, ring("k1").0);
            Self(if COMPRESS {
                store.with_compression()
            } else {
                store
            })
        }

        fn store(&self) -> CookieStore {
            self.0.clone()
        }
    }

    #[async_trait]
    impl<const COMPRESS: bool> RawBytes for CookieHarness<COMPRESS> {
        async fn write_raw(&self, bytes: &[u8], _ttl: Duration) -> SessionKey {
            self.0.seal_bytes(bytes).unwrap()
        }
    }

    crate::session_suite!(CookieHarness<false>);
    crate::stored_bytes_suite!(CookieHarness<false>);

    /// The same checks with compression on.
    mod compressed {
        use super::*;

        crate::session_suite!(CookieHarness<true>);
        crate::stored_bytes_suite!(CookieHarness<true>);
    }

    /// A record shaped like a signed-in session: claims, random tokens, two tags.
    fn signed_in_record() -> Record {
        let mut record = record().with_tag(IndexTag::new("user", "8d0c5c2e-2f0a-4f7e").unwrap());
        record
            .insert(
                "signed_in",
                serde_json::json!({
                    "claims": {
                        "iss": "https://sso.example.test", "sub": "8d0c5c2e-2f0a-4f7e",
                        "aud": "app1", "exp": 1_700_000_600u64, "iat": 1_700_000_000u64,
                        "auth_time": 1_700_000_000u64, "sid": "s-1", "name": "Alice Liddell",
                        "preferred_username": "alice", "email": "alice@example.test",
                        "groups": ["staff", "admins"], "amr": ["pwd"],
                        "acr": "urn:sso:acr:password",
                    },
                    "csrf_token": crate::key::random_id(),
                }),
            )
            .unwrap();
        record.insert("vault", crate::key::random_id()).unwrap();
        record
    }

    #[tokio::test]
    async fn compressed_and_plain_values_open_in_either_store() {
        let (ring_a, key) = ring("k1");
        let plain = CookieStore::new(NAME, ring_a);
        let compressing =
            CookieStore::new(NAME, KeyRing::new("k1", &key).unwrap()).with_compression();
        let record = signed_in_record();

        let small = compressing.create(record.clone()).await.unwrap();
        let large = plain.create(record.clone()).await.unwrap();
        let (small_len, large_len) = (small.key().as_str().len(), large.key().as_str().len());
        assert!(
            small_len * 10 < large_len * 8,
            "compressed {small_len} bytes, plain {large_len}"
        );
        for (store, key) in [
            (&plain, small.key()),
            (&compressing, large.key()),
            (&compressing, small.key()),
        ] {
            let loaded = store.load(key).await.unwrap().expect("opens");
            assert_eq!(loaded.record().data(), record.data());
            assert!(loaded.record().tags().eq(record.tags()));
        }
    }

    #[tokio::test]
    async fn a_value_resealed_by_a_load_hands_later_loads_the_same_successor() {
        let store = CookieStore::new(NAME, ring("k1").0).with_compression();
        let expiry = Expiry::new(Duration::from_millis(400), Duration::from_secs(60));
        let first = store.create(Record::new(expiry)).await.unwrap();
        tokio::time::sleep(Duration::from_millis(150)).await;

        let resealed = store.load(first.key()).await.unwrap().unwrap();
        assert_ne!(resealed.key(), first.key(), "the idle deadline slid");
        for _ in 0..3 {
            let again = store.load(first.key()).await.unwrap().unwrap();
            assert_eq!(again.key(), resealed.key());
            assert_eq!(again.record().expires_at(), resealed.record().expires_at());
        }
        let successor = store.load(resealed.key()).await.unwrap().unwrap();
        assert_eq!(successor.key(), resealed.key());
    }

    #[tokio::test]
    async fn values_in_an_unknown_format_or_that_do_not_inflate_read_as_absent() {
        let store = CookieStore::new(NAME, ring("k1").0).with_compression();
        let json = encode(&record()).unwrap();
        let mut unknown = vec![0x02];
        unknown.extend(miniz_oxide::deflate::compress_to_vec(&json, 6));
        let mut truncated = vec![DEFLATED];
        let deflated = miniz_oxide::deflate::compress_to_vec(&json, 6);
        truncated.extend(&deflated[..deflated.len() / 2]);
        for plaintext in [
            unknown,
            truncated,
            vec![DEFLATED],
            vec![DEFLATED, 0xff, 0x00],
        ] {
            let key = store.seal_bytes(&plaintext).unwrap();
            assert!(store.load(&key).await.unwrap().is_none(), "{plaintext:?}");
        }
    }

    #[tokio::test]
    async fn rotated_keys_keep_sessions_and_reseal_with_the_current_key() {
        let (old_ring, old_key) = ring("old");
        let sealed = CookieStore::new(NAME, old_ring)
            .create(record())
            .await
            .unwrap();

        let new_key = KeyRing::generate_key();
        let rotated = KeyRing::new("new", &new_key)
            .unwrap()
            .with_previous("old", &old_key)
            .unwrap();
        let store = CookieStore::new(NAME, rotated);
        let loaded = store
            .load(sealed.key())
            .await
            .unwrap()
            .expect("old key still opens");
        assert!(loaded.key().as_str().starts_with("new."));
        assert_eq!(
            loaded.record().get::<String>("user").as_deref(),
            Some("alice")
        );

        let dropped = CookieStore::new(NAME, KeyRing::new("new", &new_key).unwrap());
        assert!(dropped.load(sealed.key()).await.unwrap().is_none());
        assert!(dropped.load(loaded.key()).await.unwrap().is_some());
    }

    #[tokio::test]
    async fn tampered_values_and_other_cookies_do_not_open() {
        let (ring, key) = ring("k1");
        let store = CookieStore::new(NAME, ring);
        let sealed = store.create(record()).await.unwrap();
        let text = sealed.key().as_str();

        let mut flipped = text.as_bytes().to_vec();
        let last = flipped.len() - 5;
        flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
        let flipped = SessionKey::parse(std::str::from_utf8(&flipped).unwrap()).unwrap();
        assert!(store.load(&flipped).await.unwrap().is_none());

        let truncated = SessionKey::parse(&text[..text.len() - 4]).unwrap();
        assert!(store.load(&truncated).await.unwrap().is_none());
        for junk in ["k1", "k1.", "k1.AAAA", "nokey.AAAAAAAAAAAAAAAAAAAAAAAAAAAA"] {
            let junk = SessionKey::parse(junk).unwrap();
            assert!(store.load(&junk).await.unwrap().is_none());
        }

        let other_cookie = CookieStore::new("other", KeyRing::new("k1", &key).unwrap());
        assert!(other_cookie.load(sealed.key()).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn oversized_sessions_are_refused_not_truncated() {
        let store = CookieStore::new(NAME, ring("k1").0);
        let mut big = record();
        big.insert("blob", "x".repeat(3_000)).unwrap();
        let error = store.create(big).await.unwrap_err();
        assert!(
            matches!(error, Error::TooLarge { size, limit: 4096 } if size > 4096),
            "{error:?}"
        );

        let mut session = store.create(record()).await.unwrap();
        let before = session.key().clone();
        session
            .record_mut()
            .insert("blob", "y".repeat(3_500))
            .unwrap();
        assert!(matches!(
            store.update(&mut session).await,
            Err(Error::TooLarge { .. })
        ));
        assert_eq!(
            session.key(),
            &before,
            "a failed update keeps the old cookie"
        );
    }

    #[tokio::test]
    async fn revoked_tags_end_cookie_sessions_on_every_store_sharing_the_list() {
        let shared = MemoryStore::default();
        let list = Arc::new(RevocationList::new(shared.clone()));
        let (ring_a, key) = ring("k1");
        let node_a = CookieStore::new(NAME, ring_a).with_revocation(list.clone());
        let node_b = CookieStore::new(NAME, KeyRing::new("k1", &key).unwrap())
            .with_revocation(Arc::new(RevocationList::new(shared)));

        let mut session = node_a.create(record()).await.unwrap();
        let unrelated = node_a.create(record_with_sid("s-2")).await.unwrap();
        list.revoke(
            &IndexTag::new("sid", "s-1").unwrap(),
            Duration::from_secs(600),
        )
        .await
        .unwrap();

        assert!(node_b.load(session.key()).await.unwrap().is_none());
        assert!(!node_b.update(&mut session).await.unwrap());
        assert!(node_b.load(unrelated.key()).await.unwrap().is_some());
    }

    #[tokio::test]
    async fn remembered_cookies_are_still_checked_for_revocation_and_tampering() {
        let list = Arc::new(RevocationList::new(MemoryStore::default()));
        let store = CookieStore::new(NAME, ring("k1").0).with_revocation(list.clone());
        let session = store.create(record()).await.unwrap();
        assert!(store.load(session.key()).await.unwrap().is_some());
        assert!(store.load(session.key()).await.unwrap().is_some());

        let text = session.key().as_str();
        let mut forged = text.as_bytes().to_vec();
        forged[text.len() / 2] = if forged[text.len() / 2] == b'A' {
            b'B'
        } else {
            b'A'
        };
        let forged = SessionKey::parse(std::str::from_utf8(&forged).unwrap()).unwrap();
        assert!(
            store.load(&forged).await.unwrap().is_none(),
            "same tag characters, other value: not the remembered session"
        );

        let presented = text.as_bytes();
        assert!(
            matches!(store.load_presented_now(presented), Some(Ok(Some(_)))),
            "found unrevoked at this version: answered at once"
        );
        list.revoke(
            &IndexTag::new("sid", "s-1").unwrap(),
            Duration::from_secs(600),
        )
        .await
        .unwrap();
        assert!(
            store.load_presented_now(presented).is_none(),
            "the list moved on: it must be asked"
        );
        assert!(store.load(session.key()).await.unwrap().is_none());
        assert!(store.load_presented_now(presented).is_none());
    }

    #[tokio::test]
    async fn without_a_revocation_list_every_value_is_answered_at_once() {
        let store = CookieStore::new(NAME, ring("k1").0);
        let session = store.create(record()).await.unwrap();
        let presented = session.key().as_str().as_bytes();
        for _ in 0..2 {
            let at_once = store
                .load_presented_now(presented)
                .expect("answered at once");
            assert_eq!(at_once.unwrap().unwrap().key(), session.key());
        }
        assert!(matches!(
            store.load_presented_now(b"k1.AAAA"),
            Some(Ok(None))
        ));
    }

    /// A revocation list that counts how often it is asked, with a version set by the test.
    #[derive(Debug, Default)]
    struct CountingList {
        asked: std::sync::atomic::AtomicUsize,
        /// `None` while zero.
        version: std::sync::atomic::AtomicU64,
    }

    #[async_trait]
    impl Revocation for CountingList {
        async fn is_revoked(&self, _tag: &IndexTag) -> Result<bool> {
            self.asked.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok(false)
        }

        fn version(&self) -> Option<u64> {
            Some(self.version.load(std::sync::atomic::Ordering::SeqCst)).filter(|v| *v > 0)
        }
    }

    #[tokio::test]
    async fn a_remembered_value_asks_the_list_again_only_when_its_version_moved() {
        use std::sync::atomic::Ordering::SeqCst;
        let list = Arc::new(CountingList::default());
        let store = CookieStore::new(NAME, ring("k1").0).with_revocation(list.clone());
        let session = store.create(record()).await.unwrap();
        let asked = || list.asked.load(SeqCst);

        let presented = session.key().as_str().as_bytes();
        let at_once = || store.load_presented_now(presented).is_some();

        // No version: every load asks, none is answered at once.
        for _ in 0..3 {
            assert!(store.load(session.key()).await.unwrap().is_some());
            assert!(!at_once());
        }
        assert_eq!(asked(), 3);

        list.version.store(7, SeqCst);
        assert!(!at_once(), "never asked at version 7");
        for _ in 0..3 {
            assert!(store.load(session.key()).await.unwrap().is_some());
            assert!(at_once());
        }
        assert_eq!(asked(), 4, "asked once at version 7, then trusted");

        list.version.store(8, SeqCst);
        assert!(!at_once(), "the version moved");
        assert!(store.load_presented(presented).await.unwrap().is_some());
        assert!(store.load_presented(presented).await.unwrap().is_some());
        assert!(at_once());
        assert_eq!(asked(), 5, "asked again once the version moved");
    }

    #[tokio::test]
    async fn presented_bytes_that_are_no_key_load_as_absent() {
        let store = CookieStore::new(NAME, ring("k1").0);
        let session = store.create(record()).await.unwrap();
        let mut unknown = session.key().as_str().as_bytes().to_vec();
        unknown.push(0xff);
        for junk in [&b""[..], b"k1.\xff\xfe", &unknown, b"k1.AA AA", b"\x00"] {
            assert!(store.load_presented(junk).await.unwrap().is_none());
        }
        let presented = session.key().as_str().as_bytes();
        assert!(store.load_presented(presented).await.unwrap().is_some());
    }

    fn record_with_sid(sid: &str) -> Record {
        Record::new(Expiry::new(
            Duration::from_secs(60),
            Duration::from_secs(600),
        ))
        .with_tag(IndexTag::new("sid", sid).unwrap())
    }

    #[test]
    fn malformed_keys_are_configuration_errors() {
        assert!(matches!(
            KeyRing::new("k1", "c2hvcnQ="),
            Err(Error::Config(_))
        ));
        assert!(matches!(
            KeyRing::new("bad id!", &KeyRing::generate_key()),
            Err(Error::Config(_))
        ));
        let (ring, key) = ring("k1");
        assert!(matches!(
            ring.with_previous("k1", &key),
            Err(Error::Config(_))
        ));
    }

    #[test]
    fn debug_output_shows_key_ids_only() {
        let (ring, key) = ring("k1");
        let shown = format!("{:?}", CookieStore::new(NAME, ring));
        assert!(shown.contains("k1"));
        assert!(!shown.contains(&key));
    }
}
