//! `GET /forward-auth/start` and `GET /forward-auth/callback` (the host's `/_sso/start` and
//! `/_sso/callback`): signing a browser in to a protected host through the center's own
//! `/authorize`, so a live global session signs in without a password and anything else gets
//! the center's login.
//!
//! Each sign-in keeps its PKCE verifier and return path in a host-only cookie named after its
//! state (`sso_fa_flow_<state>`, path `/_sso/`, ten minutes), so concurrent sign-ins of one
//! browser (several tabs, requests racing after a session ended) do not overwrite each other.
//! The callback needs that cookie: a code or a state obtained in another browser is refused
//! (login CSRF), and the code is bound to the verifier by PKCE.
//!
//! Only page loads start a sign-in. When a session ends while a page is open, its images,
//! scripts and `fetch` calls are sent to `/_sso/start` too; their callbacks could never come
//! back (a `SameSite=Lax` cookie is not sent on a cross-site subresource), so each would leave
//! a flow cookie behind, and enough of them make every request to `/_sso/` too large for nginx.
//! A start the browser marks as no navigation (`Sec-Fetch-Mode`) gets a 401 and no cookie; and
//! a start that finds [`MAX_PENDING_FLOWS`] flow cookies (a browser that does not send
//! `Sec-Fetch-Mode`) forgets them.

use actix_web::cookie::time::Duration as CookieDuration;
use actix_web::cookie::{Cookie, SameSite};
use actix_web::{HttpRequest, HttpResponse, web};
use aws_lc_rs::digest;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;

use super::{ForwardAuthError, protected_host};
use crate::crypto::random_id;
use crate::domain::CodeVerifier;
use crate::error::Page;
use crate::forward_auth::hosts::CALLBACK_PATH;
use crate::forward_auth::request::ReturnPath;
use crate::forward_auth::{FLOW_COOKIE, PROXIED_PREFIX, SESSION_COOKIE};
use crate::state::AppState;
use crate::web as webutil;

/// How long a sign-in may take, from start to callback.
const FLOW_LIFETIME: CookieDuration = CookieDuration::minutes(10);

/// Most sign-ins a browser keeps under way on one host: a start that finds this many flow
/// cookies removes them before adding its own (one of them may have been a sign-in in another
/// tab, which then fails with a 400 and is tried again).
pub const MAX_PENDING_FLOWS: usize = 8;

/// The query of `/_sso/start`.
#[derive(Debug, Deserialize)]
pub struct StartQuery {
    rd: Option<String>,
}

/// The query of `/_sso/callback`, as `/authorize` sends it back.
#[derive(Debug, Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
}

/// What a sign-in carries from start to callback, in its cookie.
struct Flow {
    state: String,
    verifier: String,
    rd: ReturnPath,
}

impl Flow {
    fn new(rd: ReturnPath) -> Self {
        Self {
            state: random_id(),
            // Two 128-bit ids: 44 characters, within PKCE's 43–128.
            verifier: format!("{}{}", random_id(), random_id()),
            rd,
        }
    }

    fn cookie_name(state: &str) -> String {
        format!("{FLOW_COOKIE}_{state}")
    }

    /// The names of the flow cookies the browser sent.
    fn presented(req: &HttpRequest) -> Vec<String> {
        let prefix = format!("{FLOW_COOKIE}_");
        req.cookies()
            .map(|cookies| {
                cookies
                    .iter()
                    .filter(|cookie| cookie.name().starts_with(&prefix))
                    .map(|cookie| cookie.name().to_owned())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The flow of `state`, from the browser's cookie; `None` when there is none or it is
    /// malformed.
    fn from_cookie(req: &HttpRequest, state: &str) -> Option<Self> {
        let valid_state = state.len() == 22
            && state
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        let cookie = req
            .cookie(&Self::cookie_name(state))
            .filter(|_| valid_state)?;
        let (verifier, rd) = cookie.value().split_once('.')?;
        let rd = String::from_utf8(URL_SAFE_NO_PAD.decode(rd).ok()?).ok()?;
        Some(Self {
            state: state.to_owned(),
            verifier: verifier.to_owned(),
            rd: ReturnPath::parse(&rd)?,
        })
    }

    fn challenge(&self) -> String {
        URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, self.verifier.as_bytes()))
    }

    fn cookie(&self) -> Cookie<'static> {
        let value = format!(
            "{}.{}",
            self.verifier,
            URL_SAFE_NO_PAD.encode(self.rd.as_str())
        );
        let mut cookie = host_cookie(Self::cookie_name(&self.state), value, PROXIED_PREFIX);
        cookie.set_max_age(FLOW_LIFETIME);
        cookie
    }

    fn removal(&self) -> Cookie<'static> {
        Self::removal_of(Self::cookie_name(&self.state))
    }

    fn removal_of(name: String) -> Cookie<'static> {
        let mut cookie = host_cookie(name, String::new(), PROXIED_PREFIX);
        cookie.set_max_age(CookieDuration::ZERO);
        cookie
    }
}

