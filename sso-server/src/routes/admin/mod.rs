//! The admin API (JSON), protected by the bearer token from `admin.token`; without a
//! configured token it does not exist (404).
//!
//! - `GET /admin/users/{username}/sessions`: the user's live sessions and their clients
//! - `DELETE /admin/users/{username}/sessions`: end all of them (with single logout)
//! - `DELETE /admin/users/{username}/factors`: reset the user's second factors (TOTP, passkeys,
//!   recovery codes) and end their sessions (with single logout)
//! - `DELETE /admin/sessions/{sid}`: end one session (with single logout)
//! - `GET /admin/logout-deliveries?sid=…&username=…`: single-logout outcomes
//! - `GET /admin/audit?username=…&event=…&since=…&until=…&limit=…&after=…`: audit events,
//!   newest first (times in milliseconds since the epoch; `after` is the previous page's
//!   `next`)
//! - `GET /admin/users/{username}/groups`: the user's groups
//! - `PUT /admin/users/{username}/groups` with `{"groups": […]}`: set them
//! - `PUT|DELETE /admin/users/{username}/groups/{group}`: add or remove one
//!
//! Changing a user's groups ends their forward-auth sessions, so protected hosts see the new
//! groups at the next request (signing in again needs no password).

pub mod delete;
pub mod get;
pub mod put;

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::middleware::DefaultHeaders;
use actix_web::{FromRequest, HttpRequest, HttpResponse, ResponseError, web};
use serde_json::json;
use subtle::ConstantTimeEq as _;

use crate::domain::Username;
use crate::routes::{GET, resource};
use crate::state::AppState;
use crate::users::User;
use crate::web::{self as webutil, Authorization};

/// `Allow` of a path with GET and DELETE routes.
const DELETE_GET: &str = "DELETE, GET, HEAD";

/// The admin routes; a known path asked with another method gets 405.
pub fn scope() -> impl actix_web::dev::HttpServiceFactory {
    web::scope("/admin")
        .wrap(DefaultHeaders::new().add((header::CACHE_CONTROL, "no-store")))
        .app_data(web::QueryConfig::default().error_handler(|error, _| {
            let response = AdminError::BadRequest("malformed query").error_response();
            actix_web::error::InternalError::from_response(error, response).into()
        }))
        .app_data(
            web::JsonConfig::default()
                .limit(16 * 1024)
                .error_handler(|error, _| {
                    let response = AdminError::BadRequest("malformed JSON body").error_response();
                    actix_web::error::InternalError::from_response(error, response).into()
                }),
        )
        .service(
            resource("/users/{username}/sessions", DELETE_GET)
                .route(web::get().to(get::user_sessions))
                .route(web::delete().to(delete::user_sessions)),
        )
        .service(
            resource("/users/{username}/factors", "DELETE")
                .route(web::delete().to(delete::user_factors)),
        )
        .service(resource("/sessions/{sid}", "DELETE").route(web::delete().to(delete::session)))
        .service(resource("/logout-deliveries", GET).route(web::get().to(get::logout_deliveries)))
        .service(resource("/audit", GET).route(web::get().to(get::audit)))
        .service(
            resource("/users/{username}/groups", "GET, HEAD, PUT")
                .route(web::get().to(get::groups))
                .route(web::put().to(put::groups)),
        )
        .service(
            resource("/users/{username}/groups/{group}", "DELETE, PUT")
                .route(web::put().to(put::group))
                .route(web::delete().to(put::remove_group)),
        )
}

/// The user named `username`; not found when the name is not even valid.
async fn user_named(state: &AppState, username: &str) -> Result<User, AdminError> {
    let username = Username::parse(username).map_err(|_| AdminError::NotFound)?;
    state
        .users
        .find(&username)
        .await?
        .ok_or(AdminError::NotFound)
}

/// Errors of the admin API.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("not found")]
    NotFound,
    #[error("missing or wrong admin token")]
    Unauthorized,
    #[error("bad request: {0}")]
    BadRequest(&'static str),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl ResponseError for AdminError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unexpected(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let message = match self {
            Self::Unexpected(error) => {
                crate::error::log_chain(error.as_ref());
                "internal error".to_owned()
            }
            other => other.to_string(),
        };
        let mut response = HttpResponse::build(self.status_code());
        if matches!(self, Self::Unauthorized) {
            response.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
        }
        response.json(json!({ "error": message }))
    }
}

/// Proof that the request carries the admin token.
#[derive(Debug)]
pub struct Admin;

impl FromRequest for Admin {
    type Error = AdminError;
    type Future = Ready<Result<Self, AdminError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let Some(state) = req.app_data::<web::Data<AppState>>() else {
            return ready(Err(AdminError::NotFound));
        };
        let Some(expected) = &state.settings.admin.token else {
            return ready(Err(AdminError::NotFound));
        };
        let given = match webutil::authorization(req) {
            Ok(Some(Authorization::Bearer(token))) => token,
            Ok(_) => "",
            Err(ambiguous) => return ready(Err(AdminError::BadRequest(ambiguous.message()))),
        };
        let matches: bool = given.as_bytes().ct_eq(expected.expose().as_bytes()).into();
        ready(if matches {
            Ok(Self)
        } else {
            Err(AdminError::Unauthorized)
        })
    }
}
