//! `POST /token`: the code exchange.
//!
//! The client authenticates with `client_secret_basic` or `client_secret_post` (public clients
//! send only `client_id` and must have used PKCE). The code is taken from the store atomically,
//! so it works once; a second use fails and revokes the access token the first use issued.
//! Every binding of the code is checked: client, exact redirect_uri, PKCE verifier, and that
//! its global session is still live. On success the client is registered in that session,
//! which is what makes it receive single logout.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::clients::Client;
use crate::domain::{ClientId, CodeVerifier};
use crate::error::{oauth_error, oauth_server_error};
use crate::state::AppState;
use crate::tokens::{AccessGrant, IdTokenClaims};
use crate::web as webutil;

/// Why a token request fails, in RFC 6749 §5.2 terms.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("invalid_request: {0}")]
    InvalidRequest(&'static str),
    /// Client authentication failed; `basic` when the client tried HTTP Basic.
    #[error("invalid_client")]
    InvalidClient { basic: bool },
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
            Self::InvalidClient { .. } => StatusCode::UNAUTHORIZED,
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
            Self::InvalidClient { basic } => oauth_error(
                status,
                "invalid_client",
                "client authentication failed",
                basic.then_some("Basic realm=\"sso\""),
            ),
            Self::InvalidGrant(description) => {
                oauth_error(status, "invalid_grant", description, None)
            }
            Self::UnsupportedGrantType => oauth_error(
                status,
                "unsupported_grant_type",
                "only authorization_code is supported",
                None,
            ),
            Self::Unexpected(error) => oauth_server_error(error),
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
    let client = authenticate(&req, &form, &state).await?;
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

/// Client id and secret from an `Authorization: Basic` header (RFC 6749 §2.3.1: both
/// form-urlencoded before base64).
fn basic_credentials(req: &HttpRequest) -> Result<Option<(String, String)>, TokenError> {
    let Some(value) = req.headers().get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let invalid = TokenError::InvalidClient { basic: true };
    let encoded = value
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Basic "))
        .ok_or(TokenError::InvalidRequest(
            "unsupported Authorization scheme",
        ))?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or(TokenError::InvalidClient { basic: true })?;
    let (id, secret) = decoded.split_once(':').ok_or(invalid)?;
    let unescape = |text: &str| -> String {
        url::form_urlencoded::parse(format!("x={text}").as_bytes())
            .next()
            .map(|(_, value)| value.into_owned())
            .unwrap_or_default()
    };
    Ok(Some((unescape(id), unescape(secret))))
}

async fn authenticate(
    req: &HttpRequest,
    form: &TokenForm,
    state: &AppState,
) -> Result<Client, TokenError> {
    let basic = basic_credentials(req)?;
    let used_basic = basic.is_some();
    let (client_id, secret) = match (basic, &form.client_secret) {
        (Some(_), Some(_)) => {
            return Err(TokenError::InvalidRequest(
                "use one client authentication method",
            ));
        }
        (Some((id, secret)), None) => {
            if form
                .client_id
                .as_ref()
                .is_some_and(|form_id| *form_id != id)
            {
                return Err(TokenError::InvalidRequest("client_id does not match"));
            }
            (id, Some(secret))
        }
        (None, secret) => (
            form.client_id
                .clone()
                .ok_or(TokenError::InvalidClient { basic: false })?,
            secret.clone(),
        ),
    };
    let invalid = TokenError::InvalidClient { basic: used_basic };
    let Some(client_id) = ClientId::parse(&client_id) else {
        return Err(invalid);
    };
    let Some(client) = state.clients.get(&client_id).await? else {
        return Err(invalid);
    };
    let authenticated = match secret {
        Some(secret) => client.verify_secret(&secret),
        None => client.is_public(),
    };
    if authenticated {
        Ok(client)
    } else {
        tracing::info!(client = client_id.as_str(), "client authentication failed");
        Err(invalid)
    }
}
