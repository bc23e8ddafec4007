//! `/account/totp`: set up an authenticator app (a QR code and the key as text, confirmed by a
//! first code), or remove it.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::{account_user, changing_factors, end_other_sessions, step_up_first};
use crate::audit::{Entry, Event};
use crate::csrf::Binding;
use crate::error::Page;
use crate::factors::texts::{FactorTexts, factor_texts};
use crate::factors::{Amr, CodeCheck, Enrollment, FactorKind};
use crate::i18n::Texts;
use crate::routes::login::factor::{FactorError, second_factor_passed};
use crate::routes::login::finish::{return_query, with_return_to};
use crate::slo::EndReason;
use crate::state::AppState;
use crate::users::User;
use crate::web as webutil;

const PATH: &str = "/account/totp";

/// An enrollment as the page shows it.
struct Shown {
    key: String,
    secret: String,
    qr_svg: String,
}

/// The page: the app set up (with removal), or an enrollment to confirm.
#[derive(Template)]
#[template(path = "sso/totp.html")]
struct TotpPage<'a> {
    lang: &'a str,
    t: &'a Texts,
    f: &'a FactorTexts,
    error: Option<&'a str>,
    csrf_token: &'a str,
    return_to: &'a str,
    /// Sent here by an application that requires a second factor.
    required: bool,
    enrollment: Option<Shown>,
}

/// The query of `GET /account/totp`.
#[derive(Debug, Deserialize)]
pub struct TotpQuery {
    #[serde(default)]
    return_to: String,
}

/// The confirmation of an enrollment.
#[derive(Deserialize)]
pub struct ConfirmForm {
    csrf_token: Option<String>,
    #[serde(default)]
    enrollment: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    return_to: String,
}

impl std::fmt::Debug for ConfirmForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfirmForm").finish_non_exhaustive()
    }
}

/// A form with only its CSRF token.
#[derive(Debug, Deserialize)]
pub struct RemoveForm {
    csrf_token: Option<String>,
}

impl RemoveForm {
    /// The submitted CSRF token.
    pub fn csrf_token(&self) -> Option<&str> {
        self.csrf_token.as_deref()
    }
}

type Pick = fn(&Texts, &FactorTexts) -> &'static str;

fn render(
    req: &HttpRequest,
    state: &AppState,
    status: StatusCode,
    enrollment: Option<&Enrollment>,
    error: Option<Pick>,
    return_to: &str,
) -> HttpResponse {
    let (language, t) = webutil::language(req);
    let f = factor_texts(language);
    let (csrf_token, cookie) = state.csrf.token(req, Binding::Browser);
    let enrollment = enrollment.map(|enrollment| Shown {
        key: enrollment.key.as_str().to_owned(),
        secret: enrollment.secret.clone(),
        qr_svg: enrollment.generator.qr_svg().unwrap_or_default(),
    });
    let mut response = webutil::page(
        status,
        &TotpPage {
            lang: language.tag(),
            t,
            f,
            error: error.map(|pick| pick(t, f)),
            csrf_token: &csrf_token,
            return_to,
            required: !return_to.is_empty() && webutil::local_path(return_to).is_none(),
            enrollment,
        },
    );
    if let Some(cookie) = cookie
        && let Err(error) = response.add_cookie(&cookie)
    {
        tracing::error!(%error, "cannot set CSRF cookie");
    }
    response
}

fn path_with(return_to: &str) -> String {
    if return_to.is_empty() {
        return PATH.to_owned();
    }
    with_return_to(PATH, return_to)
}

fn audit(req: &HttpRequest, state: &AppState, event: Event, user: &User) -> Entry {
    webutil::audit_entry(req, &state.settings.login.trusted_proxies, event)
        .user(&user.username)
        .with("kind", "totp")
}

