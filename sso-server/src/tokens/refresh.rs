//! Refresh tokens (OAuth 2.0 Security BCP, RFC 9700 §2.2.2 and §4.14): rotated on every use, in
//! families.
//!
//! A family is everything one code exchange started: one record in the shared store holding
//! the grant (client, user, scope, `sid`, `auth_time`) and the SHA-256 of the family's current
//! token, never the token itself. The token is `<record key>~<secret>`, the secret 256 bits
//! from the CSPRNG.
//!
//! - **Rotation**: every use replaces the current token; the old one is then a *rotated* token.
//! - **Reuse detection**: a rotated token presented again (stolen, or replayed) revokes the
//!   whole family: the record and every access token of the grant. It is logged at WARN.
//! - **One winner**: the family record names a one-time claim key; a use must take it
//!   ([`session_store::OneTimeStore::take`]), so of concurrent uses of one token, on any
//!   number of replicas sharing the store, exactly one rotates. The others fail: those that
//!   arrive while the winner rotates fail without revoking anything, but one that arrives
//!   after the rotation presents a rotated token and revokes the family. A client that may
//!   refresh from several places at once must therefore serialize its refreshes.
//! - **Lifetime**: a family of a global session is tagged with its `sid` and ends with it (and
//!   every use checks the session). An `offline_access` family outlives the session; it is
//!   tagged with its user instead, so a password change or the user's disabling ends it.
//!
//! # Limitations
//! A use that takes the claim and then fails to store the new token (the store fails in
//! between) leaves the family without a usable token; the client signs in again. The one-time
//! claim of a revoked family stays in the store until its expiry (at most the family's life).

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use session_store::{Expiry, IndexTag, OneTimeKey, Record, Session, SessionKey, SharedStore};
use subtle::ConstantTimeEq as _;

use super::OFFLINE_USER_TAG;
use super::access::grant_tag;
use crate::crypto::sha256_hex;
use crate::sessions::TOKEN_SID_TAG;

/// Between the family record's key and the secret; never part of either.
const SEPARATOR: char = '~';

/// What a refresh token family grants.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefreshGrant {
    /// The grant id (see [`super::access::grant_id`]): the family's id.
    pub family: String,
    pub client_id: String,
    pub user_id: String,
    /// The global session it was granted in (kept for id tokens, even when offline).
    pub sid: String,
    /// Everything granted; a refresh may ask for less, never more.
    pub scope: String,
    pub auth_time: u64,
    /// How the user authenticated at the original sign-in (RFC 8176).
    pub amr: Vec<String>,
    /// Granted `offline_access`: the family outlives the global session.
    pub offline: bool,
}

/// What a presented refresh token turned out to be.
#[derive(Debug)]
pub enum Presented {
    /// Not a token of ours, or its family has ended.
    Unknown,
    /// A rotated token: its family has just been revoked.
    Reused(RefreshGrant),
    /// The family's current token, ready to be rotated.
    Current(Current),
}

/// The current token of a family, checked but not yet rotated.
#[derive(Debug)]
pub struct Current {
    pub grant: RefreshGrant,
    session: Session,
    claim: OneTimeKey,
}

/// What revoking a refresh token did.
#[derive(Debug, PartialEq, Eq)]
pub enum Revocation {
    /// Not a token of ours, or its family had already ended.
    Unknown,
    /// The token was issued to another client; nothing was revoked.
    OtherClient,
    /// The family with this id (the grant id) is revoked.
    Revoked(String),
}

/// Issues, rotates and revokes refresh tokens.
#[derive(Clone, Debug)]
pub struct RefreshTokens {
    store: Arc<dyn SharedStore>,
    session_lifetime: Duration,
    offline_idle: Duration,
    offline_lifetime: Duration,
}

fn new_secret() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
}

fn grant_of(record: &Record) -> Option<RefreshGrant> {
    Some(RefreshGrant {
        family: record.get("family")?,
        client_id: record.get("client_id")?,
        user_id: record.get("user_id")?,
        sid: record.get("sid")?,
        scope: record.get("scope")?,
        auth_time: record.get("auth_time")?,
        // Families granted before the methods were kept: password sign-ins.
        amr: record
            .get("amr")
            .unwrap_or_else(|| vec![crate::factors::Amr::Password.as_str().to_owned()]),
        offline: record.get("offline")?,
    })
}

impl RefreshTokens {
    /// Families in `store`: those of a global session live at most `session_lifetime` (and end
    /// with their session); offline ones lapse after `offline_idle` without use and live at
    /// most `offline_lifetime`.
    pub fn new(
        store: Arc<dyn SharedStore>,
        session_lifetime: Duration,
        offline_idle: Duration,
        offline_lifetime: Duration,
    ) -> Self {
        Self {
            store,
            session_lifetime,
            offline_idle,
            offline_lifetime,
        }
    }

