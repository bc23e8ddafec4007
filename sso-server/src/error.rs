//! How errors become responses.
//!
//! Browser endpoints answer with an HTML page in the user's language ([`Page`]); OAuth
//! endpoints answer in JSON as RFC 6749 §5.2 specifies ([`oauth_error`]). Either way a failure
//! of ours is a bare 500 that reveals nothing, while the log keeps the whole chain.

use std::fmt;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use serde::Serialize;

use crate::domain::Language;
use crate::i18n::{Texts, texts};
use crate::web::{self, MessagePage};

/// An error of a browser endpoint: its status and the sentence to show.
pub trait PageError: std::error::Error {
    /// The HTTP status.
    fn status(&self) -> StatusCode;
    /// What to tell the user; only called for 4xx statuses.
    fn message(&self, t: &'static Texts) -> &'static str;
    /// Whether the failure is the database being unreachable: then the page is a 503 asking to
    /// try again shortly, with `Retry-After`.
    fn unavailable(&self) -> bool {
        false
    }
}

/// A failure of ours behind a browser page: a 500 that reveals nothing, or, when the database
/// is unreachable, a 503 asking to try again shortly. The log keeps the whole chain.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct Unexpected(#[from] anyhow::Error);

impl PageError for Unexpected {
    fn status(&self) -> StatusCode {
        StatusCode::INTERNAL_SERVER_ERROR
    }

    fn unavailable(&self) -> bool {
        crate::db::is_unreachable(&self.0)
    }

    fn message(&self, t: &'static Texts) -> &'static str {
        t.internal_error
    }
}

/// The seconds a client is asked to wait when the database is unreachable.
pub const RETRY_AFTER_SECS: u64 = 5;

/// A [`PageError`] with the language to show it in.
pub struct Page<E> {
    language: Language,
    error: E,
}

impl<E> Page<E> {
    /// `error`, to be shown in the language `req` asks for.
    pub fn new(req: &HttpRequest, error: E) -> Self {
        Self {
            language: web::language(req).0,
            error,
        }
    }
}

impl<E: fmt::Debug> fmt::Debug for Page<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.error.fmt(f)
    }
}

impl<E: fmt::Display> fmt::Display for Page<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.error.fmt(f)
    }
}

impl<E: PageError> ResponseError for Page<E> {
    fn status_code(&self) -> StatusCode {
        if self.error.unavailable() {
            StatusCode::SERVICE_UNAVAILABLE
        } else {
            self.error.status()
        }
    }

    fn error_response(&self) -> HttpResponse {
        let t = texts(self.language);
        if self.error.unavailable() {
            log_chain(&self.error);
            let mut response = web::page(
                StatusCode::SERVICE_UNAVAILABLE,
                &MessagePage {
                    lang: self.language.tag(),
                    t,
                    title: t.unavailable_title,
                    message: t.try_again_shortly,
                },
            );
            retry_after(&mut response);
            return response;
        }
        let status = self.error.status();
        let message = if status.is_server_error() {
            log_chain(&self.error);
            t.internal_error
        } else {
            self.error.message(t)
        };
        web::page(
            status,
            &MessagePage {
                lang: self.language.tag(),
                t,
                title: t.error_title,
                message,
            },
        )
    }
}

/// Asks the client to come back in [`RETRY_AFTER_SECS`].
fn retry_after(response: &mut HttpResponse) {
    response.headers_mut().insert(
        actix_web::http::header::RETRY_AFTER,
        actix_web::http::header::HeaderValue::from(RETRY_AFTER_SECS),
    );
}

/// Logs an error with its sources.
pub fn log_chain(error: &dyn std::error::Error) {
    let mut chain = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        chain.push_str(": ");
        chain.push_str(&cause.to_string());
        source = cause.source();
    }
    tracing::error!(error = chain, "request failed");
}

/// An OAuth 2.0 error response body.
#[derive(Debug, Serialize)]
pub struct OAuthErrorBody<'a> {
    pub error: &'a str,
    pub error_description: &'a str,
}

/// An OAuth error response (RFC 6749 §5.2, RFC 6750 §3): JSON, never cached. For a 5xx the
/// description is generic and the error chain goes to the log instead.
pub fn oauth_error(
    status: StatusCode,
    error: &str,
    description: &str,
    www_authenticate: Option<&'static str>,
) -> HttpResponse {
    let mut response = HttpResponse::build(status);
    web::no_store(&mut response);
    if let Some(challenge) = www_authenticate {
        response.insert_header(("WWW-Authenticate", challenge));
    }
    response.json(OAuthErrorBody {
        error,
        error_description: description,
    })
}

/// The response for an unexpected failure of an OAuth endpoint: logged, then a bare
/// `server_error`; a 503 `temporarily_unavailable` with `Retry-After` when the database is
/// unreachable.
pub fn oauth_server_error(error: &anyhow::Error) -> HttpResponse {
    log_chain(error.as_ref());
    if crate::db::is_unreachable(error) {
        let mut response = oauth_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "try again shortly",
            None,
        );
        retry_after(&mut response);
        return response;
    }
    oauth_error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "server_error",
        "internal error",
        None,
    )
}
