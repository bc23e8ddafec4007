//! `GET /logout`

use actix_web::{HttpRequest, HttpResponse, web};

use super::{LogoutError, LogoutParams, Via};
use crate::error::Page;
use crate::state::AppState;

/// Ends the session for an `id_token_hint` of the browser's session; asks for confirmation
/// otherwise.
pub async fn logout(
    req: HttpRequest,
    params: web::Query<LogoutParams>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Page<LogoutError>> {
    super::handle(&req, params.into_inner(), &state, Via::Link)
        .await
        .map_err(|error| Page::new(&req, error))
}
