//! The acceptance suite every backend must pass (feature `testing`).
//!
//! A backend provides a [`Harness`] and invokes the macros for the capabilities it has:
//! [`session_suite!`](crate::session_suite), [`deletion_suite!`](crate::deletion_suite),
//! [`index_suite!`](crate::index_suite),
//! [`one_time_suite!`](crate::one_time_suite), [`counter_suite!`](crate::counter_suite) and,
//! for backends that keep bytes, [`stored_bytes_suite!`](crate::stored_bytes_suite);
//! [`acceptance_suite!`](crate::acceptance_suite) runs all of them. Each check is its own
//! `#[tokio::test]`, so a failure names the property that broke.
//!
//! Timing checks sleep for real (expiry deadlines are wall-clock and shared with servers),
//! with margins of several hundred milliseconds so a loaded machine does not make them flaky.

use std::collections::HashSet;
use std::time::Duration;

use async_trait::async_trait;

use crate::{
    CounterStore, Expiry, IndexTag, OneTimeStore, Record, SessionIndex, SessionKey, SessionStore,
    Timestamp,
};

/// Sets up one backend for one test: its own empty namespace (e.g. a unique key prefix).
#[async_trait]
pub trait Harness: Sized + Send + Sync + 'static {
    /// The store under test.
    type Store: SessionStore + Clone + 'static;

    /// A fresh harness with an empty namespace.
    async fn setup() -> Self;

    /// The store under test.
    fn store(&self) -> Self::Store;

    /// A second, independent handle on the same data, as another process would open it (for
    /// Redis: a new client and connection). Backends without such a thing return a clone.
    async fn second_store(&self) -> Self::Store {
        self.store()
    }

    /// Why the backend cannot be tested here (a service the environment does not provide), or
    /// `None` when it can. Each check then says so on stderr and passes without running.
    fn unavailable() -> Option<String> {
        None
    }
}

/// A harness for backends that keep records as bytes, so old formats and corruption can be
/// planted directly.
#[async_trait]
pub trait RawBytes: Harness {
    /// Stores `bytes`, as found in the backend, as a session that expires in `ttl`, and
    /// returns its key.
    async fn write_raw(&self, bytes: &[u8], ttl: Duration) -> SessionKey;
}

fn ms(millis: u64) -> Duration {
    Duration::from_millis(millis)
}

async fn sleep_ms(millis: u64) {
    tokio::time::sleep(ms(millis)).await;
}

fn long_lived() -> Expiry {
    Expiry::new(Duration::from_secs(60), Duration::from_secs(120))
}

fn tag(name: &str, value: &str) -> IndexTag {
    IndexTag::new(name, value).expect("valid tag")
}

fn unique(what: &str) -> String {
    format!("{what}-{}", &SessionKey::generate().as_str()[..12])
}

/// A record with some data, the given tags and a long life.
fn record_with(tags: &[&IndexTag]) -> Record {
    let mut record = Record::new(long_lived());
    record.insert("user", "alice").expect("encodable");
    record.insert("roles", ["admin", "dev"]).expect("encodable");
    for tag in tags {
        record.tag((*tag).clone());
    }
    record
}

/// Loads `key` and returns the key to use from now on (a cookie store may reissue it), or `None`
/// if the session is gone.
async fn load_alive<S: SessionStore>(store: &S, key: &SessionKey) -> Option<SessionKey> {
    store
        .load(key)
        .await
        .expect("backend available")
        .map(|session| session.key().clone())
}

// ---- sessions -------------------------------------------------------------------------------

/// A created session loads back with its data, tags and expiry.
pub async fn create_then_load_returns_the_record<H: Harness>() {
    let h = H::setup().await;
    let store = h.store();
    let sid = tag("sid", &unique("sid"));
    let created = store.create(record_with(&[&sid])).await.unwrap();
    let loaded = store
        .load(created.key())
        .await
        .unwrap()
        .expect("live session");
    assert_eq!(
        loaded.record().get::<String>("user").as_deref(),
        Some("alice")
    );
    assert_eq!(
        loaded.record().get::<Vec<String>>("roles"),
        Some(vec!["admin".to_owned(), "dev".to_owned()])
    );
    assert_eq!(loaded.record().tags().collect::<Vec<_>>(), vec![&sid]);
    assert_eq!(
        loaded.record().absolute_expiry(),
        created.record().absolute_expiry()
    );
    assert_eq!(loaded.record().created_at(), created.record().created_at());
}

