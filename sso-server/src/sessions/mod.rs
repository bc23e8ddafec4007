//! Global sessions: the user's sign-in at the center, shared by every client that joined it.
//!
//! A global session lives in two places, each for what it is good at:
//! - the session store holds the record behind the cookie, with idle and absolute expiry;
//! - the SQL table `global_sessions` (see [`registry`]) lists live sessions and the clients
//!   registered in each. It is the authority on whether a session still exists, so a session
//!   ended anywhere (another replica, the CLI, the [`sweeper`]) is ended everywhere, and ending
//!   one moves its clients into the single-logout outbox in the same transaction.
//!
//! Every end of a session goes through [`GlobalSessions::end`], which triggers single logout.
//!
//! While the database is unreachable, a session that exists in the store and was not ended
//! counts as live; clients joining it and its end are kept in the store ([`pending`]) and
//! written into the registry when the database answers again, so single logout loses nothing.
//! The user's claims are kept in the session record at sign-in, so tokens can be issued
//! without the users table.

pub mod pending;
pub use pending::Replayed;
pub mod registry;
pub mod sweeper;

use std::sync::Arc;

use anyhow::Context as _;
use serde::Serialize;
use session_store::{Expiry, IndexTag, Record, SessionKey, SharedStore};
use sqlx::AnyPool;
use tokio::sync::Notify;

use crate::clients::ClientRegistry;
use crate::crypto::random_id;
use crate::db::Reachability;
use crate::domain::ClientId;
use crate::slo::EndReason;
use crate::users::User;

const SID_TAG: &str = "sid";
const USER_TAG: &str = "user";
/// Tag of access and refresh tokens issued within a session, so they end with it.
pub const TOKEN_SID_TAG: &str = "token_sid";
/// Tag of forward-auth sessions made within a session, so they end with it.
pub const FORWARD_AUTH_SID_TAG: &str = "fa_sid";

/// A live global session.
#[derive(Clone, Debug)]
pub struct GlobalSession {
    /// The cookie value: a bearer secret that never leaves the browser and the center.
    pub key: SessionKey,
    /// The session id given to clients (`sid` claim); unrelated to the key.
    pub sid: String,
    pub user_id: String,
    /// When the user last authenticated (the latest step), seconds since the epoch.
    pub auth_time: u64,
    /// How the user authenticated: RFC 8176 `amr` values (see [`crate::factors::Amr`]).
    pub amr: Vec<String>,
}

impl GlobalSession {
    /// Whether the user gave a second factor (or a passkey, which is two in one).
    pub fn has_second_factor(&self) -> bool {
        crate::factors::is_multi_factor(&self.amr)
    }
}

/// How a session's user authenticated, and from where.
#[derive(Clone, Debug, Default)]
pub struct SignIn {
    /// RFC 8176 `amr` values, in the order the steps were taken.
    pub amr: Vec<String>,
    /// The client's address, as [`crate::web::client_ip`] tells it.
    pub ip: Option<String>,
    /// The browser's `User-Agent`.
    pub user_agent: Option<String>,
}

impl SignIn {
    /// A sign-in by `amr`, from the browser that sent `req`.
    pub fn from_request(
        req: &actix_web::HttpRequest,
        trusted_proxies: &[std::net::IpAddr],
        amr: Vec<String>,
    ) -> Self {
        let user_agent = req
            .headers()
            .get(actix_web::http::header::USER_AGENT)
            .and_then(|value| value.to_str().ok())
            .map(|agent| agent.chars().take(512).collect());
        Self {
            amr,
            ip: Some(crate::web::client_ip(req, trusted_proxies).to_string()),
            user_agent,
        }
    }
}

/// A session as an operator sees it.
#[derive(Clone, Debug, Serialize)]
pub struct SessionInfo {
    pub sid: String,
    pub user_id: String,
    pub created_at: i64,
    /// Where it was started from, when recorded (see [`SignIn`]).
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub clients: Vec<String>,
}

/// Creates, finds and ends global sessions.
#[derive(Clone, Debug)]
pub struct GlobalSessions {
    store: Arc<dyn SharedStore>,
    /// Where forward-auth sessions live: `store`, or a client of the same Redis with a local
    /// cache, through which their deletion reaches this node's cache at once.
    forward_auth_store: Arc<dyn SharedStore>,
    registry: registry::Registry,
    pending: pending::Pending,
    database: Reachability,
    expiry: Expiry,
    slo_wakeup: Arc<Notify>,
}

