//! `Principal` as an axum extractor.

use std::convert::Infallible;

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::response::{IntoResponse, Response};
use http::header::{self, HeaderValue};
use http::request::Parts;
use http::uri::PathAndQuery;

use super::reply::without_cookies;
use crate::web::step_up::{fallback, needs_client, require_second_factor};
use crate::web::{Unauthenticated, pages};
use crate::{MultiFactor, Principal, StepUpRequired};

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

/// A route's answer to a request lacking its second factor. The one for a page carries the
/// refusal in its extensions, and [`super::SsoLayer`] turns it into a redirect to the sign-in
/// route.
impl IntoResponse for StepUpRequired {
    fn into_response(self) -> Response {
        let mut response = without_cookies(fallback(&self));
        if needs_client(&self) {
            response.extensions_mut().insert(self);
        }
        response
    }
}

/// The signed-in user of the request if they gave a second factor; otherwise a
/// [`StepUpRequired`].
impl<S: Send + Sync> FromRequestParts<S> for MultiFactor {
    type Rejection = StepUpRequired;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, StepUpRequired> {
        require_second_factor(
            parts.extensions.get::<Principal>(),
            parts.method.as_str(),
            parts.headers.get(header::ACCEPT).map(HeaderValue::as_bytes),
            parts.uri.path_and_query().map(PathAndQuery::as_str),
        )
    }
}