/// Whether the browser says the request is not a page load (an image, a script, `fetch`):
/// `Sec-Fetch-Mode` other than `navigate`. Browsers that do not send it count as page loads.
fn not_a_navigation(req: &HttpRequest) -> bool {
    req.headers()
        .get("sec-fetch-mode")
        .is_some_and(|mode| mode.as_bytes() != b"navigate")
}

/// A cookie for the protected host only: no `Domain`, so no other host (not even a
/// subdomain) receives it; `HttpOnly; Secure; SameSite=Lax`.
fn host_cookie(name: String, value: String, path: &str) -> Cookie<'static> {
    Cookie::build(name, value)
        .path(path.to_owned())
        .http_only(true)
        .secure(true)
        .same_site(SameSite::Lax)
        .finish()
}

/// `GET /forward-auth/start?rd=/path`
pub async fn start(
    req: HttpRequest,
    query: web::Query<StartQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Page<ForwardAuthError>> {
    handle_start(&req, &query, &state)
        .await
        .map_err(|error| Page::new(&req, error))
}

async fn handle_start(
    req: &HttpRequest,
    query: &StartQuery,
    state: &AppState,
) -> Result<HttpResponse, ForwardAuthError> {
    let (forwarded, entry) = protected_host(req, state).await?;
    if not_a_navigation(req) {
        return Err(ForwardAuthError::NotANavigation);
    }
    let rd = match query.rd.as_deref() {
        None | Some("") => ReturnPath::root(),
        Some(text) => ReturnPath::parse(text).ok_or(ForwardAuthError::BadReturnPath)?,
    };
    let flow = Flow::new(rd);
    let authorize = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("response_type", "code")
        .append_pair("client_id", entry.client_id().as_str())
        .append_pair("redirect_uri", &forwarded.url(CALLBACK_PATH))
        .append_pair("scope", "openid")
        .append_pair("state", &flow.state)
        .append_pair("code_challenge", &flow.challenge())
        .append_pair("code_challenge_method", "S256")
        .finish();
    let mut response = webutil::see_other(&format!("{}/authorize?{authorize}", state.issuer));
    let pending = Flow::presented(req);
    let stale = if pending.len() >= MAX_PENDING_FLOWS {
        pending
    } else {
        Vec::new()
    };
    for cookie in stale
        .into_iter()
        .map(Flow::removal_of)
        .chain([flow.cookie()])
    {
        response
            .add_cookie(&cookie)
            .map_err(|e| anyhow::anyhow!("cannot set the sign-in cookie: {e}"))?;
    }
    Ok(response)
}

/// `GET /forward-auth/callback?code=…&state=…`
pub async fn callback(
    req: HttpRequest,
    query: web::Query<CallbackQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Page<ForwardAuthError>> {
    handle_callback(&req, &query, &state)
        .await
        .map_err(|error| Page::new(&req, error))
}

async fn handle_callback(
    req: &HttpRequest,
    query: &CallbackQuery,
    state: &AppState,
) -> Result<HttpResponse, ForwardAuthError> {
    let (forwarded, entry) = protected_host(req, state).await?;
    let flow = query
        .state
        .as_deref()
        .and_then(|given| Flow::from_cookie(req, given))
        .ok_or(ForwardAuthError::BadState)?;
    let code = query.code.as_deref().ok_or(ForwardAuthError::BadState)?;
    let grant = state
        .codes
        .redeem(code)
        .await?
        .ok_or(ForwardAuthError::BadState)?;
    let client_id = entry.client_id();
    let verifier = CodeVerifier::parse(&flow.verifier).ok_or(ForwardAuthError::BadState)?;
    let bound = grant.client_id == client_id.as_str()
        && grant.redirect_uri == forwarded.url(CALLBACK_PATH)
        && grant
            .code_challenge
            .as_ref()
            .is_some_and(|challenge| challenge.matches(&verifier));
    if !bound {
        return Err(ForwardAuthError::BadState);
    }
    if !state
        .sessions
        .register_client(&grant.sid, &client_id)
        .await?
    {
        return Err(ForwardAuthError::BadState);
    }
    let user = state
        .users
        .get(&grant.user_id)
        .await?
        .filter(|user| !user.disabled)
        .ok_or(ForwardAuthError::NotActive)?;
    let groups = state.users.groups(&user.id).await?;
    let sessions = &state.forward_auth.sessions;
    let key = sessions
        .create(&forwarded.host, &user, &groups, &grant.sid, entry.expiry)
        .await?;
    // The global session may have ended since it registered us, and its end deleted only the
    // forward-auth sessions that existed then.
    if !state.sessions.is_live(&grant.sid).await? {
        sessions.delete(key.as_str()).await?;
        return Err(ForwardAuthError::BadState);
    }
    tracing::info!(
        host = forwarded.host.as_str(),
        username = user.username,
        sid = grant.sid,
        "forward-auth sign-in"
    );
    let mut response = webutil::see_other(flow.rd.as_str());
    let cookie = host_cookie(SESSION_COOKIE.to_owned(), key.as_str().to_owned(), "/");
    for cookie in [cookie, flow.removal()] {
        response
            .add_cookie(&cookie)
            .map_err(|e| anyhow::anyhow!("cannot set the forward-auth cookie: {e}"))?;
    }
    Ok(response)
}
