//! Admin reads.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use super::{Admin, AdminError, user_named};
use crate::slo::outbox::DeliveryFilter;
use crate::state::AppState;

/// `GET /admin/users/{username}/sessions`
pub async fn user_sessions(
    _: Admin,
    username: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AdminError> {
    let user = user_named(&state, &username).await?;
    let sessions = state.sessions.list_for_user(&user.id).await?;
    Ok(HttpResponse::Ok().json(json!({ "user": user, "sessions": sessions })))
}

/// `GET /admin/users/{username}/groups`
pub async fn groups(
    _: Admin,
    username: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AdminError> {
    let user = user_named(&state, &username).await?;
    let groups = state.users.groups(&user.id).await?;
    Ok(HttpResponse::Ok().json(json!({ "username": user.username, "groups": groups })))
}

/// Which deliveries to list.
#[derive(Debug, Deserialize)]
pub struct DeliveryQuery {
    sid: Option<String>,
    username: Option<String>,
}

/// `GET /admin/logout-deliveries`
pub async fn logout_deliveries(
    _: Admin,
    query: web::Query<DeliveryQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AdminError> {
    let query = query.into_inner();
    let user_id = match query.username.as_deref() {
        Some(name) => Some(user_named(&state, name).await?.id),
        None => None,
    };
    let deliveries = state
        .outbox
        .list(&DeliveryFilter {
            sid: query.sid,
            user_id,
        })
        .await?;
    Ok(HttpResponse::Ok().json(json!({ "deliveries": deliveries })))
}
