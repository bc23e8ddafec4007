//! Access tokens as signed JWTs (RFC 9068), for clients whose `access_token_format` is `jwt`:
//! an API checks them with the JWKS, without asking the center.
//!
//! Claims: `iss`, `sub` (the user, or the client itself for `client_credentials`), `aud` (the
//! client: its own API is the audience), `client_id`, `exp`, `iat`, `jti`, `scope`, and `sid`
//! for a token of a global session. A token descending from an authorization code also carries
//! `grant_id` (private claim), so that revoking the grant's refresh token family reaches it at
//! introspection. Header `typ: at+jwt`.
//!
//! # Limitations
//! A JWT cannot be deleted: an API that verifies it itself accepts it until `exp` (the access
//! token TTL), whatever happened since. Only `/introspect` and `/userinfo` see revocations,
//! ended sessions and disabled users. Revocation marks expire with the tokens they concern.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use session_store::SharedStore;

use super::{AccessGrant, LiveToken};
use crate::crypto::random_id;
use crate::keys::Keys;

/// The `typ` header of a JWT access token.
pub const TYP: &str = "at+jwt";

/// Claims of a JWT access token.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct JwtAccessClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub client_id: String,
    pub exp: u64,
    pub iat: u64,
    pub jti: String,
    pub scope: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant_id: Option<String>,
}

impl JwtAccessClaims {
    /// The claims of a token for `grant`, issued now by `issuer`, valid for `ttl`.
    pub fn new(issuer: &str, grant: &AccessGrant, ttl: Duration) -> Self {
        let now = jsonwebtoken::get_current_timestamp();
        Self {
            iss: issuer.to_owned(),
            sub: grant
                .user_id
                .clone()
                .unwrap_or_else(|| grant.client_id.clone()),
            aud: grant.client_id.clone(),
            client_id: grant.client_id.clone(),
            exp: now + ttl.as_secs(),
            iat: now,
            jti: random_id(),
            scope: grant.scope.clone(),
            sid: grant.sid.clone(),
            grant_id: grant.grant_id.clone(),
        }
    }

    /// What the token grants. A token with neither `sid` nor `grant_id` is a client's own.
    pub fn live(&self) -> LiveToken {
        let of_user = self.sid.is_some() || self.grant_id.is_some();
        LiveToken {
            grant: AccessGrant {
                client_id: self.client_id.clone(),
                user_id: of_user.then(|| self.sub.clone()),
                sid: self.sid.clone(),
                scope: self.scope.clone(),
                grant_id: self.grant_id.clone(),
            },
            issued_at: self.iat,
            expires_at: self.exp,
        }
    }
}

/// Whether `token` has the form of a JWT (three base64url parts, a JSON header).
pub fn looks_like(token: &str) -> bool {
    token.starts_with("eyJ") && token.split('.').count() == 3
}

/// The claims of `token` when it is a JWT access token signed by one of our keys, issued by
/// `issuer` and not expired; `None` for anything else.
pub fn verify(keys: &Keys, issuer: &str, token: &str) -> Option<JwtAccessClaims> {
    let header = jsonwebtoken::decode_header(token).ok()?;
    let typ = header.typ?.to_ascii_lowercase();
    if typ != TYP && typ != "application/at+jwt" {
        return None;
    }
    keys.verify(token, issuer, true).ok()
}

/// Revocation marks of JWT access tokens, in the shared store's counters.
#[derive(Clone, Debug)]
pub struct Revocations {
    store: Arc<dyn SharedStore>,
    /// The longest life of a JWT access token: a grant's mark lasts that long.
    ttl: Duration,
}

fn jti_mark(jti: &str) -> String {
    format!("revoked-jti:{jti}")
}

fn grant_mark(grant_id: &str) -> String {
    format!("revoked-grant:{grant_id}")
}

impl Revocations {
    /// Marks in `store`; JWT access tokens live at most `ttl`.
    pub fn new(store: Arc<dyn SharedStore>, ttl: Duration) -> Self {
        Self { store, ttl }
    }

    /// Marks the token `claims` revoked until it expires.
    ///
    /// # Errors
    /// When the store fails.
    pub async fn revoke_token(&self, claims: &JwtAccessClaims) -> anyhow::Result<()> {
        let left = claims
            .exp
            .saturating_sub(jsonwebtoken::get_current_timestamp());
        self.store
            .increment(&jti_mark(&claims.jti), Duration::from_secs(left.max(1)))
            .await?;
        Ok(())
    }

    /// Marks every token of grant `grant_id` revoked, for as long as any can live.
    ///
    /// # Errors
    /// When the store fails.
    pub async fn revoke_grant(&self, grant_id: &str) -> anyhow::Result<()> {
        self.store
            .increment(&grant_mark(grant_id), self.ttl.max(Duration::from_secs(1)))
            .await?;
        Ok(())
    }

    /// Whether the token `claims` or its grant was revoked.
    ///
    /// # Errors
    /// When the store fails.
    pub async fn is_revoked(&self, claims: &JwtAccessClaims) -> anyhow::Result<bool> {
        if self.store.count(&jti_mark(&claims.jti)).await? > 0 {
            return Ok(true);
        }
        match &claims.grant_id {
            Some(grant_id) => Ok(self.store.count(&grant_mark(grant_id)).await? > 0),
            None => Ok(false),
        }
    }
}
