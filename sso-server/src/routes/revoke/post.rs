//! `POST /revoke`: token revocation (RFC 7009) of refresh tokens and access tokens of either
//! format.
//!
//! The caller authenticates as at `/token` (a public client with its `client_id`) and may
//! revoke only tokens issued to it; a token of another client is refused with
//! `invalid_grant` and stays live. Revoking a refresh token revokes its whole family: the
//! refresh token and every access token of the grant. Revoking an access token revokes that
//! token only. A token that is unknown, expired or already revoked is answered 200 like a
//! revoked one (RFC 7009 §2.2). `token_type_hint` is accepted and not needed: the form of a
//! token tells its kind.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use serde::Deserialize;

use crate::error::{oauth_error, oauth_server_error};
use crate::routes::client_auth::{self, ClientAuthError};
use crate::state::AppState;
use crate::tokens::refresh::Revocation;
use crate::tokens::{RefreshTokens, jwt};
use crate::web as webutil;

/// Why a revocation request fails.
#[derive(Debug, thiserror::Error)]
pub enum RevokeError {
    #[error("invalid_request: {0}")]
    InvalidRequest(&'static str),
    #[error(transparent)]
    Client(#[from] ClientAuthError),
    /// The token was issued to another client.
    #[error("invalid_grant")]
    OtherClient,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl ResponseError for RevokeError {
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
            Self::OtherClient => oauth_error(
                status,
                "invalid_grant",
                "the token was issued to another client",
                None,
            ),
            Self::Unexpected(error) => oauth_server_error(error),
        }
    }
}

/// The revocation request.
#[derive(Deserialize)]
pub struct RevokeForm {
    token: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

impl std::fmt::Debug for RevokeForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RevokeForm")
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

/// `POST /revoke`
pub async fn revoke(
    req: HttpRequest,
    form: web::Form<RevokeForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, RevokeError> {
    let form = form.into_inner();
    let client = client_auth::authenticate(
        &req,
        form.client_id.as_deref(),
        form.client_secret.as_deref(),
        &state,
    )
    .await?;
    let token = form
        .token
        .as_deref()
        .map(str::trim)
        .filter(|token| !token.is_empty())
        .ok_or(RevokeError::InvalidRequest("token is missing"))?;
    let client_id = client.id.as_str();
    let revoked = if RefreshTokens::looks_like(token) {
        match state.refresh_tokens.revoke(token, client_id).await? {
            Revocation::Unknown => true,
            Revocation::OtherClient => false,
            Revocation::Revoked(family) => {
                // The family's JWT access tokens cannot be deleted: mark them.
                state.jwt_revocations.revoke_grant(&family).await?;
                true
            }
        }
    } else if jwt::looks_like(token) {
        match jwt::verify(&state.keys, &state.issuer, token) {
            Some(claims) if claims.client_id != client_id => false,
            Some(claims) => {
                state.jwt_revocations.revoke_token(&claims).await?;
                true
            }
            None => true,
        }
    } else {
        state.access_tokens.revoke(token, client_id).await?
    };
    if !revoked {
        tracing::info!(
            client = client_id,
            "refused to revoke another client's token"
        );
        return Err(RevokeError::OtherClient);
    }
    Ok(webutil::no_store(&mut HttpResponse::Ok()).finish())
}
