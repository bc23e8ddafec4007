//! Forward auth: apps that know nothing of OpenID Connect, behind nginx `auth_request`.
//!
//! nginx asks `GET /forward-auth/verify` before each request to a protected host; the center
//! answers from the browser's host-only forward-auth cookie:
//! - **200** with `Remote-User`, `Remote-Name`, `Remote-Email` and `Remote-Groups` when the
//!   cookie names a live forward-auth session for that host whose user the host allows;
//! - **401** with a `Location` (the sign-in on that host, `/_sso/start?rd=…`) when it does not;
//! - **403** when the user is signed in but not allowed, and for every request the center
//!   will not answer: a peer that is not a trusted proxy, a host that is not protected, a
//!   malformed `X-Forwarded-Host`. (nginx turns any other status into a 500.)
//!
//! Sign-in is the center's own: `/_sso/start` on the protected host (proxied to
//! `/forward-auth/start`) sends the browser to `/authorize` as the public client
//! `forward-auth.<entry>`, with PKCE whose verifier, with the state and the return path,
//! stays in a short-lived host-only cookie; `/_sso/callback` takes the code, checks state and
//! verifier (a code or a state from another browser is refused), registers the entry in the
//! global session and sets the forward-auth cookie (`HttpOnly; Secure; SameSite=Lax`, no
//! `Domain`). `/_sso/sign-out` goes to the center's `/logout`, which ends the global session
//! and with it every app's.
//!
//! - [`request`]: the trusted `X-Forwarded-*` headers and the return path.
//! - [`hosts`]: protected host entries (configuration and database) and their rules.
//! - [`sessions`]: the forward-auth sessions in the store.

pub mod hosts;
pub mod request;
pub mod sessions;

use std::sync::Arc;

use session_store::SharedStore;
use sqlx::AnyPool;

use crate::config::ForwardAuthSettings;

/// The forward-auth session cookie on a protected host.
pub const SESSION_COOKIE: &str = "sso_fa_session";

/// The cookie carrying state, PKCE verifier and return path from start to callback.
pub const FLOW_COOKIE: &str = "sso_fa_flow";

/// The path prefix nginx proxies to the center on every protected host.
pub const PROXIED_PREFIX: &str = "/_sso";

/// Protected hosts and their sessions.
#[derive(Clone, Debug)]
pub struct ForwardAuth {
    pub hosts: hosts::HostRegistry,
    pub sessions: sessions::ForwardSessions,
}

impl ForwardAuth {
    /// The configured entries and those in `pool`; sessions in `store`.
    ///
    /// # Errors
    /// When a configured entry is malformed or the database fails.
    pub async fn new(
        settings: &[ForwardAuthSettings],
        pool: AnyPool,
        store: Arc<dyn SharedStore>,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            hosts: hosts::HostRegistry::load(pool, hosts::from_settings(settings)?).await?,
            sessions: sessions::ForwardSessions::new(store),
        })
    }
}