    /// Starts the family of `grant` and returns its first token.
    ///
    /// # Errors
    /// When the store fails.
    pub async fn issue(&self, grant: &RefreshGrant) -> anyhow::Result<String> {
        let expiry = if grant.offline {
            Expiry::new(
                self.offline_idle.min(self.offline_lifetime),
                self.offline_lifetime,
            )
        } else {
            Expiry::new(self.session_lifetime, self.session_lifetime)
        };
        let lifetime_tag = if grant.offline {
            IndexTag::new(OFFLINE_USER_TAG, &grant.user_id)
        } else {
            IndexTag::new(TOKEN_SID_TAG, &grant.sid)
        }
        .context("invalid refresh token tag")?;
        let secret = new_secret();
        let claim = self.new_claim(expiry.absolute()).await?;
        let mut record = Record::new(expiry)
            .with_tag(grant_tag(&grant.family)?)
            .with_tag(lifetime_tag);
        record.insert("family", &grant.family)?;
        record.insert("client_id", &grant.client_id)?;
        record.insert("user_id", &grant.user_id)?;
        record.insert("sid", &grant.sid)?;
        record.insert("scope", &grant.scope)?;
        record.insert("auth_time", grant.auth_time)?;
        record.insert("amr", &grant.amr)?;
        record.insert("offline", grant.offline)?;
        record.insert("current", sha256_hex(&secret))?;
        record.insert("claim", claim.as_str())?;
        let session = self.store.create(record).await?;
        Ok(format!("{}{SEPARATOR}{secret}", session.key().as_str()))
    }

    async fn new_claim(&self, ttl: Duration) -> anyhow::Result<OneTimeKey> {
        Ok(self
            .store
            .put_once(b"1".to_vec(), ttl.max(Duration::from_secs(1)))
            .await?)
    }

    /// The family record behind `token`, and the token's secret.
    async fn open<'t>(&self, token: &'t str) -> anyhow::Result<Option<(Session, &'t str)>> {
        let Some((key, secret)) = token.split_once(SEPARATOR) else {
            return Ok(None);
        };
        let Some(key) = SessionKey::parse(key) else {
            return Ok(None);
        };
        Ok(self
            .store
            .load(&key)
            .await?
            .map(|session| (session, secret)))
    }

    /// What `token` is. A rotated token revokes its family on the spot, which is logged as a
    /// security event.
    ///
    /// # Errors
    /// When the store fails.
    pub async fn present(&self, token: &str) -> anyhow::Result<Presented> {
        let Some((session, secret)) = self.open(token).await? else {
            return Ok(Presented::Unknown);
        };
        let record = session.record();
        let (Some(grant), Some(current), Some(claim)) = (
            grant_of(record),
            record.get::<String>("current"),
            record
                .get::<String>("claim")
                .as_deref()
                .and_then(OneTimeKey::parse),
        ) else {
            tracing::warn!("refresh token family record is unreadable; treating it as absent");
            return Ok(Presented::Unknown);
        };
        let matches: bool = sha256_hex(secret)
            .as_bytes()
            .ct_eq(current.as_bytes())
            .into();
        if !matches {
            let revoked = self.revoke_family(&grant.family).await?;
            tracing::warn!(
                security_event = "refresh_token_reuse",
                client = grant.client_id,
                user = grant.user_id,
                sid = grant.sid,
                revoked,
                "a rotated refresh token was presented again; revoked its whole family"
            );
            return Ok(Presented::Reused(grant));
        }
        Ok(Presented::Current(Current {
            grant,
            session,
            claim,
        }))
    }

    /// Rotates the current token: the new token, or `None` when another use of the same token
    /// won the race or the family ended meanwhile.
    ///
    /// # Errors
    /// When the store fails.
    pub async fn rotate(&self, current: Current) -> anyhow::Result<Option<String>> {
        let Current {
            grant,
            mut session,
            claim,
        } = current;
        if self.store.take(&claim).await?.is_none() {
            tracing::info!(
                client = grant.client_id,
                sid = grant.sid,
                "refresh token used concurrently; another use rotated it"
            );
            return Ok(None);
        }
        let remaining = session
            .record()
            .absolute_expiry()
            .saturating_since(session_store::Timestamp::now());
        let secret = new_secret();
        let claim = self.new_claim(remaining).await?;
        let record = session.record_mut();
        record.insert("current", sha256_hex(&secret))?;
        record.insert("claim", claim.as_str())?;
        if !self.store.update(&mut session).await? {
            return Ok(None);
        }
        Ok(Some(format!(
            "{}{SEPARATOR}{secret}",
            session.key().as_str()
        )))
    }

    /// Revokes the family of `token` if it was issued to `client_id`; a token of another
    /// client stays live.
    ///
    /// # Errors
    /// When the store fails.
    pub async fn revoke(&self, token: &str, client_id: &str) -> anyhow::Result<Revocation> {
        let Some((session, _)) = self.open(token).await? else {
            return Ok(Revocation::Unknown);
        };
        let Some(grant) = grant_of(session.record()) else {
            self.store.delete(session.key()).await?;
            return Ok(Revocation::Unknown);
        };
        if grant.client_id != client_id {
            return Ok(Revocation::OtherClient);
        }
        let revoked = self.revoke_family(&grant.family).await?;
        tracing::info!(
            client = grant.client_id,
            sid = grant.sid,
            revoked,
            "refresh token revoked with its family"
        );
        Ok(Revocation::Revoked(grant.family))
    }

    /// Deletes family `family` and every opaque access token of its grant; returns how many
    /// records there were.
    ///
    /// # Errors
    /// When the store fails.
    pub async fn revoke_family(&self, family: &str) -> anyhow::Result<usize> {
        Ok(self.store.delete_by_tag(&grant_tag(family)?).await?)
    }

    /// Whether a record of grant `family` (its refresh token family, or one of its opaque
    /// access tokens) is still live.
    ///
    /// # Errors
    /// When the store fails.
    pub async fn family_is_live(&self, family: &str) -> anyhow::Result<bool> {
        Ok(!self
            .store
            .list_by_tag(&grant_tag(family)?)
            .await?
            .is_empty())
    }

    /// Whether `token` has the form of a refresh token (and so is not an access token).
    pub fn looks_like(token: &str) -> bool {
        token.contains(SEPARATOR)
    }
}
