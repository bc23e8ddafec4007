//! `POST /logout`: the confirmation form, or a client posting the logout request.

use actix_web::{HttpRequest, HttpResponse, web};

use super::{LogoutError, LogoutParams, Via};
use crate::error::Page;
use crate::state::AppState;

/// Ends the session when the CSRF token of the confirmation form matches or the request
/// carries an `id_token_hint` of the browser's session.
pub async fn logout(
    req: HttpRequest,
    params: web::Form<LogoutParams>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Page<LogoutError>> {
    super::handle(&req, params.into_inner(), &state, Via::Form)
        .await
        .map_err(|error| Page::new(&req, error))
}
