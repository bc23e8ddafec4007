//! `/account/passkeys`: the signed-in user's passkeys, with a form to add one and a button to
//! remove each. A user who has a second factor gives it before changing any (a password thief
//! must not add their own passkey); removing one signs out the user's other sessions.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::{
    OptionsForm, audit_user, csrf_json, csrf_page, json_error, options_answer, refusal,
    spend_address_budget,
};
use crate::audit::Event;
use crate::csrf::Binding;
use crate::error::Page;
use crate::factors::FactorKind;
use crate::factors::passkeys::{NAME_MAX_CHARS, Refusal};
use crate::factors::texts::factor_texts;
use crate::i18n::{PasskeyTexts, Texts};
use crate::routes::console::utc;
use crate::routes::factors::end_other_sessions;
use crate::routes::login::factor::{FactorError, second_factor_passed};
use crate::sessions::GlobalSession;
use crate::slo::EndReason;
use crate::state::AppState;
use crate::users::User;
use crate::web as webutil;

const PATH: &str = "/account/passkeys";

/// A passkey as the page lists it.
struct Row {
    id: String,
    name: String,
    created: String,
    last_used: Option<String>,
}

/// The page.
#[derive(Template)]
#[template(path = "sso/passkeys.html")]
struct PasskeysPage<'a> {
    lang: &'a str,
    t: &'a Texts,
    p: &'a PasskeyTexts,
    csrf_token: &'a str,
    notice: Option<&'a str>,
    error: Option<&'a str>,
    available: bool,
    passkeys: Vec<Row>,
    name: &'a str,
    name_max: usize,
}

/// The query of `GET /account/passkeys`: what was just done.
#[derive(Debug, Deserialize)]
pub struct ShowQuery {
    #[serde(default)]
    done: String,
}

/// A new passkey: its name and the browser's answer.
#[derive(Deserialize)]
pub struct AddForm {
    csrf_token: Option<String>,
    #[serde(default)]
    ceremony: String,
    #[serde(default)]
    credential: String,
    #[serde(default)]
    name: String,
}

impl std::fmt::Debug for AddForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AddForm").finish_non_exhaustive()
    }
}

/// A passkey to remove.
#[derive(Debug, Deserialize)]
pub struct RemoveForm {
    csrf_token: Option<String>,
    #[serde(default)]
    id: String,
}

/// The signed-in user about to change their passkeys, or the redirect to take first.
async fn changing_user(
    req: &HttpRequest,
    state: &AppState,
) -> anyhow::Result<Result<(GlobalSession, User), HttpResponse>> {
    crate::routes::factors::changing_factors(req, state, PATH).await
}

async fn render(
    req: &HttpRequest,
    state: &AppState,
    user: &User,
    status: StatusCode,
    notice: Option<&str>,
    error: Option<&str>,
    name: &str,
) -> anyhow::Result<HttpResponse> {
    let (language, t) = webutil::language(req);
    let (csrf_token, cookie) = state.csrf.token(req, Binding::Browser);
    let passkeys = state
        .passkeys
        .list(&user.id)
        .await?
        .into_iter()
        .map(|listed| Row {
            id: listed.id,
            name: listed.name,
            created: utc(listed.created_at),
            last_used: listed.last_used_at.map(utc),
        })
        .collect();
    let mut response = webutil::page(
        status,
        &PasskeysPage {
            lang: language.tag(),
            t,
            p: &t.passkeys,
            csrf_token: &csrf_token,
            notice,
            error,
            available: state.passkeys.available(),
            passkeys,
            name,
            name_max: NAME_MAX_CHARS,
        },
    );
    if let Some(cookie) = cookie
        && let Err(error) = response.add_cookie(&cookie)
    {
        tracing::error!(%error, "cannot set CSRF cookie");
    }
    Ok(response)
}

