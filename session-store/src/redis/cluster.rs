//! Redis Cluster: the keys of one Redis, kept consistent without multi-key scripts.
//!
//! In a cluster a session (`{prefix}s:{id}`) and the indexes of its tags (`{prefix}t:{tag}`) hash
//! to different slots, usually on different primaries. A session carries several tags (`sid`,
//! `user`, …) and a tag lists many sessions, so no choice of hash tags puts a session and all its
//! indexes in one slot; a hash tag shared by all of them (such as the prefix) would put every key
//! in one slot, on one primary, which is no cluster at all. So every script here touches one key,
//! and the index is kept right by the order of the steps instead of by one atomic script.
//!
//! # The invariant
//! A live session is listed in the index of every tag it carries, scored no earlier than its
//! deadline. An index may list more (sessions that are gone or no longer carry the tag); every
//! reader checks.
//!
//! - Entries are added, or their scores raised (never lowered: `ZADD … GT`), *before* the session
//!   is written or its deadline moved: create, update, touch.
//! - An entry is removed only once its session is gone for good, or when its score has passed
//!   (then so has the session's deadline). A deleted session never comes back: keys are never
//!   reused and an update writes only an existing key (`SET … XX`).
//! - `list_by_tag` and `delete_by_tag` check each listed session on its own slot: it must exist
//!   and carry the tag. `delete_by_tag` checks and deletes in one script on that slot, so it is
//!   atomic per session, and a session that dropped the tag in an update is not ended by it.
//! - An update does not remove the entries of tags the record dropped (a concurrent update of
//!   the same session may be writing them back); readers ignore them and they leave at their
//!   score, at most one idle timeout later.
//!
//! A failure between two steps leaves at worst an extra entry, never a live session missing from
//! an index, so single logout never misses a session. A session whose creation overlaps a
//! `delete_by_tag` of one of its tags either is ended by it or is written after it, exactly as
//! if it had been created just after the logout on one Redis.
//!
//! One-time values and counters are single keys and work as on one Redis: `GETDEL` and the
//! counter script are atomic on the primary that owns the key. Every command goes to a primary
//! (replicas are never read from nor written to); a primary lost to a failover is replaced by
//! its replica once the cluster promotes it, and the client follows the new slot map.
//!
//! # Limitations
//! `delete_by_tag` and `list_by_tag` make one round trip per listed session (sent at once).
//! The cluster client retries a command whose connection broke, so a `take` whose answer was
//! lost may report the value as already taken (it is never handed out twice) and an
//! `increment` may count twice (login limiting errs on the safe side).

use std::future::Future;

use redis::{FromRedisValue, Script};
use tokio::task::JoinSet;

use super::{RedisStore, Retry};
use crate::record::{decode, encode};
use crate::{Error, IndexTag, Record, Result, SessionKey, Timestamp};

/// Lua shared by the index scripts: add or raise an entry, and keep the index key alive exactly
/// as long as its longest-lived member.
const LUA_INDEX: &str = r"
local function index_raise(index, deadline, id, existing_only)
  if existing_only then
    redis.call('ZADD', index, 'XX', 'GT', deadline, id)
  else
    redis.call('ZADD', index, 'GT', deadline, id)
  end
  local last = redis.call('ZRANGE', index, -1, -1, 'WITHSCORES')
  if last[2] then redis.call('PEXPIREAT', index, last[2]) end
end
";

/// Lua shared by the session scripts: whether a stored record carries a tag.
const LUA_CARRIES: &str = r"
local function carries(stored, tag)
  local ok, record = pcall(cjson.decode, stored)
  if not (ok and type(record) == 'table' and type(record.tags) == 'table') then return false end
  for _, t in ipairs(record.tags) do
    if t == tag then return true end
  end
  return false
end
";

/// The single-key scripts of the cluster layout.
pub(super) struct Scripts {
    index_add: Script,
    index_touch: Script,
    index_list: Script,
    carries: Script,
    take_if_tagged: Script,
}