/// The `amr` of a session record; records written before sessions kept it were all
/// password sign-ins.
fn stored_amr(record: &Record) -> Vec<String> {
    record
        .get::<Vec<String>>("amr")
        .unwrap_or_else(|| vec![crate::factors::Amr::Password.as_str().to_owned()])
}

fn tag(name: &str, value: &str) -> anyhow::Result<IndexTag> {
    IndexTag::new(name, value).context("invalid index tag")
}

impl GlobalSessions {
    /// Sessions kept in `store` and `pool` (as reachable as `database` says), single logout to
    /// `clients`; `slo_wakeup` is notified when deliveries are queued.
    pub fn new(
        store: Arc<dyn SharedStore>,
        pool: AnyPool,
        database: Reachability,
        clients: ClientRegistry,
        expiry: Expiry,
        slo_wakeup: Arc<Notify>,
    ) -> Self {
        Self {
            forward_auth_store: Arc::clone(&store),
            pending: pending::Pending::new(Arc::clone(&store)),
            database,
            store,
            registry: registry::Registry::new(pool, clients),
            expiry,
            slo_wakeup,
        }
    }

    /// Forward-auth sessions are kept in `store` (see [`Self::forget`]).
    #[must_use]
    pub fn with_forward_auth_store(mut self, store: Arc<dyn SharedStore>) -> Self {
        self.forward_auth_store = store;
        self
    }

    /// Starts a new session for `user`, member of `groups`, signed in as `sign_in` tells, with
    /// a fresh key and a fresh sid. The user's claims are kept with it (see [`Self::claims`]).
    ///
    /// # Errors
    /// When the store or the database fails.
    pub async fn create(
        &self,
        user: &User,
        groups: &[String],
        sign_in: &SignIn,
    ) -> anyhow::Result<GlobalSession> {
        let sid = random_id();
        let auth_time = session_store::Timestamp::now().as_secs();
        let mut record = Record::new(self.expiry)
            .with_tag(tag(SID_TAG, &sid)?)
            .with_tag(tag(USER_TAG, &user.id)?);
        record.insert("sid", &sid)?;
        record.insert("user_id", &user.id)?;
        record.insert("auth_time", auth_time)?;
        record.insert("amr", &sign_in.amr)?;
        record.insert("user", user)?;
        record.insert("groups", groups)?;
        // Store first: the sweeper ends any registered session the store does not hold.
        let session = self.store.create(record).await?;
        self.registry.insert(&sid, &user.id, sign_in).await?;
        crate::metrics::session_started();
        Ok(GlobalSession {
            key: session.key().clone(),
            sid,
            user_id: user.id.clone(),
            auth_time,
            amr: sign_in.amr.clone(),
        })
    }

    /// Records a further authentication step in the live session behind `key` (a step-up):
    /// `amr` is added to its methods and `auth_time` becomes now. The session keeps its `sid`
    /// (every client's session goes on) under a fresh key, as a session's privileges never
    /// change under a cookie value that existed before. Returns the upgraded session, or
    /// `None` when it has ended meanwhile.
    ///
    /// # Errors
    /// When the store or the database fails.
    pub async fn add_step(
        &self,
        key: &SessionKey,
        amr: &[String],
    ) -> anyhow::Result<Option<GlobalSession>> {
        let Some(session) = self.store.load(key).await? else {
            return Ok(None);
        };
        let mut record = session.into_record();
        let (Some(sid), Some(user_id)) =
            (record.get::<String>("sid"), record.get::<String>("user_id"))
        else {
            return Ok(None);
        };
        let mut methods = stored_amr(&record);
        for method in amr {
            if !methods.contains(method) {
                methods.push(method.clone());
            }
        }
        crate::factors::complete_amr(&mut methods);
        let auth_time = session_store::Timestamp::now().as_secs();
        record.insert("amr", &methods)?;
        record.insert("auth_time", auth_time)?;
        let upgraded = self.store.create(record).await?;
        self.store.delete(key).await?;
        if !self.registry_knows(&sid).await? {
            // Ended while it was being upgraded: the new record must not outlive it.
            self.store.delete(upgraded.key()).await?;
            return Ok(None);
        }
        Ok(Some(GlobalSession {
            key: upgraded.key().clone(),
            sid,
            user_id,
            auth_time,
            amr: methods,
        }))
    }

