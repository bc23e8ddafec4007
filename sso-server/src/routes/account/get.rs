//! `GET /account`

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use super::{Account, AccountError, SIGN_IN, render};
use crate::error::Page;
use crate::state::AppState;
use crate::web as webutil;

/// The account page of the browser's session; without one, the login and back.
pub async fn account(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Page<AccountError>> {
    let shown = async {
        let Some(account) = Account::of(&req, &state).await? else {
            return Ok(webutil::see_other(SIGN_IN));
        };
        render(&req, &state, &account, StatusCode::OK, None, None).await
    };
    shown
        .await
        .map_err(|error: anyhow::Error| Page::new(&req, error.into()))
}
