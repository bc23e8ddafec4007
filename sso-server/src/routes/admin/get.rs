//! Admin reads.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use super::{Admin, AdminError, user_named};
use crate::audit::{Cursor, Event, Query as AuditFilter};
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

/// Which audit events to list (`GET /admin/audit`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    username: Option<String>,
    event: Option<String>,
    /// Milliseconds since the epoch, inclusive.
    since: Option<i64>,
    /// Milliseconds since the epoch, exclusive.
    until: Option<i64>,
    /// The `next` of the previous page.
    after: Option<String>,
    /// Events per page, 1–500 (default 100).
    limit: Option<u32>,
}

/// `GET /admin/audit`: audit events, newest first, one page at a time.
pub async fn audit(
    _: Admin,
    query: web::Query<AuditQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AdminError> {
    let query = query.into_inner();
    let event = match query.event.as_deref() {
        Some(name) => Some(Event::parse(name).ok_or(AdminError::BadRequest("unknown event"))?),
        None => None,
    };
    let after = match query.after.as_deref() {
        Some(text) => Some(Cursor::parse(text).ok_or(AdminError::BadRequest("malformed after"))?),
        None => None,
    };
    let limit = query.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(AdminError::BadRequest("limit must be 1-500"));
    }
    let page = state
        .audit
        .list(&AuditFilter {
            username: query.username,
            event,
            since_ms: query.since,
            until_ms: query.until,
            after,
            limit,
        })
        .await?;
    Ok(HttpResponse::Ok().json(json!({
        "events": page.events,
        "next": page.next.as_ref().map(Cursor::encode),
    })))
}
