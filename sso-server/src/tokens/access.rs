//! Opaque access tokens: records in the session store.
//!
//! A token is tagged with what it ends with: its global session (`sid`), its grant (the
//! authorization code it descends from, which is also its refresh token family) and, for a
//! token of an offline family, its user. A token bound to a session lapses after its TTL
//! without use, and each use slides that window up to the longest life of a global session, so
//! a client that keeps checking the session keeps its token as long as the session lives. A
//! token without a session (offline, `client_credentials`) lives for its TTL and no longer.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use session_store::{Expiry, IndexTag, Record, SessionKey, SharedStore};

use super::{GRANT_TAG, OFFLINE_USER_TAG};
use crate::crypto::sha256_hex;
use crate::sessions::TOKEN_SID_TAG;

/// What an access token grants.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessGrant {
    pub client_id: String,
    /// The user; `None` for a token of the client itself (`client_credentials`).
    pub user_id: Option<String>,
    /// The global session the token ends with; `None` for offline and client tokens.
    pub sid: Option<String>,
    pub scope: String,
    /// The grant it descends from (see [`grant_id`]), revoked with its refresh token family.
    pub grant_id: Option<String>,
}

/// A live access token: its grant, when it was issued and when it lapses unless used again
/// (seconds since the epoch).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LiveToken {
    pub grant: AccessGrant,
    pub issued_at: u64,
    pub expires_at: u64,
}

/// Issues, looks up and revokes opaque access tokens.
#[derive(Clone, Debug)]
pub struct AccessTokens {
    store: Arc<dyn SharedStore>,
    ttl: Duration,
    max_lifetime: Duration,
}

fn tag(name: &str, value: &str) -> anyhow::Result<IndexTag> {
    IndexTag::new(name, value).context("invalid token tag")
}

/// The id of the grant that `code` started: everything issued for the code, its refresh token
/// family included, carries it.
pub fn grant_id(code: &str) -> String {
    sha256_hex(code)
}

/// The tag of everything issued for the grant `family`.
pub(crate) fn grant_tag(family: &str) -> anyhow::Result<IndexTag> {
    tag(GRANT_TAG, family)
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

    /// A new access token for `grant`.
    ///
    /// # Errors
    /// When the store fails.
    pub async fn issue(&self, grant: &AccessGrant) -> anyhow::Result<SessionKey> {
        let absolute = match &grant.sid {
            Some(_) => self.max_lifetime.max(self.ttl),
            None => self.ttl,
        };
        let mut record = Record::new(Expiry::new(self.ttl, absolute));
        if let Some(sid) = &grant.sid {
            record.tag(tag(TOKEN_SID_TAG, sid)?);
            record.insert("sid", sid)?;
        } else if let Some(user_id) = &grant.user_id {
            record.tag(tag(OFFLINE_USER_TAG, user_id)?);
        }
        if let Some(grant_id) = &grant.grant_id {
            record.tag(grant_tag(grant_id)?);
            record.insert("grant_id", grant_id)?;
        }
        if let Some(user_id) = &grant.user_id {
            record.insert("user_id", user_id)?;
        }
        record.insert("client_id", &grant.client_id)?;
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
        let (Some(client_id), Some(scope)) = (record.get("client_id"), record.get("scope")) else {
            return Ok(None);
        };
        Ok(Some(LiveToken {
            grant: AccessGrant {
                client_id,
                user_id: record.get("user_id"),
                sid: record.get("sid"),
                scope,
                grant_id: record.get("grant_id"),
            },
            issued_at: record.created_at().as_secs(),
            expires_at: record.expires_at().as_secs(),
        }))
    }

    /// Revokes the token `token` if it is live and was issued to `client_id`. `Ok(false)` when
    /// it was issued to another client (and stays live); revoking an unknown token succeeds.
    ///
    /// # Errors
    /// When the store fails.
    pub async fn revoke(&self, token: &str, client_id: &str) -> anyhow::Result<bool> {
        let Some(live) = self.lookup(token).await? else {
            return Ok(true);
        };
        if live.grant.client_id != client_id {
            return Ok(false);
        }
        if let Some(key) = SessionKey::parse(token) {
            self.store.delete(&key).await?;
        }
        Ok(true)
    }

    /// Revokes every token issued for `code`, its refresh token family included; returns how
    /// many records there were.
    ///
    /// # Errors
    /// When the store fails.
    pub async fn revoke_for_code(&self, code: &str) -> anyhow::Result<usize> {
        Ok(self
            .store
            .delete_by_tag(&grant_tag(&grant_id(code))?)
            .await?)
    }
}
