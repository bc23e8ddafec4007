//! `/account`: the signed-in user's own page at the center: their profile, a password change,
//! links to their sign-in methods, and their live sessions, each of which they can sign out.
//!
//! Every page and action needs the browser's global session; without one the browser is sent
//! to sign in and back. The forms' CSRF tokens are bound to that session (see
//! [`crate::csrf::Binding::Session`]), so a form shown for one session is void once the browser
//! holds another. Whatever ends a session here goes through [`crate::sessions::GlobalSessions`],
//! so single logout reaches the applications of every session that ends.

pub mod get;
pub mod password;
pub mod sessions;
pub mod user_agent;

use actix_web::cookie::Cookie;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::{GET, POST, resource};
use crate::csrf::Binding;
use crate::domain::ClientId;
use crate::i18n::{AccountTexts, Texts};
use crate::sessions::{GlobalSession, SessionInfo};
use crate::state::AppState;
use crate::users::User;
use crate::web as webutil;

/// Where a browser without a session is sent: the login, and back here afterwards.
const SIGN_IN: &str = "/login?return_to=/account";

/// Registers the account page and its forms.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/account", GET).route(web::get().to(get::account)))
        .service(
            resource("/account/password", POST).route(web::post().to(password::change_password)),
        )
        .service(
            resource("/account/sessions/end-all", POST)
                .route(web::post().to(sessions::sign_out_everywhere)),
        )
        .service(
            resource("/account/sessions/{sid}/end", POST)
                .route(web::post().to(sessions::sign_out_one)),
        );
}

/// Failures that are ours, not the user's.
pub use crate::error::Unexpected as AccountError;

/// The browser's live session and its user.
#[derive(Debug)]
pub struct Account {
    pub user: User,
    pub session: GlobalSession,
    /// The value of the session cookie, which the page's CSRF tokens are bound to.
    cookie: String,
}

impl Account {
    /// The account of the browser that sent `req`; `None` when it has no live session, or its
    /// user is gone or disabled.
    ///
    /// # Errors
    /// When the store or the database fails.
    pub async fn of(req: &HttpRequest, state: &AppState) -> anyhow::Result<Option<Self>> {
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
        Ok(user.map(|user| Self {
            user,
            session,
            cookie: cookie.value().to_owned(),
        }))
    }

    fn binding(&self) -> Binding<'_> {
        Binding::Session(&self.cookie)
    }

    /// Whether `submitted` is the CSRF token of this session's forms.
    pub fn csrf_ok(&self, req: &HttpRequest, state: &AppState, submitted: Option<&str>) -> bool {
        let ok = state.csrf.verify(req, self.binding(), submitted);
        if !ok {
            tracing::warn!(
                username = self.user.username,
                path = req.path(),
                "account form refused: CSRF token missing or wrong"
            );
        }
        ok
    }
}

/// A session as the page shows it.
struct Row {
    sid: String,
    browser: String,
    ip: String,
    started: String,
    applications: Vec<String>,
    current: bool,
}

/// The account page.
#[derive(Template)]
#[template(path = "sso/account.html")]
struct AccountPage<'a> {
    lang: &'a str,
    t: &'a Texts,
    a: &'a AccountTexts,
    user: &'a User,
    csrf_token: &'a str,
    /// A confirmation above the page.
    notice: Option<&'a str>,
    /// Why the password form was refused.
    password_error: Option<&'a str>,
    rows: Vec<Row>,
    /// The second-factor texts.
    f: &'a crate::factors::texts::FactorTexts,
    /// The user's second factors.
    enrolled: crate::factors::Enrolled,
    recovery_left: u64,
}

/// The name shown for a session's browser.
fn browser_name(a: &AccountTexts, user_agent: Option<&str>) -> String {
    let agent = user_agent.map(user_agent::parse).unwrap_or_default();
    match (agent.browser, agent.os) {
        (None, None) => a.unknown.to_owned(),
        (Some(browser), None) => browser.to_owned(),
        (browser, Some(os)) => a
            .browser_on_os
            .replace("{browser}", browser.unwrap_or(a.unknown_browser))
            .replace("{os}", os),
    }
}

