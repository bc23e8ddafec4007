//! The account's second factors at the center: `/account/totp` (set up or remove an
//! authenticator app) and `/account/recovery-codes` (make new ones). Passkeys have their own
//! pages.
//!
//! Changing factors needs a session that gave a second factor when the user has one (a
//! password thief must not swap them), and removing one signs out the user's other sessions,
//! with single logout.

pub mod recovery;
pub mod totp;

use actix_web::{HttpRequest, HttpResponse, web};

use crate::routes::login::factor::{signed_in, step_up_location};
use crate::routes::login::finish::with_return_to;
use crate::routes::{GET_POST, POST, resource};
use crate::sessions::GlobalSession;
use crate::slo::EndReason;
use crate::state::AppState;
use crate::users::User;
use crate::web as webutil;

/// Registers the pages.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource("/account/totp", GET_POST)
            .route(web::get().to(totp::show))
            .route(web::post().to(totp::confirm)),
    )
    .service(resource("/account/totp/remove", POST).route(web::post().to(totp::remove)))
    .service(
        resource("/account/recovery-codes", GET_POST)
            .route(web::get().to(recovery::show))
            .route(web::post().to(recovery::renew)),
    );
}

/// The signed-in user of the browser, or the redirect to sign in first and come back to
/// `path`.
async fn account_user(
    req: &HttpRequest,
    state: &AppState,
    path: &str,
) -> anyhow::Result<Result<(GlobalSession, User), HttpResponse>> {
    Ok(match signed_in(req, state).await? {
        Some(found) => Ok(found),
        None => Err(webutil::see_other(&with_return_to("/login", path))),
    })
}

/// `None` when `session` may change the user's factors; else the step-up to take first,
/// coming back to `path`: a user with a factor proves it before changing any.
async fn step_up_first(
    state: &AppState,
    session: &GlobalSession,
    path: &str,
) -> anyhow::Result<Option<HttpResponse>> {
    if session.has_second_factor() || !state.factors.has_any(&session.user_id).await? {
        return Ok(None);
    }
    Ok(Some(webutil::see_other(&step_up_location(path))))
}

/// The signed-in user about to change their factors at `path`, or the redirect to take
/// first: to sign in, or to prove the factor they already have.
///
/// # Errors
/// When the store or the database fails.
pub(crate) async fn changing_factors(
    req: &HttpRequest,
    state: &AppState,
    path: &str,
) -> anyhow::Result<Result<(GlobalSession, User), HttpResponse>> {
    let (session, user) = match account_user(req, state, path).await? {
        Ok(found) => found,
        Err(redirect) => return Ok(Err(redirect)),
    };
    if let Some(step_up) = step_up_first(state, &session, path).await? {
        return Ok(Err(step_up));
    }
    Ok(Ok((session, user)))
}

/// Ends every session of the user but `keep` (the one making the change), with single
/// logout; returns how many ended.
///
/// # Errors
/// When the store or the database fails.
pub async fn end_other_sessions(
    state: &AppState,
    user_id: &str,
    keep: &str,
    reason: EndReason,
) -> anyhow::Result<usize> {
    let mut ended = 0;
    for other in state.sessions.list_for_user(user_id).await? {
        if other.sid != keep && state.sessions.end(&other.sid, reason).await? {
            ended += 1;
        }
    }
    Ok(ended)
}
