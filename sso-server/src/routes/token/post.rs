//! `POST /token`: authenticates the client, checks that it may use the grant type it asks
//! for (its [`TokenPolicy`](crate::clients::TokenPolicy)), and hands over to the grant:
//! [`code`](super::code), [`refresh`](super::refresh) or
//! [`client_credentials`](super::client_credentials).
//!
//! The client authenticates with `client_secret_basic` or `client_secret_post` (public clients
//! send only `client_id`). Errors are RFC 6749 §5.2 JSON, never a 5xx for bad input.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use serde::{Deserialize, Serialize};

use crate::clients::Client;
use crate::config::{AccessTokenFormat, GrantType};
use crate::error::{oauth_error, oauth_server_error};
use crate::routes::client_auth::{self, ClientAuthError};
use crate::state::AppState;
use crate::tokens::jwt::{self, JwtAccessClaims};
use crate::tokens::{AccessGrant, IdTokenClaims, grants_groups};
use crate::users::User;
use crate::web as webutil;

/// Why a token request fails, in RFC 6749 §5.2 terms.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("invalid_request: {0}")]
    InvalidRequest(&'static str),
    /// Client authentication failed (or the request for it was malformed).
    #[error(transparent)]
    Client(#[from] ClientAuthError),
    #[error("invalid_grant: {0}")]
    InvalidGrant(&'static str),
    #[error("unauthorized_client: {0}")]
    UnauthorizedClient(&'static str),
    #[error("invalid_scope: {0}")]
    InvalidScope(&'static str),
    #[error("unsupported_grant_type")]
    UnsupportedGrantType,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl ResponseError for TokenError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Client(error) => error.status_code(),
            Self::Unexpected(_) => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        let (error, description) = match self {
            Self::Client(error) => return error.error_response(),
            Self::Unexpected(error) => return oauth_server_error(error),
            Self::InvalidRequest(description) => ("invalid_request", *description),
            Self::InvalidGrant(description) => ("invalid_grant", *description),
            Self::UnauthorizedClient(description) => ("unauthorized_client", *description),
            Self::InvalidScope(description) => ("invalid_scope", *description),
            Self::UnsupportedGrantType => (
                "unsupported_grant_type",
                "supported: authorization_code, refresh_token, client_credentials",
            ),
        };
        oauth_error(status, error, description, None)
    }
}

/// The token request, every grant's parameters.
#[derive(Deserialize)]
pub struct TokenForm {
    pub(super) grant_type: Option<String>,
    pub(super) code: Option<String>,
    pub(super) redirect_uri: Option<String>,
    pub(super) client_id: Option<String>,
    pub(super) client_secret: Option<String>,
    pub(super) code_verifier: Option<String>,
    pub(super) refresh_token: Option<String>,
    pub(super) scope: Option<String>,
}

impl TokenForm {
    /// The requested scope; an empty one counts as none (RFC 6749 §6: the scope granted).
    pub(super) fn scope(&self) -> Option<&str> {
        self.scope
            .as_deref()
            .filter(|scope| !scope.trim().is_empty())
    }
}

impl std::fmt::Debug for TokenForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenForm")
            .field("grant_type", &self.grant_type)
            .field("client_id", &self.client_id)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

/// A successful token response.
#[derive(Serialize)]
pub(super) struct TokenResponse {
    pub(super) access_token: String,
    pub(super) token_type: &'static str,
    pub(super) expires_in: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) refresh_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) id_token: Option<String>,
    pub(super) scope: String,
}

impl TokenResponse {
    /// The response, never cached.
    pub(super) fn into_response(self) -> HttpResponse {
        webutil::no_store(&mut HttpResponse::Ok()).json(self)
    }
}

/// `POST /token`
pub async fn token(
    req: HttpRequest,
    form: web::Form<TokenForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, TokenError> {
    let form = form.into_inner();
    let client = client_auth::authenticate(
        &req,
        form.client_id.as_deref(),
        form.client_secret.as_deref(),
        &state,
    )
    .await?;
    let grant_type = form
        .grant_type
        .as_deref()
        .ok_or(TokenError::InvalidRequest("grant_type is missing"))?;
    let grant_type = GrantType::parse(grant_type).ok_or(TokenError::UnsupportedGrantType)?;
    if !client.tokens.allows(grant_type) {
        return Err(TokenError::UnauthorizedClient(
            "the client is not allowed this grant type",
        ));
    }
    match grant_type {
        GrantType::AuthorizationCode => super::code::exchange(&form, &client, &state).await,
        GrantType::RefreshToken => super::refresh::refresh(&form, &client, &state).await,
        GrantType::ClientCredentials => {
            super::client_credentials::grant(&form, &client, &state).await
        }
    }
}

/// A new access token for `grant`, in the form `client` asked for: an opaque handle, or a JWT
/// signed with the client's algorithm.
///
/// # Errors
/// When the store fails or signing fails.
pub(super) async fn access_token(
    state: &AppState,
    client: &Client,
    grant: &AccessGrant,
) -> anyhow::Result<String> {
    match client.tokens.access_token_format {
        AccessTokenFormat::Opaque => {
            Ok(state.access_tokens.issue(grant).await?.as_str().to_owned())
        }
        AccessTokenFormat::Jwt => {
            let claims = JwtAccessClaims::new(&state.issuer, grant, state.access_tokens.ttl());
            state.keys.sign(client.id_token_alg, jwt::TYP, &claims)
        }
    }
}

/// What an id token says about the authentication behind it.
pub(super) struct Authentication {
    pub(super) sid: String,
    pub(super) auth_time: u64,
    pub(super) amr: Vec<String>,
    pub(super) nonce: Option<String>,
}

/// A signed id token for `user` at `client`, with the claims `scope` grants; the groups are
/// `known_groups` when given, else read from the database.
///
/// # Errors
/// When the database fails or signing fails.
pub(super) async fn id_token(
    state: &AppState,
    client: &Client,
    user: User,
    known_groups: Option<Vec<String>>,
    authentication: Authentication,
    scope: &str,
) -> anyhow::Result<String> {
    let groups = match known_groups {
        _ if !grants_groups(scope) => None,
        Some(groups) => Some(groups),
        None => {
            let groups = state.users.groups(&user.id).await?;
            Some(groups.into_iter().map(String::from).collect())
        }
    };
    let now = jsonwebtoken::get_current_timestamp();
    let claims = IdTokenClaims {
        iss: state.issuer.to_string(),
        sub: user.id,
        aud: client.id.as_str().to_owned(),
        exp: now + state.settings.tokens.id_token_ttl().as_secs(),
        iat: now,
        auth_time: authentication.auth_time,
        acr: (!authentication.amr.is_empty())
            .then(|| crate::factors::acr(&authentication.amr).to_owned()),
        amr: authentication.amr,
        nonce: authentication.nonce,
        sid: authentication.sid,
        name: user.name,
        email: user.email,
        preferred_username: user.username,
        groups,
    };
    state.keys.sign(client.id_token_alg, "JWT", &claims)
}
