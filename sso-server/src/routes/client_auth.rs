//! Client authentication at the back-channel endpoints (`/token`, `/introspect`):
//! `client_secret_basic` or `client_secret_post`, or, for a public client, its `client_id`
//! alone (RFC 6749 §2.3.1).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use base64::Engine as _;

use crate::clients::Client;
use crate::domain::ClientId;
use crate::error::{oauth_error, oauth_server_error};
use crate::state::AppState;
use crate::web::{self as webutil, Authorization};

/// Why client authentication fails, in RFC 6749 §5.2 terms.
#[derive(Debug, thiserror::Error)]
pub enum ClientAuthError {
    #[error("invalid_request: {0}")]
    InvalidRequest(&'static str),
    /// Authentication failed; `basic` when the client tried HTTP Basic.
    #[error("invalid_client")]
    InvalidClient { basic: bool },
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl ResponseError for ClientAuthError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::InvalidRequest(_) => StatusCode::BAD_REQUEST,
            Self::InvalidClient { .. } => StatusCode::UNAUTHORIZED,
            Self::Unexpected(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        match self {
            Self::InvalidRequest(description) => {
                oauth_error(status, "invalid_request", description, None)
            }
            Self::InvalidClient { basic } => oauth_error(
                status,
                "invalid_client",
                "client authentication failed",
                basic.then_some("Basic realm=\"sso\""),
            ),
            Self::Unexpected(error) => oauth_server_error(error),
        }
    }
}

/// Client id and secret from an `Authorization: Basic` header (RFC 6749 §2.3.1: both
/// form-urlencoded before base64).
fn basic_credentials(req: &HttpRequest) -> Result<Option<(String, String)>, ClientAuthError> {
    let encoded = match webutil::authorization(req) {
        Ok(None) => return Ok(None),
        Ok(Some(Authorization::Basic(encoded))) => encoded,
        Ok(Some(_)) => {
            return Err(ClientAuthError::InvalidRequest(
                "unsupported Authorization scheme",
            ));
        }
        Err(ambiguous) => return Err(ClientAuthError::InvalidRequest(ambiguous.message())),
    };
    let invalid = ClientAuthError::InvalidClient { basic: true };
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or(ClientAuthError::InvalidClient { basic: true })?;
    let (id, secret) = decoded.split_once(':').ok_or(invalid)?;
    let unescape = |text: &str| -> String {
        if !text.contains(['%', '+', '&']) {
            // Nothing to decode: what the parse below would give, without its copies.
            return text.to_owned();
        }
        url::form_urlencoded::parse(format!("x={text}").as_bytes())
            .next()
            .map(|(_, value)| value.into_owned())
            .unwrap_or_default()
    };
    Ok(Some((unescape(id), unescape(secret))))
}

/// The client that sent `req`, given the `client_id` and `client_secret` of its form.
///
/// # Errors
/// When the credentials are missing, ambiguous or wrong, or the database fails.
pub async fn authenticate(
    req: &HttpRequest,
    form_client_id: Option<&str>,
    form_client_secret: Option<&str>,
    state: &AppState,
) -> Result<Client, ClientAuthError> {
    let basic = basic_credentials(req)?;
    let used_basic = basic.is_some();
    let (client_id, secret) = match (basic, form_client_secret) {
        (Some(_), Some(_)) => {
            return Err(ClientAuthError::InvalidRequest(
                "use one client authentication method",
            ));
        }
        (Some((id, secret)), None) => {
            if form_client_id.is_some_and(|form_id| form_id != id) {
                return Err(ClientAuthError::InvalidRequest("client_id does not match"));
            }
            (id, Some(secret))
        }
        (None, secret) => (
            form_client_id
                .ok_or(ClientAuthError::InvalidClient { basic: false })?
                .to_owned(),
            secret.map(str::to_owned),
        ),
    };
    let invalid = ClientAuthError::InvalidClient { basic: used_basic };
    let Some(client_id) = ClientId::parse(&client_id) else {
        return Err(invalid);
    };
    let Some(client) = state.clients.get(&client_id).await? else {
        return Err(invalid);
    };
    let authenticated = match secret {
        Some(secret) => client.verify_secret(&secret),
        None => client.is_public(),
    };
    if authenticated {
        Ok(client)
    } else {
        tracing::info!(client = client_id.as_str(), "client authentication failed");
        Err(invalid)
    }
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    fn basic(credentials: &str) -> Result<Option<(String, String)>, ClientAuthError> {
        let encoded = base64::engine::general_purpose::STANDARD.encode(credentials);
        basic_credentials(
            &TestRequest::default()
                .insert_header(("Authorization", format!("Basic {encoded}")))
                .to_http_request(),
        )
    }

    #[test]
    fn basic_credentials_are_form_urlencoded_and_plain_ones_pass_as_they_are() {
        let decoded = |credentials| basic(credentials).unwrap().unwrap();
        assert_eq!(
            decoded("svc-reports:Zt9_x-Q.7~k"),
            ("svc-reports".to_owned(), "Zt9_x-Q.7~k".to_owned())
        );
        assert_eq!(
            decoded("my%20app:s%2Bcr%3At+1"),
            ("my app".to_owned(), "s+cr:t 1".to_owned())
        );
        // A raw `&` ends the value, as in any form.
        assert_eq!(decoded("app:a&b").1, "a");
        assert!(matches!(
            basic("no-colon"),
            Err(ClientAuthError::InvalidClient { basic: true })
        ));
    }
}