/// Every new session gets a new key that the store chose.
pub async fn create_assigns_fresh_unguessable_keys<H: Harness>() {
    let h = H::setup().await;
    let store = h.store();
    let mut keys = HashSet::new();
    for _ in 0..20 {
        let session = store.create(Record::new(long_lived())).await.unwrap();
        assert!(
            session.key().as_str().len() >= 43,
            "key too short to hold 256 bits"
        );
        assert!(
            keys.insert(session.key().clone()),
            "a key was handed out twice"
        );
    }
}

/// A key that was never issued loads as nothing.
pub async fn unknown_key_loads_as_none<H: Harness>() {
    let h = H::setup().await;
    let unknown = SessionKey::generate();
    assert!(h.store().load(&unknown).await.unwrap().is_none());
}

/// A key as a client presented it loads as the key does; bytes that are no key of the store
/// load as absent.
pub async fn presented_keys_load_like_keys<H: Harness>() {
    let h = H::setup().await;
    let store = h.store();
    let session = store.create(record_with(&[])).await.unwrap();
    let presented = store
        .load_presented(session.key().as_str().as_bytes())
        .await
        .unwrap()
        .expect("the presented key loads");
    assert_eq!(
        presented.record().get::<String>("user").as_deref(),
        Some("alice")
    );
    let mut longer = session.key().as_str().as_bytes().to_vec();
    longer.push(b'x');
    for junk in [&b""[..], b"\xff\xfe", b"no such key", b"a b", &longer] {
        assert!(store.load_presented(junk).await.unwrap().is_none());
    }
}

/// Whether `store` answers at once ([`SessionStore::load_presented_now`]) that `key` is a live
/// session; an error answered at once fails the check.
fn answered_at_once<S: SessionStore>(store: &S, key: &SessionKey) -> bool {
    match store.load_presented_now(key.as_str().as_bytes()) {
        Some(answer) => answer.expect("a load answered at once").is_some(),
        None => false,
    }
}

/// A load answered at once gives what the awaited load gives: the same session after a load,
/// and nothing for bytes that are no key of the store.
pub async fn loads_answered_at_once_agree_with_awaited_loads<H: Harness>() {
    let h = H::setup().await;
    let store = h.store();
    let session = store.create(record_with(&[])).await.unwrap();
    let presented = session.key().as_str().as_bytes();
    let awaited = store
        .load_presented(presented)
        .await
        .unwrap()
        .expect("the presented key loads");
    if let Some(answer) = store.load_presented_now(presented) {
        let at_once = answer
            .unwrap()
            .expect("a live session is not answered as absent");
        assert_eq!(at_once.key(), awaited.key());
        assert_eq!(
            at_once.record().get::<String>("user").as_deref(),
            Some("alice")
        );
    }
    let mut longer = presented.to_vec();
    longer.push(b'x');
    for junk in [&b""[..], b"\xff\xfe", b"no such key", b"a b", &longer] {
        assert!(matches!(
            store.load_presented_now(junk),
            None | Some(Ok(None))
        ));
    }
}

/// For a store that promises to: a session it just made, and a key it never made, are both
/// answered at once (the session, and no session).
pub async fn answers_loads_at_once<S: SessionStore>(store: &S) {
    let expiry = Expiry::new(Duration::from_secs(60), Duration::from_secs(600));
    let session = store.create(Record::new(expiry)).await.unwrap();
    let presented = session.key().as_str().as_bytes();
    let at_once = store
        .load_presented_now(presented)
        .expect("answered at once");
    assert_eq!(at_once.unwrap().unwrap().key(), session.key());
    let unknown = SessionKey::generate();
    let absent = store.load_presented_now(unknown.as_str().as_bytes());
    assert!(matches!(absent, Some(Ok(None))));
}

/// A deleted session is never answered at once, also by a store that kept a copy of it.
pub async fn deleted_sessions_are_not_answered_at_once<H: Harness>() {
    let h = H::setup().await;
    let store = h.store();
    let session = store.create(record_with(&[])).await.unwrap();
    for _ in 0..2 {
        assert!(store.load(session.key()).await.unwrap().is_some());
    }
    store.delete(session.key()).await.unwrap();
    assert!(!answered_at_once(&store, session.key()));
    assert!(store.load(session.key()).await.unwrap().is_none());
}

