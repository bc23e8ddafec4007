//! `grant_type=client_credentials`: a token for a confidential client itself (a service
//! account), with no user and no global session, carrying only scopes the client is allowed
//! (all of them when it asks for none). No refresh token: the client asks again.

use actix_web::HttpResponse;

use super::post::{TokenError, TokenForm, TokenResponse, access_token};
use crate::clients::Client;
use crate::state::AppState;
use crate::tokens::{AccessGrant, narrow_scope};

/// Issues a token for `client` itself.
pub(super) async fn grant(
    form: &TokenForm,
    client: &Client,
    state: &AppState,
) -> Result<HttpResponse, TokenError> {
    if client.is_public() {
        // The policy never allows it (clients::TokenPolicy); a public client proves nothing.
        return Err(TokenError::UnauthorizedClient(
            "client_credentials is for confidential clients",
        ));
    }
    let allowed = client
        .tokens
        .client_credentials_scopes()
        .iter()
        .map(String::as_str);
    let scope = narrow_scope(form.scope(), allowed).ok_or(TokenError::InvalidScope(
        "the scope asked for exceeds what the client is allowed",
    ))?;
    let access_token = access_token(
        state,
        client,
        &AccessGrant {
            client_id: client.id.as_str().to_owned(),
            user_id: None,
            sid: None,
            scope: scope.clone(),
            grant_id: None,
        },
    )
    .await?;
    tracing::debug!(
        client = client.id.as_str(),
        scope,
        "client credentials granted"
    );
    Ok(TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in: state.access_tokens.ttl().as_secs(),
        refresh_token: None,
        id_token: None,
        scope,
    }
    .into_response())
}
