//! `/logout`: RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0).
//!
//! The global session of the browser ends at once only when `id_token_hint` is a valid id_token
//! of that very session (its `sid`). A hint of another session — another user's, or an earlier
//! one of this browser, however old — or no hint at all makes the user confirm with a
//! CSRF-protected form bound to the session, so a link or a third-party page cannot sign anyone
//! out. A browser without a session has nothing to end and is not asked. The user is sent to
//! `post_logout_redirect_uri` only if it is registered for the client named by the hint or
//! `client_id`; otherwise a "signed out" page is shown. Single logout to the other clients is
//! queued, never awaited.

pub mod get;
pub mod post;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use crate::csrf::Binding;
use crate::domain::{ClientId, RedirectUri};
use crate::error::PageError;
use crate::i18n::Texts;
use crate::slo::EndReason;
use crate::state::AppState;
use crate::web as webutil;

/// Parameters of a logout request, in the query (GET) or the form (POST).
#[derive(Clone, Debug, Default, Deserialize)]
pub struct LogoutParams {
    pub id_token_hint: Option<String>,
    pub post_logout_redirect_uri: Option<String>,
    pub client_id: Option<String>,
    pub state: Option<String>,
    pub csrf_token: Option<String>,
}

/// The parts of an id_token the logout needs.
#[derive(Deserialize)]
struct Hint {
    aud: String,
    sid: Option<String>,
}

/// Why a logout request gets an error page.
#[derive(Debug, thiserror::Error)]
pub enum LogoutError {
    #[error("id_token_hint is not a valid id_token of this center")]
    BadHint,
    #[error("post_logout_redirect_uri is not registered for the client")]
    BadRedirectUri,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl PageError for LogoutError {
    fn status(&self) -> StatusCode {
        match self {
            Self::BadHint | Self::BadRedirectUri => StatusCode::BAD_REQUEST,
            Self::Unexpected(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn unavailable(&self) -> bool {
        matches!(self, Self::Unexpected(error) if crate::db::is_unreachable(error))
    }

    fn message(&self, t: &'static Texts) -> &'static str {
        match self {
            Self::BadHint => t.bad_request,
            Self::BadRedirectUri => t.bad_post_logout_redirect_uri,
            Self::Unexpected(_) => t.internal_error,
        }
    }
}

#[derive(Template)]
#[template(path = "sso/logout.html")]
struct ConfirmPage<'a> {
    lang: &'a str,
    t: &'a Texts,
    csrf_token: &'a str,
    post_logout_redirect_uri: Option<&'a str>,
    client_id: Option<&'a str>,
    state: Option<&'a str>,
}

/// How a logout request arrived.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Via {
    /// A link or a redirect (`GET`): confirmed only by a matching hint.
    Link,
    /// A form post: also confirmed by the CSRF token of the confirmation form.
    Form,
}

/// Ends the browser's session if the request is confirmed (a hint of that session, or the
/// CSRF token of the confirmation form); otherwise asks.
async fn handle(
    req: &HttpRequest,
    params: LogoutParams,
    state: &AppState,
    via: Via,
) -> Result<HttpResponse, LogoutError> {
    let hint = match params.id_token_hint.as_deref() {
        Some(token) => Some(
            state
                .keys
                .verify::<Hint>(token, &state.issuer, false)
                .map_err(|_| LogoutError::BadHint)?,
        ),
        None => None,
    };
    let client_id = match (&hint, params.client_id.as_deref()) {
        (Some(hint), Some(given)) if hint.aud != given => return Err(LogoutError::BadHint),
        (Some(hint), _) => Some(hint.aud.as_str()),
        (None, given) => given,
    };
    let target = match params.post_logout_redirect_uri.as_deref() {
        Some(uri) => {
            let client = match client_id.and_then(ClientId::parse) {
                Some(id) => state.clients.get(&id).await?,
                None => None,
            };
            let uri = client
                .as_ref()
                .and_then(|client| client.post_logout_redirect_uri(uri))
                .cloned()
                .ok_or(LogoutError::BadRedirectUri)?;
            Some(uri)
        }
        None => None,
    };
    let cookie_name = &state.settings.session.cookie_name;
    let cookie = req.cookie(cookie_name);
    let current = match &cookie {
        Some(cookie) => state.sessions.current(cookie.value()).await?,
        None => None,
    };
    if let (Some(session), Some(cookie)) = (current, &cookie) {
        let binding = Binding::Session(cookie.value());
        let hinted = hint
            .as_ref()
            .is_some_and(|hint| hint.sid.as_deref() == Some(session.sid.as_str()));
        let confirmed = via == Via::Form
            && state
                .csrf
                .verify(req, binding, params.csrf_token.as_deref());
        if !hinted && !confirmed {
            return Ok(confirm(req, state, binding, &params));
        }
        state.sessions.end(&session.sid, EndReason::Logout).await?;
    }
    let mut response = match target {
        Some(uri) => redirect(&uri, params.state.as_deref()),
        None => {
            let (_, t) = webutil::language(req);
            webutil::message(req, StatusCode::OK, t.signed_out_title, t.signed_out)
        }
    };
    response
        .add_removal_cookie(&webutil::removal(cookie_name))
        .map_err(|e| anyhow::anyhow!("cannot clear session cookie: {e}"))?;
    Ok(response)
}

fn redirect(uri: &RedirectUri, state: Option<&str>) -> HttpResponse {
    let location = match state {
        Some(state) => uri.with_query(&[("state", state)]),
        None => uri.as_str().to_owned(),
    };
    webutil::see_other(&location)
}

fn confirm(
    req: &HttpRequest,
    state: &AppState,
    binding: Binding<'_>,
    params: &LogoutParams,
) -> HttpResponse {
    let (language, t) = webutil::language(req);
    let (csrf_token, cookie) = state.csrf.token(req, binding);
    let mut response = webutil::page(
        StatusCode::OK,
        &ConfirmPage {
            lang: language.tag(),
            t,
            csrf_token: &csrf_token,
            post_logout_redirect_uri: params.post_logout_redirect_uri.as_deref(),
            client_id: params.client_id.as_deref(),
            state: params.state.as_deref(),
        },
    );
    if let Some(cookie) = cookie
        && let Err(error) = response.add_cookie(&cookie)
    {
        tracing::error!(%error, "cannot set CSRF cookie");
    }
    response
}