/// The names of the clients `ids`, as registered (the id when the client is gone).
async fn client_names(state: &AppState, ids: &[String]) -> anyhow::Result<Vec<String>> {
    let mut names = Vec::with_capacity(ids.len());
    for id in ids {
        let client = match ClientId::parse(id) {
            Some(parsed) => state.clients.get(&parsed).await?,
            None => None,
        };
        names.push(client.map_or_else(|| id.clone(), |client| client.name));
    }
    Ok(names)
}

async fn rows(
    state: &AppState,
    a: &AccountTexts,
    account: &Account,
    sessions: Vec<SessionInfo>,
) -> anyhow::Result<Vec<Row>> {
    let mut rows = Vec::with_capacity(sessions.len());
    for session in sessions {
        rows.push(Row {
            browser: browser_name(a, session.user_agent.as_deref()),
            ip: session.ip.unwrap_or_else(|| a.unknown.to_owned()),
            started: super::console::utc(session.created_at),
            applications: client_names(state, &session.clients).await?,
            current: session.sid == account.session.sid,
            sid: session.sid,
        });
    }
    // The browser's own session first.
    rows.sort_by_key(|row| !row.current);
    Ok(rows)
}

/// A text of the page, picked from the texts of the request's language.
type Pick = fn(&'static Texts) -> &'static str;

/// The account page of `account` with `status`, a `notice` or a `password_error`.
///
/// # Errors
/// When the database fails.
async fn render(
    req: &HttpRequest,
    state: &AppState,
    account: &Account,
    status: StatusCode,
    notice: Option<Pick>,
    password_error: Option<Pick>,
) -> anyhow::Result<HttpResponse> {
    let (language, t) = webutil::language(req);
    let a = &t.account;
    let sessions = state.sessions.list_for_user(&account.user.id).await?;
    let rows = rows(state, a, account, sessions).await?;
    let enrolled = state.factors.enrolled(&account.user.id).await?;
    let recovery_left = state.factors.recovery_codes_left(&account.user.id).await?;
    let (csrf_token, cookie) = state.csrf.token(req, account.binding());
    let mut response = webutil::page(
        status,
        &AccountPage {
            lang: language.tag(),
            t,
            a,
            user: &account.user,
            csrf_token: &csrf_token,
            notice: notice.map(|pick| pick(t)),
            password_error: password_error.map(|pick| pick(t)),
            rows,
            f: crate::factors::texts::factor_texts(language),
            enrolled,
            recovery_left,
        },
    );
    add_cookie(&mut response, cookie);
    Ok(response)
}

fn add_cookie(response: &mut HttpResponse, cookie: Option<Cookie<'static>>) {
    if let Some(cookie) = cookie
        && let Err(error) = response.add_cookie(&cookie)
    {
        tracing::error!(%error, "cannot set cookie");
    }
}

/// The "signed out" page, clearing the session cookie.
fn signed_out(req: &HttpRequest, state: &AppState) -> anyhow::Result<HttpResponse> {
    let (_, t) = webutil::language(req);
    let mut response = webutil::message(req, StatusCode::OK, t.signed_out_title, t.signed_out);
    response
        .add_removal_cookie(&webutil::removal(&state.settings.session.cookie_name))
        .map_err(|e| anyhow::anyhow!("cannot clear session cookie: {e}"))?;
    Ok(response)
}

/// A form refused for its CSRF token: 403, asking to try again from the page.
fn form_expired(req: &HttpRequest) -> HttpResponse {
    let (_, t) = webutil::language(req);
    webutil::message(req, StatusCode::FORBIDDEN, t.error_title, t.form_expired)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Language;
    use crate::i18n::texts;

    #[test]
    fn browsers_are_named_in_the_pages_language() {
        let chrome = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) \
                      Chrome/131.0.0.0 Safari/537.36";
        let en = &texts(Language::English).account;
        let zh = &texts(Language::SimplifiedChinese).account;
        assert_eq!(browser_name(en, Some(chrome)), "Chrome on Linux");
        assert_eq!(browser_name(zh, Some(chrome)), "Linux 上的 Chrome");
        assert_eq!(browser_name(en, Some("curl/8.5.0")), "curl");
        assert_eq!(
            browser_name(en, Some("Mozilla/5.0 (Linux; Android 14) Mobile")),
            "Unknown browser on Android"
        );
        assert_eq!(browser_name(en, Some("SomeBot/1.0")), "unknown");
        assert_eq!(browser_name(en, None), "unknown");
        assert_eq!(browser_name(zh, None), "未知");
    }
}
