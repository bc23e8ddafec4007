//! Users: find, add, disable and enable, set a password, set groups.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::{Chrome, ConsoleAdmin, ConsoleError, non_blank, page};
use crate::admin;
use crate::domain::Username;
use crate::i18n::Texts;
use crate::state::AppState;
use crate::users::{AddUserError, GroupChange, GroupName, NewUser, Password, User};
use crate::web as webutil;

/// Most users a search lists.
const LISTED: usize = 200;

/// The query of `GET /admin/users`.
#[derive(Debug, Deserialize)]
pub struct Search {
    q: Option<String>,
}

/// The users page.
#[derive(Template)]
#[template(path = "sso/console/users.html")]
struct UsersPage<'a> {
    lang: &'a str,
    t: &'a Texts,
    chrome: Chrome,
    q: &'a str,
    users: Vec<User>,
    /// More users matched than are listed.
    more: bool,
}

/// Whether `user` matches the search text `q` (lowercase): in the username, name or email.
fn matches(user: &User, q: &str) -> bool {
    [&user.username, &user.name, &user.email]
        .iter()
        .any(|field| field.to_lowercase().contains(q))
}

/// `GET /admin/users?q=…`
pub async fn list(
    admin: ConsoleAdmin,
    req: HttpRequest,
    query: web::Query<Search>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let q = non_blank(query.q.as_deref()).unwrap_or("");
    let needle = q.to_lowercase();
    let mut users: Vec<User> = state
        .users
        .list()
        .await?
        .into_iter()
        .filter(|user| matches(user, &needle))
        .collect();
    let more = users.len() > LISTED;
    users.truncate(LISTED);
    let (chrome, cookie) = Chrome::new(&req, &state, &admin, "users");
    let body = UsersPage {
        lang: super::LANG,
        t: super::texts(),
        chrome,
        q,
        users,
        more,
    };
    Ok(page(StatusCode::OK, cookie, &body))
}

/// A form with nothing but its CSRF token.
#[derive(Debug, Deserialize)]
pub struct CsrfOnly {
    pub csrf_token: Option<String>,
}

/// The form adding a user.
#[derive(Deserialize)]
pub struct NewUserForm {
    csrf_token: Option<String>,
    username: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
    password: String,
}

impl std::fmt::Debug for NewUserForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewUserForm")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// Passwords set here: 8 to 1024 characters.
fn password(text: String) -> Result<Password, ConsoleError> {
    if (8..=1024).contains(&text.chars().count()) {
        Ok(Password::new(text))
    } else {
        Err(ConsoleError::BadRequest(
            "a password must have 8 to 1024 characters".to_owned(),
        ))
    }
}

/// A profile field: trimmed, at most `max` characters.
fn field(text: &str, what: &str, max: usize) -> Result<String, ConsoleError> {
    let text = text.trim();
    if text.chars().count() > max || text.chars().any(char::is_control) {
        return Err(ConsoleError::BadRequest(format!(
            "the {what} must be at most {max} characters, without control characters"
        )));
    }
    Ok(text.to_owned())
}

fn username(text: &str) -> Result<Username, ConsoleError> {
    Username::parse(text).map_err(ConsoleError::BadRequest)
}

/// The console page of `username`.
pub fn user_path(username: &str) -> String {
    format!("/admin/users/{}", encode(username))
}

/// `text` as one path segment or query value.
pub fn encode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// `POST /admin/users`
pub async fn create(
    admin: ConsoleAdmin,
    req: HttpRequest,
    form: web::Form<NewUserForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let form = form.into_inner();
    admin.check_csrf(&req, &state, form.csrf_token.as_deref())?;
    let username = username(&form.username)?;
    let name = field(&form.name, "name", 128)?;
    let user = NewUser {
        name: if name.is_empty() {
            username.as_str().to_owned()
        } else {
            name
        },
        email: field(&form.email, "email", 254)?,
        username,
    };
    let password = password(form.password)?;
    match admin::add_user(&state, &admin.user.username, user, password).await {
        Ok(user) => Ok(webutil::see_other(&user_path(&user.username))),
        Err(AddUserError::Exists(name)) => Err(ConsoleError::BadRequest(format!(
            "a user named {name} already exists"
        ))),
        Err(AddUserError::Unexpected(error)) => Err(error.into()),
    }
}

/// A user's page.
#[derive(Template)]
#[template(path = "sso/console/user.html")]
struct UserPage<'a> {
    lang: &'a str,
    t: &'a Texts,
    chrome: Chrome,
    user: User,
    path: String,
    groups: String,
    sessions: usize,
    /// The administrator is looking at themselves (they cannot disable themselves).
    is_self: bool,
    /// The user's second factors.
    factors: crate::factors::Enrolled,
}

/// The user named `text`.
pub(super) async fn find(state: &AppState, text: &str) -> Result<User, ConsoleError> {
    let not_found = || ConsoleError::NotFound(format!("there is no user named {text}"));
    let username = Username::parse(text).map_err(|_| not_found())?;
    state.users.find(&username).await?.ok_or_else(not_found)
}

