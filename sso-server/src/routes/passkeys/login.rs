//! Passkeys at sign-in: `/login/passkey` signs in without a password (the passkey names its
//! user and verifies them: two factors), `/login/passkey/second` is the second step of a
//! password session (see [`crate::routes::login::factor`]).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use super::{
    AnswerForm, OptionsForm, audit, csrf_json, csrf_page, json_error, options_answer, refused_page,
    spend_address_budget,
};
use crate::audit::Event;
use crate::error::Page;
use crate::metrics::{self, SignIn};
use crate::routes::login::factor::{FactorError, second_factor_passed, signed_in};
use crate::routes::login::finish::{location, return_query, start_session};
use crate::state::AppState;
use crate::web as webutil;

/// `POST /login/passkey/options`: starts a sign-in by any passkey (JSON for the script).
pub async fn sign_in_options(
    req: HttpRequest,
    form: web::Form<OptionsForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Page<FactorError>> {
    async {
        if let Some(refused) = csrf_json(&req, &state, form.csrf_token.as_deref()) {
            return Ok(refused);
        }
        if let Some(limited) = spend_address_budget(&req, &state, |t| t.too_many_attempts).await? {
            metrics::sign_in(SignIn::Limited);
            return Ok(limited);
        }
        let started = state.passkeys.begin_sign_in().await?;
        Ok(options_answer(&req, started))
    }
    .await
    .map_err(|error: anyhow::Error| Page::new(&req, FactorError::from(error)))
}

/// `POST /login/passkey`: the browser's assertion; its user signs in (a new global session).
pub async fn sign_in(
    req: HttpRequest,
    form: web::Form<AnswerForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Page<FactorError>> {
    async {
        let form = form.into_inner();
        if let Some(refused) = csrf_page(&req, &state, form.csrf_token.as_deref()) {
            return Ok(refused);
        }
        let return_to = return_query(&form.return_to);
        let verified = match state
            .passkeys
            .finish_sign_in(&form.ceremony, &form.credential)
            .await?
        {
            Ok(verified) => verified,
            Err(refused) => {
                tracing::info!(reason = refused.as_str(), "passkey sign-in refused");
                let entry = audit(&req, &state, Event::SignInFailed, None)
                    .with("method", "passkey")
                    .with("reason", refused.as_str());
                state.audit.record(entry).await;
                return Ok(refused_page(&req, refused));
            }
        };
        let user = state.users.get(&verified.user_id).await?;
        let Some(user) = user.filter(|user| !user.disabled) else {
            tracing::info!(user_id = verified.user_id, "passkey of a disabled user");
            let (_, t) = webutil::language(&req);
            let entry = audit(&req, &state, Event::SignInFailed, None)
                .with("method", "passkey")
                .with("reason", "disabled");
            state.audit.record(entry).await;
            return Ok(webutil::message(
                &req,
                StatusCode::FORBIDDEN,
                t.error_title,
                t.account_disabled,
            ));
        };
        let entry = audit(&req, &state, Event::SignInSucceeded, Some(&user.username))
            .with("method", "passkey");
        state.audit.record(entry).await;
        tracing::info!(username = user.username, "signed in with a passkey");
        start_session(&req, &state, &user, &verified.methods, return_to).await
    }
    .await
    .map_err(|error: anyhow::Error| Page::new(&req, FactorError::from(error)))
}

/// `POST /login/passkey/second/options`: starts an authentication by one of the signed-in
/// user's passkeys (JSON for the script).
pub async fn second_options(
    req: HttpRequest,
    form: web::Form<OptionsForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Page<FactorError>> {
    async {
        if let Some(refused) = csrf_json(&req, &state, form.csrf_token.as_deref()) {
            return Ok(refused);
        }
        let Some((_, user)) = signed_in(&req, &state).await? else {
            let (_, t) = webutil::language(&req);
            return Ok(json_error(StatusCode::UNAUTHORIZED, t.form_expired));
        };
        if let Some(limited) = spend_address_budget(&req, &state, |t| t.too_many_attempts).await? {
            metrics::sign_in(SignIn::Limited);
            return Ok(limited);
        }
        let started = state.passkeys.begin_second_factor(&user.id).await?;
        Ok(options_answer(&req, started))
    }
    .await
    .map_err(|error: anyhow::Error| Page::new(&req, FactorError::from(error)))
}

/// `POST /login/passkey/second`: the browser's assertion by a passkey of the session's user;
/// the session is upgraded.
pub async fn second(
    req: HttpRequest,
    form: web::Form<AnswerForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Page<FactorError>> {
    async {
        let form = form.into_inner();
        let return_to = return_query(&form.return_to);
        let Some((session, user)) = signed_in(&req, &state).await? else {
            return Ok(webutil::see_other(&location(return_to)));
        };
        if let Some(refused) = csrf_page(&req, &state, form.csrf_token.as_deref()) {
            return Ok(refused);
        }
        let entry = |event| {
            audit(&req, &state, event, Some(&user.username))
                .with("sid", session.sid.as_str())
                .with("method", "passkey")
        };
        let verified = match state
            .passkeys
            .finish_second_factor(&user.id, &form.ceremony, &form.credential)
            .await?
        {
            Ok(verified) => verified,
            Err(refused) => {
                tracing::info!(
                    username = user.username,
                    reason = refused.as_str(),
                    "passkey second factor refused"
                );
                let failed = entry(Event::SecondFactorFailed).with("reason", refused.as_str());
                state.audit.record(failed).await;
                return Ok(refused_page(&req, refused));
            }
        };
        state
            .audit
            .record(entry(Event::SecondFactorSucceeded))
            .await;
        second_factor_passed(&req, &state, &session, &verified.methods, return_to).await
    }
    .await
    .map_err(|error: anyhow::Error| Page::new(&req, FactorError::from(error)))
}
