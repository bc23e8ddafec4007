//! `/account/recovery-codes`: how many are left, and new ones (shown once).

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::totp::RemoveForm;
use super::{account_user, step_up_first};
use crate::audit::Event;
use crate::csrf::Binding;
use crate::error::Page;
use crate::factors::texts::{FactorTexts, factor_texts};
use crate::i18n::Texts;
use crate::routes::login::factor::FactorError;
use crate::state::AppState;
use crate::web as webutil;

const PATH: &str = "/account/recovery-codes";

/// The page: fresh codes (shown once), or how many are left.
#[derive(Template)]
#[template(path = "sso/recovery_codes.html")]
struct RecoveryPage<'a> {
    lang: &'a str,
    t: &'a Texts,
    f: &'a FactorTexts,
    csrf_token: &'a str,
    codes: &'a [String],
    left: u64,
    has_factor: bool,
    /// Where to go on, after fresh codes.
    next: &'a str,
}

fn render(
    req: &HttpRequest,
    state: &AppState,
    codes: &[String],
    left: u64,
    has_factor: bool,
    next: &str,
) -> HttpResponse {
    let (language, t) = webutil::language(req);
    let (csrf_token, cookie) = state.csrf.token(req, Binding::Browser);
    let mut response = webutil::page(
        StatusCode::OK,
        &RecoveryPage {
            lang: language.tag(),
            t,
            f: factor_texts(language),
            csrf_token: &csrf_token,
            codes,
            left,
            has_factor,
            next,
        },
    );
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    if let Some(cookie) = cookie
        && let Err(error) = response.add_cookie(&cookie)
    {
        tracing::error!(%error, "cannot set CSRF cookie");
    }
    response
}

/// `after` (the redirect that follows a factor just added for `user`), preceded by the page
/// of the user's first recovery codes when they have none left: a first factor comes with
/// its backup.
///
/// # Errors
/// When the database fails.
pub async fn with_first_codes(
    req: &HttpRequest,
    state: &AppState,
    user: &crate::users::User,
    after: HttpResponse,
) -> anyhow::Result<HttpResponse> {
    if state.factors.recovery_codes_left(&user.id).await? > 0 {
        return Ok(after);
    }
    let codes = new_codes(req, state, user).await?;
    Ok(shown_once(req, state, &codes, after))
}

/// New recovery codes for `user`, replacing any left, recorded in the audit trail.
async fn new_codes(
    req: &HttpRequest,
    state: &AppState,
    user: &crate::users::User,
) -> anyhow::Result<Vec<String>> {
    let codes = state.factors.new_recovery_codes(&user.id).await?;
    let trusted = &state.settings.login.trusted_proxies;
    let entry = webutil::audit_entry(req, trusted, Event::FactorEnrolled)
        .user(&user.username)
        .with("kind", "recovery_codes");
    state.audit.record(entry).await;
    Ok(codes)
}

/// Fresh `codes` shown once, then on to where `after` (a redirect) goes, with the cookies it
/// sets.
fn shown_once(
    req: &HttpRequest,
    state: &AppState,
    codes: &[String],
    after: HttpResponse,
) -> HttpResponse {
    let next = after
        .headers()
        .get(header::LOCATION)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("/account")
        .to_owned();
    let mut page = render(req, state, codes, codes.len() as u64, true, &next);
    for cookie in after.headers().get_all(header::SET_COOKIE) {
        page.headers_mut()
            .append(header::SET_COOKIE, cookie.clone());
    }
    page
}

/// `GET /account/recovery-codes`
pub async fn show(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Page<FactorError>> {
    async {
        let (_, user) = match account_user(&req, &state, PATH).await? {
            Ok(found) => found,
            Err(redirect) => return Ok(redirect),
        };
        let has_factor = state.factors.has_any(&user.id).await?;
        let left = state.factors.recovery_codes_left(&user.id).await?;
        Ok(render(&req, &state, &[], left, has_factor, "/account"))
    }
    .await
    .map_err(|error: anyhow::Error| Page::new(&req, FactorError::from(error)))
}

/// `POST /account/recovery-codes`: new codes replace the old ones.
pub async fn renew(
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
        if !state.csrf.verify(&req, Binding::Browser, form.csrf_token()) {
            return Ok(webutil::message(
                &req,
                StatusCode::FORBIDDEN,
                t.error_title,
                t.form_expired,
            ));
        }
        if !state.factors.has_any(&user.id).await? {
            let f = factor_texts(language);
            return Ok(webutil::message(
                &req,
                StatusCode::CONFLICT,
                f.recovery_title,
                f.recovery_needs_factor,
            ));
        }
        if let Some(step_up) = step_up_first(&state, &session, PATH).await? {
            return Ok(step_up);
        }
        let codes = new_codes(&req, &state, &user).await?;
        Ok(render(
            &req,
            &state,
            &codes,
            codes.len() as u64,
            true,
            "/account",
        ))
    }
    .await
    .map_err(|error: anyhow::Error| Page::new(&req, FactorError::from(error)))
}
