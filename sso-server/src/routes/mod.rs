//! The HTTP endpoints, one module per area and one file per verb.

pub mod admin;
pub mod assets;
pub mod authorize;
pub mod client_auth;
pub mod discovery;
pub mod forward_auth;
pub mod health;
pub mod introspect;
pub mod login;
pub mod logout;
pub mod token;
pub mod userinfo;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use crate::web as webutil;

/// Registers every route.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.app_data(web::QueryConfig::default().error_handler(|error, req| {
        let response = bad_request(req);
        actix_web::error::InternalError::from_response(error, response).into()
    }))
    .app_data(
        web::FormConfig::default()
            .limit(16 * 1024)
            .error_handler(|error, req| {
                let response = bad_request(req);
                actix_web::error::InternalError::from_response(error, response).into()
            }),
    )
    .route("/authorize", web::get().to(authorize::get::authorize))
    .route("/login", web::get().to(login::get::login_form))
    .route("/login", web::post().to(login::post::login))
    .route("/login/done", web::get().to(login::get::done))
    .route("/token", web::post().to(token::post::token))
    .route("/introspect", web::post().to(introspect::post::introspect))
    .route("/userinfo", web::get().to(userinfo::get::userinfo))
    .route("/userinfo", web::post().to(userinfo::get::userinfo))
    .route(
        "/.well-known/openid-configuration",
        web::get().to(discovery::get::openid_configuration),
    )
    .route("/jwks.json", web::get().to(discovery::get::jwks))
    .route("/logout", web::get().to(logout::get::logout))
    .route("/logout", web::post().to(logout::post::logout))
    .route("/healthz", web::get().to(health::get::healthz))
    .route("/readyz", web::get().to(health::get::readyz))
    .route("/assets/sso.css", web::get().to(assets::stylesheet))
    .service(admin::scope())
    .service(forward_auth::scope())
    .default_service(web::to(not_found));
}

/// A request that cannot be parsed: JSON for the OAuth endpoints, a page for browsers.
fn bad_request(req: &HttpRequest) -> HttpResponse {
    if matches!(req.path(), "/token" | "/introspect" | "/userinfo") {
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
