//! `/token`: the code exchange, refresh tokens and client credentials (one module per grant).

mod client_credentials;
mod code;
pub mod post;
mod refresh;
