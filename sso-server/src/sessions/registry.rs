//! The SQL side of global sessions: which are live and which clients joined each.

use anyhow::Context as _;
use sqlx::{AnyPool, Row as _};

use super::{SessionInfo, SignIn};
use crate::clients::ClientRegistry;
use crate::db::now_ms;
use crate::domain::ClientId;
use crate::slo::{EndReason, outbox};

/// The `global_sessions` and `session_clients` tables.
#[derive(Clone, Debug)]
pub struct Registry {
    pool: AnyPool,
    clients: ClientRegistry,
}

impl Registry {
    pub(super) fn new(pool: AnyPool, clients: ClientRegistry) -> Self {
        Self { pool, clients }
    }

    /// Registers session `sid` of `user_id`, with where `sign_in` came from.
    pub(super) async fn insert(
        &self,
        sid: &str,
        user_id: &str,
        sign_in: &SignIn,
    ) -> anyhow::Result<()> {
        sqlx::query(
            "INSERT INTO global_sessions (sid, user_id, created_at, ip, user_agent) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(sid)
        .bind(user_id)
        .bind(now_ms())
        .bind(sign_in.ip.as_deref())
        .bind(sign_in.user_agent.as_deref())
        .execute(&self.pool)
        .await
        .context("cannot register global session")?;
        Ok(())
    }

    pub(super) async fn exists(&self, sid: &str) -> anyhow::Result<bool> {
        let row = sqlx::query("SELECT sid FROM global_sessions WHERE sid = $1")
            .bind(sid)
            .fetch_optional(&self.pool)
            .await
            .context("cannot look up global session")?;
        Ok(row.is_some())
    }

    pub(super) async fn add_client(&self, sid: &str, client: &ClientId) -> anyhow::Result<bool> {
        let mut tx = self.pool.begin().await?;
        // Locks the session row (PostgreSQL) or the database (SQLite) against a concurrent end,
        // so a client is never registered in a session whose logout has already been queued.
        let live = sqlx::query("UPDATE global_sessions SET created_at = created_at WHERE sid = $1")
            .bind(sid)
            .execute(&mut *tx)
            .await?
            .rows_affected()
            == 1;
        if live {
            let known =
                sqlx::query("SELECT sid FROM session_clients WHERE sid = $1 AND client_id = $2")
                    .bind(sid)
                    .bind(client.as_str())
                    .fetch_optional(&mut *tx)
                    .await?
                    .is_some();
            if !known {
                sqlx::query(
                    "INSERT INTO session_clients (sid, client_id, registered_at) VALUES ($1, $2, $3)",
                )
                .bind(sid)
                .bind(client.as_str())
                .bind(now_ms())
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit()
            .await
            .context("cannot register client in session")?;
        Ok(live)
    }

    /// Removes the session and queues its logout deliveries, atomically. `None` when the
    /// session had already ended; otherwise the number of deliveries queued.
    pub(super) async fn end(&self, sid: &str, reason: EndReason) -> anyhow::Result<Option<usize>> {
        let mut tx = self.pool.begin().await?;
        // The transaction's first statement writes. On SQLite a transaction that read first
        // and then writes fails at once with SQLITE_BUSY when another connection committed in
        // between (a delivery worker recording an outcome, another logout), instead of
        // waiting for the lock; on PostgreSQL the row lock taken here orders concurrent ends.
        let row = sqlx::query("DELETE FROM global_sessions WHERE sid = $1 RETURNING user_id")
            .bind(sid)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(row) = row else {
            tx.rollback().await?;
            return Ok(None);
        };
        let user_id: String = row.try_get("user_id")?;
        let queued =
            outbox::enqueue_for_session(&mut tx, &self.clients, sid, &user_id, reason).await?;
        crate::audit::AuditLog::record_session_end(&mut tx, sid, &user_id, reason.as_str(), queued)
            .await?;
        sqlx::query("DELETE FROM session_clients WHERE sid = $1")
            .bind(sid)
            .execute(&mut *tx)
            .await?;
        tx.commit().await.context("cannot end global session")?;
        Ok(Some(queued))
    }

    pub(super) async fn sids_of_user(&self, user_id: &str) -> anyhow::Result<Vec<String>> {
        let query = sqlx::query("SELECT sid FROM global_sessions WHERE user_id = $1");
        self.sids(query.bind(user_id)).await
    }

    pub(super) async fn all_sids(&self) -> anyhow::Result<Vec<String>> {
        self.sids(sqlx::query("SELECT sid FROM global_sessions"))
            .await
    }

    /// The `sid` column of what `query` selects.
    async fn sids<'q>(
        &self,
        query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    ) -> anyhow::Result<Vec<String>> {
        let rows = query
            .fetch_all(&self.pool)
            .await
            .context("cannot list sessions")?;
        rows.iter()
            .map(|row| row.try_get("sid").map_err(Into::into))
            .collect()
    }

    pub(super) async fn list_for_user(&self, user_id: &str) -> anyhow::Result<Vec<SessionInfo>> {
        let rows = sqlx::query(
            "SELECT s.sid AS sid, s.created_at AS created_at, s.ip AS ip, \
             s.user_agent AS user_agent, c.client_id AS client_id \
             FROM global_sessions s LEFT JOIN session_clients c ON c.sid = s.sid \
             WHERE s.user_id = $1 ORDER BY s.created_at, s.sid, c.client_id",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await
        .context("cannot list sessions")?;
        let mut sessions: Vec<SessionInfo> = Vec::new();
        for row in rows {
            let sid: String = row.try_get("sid")?;
            let client: Option<String> = row.try_get("client_id")?;
            if sessions.last().is_none_or(|s| s.sid != sid) {
                sessions.push(SessionInfo {
                    sid,
                    user_id: user_id.to_owned(),
                    created_at: row.try_get("created_at")?,
                    ip: row.try_get("ip")?,
                    user_agent: row.try_get("user_agent")?,
                    clients: Vec::new(),
                });
            }
            if let (Some(client), Some(last)) = (client, sessions.last_mut()) {
                last.clients.push(client);
            }
        }
        Ok(sessions)
    }
}
