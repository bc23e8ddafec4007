//! axum glue: the [`SsoLayer`] that protects an app and answers the SDK's routes, and the
//! [`Principal`](crate::Principal) extractor (`Principal` and `Option<Principal>`).
//!
//! It shares everything but the reading and writing of HTTP with the actix-web glue: the
//! same routes, pages, cookies and answers.

mod extractor;
mod layer;
mod reply;
#[cfg(test)]
mod tests;

pub use crate::web::Unauthenticated;
pub use crate::web::future::SsoFuture;
pub use layer::{SsoLayer, SsoService};
