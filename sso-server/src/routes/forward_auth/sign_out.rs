//! `GET /forward-auth/sign-out` (the host's `/_sso/sign-out`): signing out of a protected host
//! is signing out of the center, which asks for confirmation (a CSRF-protected form) and ends
//! the global session; that ends every forward-auth session of it and sends single logout to
//! every OIDC app.

use actix_web::{HttpRequest, HttpResponse, web};

use super::{ForwardAuthError, protected_host};
use crate::error::Page;
use crate::state::AppState;
use crate::web as webutil;

/// `GET /forward-auth/sign-out`
pub async fn sign_out(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Page<ForwardAuthError>> {
    protected_host(&req, &state)
        .await
        .map_err(|error| Page::new(&req, error))?;
    Ok(webutil::see_other(&format!("{}/logout", state.issuer)))
}
