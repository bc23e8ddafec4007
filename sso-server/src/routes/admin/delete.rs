//! Admin kills: ending sessions, with single logout.

use actix_web::{HttpResponse, web};
use serde_json::json;

use super::{Admin, AdminError, user_named};
use crate::admin::{self, API_ACTOR};
use crate::state::AppState;

/// `DELETE /admin/sessions/{sid}`
pub async fn session(
    _: Admin,
    sid: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AdminError> {
    if sid.is_empty() || sid.len() > 128 {
        return Err(AdminError::BadRequest("invalid sid"));
    }
    if admin::end_session(&state, API_ACTOR, &sid).await? {
        Ok(HttpResponse::Ok().json(json!({ "ended": 1 })))
    } else {
        Err(AdminError::NotFound)
    }
}

/// `DELETE /admin/users/{username}/sessions`
pub async fn user_sessions(
    _: Admin,
    username: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AdminError> {
    let user = user_named(&state, &username).await?;
    let ended = admin::end_user_sessions(&state, API_ACTOR, &user).await?;
    Ok(HttpResponse::Ok().json(json!({ "ended": ended })))
}

/// `DELETE /admin/users/{username}/factors`: resets the user's second factors and ends their
/// sessions (with single logout).
pub async fn user_factors(
    _: Admin,
    username: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AdminError> {
    let user = user_named(&state, &username).await?;
    let (had, ended) = admin::reset_factors(&state, API_ACTOR, &user).await?;
    Ok(HttpResponse::Ok().json(json!({ "reset": had, "ended": ended })))
}
