//! `GET /api/me`: the app's API, called with a bearer access token instead of a session.
//!
//! A JWT access token (RFC 9068, for clients the center issues them to) is verified here,
//! against the center's cached keys, without a call to the center; an opaque one is
//! introspected at the center. Either way only tokens issued to this app are accepted.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;
use sso_client::{Error, SsoClient};

/// Answers with who the token speaks for.
pub(crate) async fn me(req: HttpRequest, client: web::Data<SsoClient>) -> HttpResponse {
    let Some(token) = bearer_token(&req) else {
        return refused(
            "invalid_request",
            "send an access token in an Authorization: Bearer header",
        );
    };
    if looks_like_jwt(token) {
        return match client.verify_access_token(token).await {
            Ok(verified) => HttpResponse::Ok().json(json!({
                "sub": verified.sub,
                "client_id": verified.client_id,
                "scope": verified.scopes.join(" "),
                "sid": verified.sid,
                "exp": verified.exp,
                "verified_by": "signature",
            })),
            Err(Error::InvalidAccessToken(reason)) => {
                tracing::info!(reason, "an API request's access token was refused");
                refused("invalid_token", "the access token is not valid")
            }
            Err(error) => unavailable(&error),
        };
    }
    match client.introspect(token).await {
        Ok(Some(info)) => HttpResponse::Ok().json(json!({
            "sub": info.sub,
            "client_id": info.client_id,
            "scope": info.scope,
            "sid": info.sid,
            "exp": info.exp,
            "verified_by": "introspection",
        })),
        Ok(None) => refused("invalid_token", "the access token is not active"),
        Err(error) => unavailable(&error),
    }
}

/// The token of an `Authorization: Bearer` header (RFC 6750 §2.1), if there is exactly one.
fn bearer_token(req: &HttpRequest) -> Option<&str> {
    let mut values = req.headers().get_all(header::AUTHORIZATION);
    let value = values.next()?.to_str().ok()?;
    if values.next().is_some() {
        return None;
    }
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

fn looks_like_jwt(token: &str) -> bool {
    token.bytes().filter(|b| *b == b'.').count() == 2
}

/// `401` with the RFC 6750 challenge.
fn refused(error: &str, description: &str) -> HttpResponse {
    HttpResponse::Unauthorized()
        .insert_header((
            header::WWW_AUTHENTICATE,
            format!(r#"Bearer realm="api", error="{error}", error_description="{description}""#),
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(json!({ "error": error, "error_description": description }))
}

fn unavailable(error: &Error) -> HttpResponse {
    tracing::warn!(%error, "cannot check an API request's access token");
    HttpResponse::ServiceUnavailable()
        .insert_header((header::RETRY_AFTER, "5"))
        .json(json!({
            "error": "temporarily_unavailable",
            "error_description": "the sign-in service cannot be reached; try again shortly",
        }))
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    fn token_of(headers: &[&str]) -> Option<String> {
        let mut request = TestRequest::get();
        for value in headers {
            request = request.append_header((header::AUTHORIZATION, *value));
        }
        bearer_token(&request.to_http_request()).map(str::to_owned)
    }

    #[test]
    fn exactly_one_bearer_token_is_taken() {
        assert_eq!(token_of(&["Bearer abc"]).as_deref(), Some("abc"));
        assert_eq!(token_of(&["bearer  abc "]).as_deref(), Some("abc"));
        assert_eq!(token_of(&[]), None);
        assert_eq!(token_of(&["Basic abc"]), None);
        assert_eq!(token_of(&["Bearer "]), None);
        assert_eq!(token_of(&["Bearer a", "Bearer b"]), None);
    }
}
