//! The durable record of single-logout deliveries, one row per (ended session, client).
//!
//! States: `pending` (not tried yet) → `delivered`, or `retrying` (failed, due again at
//! `next_attempt_at`) → … → `delivered` or `gave_up` after the configured number of attempts.
//! A worker claims due deliveries by moving their `next_attempt_at` past the attempt's timeout,
//! so one replica works on each at a time and a crash mid-attempt only delays it.

use std::time::Duration;

use anyhow::Context as _;
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{Any, AnyPool, Row as _, Transaction};

use super::EndReason;
use crate::clients::ClientRegistry;
use crate::crypto::random_id;
use crate::db::now_ms;

/// Where a delivery stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    Pending,
    Retrying,
    Delivered,
    GaveUp,
}

impl DeliveryState {
    fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Retrying => "retrying",
            Self::Delivered => "delivered",
            Self::GaveUp => "gave_up",
        }
    }

    fn parse(text: &str) -> anyhow::Result<Self> {
        Ok(match text {
            "pending" => Self::Pending,
            "retrying" => Self::Retrying,
            "delivered" => Self::Delivered,
            "gave_up" => Self::GaveUp,
            other => anyhow::bail!("unknown delivery state {other:?}"),
        })
    }
}

/// One logout delivery to one client.
#[derive(Clone, Debug, Serialize)]
pub struct Delivery {
    pub id: String,
    pub sid: String,
    pub user_id: String,
    pub client_id: String,
    pub uri: String,
    pub reason: String,
    pub state: DeliveryState,
    pub attempts: i64,
    pub last_error: Option<String>,
    /// Unix milliseconds.
    pub next_attempt_at: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

const COLUMNS: &str = "id, sid, user_id, client_id, uri, reason, state, attempts, last_error, \
                       next_attempt_at, created_at, updated_at";

fn delivery_from(row: &AnyRow) -> anyhow::Result<Delivery> {
    Ok(Delivery {
        id: row.try_get("id")?,
        sid: row.try_get("sid")?,
        user_id: row.try_get("user_id")?,
        client_id: row.try_get("client_id")?,
        uri: row.try_get("uri")?,
        reason: row.try_get("reason")?,
        state: DeliveryState::parse(&row.try_get::<String, _>("state")?)?,
        attempts: row.try_get("attempts")?,
        last_error: row.try_get("last_error")?,
        next_attempt_at: row.try_get("next_attempt_at")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// Queues a delivery for every client registered in `sid` that has a back-channel URI (a
/// configured client's, else its database row's). Runs inside the transaction that ends the
/// session.
pub(crate) async fn enqueue_for_session(
    tx: &mut Transaction<'static, Any>,
    clients: &ClientRegistry,
    sid: &str,
    user_id: &str,
    reason: EndReason,
) -> anyhow::Result<usize> {
    let rows = sqlx::query(
        "SELECT s.client_id AS client_id, c.backchannel_logout_uri AS uri \
         FROM session_clients s LEFT JOIN clients c ON c.client_id = s.client_id \
         WHERE s.sid = $1 ORDER BY s.client_id",
    )
    .bind(sid)
    .fetch_all(&mut **tx)
    .await
    .context("cannot read session clients")?;
    let now = now_ms();
    let mut queued = 0;
    for row in &rows {
        let client_id: String = row.try_get("client_id")?;
        let Some(uri) = clients.backchannel_uri(&client_id, row.try_get("uri")?) else {
            continue;
        };
        queued += 1;
        sqlx::query(
            "INSERT INTO logout_deliveries (id, sid, user_id, client_id, uri, reason, state, \
             attempts, last_error, next_attempt_at, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, 'pending', 0, NULL, $7, $8, $9)",
        )
        .bind(random_id())
        .bind(sid)
        .bind(user_id)
        .bind(client_id)
        .bind(uri)
        .bind(reason.as_str())
        .bind(now)
        .bind(now)
        .bind(now)
        .execute(&mut **tx)
        .await
        .context("cannot queue logout delivery")?;
    }
    Ok(queued)
}

/// Selects which deliveries to list.
#[derive(Clone, Debug, Default)]
pub struct DeliveryFilter {
    pub sid: Option<String>,
    pub user_id: Option<String>,
}

/// The `logout_deliveries` table.
#[derive(Clone, Debug)]
pub struct Outbox {
    pool: AnyPool,
}

impl Outbox {
    /// The outbox in `pool`.
    pub fn new(pool: AnyPool) -> Self {
        Self { pool }
    }

    /// Claims up to `limit` due deliveries for one attempt each, hiding them from other
    /// workers for `lease_ms`.
    ///
    /// One statement claims the whole batch; its outer conditions are evaluated again on rows
    /// another replica changed meanwhile (PostgreSQL) or run under the database lock (SQLite),
    /// so a delivery is never claimed twice.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn claim_due(&self, limit: i64, lease_ms: i64) -> anyhow::Result<Vec<Delivery>> {
        let now = now_ms();
        let claim = random_id();
        sqlx::query(
            "UPDATE logout_deliveries SET next_attempt_at = $1, claim = $2 \
             WHERE state IN ('pending', 'retrying') AND next_attempt_at <= $3 \
             AND id IN (SELECT id FROM logout_deliveries \
                        WHERE state IN ('pending', 'retrying') AND next_attempt_at <= $3 \
                        ORDER BY next_attempt_at LIMIT $4)",
        )
        .bind(now + lease_ms)
        .bind(&claim)
        .bind(now)
        .bind(limit)
        .execute(&self.pool)
        .await
        .context("cannot claim due deliveries")?;
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM logout_deliveries WHERE claim = $1 \
             AND state IN ('pending', 'retrying')"
        ))
        .bind(&claim)
        .fetch_all(&self.pool)
        .await
        .context("cannot read claimed deliveries")?;
        rows.iter().map(delivery_from).collect()
    }

    /// Records the outcome of an attempt: delivered, or failed with `error` and either due
    /// again at `retry_at` or (when `None`) given up.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn record(
        &self,
        delivery: &Delivery,
        outcome: Result<(), (String, Option<i64>)>,
    ) -> anyhow::Result<()> {
        let attempts = delivery.attempts + 1;
        let now = now_ms();
        let (state, error, next) = match outcome {
            Ok(()) => (DeliveryState::Delivered, None, now),
            Err((error, Some(at))) => (DeliveryState::Retrying, Some(error), at),
            Err((error, None)) => (DeliveryState::GaveUp, Some(error), now),
        };
        sqlx::query(
            "UPDATE logout_deliveries SET state = $1, attempts = $2, last_error = $3, \
             next_attempt_at = $4, updated_at = $5 WHERE id = $6",
        )
        .bind(state.as_str())
        .bind(attempts)
        .bind(error)
        .bind(next)
        .bind(now)
        .bind(&delivery.id)
        .execute(&self.pool)
        .await
        .context("cannot record delivery outcome")?;
        Ok(())
    }

