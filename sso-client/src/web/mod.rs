//! The HTTP side of the SDK that does not depend on a web framework: which requests are the
//! SDK's own, what each of its routes answers, its pages and its cookies. The actix-web and
//! axum glues only read requests into these functions and write their [`Reply`] out.

pub(crate) mod cookies;
pub(crate) mod future;
pub(crate) mod pages;
pub(crate) mod reply;
pub(crate) mod request;
pub(crate) mod routes;
pub(crate) mod step_up;
#[cfg(all(test, feature = "actix", feature = "axum"))]
mod step_up_tests;
#[cfg(test)]
pub(crate) mod test_support;

pub(crate) use reply::Reply;

/// The request has no signed-in user: answered with `401` and a JSON body.
#[derive(Debug, thiserror::Error)]
#[error("sign-in required")]
pub struct Unauthenticated;