/// `GET /account/passkeys`
pub async fn show(
    req: HttpRequest,
    query: web::Query<ShowQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Page<FactorError>> {
    async {
        let (_, user) = match changing_user(&req, &state).await? {
            Ok(found) => found,
            Err(redirect) => return Ok(redirect),
        };
        let (_, t) = webutil::language(&req);
        let notice = match query.done.as_str() {
            "added" => Some(t.passkeys.added),
            "removed" => Some(t.passkeys.removed),
            _ => None,
        };
        render(&req, &state, &user, StatusCode::OK, notice, None, "").await
    }
    .await
    .map_err(|error: anyhow::Error| Page::new(&req, FactorError::from(error)))
}

/// `POST /account/passkeys/options`: starts a registration (JSON for the script).
pub async fn options(
    req: HttpRequest,
    form: web::Form<OptionsForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Page<FactorError>> {
    async {
        if let Some(refused) = csrf_json(&req, &state, form.csrf_token.as_deref()) {
            return Ok(refused);
        }
        let (_, user) = match changing_user(&req, &state).await? {
            Ok(found) => found,
            Err(_) => {
                let (_, t) = webutil::language(&req);
                return Ok(json_error(StatusCode::FORBIDDEN, t.form_expired));
            }
        };
        let limited = spend_address_budget(&req, &state, |t| t.passkeys.too_many_started).await?;
        if let Some(limited) = limited {
            return Ok(limited);
        }
        let started = state.passkeys.begin_registration(&user).await?;
        Ok(options_answer(&req, started))
    }
    .await
    .map_err(|error: anyhow::Error| Page::new(&req, FactorError::from(error)))
}

/// `POST /account/passkeys`: the browser's new credential, stored under its name.
pub async fn add(
    req: HttpRequest,
    form: web::Form<AddForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Page<FactorError>> {
    async {
        let form = form.into_inner();
        let (session, user) = match changing_user(&req, &state).await? {
            Ok(found) => found,
            Err(redirect) => return Ok(redirect),
        };
        if let Some(refused) = csrf_page(&req, &state, form.csrf_token.as_deref()) {
            return Ok(refused);
        }
        let outcome = state
            .passkeys
            .finish_registration(&user, &form.ceremony, &form.name, &form.credential)
            .await?;
        match outcome {
            Ok((id, methods)) => {
                let entry = audit_user(&req, &state, Event::FactorEnrolled, &user)
                    .with("kind", "passkey")
                    .with("passkey", id);
                state.audit.record(entry).await;
                tracing::info!(username = user.username, "passkey added");
                // The new passkey verified its user: the session counts it from now on, as
                // it would a first TOTP code.
                let done = format!("{PATH}?done=added");
                let upgraded =
                    second_factor_passed(&req, &state, &session, &methods, &done).await?;
                crate::routes::factors::recovery::with_first_codes(&req, &state, &user, upgraded)
                    .await
            }
            Err(refused) => {
                tracing::info!(
                    username = user.username,
                    reason = refused.as_str(),
                    "passkey registration refused"
                );
                let (_, t) = webutil::language(&req);
                let (status, text) = refusal(&t.passkeys, refused);
                let name = if refused == Refusal::BadName {
                    ""
                } else {
                    form.name.trim()
                };
                render(&req, &state, &user, status, None, Some(text), name).await
            }
        }
    }
    .await
    .map_err(|error: anyhow::Error| Page::new(&req, FactorError::from(error)))
}

/// `POST /account/passkeys/remove`
pub async fn remove(
    req: HttpRequest,
    form: web::Form<RemoveForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Page<FactorError>> {
    async {
        let (session, user) = match changing_user(&req, &state).await? {
            Ok(found) => found,
            Err(redirect) => return Ok(redirect),
        };
        if let Some(refused) = csrf_page(&req, &state, form.csrf_token.as_deref()) {
            return Ok(refused);
        }
        let (language, t) = webutil::language(&req);
        let owned = state
            .passkeys
            .list(&user.id)
            .await?
            .iter()
            .any(|listed| listed.id == form.id);
        if !owned {
            let text = t.passkeys.not_yours;
            return render(
                &req,
                &state,
                &user,
                StatusCode::NOT_FOUND,
                None,
                Some(text),
                "",
            )
            .await;
        }
        if !state
            .factors
            .may_remove(&user.id, FactorKind::Passkey)
            .await?
        {
            let text = factor_texts(language).last_factor;
            return render(
                &req,
                &state,
                &user,
                StatusCode::CONFLICT,
                None,
                Some(text),
                "",
            )
            .await;
        }
        if !state.passkeys.remove(&user.id, &form.id).await? {
            return Ok(webutil::see_other(PATH));
        }
        state
            .factors
            .forget_recovery_codes_without_factor(&user.id)
            .await?;
        let ended =
            end_other_sessions(&state, &user.id, &session.sid, EndReason::FactorsChanged).await?;
        let entry = audit_user(&req, &state, Event::FactorRemoved, &user)
            .with("kind", "passkey")
            .with("passkey", form.id.as_str())
            .with("sessions_ended", ended);
        state.audit.record(entry).await;
        tracing::info!(
            username = user.username,
            sessions_ended = ended,
            "passkey removed"
        );
        Ok(webutil::see_other(&format!("{PATH}?done=removed")))
    }
    .await
    .map_err(|error: anyhow::Error| Page::new(&req, FactorError::from(error)))
}
