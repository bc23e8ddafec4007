//! `POST /login`: checks the CSRF token and the login budget (see [`crate::throttle`]),
//! verifies the password, and starts a global session with a fresh id, the only live one of
//! its form (see [`crate::routes::login::form`]); then resumes the authorization request. A successful sign-in also
//! renews the browser's device cookie.

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use crate::audit::Event;
use crate::csrf::Binding;
use crate::domain::Username;
use crate::error::Page;
use crate::factors::Amr;
use crate::i18n::Texts;
use crate::metrics::{self, SignIn};
use crate::routes::login::finish;
use crate::routes::login::form::FormId;
use crate::routes::login::get::render_login;
use crate::state::AppState;
use crate::throttle::device::DEVICE_COOKIE;
use crate::users::Password;
use crate::web as webutil;

/// The submitted form.
#[derive(Deserialize)]
pub struct LoginForm {
    csrf_token: Option<String>,
    username: String,
    password: String,
    #[serde(default)]
    return_to: String,
    /// The rendering of the form this submission comes from (see [`crate::routes::login::form`]).
    form_id: Option<String>,
}

/// Failures that are ours, not the user's.
pub use crate::error::Unexpected as LoginError;

impl std::fmt::Debug for LoginForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginForm")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// `POST /login`
pub async fn login(
    req: HttpRequest,
    form: web::Form<LoginForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Page<LoginError>> {
    handle(&req, form.into_inner(), &state)
        .await
        .map_err(|error| Page::new(&req, error))
}

async fn client_name(state: &AppState, return_to: &str) -> anyhow::Result<Option<String>> {
    Ok(match finish::client_id_of(return_to) {
        Some(id) => state.clients.get(&id).await?.map(|client| client.name),
        None => None,
    })
}

async fn handle(
    req: &HttpRequest,
    form: LoginForm,
    state: &AppState,
) -> Result<HttpResponse, LoginError> {
    // A sign-in needs the users table and records a session in the registry: without the
    // database it cannot happen, and the user is asked at once to try again shortly.
    if state.database.is_down() {
        return Err(LoginError::from(anyhow::Error::from(
            crate::db::Unreachable,
        )));
    }
    let return_to = finish::return_query(&form.return_to);
    let name = client_name(state, return_to).await?;
    let retry = |status, error: fn(&Texts) -> &'static str, username: &str| {
        render_login(
            req,
            &state.csrf,
            status,
            name.as_deref(),
            Some(error),
            username,
            return_to,
        )
    };
    if !state
        .csrf
        .verify(req, Binding::Browser, form.csrf_token.as_deref())
    {
        return Ok(retry(
            StatusCode::FORBIDDEN,
            |t| t.form_expired,
            &form.username,
        ));
    }
    let username = Username::parse(&form.username).ok();
    let ip = webutil::client_ip(req, &state.settings.login.trusted_proxies);
    // Who tried, from where, for which client: never the password.
    let audit = |event, outcome: Option<&str>| {
        let mut entry = webutil::audit_entry(req, &state.settings.login.trusted_proxies, event)
            .user(&form.username.chars().take(64).collect::<String>());
        if let Some(client) = finish::client_id_of(return_to) {
            entry = entry.client(client.as_str());
        }
        if let Some(outcome) = outcome {
            entry = entry.with("reason", outcome);
        }
        entry
    };
    let device_cookie = req.cookie(DEVICE_COOKIE);
    let admitted = state
        .throttle
        .admit(
            ip,
            username.as_ref(),
            device_cookie.as_ref().map(|cookie| cookie.value()),
        )
        .await?;
    let admitted = match admitted {
        Ok(admitted) => admitted,
        Err(limited) => {
            tracing::warn!(%ip, username = form.username, "login attempt limited");
            metrics::sign_in(SignIn::Limited);
            state
                .audit
                .record(audit(Event::SignInFailed, Some("limited")))
                .await;
            let mut response = retry(
                StatusCode::TOO_MANY_REQUESTS,
                |t| t.too_many_attempts,
                &form.username,
            );
            response.headers_mut().insert(
                header::RETRY_AFTER,
                header::HeaderValue::from(limited.retry_after.as_secs()),
            );
            return Ok(response);
        }
    };
    let found = match &username {
        Some(username) => state.users.find_with_hash(username).await?,
        None => None,
    };
    let (user, hash) = found.unzip();
    let verified = state
        .hasher
        .verify(hash, Password::new(form.password))
        .await?;
    // A failure was charged when the attempt was admitted.
    let (Some(user), Some(username), true) = (user, &username, verified) else {
        tracing::info!(%ip, username = form.username, "login failed");
        metrics::sign_in(SignIn::WrongPassword);
        state
            .audit
            .record(audit(Event::SignInFailed, Some("wrong_password")))
            .await;
        return Ok(retry(
            StatusCode::UNAUTHORIZED,
            |t| t.invalid_credentials,
            &form.username,
        ));
    };
    if user.disabled {
        tracing::info!(%ip, username = user.username, "login refused: user disabled");
        metrics::sign_in(SignIn::Disabled);
        state
            .audit
            .record(audit(Event::SignInFailed, Some("disabled")))
            .await;
        return Ok(retry(
            StatusCode::FORBIDDEN,
            |t| t.account_disabled,
            &form.username,
        ));
    }
    let device = state.throttle.succeeded(admitted, username).await?;
    let form_id = form.form_id.as_deref().and_then(FormId::parse);
    let (session, latest) = finish::begin(
        req,
        state,
        &user,
        &[Amr::Password],
        form_id.as_ref(),
        return_to,
    )
    .await?;
    let mut response = finish::respond(state, &session, latest, return_to)?;
    response
        .add_cookie(&device)
        .map_err(|e| anyhow::anyhow!("cannot set cookie: {e}"))?;
    Ok(response)
}
