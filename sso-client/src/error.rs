/// What can go wrong in the SDK. The actix glue maps each variant to one response; the
/// messages are safe to log but only the fixed pages reach the browser.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The center could not be reached, timed out, or answered with a server error.
    #[error("the sign-in service is unavailable")]
    CenterUnavailable(#[source] Option<Box<dyn std::error::Error + Send + Sync>>),
    /// Recent calls to the center failed, so this one was not even tried.
    #[error("the sign-in service is unavailable (circuit open after repeated failures)")]
    CircuitOpen,
    /// The center answered with something a conforming provider would not send.
    #[error("the sign-in service answered unexpectedly: {0}")]
    CenterProtocol(String),
    /// The callback's state does not match a sign-in this browser started (or it expired).
    #[error("the sign-in attempt is missing, expired or does not match")]
    InvalidState,
    /// The center refused the sign-in (an OAuth error on the callback or the token endpoint).
    #[error("the sign-in service refused the sign-in: {0}")]
    Refused(String),
    /// The id token failed verification.
    #[error("the id token is not valid: {0}")]
    InvalidIdToken(String),
    /// An access token presented to the app failed verification (RFC 9068).
    #[error("the access token is not valid: {0}")]
    InvalidAccessToken(String),
    /// The logout token failed verification or was already used.
    #[error("the logout token is not valid: {0}")]
    InvalidLogoutToken(String),
    /// The local-session store failed.
    #[error("the local session store failed: {0}")]
    Store(#[from] session_store::Error),
    /// The configuration cannot work.
    #[error("invalid SSO client configuration: {0}")]
    Config(String),
}

impl Error {
    /// Whether the error means "the center is down" (new sign-ins cannot proceed now).
    pub fn is_center_unavailable(&self) -> bool {
        matches!(self, Self::CenterUnavailable(_) | Self::CircuitOpen)
    }
}
