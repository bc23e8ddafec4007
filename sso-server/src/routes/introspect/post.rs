//! `POST /introspect`: token introspection (RFC 7662), for the applications' own back ends
//! (resource servers) that receive the center's opaque access tokens.
//!
//! The caller authenticates as a confidential client, as at `/token`. A token is active while
//! it is live, its global session has not ended and its user is enabled; anything else,
//! including a token that is not ours at all, is `{"active": false}`. Introspection counts as
//! a use of the token, as a request to `/userinfo` does. Only access tokens are issued, so
//! `token_type_hint` needs no handling.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};

use crate::routes::client_auth::{self, ClientAuthError};
use crate::state::AppState;
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
    username: String,
    sub: String,
    aud: String,
    iss: String,
    iat: u64,
    exp: u64,
    sid: String,
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
    let Some((live, user)) = state.active_token(token).await? else {
        return Ok(response.json(serde_json::json!({ "active": false })));
    };
    let grant = live.grant;
    Ok(response.json(Active {
        active: true,
        token_type: "Bearer",
        scope: grant.scope,
        aud: grant.client_id.clone(),
        client_id: grant.client_id,
        username: user.username,
        sub: user.id,
        iss: state.issuer.to_string(),
        iat: live.issued_at,
        exp: live.expires_at,
        sid: grant.sid,
    }))
}