/// `GET /account/totp`
pub async fn show(
    req: HttpRequest,
    query: web::Query<TotpQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Page<FactorError>> {
    async {
        let return_to = return_query(&query.return_to);
        let here = path_with(return_to);
        let (session, user) = match account_user(&req, &state, &here).await? {
            Ok(found) => found,
            Err(redirect) => return Ok(redirect),
        };
        if state.factors.has_totp(&user.id).await? {
            return Ok(render(&req, &state, StatusCode::OK, None, None, return_to));
        }
        if let Some(step_up) = step_up_first(&state, &session, &here).await? {
            return Ok(step_up);
        }
        let enrollment = state.factors.begin_totp(&user).await?;
        Ok(render(
            &req,
            &state,
            StatusCode::OK,
            Some(&enrollment),
            None,
            return_to,
        ))
    }
    .await
    .map_err(|error: anyhow::Error| Page::new(&req, FactorError::from(error)))
}

/// `POST /account/totp`: the first code, which turns the app on.
pub async fn confirm(
    req: HttpRequest,
    form: web::Form<ConfirmForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Page<FactorError>> {
    async {
        let form = form.into_inner();
        let return_to = return_query(&form.return_to);
        let here = path_with(return_to);
        let (session, user) = match changing_factors(&req, &state, &here).await? {
            Ok(found) => found,
            Err(redirect) => return Ok(redirect),
        };
        let pending = state.factors.pending_totp(&user, &form.enrollment).await?;
        let Some(pending) = pending else {
            let fresh = state.factors.begin_totp(&user).await?;
            let expired: Pick = |_, f| f.enrollment_expired;
            return Ok(render(
                &req,
                &state,
                StatusCode::BAD_REQUEST,
                Some(&fresh),
                Some(expired),
                return_to,
            ));
        };
        if !state
            .csrf
            .verify(&req, Binding::Browser, form.csrf_token.as_deref())
        {
            let expired: Pick = |t, _| t.form_expired;
            return Ok(render(
                &req,
                &state,
                StatusCode::FORBIDDEN,
                Some(&pending),
                Some(expired),
                return_to,
            ));
        }
        let refusal: Option<(StatusCode, Pick)> = match state
            .factors
            .confirm_totp(&user, &form.enrollment, &form.code)
            .await?
        {
            CodeCheck::Accepted => None,
            CodeCheck::Malformed => Some((StatusCode::BAD_REQUEST, |_, f| f.code_malformed)),
            CodeCheck::Replayed => Some((StatusCode::UNAUTHORIZED, |_, f| f.code_replayed)),
            CodeCheck::Wrong | CodeCheck::Absent => {
                Some((StatusCode::UNAUTHORIZED, |_, f| f.code_wrong))
            }
        };
        if let Some((status, message)) = refusal {
            return Ok(render(
                &req,
                &state,
                status,
                Some(&pending),
                Some(message),
                return_to,
            ));
        }
        state
            .audit
            .record(audit(&req, &state, Event::FactorEnrolled, &user))
            .await;
        tracing::info!(username = user.username, "TOTP set up");
        // The code just given is a second factor: the session counts it from now on.
        let next = if return_to.is_empty() {
            "/account"
        } else {
            return_to
        };
        let upgraded = second_factor_passed(&req, &state, &session, &[Amr::Otp], next).await?;
        super::recovery::with_first_codes(&req, &state, &user, upgraded).await
    }
    .await
    .map_err(|error: anyhow::Error| Page::new(&req, FactorError::from(error)))
}

/// `POST /account/totp/remove`
pub async fn remove(
    req: HttpRequest,
    form: web::Form<RemoveForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Page<FactorError>> {
    async {
        let (session, user) = match account_user(&req, &state, PATH).await? {
            Ok(found) => found,
            Err(redirect) => return Ok(redirect),
        };
        let (language, t) = webutil::language(&req);
        let f = factor_texts(language);
        if !state.csrf.verify(&req, Binding::Browser, form.csrf_token()) {
            return Ok(webutil::message(
                &req,
                StatusCode::FORBIDDEN,
                t.error_title,
                t.form_expired,
            ));
        }
        if let Some(step_up) = step_up_first(&state, &session, PATH).await? {
            return Ok(step_up);
        }
        if !state.factors.has_totp(&user.id).await? {
            return Ok(webutil::see_other(PATH));
        }
        if !state.factors.may_remove(&user.id, FactorKind::Totp).await? {
            return Ok(webutil::message(
                &req,
                StatusCode::CONFLICT,
                f.totp_title,
                f.last_factor,
            ));
        }
        state.factors.remove_totp(&user.id).await?;
        let ended =
            end_other_sessions(&state, &user.id, &session.sid, EndReason::FactorsChanged).await?;
        state
            .audit
            .record(audit(&req, &state, Event::FactorRemoved, &user).with("sessions_ended", ended))
            .await;
        tracing::info!(
            username = user.username,
            sessions_ended = ended,
            "TOTP removed"
        );
        Ok(webutil::message(
            &req,
            StatusCode::OK,
            f.totp_title,
            f.totp_removed,
        ))
    }
    .await
    .map_err(|error: anyhow::Error| Page::new(&req, FactorError::from(error)))
}
