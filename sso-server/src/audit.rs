//! The audit trail: security events kept in the SQL database (table `audit_events`), queried by
//! user, event and time, and swept after `audit.retention_days`.
//!
//! Recording never fails the action it records: a database error is logged (with the event)
//! and the action goes on, as it would have without an audit trail. Nothing secret is recorded:
//! events carry names, addresses, client ids, reasons and counts, never a password, secret or
//! token (the `detail` of an event is built here, from typed fields, not from request data).

use std::time::Duration;

use serde::Serialize;
use serde_json::{Map, Value};
use sqlx::{AnyPool, Row as _};

/// One kind of security event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    /// A password sign-in succeeded (or, with `method` `passkey`, a sign-in by passkey).
    SignInSucceeded,
    /// A password sign-in failed (`reason`: `wrong_password` — unknown users included —,
    /// `limited`, `disabled`); with `method` `passkey`, a sign-in by passkey (`reason`:
    /// `expired`, `malformed`, `rejected`, `unknown_credential`, `unavailable`, `disabled`).
    SignInFailed,
    /// A global session ended (`reason`: logout, expired, admin_kill, password_changed,
    /// user_disabled).
    SessionEnded,
    /// An administrator (the admin API or the CLI) changed something (`action`, `target`).
    AdminAction,
    /// A user's password was set or changed.
    PasswordChanged,
    /// A client was created, changed or removed.
    ClientChanged,
    /// A refresh token was presented again after its rotation: its family was revoked.
    RefreshTokenReuse,
    /// A second factor was given (`method`: totp, recovery_code, passkey).
    SecondFactorSucceeded,
    /// A second factor was refused (`reason`: wrong_code, replayed, limited, malformed, ...).
    SecondFactorFailed,
    /// A recovery code was used (`left`: how many remain).
    RecoveryCodeUsed,
    /// A factor was enrolled (`kind`: totp, passkey, recovery_codes).
    FactorEnrolled,
    /// A factor was removed by its user (`kind`).
    FactorRemoved,
    /// An administrator reset a user's factors.
    FactorsReset,
}

impl Event {
    /// The event's name as stored and queried.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SignInSucceeded => "sign_in_succeeded",
            Self::SignInFailed => "sign_in_failed",
            Self::SessionEnded => "session_ended",
            Self::AdminAction => "admin_action",
            Self::PasswordChanged => "password_changed",
            Self::ClientChanged => "client_changed",
            Self::RefreshTokenReuse => "refresh_token_reuse",
            Self::SecondFactorSucceeded => "second_factor_succeeded",
            Self::SecondFactorFailed => "second_factor_failed",
            Self::RecoveryCodeUsed => "recovery_code_used",
            Self::FactorEnrolled => "factor_enrolled",
            Self::FactorRemoved => "factor_removed",
            Self::FactorsReset => "factors_reset",
        }
    }

    /// Every event, for validating queries.
    pub const ALL: [Self; 13] = [
        Self::SignInSucceeded,
        Self::SignInFailed,
        Self::SessionEnded,
        Self::AdminAction,
        Self::PasswordChanged,
        Self::ClientChanged,
        Self::RefreshTokenReuse,
        Self::SecondFactorSucceeded,
        Self::SecondFactorFailed,
        Self::RecoveryCodeUsed,
        Self::FactorEnrolled,
        Self::FactorRemoved,
        Self::FactorsReset,
    ];

    /// The event named `name`.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|event| event.as_str() == name)
    }
}

/// An event about to be recorded.
#[derive(Clone, Debug)]
pub struct Entry {
    event: Event,
    username: Option<String>,
    actor: Option<String>,
    client_id: Option<String>,
    ip: Option<String>,
    user_agent: Option<String>,
    detail: Map<String, Value>,
}

/// User agents are cut to this many characters.
const USER_AGENT_MAX: usize = 256;

impl Entry {
    /// An `event` with nothing else known yet.
    pub fn new(event: Event) -> Self {
        Self {
            event,
            username: None,
            actor: None,
            client_id: None,
            ip: None,
            user_agent: None,
            detail: Map::new(),
        }
    }

    /// The user the event is about.
    #[must_use]
    pub fn user(mut self, username: &str) -> Self {
        self.username = Some(username.to_owned());
        self
    }

