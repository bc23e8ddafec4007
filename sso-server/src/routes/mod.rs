//! The HTTP endpoints, one module per area and one file per verb.

pub mod account;
pub mod admin;
pub mod assets;
pub mod authorize;
pub mod client_auth;
pub mod console;
pub mod discovery;
pub mod factors;
pub mod forward_auth;
pub mod health;
pub mod introspect;
pub mod login;
pub mod logout;
pub mod passkeys;
pub mod revoke;
pub mod token;
pub mod userinfo;

use actix_web::error::{PayloadError, UrlencodedError};
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};

use crate::web as webutil;

/// Registers every route. A known path asked with another method gets 405 with `Allow`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.app_data(web::QueryConfig::default().error_handler(|error, req| {
        let response = bad_request(req);
        actix_web::error::InternalError::from_response(error, response).into()
    }))
    .app_data(
        web::FormConfig::default()
            .limit(16 * 1024)
            .error_handler(|error, req| {
                let response = unreadable_form(&error, req);
                actix_web::error::InternalError::from_response(error, response).into()
            }),
    )
    .service(resource("/authorize", GET).route(web::get().to(authorize::get::authorize)))
    .service(
        resource("/login", GET_POST)
            .route(web::get().to(login::get::login_form))
            .route(web::post().to(login::post::login)),
    )
    .service(resource("/login/done", GET).route(web::get().to(login::get::done)))
    .service(
        resource("/login/factor", GET_POST)
            .route(web::get().to(login::factor::factor_form))
            .route(web::post().to(login::factor::submit_factor)),
    )
    .service(resource("/token", POST).route(web::post().to(token::post::token)))
    .service(resource("/introspect", POST).route(web::post().to(introspect::post::introspect)))
    .service(resource("/revoke", POST).route(web::post().to(revoke::post::revoke)))
    .service(
        resource("/userinfo", GET_POST)
            .route(web::get().to(userinfo::get::userinfo))
            .route(web::post().to(userinfo::get::userinfo)),
    )
    .service(
        resource("/.well-known/openid-configuration", GET)
            .route(web::get().to(discovery::get::openid_configuration)),
    )
    .service(resource("/jwks.json", GET).route(web::get().to(discovery::get::jwks)))
    .service(
        resource("/logout", GET_POST)
            .route(web::get().to(logout::get::logout))
            .route(web::post().to(logout::post::logout)),
    )
    .service(resource("/healthz", GET).route(web::get().to(health::get::healthz)))
    .service(resource("/readyz", GET).route(web::get().to(health::get::readyz)))
    .service(resource("/assets/sso.css", GET).route(web::get().to(assets::stylesheet)))
    .service(resource("/assets/passkey.js", GET).route(web::get().to(assets::passkey_script)))
    .configure(account::configure)
    .configure(console::configure)
    .configure(factors::configure)
    .configure(passkeys::configure)
    .service(admin::scope())
    .service(forward_auth::scope())
    .default_service(web::to(not_found));
}

/// `Allow` of a path with a GET route (actix answers HEAD with it).
pub(crate) const GET: &str = "GET, HEAD";
/// `Allow` of a path with GET and POST routes.
pub(crate) const GET_POST: &str = "GET, HEAD, POST";
/// `Allow` of a path with a POST route.
pub(crate) const POST: &str = "POST";

/// A path whose unsupported methods get 405, with `allow` (the methods of its routes) in
/// `Allow`: JSON for the OAuth endpoints and the admin API, a page for browsers.
pub(crate) fn resource(path: &str, allow: &'static str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(move |req: HttpRequest| async move {
        method_not_allowed(&req, allow)
    }))
}

