//! `Principal` as an actix-web extractor.

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpMessage as _, HttpRequest, HttpResponse, ResponseError};

use crate::Principal;
pub use crate::web::Unauthenticated;

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
