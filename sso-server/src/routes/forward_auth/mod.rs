//! Forward auth (see [`crate::forward_auth`]): `verify` for nginx, and the sign-in and
//! sign-out locations nginx proxies from every protected host's `/_sso/`.

pub mod sign_in;
pub mod sign_out;
pub mod verify;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, web};

use crate::forward_auth::PROXIED_PREFIX;
use crate::forward_auth::hosts::ProtectedHost;
use crate::forward_auth::request::{Forwarded, ReturnPath};
use crate::i18n::Texts;
use crate::state::AppState;

/// The sign-in and sign-out routes (verify is [`verify_resource`]).
pub fn scope() -> actix_web::Scope {
    web::scope("/forward-auth")
        .route("/start", web::get().to(sign_in::start))
        .route("/callback", web::get().to(sign_in::callback))
        .route("/sign-out", web::get().to(sign_out::sign_out))
}

/// `GET /forward-auth/verify`, asked before every request to a protected host: the server
/// mounts it outside the middleware of the pages (security headers, access log, body
/// deadline), since its answers go to nginx only, it reads no body and nginx logs the request.
pub fn verify_resource() -> actix_web::Resource {
    super::resource("/forward-auth/verify", super::GET).route(web::get().to(verify::verify))
}

/// Where a browser without a session on the forwarded host signs in, coming back to the page
/// it asked for (to the host's root after a request that cannot be repeated, such as a POST).
fn sign_in_location(forwarded: &Forwarded) -> String {
    let rd = match (&forwarded.uri, forwarded.safe_method) {
        (Some(uri), true) => uri.clone(),
        _ => ReturnPath::root(),
    };
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("rd", rd.as_str())
        .finish();
    forwarded.url(&format!("{PROXIED_PREFIX}/start?{query}"))
}

/// The forwarded request and the protected host it is for, read from the database (sign-in
/// and sign-out are not the hot path, and a host registered a moment ago works at once).
async fn protected_host(
    req: &HttpRequest,
    state: &AppState,
) -> Result<(Forwarded, ProtectedHost), ForwardAuthError> {
    let forwarded = Forwarded::from_trusted_proxy(req, &state.settings.login.trusted_proxies)
        .ok_or(ForwardAuthError::Untrusted)?;
    let entry = state
        .forward_auth
        .hosts
        .fresh(&forwarded.host)
        .await?
        .ok_or(ForwardAuthError::UnknownHost)?;
    Ok((forwarded, entry))
}

/// Why a sign-in or sign-out page on a protected host fails.
#[derive(Debug, thiserror::Error)]
pub enum ForwardAuthError {
    /// Not from a trusted proxy, or without a usable `X-Forwarded-Host`.
    #[error("not forwarded by a trusted proxy")]
    Untrusted,
    /// The host is not protected by the center.
    #[error("unknown host")]
    UnknownHost,
    /// `rd` is not a path on the protected host.
    #[error("rd is not a path on this host")]
    BadReturnPath,
    /// State, code or verifier missing, expired or from another browser.
    #[error("sign-in state does not match")]
    BadState,
    /// The user is disabled.
    #[error("user not active")]
    NotActive,
    /// A start the browser marks as no page load (an image, a script, `fetch`).
    #[error("sign-in needs a page load")]
    NotANavigation,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl crate::error::PageError for ForwardAuthError {
    fn status(&self) -> StatusCode {
        match self {
            Self::Untrusted | Self::UnknownHost | Self::BadReturnPath | Self::BadState => {
                StatusCode::BAD_REQUEST
            }
            Self::NotActive => StatusCode::FORBIDDEN,
            Self::NotANavigation => StatusCode::UNAUTHORIZED,
            Self::Unexpected(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn message(&self, t: &'static Texts) -> &'static str {
        match self {
            Self::Untrusted | Self::BadState | Self::NotANavigation => t.bad_request,
            Self::UnknownHost => t.unknown_client,
            Self::BadReturnPath => t.bad_redirect_uri,
            Self::NotActive => t.account_disabled,
            Self::Unexpected(_) => t.internal_error,
        }
    }
}