    /// The live session behind a cookie value, if any. Loading counts as activity.
    ///
    /// # Errors
    /// When the store or the database fails.
    pub async fn current(&self, cookie: &str) -> anyhow::Result<Option<GlobalSession>> {
        let Some(key) = SessionKey::parse(cookie) else {
            return Ok(None);
        };
        let Some(session) = self.store.load(&key).await? else {
            return Ok(None);
        };
        let record = session.record();
        let (Some(sid), Some(user_id), Some(auth_time)) = (
            record.get::<String>("sid"),
            record.get::<String>("user_id"),
            record.get::<u64>("auth_time"),
        ) else {
            tracing::warn!("global session record without sid or user; deleting it");
            self.store.delete(&key).await?;
            return Ok(None);
        };
        if !self.registry_knows(&sid).await? {
            // Ended elsewhere (the CLI, another replica); the record is a leftover.
            self.store.delete(&key).await?;
            return Ok(None);
        }
        let amr = stored_amr(record);
        Ok(Some(GlobalSession {
            key,
            sid,
            user_id,
            auth_time,
            amr,
        }))
    }

    /// Whether the registry holds session `sid`; without the database, whether it has not
    /// ended meanwhile.
    async fn registry_knows(&self, sid: &str) -> anyhow::Result<bool> {
        match self.database.reach(self.registry.exists(sid)).await {
            Ok(known) => known,
            Err(_) => Ok(!self.pending.is_ended(sid).await?),
        }
    }

    /// Whether the session `sid` is still live. Without the database: whether the store still
    /// holds it and it has not ended meanwhile.
    ///
    /// # Errors
    /// When the store fails, or the database fails otherwise than by being unreachable.
    pub async fn is_live(&self, sid: &str) -> anyhow::Result<bool> {
        match self.database.reach(self.registry.exists(sid)).await {
            Ok(live) => live,
            Err(_) => self.live_in_store(sid).await,
        }
    }

    /// Whether the store holds session `sid` and it was not ended while the database was
    /// unreachable.
    async fn live_in_store(&self, sid: &str) -> anyhow::Result<bool> {
        let held = !self
            .store
            .list_by_tag(&tag(SID_TAG, sid)?)
            .await?
            .is_empty();
        Ok(held && !self.pending.is_ended(sid).await?)
    }

    /// Records that `client` joined session `sid`; `false` when the session has ended. Without
    /// the database the join is kept in the store until it can be recorded.
    ///
    /// # Errors
    /// When the store fails, or the database fails otherwise than by being unreachable.
    pub async fn register_client(&self, sid: &str, client: &ClientId) -> anyhow::Result<bool> {
        match self
            .database
            .reach(self.registry.add_client(sid, client))
            .await
        {
            Ok(joined) => joined,
            Err(_) => {
                if !self.live_in_store(sid).await? {
                    return Ok(false);
                }
                self.pending.join(sid, client).await?;
                tracing::warn!(
                    sid,
                    client = client.as_str(),
                    "database unreachable; the client's join is kept in the store until it answers"
                );
                Ok(true)
            }
        }
    }

    /// The user of session `sid` and their groups, as they were when the user signed in;
    /// `None` when the store no longer holds the session.
    ///
    /// # Errors
    /// When the store fails.
    pub async fn claims(&self, sid: &str) -> anyhow::Result<Option<(User, Vec<String>)>> {
        for key in self.store.list_by_tag(&tag(SID_TAG, sid)?).await? {
            if let Some(session) = self.store.load(&key).await? {
                let record = session.record();
                if let (Some(user), Some(groups)) = (record.get("user"), record.get("groups")) {
                    return Ok(Some((user, groups)));
                }
            }
        }
        Ok(None)
    }

    /// Ends session `sid` and queues single logout for every client registered in it.
    /// Returns `false` when it had already ended.
    ///
    /// Without the database the end is kept in the store (see [`pending`]) and the session's
    /// records are deleted at once; its logout is queued when the database answers again.
    ///
    /// # Errors
    /// When the store fails, or the database fails otherwise than by being unreachable.
    pub async fn end(&self, sid: &str, reason: EndReason) -> anyhow::Result<bool> {
        // The registry first: it decides, once, that the session ended and why. Were the store
        // records deleted first, a sweep in between would take the session for expired.
        let queued = match self.database.reach(self.registry.end(sid, reason)).await {
            Ok(queued) => queued?,
            Err(_) => return self.end_pending(sid, reason).await,
        };
        self.forget(sid).await;
        if let Some(count) = queued {
            crate::metrics::session_ended(reason);
            tracing::info!(
                sid,
                reason = reason.as_str(),
                deliveries = count,
                "global session ended"
            );
            if count > 0 {
                self.slo_wakeup.notify_one();
            }
        }
        Ok(queued.is_some())
    }

