//! Authorization codes: what a code stands for, kept in the shared one-time store.
//!
//! The code itself is the store-generated 256-bit [`OneTimeKey`]; redeeming it is an atomic
//! take, so of any number of concurrent exchanges (on any replica) exactly one succeeds.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use serde::{Deserialize, Serialize};
use session_store::{OneTimeKey, SharedStore};

use crate::domain::CodeChallenge;

/// Everything a code is bound to.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CodeGrant {
    pub client_id: String,
    pub redirect_uri: String,
    pub code_challenge: Option<CodeChallenge>,
    pub nonce: Option<String>,
    pub scope: String,
    /// The global session the code was issued in.
    pub sid: String,
    pub user_id: String,
    pub auth_time: u64,
    /// How the user authenticated (RFC 8176); codes issued before this was kept carry none.
    #[serde(default)]
    pub amr: Vec<String>,
}

/// Issues and redeems codes.
#[derive(Clone, Debug)]
pub struct Codes {
    store: Arc<dyn SharedStore>,
    ttl: Duration,
}

impl Codes {
    /// Codes in `store`, valid for `ttl`.
    pub fn new(store: Arc<dyn SharedStore>, ttl: Duration) -> Self {
        Self { store, ttl }
    }

    /// A new single-use code for `grant`.
    ///
    /// # Errors
    /// When the store fails.
    pub async fn issue(&self, grant: &CodeGrant) -> anyhow::Result<OneTimeKey> {
        let bytes = serde_json::to_vec(grant).context("cannot encode code grant")?;
        Ok(self.store.put_once(bytes, self.ttl).await?)
    }

    /// Takes the grant behind `code`: `None` if it never existed, expired, or was already used.
    ///
    /// # Errors
    /// When the store fails (the code is then not consumed).
    pub async fn redeem(&self, code: &str) -> anyhow::Result<Option<CodeGrant>> {
        let Some(key) = OneTimeKey::parse(code) else {
            return Ok(None);
        };
        let Some(bytes) = self.store.take(&key).await? else {
            return Ok(None);
        };
        match serde_json::from_slice(&bytes) {
            Ok(grant) => Ok(Some(grant)),
            Err(error) => {
                tracing::warn!(%error, "stored code grant is unreadable; treating it as absent");
                Ok(None)
            }
        }
    }
}
