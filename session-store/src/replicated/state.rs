//! One node's copy of the replicated data and the rules for merging a peer's copy into it.
//!
//! Merge rules (the same on every node, so all converge):
//! - sessions: the higher [`Version`] wins; the idle deadline is the later of the two, so a
//!   refresh of the deadline (which keeps the version) never undoes an update or vice versa;
//! - a tombstone beats every session write for its key: session keys are never reused, so any
//!   write that meets a tombstone is stale or concurrent with the delete, and deletes win;
//! - counters are grow-only per node within an epoch: the higher epoch wins, the same epoch
//!   merges by taking each node's largest count;
//! - anything already expired is not stored; tombstones are dropped after the expiry of the
//!   record they buried plus a skew margin.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::ops::Bound;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use super::hlc::Version;
use crate::record::{decode, encode};
use crate::{IndexTag, Record, Result, Timestamp};

/// Number of hash buckets compared by anti-entropy.
pub(crate) const BUCKETS: usize = 1024;

/// A counter as a state-based CRDT: grow-only per-node counts in one or more windows
/// ("epochs", opened by whichever node counted first), plus a reset floor below which every
/// epoch is void. Merging takes the highest floor and each node's largest count per epoch, so
/// the order in which nodes hear of increments and resets does not matter.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct CounterState {
    floor: Option<Version>,
    floor_until: Timestamp,
    epochs: Vec<Epoch>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Epoch {
    version: Version,
    window_end: Timestamp,
    counts: BTreeMap<String, u64>,
}

impl CounterState {
    /// The count over all live windows.
    pub(crate) fn total(&self, now: Timestamp) -> u64 {
        self.epochs
            .iter()
            .filter(|epoch| now < epoch.window_end)
            .flat_map(|epoch| epoch.counts.values())
            .fold(0, |sum, n| sum.saturating_add(*n))
    }

    /// Counts one for `node`, in the oldest live window or in a new one opened as `version`.
    pub(crate) fn increment(
        &mut self,
        node: &str,
        now: Timestamp,
        window: Duration,
        version: impl FnOnce() -> Version,
    ) {
        self.epochs.retain(|epoch| now < epoch.window_end);
        match self.epochs.first_mut() {
            Some(epoch) => *epoch.counts.entry(node.to_owned()).or_insert(0) += 1,
            None => self.epochs.push(Epoch {
                version: version(),
                window_end: now.saturating_add(window),
                counts: [(node.to_owned(), 1)].into_iter().collect(),
            }),
        }
    }

    /// Voids every window counted so far.
    pub(crate) fn reset(&mut self, floor: Version) {
        let until = self.ends_at();
        self.floor_until = self.floor_until.max(until);
        self.floor = Some(floor);
        self.epochs.clear();
    }

    fn ends_at(&self) -> Timestamp {
        self.epochs
            .iter()
            .map(|epoch| epoch.window_end)
            .fold(self.floor_until, Timestamp::max)
    }