    /// Who acted (`admin-api`, `cli`, or a username), when not the user themselves.
    #[must_use]
    pub fn actor(mut self, actor: &str) -> Self {
        self.actor = Some(actor.to_owned());
        self
    }

    /// The client involved.
    #[must_use]
    pub fn client(mut self, client_id: &str) -> Self {
        self.client_id = Some(client_id.to_owned());
        self
    }

    /// Where the request came from.
    #[must_use]
    pub fn from_address(mut self, ip: Option<&str>, user_agent: Option<&str>) -> Self {
        self.ip = ip.map(str::to_owned);
        self.user_agent = user_agent.map(|agent| agent.chars().take(USER_AGENT_MAX).collect());
        self
    }

    /// One more field of the detail (a reason, an action, a target, a count).
    #[must_use]
    pub fn with(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.detail.insert(name.to_owned(), value.into());
        self
    }
}

/// A recorded event, as the admin API shows it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Recorded {
    pub id: String,
    /// Milliseconds since the epoch.
    pub at_ms: i64,
    pub event: String,
    pub username: Option<String>,
    pub actor: Option<String>,
    pub client_id: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub detail: Value,
}

/// Which events to list, newest first.
#[derive(Clone, Debug, Default)]
pub struct Query {
    pub username: Option<String>,
    pub event: Option<Event>,
    /// From this time on (milliseconds since the epoch, inclusive).
    pub since_ms: Option<i64>,
    /// Before this time (exclusive).
    pub until_ms: Option<i64>,
    /// The page after this cursor (the `next` of the previous page).
    pub after: Option<Cursor>,
    /// Events per page (1–500).
    pub limit: u32,
}

/// Where a page ended: the time and id of its last (oldest) event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cursor {
    pub at_ms: i64,
    pub id: String,
}

impl Cursor {
    /// `{at_ms}.{id}`, as handed out in `next`.
    pub fn encode(&self) -> String {
        format!("{}.{}", self.at_ms, self.id)
    }

    /// A cursor from [`Cursor::encode`]'s form.
    pub fn parse(text: &str) -> Option<Self> {
        let (at, id) = text.split_once('.')?;
        let id_ok = !id.is_empty()
            && id.len() <= 64
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        Some(Self {
            at_ms: at.parse().ok()?,
            id: id_ok.then(|| id.to_owned())?,
        })
    }
}

/// A page of events and the cursor of the next one, if there may be more.
#[derive(Clone, Debug)]
pub struct Page {
    pub events: Vec<Recorded>,
    pub next: Option<Cursor>,
}

/// The audit trail. Cloning is cheap.
#[derive(Clone, Debug)]
pub struct AuditLog {
    pool: AnyPool,
    retention: Duration,
}

impl AuditLog {
    /// The trail in `pool`, keeping events for `retention`.
    pub fn new(pool: AnyPool, retention: Duration) -> Self {
        Self { pool, retention }
    }

    /// Records `entry`; a failure is logged, never returned (see the module documentation).
    pub async fn record(&self, entry: Entry) {
        if let Err(error) = self.insert(&entry).await {
            tracing::error!(
                %error,
                event = entry.event.as_str(),
                username = entry.username.as_deref(),
                "cannot write an audit event"
            );
        }
    }

