//! The stylesheet and script of the pages, served from the center itself so the CSP can stay `'self'`.

use actix_web::HttpResponse;
use actix_web::http::header;

const STYLESHEET: &str = include_str!("../../../templates/sso/sso.css");
const PASSKEY_SCRIPT: &str = include_str!("../../../templates/sso/passkey.js");

/// `GET /assets/sso.css`
pub async fn stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(STYLESHEET)
}

/// `GET /assets/passkey.js`: the passkey ceremonies of the pages (see
/// [`crate::routes::passkeys`]).
pub async fn passkey_script() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(PASSKEY_SCRIPT)
}