/// An update is visible to the next load, also through another handle.
pub async fn update_is_visible_to_later_loads<H: Harness>() {
    let h = H::setup().await;
    let store = h.store();
    let mut session = store.create(record_with(&[])).await.unwrap();
    session.record_mut().insert("user", "bob").unwrap();
    session.record_mut().remove("roles");
    assert!(store.update(&mut session).await.unwrap());
    let other = h.second_store().await;
    let loaded = other.load(session.key()).await.unwrap().expect("live");
    assert_eq!(
        loaded.record().get::<String>("user").as_deref(),
        Some("bob")
    );
    assert!(loaded.record().get::<Vec<String>>("roles").is_none());
}

/// Deleting a session ends it; deleting it again is fine.
pub async fn delete_ends_the_session<H: Harness>() {
    let h = H::setup().await;
    let store = h.store();
    let session = store.create(record_with(&[])).await.unwrap();
    store.delete(session.key()).await.unwrap();
    assert!(store.load(session.key()).await.unwrap().is_none());
    store.delete(session.key()).await.unwrap();
}

/// An update racing behind a delete must not bring the session back.
pub async fn update_never_resurrects_a_deleted_session<H: Harness>() {
    let h = H::setup().await;
    let store = h.store();
    let mut session = store.create(record_with(&[])).await.unwrap();
    let stale_key = session.key().clone();
    store.delete(&stale_key).await.unwrap();
    session.record_mut().insert("user", "mallory").unwrap();
    assert!(!store.update(&mut session).await.unwrap());
    assert!(store.load(&stale_key).await.unwrap().is_none());
}

/// Without activity a session ends after its idle timeout.
pub async fn idle_timeout_ends_an_untouched_session<H: Harness>() {
    let h = H::setup().await;
    let store = h.store();
    let expiry = Expiry::new(ms(700), Duration::from_secs(60));
    let session = store.create(Record::new(expiry)).await.unwrap();
    // Loaded once, so a store that keeps copies has one.
    assert!(store.load(session.key()).await.unwrap().is_some());
    sleep_ms(1_100).await;
    assert!(!answered_at_once(&store, session.key()));
    assert!(store.load(session.key()).await.unwrap().is_none());
}

/// Loading is activity: it keeps a session alive past its first idle deadline.
pub async fn loading_slides_the_idle_deadline<H: Harness>() {
    let h = H::setup().await;
    let store = h.store();
    let expiry = Expiry::new(ms(1_200), Duration::from_secs(60));
    let mut key = store
        .create(Record::new(expiry))
        .await
        .unwrap()
        .key()
        .clone();
    for _ in 0..4 {
        sleep_ms(600).await;
        key = load_alive(&store, &key)
            .await
            .expect("activity within the idle timeout keeps the session");
    }
    sleep_ms(1_700).await;
    assert!(store.load(&key).await.unwrap().is_none());
}

/// Activity never extends a session past its absolute expiry.
pub async fn absolute_expiry_caps_activity<H: Harness>() {
    let h = H::setup().await;
    let store = h.store();
    let expiry = Expiry::new(ms(1_000), ms(1_800));
    let created = store.create(Record::new(expiry)).await.unwrap();
    assert_eq!(
        created.record().absolute_expiry(),
        created.record().created_at().saturating_add(ms(1_800))
    );
    let mut key = created.key().clone();
    for _ in 0..2 {
        sleep_ms(600).await;
        key = load_alive(&store, &key)
            .await
            .expect("alive before absolute expiry");
    }
    sleep_ms(1_000).await;
    assert!(store.load(&key).await.unwrap().is_none());
}

// ---- index ----------------------------------------------------------------------------------

/// Listing a tag returns exactly the live sessions carrying it.
pub async fn list_by_tag_returns_live_tagged_sessions<H: Harness>()
where
    H::Store: SessionIndex,
{
    let h = H::setup().await;
    let store = h.store();
    let sid = tag("sid", &unique("sid"));
    let user = tag("user", &unique("user"));
    let a = store.create(record_with(&[&sid, &user])).await.unwrap();
    let b = store.create(record_with(&[&sid])).await.unwrap();
    let gone = store.create(record_with(&[&sid])).await.unwrap();
    let _other = store.create(record_with(&[&user])).await.unwrap();
    store.delete(gone.key()).await.unwrap();

    let mut listed = store.list_by_tag(&sid).await.unwrap();
    listed.sort();
    let mut expected = vec![a.key().clone(), b.key().clone()];
    expected.sort();
    assert_eq!(listed, expected);
    assert_eq!(store.list_by_tag(&user).await.unwrap().len(), 2);
    assert!(
        store
            .list_by_tag(&tag("sid", &unique("none")))
            .await
            .unwrap()
            .is_empty()
    );
}

