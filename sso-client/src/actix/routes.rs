//! The routes the middleware answers itself, read from actix-web requests into the
//! framework-neutral routes ([`crate::web::routes`]) and written back as responses.

use actix_web::error::UrlencodedError;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use session_store::SessionKey;

use super::pages::{respond, without_cookies};
use crate::web::routes::{self as neutral, UnreadForm};
pub(crate) use crate::web::routes::{BackChannelForm, LogoutForm};
use crate::{LoginOptions, Principal, ReturnTo, SsoClient};

/// The session key the request presents, if it looks like one.
pub(crate) fn presented_key(client: &SsoClient, req: &HttpRequest) -> Option<SessionKey> {
    req.cookie(&client.config().cookie.name)
        .and_then(|cookie| SessionKey::parse(cookie.value()))
}

/// Sends the browser to the center, or shows why it cannot go there now.
pub(crate) async fn start_login(client: &SsoClient, return_to: ReturnTo) -> HttpResponse {
    respond(
        client,
        neutral::start_login(client, return_to, LoginOptions::default()).await,
    )
}

/// `GET {login}?return_to=/path`: start a sign-in explicitly.
pub(crate) async fn login(
    client: &SsoClient,
    req: &HttpRequest,
    signed_in: Option<&Principal>,
) -> HttpResponse {
    respond(
        client,
        neutral::login(client, req.query_string(), signed_in).await,
    )
}

/// `GET {callback}`: finish the sign-in and go where the user wanted to.
pub(crate) async fn callback(client: &SsoClient, req: &HttpRequest) -> HttpResponse {
    let login_cookie = req.cookie(client.login_cookie_name());
    let reply = neutral::callback(
        client,
        req.query_string(),
        login_cookie.as_ref().map(|cookie| cookie.value()),
        presented_key(client, req),
    )
    .await;
    respond(client, reply)
}

/// The status for a request body that could not be read as the form expected: `408` for a
/// body that did not arrive in time (see [`sso_common::http::BodyDeadline`]), else the body
/// reader's own (`413` for a body over the limit, `415` for another content type, `411`, ...),
/// else `400`.
fn unread_form(error: &actix_web::Error) -> UnreadForm {
    let late = matches!(
        error.as_error::<UrlencodedError>(),
        Some(UrlencodedError::Payload(payload)) if sso_common::http::is_timeout(payload)
    );
    if late {
        return UnreadForm::new(StatusCode::REQUEST_TIMEOUT.as_u16(), error);
    }
    let status = error.as_response_error().status_code();
    let status = if status.is_client_error() {
        status
    } else {
        StatusCode::BAD_REQUEST
    };
    UnreadForm::new(status.as_u16(), error)
}

/// `POST {logout}` with the session's `csrf_token`: end the local session, then the center's.
pub(crate) async fn logout(
    client: &SsoClient,
    req: &HttpRequest,
    form: Result<LogoutForm, actix_web::Error>,
) -> HttpResponse {
    let form = form.map_err(|error| unread_form(&error));
    respond(
        client,
        neutral::logout(client, form, presented_key(client, req)).await,
    )
}

/// `POST {backchannel_logout}` from the center: end the sessions the logout token names.
pub(crate) async fn back_channel_logout(
    client: &SsoClient,
    form: Result<BackChannelForm, actix_web::Error>,
) -> HttpResponse {
    let form = form.map_err(|error| unread_form(&error));
    respond(client, neutral::back_channel_logout(client, form).await)
}

/// `405` for other methods on the SDK's routes.
pub(crate) fn method_not_allowed(allow: &'static str) -> HttpResponse {
    without_cookies(neutral::method_not_allowed(allow))
}

/// Adds `cookie` to `response`; a cookie that cannot be encoded is logged, not sent.
pub(crate) fn add_cookie<B>(
    response: &mut HttpResponse<B>,
    cookie: &actix_web::cookie::Cookie<'_>,
) {
    if let Err(error) = response.add_cookie(cookie) {
        tracing::error!(%error, cookie = cookie.name(), "could not set a cookie");
    }
}
