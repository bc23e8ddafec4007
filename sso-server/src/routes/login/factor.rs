//! `/login/factor`: the second step, asked when a global session that gave only a password
//! reaches something that requires a second factor (a step-up). The user gives a TOTP code, a
//! recovery code, or a passkey (see [`crate::factors`]); the session is then upgraded in place
//! (same `sid`, so every app's session goes on) under a fresh cookie value.

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::audit::Event;
use crate::csrf::Binding;
use crate::domain::Username;
use crate::error::Page;
use crate::factors::texts::{FactorTexts, factor_texts};
use crate::factors::{Amr, CodeCheck};
use crate::i18n::Texts;
use crate::routes::login::finish::{location, return_query, with_return_to};
use crate::sessions::GlobalSession;
use crate::state::AppState;
use crate::users::User;
use crate::web as webutil;

/// Failures that are ours, not the user's.
pub use crate::error::Unexpected as FactorError;

/// The live global session of the browser and its (enabled) user.
///
/// # Errors
/// When the store or the database fails.
pub async fn signed_in(
    req: &HttpRequest,
    state: &AppState,
) -> anyhow::Result<Option<(GlobalSession, User)>> {
    let Some(cookie) = req.cookie(&state.settings.session.cookie_name) else {
        return Ok(None);
    };
    let Some(session) = state.sessions.current(cookie.value()).await? else {
        return Ok(None);
    };
    let user = state
        .users
        .get(&session.user_id)
        .await?
        .filter(|user| !user.disabled);
    Ok(user.map(|user| (session, user)))
}

/// The address of the second step, coming back to `return_to` (an authorization query or a
/// path of the center).
pub fn step_up_location(return_to: &str) -> String {
    with_return_to("/login/factor", return_to)
}

/// The second-step page.
#[derive(Template)]
#[template(path = "sso/factor.html")]
struct FactorPage<'a> {
    lang: &'a str,
    t: &'a Texts,
    f: &'a FactorTexts,
    error: Option<&'a str>,
    csrf_token: &'a str,
    return_to: &'a str,
    has_totp: bool,
    has_passkeys: bool,
}

/// The query of `GET /login/factor`.
#[derive(Debug, Deserialize)]
pub struct FactorQuery {
    #[serde(default)]
    return_to: String,
}

/// The submitted code.
#[derive(Deserialize)]
pub struct FactorForm {
    csrf_token: Option<String>,
    #[serde(default)]
    code: String,
    #[serde(default)]
    return_to: String,
}

impl std::fmt::Debug for FactorForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FactorForm").finish_non_exhaustive()
    }
}

/// What to do for the browser's session before showing the second step: `Err` is the
/// redirect to follow instead.
async fn needing_a_factor(
    req: &HttpRequest,
    state: &AppState,
    return_to: &str,
) -> anyhow::Result<Result<(GlobalSession, User, crate::factors::Enrolled), HttpResponse>> {
    let Some((session, user)) = signed_in(req, state).await? else {
        // Without a session the request itself sends the browser to the login form.
        return Ok(Err(webutil::see_other(&location(return_to))));
    };
    if session.has_second_factor() {
        return Ok(Err(webutil::see_other(&location(return_to))));
    }
    let enrolled = state.factors.enrolled(&user.id).await?;
    if enrolled.total() == 0 {
        let enroll = with_return_to("/account/totp", return_to);
        return Ok(Err(webutil::see_other(&enroll)));
    }
    Ok(Ok((session, user, enrolled)))
}

fn render(
    req: &HttpRequest,
    state: &AppState,
    status: StatusCode,
    enrolled: crate::factors::Enrolled,
    error: Option<Pick>,
    return_to: &str,
) -> HttpResponse {
    let (language, t) = webutil::language(req);
    let f = factor_texts(language);
    let (csrf_token, cookie) = state.csrf.token(req, Binding::Browser);
    let mut response = webutil::page(
        status,
        &FactorPage {
            lang: language.tag(),
            t,
            f,
            error: error.map(|pick| pick(t, f)),
            csrf_token: &csrf_token,
            return_to,
            has_totp: enrolled.totp,
            has_passkeys: enrolled.passkeys > 0,
        },
    );
    if let Some(cookie) = cookie
        && let Err(error) = response.add_cookie(&cookie)
    {
        tracing::error!(%error, "cannot set CSRF cookie");
    }
    response
}

