//! The logout token: a JWT telling a client that session `sid` of user `sub` has ended.

use jsonwebtoken::Algorithm;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::crypto::random_id;
use crate::keys::Keys;

/// The `events` member that marks a back-channel logout token.
pub const BACKCHANNEL_LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// How long a logout token is valid; a fresh one is signed for every attempt.
const LIFETIME_SECS: u64 = 120;

/// Claims of a logout token. It never carries a `nonce`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LogoutClaims {
    pub iss: String,
    pub aud: String,
    pub iat: u64,
    pub exp: u64,
    pub jti: String,
    pub sub: String,
    pub sid: String,
    pub events: Map<String, Value>,
}

impl LogoutClaims {
    /// Claims for a logout of `sid` sent to `client_id`, issued now.
    pub fn new(issuer: &str, client_id: &str, sub: &str, sid: &str) -> Self {
        let iat = jsonwebtoken::get_current_timestamp();
        let mut events = Map::new();
        events.insert(
            BACKCHANNEL_LOGOUT_EVENT.to_owned(),
            Value::Object(Map::new()),
        );
        Self {
            iss: issuer.to_owned(),
            aud: client_id.to_owned(),
            iat,
            exp: iat + LIFETIME_SECS,
            jti: random_id(),
            sub: sub.to_owned(),
            sid: sid.to_owned(),
            events,
        }
    }

    /// The signed token (`typ: logout+jwt`).
    ///
    /// # Errors
    /// When signing fails.
    pub fn sign(&self, keys: &Keys, alg: Algorithm) -> anyhow::Result<String> {
        keys.sign(alg, "logout+jwt", self)
    }
}
