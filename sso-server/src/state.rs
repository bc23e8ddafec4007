//! Everything a request handler may need, built once at startup.

use std::sync::Arc;

use session_store::SharedStore;
use sqlx::AnyPool;

use crate::authorization_code::Codes;
use crate::clients::ClientRegistry;
use crate::config::Settings;
use crate::keys::Keys;
use crate::sessions::GlobalSessions;
use crate::slo::outbox::Outbox;
use crate::throttle::LoginThrottle;
use crate::tokens::AccessTokens;
use crate::users::{PasswordHasher, UserStore};

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
}
