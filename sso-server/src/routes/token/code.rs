//! `grant_type=authorization_code`: the code exchange.
//!
//! The code is taken from the store atomically, so it works once; a second use fails and
//! revokes everything the first use issued (its access token and refresh token family).
//! Every binding of the code is checked: client, exact redirect_uri, PKCE verifier, and that
//! its global session is still live. On success the client is registered in that session,
//! which is what makes it receive single logout.
//!
//! A client allowed `refresh_token` gets a refresh token too, bound to the global session;
//! scope `offline_access` is granted (and the token outlives the session) only to a client
//! allowed it, and is dropped from the granted scope otherwise.

use actix_web::HttpResponse;

use super::post::{Authentication, TokenError, TokenForm, TokenResponse, access_token, id_token};
use crate::clients::Client;
use crate::config::GrantType;
use crate::domain::CodeVerifier;
use crate::metrics::{self, Code};
use crate::state::{AppState, SessionUser};
use crate::tokens::access::grant_id;
use crate::tokens::{AccessGrant, RefreshGrant, has_scope};

const OFFLINE_ACCESS: &str = "offline_access";

/// Exchanges the code of `form` for tokens.
pub(super) async fn exchange(
    form: &TokenForm,
    client: &Client,
    state: &AppState,
) -> Result<HttpResponse, TokenError> {
    let exchanged = redeem(form, client, state).await;
    match &exchanged {
        Ok(_) => metrics::code(Code::Exchanged),
        Err(TokenError::Unexpected(_)) => {}
        Err(_) => metrics::code(Code::Refused),
    }
    exchanged
}

async fn redeem(
    form: &TokenForm,
    client: &Client,
    state: &AppState,
) -> Result<HttpResponse, TokenError> {
    let code = form
        .code
        .as_deref()
        .ok_or(TokenError::InvalidRequest("code is missing"))?;
    let Some(grant) = state.codes.redeem(code).await? else {
        let revoked = state.access_tokens.revoke_for_code(code).await?;
        if revoked > 0 {
            state.jwt_revocations.revoke_grant(&grant_id(code)).await?;
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
    let SessionUser { user, groups } = state
        .session_user(&grant.user_id, Some(&grant.sid))
        .await?
        .filter(|found| !found.user.disabled)
        .ok_or(TokenError::InvalidGrant("the user is not active"))?;
    let refreshable = client.tokens.allows(GrantType::RefreshToken);
    let offline = refreshable && client.tokens.offline_access;
    let scope = if offline {
        grant.scope.clone()
    } else {
        let kept: Vec<&str> = grant
            .scope
            .split(' ')
            .filter(|scope| *scope != OFFLINE_ACCESS)
            .collect();
        kept.join(" ")
    };
    let family = grant_id(code);
    let refresh_token = if refreshable {
        Some(
            state
                .refresh_tokens
                .issue(&RefreshGrant {
                    family: family.clone(),
                    client_id: client.id.as_str().to_owned(),
                    user_id: user.id.clone(),
                    sid: grant.sid.clone(),
                    scope: scope.clone(),
                    auth_time: grant.auth_time,
                    amr: grant.amr.clone(),
                    offline: has_scope(&scope, OFFLINE_ACCESS),
                })
                .await?,
        )
    } else {
        None
    };
    let access_token = access_token(
        state,
        client,
        &AccessGrant {
            client_id: client.id.as_str().to_owned(),
            user_id: Some(user.id.clone()),
            sid: Some(grant.sid.clone()),
            scope: scope.clone(),
            grant_id: Some(family),
        },
    )
    .await?;
    tracing::info!(
        client = client.id.as_str(),
        sid = grant.sid,
        "code exchanged"
    );
    let authentication = Authentication {
        sid: grant.sid,
        auth_time: grant.auth_time,
        amr: grant.amr,
        nonce: grant.nonce,
    };
    let id_token = id_token(state, client, user, groups, authentication, &scope).await?;
    Ok(TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in: state.access_tokens.ttl().as_secs(),
        refresh_token,
        id_token: Some(id_token),
        scope,
    }
    .into_response())
}