/// Deleting by tag ends every session with the tag, seen from every handle, and no other.
pub async fn delete_by_tag_ends_all_tagged_sessions<H: Harness>()
where
    H::Store: SessionIndex,
{
    let h = H::setup().await;
    let store = h.store();
    let sid = tag("sid", &unique("sid"));
    let mut tagged = Vec::new();
    for _ in 0..5 {
        tagged.push(store.create(record_with(&[&sid])).await.unwrap());
    }
    let untouched = store.create(record_with(&[])).await.unwrap();

    let other = h.second_store().await;
    assert_eq!(other.delete_by_tag(&sid).await.unwrap(), 5);
    for session in &tagged {
        assert!(store.load(session.key()).await.unwrap().is_none());
    }
    assert!(store.list_by_tag(&sid).await.unwrap().is_empty());
    assert!(store.load(untouched.key()).await.unwrap().is_some());
    assert_eq!(store.delete_by_tag(&sid).await.unwrap(), 0);
}

/// Expired sessions drop out of the index.
pub async fn expired_sessions_leave_the_index<H: Harness>()
where
    H::Store: SessionIndex,
{
    let h = H::setup().await;
    let store = h.store();
    let sid = tag("sid", &unique("sid"));
    let short = Record::new(Expiry::new(ms(400), Duration::from_secs(60))).with_tag(sid.clone());
    store.create(short).await.unwrap();
    let long = store.create(record_with(&[&sid])).await.unwrap();
    sleep_ms(800).await;
    assert_eq!(
        store.list_by_tag(&sid).await.unwrap(),
        vec![long.key().clone()]
    );
    assert_eq!(store.delete_by_tag(&sid).await.unwrap(), 1);
}

/// Changing a record's tags in an update moves it in the index.
pub async fn update_reindexes_changed_tags<H: Harness>()
where
    H::Store: SessionIndex,
{
    let h = H::setup().await;
    let store = h.store();
    let before = tag("sid", &unique("before"));
    let after = tag("sid", &unique("after"));
    let mut session = store.create(record_with(&[&before])).await.unwrap();
    let mut record = record_with(&[&after]);
    std::mem::swap(session.record_mut(), &mut record);
    assert!(store.update(&mut session).await.unwrap());
    assert!(store.list_by_tag(&before).await.unwrap().is_empty());
    assert_eq!(
        store.list_by_tag(&after).await.unwrap(),
        vec![session.key().clone()]
    );
}

// ---- one-time values ------------------------------------------------------------------------

/// A one-time value is taken once, then it is gone.
pub async fn one_time_value_is_taken_once<H: Harness>()
where
    H::Store: OneTimeStore,
{
    let h = H::setup().await;
    let store = h.store();
    let key = store
        .put_once(b"code-data".to_vec(), Duration::from_secs(30))
        .await
        .unwrap();
    assert!(key.as_str().len() >= 43);
    assert_eq!(
        store.take(&key).await.unwrap().as_deref(),
        Some(&b"code-data"[..])
    );
    assert_eq!(store.take(&key).await.unwrap(), None);
}

/// A one-time value not taken within its TTL is gone.
pub async fn one_time_value_expires<H: Harness>()
where
    H::Store: OneTimeStore,
{
    let h = H::setup().await;
    let store = h.store();
    let key = store.put_once(b"x".to_vec(), ms(300)).await.unwrap();
    sleep_ms(700).await;
    assert_eq!(store.take(&key).await.unwrap(), None);
}

/// Of many concurrent takers on two handles, exactly one gets each value.
pub async fn concurrent_take_has_exactly_one_winner<H: Harness>()
where
    H::Store: OneTimeStore,
{
    let h = H::setup().await;
    let stores = [h.store(), h.second_store().await];
    for round in 0..10u8 {
        let key = stores[0]
            .put_once(vec![round], Duration::from_secs(30))
            .await
            .unwrap();
        let takers: Vec<_> = (0..16)
            .map(|i| {
                let store = stores[i % 2].clone();
                let key = key.clone();
                tokio::spawn(async move { store.take(&key).await.unwrap() })
            })
            .collect();
        let mut winners = 0;
        for taker in takers {
            if let Some(value) = taker.await.unwrap() {
                assert_eq!(value, vec![round]);
                winners += 1;
            }
        }
        assert_eq!(winners, 1, "round {round}: exactly one taker must win");
    }
}

// ---- counters -------------------------------------------------------------------------------