    fn merge(&self, other: &Self) -> Self {
        let floor = self.floor.clone().max(other.floor.clone());
        let mut epochs: Vec<Epoch> = Vec::new();
        for epoch in self.epochs.iter().chain(&other.epochs) {
            if floor.as_ref().is_some_and(|floor| epoch.version <= *floor) {
                continue;
            }
            match epochs
                .iter_mut()
                .find(|known| known.version == epoch.version)
            {
                Some(known) => {
                    for (node, count) in &epoch.counts {
                        let entry = known.counts.entry(node.clone()).or_insert(0);
                        *entry = (*entry).max(*count);
                    }
                }
                None => epochs.push(epoch.clone()),
            }
        }
        epochs.sort_by(|a, b| a.version.cmp(&b.version));
        Self {
            floor,
            floor_until: self.floor_until.max(other.floor_until),
            epochs,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Value {
    Session(Box<Record>),
    Tombstone { until: Timestamp },
    Counter(CounterState),
}

impl Value {
    fn ends_at(&self) -> Timestamp {
        match self {
            Self::Session(record) => record.expires_at(),
            Self::Tombstone { until } => *until,
            Self::Counter(counter) => counter.ends_at(),
        }
    }
}

/// A stored value with its version and its anti-entropy fingerprint.
#[derive(Clone, Debug)]
pub(crate) struct Slot {
    pub(crate) version: Version,
    pub(crate) value: Value,
    fingerprint: u64,
}

/// A slot as it travels between peers.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct WireSlot {
    pub(crate) key: String,
    pub(crate) version: Version,
    pub(crate) value: WireValue,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum WireValue {
    /// The record in the stored format of [`crate::record`].
    Session(String),
    Tombstone(Timestamp),
    Counter(CounterState),
}

/// What anti-entropy compares. Counters are compared by state alone, since nodes may know the
/// same counter under different slot versions.
fn fingerprint(key: &str, version: &Version, value: &Value) -> u64 {
    let mut hash = Sha256::new();
    hash.update(key.as_bytes());
    let mut versioned = |kind: &[u8]| {
        hash.update(version.wall.to_be_bytes());
        hash.update(version.counter.to_be_bytes());
        hash.update(version.node.as_bytes());
        hash.update(kind);
    };
    match value {
        Value::Session(_) => versioned(b"s"),
        Value::Tombstone { .. } => versioned(b"t"),
        Value::Counter(counter) => hash.update(serde_json::to_vec(counter).unwrap_or_default()),
    }
    let digest = hash.finalize();
    u64::from_be_bytes(digest[..8].try_into().unwrap_or_default())
}

pub(crate) fn bucket_of(key: &str) -> usize {
    let digest = Sha256::digest(key.as_bytes());
    usize::from(u16::from_be_bytes([digest[0], digest[1]])) % BUCKETS
}

/// The node's data plus the session index derived from it.
#[derive(Debug, Default)]
pub(crate) struct State {
    slots: BTreeMap<String, Slot>,
    index: HashMap<IndexTag, HashSet<String>>,
    digests: Vec<u64>,
    buckets: Vec<BTreeSet<String>>,
}

/// What a merge did.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Merged {
    Changed,
    Unchanged,
}

impl State {
    pub(crate) fn new() -> Self {
        Self {
            digests: vec![0; BUCKETS],
            buckets: vec![BTreeSet::new(); BUCKETS],
            ..Self::default()
        }
    }

    pub(crate) fn get(&self, key: &str, now: Timestamp) -> Option<&Slot> {
        self.slots
            .get(key)
            .filter(|slot| now < slot.value.ends_at())
    }

    /// Merges a slot by the module's rules.
    pub(crate) fn merge(
        &mut self,
        key: &str,
        version: Version,
        value: Value,
        now: Timestamp,
    ) -> Merged {
        if value.ends_at() <= now {
            return Merged::Unchanged;
        }
        let merged = match (self.slots.get(key), value) {
            (None, value) => Some((version, value)),
            (Some(current), value) => merge_values(current, version, value),
        };
        match merged {
            Some((version, value)) => {
                self.put(key, version, value);
                Merged::Changed
            }
            None => Merged::Unchanged,
        }
    }

    fn put(&mut self, key: &str, version: Version, value: Value) {
        self.remove(key);
        if let Value::Session(record) = &value {
            for tag in record.tags() {
                self.index
                    .entry(tag.clone())
                    .or_default()
                    .insert(key.to_owned());
            }
        }
        let fingerprint = fingerprint(key, &version, &value);
        let bucket = bucket_of(key);
        self.digests[bucket] ^= fingerprint;
        self.buckets[bucket].insert(key.to_owned());
        self.slots.insert(
            key.to_owned(),
            Slot {
                version,
                value,
                fingerprint,
            },
        );
    }

    fn remove(&mut self, key: &str) -> Option<Slot> {
        let slot = self.slots.remove(key)?;
        let bucket = bucket_of(key);
        self.digests[bucket] ^= slot.fingerprint;
        self.buckets[bucket].remove(key);
        if let Value::Session(record) = &slot.value {
            for tag in record.tags() {
                if let Some(keys) = self.index.get_mut(tag) {
                    keys.remove(key);
                    if keys.is_empty() {
                        self.index.remove(tag);
                    }
                }
            }
        }
        Some(slot)
    }

    /// Moves a live session's deadline later without changing its version.
    pub(crate) fn extend(&mut self, key: &str, expires_at: Timestamp) {
        if let Some(Slot {
            value: Value::Session(record),
            ..
        }) = self.slots.get_mut(key)
        {
            record.extend_to(expires_at);
        }
    }

    /// Keys of live sessions tagged `tag`.
    pub(crate) fn tagged(&self, tag: &IndexTag, now: Timestamp) -> Vec<String> {
        self.index
            .get(tag)
            .into_iter()
            .flatten()
            .filter(|key| self.get(key, now).is_some())
            .cloned()
            .collect()
    }

    /// Drops expired sessions and counters, and tombstones past their time.
    pub(crate) fn purge(&mut self, now: Timestamp) {
        let expired: Vec<String> = self
            .slots
            .iter()
            .filter(|(_, slot)| slot.value.ends_at() <= now)
            .map(|(key, _)| key.clone())
            .collect();
        for key in expired {
            self.remove(&key);
        }
    }

    pub(crate) fn digests(&self) -> Vec<u64> {
        self.digests.clone()
    }

    /// The keys in `bucket` with their fingerprints.
    pub(crate) fn summary(&self, bucket: usize) -> Vec<(String, u64)> {
        self.buckets
            .get(bucket)
            .into_iter()
            .flatten()
            .filter_map(|key| Some((key.clone(), self.slots.get(key)?.fingerprint)))
            .collect()
    }

    /// Of the peer's `summary`, the keys this node lacks or holds differently.
    pub(crate) fn differing(&self, summary: &[(String, u64)]) -> Vec<String> {
        summary
            .iter()
            .filter(|(key, theirs)| {
                self.slots
                    .get(key)
                    .is_none_or(|slot| slot.fingerprint != *theirs)
            })
            .map(|(key, _)| key.clone())
            .collect()
    }

    /// The slots under `keys` that this node holds.
    pub(crate) fn fetch(&self, keys: &[String]) -> Vec<WireSlot> {
        keys.iter()
            .filter_map(|key| to_wire(key, self.slots.get(key)?).ok())
            .collect()
    }

    /// Up to `limit` slots with keys after `after`, and the key to continue from.
    pub(crate) fn page(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> (Vec<WireSlot>, Option<String>) {
        let start = after.map_or(Bound::Unbounded, |key| Bound::Excluded(key.to_owned()));
        let slots: Vec<WireSlot> = self
            .slots
            .range((start, Bound::Unbounded))
            .take(limit)
            .filter_map(|(key, slot)| to_wire(key, slot).ok())
            .collect();
        let next = (slots.len() == limit)
            .then(|| slots.last().map(|slot| slot.key.clone()))
            .flatten();
        (slots, next)
    }

    pub(crate) fn len(&self) -> usize {
        self.slots.len()
    }
}

/// The winner between the current slot and an incoming one, or `None` to keep the current.
fn merge_values(current: &Slot, version: Version, value: Value) -> Option<(Version, Value)> {
    match (&current.value, value) {
        (Value::Tombstone { until }, Value::Tombstone { until: other }) => {
            let merged = (current.version.clone().max(version), (*until).max(other));
            let changed = merged != (current.version.clone(), *until);
            changed.then_some((merged.0, Value::Tombstone { until: merged.1 }))
        }
        (Value::Tombstone { .. }, _) => None,
        (_, tombstone @ Value::Tombstone { .. }) => Some((version, tombstone)),
        (Value::Session(mine), Value::Session(mut theirs)) => {
            if version > current.version {
                theirs.extend_to(mine.expires_at());
                Some((version, Value::Session(theirs)))
            } else if theirs.expires_at() > mine.expires_at() {
                let mut kept = mine.clone();
                kept.extend_to(theirs.expires_at());
                Some((current.version.clone(), Value::Session(kept)))
            } else {
                None
            }
        }
        (Value::Counter(mine), Value::Counter(theirs)) => {
            let merged = mine.merge(&theirs);
            (merged != *mine).then(|| (current.version.clone(), Value::Counter(merged)))
        }
        (_, value) => (version > current.version).then_some((version, value)),
    }
}

pub(crate) fn to_wire(key: &str, slot: &Slot) -> Result<WireSlot> {
    let value = match &slot.value {
        Value::Session(record) => {
            WireValue::Session(String::from_utf8_lossy(&encode(record)?).into_owned())
        }
        Value::Tombstone { until } => WireValue::Tombstone(*until),
        Value::Counter(counter) => WireValue::Counter(counter.clone()),
    };
    Ok(WireSlot {
        key: key.to_owned(),
        version: slot.version.clone(),
        value,
    })
}

/// The slot's value, or `None` for a session record that does not decode.
pub(crate) fn from_wire(value: WireValue) -> Option<Value> {
    match value {
        WireValue::Session(text) => {
            decode(text.as_bytes()).map(|record| Value::Session(Box::new(record)))
        }
        WireValue::Tombstone(until) => Some(Value::Tombstone { until }),
        WireValue::Counter(counter) => Some(Value::Counter(counter)),
    }
}

/// How long after its record's end a tombstone is kept, for clocks that disagree and updates
/// still in flight.
pub(crate) const TOMBSTONE_MARGIN: Duration = Duration::from_secs(60);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Expiry;

    fn version(wall: u64, node: &str) -> Version {
        Version {
            wall,
            counter: 0,
            node: node.into(),
        }
    }

    fn session(user: &str) -> Value {
        let mut record = Record::new(Expiry::new(
            Duration::from_secs(60),
            Duration::from_secs(600),
        ));
        record.insert("user", user).unwrap();
        Value::Session(Box::new(record))
    }

    fn user(state: &State, key: &str) -> Option<String> {
        match &state.get(key, Timestamp::now())?.value {
            Value::Session(record) => record.get("user"),
            _ => None,
        }
    }

    #[test]
    fn merging_is_order_independent() {
        let updates = [
            (version(10, "a"), session("one")),
            (version(12, "b"), session("two")),
            (version(12, "a"), session("three")),
        ];
        let now = Timestamp::now();
        let mut forward = State::new();
        let mut backward = State::new();
        for (v, value) in updates.iter().cloned() {
            forward.merge("s:k", v, value, now);
        }
        for (v, value) in updates.iter().rev().cloned() {
            backward.merge("s:k", v, value, now);
        }
        assert_eq!(user(&forward, "s:k").as_deref(), Some("two"));
        assert_eq!(user(&backward, "s:k").as_deref(), Some("two"));
        assert_eq!(forward.digests(), backward.digests());
    }

    #[test]
    fn tombstones_beat_later_writes() {
        let now = Timestamp::now();
        let mut state = State::new();
        state.merge("s:k", version(10, "a"), session("one"), now);
        let until = now.saturating_add(Duration::from_secs(60));
        state.merge("s:k", version(11, "a"), Value::Tombstone { until }, now);
        assert_eq!(
            state.merge("s:k", version(99, "b"), session("late"), now),
            Merged::Unchanged
        );
        assert!(user(&state, "s:k").is_none());
    }

    #[test]
    fn counters_merge_whatever_the_order_and_resets_hold() {
        let now = Timestamp::now();
        let window = Duration::from_secs(60);
        let mut a = CounterState::default();
        a.increment("a", now, window, || version(1, "a"));
        let mut b = CounterState::default();
        b.increment("b", now, window, || version(2, "b"));
        b.increment("b", now, window, || version(3, "b"));
        let ab = a.merge(&b);
        assert_eq!(ab, b.merge(&a));
        assert_eq!(ab.total(now), 3);
        assert_eq!(ab.merge(&ab), ab);

        let mut reset = ab.clone();
        reset.reset(version(4, "a"));
        assert_eq!(reset.merge(&b).total(now), 0, "a reset voids what it saw");
        let mut later = reset.clone();
        later.increment("b", now, window, || version(5, "b"));
        assert_eq!(later.merge(&a).merge(&reset).total(now), 1);
    }

    #[test]
    fn pages_cover_every_slot_once() {
        let now = Timestamp::now();
        let mut state = State::new();
        for i in 0..25 {
            state.merge(&format!("s:{i:02}"), version(1, "a"), session("u"), now);
        }
        let mut seen = Vec::new();
        let mut after = None;
        loop {
            let (slots, next) = state.page(after.as_deref(), 10);
            seen.extend(slots.into_iter().map(|slot| slot.key));
            match next {
                Some(key) => after = Some(key),
                None => break,
            }
        }
        assert_eq!(seen.len(), 25);
    }
}
