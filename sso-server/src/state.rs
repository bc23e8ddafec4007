//! Everything a request handler may need, built once at startup.

use std::sync::Arc;

use session_store::SharedStore;
use sqlx::AnyPool;

use crate::audit::AuditLog;
use crate::authorization_code::Codes;
use crate::clients::ClientRegistry;
use crate::config::Settings;
use crate::csrf::Csrf;
use crate::db::Reachability;
use crate::factors::Factors;
use crate::factors::passkeys::Passkeys;
use crate::forward_auth::ForwardAuth;
use crate::keys::Keys;
use crate::sessions::GlobalSessions;
use crate::slo::outbox::Outbox;
use crate::throttle::LoginThrottle;
use crate::tokens::{AccessTokens, LiveToken, RefreshTokens, jwt};
use crate::users::{PasswordHasher, User, UserStore};

/// Shared application state; cloning is cheap.
#[derive(Clone, Debug)]
pub struct AppState {
    pub settings: Arc<Settings>,
    /// The issuer without a trailing slash.
    pub issuer: Arc<str>,
    pub pool: AnyPool,
    /// Whether `pool` answers, as last found.
    pub database: Reachability,
    pub store: Arc<dyn SharedStore>,
    pub users: UserStore,
    pub hasher: PasswordHasher,
    pub clients: ClientRegistry,
    pub keys: Arc<Keys>,
    pub sessions: GlobalSessions,
    pub codes: Codes,
    pub access_tokens: AccessTokens,
    pub refresh_tokens: RefreshTokens,
    pub jwt_revocations: jwt::Revocations,
    pub throttle: LoginThrottle,
    pub outbox: Outbox,
    pub audit: AuditLog,
    pub csrf: Csrf,
    pub forward_auth: ForwardAuth,
    pub factors: Factors,
    pub passkeys: Passkeys,
}

/// A user of a global session, and their groups when already known.
#[derive(Clone, Debug)]
pub struct SessionUser {
    pub user: User,
    /// The groups kept with the session, when the database could not be asked; `None` when
    /// they are to be read from the database.
    pub groups: Option<Vec<String>>,
}

/// A live access token of either format, and its user (none for a client's own token).
#[derive(Clone, Debug)]
pub struct ActiveToken {
    pub live: LiveToken,
    pub user: Option<User>,
    /// The user's groups, when kept with the session because the database could not be
    /// asked (see [`SessionUser`]).
    pub groups: Option<Vec<String>>,
}

impl AppState {
    /// The access token `token` (opaque or JWT) and its user, when the token is live and not
    /// revoked, its global session (if it has one) has not ended, its refresh token family
    /// (when it outlives sessions) is live, and its user (if it has one) is still enabled. For
    /// an opaque token this counts as a use.
    ///
    /// # Errors
    /// When the store or the database fails.
    pub async fn active_token(&self, token: &str) -> anyhow::Result<Option<ActiveToken>> {
        let live = if jwt::looks_like(token) {
            self.jwt_access_token(token).await?
        } else {
            self.access_tokens.lookup(token).await?
        };
        let Some(live) = live else {
            return Ok(None);
        };
        if let Some(sid) = &live.grant.sid
            && !self.sessions.is_live(sid).await?
        {
            return Ok(None);
        }
        let (user, groups) = match &live.grant.user_id {
            None => (None, None),
            Some(id) => match self
                .session_user(id, live.grant.sid.as_deref())
                .await?
                .filter(|found| !found.user.disabled)
            {
                Some(found) => (Some(found.user), found.groups),
                None => return Ok(None),
            },
        };
        Ok(Some(ActiveToken { live, user, groups }))
    }

    /// User `user_id`, signed in with global session `sid` if any. While the database is
    /// unreachable: the user as they were when they signed in to that session, kept with it.
    ///
    /// # Errors
    /// When the store fails, or the database fails and the session does not hold the user.
    pub async fn session_user(
        &self,
        user_id: &str,
        sid: Option<&str>,
    ) -> anyhow::Result<Option<SessionUser>> {
        let error = match self.database.reach(self.users.get(user_id)).await {
            Ok(found) => return Ok(found?.map(|user| SessionUser { user, groups: None })),
            Err(error) => error,
        };
        let Some(sid) = sid else {
            return Err(error);
        };
        match self.sessions.claims(sid).await? {
            Some((user, groups)) if user.id == user_id => Ok(Some(SessionUser {
                user,
                groups: Some(groups),
            })),
            _ => Err(error),
        }
    }

    /// A JWT access token of ours that was not revoked. One that outlives sessions (offline)
    /// also needs its refresh token family: it ends with it.
    async fn jwt_access_token(&self, token: &str) -> anyhow::Result<Option<LiveToken>> {
        let Some(claims) = jwt::verify(&self.keys, &self.issuer, token) else {
            return Ok(None);
        };
        if self.jwt_revocations.is_revoked(&claims).await? {
            return Ok(None);
        }
        if let (None, Some(grant_id)) = (&claims.sid, &claims.grant_id)
            && !self.refresh_tokens.family_is_live(grant_id).await?
        {
            return Ok(None);
        }
        Ok(Some(claims.live()))
    }
}
