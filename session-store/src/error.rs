use std::time::Duration;

/// What can go wrong when talking to a store.
///
/// Data that is merely unreadable (corrupt, tampered with, written by an unknown format version)
/// is not an error: stores report it as absent. These variants are failures of the store itself
/// or of the caller's request.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The backend could not be reached or answered with an error.
    #[error("session store backend is unavailable: {0}")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The backend did not answer within the configured timeout.
    #[error("session store backend did not answer within {0:?}")]
    Timeout(Duration),
    /// A cookie-sealed session would not fit in a browser cookie.
    #[error("sealed session cookie is {size} bytes; browsers keep at most {limit}")]
    TooLarge {
        /// Length of `name=value` in bytes.
        size: usize,
        /// The limit that was exceeded.
        limit: usize,
    },
    /// The record could not be serialized.
    #[error("session record could not be encoded")]
    Encode(#[source] serde_json::Error),
    /// The store was configured with values it cannot work with.
    #[error("invalid session store configuration: {0}")]
    Config(String),
}

/// Result type of store operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;
