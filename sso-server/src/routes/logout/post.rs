//! `POST /logout`: the confirmation form, or a client posting the logout request.

use actix_web::{HttpRequest, HttpResponse, web};

use super::{LogoutError, LogoutParams};
use crate::error::Page;
use crate::state::AppState;
use crate::web as webutil;

/// Ends the session when the CSRF token of the confirmation form matches or the request
/// carries a valid `id_token_hint`.
pub async fn logout(
    req: HttpRequest,
    params: web::Form<LogoutParams>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Page<LogoutError>> {
    let params = params.into_inner();
    let csrf_ok = webutil::csrf_matches(&req, params.csrf_token.as_deref());
    super::handle(&req, params, &state, csrf_ok)
        .await
        .map_err(|error| Page::new(&req, error))
}
