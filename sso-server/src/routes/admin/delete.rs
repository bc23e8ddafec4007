//! Admin kills: ending sessions, with single logout.

use actix_web::{HttpResponse, web};
use serde_json::json;

use super::{Admin, AdminError, user_named};
use crate::slo::EndReason;
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
    if state.sessions.end(&sid, EndReason::AdminKill).await? {
        state
            .audit
            .record(super::action("end_session").with("sid", sid.as_str()))
            .await;
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
    let ended = state
        .sessions
        .end_all_for_user(&user.id, EndReason::AdminKill)
        .await?;
    let entry = super::action("end_user_sessions")
        .user(user.username.as_str())
        .with("ended", ended);
    state.audit.record(entry).await;
    Ok(HttpResponse::Ok().json(json!({ "ended": ended })))
}
