//! `GET /forward-auth/verify`: nginx's `auth_request` subrequest, on every request to a
//! protected host. The hot path: one store read, no SQL, no token.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use session_store::SessionKey;

use super::sign_in_location;
use crate::forward_auth::SESSION_COOKIE;
use crate::forward_auth::request::Forwarded;
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
    let identity = match presented_session(&req) {
        Some(key) => state.forward_auth.sessions.identity(&key).await?,
        None => None,
    };
    let Some(identity) = identity.filter(|id| id.host == forwarded.host.as_str()) else {
        return Err(VerifyError::SignIn(sign_in_location(&forwarded)));
    };
    if !entry.allows(&identity.username, &identity.groups) {
        return Err(VerifyError::NotAllowed);
    }
    let mut response = HttpResponse::Ok().finish();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    for (name, value) in &identity.headers {
        headers.insert(name.clone(), value.clone());
    }
    Ok(response)
}

/// The forward-auth session key in the request's `Cookie` headers (the first cookie of that
/// name counts), read as bytes rather than through actix-web's cookie jar.
fn presented_session(req: &HttpRequest) -> Option<SessionKey> {
    let headers = req.headers().get_all(header::COOKIE);
    sso_common::http::cookie_value(headers.map(HeaderValue::as_bytes), SESSION_COOKIE)
        .and_then(|value| std::str::from_utf8(value).ok())
        .and_then(SessionKey::parse)
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    fn presented(cookies: &[&str]) -> Option<String> {
        let mut request = TestRequest::default();
        for cookie in cookies {
            request = request.append_header((header::COOKIE, *cookie));
        }
        presented_session(&request.to_http_request()).map(|key| key.as_str().to_owned())
    }

    #[test]
    fn the_session_cookie_is_found_among_others_and_nothing_else_is_taken_for_it() {
        let key = "k3y-of_the.session";
        assert_eq!(
            presented(&[&format!("a=1; sso_fa_session={key}; b=2")]).as_deref(),
            Some(key)
        );
        assert_eq!(
            presented(&["a=1", &format!("sso_fa_session={key} ")]).as_deref(),
            Some(key)
        );
        for cookies in [
            &[] as &[&str],
            &[&format!("xsso_fa_session={key}")],
            &[&format!("sso_fa_session_x={key}")],
            &[&format!("sso_fa_session ={key}")],
            &["sso_fa_session=not a key"],
            &["sso_fa_session="],
        ] {
            assert_eq!(presented(cookies), None, "{cookies:?}");
        }
    }
}