    async fn insert(&self, entry: &Entry) -> anyhow::Result<()> {
        let id = crate::crypto::random_id();
        let detail = Value::Object(entry.detail.clone()).to_string();
        sqlx::query(
            "INSERT INTO audit_events \
             (id, at_ms, event, username, actor, client_id, ip, user_agent, detail) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(id)
        .bind(now_ms())
        .bind(entry.event.as_str())
        .bind(entry.username.as_deref())
        .bind(entry.actor.as_deref())
        .bind(entry.client_id.as_deref())
        .bind(entry.ip.as_deref())
        .bind(entry.user_agent.as_deref())
        .bind(detail)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Records, inside the transaction `tx` that ends session `sid` of user `user_id`, that it
    /// ended for `reason` with `deliveries` single-logout deliveries queued: the trail has the
    /// end exactly when the end happened.
    ///
    /// # Errors
    /// When the database fails (and with it the end of the session).
    pub(crate) async fn record_session_end(
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        sid: &str,
        user_id: &str,
        reason: &str,
        deliveries: usize,
    ) -> anyhow::Result<()> {
        let detail = serde_json::json!({
            "sid": sid, "reason": reason, "deliveries": deliveries,
        });
        sqlx::query(
            "INSERT INTO audit_events \
             (id, at_ms, event, username, actor, client_id, ip, user_agent, detail) \
             VALUES ($1, $2, $3, (SELECT username FROM users WHERE id = $4), \
             NULL, NULL, NULL, NULL, $5)",
        )
        .bind(crate::crypto::random_id())
        .bind(now_ms())
        .bind(Event::SessionEnded.as_str())
        .bind(user_id)
        .bind(detail.to_string())
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// The events `query` asks for, newest first.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn list(&self, query: &Query) -> anyhow::Result<Page> {
        let limit = query.limit.clamp(1, 500);
        let mut sql = String::from(
            "SELECT id, at_ms, event, username, actor, client_id, ip, user_agent, detail \
             FROM audit_events WHERE 1 = 1",
        );
        let mut n = 0;
        let mut param = || {
            n += 1;
            format!("${n}")
        };
        if query.username.is_some() {
            sql += &format!(" AND username = {}", param());
        }
        if query.event.is_some() {
            sql += &format!(" AND event = {}", param());
        }
        if query.since_ms.is_some() {
            sql += &format!(" AND at_ms >= {}", param());
        }
        if query.until_ms.is_some() {
            sql += &format!(" AND at_ms < {}", param());
        }
        if query.after.is_some() {
            let (at, at_again, id) = (param(), param(), param());
            sql += &format!(" AND (at_ms < {at} OR (at_ms = {at_again} AND id < {id}))");
        }
        sql += &format!(" ORDER BY at_ms DESC, id DESC LIMIT {}", param());

        let mut statement = sqlx::query(&sql);
        if let Some(username) = &query.username {
            statement = statement.bind(username);
        }
        if let Some(event) = query.event {
            statement = statement.bind(event.as_str());
        }
        if let Some(since) = query.since_ms {
            statement = statement.bind(since);
        }
        if let Some(until) = query.until_ms {
            statement = statement.bind(until);
        }
        if let Some(after) = &query.after {
            statement = statement
                .bind(after.at_ms)
                .bind(after.at_ms)
                .bind(&after.id);
        }
        let rows = statement
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        let events = rows
            .iter()
            .map(|row| {
                let detail: String = row.try_get("detail")?;
                Ok(Recorded {
                    id: row.try_get("id")?,
                    at_ms: row.try_get("at_ms")?,
                    event: row.try_get("event")?,
                    username: row.try_get("username")?,
                    actor: row.try_get("actor")?,
                    client_id: row.try_get("client_id")?,
                    ip: row.try_get("ip")?,
                    user_agent: row.try_get("user_agent")?,
                    detail: serde_json::from_str(&detail).unwrap_or(Value::Null),
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let next = (events.len() == limit as usize)
            .then(|| events.last())
            .flatten()
            .map(|last| Cursor {
                at_ms: last.at_ms,
                id: last.id.clone(),
            });
        Ok(Page { events, next })
    }

    /// Deletes the events older than the retention; returns how many.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn sweep(&self) -> anyhow::Result<u64> {
        let retention_ms = i64::try_from(self.retention.as_millis()).unwrap_or(i64::MAX);
        let result = sqlx::query("DELETE FROM audit_events WHERE at_ms < $1")
            .bind(now_ms().saturating_sub(retention_ms))
            .execute(&self.pool)
            .await?;
        Ok(result.rows_affected())
    }

    /// Sweeps every `every` until the process ends.
    pub async fn run_sweeper(self, every: Duration) {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            match self.sweep().await {
                Ok(0) => {}
                Ok(deleted) => tracing::info!(deleted, "audit events past retention deleted"),
                Err(error) => tracing::warn!(%error, "cannot sweep the audit trail"),
            }
        }
    }
}

fn now_ms() -> i64 {
    i64::try_from(session_store::Timestamp::now().as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_garbage() {
        let cursor = Cursor {
            at_ms: 1_700_000_000_000,
            id: "Ab-_9".to_owned(),
        };
        assert_eq!(Cursor::parse(&cursor.encode()), Some(cursor));
        for bad in ["", "1", "x.y", "1.", "1.a b", "1.a'--"] {
            assert_eq!(Cursor::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn events_are_named_and_parsed_back() {
        for event in Event::ALL {
            assert_eq!(Event::parse(event.as_str()), Some(event));
        }
        assert_eq!(Event::parse("drop table"), None);
    }
}