    /// How many deliveries are neither delivered nor given up, and the age of the oldest of
    /// them (zero when there is none).
    ///
    /// # Errors
    /// When the database fails.
    pub async fn backlog(&self) -> anyhow::Result<(u64, Duration)> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS pending, MIN(created_at) AS oldest FROM logout_deliveries \
             WHERE state IN ('pending', 'retrying')",
        )
        .fetch_one(&self.pool)
        .await
        .context("cannot count pending deliveries")?;
        let pending: i64 = row.try_get("pending")?;
        let oldest: Option<i64> = row.try_get("oldest")?;
        let age_ms = oldest.map_or(0, |created| now_ms().saturating_sub(created).max(0));
        Ok((
            u64::try_from(pending).unwrap_or(0),
            Duration::from_millis(u64::try_from(age_ms).unwrap_or(0)),
        ))
    }

    /// The deliveries not delivered yet (pending, retrying, given up), oldest first, at most
    /// `limit`.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn undelivered(&self, limit: i64) -> anyhow::Result<Vec<Delivery>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM logout_deliveries WHERE state <> 'delivered' \
             ORDER BY created_at, client_id LIMIT $1"
        ))
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .context("cannot list undelivered deliveries")?;
        rows.iter().map(delivery_from).collect()
    }

    /// Makes the undelivered delivery `id` due now (a given-up one gets one more attempt). Returns the delivery, `None` when there is none undelivered with that id.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn retry_now(&self, id: &str) -> anyhow::Result<Option<Delivery>> {
        let now = now_ms();
        let done = sqlx::query(
            "UPDATE logout_deliveries SET next_attempt_at = $1, updated_at = $1, \
             state = CASE WHEN state = 'gave_up' THEN 'retrying' ELSE state END \
             WHERE id = $2 AND state <> 'delivered'",
        )
        .bind(now)
        .bind(id)
        .execute(&self.pool)
        .await
        .context("cannot make a delivery due")?;
        if done.rows_affected() == 0 {
            return Ok(None);
        }
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM logout_deliveries WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .context("cannot read a delivery")?;
        row.as_ref().map(delivery_from).transpose()
    }

    /// Deliveries matching `filter`, newest first, at most 500.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn list(&self, filter: &DeliveryFilter) -> anyhow::Result<Vec<Delivery>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM logout_deliveries \
             WHERE ($1 IS NULL OR sid = $1) AND ($2 IS NULL OR user_id = $2) \
             ORDER BY created_at DESC, client_id LIMIT 500"
        ))
        .bind(filter.sid.clone())
        .bind(filter.user_id.clone())
        .fetch_all(&self.pool)
        .await
        .context("cannot list deliveries")?;
        rows.iter().map(delivery_from).collect()
    }
}
