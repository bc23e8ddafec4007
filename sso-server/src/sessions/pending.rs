//! What the registry could not record while the database was unreachable, kept in the session
//! store until it can.
//!
//! Two things must never be lost, because single logout depends on them: that a client joined
//! a session (else that client would not be told when the session ends), and that a session
//! ended (else its clients would not be told at all). When the database does not answer, each
//! is written to the store as a pending record; [`Pending::replay`] writes them into the
//! registry once it answers again — joins first, then ends, so an end queues logout for every
//! client that joined before it. A pending end also marks its sid as ended, which is what
//! tells the rest of the center, meanwhile, that the session is over.
//!
//! # Limitations
//! Pending records are as durable as the store: with Redis they survive a restart of the
//! center; with the memory store they live as long as the process.

use std::sync::Arc;
use std::time::Duration;

use session_store::{Expiry, Record, SharedStore};

use super::registry::Registry;
use super::{GlobalSessions, tag};
use crate::domain::ClientId;
use crate::slo::EndReason;

const PENDING_TAG: &str = "db_pending";
const PENDING_VALUE: &str = "all";
const ENDED_TAG: &str = "ended_sid";

/// How long a pending record waits for the database.
const KEEP: Duration = Duration::from_secs(30 * 24 * 3600);

/// What a replay wrote into the registry.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Replayed {
    /// Clients registered in their sessions.
    pub joins: usize,
    /// Sessions ended.
    pub ends: usize,
    /// Logout deliveries queued by those ends.
    pub deliveries: usize,
}

/// Pending registry writes in the session store.
#[derive(Clone, Debug)]
pub(super) struct Pending {
    store: Arc<dyn SharedStore>,
}

/// One pending write, as stored.
enum Write {
    Join { sid: String, client: ClientId },
    End { sid: String, reason: EndReason },
}

impl Pending {
    pub(super) fn new(store: Arc<dyn SharedStore>) -> Self {
        Self { store }
    }

    fn record(kind: &str, sid: &str) -> anyhow::Result<Record> {
        let mut record =
            Record::new(Expiry::new(KEEP, KEEP)).with_tag(tag(PENDING_TAG, PENDING_VALUE)?);
        record.insert("kind", kind)?;
        record.insert("sid", sid)?;
        Ok(record)
    }

    /// Keeps that `client` joined session `sid`.
    pub(super) async fn join(&self, sid: &str, client: &ClientId) -> anyhow::Result<()> {
        let mut record = Self::record("join", sid)?;
        record.insert("client", client.as_str())?;
        self.store.create(record).await?;
        Ok(())
    }

    /// Keeps that session `sid` ended for `reason`, and marks it ended.
    pub(super) async fn end(&self, sid: &str, reason: EndReason) -> anyhow::Result<()> {
        let mut record = Self::record("end", sid)?.with_tag(tag(ENDED_TAG, sid)?);
        record.insert("reason", reason.as_str())?;
        self.store.create(record).await?;
        Ok(())
    }

    /// Whether session `sid` ended while the database was unreachable, and the registry does
    /// not know yet.
    pub(super) async fn is_ended(&self, sid: &str) -> anyhow::Result<bool> {
        Ok(!self
            .store
            .list_by_tag(&tag(ENDED_TAG, sid)?)
            .await?
            .is_empty())
    }

    /// Writes every pending record into `registry`, joins before ends, deleting each once
    /// written.
    ///
    /// # Errors
    /// When the store or the database fails; what was written stays written, the rest stays
    /// pending.
    pub(super) async fn replay(&self, registry: &Registry) -> anyhow::Result<Replayed> {
        let keys = self
            .store
            .list_by_tag(&tag(PENDING_TAG, PENDING_VALUE)?)
            .await?;
        let mut writes = Vec::with_capacity(keys.len());
        for key in keys {
            let Some(session) = self.store.load(&key).await? else {
                continue;
            };
            match parse(session.record()) {
                Some(write) => writes.push((key, write)),
                None => {
                    tracing::warn!("malformed pending registry record; deleting it");
                    self.store.delete(&key).await?;
                }
            }
        }
        // Joins first: an end then queues logout for every client that joined before it.
        writes.sort_by_key(|(_, write)| matches!(write, Write::End { .. }));
        let mut replayed = Replayed::default();
        for (key, write) in writes {
            match write {
                Write::Join { sid, client } => {
                    registry.add_client(&sid, &client).await?;
                    replayed.joins += 1;
                }
                Write::End { sid, reason } => {
                    if let Some(queued) = registry.end(&sid, reason).await? {
                        replayed.ends += 1;
                        replayed.deliveries += queued;
                    }
                }
            }
            self.store.delete(&key).await?;
        }
        Ok(replayed)
    }
}

/// Replays pending writes every `interval` until the task is dropped (see
/// [`GlobalSessions::replay_pending`]); cheap when nothing is pending (one index lookup).
pub async fn run(sessions: GlobalSessions, interval: Duration) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        match sessions.replay_pending().await {
            Ok(_) => {}
            // Said once, when the database was found unreachable.
            Err(error) if crate::db::is_unreachable(&error) => {}
            Err(error) => tracing::warn!(
                error = format!("{error:#}"),
                "registry writes kept in the store wait for the database"
            ),
        }
    }
}

fn parse(record: &Record) -> Option<Write> {
    let sid = record.get::<String>("sid")?;
    match record.get::<String>("kind")?.as_str() {
        "join" => Some(Write::Join {
            sid,
            client: ClientId::parse(&record.get::<String>("client")?)?,
        }),
        "end" => Some(Write::End {
            sid,
            reason: EndReason::parse(&record.get::<String>("reason")?)?,
        }),
        _ => None,
    }
}
