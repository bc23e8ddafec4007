//! Writes the SDK's own answers ([`Reply`]) as actix-web responses.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderName, HeaderValue};

use super::cookies;
use super::routes::add_cookie;
use crate::SsoClient;
use crate::web::cookies::SetCookie;
use crate::web::{Reply, pages};

/// `reply` as a response, its cookies written with `client`'s attributes.
pub(crate) fn respond(client: &SsoClient, mut reply: Reply) -> HttpResponse {
    let wanted = std::mem::take(&mut reply.cookies);
    let mut response = without_cookies(reply);
    for cookie in wanted {
        let cookie = match cookie {
            SetCookie::Session(key) => cookies::session(client, &key),
            SetCookie::Login(sealed) => cookies::login(client, sealed),
            SetCookie::SessionRemoval => cookies::session_removal(client),
            SetCookie::LoginRemoval => cookies::login_removal(client),
        };
        add_cookie(&mut response, &cookie);
    }
    response
}

/// `reply` as a response, leaving out its cookies.
pub(crate) fn without_cookies(reply: Reply) -> HttpResponse {
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = HttpResponse::build(status).body(reply.body);
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

/// `500`: something failed on our side; the details are in the log only.
pub(crate) fn internal_error(home_href: &str) -> HttpResponse {
    without_cookies(pages::internal_error(home_href))
}

/// `401` with a JSON body, for API requests without a session.
pub(crate) fn unauthenticated_json() -> HttpResponse {
    without_cookies(pages::unauthenticated_json())
}
