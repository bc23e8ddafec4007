//! Passkeys at the center: `/account/passkeys` (list, add, remove) and the two ways to use one
//! at sign-in, `/login/passkey` (no password, no username) and `/login/passkey/second` (the
//! second step). See [`crate::factors::passkeys`].
//!
//! A ceremony takes two requests: a `POST .../options` answered with JSON (the options for
//! `navigator.credentials` and the ceremony's key), then a form `POST` with the browser's
//! answer. Both carry the CSRF token; the script is `/assets/passkey.js`.

pub mod account;
pub mod login;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use crate::audit::{Entry, Event};
use crate::csrf::Binding;
use crate::factors::passkeys::{Refusal, Started};
use crate::i18n::{PasskeyTexts, Texts};
use crate::routes::{GET_POST, POST, resource};
use crate::state::AppState;
use crate::users::User;
use crate::web as webutil;

/// Registers the routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource("/account/passkeys", GET_POST)
            .route(web::get().to(account::show))
            .route(web::post().to(account::add)),
    )
    .service(resource("/account/passkeys/options", POST).route(web::post().to(account::options)))
    .service(resource("/account/passkeys/remove", POST).route(web::post().to(account::remove)))
    .service(resource("/login/passkey", POST).route(web::post().to(login::sign_in)))
    .service(resource("/login/passkey/options", POST).route(web::post().to(login::sign_in_options)))
    .service(resource("/login/passkey/second", POST).route(web::post().to(login::second)))
    .service(
        resource("/login/passkey/second/options", POST)
            .route(web::post().to(login::second_options)),
    );
}

/// The body of a `POST .../options`.
#[derive(Debug, Deserialize)]
pub struct OptionsForm {
    csrf_token: Option<String>,
}

/// A form carrying the browser's answer to a ceremony.
#[derive(Deserialize)]
pub struct AnswerForm {
    csrf_token: Option<String>,
    #[serde(default)]
    ceremony: String,
    #[serde(default)]
    credential: String,
    #[serde(default)]
    return_to: String,
}

impl std::fmt::Debug for AnswerForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AnswerForm").finish_non_exhaustive()
    }
}

/// What the user reads for a refusal, and its status.
fn refusal(p: &'static PasskeyTexts, refusal: Refusal) -> (StatusCode, &'static str) {
    match refusal {
        Refusal::Expired => (StatusCode::BAD_REQUEST, p.expired),
        Refusal::Malformed => (StatusCode::BAD_REQUEST, p.failed),
        Refusal::Rejected => (StatusCode::UNAUTHORIZED, p.rejected),
        Refusal::Unknown => (StatusCode::UNAUTHORIZED, p.unknown),
        Refusal::Duplicate => (StatusCode::CONFLICT, p.duplicate),
        Refusal::BadName => (StatusCode::BAD_REQUEST, p.bad_name),
        Refusal::Unavailable => (StatusCode::NOT_FOUND, p.unavailable),
    }
}

/// A refusal as a page.
fn refused_page(req: &HttpRequest, refused: Refusal) -> HttpResponse {
    let (_, t) = webutil::language(req);
    let (status, text) = refusal(&t.passkeys, refused);
    webutil::message(req, status, t.passkeys.title, text)
}

/// A JSON error for the script, which shows `error` as it is.
fn json_error(status: StatusCode, error: &str) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .json(serde_json::json!({ "error": error }))
}

/// The answer of a `POST .../options`: a started ceremony, or why not.
fn options_answer(req: &HttpRequest, started: Result<Started, Refusal>) -> HttpResponse {
    match started {
        Ok(Started {
            ceremony,
            mut options,
        }) => {
            if let Some(object) = options.as_object_mut() {
                object.insert("ceremony".to_owned(), ceremony.into());
            }
            HttpResponse::Ok()
                .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
                .json(options)
        }
        Err(refused) => {
            let (_, t) = webutil::language(req);
            let (status, text) = refusal(&t.passkeys, refused);
            json_error(status, text)
        }
    }
}

/// Charges a ceremony about to start to its address's sign-in budget (a ceremony is stored
/// until it is answered or expires, so no address may start them without bound, signed in or
/// not): `Some(429)` with `Retry-After` and the text `message` picks when the budget is spent.
///
/// # Errors
/// When the store fails.
async fn spend_address_budget(
    req: &HttpRequest,
    state: &AppState,
    message: fn(&'static Texts) -> &'static str,
) -> anyhow::Result<Option<HttpResponse>> {
    let ip = webutil::client_ip(req, &state.settings.login.trusted_proxies);
    let Err(limited) = state.throttle.admit(ip, None, None).await? else {
        return Ok(None);
    };
    tracing::warn!(%ip, path = req.path(), "passkey ceremony limited");
    let (_, t) = webutil::language(req);
    let mut response = json_error(StatusCode::TOO_MANY_REQUESTS, message(t));
    response.headers_mut().insert(
        header::RETRY_AFTER,
        header::HeaderValue::from(limited.retry_after.as_secs()),
    );
    Ok(Some(response))
}

/// Whether the form's CSRF token is right; the JSON refusal otherwise.
fn csrf_json(req: &HttpRequest, state: &AppState, token: Option<&str>) -> Option<HttpResponse> {
    if state.csrf.verify(req, Binding::Browser, token) {
        return None;
    }
    let (_, t) = webutil::language(req);
    Some(json_error(StatusCode::FORBIDDEN, t.form_expired))
}

/// Whether the form's CSRF token is right; the page refusal otherwise.
fn csrf_page(req: &HttpRequest, state: &AppState, token: Option<&str>) -> Option<HttpResponse> {
    if state.csrf.verify(req, Binding::Browser, token) {
        return None;
    }
    let (_, t) = webutil::language(req);
    Some(webutil::message(
        req,
        StatusCode::FORBIDDEN,
        t.error_title,
        t.form_expired,
    ))
}

/// An audit entry about `username`, from the request's address and browser.
fn audit(req: &HttpRequest, state: &AppState, event: Event, username: Option<&str>) -> Entry {
    let entry = webutil::audit_entry(req, &state.settings.login.trusted_proxies, event);
    match username {
        Some(username) => entry.user(username),
        None => entry,
    }
}

/// An audit entry about `user`'s passkeys.
fn audit_user(req: &HttpRequest, state: &AppState, event: Event, user: &User) -> Entry {
    audit(req, state, event, Some(&user.username))
}