/// `GET /admin/users/{username}`
pub async fn show(
    admin: ConsoleAdmin,
    req: HttpRequest,
    username: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let user = find(&state, &username).await?;
    let groups = state.users.groups(&user.id).await?;
    let sessions = state.sessions.list_for_user(&user.id).await?.len();
    let factors = state.factors.enrolled(&user.id).await?;
    let (chrome, cookie) = Chrome::new(&req, &state, &admin, "users");
    let body = UserPage {
        lang: super::LANG,
        t: super::texts(),
        chrome,
        path: user_path(&user.username),
        is_self: user.id == admin.user.id,
        groups: groups
            .iter()
            .map(GroupName::as_str)
            .collect::<Vec<_>>()
            .join(", "),
        sessions,
        factors,
        user,
    };
    Ok(page(StatusCode::OK, cookie, &body))
}

/// The user a form acts on, named in its path, once its CSRF token is checked.
async fn target(
    admin: &ConsoleAdmin,
    req: &HttpRequest,
    state: &AppState,
    csrf_token: Option<&str>,
    username: &str,
) -> Result<Username, ConsoleError> {
    admin.check_csrf(req, state, csrf_token)?;
    let user = find(state, username).await?;
    Username::parse(&user.username).map_err(|why| ConsoleError::Unexpected(anyhow::anyhow!(why)))
}

/// Back to the page of `username` once an action on them is done (`None`: they vanished).
fn done<T>(username: &Username, outcome: Option<T>) -> Result<HttpResponse, ConsoleError> {
    match outcome {
        Some(_) => Ok(webutil::see_other(&user_path(username.as_str()))),
        None => Err(ConsoleError::NotFound(format!(
            "there is no user named {username}"
        ))),
    }
}

/// `POST /admin/users/{username}/disable`: also ends their sessions (with single logout).
pub async fn disable(
    admin: ConsoleAdmin,
    req: HttpRequest,
    path: web::Path<String>,
    form: web::Form<CsrfOnly>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    set_disabled(&admin, &req, &path, &form, &state, true).await
}

/// `POST /admin/users/{username}/enable`
pub async fn enable(
    admin: ConsoleAdmin,
    req: HttpRequest,
    path: web::Path<String>,
    form: web::Form<CsrfOnly>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    set_disabled(&admin, &req, &path, &form, &state, false).await
}

/// Disables or enables the user named in the path; an administrator cannot disable themselves.
async fn set_disabled(
    admin: &ConsoleAdmin,
    req: &HttpRequest,
    username: &str,
    form: &CsrfOnly,
    state: &AppState,
    disabled: bool,
) -> Result<HttpResponse, ConsoleError> {
    let name = target(admin, req, state, form.csrf_token.as_deref(), username).await?;
    if disabled && name.as_str() == admin.user.username {
        return Err(ConsoleError::BadRequest(
            "you cannot disable your own account here".to_owned(),
        ));
    }
    let actor = &admin.user.username;
    done(
        &name,
        admin::set_disabled(state, actor, &name, disabled).await?,
    )
}

/// `POST /admin/users/{username}/factors/reset`: removes the user's second factors (they sign
/// in with the password and enroll again) and ends their sessions (with single logout).
pub async fn reset_factors(
    admin: ConsoleAdmin,
    req: HttpRequest,
    path: web::Path<String>,
    form: web::Form<CsrfOnly>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let name = target(&admin, &req, &state, form.csrf_token.as_deref(), &path).await?;
    let user = find(&state, name.as_str()).await?;
    admin::reset_factors(&state, &admin.user.username, &user).await?;
    Ok(webutil::see_other(&user_path(name.as_str())))
}

/// The form setting a password.
#[derive(Deserialize)]
pub struct PasswordForm {
    csrf_token: Option<String>,
    password: String,
}

impl std::fmt::Debug for PasswordForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordForm").finish_non_exhaustive()
    }
}

/// `POST /admin/users/{username}/password`: also ends their sessions (with single logout).
pub async fn password_reset(
    admin: ConsoleAdmin,
    req: HttpRequest,
    path: web::Path<String>,
    form: web::Form<PasswordForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let form = form.into_inner();
    let name = target(&admin, &req, &state, form.csrf_token.as_deref(), &path).await?;
    let new_password = password(form.password)?;
    let actor = &admin.user.username;
    done(
        &name,
        admin::set_password(&state, actor, &name, new_password).await?,
    )
}

/// The form setting groups.
#[derive(Debug, Deserialize)]
pub struct GroupsForm {
    csrf_token: Option<String>,
    /// Comma-separated group names.
    #[serde(default)]
    groups: String,
}

/// `POST /admin/users/{username}/membership`: exactly the groups listed.
pub async fn groups(
    admin: ConsoleAdmin,
    req: HttpRequest,
    path: web::Path<String>,
    form: web::Form<GroupsForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let name = target(&admin, &req, &state, form.csrf_token.as_deref(), &path).await?;
    let groups = GroupName::parse_list(&form.groups).map_err(ConsoleError::BadRequest)?;
    let change = GroupChange::Set(groups);
    let actor = &admin.user.username;
    done(
        &name,
        admin::change_groups(&state, actor, &name, &change).await?,
    )
}
