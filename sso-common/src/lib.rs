//! Pieces the SSO center, the SDK and the demo app share.
//!
//! - [`config`]: one typed configuration read from a TOML file plus `PREFIX_`-prefixed
//!   environment variables, with `_file` variants for secrets and unknown keys rejected.
//! - [`http`]: the limits every HTTP server applies (request timeout, connection cap).
//! - [`metrics`]: the process's Prometheus recorder, its endpoint on a listener of its own
//!   and a store decorator timing every operation.
//! - [`Secret`]: a value that is used but never shown.
//! - [`LocalhostResolver`]: name resolution that sends `localhost` and `*.localhost` to the
//!   loopback address, for HTTP clients that call other parts of an embedded setup.
//! - [`html`] (feature `testing`): reading server-rendered forms in tests and benchmarks.
//! - `nginx` (feature `testing`): a throwaway nginx with the forward-auth snippets, and app3.
//! - `scrape` (feature `testing`): a metrics endpoint scraped and parsed, for tests.
//! - `ports` (feature `testing`): free ports for servers that tests and benchmarks start.

pub mod config;
#[cfg(any(test, feature = "testing"))]
pub mod html;
pub mod http;
pub mod metrics;
#[cfg(feature = "testing")]
pub mod nginx;
/// Free ports for servers that tests and benchmarks start (feature `testing`).
#[cfg(feature = "testing")]
pub mod ports {
    pub use session_store::ports::free_port;
}
mod resolve;
#[cfg(feature = "testing")]
pub mod scrape;
mod secret;

pub use config::ConfigError;
pub use resolve::LocalhostResolver;
pub use secret::Secret;
