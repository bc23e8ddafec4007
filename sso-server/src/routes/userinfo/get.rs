//! `GET|POST /userinfo`

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use serde::Serialize;

use crate::error::{oauth_error, oauth_server_error};
use crate::state::{ActiveToken, AppState};
use crate::tokens::grants_groups;
use crate::web::{self as webutil, Authorization};

/// Why a userinfo request fails (RFC 6750 §3).
#[derive(Debug, thiserror::Error)]
pub enum UserinfoError {
    #[error("invalid_token")]
    InvalidToken,
    #[error("more than one Authorization header")]
    Ambiguous,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl ResponseError for UserinfoError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::InvalidToken => StatusCode::UNAUTHORIZED,
            Self::Ambiguous => StatusCode::BAD_REQUEST,
            Self::Unexpected(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            Self::InvalidToken => oauth_error(
                self.status_code(),
                "invalid_token",
                "the access token is not valid",
                Some("Bearer error=\"invalid_token\""),
            ),
            Self::Ambiguous => oauth_error(
                self.status_code(),
                "invalid_request",
                "more than one Authorization header",
                None,
            ),
            Self::Unexpected(error) => oauth_server_error(error),
        }
    }
}

#[derive(Serialize)]
struct UserInfo {
    sub: String,
    name: String,
    email: String,
    preferred_username: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    groups: Option<Vec<String>>,
}

/// Answers for an active access token of a user, opaque or JWT (see
/// [`AppState::active_token`]).
pub async fn userinfo(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, UserinfoError> {
    let Some(Authorization::Bearer(token)) =
        webutil::authorization(&req).map_err(|_| UserinfoError::Ambiguous)?
    else {
        return Err(UserinfoError::InvalidToken);
    };
    // A token without a user (client_credentials) has nobody to describe.
    let Some(ActiveToken {
        live,
        user: Some(user),
        groups: known_groups,
    }) = state.active_token(token).await?
    else {
        return Err(UserinfoError::InvalidToken);
    };
    let groups = match known_groups {
        _ if !grants_groups(&live.grant.scope) => None,
        Some(groups) => Some(groups),
        None => {
            let groups = state.users.groups(&user.id).await?;
            Some(groups.into_iter().map(String::from).collect())
        }
    };
    Ok(webutil::no_store(&mut HttpResponse::Ok()).json(UserInfo {
        sub: user.id,
        name: user.name,
        email: user.email,
        preferred_username: user.username,
        groups,
    }))
}
