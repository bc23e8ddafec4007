//! Signing out sessions from the account page: one of the user's sessions, or all of them.
//! Either goes through [`crate::sessions::GlobalSessions`], so the applications registered in
//! every session that ends get single logout.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use super::{Account, AccountError, SIGN_IN, form_expired, signed_out};
use crate::error::Page;
use crate::slo::EndReason;
use crate::state::AppState;
use crate::web as webutil;

/// The form of either button: only its CSRF token.
#[derive(Debug, Deserialize)]
pub struct SignOutForm {
    csrf_token: Option<String>,
}

/// `POST /account/sessions/{sid}/end`: ends session `sid` of the signed-in user, then shows the
/// account page again (or, for the browser's own session, the "signed out" page). A session of
/// another user, or one that has ended, is refused with 404 and nothing ends.
pub async fn sign_out_one(
    req: HttpRequest,
    sid: web::Path<String>,
    form: web::Form<SignOutForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Page<AccountError>> {
    let done = async {
        let Some(account) = Account::of(&req, &state).await? else {
            return Ok(webutil::see_other(SIGN_IN));
        };
        if !account.csrf_ok(&req, &state, form.csrf_token.as_deref()) {
            return Ok(form_expired(&req));
        }
        let sid = sid.into_inner();
        let own = state
            .sessions
            .list_for_user(&account.user.id)
            .await?
            .iter()
            .any(|session| session.sid == sid);
        if !own || !state.sessions.end(&sid, EndReason::Logout).await? {
            tracing::info!(
                username = account.user.username,
                "account: sign-out of a session that is not the user's or has ended"
            );
            let (_, t) = webutil::language(&req);
            return Ok(webutil::message(
                &req,
                StatusCode::NOT_FOUND,
                t.error_title,
                t.account.session_not_yours,
            ));
        }
        tracing::info!(
            username = account.user.username,
            sid,
            "account: a session signed out by its user"
        );
        if sid == account.session.sid {
            return signed_out(&req, &state);
        }
        Ok(webutil::see_other("/account"))
    };
    done.await
        .map_err(|error: anyhow::Error| Page::new(&req, error.into()))
}

/// `POST /account/sessions/end-all`: ends every session of the signed-in user, this one too,
/// and shows the "signed out" page.
pub async fn sign_out_everywhere(
    req: HttpRequest,
    form: web::Form<SignOutForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Page<AccountError>> {
    let done = async {
        let Some(account) = Account::of(&req, &state).await? else {
            return Ok(webutil::see_other(SIGN_IN));
        };
        if !account.csrf_ok(&req, &state, form.csrf_token.as_deref()) {
            return Ok(form_expired(&req));
        }
        let ended = state
            .sessions
            .end_all_for_user(&account.user.id, EndReason::Logout)
            .await?;
        tracing::info!(
            username = account.user.username,
            ended,
            "account: signed out everywhere"
        );
        signed_out(&req, &state)
    };
    done.await
        .map_err(|error: anyhow::Error| Page::new(&req, error.into()))
}
