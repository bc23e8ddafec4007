//! `GET /forward-auth/verify`: nginx's `auth_request` subrequest, on every request to a
//! protected host. The hot path: one store read, no SQL, no token.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};

use super::sign_in_location;
use crate::forward_auth::SESSION_COOKIE;
use crate::forward_auth::request::Forwarded;
use crate::forward_auth::sessions::Identity;
use crate::state::AppState;

/// Why the request is not let through, in the three statuses nginx understands.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// No live forward-auth session for this host: sign in (the response says where).
    #[error("not signed in")]
    SignIn(String),
    /// Signed in, but this host does not admit the user.
    #[error("not allowed")]
    NotAllowed,
    /// The center does not answer this request: untrusted peer, missing or malformed
    /// `X-Forwarded-Host`, or a host that is not protected.
    #[error("refused")]
    Refused,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl actix_web::ResponseError for VerifyError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::SignIn(_) => StatusCode::UNAUTHORIZED,
            Self::NotAllowed | Self::Refused => StatusCode::FORBIDDEN,
            Self::Unexpected(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        response.insert_header((header::CACHE_CONTROL, "no-store"));
        match self {
            Self::SignIn(location) => {
                response.insert_header((header::LOCATION, location.as_str()));
            }
            Self::Unexpected(error) => crate::error::log_chain(error.as_ref()),
            Self::NotAllowed | Self::Refused => {}
        }
        response
            .content_type("text/plain; charset=utf-8")
            .body(match self {
                Self::Unexpected(_) => "Internal Server Error".to_owned(),
                other => other.to_string(),
            })
    }
}

/// `GET /forward-auth/verify`
pub async fn verify(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, VerifyError> {
    let forwarded = Forwarded::from_trusted_proxy(&req, &state.settings.login.trusted_proxies)
        .ok_or(VerifyError::Refused)?;
    let entry = state
        .forward_auth
        .hosts
        .cached(&forwarded.host)
        .ok_or(VerifyError::Refused)?;
    let identity = match req.cookie(SESSION_COOKIE) {
        Some(cookie) => state.forward_auth.sessions.identity(cookie.value()).await?,
        None => None,
    };
    let Some(identity) = identity.filter(|id| id.host == forwarded.host.as_str()) else {
        return Err(VerifyError::SignIn(sign_in_location(&forwarded)));
    };
    if !entry.allows(&identity.username, &identity.groups) {
        return Err(VerifyError::NotAllowed);
    }
    Ok(identity_response(&identity))
}

/// A 200 carrying who the user is, for nginx to pass on to the app.
fn identity_response(identity: &Identity) -> HttpResponse {
    let mut response = HttpResponse::Ok();
    response.insert_header((header::CACHE_CONTROL, "no-store"));
    for (name, value) in [
        ("remote-user", identity.username.as_str()),
        ("remote-name", identity.name.as_str()),
        ("remote-email", identity.email.as_str()),
        ("remote-groups", &identity.groups.join(",")),
    ] {
        response.insert_header((HeaderName::from_static(name), header_value(value)));
    }
    response.finish()
}

/// `text` as a header value: UTF-8 bytes as they are (names need not be ASCII), control
/// characters dropped so a value can never end the header.
fn header_value(text: &str) -> HeaderValue {
    let clean: String = text.chars().filter(|c| !c.is_control()).collect();
    HeaderValue::from_bytes(clean.trim().as_bytes()).unwrap_or(HeaderValue::from_static(""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_values_keep_unicode_and_drop_control_characters() {
        assert_eq!(header_value("张伟").as_bytes(), "张伟".as_bytes());
        assert_eq!(header_value("a\r\nX-Evil: 1").as_bytes(), b"aX-Evil: 1");
        assert_eq!(header_value(" Alice ").as_bytes(), b"Alice");
    }
}
