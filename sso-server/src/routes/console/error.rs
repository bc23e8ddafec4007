//! The console's errors, each a readable page (or, for a missing sign-in, the way to it).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use askama::Template;

use crate::i18n::Texts;
use crate::web as webutil;

/// Why a console request was not served.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    /// No live session: sign in, then come back to this path.
    #[error("sign in first")]
    SignIn(String),
    /// `admin.console = false`.
    #[error("not found")]
    Off,
    /// Signed in as this user, who is not a member of the `admin` group (or is disabled).
    #[error("signed in as {0}, who is not a member of the admin group")]
    NotAdmin(String),
    /// The form's CSRF token is missing or wrong.
    #[error(
        "the form has expired or did not come from this console; reload the page and try again"
    )]
    Csrf,
    /// A client from the configuration file, which only the file changes.
    #[error(
        "client {0} is registered by the configuration file and is read-only here; change it there"
    )]
    ReadOnly(String),
    #[error("{0}")]
    NotFound(String),
    /// A console path asked with a method it does not take.
    #[error("this page does not take that request")]
    MethodNotAllowed,
    #[error("{0}")]
    BadRequest(String),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// The page of a console error.
#[derive(Template)]
#[template(path = "sso/console/error.html")]
struct ErrorPage<'a> {
    lang: &'a str,
    t: &'a Texts,
    title: &'a str,
    message: &'a str,
    /// Whether the reader may use the console (and gets a way back into it).
    back: bool,
    /// Whether the reader is signed in as someone who may not (and gets a way out).
    sign_out: bool,
}

impl ResponseError for ConsoleError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::SignIn(_) => StatusCode::SEE_OTHER,
            Self::Off | Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::NotAdmin(_) | Self::Csrf | Self::ReadOnly(_) => StatusCode::FORBIDDEN,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Unexpected(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let title = match self {
            Self::SignIn(back) => {
                let query = url::form_urlencoded::Serializer::new(String::new())
                    .append_pair("return_to", back)
                    .finish();
                return webutil::see_other(&format!("/login?{query}"));
            }
            Self::Off | Self::NotFound(_) => "Not found",
            Self::NotAdmin(_) => "Administrators only",
            Self::Csrf => "Form refused",
            Self::ReadOnly(_) => "Read-only",
            Self::BadRequest(_) | Self::MethodNotAllowed => "Cannot do that",
            Self::Unexpected(error) => {
                crate::error::log_chain(error.as_ref());
                "Something went wrong"
            }
        };
        let message = match self {
            Self::Off => "There is no page here.".to_owned(),
            Self::Unexpected(_) => "An internal error occurred. Please try again later.".to_owned(),
            other => format!("{}.", capitalized(other.to_string().trim_end_matches('.'))),
        };
        let back = !matches!(self, Self::Off | Self::NotAdmin(_));
        webutil::page(
            self.status_code(),
            &ErrorPage {
                lang: super::LANG,
                t: super::texts(),
                title,
                message: &message,
                back,
                sign_out: matches!(self, Self::NotAdmin(_)),
            },
        )
    }
}

fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect()
    })
}
