//! A user's global sessions, and ending them (with single logout, as the admin API does).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::users::{CsrfOnly, encode, find};
use super::{Chrome, ConsoleAdmin, ConsoleError, non_blank, page, utc};
use crate::admin;
use crate::domain::Username;
use crate::i18n::Texts;
use crate::state::AppState;
use crate::users::User;
use crate::web as webutil;

/// The query of `GET /admin/sessions`.
#[derive(Debug, Deserialize)]
pub struct Which {
    username: Option<String>,
}

/// A session as the page shows it.
struct Row {
    sid: String,
    started: String,
    clients: String,
}

/// The sessions page.
#[derive(Template)]
#[template(path = "sso/console/sessions.html")]
struct SessionsPage<'a> {
    lang: &'a str,
    t: &'a Texts,
    chrome: Chrome,
    username: &'a str,
    /// The user asked for, when there is one by that name.
    user: Option<User>,
    rows: Vec<Row>,
}

/// The sessions page of `username`.
fn sessions_path(username: &str) -> String {
    format!("/admin/sessions?username={}", encode(username))
}

/// `GET /admin/sessions?username=…`
pub async fn list(
    admin: ConsoleAdmin,
    req: HttpRequest,
    query: web::Query<Which>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let username = non_blank(query.username.as_deref()).unwrap_or("");
    let user = match Username::parse(username) {
        Ok(name) => state.users.find(&name).await?,
        Err(_) => None,
    };
    let mut rows = Vec::new();
    if let Some(user) = &user {
        for session in state.sessions.list_for_user(&user.id).await? {
            rows.push(Row {
                sid: session.sid,
                started: utc(session.created_at),
                clients: session.clients.join(", "),
            });
        }
    }
    let status = if user.is_none() && !username.is_empty() {
        StatusCode::NOT_FOUND
    } else {
        StatusCode::OK
    };
    let (chrome, cookie) = Chrome::new(&req, &state, &admin, "sessions");
    let body = SessionsPage {
        lang: super::LANG,
        t: super::texts(),
        chrome,
        username,
        user,
        rows,
    };
    Ok(page(status, cookie, &body))
}

/// The form ending one session.
#[derive(Debug, Deserialize)]
pub struct EndForm {
    csrf_token: Option<String>,
    /// Whose sessions page to go back to.
    #[serde(default)]
    username: String,
}

/// `POST /admin/sessions/{sid}/end`
pub async fn end_one(
    admin: ConsoleAdmin,
    req: HttpRequest,
    sid: web::Path<String>,
    form: web::Form<EndForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    admin.check_csrf(&req, &state, form.csrf_token.as_deref())?;
    if sid.is_empty() || sid.len() > 128 {
        return Err(ConsoleError::BadRequest(
            "that is not a session id".to_owned(),
        ));
    }
    if !admin::end_session(&state, &admin.user.username, &sid).await? {
        return Err(ConsoleError::NotFound(
            "that session has already ended".to_owned(),
        ));
    }
    Ok(webutil::see_other(&sessions_path(form.username.trim())))
}

/// `POST /admin/users/{username}/sessions/end`: all of the user's sessions.
pub async fn end_all(
    admin: ConsoleAdmin,
    req: HttpRequest,
    username: web::Path<String>,
    form: web::Form<CsrfOnly>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    admin.check_csrf(&req, &state, form.csrf_token.as_deref())?;
    let user = find(&state, &username).await?;
    admin::end_user_sessions(&state, &admin.user.username, &user).await?;
    Ok(webutil::see_other(&sessions_path(&user.username)))
}
