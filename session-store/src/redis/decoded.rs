//! The records a [`RedisStore`](super::RedisStore) decoded last, with the bytes they came from.
//!
//! A signed-in session is read on every request, and its stored bytes change at most once a
//! minute (sliding expiry) or when the app writes it. Reading the very bytes decoded before
//! costs a comparison instead of a parse, and the record comes back with the views the app made
//! of it (see [`Record::view`]). Nothing here is trusted over Redis: the bytes are read on every
//! load all the same (the local cache is what skips that), and only an exact copy of the
//! bytes matches.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::Record;
use crate::lock;
use crate::record::decode;

/// Most records remembered; the memory starts over when it is full. A session-sized record is
/// a few kilobytes decoded, so at most some tens of megabytes.
const CAPACITY: usize = 4096;

/// Decoded records by Redis key, with the bytes they were decoded from.
#[derive(Debug, Default)]
pub(crate) struct Decoded {
    records: Mutex<HashMap<String, Entry>>,
}

#[derive(Debug)]
struct Entry {
    bytes: Box<[u8]>,
    record: Record,
}

impl Decoded {
    /// The record in `bytes`, read from `redis_key`: the one decoded before when the bytes are
    /// the same, else a new decode (`None` for bytes that are no record).
    pub(crate) fn decode(&self, redis_key: &str, bytes: &[u8]) -> Option<Record> {
        if let Some(known) = lock(&self.records).get(redis_key)
            && *known.bytes == *bytes
        {
            return Some(known.record.clone());
        }
        let record = decode(bytes)?;
        let mut records = lock(&self.records);
        if records.len() >= CAPACITY {
            records.clear();
        }
        let entry = Entry {
            bytes: bytes.into(),
            record: record.clone(),
        };
        records.insert(redis_key.to_owned(), entry);
        Some(record)
    }

    /// Forgets the record under `redis_key` (written or deleted through this store).
    pub(crate) fn forget(&self, redis_key: &str) {
        lock(&self.records).remove(redis_key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Expiry;
    use crate::record::encode;
    use std::time::Duration;

    fn bytes_of(user: &str) -> Vec<u8> {
        let mut record = Record::new(Expiry::new(
            Duration::from_secs(60),
            Duration::from_secs(600),
        ));
        record.insert("user", user).unwrap();
        encode(&record).unwrap()
    }

    #[test]
    fn the_same_bytes_give_the_same_record_and_other_bytes_a_new_decode() {
        let decoded = Decoded::default();
        let alice = bytes_of("alice");
        let first = decoded.decode("s:1", &alice).unwrap();
        let views = first.view(|map| Some(map.len())).unwrap();
        let again = decoded.decode("s:1", &alice).unwrap();
        assert!(
            std::sync::Arc::ptr_eq(&views, &again.view(|map| Some(map.len())).unwrap()),
            "decoded once: the view made of the first read is there"
        );

        let changed = decoded.decode("s:1", &bytes_of("bob")).unwrap();
        assert_eq!(changed.get::<String>("user").as_deref(), Some("bob"));
        assert!(decoded.decode("s:1", b"not a record").is_none());
        assert_eq!(
            decoded
                .decode("s:1", &alice)
                .unwrap()
                .get::<String>("user")
                .as_deref(),
            Some("alice")
        );
        decoded.forget("s:1");
        assert!(lock(&decoded.records).is_empty());
    }
}
