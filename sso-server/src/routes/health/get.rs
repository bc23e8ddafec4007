//! `GET /healthz` (the process answers) and `GET /readyz` (its database and store answer).

use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::state::AppState;

/// Alive.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// Ready when the database and the session store answer; 503 otherwise.
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let database = sqlx::query("SELECT 1").execute(&state.pool).await.is_ok();
    let store = state.sessions.check_store().await.is_ok();
    let body = json!({"database": database, "store": store});
    if database && store {
        HttpResponse::Ok().json(body)
    } else {
        tracing::warn!(database, store, "not ready");
        HttpResponse::ServiceUnavailable().json(body)
    }
}
