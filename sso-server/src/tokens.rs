//! What `/token` hands out: the id_token (a signed JWT) and an opaque access token.
//!
//! Access tokens are records in the session store, tagged with the global session (they end
//! with it) and with a digest of the code they were issued for, so that a replayed code can
//! revoke them. A token lapses after its TTL without use; each use slides that window, up to
//! the longest life of a global session, so a client that keeps checking the session (the SDK's
//! cookie-session re-check) keeps its token as long as the session lives.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use serde::{Deserialize, Serialize};
use session_store::{Expiry, IndexTag, Record, SessionKey, SharedStore};

use crate::crypto::sha256_hex;
use crate::sessions::TOKEN_SID_TAG;

const GRANT_TAG: &str = "grant";

/// Claims of an id_token.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct IdTokenClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub exp: u64,
    pub iat: u64,
    pub auth_time: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    pub sid: String,
    pub name: String,
    pub email: String,
    pub preferred_username: String,
    /// The user's groups, when the client asked for scope `groups`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups: Option<Vec<String>>,
}

/// Whether a space-separated `scope` grants the `groups` claim.
pub fn grants_groups(scope: &str) -> bool {
    scope.split(' ').any(|s| s == "groups")
}

/// What an access token grants.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessGrant {
    pub user_id: String,
    pub client_id: String,
    pub sid: String,
    pub scope: String,
}

/// A live access token: its grant, when it was issued and when it lapses unless used again
/// (seconds since the epoch).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LiveToken {
    pub grant: AccessGrant,
    pub issued_at: u64,
    pub expires_at: u64,
}

/// Issues, looks up and revokes access tokens.
#[derive(Clone, Debug)]
pub struct AccessTokens {
    store: Arc<dyn SharedStore>,
    ttl: Duration,
    max_lifetime: Duration,
}

fn grant_tag(code: &str) -> anyhow::Result<IndexTag> {
    IndexTag::new(GRANT_TAG, &sha256_hex(code)).context("invalid grant tag")
}

impl AccessTokens {
    /// Access tokens in `store` that lapse after `ttl` without use and live at most
    /// `max_lifetime` (the absolute lifetime of a global session).
    pub fn new(store: Arc<dyn SharedStore>, ttl: Duration, max_lifetime: Duration) -> Self {
        Self {
            store,
            ttl,
            max_lifetime,
        }
    }

    /// How long a token stays valid without use.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// A new access token for `grant`, issued in exchange for `code`.
    ///
    /// # Errors
    /// When the store fails.
    pub async fn issue(&self, grant: &AccessGrant, code: &str) -> anyhow::Result<SessionKey> {
        let mut record = Record::new(Expiry::new(self.ttl, self.max_lifetime.max(self.ttl)))
            .with_tag(IndexTag::new(TOKEN_SID_TAG, &grant.sid).context("invalid sid tag")?)
            .with_tag(grant_tag(code)?);
        record.insert("user_id", &grant.user_id)?;
        record.insert("client_id", &grant.client_id)?;
        record.insert("sid", &grant.sid)?;
        record.insert("scope", &grant.scope)?;
        Ok(self.store.create(record).await?.key().clone())
    }

    /// The grant behind a bearer token, if it is live. Looking a token up counts as its use.
    ///
    /// # Errors
    /// When the store fails.
    pub async fn lookup(&self, token: &str) -> anyhow::Result<Option<LiveToken>> {
        let Some(key) = SessionKey::parse(token) else {
            return Ok(None);
        };
        let Some(session) = self.store.load(&key).await? else {
            return Ok(None);
        };
        let record = session.record();
        Ok(
            match (
                record.get("user_id"),
                record.get("client_id"),
                record.get("sid"),
                record.get("scope"),
            ) {
                (Some(user_id), Some(client_id), Some(sid), Some(scope)) => Some(LiveToken {
                    grant: AccessGrant {
                        user_id,
                        client_id,
                        sid,
                        scope,
                    },
                    issued_at: record.created_at().as_secs(),
                    expires_at: record.expires_at().as_secs(),
                }),
                _ => None,
            },
        )
    }

    /// Revokes every token issued for `code`; returns how many there were.
    ///
    /// # Errors
    /// When the store fails.
    pub async fn revoke_for_code(&self, code: &str) -> anyhow::Result<usize> {
        Ok(self.store.delete_by_tag(&grant_tag(code)?).await?)
    }
}