fn method_not_allowed(req: &HttpRequest, allow: &'static str) -> HttpResponse {
    let status = StatusCode::METHOD_NOT_ALLOWED;
    let mut response = if speaks_oauth(req) {
        crate::error::oauth_error(status, "invalid_request", "method not allowed", None)
    } else if req.path().starts_with("/admin/") {
        HttpResponse::build(status).json(serde_json::json!({ "error": "method not allowed" }))
    } else {
        let (_, t) = webutil::language(req);
        webutil::message(req, status, t.error_title, t.method_not_allowed)
    };
    response
        .headers_mut()
        .insert(header::ALLOW, header::HeaderValue::from_static(allow));
    response
}

/// A form body that cannot be read: too large (413), not received in time (408), or malformed
/// (400).
fn unreadable_form(error: &UrlencodedError, req: &HttpRequest) -> HttpResponse {
    let status = match error {
        UrlencodedError::Overflow { .. } | UrlencodedError::Payload(PayloadError::Overflow) => {
            StatusCode::PAYLOAD_TOO_LARGE
        }
        UrlencodedError::Payload(payload) if sso_common::http::is_timeout(payload) => {
            StatusCode::REQUEST_TIMEOUT
        }
        _ => return bad_request(req),
    };
    tracing::info!(path = req.path(), %status, "request body refused");
    if speaks_oauth(req) {
        let description = status.canonical_reason().unwrap_or("bad request");
        return crate::error::oauth_error(status, "invalid_request", description, None);
    }
    let (_, t) = webutil::language(req);
    let text = if status == StatusCode::PAYLOAD_TOO_LARGE {
        t.request_too_large
    } else {
        t.request_timeout
    };
    webutil::message(req, status, t.error_title, text)
}

/// Whether the path is an OAuth endpoint, whose errors are JSON (RFC 6749 §5.2).
fn speaks_oauth(req: &HttpRequest) -> bool {
    matches!(
        req.path(),
        "/token" | "/introspect" | "/revoke" | "/userinfo"
    )
}

/// A request that cannot be parsed: JSON for the OAuth endpoints, a page for browsers.
fn bad_request(req: &HttpRequest) -> HttpResponse {
    if speaks_oauth(req) {
        return crate::error::oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "the request is malformed",
            None,
        );
    }
    let (_, t) = webutil::language(req);
    webutil::message(req, StatusCode::BAD_REQUEST, t.error_title, t.bad_request)
}

async fn not_found(req: HttpRequest) -> HttpResponse {
    let (_, t) = webutil::language(&req);
    webutil::message(&req, StatusCode::NOT_FOUND, t.error_title, t.not_found)
}

#[cfg(test)]
mod properties {
    //! The requests browsers send to the center parse to a value or a clean error for any input.

    use actix_web::web::Query;
    use proptest::prelude::*;

    use super::authorize::AuthorizeQuery;
    use super::login::post::LoginForm;

    /// Query strings: arbitrary text, and well-formed pairs with arbitrary values.
    fn query_text() -> impl Strategy<Value = String> {
        prop_oneof![
            "\\PC{0,300}",
            proptest::collection::vec(("[a-z_]{1,22}", "\\PC{0,40}"), 0..12).prop_map(|pairs| {
                let mut query = url::form_urlencoded::Serializer::new(String::new());
                for (name, value) in &pairs {
                    query.append_pair(name, value);
                }
                query.finish()
            }),
        ]
    }

    proptest! {
        #[test]
        fn any_authorize_query_parses_or_is_refused_and_resumes_as_plain_text(text in query_text()) {
            if let Ok(query) = Query::<AuthorizeQuery>::from_query(&text) {
                let resumed = query.return_query();
                prop_assert!(!resumed.contains('#') && !resumed.contains(' '));
                let again = Query::<AuthorizeQuery>::from_query(&resumed).unwrap();
                prop_assert_eq!(&again.client_id, &query.client_id);
                prop_assert_eq!(&again.redirect_uri, &query.redirect_uri);
                prop_assert_eq!(&again.state, &query.state);
            }
        }

        #[test]
        fn any_login_form_body_parses_or_is_refused(text in query_text()) {
            let _ = Query::<LoginForm>::from_query(&text);
        }
    }
}
