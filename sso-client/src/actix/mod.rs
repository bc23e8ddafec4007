//! actix-web glue: the [`SsoMiddleware`] that protects an app and answers the SDK's routes,
//! and the [`Principal`](crate::Principal) extractor.

pub(crate) mod cookies;
mod extractor;
mod middleware;
mod pages;
mod routes;

pub use crate::web::future::SsoFuture;
pub use extractor::Unauthenticated;
pub use middleware::{SsoMiddleware, SsoService};

#[cfg(test)]
mod recheck_tests;
#[cfg(test)]
mod tests;
