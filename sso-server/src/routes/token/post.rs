//! `POST /token`: the code exchange.
//!
//! The client authenticates with `client_secret_basic` or `client_secret_post` (public clients
//! send only `client_id` and must have used PKCE). The code is taken from the store atomically,
//! so it works once; a second use fails and revokes the access token the first use issued.
//! Every binding of the code is checked: client, exact redirect_uri, PKCE verifier, and that
//! its global session is still live. On success the client is registered in that session,
//! which is what makes it receive single logout.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use serde::{Deserialize, Serialize};

use crate::domain::CodeVerifier;
use crate::error::{oauth_error, oauth_server_error};
use crate::routes::client_auth::{self, ClientAuthError};
use crate::state::AppState;
use crate::tokens::{AccessGrant, IdTokenClaims, grants_groups};
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
        match self {
            Self::InvalidRequest(description) => {
                oauth_error(status, "invalid_request", description, None)
            }
            Self::Client(error) => error.error_response(),
            Self::Unexpected(error) => oauth_server_error(error),
            Self::InvalidGrant(description) => {
                oauth_error(status, "invalid_grant", description, None)
            }
            Self::UnsupportedGrantType => oauth_error(
                status,
                "unsupported_grant_type",
                "only authorization_code is supported",
                None,
            ),
        }
    }
}

/// The token request.
#[derive(Deserialize)]
pub struct TokenForm {
    grant_type: Option<String>,
    code: Option<String>,
    redirect_uri: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    code_verifier: Option<String>,
}

impl std::fmt::Debug for TokenForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenForm")
            .field("grant_type", &self.grant_type)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

/// A successful token response.
#[derive(Serialize)]
struct TokenResponse {
    access_token: String,
    token_type: &'static str,
    expires_in: u64,
    id_token: String,
    scope: String,
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
    if form.grant_type.as_deref() != Some("authorization_code") {
        return Err(TokenError::UnsupportedGrantType);
    }
    let code = form
        .code
        .as_deref()
        .ok_or(TokenError::InvalidRequest("code is missing"))?;
    let Some(grant) = state.codes.redeem(code).await? else {
        let revoked = state.access_tokens.revoke_for_code(code).await?;
        if revoked > 0 {
            tracing::warn!(
                client = client.id.as_str(),
                revoked,
                "authorization code replayed; revoked the tokens it issued"
            );
        }
        return Err(TokenError::InvalidGrant(
            "the code is invalid, expired or already used",
        ));
    };
    if grant.client_id != client.id.as_str() {
        return Err(TokenError::InvalidGrant(
            "the code was issued to another client",
        ));
    }
    if form.redirect_uri.as_deref() != Some(grant.redirect_uri.as_str()) {
        return Err(TokenError::InvalidGrant("redirect_uri does not match"));
    }
    if let Some(challenge) = &grant.code_challenge {
        let verifier = form
            .code_verifier
            .as_deref()
            .and_then(CodeVerifier::parse)
            .ok_or(TokenError::InvalidGrant(
                "code_verifier is missing or malformed",
            ))?;
        if !challenge.matches(&verifier) {
            return Err(TokenError::InvalidGrant("code_verifier does not match"));
        }
    }
    if !state
        .sessions
        .register_client(&grant.sid, &client.id)
        .await?
    {
        return Err(TokenError::InvalidGrant("the session has ended"));
    }
    let user = state
        .users
        .get(&grant.user_id)
        .await?
        .filter(|user| !user.disabled)
        .ok_or(TokenError::InvalidGrant("the user is not active"))?;
    let access_token = state
        .access_tokens
        .issue(
            &AccessGrant {
                user_id: user.id.clone(),
                client_id: client.id.as_str().to_owned(),
                sid: grant.sid.clone(),
                scope: grant.scope.clone(),
            },
            code,
        )
        .await?;
    let groups = if grants_groups(&grant.scope) {
        let groups = state.users.groups(&user.id).await?;
        Some(groups.into_iter().map(String::from).collect())
    } else {
        None
    };
    let now = jsonwebtoken::get_current_timestamp();
    let claims = IdTokenClaims {
        iss: state.issuer.to_string(),
        sub: user.id,
        aud: client.id.as_str().to_owned(),
        exp: now + state.settings.tokens.id_token_ttl().as_secs(),
        iat: now,
        auth_time: grant.auth_time,
        nonce: grant.nonce,
        sid: grant.sid,
        name: user.name,
        email: user.email,
        preferred_username: user.username,
        groups,
    };
    let id_token = state.keys.sign(client.id_token_alg, "JWT", &claims)?;
    tracing::info!(
        client = client.id.as_str(),
        sid = claims.sid,
        "code exchanged"
    );
    Ok(
        webutil::no_store(&mut HttpResponse::Ok()).json(TokenResponse {
            access_token: access_token.as_str().to_owned(),
            token_type: "Bearer",
            expires_in: state.access_tokens.ttl().as_secs(),
            id_token,
            scope: grant.scope,
        }),
    )
}
