//! Writes the SDK's own answers ([`Reply`]) as axum responses, and its cookies as
//! `Set-Cookie` headers.

use axum::body::Body;
use axum::response::Response;
use http::header::{self, HeaderName, HeaderValue};
use http::{HeaderMap, StatusCode};

use crate::SsoClient;
use crate::web::Reply;
use crate::web::cookies::SetCookie;

/// `reply` as a response, its cookies written with `client`'s attributes.
pub(super) fn respond(client: &SsoClient, mut reply: Reply) -> Response {
    let wanted = std::mem::take(&mut reply.cookies);
    let mut response = without_cookies(reply);
    for cookie in &wanted {
        add_cookie(client, response.headers_mut(), cookie);
    }
    response
}

/// `reply` as a response, leaving out its cookies.
pub(super) fn without_cookies(reply: Reply) -> Response {
    let mut response = Response::new(Body::from(reply.body));
    *response.status_mut() =
        StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    for (name, value) in reply.headers {
        match HeaderValue::from_str(&value) {
            Ok(value) => {
                headers.insert(HeaderName::from_static(name), value);
            }
            Err(error) => tracing::error!(%error, header = name, "could not set a header"),
        }
    }
    response
}

/// Adds the `Set-Cookie` header for `cookie`; a cookie that cannot be encoded is logged, not
/// sent.
pub(super) fn add_cookie(client: &SsoClient, headers: &mut HeaderMap, cookie: &SetCookie) {
    match HeaderValue::from_str(&cookie.header_value(client)) {
        Ok(value) => {
            headers.append(header::SET_COOKIE, value);
        }
        Err(error) => {
            tracing::error!(%error, cookie = cookie.name(client), "could not set a cookie");
        }
    }
}
