//! `grant_type=refresh_token`: rotation, with reuse detection (see [`crate::tokens::refresh`]).
//!
//! The token must be its family's current one and issued to the client; a family of a global
//! session needs the session to be live, and every family needs its user to be enabled. The
//! client may ask for less scope than was granted, never more; the family keeps what was
//! granted. An id token comes back when the scope asked for includes `openid`; it keeps the
//! `sid` and `auth_time` of the original sign-in.

use actix_web::HttpResponse;

use super::post::{Authentication, TokenError, TokenForm, TokenResponse, access_token, id_token};
use crate::audit::{Entry, Event};
use crate::clients::Client;
use crate::state::AppState;
use crate::tokens::refresh::Presented;
use crate::tokens::{AccessGrant, has_scope, narrow_scope};

/// Rotates the refresh token of `form` and issues an access token.
pub(super) async fn refresh(
    form: &TokenForm,
    client: &Client,
    state: &AppState,
) -> Result<HttpResponse, TokenError> {
    let token = form
        .refresh_token
        .as_deref()
        .filter(|token| !token.is_empty())
        .ok_or(TokenError::InvalidRequest("refresh_token is missing"))?;
    let current = match state.refresh_tokens.present(token).await? {
        Presented::Unknown => {
            return Err(TokenError::InvalidGrant(
                "the refresh token is invalid, expired or revoked",
            ));
        }
        Presented::Reused(grant) => {
            state.jwt_revocations.revoke_grant(&grant.family).await?;
            let mut entry = Entry::new(Event::RefreshTokenReuse)
                .client(&grant.client_id)
                .with("sid", grant.sid.as_str());
            if let Some(user) = state.users.get(&grant.user_id).await? {
                entry = entry.user(user.username.as_str());
            }
            state.audit.record(entry).await;
            return Err(TokenError::InvalidGrant(
                "the refresh token was already used; every token of its grant is revoked",
            ));
        }
        Presented::Current(current) => current,
    };
    let grant = current.grant.clone();
    if grant.client_id != client.id.as_str() {
        return Err(TokenError::InvalidGrant(
            "the refresh token was issued to another client",
        ));
    }
    if !grant.offline && !state.sessions.is_live(&grant.sid).await? {
        // Ended elsewhere and left behind by a store failure: finish the job.
        state.refresh_tokens.revoke_family(&grant.family).await?;
        return Err(TokenError::InvalidGrant("the session has ended"));
    }
    let Some(user) = state
        .users
        .get(&grant.user_id)
        .await?
        .filter(|user| !user.disabled)
    else {
        state.refresh_tokens.revoke_family(&grant.family).await?;
        return Err(TokenError::InvalidGrant("the user is not active"));
    };
    let scope = narrow_scope(form.scope(), grant.scope.split(' ')).ok_or(
        TokenError::InvalidScope("the scope asked for exceeds what was granted"),
    )?;
    let Some(refresh_token) = state.refresh_tokens.rotate(current).await? else {
        return Err(TokenError::InvalidGrant(
            "the refresh token is invalid, expired or revoked",
        ));
    };
    let access_token = access_token(
        state,
        client,
        &AccessGrant {
            client_id: grant.client_id,
            user_id: Some(user.id.clone()),
            sid: (!grant.offline).then(|| grant.sid.clone()),
            scope: scope.clone(),
            grant_id: Some(grant.family),
        },
    )
    .await?;
    let id_token = if has_scope(&scope, "openid") {
        let authentication = Authentication {
            sid: grant.sid,
            auth_time: grant.auth_time,
            amr: grant.amr,
            nonce: None,
        };
        Some(id_token(state, client, user, None, authentication, &scope).await?)
    } else {
        None
    };
    Ok(TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in: state.access_tokens.ttl().as_secs(),
        refresh_token: Some(refresh_token),
        id_token,
        scope,
    }
    .into_response())
}
