//! `Principal` as an axum extractor.

use std::convert::Infallible;

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::response::{IntoResponse, Response};
use http::request::Parts;

use super::reply::without_cookies;
use crate::Principal;
use crate::web::{Unauthenticated, pages};

impl IntoResponse for Unauthenticated {
    fn into_response(self) -> Response {
        without_cookies(pages::unauthenticated_json())
    }
}

/// The signed-in user of the request, put there by [`super::SsoLayer`]; anonymous requests
/// are answered with `401` and a JSON body.
impl<S: Send + Sync> FromRequestParts<S> for Principal {
    type Rejection = Unauthenticated;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Unauthenticated> {
        parts
            .extensions
            .get::<Principal>()
            .cloned()
            .ok_or(Unauthenticated)
    }
}

/// `Option<Principal>`: the signed-in user, or `None` for an anonymous visitor of a public
/// path.
impl<S: Send + Sync> OptionalFromRequestParts<S> for Principal {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Option<Self>, Infallible> {
        Ok(parts.extensions.get::<Principal>().cloned())
    }
}
