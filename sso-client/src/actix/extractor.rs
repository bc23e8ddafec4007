//! `Principal` as an actix-web extractor.

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::uri::PathAndQuery;
use actix_web::{FromRequest, HttpMessage as _, HttpRequest, HttpResponse, ResponseError};

pub use crate::web::Unauthenticated;
use crate::web::step_up::{fallback, require_second_factor};
use crate::{MultiFactor, Principal, StepUpRequired};

impl ResponseError for Unauthenticated {
    fn status_code(&self) -> StatusCode {
        StatusCode::UNAUTHORIZED
    }

    fn error_response(&self) -> HttpResponse {
        super::pages::unauthenticated_json()
    }
}

/// The signed-in user of the request, put there by [`super::SsoMiddleware`]. Take
/// `Option<Principal>` in handlers that also serve anonymous users.
impl FromRequest for Principal {
    type Error = Unauthenticated;
    type Future = Ready<Result<Self, Unauthenticated>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(
            req.extensions()
                .get::<Principal>()
                .cloned()
                .ok_or(Unauthenticated),
        )
    }
}

/// A route's answer to a request lacking its second factor; [`super::SsoMiddleware`] turns
/// the one for a page into a redirect to the sign-in route.
impl ResponseError for StepUpRequired {
    fn status_code(&self) -> StatusCode {
        if self.is_unauthenticated() {
            StatusCode::UNAUTHORIZED
        } else {
            StatusCode::FORBIDDEN
        }
    }

    fn error_response(&self) -> HttpResponse {
        super::pages::without_cookies(fallback(self))
    }
}

/// The signed-in user of the request if they gave a second factor; otherwise a
/// [`StepUpRequired`].
impl FromRequest for MultiFactor {
    type Error = StepUpRequired;
    type Future = Ready<Result<Self, StepUpRequired>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let accept = req.headers().get(header::ACCEPT).map(HeaderValue::as_bytes);
        ready(require_second_factor(
            req.extensions().get::<Principal>(),
            req.method().as_str(),
            accept,
            req.uri().path_and_query().map(PathAndQuery::as_str),
        ))
    }
}
