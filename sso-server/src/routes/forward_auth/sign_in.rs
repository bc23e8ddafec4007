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
        let mut cookie = host_cookie(
            Self::cookie_name(&self.state),
            String::new(),
            PROXIED_PREFIX,
        );
        cookie.set_max_age(CookieDuration::ZERO);
        cookie
    }
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
    response
        .add_cookie(&flow.cookie())
        .map_err(|e| anyhow::anyhow!("cannot set the sign-in cookie: {e}"))?;
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
