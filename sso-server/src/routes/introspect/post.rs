//! `POST /introspect`: token introspection (RFC 7662), for the applications' own back ends
//! (resource servers) that receive the center's access tokens, opaque or JWT (RFC 9068).
//!
//! The caller authenticates as a confidential client, as at `/token`. An access token is
//! active while it is live and not revoked, its global session (if it has one) has not ended
//! and its user (if it has one) is enabled; a JWT of an ended session is inactive although its
//! signature still verifies. Anything else, refresh tokens and tokens that are not ours at
//! all included, is `{"active": false}`: refresh tokens are for `/token` only. Introspecting an
//! opaque token counts as a use of it, as a request to `/userinfo` does. `token_type_hint`
//! needs no handling: the form of a token tells its kind. A client's own token
//! (`client_credentials`) has `sub` = its client id and no `username`.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};

use crate::routes::client_auth::{self, ClientAuthError};
use crate::state::{ActiveToken, AppState};
use crate::web as webutil;

/// The introspection request.
#[derive(Deserialize)]
pub struct IntrospectForm {
    token: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

impl std::fmt::Debug for IntrospectForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IntrospectForm")
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

/// What an active token is (RFC 7662 §2.2).
#[derive(Serialize)]
struct Active {
    active: bool,
    token_type: &'static str,
    scope: String,
    client_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    username: Option<String>,
    sub: String,
    aud: String,
    iss: String,
    iat: u64,
    exp: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    sid: Option<String>,
}

/// `POST /introspect`
pub async fn introspect(
    req: HttpRequest,
    form: web::Form<IntrospectForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ClientAuthError> {
    let form = form.into_inner();
    let caller = client_auth::authenticate(
        &req,
        form.client_id.as_deref(),
        form.client_secret.as_deref(),
        &state,
    )
    .await?;
    if caller.is_public() {
        // A public client proves nothing about itself; it could be anyone asking.
        return Err(ClientAuthError::InvalidClient { basic: false });
    }
    let token = form
        .token
        .as_deref()
        .map(str::trim)
        .filter(|token| !token.is_empty())
        .ok_or(ClientAuthError::InvalidRequest("token is missing"))?;
    let mut response = HttpResponse::Ok();
    webutil::no_store(&mut response);
    let Some(ActiveToken { live, user, .. }) = state.active_token(token).await? else {
        return Ok(response.json(serde_json::json!({ "active": false })));
    };
    let grant = live.grant;
    let (sub, username) = match user {
        Some(user) => (user.id, Some(user.username)),
        None => (grant.client_id.clone(), None),
    };
    Ok(response.json(Active {
        active: true,
        token_type: "Bearer",
        scope: grant.scope,
        aud: grant.client_id.clone(),
        client_id: grant.client_id,
        username,
        sub,
        iss: state.issuer.to_string(),
        iat: live.issued_at,
        exp: live.expires_at,
        sid: grant.sid,
    }))
}
