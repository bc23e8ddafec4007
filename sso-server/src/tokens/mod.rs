//! What `/token` hands out, and the rules every token lives by.
//!
//! - [`IdTokenClaims`]: the id_token, a signed JWT for the client itself.
//! - [`access`]: opaque access tokens, records in the shared store.
//! - [`jwt`]: access tokens as signed JWTs (RFC 9068), for clients that ask for that format.
//! - [`refresh`]: refresh tokens, rotated on every use, in families.
//!
//! # One lifetime rule
//! Nothing issued within a global session outlives it: access tokens and refresh tokens are
//! tagged with the session's `sid` and deleted when it ends, and every use checks that it is
//! still live. The exceptions are stated where they are made: refresh tokens granted
//! `offline_access` (they end on a password change, the user's disabling, or revocation) and
//! `client_credentials` tokens, which have no user and no session. A JWT access token cannot be
//! deleted: APIs that verify it themselves accept it until its `exp`, and only introspection
//! can tell that it was revoked or that its session ended.

pub mod access;
pub mod jwt;
pub mod refresh;

use serde::{Deserialize, Serialize};

pub use access::{AccessGrant, AccessTokens, LiveToken};
pub use refresh::{RefreshGrant, RefreshTokens};

/// Tag of the records issued for one authorization code, which is one refresh token family:
/// a replayed code, a reused refresh token or a revocation deletes them together.
pub(crate) const GRANT_TAG: &str = "grant";
/// Tag of offline refresh token families and their access tokens, by user, so that a password
/// change or the user's disabling ends them.
pub const OFFLINE_USER_TAG: &str = "offline_user";

/// Claims of an id_token.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct IdTokenClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub exp: u64,
    pub iat: u64,
    pub auth_time: u64,
    /// How the user authenticated (RFC 8176 values).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub amr: Vec<String>,
    /// The authentication context class the methods in `amr` satisfy
    /// (see [`crate::factors::ACR_VALUES`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acr: Option<String>,
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

/// Whether the space-separated `scope` holds `name`.
pub fn has_scope(scope: &str, name: &str) -> bool {
    scope.split(' ').any(|s| s == name)
}

/// Whether a space-separated `scope` grants the `groups` claim.
pub fn grants_groups(scope: &str) -> bool {
    has_scope(scope, "groups")
}

/// The scope to grant when a client asks for `requested` (space-separated, `None`: everything)
/// out of `allowed`: `None` when it asks for something outside it. Order and repeats of the
/// request do not matter; the answer follows `allowed`'s order.
pub fn narrow_scope<'a>(
    requested: Option<&str>,
    allowed: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    let allowed: Vec<&str> = allowed.into_iter().filter(|s| !s.is_empty()).collect();
    let Some(requested) = requested else {
        return Some(allowed.join(" "));
    };
    let requested: Vec<&str> = requested.split(' ').filter(|s| !s.is_empty()).collect();
    if requested.iter().any(|s| !allowed.contains(s)) {
        return None;
    }
    Some(
        allowed
            .into_iter()
            .filter(|s| requested.contains(s))
            .collect::<Vec<_>>()
            .join(" "),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_only_narrow() {
        let granted = ["openid", "profile", "email"];
        assert_eq!(
            narrow_scope(None, granted).as_deref(),
            Some("openid profile email")
        );
        assert_eq!(
            narrow_scope(Some("email  openid email"), granted).as_deref(),
            Some("openid email")
        );
        assert_eq!(narrow_scope(Some("openid groups"), granted), None);
        assert_eq!(narrow_scope(Some(""), granted).as_deref(), Some(""));
    }
}