impl Scripts {
    pub(super) fn new() -> Self {
        let index = |body: &str| Script::new(&format!("{LUA_INDEX}{body}"));
        let session = |body: &str| Script::new(&format!("{LUA_CARRIES}{body}"));
        Self {
            // KEYS: index  ARGV: deadline, id
            index_add: index("index_raise(KEYS[1], ARGV[1], ARGV[2], false) return 1"),
            // KEYS: index  ARGV: deadline, id. Only entries still there: a removed one stays
            // removed.
            index_touch: index("index_raise(KEYS[1], ARGV[1], ARGV[2], true) return 1"),
            // KEYS: index  ARGV: now
            index_list: Script::new(
                r"
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
return redis.call('ZRANGE', KEYS[1], 0, -1)",
            ),
            // KEYS: session  ARGV: tag
            carries: session(
                r"
local stored = redis.call('GET', KEYS[1])
if stored and carries(stored, ARGV[1]) then return 1 end
return 0",
            ),
            // KEYS: session  ARGV: tag
            take_if_tagged: session(
                r"
local stored = redis.call('GET', KEYS[1])
if stored and carries(stored, ARGV[1]) then
  redis.call('DEL', KEYS[1])
  return stored
end
return false",
            ),
        }
    }
}

/// Runs `ops` at once and returns their results in order; the first error wins (the others
/// are abandoned, which the invariant above allows at any step).
async fn all<T, Fut>(ops: Vec<Fut>) -> Result<Vec<T>>
where
    T: Send + 'static,
    Fut: Future<Output = Result<T>> + Send + 'static,
{
    if ops.len() <= 1 {
        let mut results = Vec::with_capacity(1);
        for op in ops {
            results.push(op.await?);
        }
        return Ok(results);
    }
    let count = ops.len();
    let mut tasks = JoinSet::new();
    for (i, op) in ops.into_iter().enumerate() {
        tasks.spawn(async move { (i, op.await) });
    }
    let mut results: Vec<Option<T>> = std::iter::repeat_with(|| None).take(count).collect();
    while let Some(joined) = tasks.join_next().await {
        let (i, result) = joined.map_err(|error| Error::Unavailable(Box::new(error)))?;
        results[i] = Some(result?);
    }
    Ok(results.into_iter().flatten().collect())
}

impl RedisStore {
    /// Evaluates one of the cluster scripts on `key`, as a future of its own.
    fn cluster_script<T>(
        &self,
        pick: fn(&Scripts) -> &Script,
        key: String,
        args: Vec<String>,
    ) -> impl Future<Output = Result<T>> + Send + 'static
    where
        T: FromRedisValue + Send + 'static,
    {
        let store = self.clone();
        async move {
            let script = pick(&store.inner.cluster_scripts);
            store
                .run(Retry::Once, |mut conn| {
                    let mut invocation = script.key(&key);
                    invocation.arg(&args);
                    async move { invocation.invoke_async::<T>(&mut conn).await }
                })
                .await
        }
    }

    /// Sends `command`, as a future of its own.
    fn cluster_command<T>(
        &self,
        retry: Retry,
        command: redis::Cmd,
    ) -> impl Future<Output = Result<T>> + Send + 'static
    where
        T: FromRedisValue + Send + 'static,
    {
        let store = self.clone();
        async move {
            store
                .run(retry, |mut conn| {
                    let command = command.clone();
                    async move { command.query_async::<T>(&mut conn).await }
                })
                .await
        }
    }

    /// Creates (`SET … NX`) or updates (`SET … XX`) a session after listing it under its tags.
    pub(super) async fn cluster_write(
        &self,
        key: &SessionKey,
        record: &Record,
        create: bool,
    ) -> Result<bool> {
        let value = encode(record)?;
        let deadline = record.expires_at().as_millis().to_string();
        let id = key.as_str().to_owned();
        let indexes: Vec<String> = record.tags().map(|tag| self.index_key(tag)).collect();
        let add = |index: &String| {
            self.cluster_script::<i64>(
                |s| &s.index_add,
                index.clone(),
                vec![deadline.clone(), id.clone()],
            )
        };
        all(indexes.iter().map(add).collect()).await?;

        let mut set = redis::cmd("SET");
        set.arg(self.session_key(key))
            .arg(value)
            .arg(if create { "NX" } else { "XX" })
            .arg("PXAT")
            .arg(&deadline);
        let written: Option<String> = self.cluster_command(Retry::Once, set).await?;
        if written.is_none() && !create {
            // The session is gone for good: the entries just added may go too.
            self.cluster_unlist(&id, &indexes).await;
        }
        Ok(written.is_some())
    }

