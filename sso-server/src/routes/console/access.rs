//! Who may use the console: a signed-in member of the `admin` group, proven by the center's
//! own session cookie; and the CSRF check of the console's forms.

use std::future::Future;
use std::pin::Pin;

use actix_web::cookie::Cookie;
use actix_web::dev::Payload;
use actix_web::http::Method;
use actix_web::{FromRequest, HttpRequest, web};

use super::ConsoleError;
use crate::csrf::Binding;
use crate::state::AppState;
use crate::users::User;

/// The group whose members may use the console.
pub const ADMIN_GROUP: &str = "admin";

/// Proof that the request comes from a signed-in, enabled member of the `admin` group.
#[derive(Debug)]
pub struct ConsoleAdmin {
    /// The administrator: the actor of what they do.
    pub user: User,
    /// The value of their session cookie, which the console's CSRF tokens are bound to.
    session_cookie: String,
}

impl ConsoleAdmin {
    /// The CSRF token of this administrator's forms, and the cookie to set when the browser
    /// has none yet.
    pub fn csrf_token(
        &self,
        req: &HttpRequest,
        state: &AppState,
    ) -> (String, Option<Cookie<'static>>) {
        state
            .csrf
            .token(req, Binding::Session(&self.session_cookie))
    }

    /// Accepts a form submission only with this administrator's CSRF token.
    ///
    /// # Errors
    /// [`ConsoleError::Csrf`] when the token is missing or wrong.
    pub fn check_csrf(
        &self,
        req: &HttpRequest,
        state: &AppState,
        submitted: Option<&str>,
    ) -> Result<(), ConsoleError> {
        let binding = Binding::Session(&self.session_cookie);
        if state.csrf.verify(req, binding, submitted) {
            Ok(())
        } else {
            tracing::warn!(
                admin = self.user.username,
                path = req.path(),
                "console form refused: CSRF token missing or wrong"
            );
            Err(ConsoleError::Csrf)
        }
    }

    async fn authenticate(req: HttpRequest) -> Result<Self, ConsoleError> {
        let state = req
            .app_data::<web::Data<AppState>>()
            .ok_or(ConsoleError::Off)?;
        if !state.settings.admin.console {
            return Err(ConsoleError::Off);
        }
        let sign_in = || {
            // After signing in the browser comes back with a GET: a form's target would not do.
            let back = if req.method() == Method::GET {
                req.uri()
                    .path_and_query()
                    .map_or("/admin", |path| path.as_str())
            } else {
                "/admin"
            };
            ConsoleError::SignIn(back.to_owned())
        };
        let Some(cookie) = req.cookie(&state.settings.session.cookie_name) else {
            return Err(sign_in());
        };
        let Some(session) = state.sessions.current(cookie.value()).await? else {
            return Err(sign_in());
        };
        let Some(user) = state.users.get(&session.user_id).await? else {
            return Err(sign_in());
        };
        let groups = state.users.groups(&user.id).await?;
        let member = groups.iter().any(|group| group.as_str() == ADMIN_GROUP);
        if user.disabled || !member {
            tracing::info!(
                username = user.username,
                "console refused: not an administrator"
            );
            return Err(ConsoleError::NotAdmin(user.username));
        }
        Ok(Self {
            user,
            session_cookie: cookie.value().to_owned(),
        })
    }
}

impl FromRequest for ConsoleAdmin {
    type Error = ConsoleError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ConsoleError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        Box::pin(Self::authenticate(req.clone()))
    }
}
