//! Validated values: once constructed, they hold their invariants.

mod client_id;
mod language;
mod pkce;
mod redirect_uri;
mod username;

pub use client_id::ClientId;
pub use language::Language;
pub use pkce::{CodeChallenge, CodeVerifier};
pub use redirect_uri::RedirectUri;
pub use username::Username;