    /// Ends session `sid` without the database: the end is kept in the store first (so it is
    /// never lost), then the session's records go.
    async fn end_pending(&self, sid: &str, reason: EndReason) -> anyhow::Result<bool> {
        if self.pending.is_ended(sid).await? {
            return Ok(false);
        }
        self.pending.end(sid, reason).await?;
        self.forget(sid).await;
        crate::metrics::session_ended(reason);
        tracing::warn!(
            sid,
            reason = reason.as_str(),
            "global session ended while the database is unreachable; its logout is queued when it answers"
        );
        Ok(true)
    }

    /// Writes what was kept while the database was unreachable into the registry (see
    /// [`pending`]), and wakes single logout for the deliveries that queued.
    ///
    /// # Errors
    /// When the store or the database fails, or the database is known to be unreachable; the
    /// rest is tried again on the next call.
    pub async fn replay_pending(&self) -> anyhow::Result<Replayed> {
        let replayed = self
            .database
            .reach(self.pending.replay(&self.registry))
            .await??;
        if replayed != Replayed::default() {
            tracing::info!(
                joins = replayed.joins,
                ends = replayed.ends,
                deliveries = replayed.deliveries,
                "registry writes kept while the database was unreachable are recorded"
            );
        }
        if replayed.deliveries > 0 {
            self.slo_wakeup.notify_one();
        }
        Ok(replayed)
    }

    /// Deletes the store records of the ended session `sid`: its global session, its access
    /// and refresh tokens and its forward-auth sessions. These go through the store they are
    /// read from, so a local cache of them on this node forgets them before the session's end
    /// returns (other nodes' caches hear it from Redis).
    async fn forget(&self, sid: &str) {
        self.forget_tagged(&self.store, SID_TAG, sid).await;
        self.forget_tagged(&self.store, TOKEN_SID_TAG, sid).await;
        self.forget_tagged(&self.forward_auth_store, FORWARD_AUTH_SID_TAG, sid)
            .await;
    }

    /// Deletes the store records tagged `name`=`value`, of sessions already ended in the
    /// registry. Best effort: a record left behind is refused anyway, because every use of one
    /// checks the registry, and is deleted on that use.
    async fn forget_tagged(&self, store: &Arc<dyn SharedStore>, name: &str, value: &str) {
        let deleted: anyhow::Result<usize> =
            async { Ok(store.delete_by_tag(&tag(name, value)?).await?) }.await;
        if let Err(error) = deleted {
            tracing::warn!(
                tag = name,
                value,
                error = format!("{error:#}"),
                "cannot delete the records of an ended session; they are refused on use"
            );
        }
    }

    /// Wakes the single-logout worker, for deliveries made due outside a session's end.
    pub fn wake_single_logout(&self) {
        self.slo_wakeup.notify_one();
    }

    /// Ends every session of a user; returns how many were live.
    ///
    /// # Errors
    /// When the store or the database fails.
    pub async fn end_all_for_user(
        &self,
        user_id: &str,
        reason: EndReason,
    ) -> anyhow::Result<usize> {
        let mut ended = 0;
        for sid in self.registry.sids_of_user(user_id).await? {
            if self.end(&sid, reason).await? {
                ended += 1;
            }
        }
        self.forget_tagged(&self.store, USER_TAG, user_id).await;
        if matches!(reason, EndReason::PasswordChanged | EndReason::UserDisabled) {
            // Offline refresh tokens outlive sessions, not the credentials they were granted on.
            self.forget_tagged(&self.store, crate::tokens::OFFLINE_USER_TAG, user_id)
                .await;
        }
        Ok(ended)
    }

    /// The live sessions of a user with their registered clients.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn list_for_user(&self, user_id: &str) -> anyhow::Result<Vec<SessionInfo>> {
        self.registry.list_for_user(user_id).await
    }

    /// Ends the sessions the store no longer holds (idle or absolute expiry); returns how many.
    ///
    /// # Errors
    /// When the store or the database fails.
    pub async fn sweep_expired(&self) -> anyhow::Result<usize> {
        // Pending joins first, so that a session ended here gets logout to every client; and
        // nothing is ended here while joins may still be pending.
        self.replay_pending().await?;
        let mut ended = 0;
        for sid in self.registry.all_sids().await? {
            let alive = !self
                .store
                .list_by_tag(&tag(SID_TAG, &sid)?)
                .await?
                .is_empty();
            if !alive && self.end(&sid, EndReason::Expired).await? {
                ended += 1;
            }
        }
        Ok(ended)
    }

    /// Whether the store answers.
    ///
    /// # Errors
    /// When it does not.
    pub async fn check_store(&self) -> anyhow::Result<()> {
        self.store.count("readiness-probe").await?;
        Ok(())
    }
}