/// `GET /login/factor`
pub async fn factor_form(
    req: HttpRequest,
    query: web::Query<FactorQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Page<FactorError>> {
    async {
        let return_to = return_query(&query.return_to);
        Ok(match needing_a_factor(&req, &state, return_to).await? {
            Err(redirect) => redirect,
            Ok((_, _, enrolled)) => render(&req, &state, StatusCode::OK, enrolled, None, return_to),
        })
    }
    .await
    .map_err(|error: anyhow::Error| Page::new(&req, FactorError::from(error)))
}

/// `POST /login/factor`: a TOTP code (six digits) or a recovery code.
pub async fn submit_factor(
    req: HttpRequest,
    form: web::Form<FactorForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Page<FactorError>> {
    submit(&req, form.into_inner(), &state)
        .await
        .map_err(|error| Page::new(&req, FactorError::from(error)))
}

async fn submit(
    req: &HttpRequest,
    form: FactorForm,
    state: &AppState,
) -> anyhow::Result<HttpResponse> {
    let return_to = return_query(&form.return_to);
    let (session, user, enrolled) = match needing_a_factor(req, state, return_to).await? {
        Err(redirect) => return Ok(redirect),
        Ok(found) => found,
    };
    let retry = |status, error: Pick| render(req, state, status, enrolled, Some(error), return_to);
    if !state
        .csrf
        .verify(req, Binding::Browser, form.csrf_token.as_deref())
    {
        return Ok(retry(StatusCode::FORBIDDEN, |t, _| t.form_expired));
    }
    let ip = webutil::client_ip(req, &state.settings.login.trusted_proxies);
    let audit = |event, detail: &str| {
        webutil::audit_entry(req, &state.settings.login.trusted_proxies, event)
            .user(&user.username)
            .with("sid", session.sid.as_str())
            .with(
                if event == Event::SecondFactorFailed {
                    "reason"
                } else {
                    "method"
                },
                detail,
            )
    };
    let username = Username::parse(&user.username).ok();
    // Codes are guessed like passwords: the same budgets, without the device cookie (a
    // password thief can earn device cookies of their own).
    let admitted = state.throttle.admit(ip, username.as_ref(), None).await?;
    let Ok(admitted) = admitted else {
        tracing::warn!(%ip, username = user.username, "second factor attempt limited");
        state
            .audit
            .record(audit(Event::SecondFactorFailed, "limited"))
            .await;
        let mut response = retry(StatusCode::TOO_MANY_REQUESTS, |t, _| t.too_many_attempts);
        response.headers_mut().insert(
            header::RETRY_AFTER,
            header::HeaderValue::from(state.settings.login.window().as_secs()),
        );
        return Ok(response);
    };
    let code: String = form.code.chars().filter(|c| !c.is_whitespace()).collect();
    let looks_like_totp = !code.is_empty() && code.bytes().all(|b| b.is_ascii_digit());
    let (method, refusal) = if looks_like_totp {
        let refusal = match state.factors.verify_totp(&user, &code).await? {
            CodeCheck::Accepted => None,
            CodeCheck::Replayed => {
                Some(("replayed", StatusCode::UNAUTHORIZED, code_replayed as Pick))
            }
            CodeCheck::Malformed => {
                Some(("malformed", StatusCode::BAD_REQUEST, code_malformed as Pick))
            }
            CodeCheck::Wrong | CodeCheck::Absent => {
                Some(("wrong_code", StatusCode::UNAUTHORIZED, code_wrong as Pick))
            }
        };
        ("totp", refusal)
    } else if crate::factors::recovery::normalize(&code).is_none() {
        (
            "recovery_code",
            Some(("malformed", StatusCode::BAD_REQUEST, code_malformed as Pick)),
        )
    } else {
        match state.factors.use_recovery_code(&user.id, &code).await? {
            Some(left) => {
                tracing::warn!(
                    %ip,
                    username = user.username,
                    left,
                    "recovery code used"
                );
                state
                    .audit
                    .record(audit(Event::RecoveryCodeUsed, "recovery_code").with("left", left))
                    .await;
                ("recovery_code", None)
            }
            None => (
                "recovery_code",
                Some((
                    "wrong_code",
                    StatusCode::UNAUTHORIZED,
                    recovery_wrong as Pick,
                )),
            ),
        }
    };
    if let Some((reason, status, message)) = refusal {
        tracing::info!(%ip, username = user.username, method, reason, "second factor refused");
        state
            .audit
            .record(audit(Event::SecondFactorFailed, reason).with("method", method))
            .await;
        return Ok(retry(status, message));
    }
    if let Some(username) = &username {
        // The device cookie it returns is for password sign-ins; not set here.
        state.throttle.succeeded(admitted, username).await?;
    }
    state
        .audit
        .record(audit(Event::SecondFactorSucceeded, method))
        .await;
    second_factor_passed(req, state, &session, &[Amr::Otp], return_to).await
}

/// Picks the message to show from the general or the second-factor texts.
type Pick = fn(&Texts, &FactorTexts) -> &'static str;

fn code_wrong(_: &Texts, f: &FactorTexts) -> &'static str {
    f.code_wrong
}

fn code_replayed(_: &Texts, f: &FactorTexts) -> &'static str {
    f.code_replayed
}

fn code_malformed(_: &Texts, f: &FactorTexts) -> &'static str {
    f.code_malformed
}

fn recovery_wrong(_: &Texts, f: &FactorTexts) -> &'static str {
    f.recovery_wrong
}

/// Records that the user of `session` gave a second factor by `methods` and continues to
/// `return_to` (an authorization query or a path of the center): the session is upgraded
/// (its `amr` and `auth_time`) under a fresh cookie value, keeping its `sid`.
///
/// # Errors
/// When the store fails.
pub async fn second_factor_passed(
    _req: &HttpRequest,
    state: &AppState,
    session: &GlobalSession,
    methods: &[Amr],
    return_to: &str,
) -> anyhow::Result<HttpResponse> {
    let methods: Vec<String> = methods.iter().map(|m| m.as_str().to_owned()).collect();
    let upgraded = state.sessions.add_step(&session.key, &methods).await?;
    let return_to = return_query(return_to);
    let mut response = webutil::see_other(&location(return_to));
    if let Some(upgraded) = upgraded {
        tracing::info!(
            sid = upgraded.sid,
            amr = upgraded.amr.join(" "),
            "global session upgraded"
        );
        let cookie = webutil::cookie(
            &state.settings.session.cookie_name,
            upgraded.key.as_str().to_owned(),
            actix_web::cookie::SameSite::Lax,
        );
        response
            .add_cookie(&cookie)
            .map_err(|e| anyhow::anyhow!("cannot set cookie: {e}"))?;
    }
    Ok(response)
}