    /// Raises the scores of a session's entries to `deadline` before its key is touched.
    pub(super) async fn cluster_touch_indexes(
        &self,
        key: &SessionKey,
        record: &Record,
    ) -> Result<()> {
        let deadline = record.expires_at().as_millis().to_string();
        let id = key.as_str().to_owned();
        let touches = record
            .tags()
            .map(|tag| {
                self.cluster_script::<i64>(
                    |s| &s.index_touch,
                    self.index_key(tag),
                    vec![deadline.clone(), id.clone()],
                )
            })
            .collect();
        all(touches).await.map(drop)
    }

    /// Deletes a session, then its entries.
    pub(super) async fn cluster_delete(&self, key: &SessionKey) -> Result<()> {
        let mut getdel = redis::cmd("GETDEL");
        getdel.arg(self.session_key(key));
        let old: Option<Vec<u8>> = self.cluster_command(Retry::Once, getdel).await?;
        if let Some(old) = old {
            self.cluster_unlist(key.as_str(), &self.indexes_of(&old))
                .await;
        }
        Ok(())
    }

    /// The live sessions that carry `tag`.
    pub(super) async fn cluster_list_by_tag(&self, tag: &IndexTag) -> Result<Vec<SessionKey>> {
        let ids = self.cluster_listed(tag).await?;
        let checks = ids
            .iter()
            .map(|id| {
                self.cluster_script::<i64>(
                    |s| &s.carries,
                    self.session_key_of(id),
                    vec![tag.as_str().to_owned()],
                )
            })
            .collect();
        let carried = all(checks).await?;
        Ok(ids
            .iter()
            .zip(carried)
            .filter(|(_, carried)| *carried == 1)
            .filter_map(|(id, _)| SessionKey::parse(id))
            .collect())
    }

    /// Ends every live session that carries `tag`.
    pub(super) async fn cluster_delete_by_tag(&self, tag: &IndexTag) -> Result<usize> {
        let ids = self.cluster_listed(tag).await?;
        let takes = ids
            .iter()
            .map(|id| {
                self.cluster_script::<Option<Vec<u8>>>(
                    |s| &s.take_if_tagged,
                    self.session_key_of(id),
                    vec![tag.as_str().to_owned()],
                )
            })
            .collect();
        let taken = all(takes).await?;
        let mut deleted = 0;
        for (id, old) in ids.iter().zip(taken) {
            if let Some(old) = old {
                deleted += 1;
                self.cluster_unlist(id, &self.indexes_of(&old)).await;
            }
        }
        Ok(deleted)
    }

    /// The ids listed under `tag`, after dropping the entries whose score has passed.
    async fn cluster_listed(&self, tag: &IndexTag) -> Result<Vec<String>> {
        self.cluster_script(
            |s| &s.index_list,
            self.index_key(tag),
            vec![Timestamp::now().as_millis().to_string()],
        )
        .await
    }

    /// Removes `id` from `indexes`, once its session is gone for good. A failure only leaves
    /// entries that readers ignore and that leave at their score, so it is logged, not returned.
    async fn cluster_unlist(&self, id: &str, indexes: &[String]) {
        let removals = indexes
            .iter()
            .map(|index| {
                let mut zrem = redis::cmd("ZREM");
                zrem.arg(index).arg(id);
                self.cluster_command::<i64>(Retry::Once, zrem)
            })
            .collect();
        if let Err(error) = all(removals).await {
            tracing::debug!(%error, "stale index entries left to expire");
        }
    }

    /// The index keys of the tags a stored record carries (none if it does not decode).
    fn indexes_of(&self, stored: &[u8]) -> Vec<String> {
        decode(stored).map_or_else(Vec::new, |record| {
            record.tags().map(|tag| self.index_key(tag)).collect()
        })
    }
}
