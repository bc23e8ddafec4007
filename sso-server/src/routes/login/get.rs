//! `GET /login`: the login form, also rendered by `/authorize` when there is no session.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::csrf::{Binding, Csrf};
use crate::i18n::Texts;
use crate::routes::login::form::FormId;
use crate::state::AppState;
use crate::web as webutil;

/// The login page.
#[derive(Template)]
#[template(path = "sso/login.html")]
struct LoginPage<'a> {
    lang: &'a str,
    t: &'a Texts,
    client_name: Option<&'a str>,
    error: Option<&'a str>,
    username: &'a str,
    csrf_token: &'a str,
    form_id: &'a str,
    return_to: &'a str,
}

/// Renders the login form with a CSRF token (setting its cookie when the browser has none).
///
/// `return_to` is the query of the authorization request to resume after login, or a path of
/// the center (see [`webutil::local_path`]); `error`
/// picks the message shown above the form.
pub fn render_login(
    req: &HttpRequest,
    csrf: &Csrf,
    status: StatusCode,
    client_name: Option<&str>,
    error: Option<fn(&Texts) -> &'static str>,
    username: &str,
    return_to: &str,
) -> HttpResponse {
    let (language, t) = webutil::language(req);
    let (csrf_token, cookie) = csrf.token(req, Binding::Browser);
    let mut response = webutil::page(
        status,
        &LoginPage {
            lang: language.tag(),
            t,
            client_name,
            error: error.map(|pick| pick(t)),
            username,
            csrf_token: &csrf_token,
            form_id: FormId::new().as_str(),
            return_to,
        },
    );
    if let Some(cookie) = cookie
        && let Err(error) = response.add_cookie(&cookie)
    {
        tracing::error!(%error, "cannot set CSRF cookie");
    }
    response
}

/// The query of `GET /login`.
#[derive(Debug, Deserialize)]
pub struct LoginQuery {
    /// A path of the center to go to once signed in (the admin console); anything else is
    /// ignored (see [`webutil::local_path`]).
    return_to: Option<String>,
}

/// `GET /login`: sign in to the center itself, without an application.
pub async fn login_form(
    req: HttpRequest,
    query: web::Query<LoginQuery>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let return_to = query.return_to.as_deref().and_then(webutil::local_path);
    let return_to = return_to.unwrap_or("");
    render_login(&req, &state.csrf, StatusCode::OK, None, None, "", return_to)
}

/// `GET /login/done`: shown after signing in to the center without an application.
pub async fn done(req: HttpRequest) -> HttpResponse {
    let (_, t) = webutil::language(&req);
    webutil::message(&req, StatusCode::OK, t.signed_in_title, t.signed_in)
}