/// A counter counts within its window and starts over after it.
pub async fn counter_counts_within_its_window<H: Harness>()
where
    H::Store: CounterStore,
{
    let h = H::setup().await;
    let store = h.store();
    let name = unique("login:alice");
    assert_eq!(store.count(&name).await.unwrap(), 0);
    for expected in 1..=3 {
        assert_eq!(store.increment(&name, ms(500)).await.unwrap(), expected);
    }
    assert_eq!(store.count(&name).await.unwrap(), 3);
    sleep_ms(900).await;
    assert_eq!(store.count(&name).await.unwrap(), 0);
    assert_eq!(store.increment(&name, ms(500)).await.unwrap(), 1);
}

/// Later increments do not extend the window the first one started.
pub async fn counter_window_is_fixed_by_the_first_increment<H: Harness>()
where
    H::Store: CounterStore,
{
    let h = H::setup().await;
    let store = h.store();
    let name = unique("ip");
    store.increment(&name, ms(800)).await.unwrap();
    sleep_ms(500).await;
    store.increment(&name, ms(800)).await.unwrap();
    sleep_ms(600).await;
    assert_eq!(store.count(&name).await.unwrap(), 0);
}

/// Reset ends the window; concurrent increments are all counted.
pub async fn counter_reset_and_concurrency<H: Harness>()
where
    H::Store: CounterStore,
{
    let h = H::setup().await;
    let stores = [h.store(), h.second_store().await];
    let name = unique("user");
    let tasks: Vec<_> = (0..40)
        .map(|i| {
            let store = stores[i % 2].clone();
            let name = name.clone();
            tokio::spawn(async move { store.increment(&name, Duration::from_secs(30)).await })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert_eq!(stores[1].count(&name).await.unwrap(), 40);
    stores[0].reset(&name).await.unwrap();
    assert_eq!(stores[1].count(&name).await.unwrap(), 0);
}

/// `any_counted` sees a counter above zero among several names, on another store too, and
/// only while its window lasts.
pub async fn any_counted_sees_any_live_counter<H: Harness>()
where
    H::Store: CounterStore,
{
    let h = H::setup().await;
    let (store, other) = (h.store(), h.second_store().await);
    let (sid, user) = (unique("revoked:sid"), unique("revoked:user"));
    assert!(!other.any_counted(&[&sid, &user]).await.unwrap());
    assert!(!other.any_counted(&[]).await.unwrap());
    store.increment(&user, ms(500)).await.unwrap();
    assert!(other.any_counted(&[&sid, &user]).await.unwrap());
    assert!(other.any_counted(&[&user]).await.unwrap());
    assert!(!other.any_counted(&[&sid]).await.unwrap());
    sleep_ms(900).await;
    assert!(!other.any_counted(&[&sid, &user]).await.unwrap());
}

/// A store that tells a revocation version moves it with every revocation (an increment of a
/// revocation-list entry) it makes.
pub async fn revocation_version_moves_with_every_revocation<H: Harness>()
where
    H::Store: CounterStore,
{
    let h = H::setup().await;
    let store = h.store();
    let Some(before) = store.revocation_version() else {
        return;
    };
    let name = unique("revoked:sid");
    store.increment(&name, ms(60_000)).await.unwrap();
    let after = store.revocation_version();
    assert!(after.is_some_and(|after| after != before));
    store.increment(&name, ms(60_000)).await.unwrap();
    assert_ne!(store.revocation_version(), after);
}

// ---- stored bytes ---------------------------------------------------------------------------

/// Bytes in format version 1, as the first release wrote them, still load.
pub async fn format_version_1_still_loads<H: RawBytes>() {
    let h = H::setup().await;
    let now = Timestamp::now().as_millis();
    let v1 = format!(
        r#"{{"v":1,"data":{{"user":"alice","n":7}},"tags":["sid:s-1"],"created":{now},"idle":60000,"abs":{abs},"exp":{exp}}}"#,
        abs = now + 120_000,
        exp = now + 60_000,
    );
    let key = h.write_raw(v1.as_bytes(), Duration::from_secs(60)).await;
    let session = h.store().load(&key).await.unwrap().expect("v1 must load");
    assert_eq!(
        session.record().get::<String>("user").as_deref(),
        Some("alice")
    );
    assert_eq!(session.record().get::<u32>("n"), Some(7));
    assert_eq!(session.record().idle_timeout(), Duration::from_secs(60));
}

/// Corrupt or unknown stored data loads as no session, without an error or a panic.
pub async fn corrupt_data_loads_as_absent<H: RawBytes>() {
    let h = H::setup().await;
    let now = Timestamp::now().as_millis();
    let samples: Vec<Vec<u8>> = vec![
        b"\x00\x01\xfe\xff garbage".to_vec(),
        b"{\"v\":1,\"data\":".to_vec(),
        br#"{"v":1,"data":[1,2,3]}"#.to_vec(),
        format!(r#"{{"v":999,"exp":{}}}"#, now + 60_000).into_bytes(),
        Vec::new(),
    ];
    for bytes in samples {
        let key = h.write_raw(&bytes, Duration::from_secs(60)).await;
        let loaded = h.store().load(&key).await;
        assert!(
            matches!(loaded, Ok(None)),
            "{:?} must load as absent, got {loaded:?}",
            String::from_utf8_lossy(&bytes)
        );
    }
}

/// Runs the session checks against a [`Harness`].
#[macro_export]
macro_rules! session_suite {
    ($harness:ty) => {
        $crate::__suite_tests!($harness;
            create_then_load_returns_the_record,
            create_assigns_fresh_unguessable_keys,
            unknown_key_loads_as_none,
            presented_keys_load_like_keys,
            loads_answered_at_once_agree_with_awaited_loads,
            update_is_visible_to_later_loads,
            idle_timeout_ends_an_untouched_session,
            loading_slides_the_idle_deadline,
            absolute_expiry_caps_activity,
        );
    };
}

/// Runs the server-side deletion checks against a [`Harness`] (every backend but cookies).
#[macro_export]
macro_rules! deletion_suite {
    ($harness:ty) => {
        $crate::__suite_tests!($harness;
            delete_ends_the_session,
            deleted_sessions_are_not_answered_at_once,
            update_never_resurrects_a_deleted_session,
        );
    };
}

/// Runs the index checks against a [`Harness`] whose store is a [`crate::SessionIndex`].
#[macro_export]
macro_rules! index_suite {
    ($harness:ty) => {
        $crate::__suite_tests!($harness;
            list_by_tag_returns_live_tagged_sessions,
            delete_by_tag_ends_all_tagged_sessions,
            expired_sessions_leave_the_index,
            update_reindexes_changed_tags,
        );
    };
}

/// Runs the one-time value checks against a [`Harness`] whose store is a
/// [`crate::OneTimeStore`].
#[macro_export]
macro_rules! one_time_suite {
    ($harness:ty) => {
        $crate::__suite_tests!($harness;
            one_time_value_is_taken_once,
            one_time_value_expires,
            concurrent_take_has_exactly_one_winner,
        );
    };
}

/// Runs the counter checks against a [`Harness`] whose store is a [`crate::CounterStore`].
#[macro_export]
macro_rules! counter_suite {
    ($harness:ty) => {
        $crate::__suite_tests!($harness;
            counter_counts_within_its_window,
            counter_window_is_fixed_by_the_first_increment,
            counter_reset_and_concurrency,
            any_counted_sees_any_live_counter,
            revocation_version_moves_with_every_revocation,
        );
    };
}

/// Runs the stored-format checks against a [`RawBytes`] harness.
#[macro_export]
macro_rules! stored_bytes_suite {
    ($harness:ty) => {
        $crate::__suite_tests!($harness;
            format_version_1_still_loads,
            corrupt_data_loads_as_absent,
        );
    };
}

/// Runs the checks of every capability: sessions with server-side deletion, index, one-time
/// values and counters.
#[macro_export]
macro_rules! acceptance_suite {
    ($harness:ty) => {
        $crate::session_suite!($harness);
        $crate::deletion_suite!($harness);
        $crate::index_suite!($harness);
        $crate::one_time_suite!($harness);
        $crate::counter_suite!($harness);
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __suite_tests {
    ($harness:ty; $($check:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $check() {
                if let Some(reason) = <$harness as $crate::testing::Harness>::unavailable() {
                    eprintln!("skipped: {reason}");
                    return;
                }
                $crate::testing::$check::<$harness>().await;
            }
        )+
    };
}

/// The harness for [`crate::MemoryStore`].
#[derive(Debug)]
pub struct MemoryHarness(crate::MemoryStore);

#[async_trait]
impl Harness for MemoryHarness {
    type Store = crate::MemoryStore;

    async fn setup() -> Self {
        Self(crate::MemoryStore::default())
    }

    fn store(&self) -> Self::Store {
        self.0.clone()
    }
}
