//! Everything a request handler may need, built once at startup.

use std::sync::Arc;

use session_store::SharedStore;
use sqlx::AnyPool;

use crate::authorization_code::Codes;
use crate::clients::ClientRegistry;
use crate::config::Settings;
use crate::csrf::Csrf;
use crate::forward_auth::ForwardAuth;
use crate::keys::Keys;
use crate::sessions::GlobalSessions;
use crate::slo::outbox::Outbox;
use crate::throttle::LoginThrottle;
use crate::tokens::{AccessTokens, LiveToken};
use crate::users::{PasswordHasher, User, UserStore};

/// Shared application state; cloning is cheap.
#[derive(Clone, Debug)]
pub struct AppState {
    pub settings: Arc<Settings>,
    /// The issuer without a trailing slash.
    pub issuer: Arc<str>,
    pub pool: AnyPool,
    pub store: Arc<dyn SharedStore>,
    pub users: UserStore,
    pub hasher: PasswordHasher,
    pub clients: ClientRegistry,
    pub keys: Arc<Keys>,
    pub sessions: GlobalSessions,
    pub codes: Codes,
    pub access_tokens: AccessTokens,
    pub throttle: LoginThrottle,
    pub outbox: Outbox,
    pub csrf: Csrf,
    pub forward_auth: ForwardAuth,
}

impl AppState {
    /// The access token `token` and its user, when the token is live, its global session has
    /// not ended and its user is still enabled. Counts as a use of the token.
    ///
    /// # Errors
    /// When the store or the database fails.
    pub async fn active_token(&self, token: &str) -> anyhow::Result<Option<(LiveToken, User)>> {
        let Some(live) = self.access_tokens.lookup(token).await? else {
            return Ok(None);
        };
        if !self.sessions.is_live(&live.grant.sid).await? {
            return Ok(None);
        }
        let user = self
            .users
            .get(&live.grant.user_id)
            .await?
            .filter(|user| !user.disabled);
        Ok(user.map(|user| (live, user)))
    }
}
