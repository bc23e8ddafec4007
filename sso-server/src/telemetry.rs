//! Structured logs through `tracing`, filtered by `RUST_LOG` (default
//! [`sso_common::http::DEFAULT_LOG_FILTER`]).

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber; log lines go to standard error.
pub fn init() {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(sso_common::http::DEFAULT_LOG_FILTER));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}
