//! `GET /authorize`
//!
//! Until the client and its redirect URI are known to be registered, every error is a page,
//! never a redirect (no open redirector). After that, protocol errors go back to the client as
//! `error=…&state=…` on its redirect URI. With a live global session the code is issued at once
//! (single sign-on); without one, or with `prompt=login`, the login form is shown.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use super::AuthorizeQuery;
use crate::authorization_code::CodeGrant;
use crate::clients::Client;
use crate::domain::{ClientId, CodeChallenge, RedirectUri};
use crate::error::{Page, PageError};
use crate::factors;
use crate::i18n::Texts;
use crate::routes::login::factor::step_up_location;
use crate::routes::login::get::render_login;
use crate::state::AppState;
use crate::web as webutil;

/// Why an authorization request gets an error page.
#[derive(Debug, thiserror::Error)]
pub enum AuthorizeError {
    #[error("unknown or missing client_id")]
    UnknownClient,
    #[error("redirect_uri is missing or not registered for the client")]
    BadRedirectUri,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl PageError for AuthorizeError {
    fn status(&self) -> StatusCode {
        match self {
            Self::UnknownClient | Self::BadRedirectUri => StatusCode::BAD_REQUEST,
            Self::Unexpected(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn unavailable(&self) -> bool {
        matches!(self, Self::Unexpected(error) if crate::db::is_unreachable(error))
    }

    fn message(&self, t: &'static Texts) -> &'static str {
        match self {
            Self::UnknownClient => t.unknown_client,
            Self::BadRedirectUri => t.bad_redirect_uri,
            Self::Unexpected(_) => t.internal_error,
        }
    }
}

/// `GET /authorize`
pub async fn authorize(
    req: HttpRequest,
    query: web::Query<AuthorizeQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Page<AuthorizeError>> {
    handle(&req, &query, &state)
        .await
        .map_err(|error| Page::new(&req, error))
}

/// A registered client and one of its registered redirect URIs.
async fn registered_target(
    state: &AppState,
    query: &AuthorizeQuery,
) -> Result<(Client, RedirectUri), AuthorizeError> {
    let client_id = query
        .client_id
        .as_deref()
        .and_then(ClientId::parse)
        .ok_or(AuthorizeError::UnknownClient)?;
    let protected_host = state
        .forward_auth
        .hosts
        .client(&client_id, query.redirect_uri.as_deref())
        .await?;
    let client = match protected_host {
        Some(client) => client,
        None => state
            .clients
            .get(&client_id)
            .await?
            .ok_or(AuthorizeError::UnknownClient)?,
    };
    let redirect_uri = query
        .redirect_uri
        .as_deref()
        .and_then(|uri| client.redirect_uri(uri))
        .cloned()
        .ok_or(AuthorizeError::BadRedirectUri)?;
    Ok((client, redirect_uri))
}

async fn handle(
    req: &HttpRequest,
    query: &AuthorizeQuery,
    state: &AppState,
) -> Result<HttpResponse, AuthorizeError> {
    let (client, redirect_uri) = registered_target(state, query).await?;
    let reply = Reply {
        redirect_uri: &redirect_uri,
        state: query.state.as_deref(),
        issuer: &state.issuer,
    };
    if query.response_type.as_deref() != Some("code") {
        return Ok(reply.error(
            "unsupported_response_type",
            "only response_type=code is supported",
        ));
    }
    let scope = query.scope.clone().unwrap_or_default();
    if !scope.split(' ').any(|s| s == "openid") {
        return Ok(reply.error("invalid_scope", "scope must include openid"));
    }
    let code_challenge = match (
        query.code_challenge.as_deref(),
        query.code_challenge_method.as_deref(),
    ) {
        (None, _) if client.is_public() => {
            return Ok(reply.error("invalid_request", "PKCE is required for public clients"));
        }
        (None, _) => None,
        (Some(challenge), Some("S256")) => match CodeChallenge::parse(challenge) {
            Some(challenge) => Some(challenge),
            None => return Ok(reply.error("invalid_request", "malformed code_challenge")),
        },
        (Some(_), _) => {
            return Ok(reply.error("invalid_request", "code_challenge_method must be S256"));
        }
    };
    if query.nonce.as_ref().is_some_and(|n| n.len() > 512)
        || query.state.as_ref().is_some_and(|s| s.len() > 2048)
    {
        return Ok(reply.error("invalid_request", "state or nonce is too long"));
    }
    let max_age = match query.max_age.as_deref().map(str::parse::<u64>) {
        None => None,
        Some(Ok(seconds)) => Some(seconds),
        Some(Err(_)) => {
            return Ok(reply.error("invalid_request", "max_age must be a number of seconds"));
        }
    };
    if query.acr_values.as_ref().is_some_and(|v| v.len() > 512) {
        return Ok(reply.error("invalid_request", "acr_values is too long"));
    }
    let prompt = query.prompt.as_deref().unwrap_or("");
    let prompts: Vec<&str> = prompt.split(' ').filter(|p| !p.is_empty()).collect();
    if prompts.contains(&"none") && prompts.len() > 1 {
        return Ok(reply.error("invalid_request", "prompt=none cannot be combined"));
    }
    let session = match req.cookie(&state.settings.session.cookie_name) {
        Some(cookie) => state.sessions.current(cookie.value()).await?,
        None => None,
    };
    // A session older than `max_age` signs in again (OpenID Connect Core §3.1.2.1).
    let now = session_store::Timestamp::now().as_secs();
    let too_old = |session: &crate::sessions::GlobalSession| {
        max_age.is_some_and(|max_age| now.saturating_sub(session.auth_time) > max_age)
    };
    let session = match session {
        Some(session) if !prompts.contains(&"login") && !too_old(&session) => session,
        _ if prompts.contains(&"none") => {
            return Ok(reply.error("login_required", "the user is not signed in"));
        }
        _ => {
            return Ok(render_login(
                req,
                &state.csrf,
                StatusCode::OK,
                Some(&client.name),
                None,
                "",
                &query.return_query(),
            ));
        }
    };
    // A client that requires a second factor, or a request that asks for one, needs a
    // session that gave one: the user gives it now (a step-up), or enrolls first when the
    // client requires one and they have none. A request that only asks for it, of a user
    // without a factor, gets what the session has (`acr` says which).
    let required = state.factors.required(client.tokens.mfa);
    if (required || factors::asks_for_mfa(query.acr_values.as_deref()))
        && !session.has_second_factor()
    {
        let enrolled = state.factors.has_any(&session.user_id).await?;
        if enrolled || required {
            if prompts.contains(&"none") {
                return Ok(reply.error(
                    "interaction_required",
                    "a second factor is required to continue",
                ));
            }
            let return_to = query.return_query();
            return Ok(webutil::see_other(&step_up_location(&return_to)));
        }
    }
    let grant = CodeGrant {
        client_id: client.id.as_str().to_owned(),
        redirect_uri: redirect_uri.as_str().to_owned(),
        code_challenge,
        nonce: query.nonce.clone(),
        scope,
        sid: session.sid,
        user_id: session.user_id,
        auth_time: session.auth_time,
        amr: session.amr,
    };
    let code = state.codes.issue(&grant).await?;
    crate::metrics::code(crate::metrics::Code::Issued);
    Ok(reply.success(code.as_str()))
}

/// Answers that go back to the client's registered redirect URI.
struct Reply<'a> {
    redirect_uri: &'a RedirectUri,
    state: Option<&'a str>,
    issuer: &'a str,
}

impl Reply<'_> {
    fn redirect<'s>(&'s self, mut params: Vec<(&'s str, &'s str)>) -> HttpResponse {
        if let Some(state) = self.state {
            params.push(("state", state));
        }
        params.push(("iss", self.issuer));
        webutil::see_other(&self.redirect_uri.with_query(&params))
    }

    fn error<'s>(&'s self, error: &'s str, description: &'s str) -> HttpResponse {
        self.redirect(vec![("error", error), ("error_description", description)])
    }

    fn success<'s>(&'s self, code: &'s str) -> HttpResponse {
        self.redirect(vec![("code", code)])
    }
}
