//! `GET /.well-known/openid-configuration` and `GET /jwks.json`

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::state::AppState;

/// The OpenID Provider metadata.
pub async fn openid_configuration(state: web::Data<AppState>) -> HttpResponse {
    let issuer = &state.issuer;
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .json(json!({
            "issuer": issuer.as_ref(),
            "authorization_endpoint": format!("{issuer}/authorize"),
            "token_endpoint": format!("{issuer}/token"),
            "userinfo_endpoint": format!("{issuer}/userinfo"),
            "introspection_endpoint": format!("{issuer}/introspect"),
            "introspection_endpoint_auth_methods_supported": [
                "client_secret_basic", "client_secret_post"
            ],
            "revocation_endpoint": format!("{issuer}/revoke"),
            "revocation_endpoint_auth_methods_supported": [
                "client_secret_basic", "client_secret_post", "none"
            ],
            "jwks_uri": format!("{issuer}/jwks.json"),
            "end_session_endpoint": format!("{issuer}/logout"),
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256", "EdDSA"],
            "scopes_supported": ["openid", "profile", "email", "groups", "offline_access"],
            "token_endpoint_auth_methods_supported": [
                "client_secret_basic", "client_secret_post", "none"
            ],
            "code_challenge_methods_supported": ["S256"],
            "claims_supported": [
                "iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "sid",
                "amr", "acr", "name", "email", "preferred_username", "groups"
            ],
            "acr_values_supported": crate::factors::ACR_VALUES,
            "prompt_values_supported": ["none", "login"],
            "backchannel_logout_supported": true,
            "backchannel_logout_session_supported": true,
            "authorization_response_iss_parameter_supported": true,
        }))
}

/// The JSON Web Key Set: current and previous keys of every algorithm.
pub async fn jwks(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .json(state.keys.jwks())
}
