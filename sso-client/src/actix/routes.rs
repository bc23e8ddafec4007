//! The routes the middleware answers itself: sign-in, callback, sign-out and back-channel
//! logout. Each turns the core's result into one response.

use actix_web::error::UrlencodedError;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use session_store::SessionKey;

use super::{cookies, pages};
use crate::{Callback, Error, ReturnTo, SsoClient};

/// The session key the request presents, if it looks like one.
pub(crate) fn presented_key(client: &SsoClient, req: &HttpRequest) -> Option<SessionKey> {
    req.cookie(&client.config().cookie.name)
        .and_then(|cookie| SessionKey::parse(cookie.value()))
}

fn redirect(status: StatusCode, location: &str) -> HttpResponse {
    let mut response = HttpResponse::build(status)
        .insert_header((header::LOCATION, location))
        .finish();
    pages::no_store(&mut response);
    response
}

fn home(client: &SsoClient) -> &str {
    &client.config().paths.after_logout
}

fn login_href(client: &SsoClient, return_to: &ReturnTo) -> String {
    let query: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("return_to", return_to.as_str())
        .finish();
    format!("{}?{query}", client.config().paths.login)
}

/// Sends the browser to the center, or shows why it cannot go there now.
pub(crate) async fn start_login(client: &SsoClient, return_to: ReturnTo) -> HttpResponse {
    let retry = login_href(client, &return_to);
    match client.start_login(return_to).await {
        Ok(login) => {
            let mut response = redirect(StatusCode::FOUND, login.url.as_str());
            add_cookie(&mut response, &cookies::login(client, login.cookie_value));
            response
        }
        Err(error) if error.is_center_unavailable() => {
            tracing::warn!(%error, "cannot start a sign-in");
            pages::unavailable(&retry)
        }
        Err(error) => {
            tracing::error!(%error, "cannot start a sign-in");
            pages::internal_error(home(client))
        }
    }
}

#[derive(Deserialize)]
struct LoginQuery {
    return_to: Option<String>,
}

/// `GET {login}?return_to=/path`: start a sign-in explicitly. A return path that is not on
/// this site is replaced by the home page.
pub(crate) async fn login(client: &SsoClient, req: &HttpRequest, signed_in: bool) -> HttpResponse {
    let return_to = web::Query::<LoginQuery>::from_query(req.query_string())
        .ok()
        .and_then(|query| query.into_inner().return_to)
        .and_then(|text| ReturnTo::parse(&text).ok())
        .unwrap_or_else(ReturnTo::root);
    if signed_in {
        return redirect(StatusCode::SEE_OTHER, return_to.as_str());
    }
    start_login(client, return_to).await
}

/// `GET {callback}`: finish the sign-in and go where the user wanted to.
pub(crate) async fn callback(client: &SsoClient, req: &HttpRequest) -> HttpResponse {
    let query = web::Query::<Callback>::from_query(req.query_string())
        .map(web::Query::into_inner)
        .unwrap_or_default();
    let login_cookie = req.cookie(client.login_cookie_name());
    let result = client
        .finish_login(&query, login_cookie.as_ref().map(|cookie| cookie.value()))
        .await;
    let mut response = match result {
        Ok(signed_in) => {
            if let Some(previous) = presented_key(client, req)
                && let Err(error) = client.forget(&previous).await
            {
                tracing::warn!(%error, "could not delete the session replaced at sign-in");
            }
            let mut response = redirect(StatusCode::SEE_OTHER, signed_in.return_to.as_str());
            add_cookie(
                &mut response,
                &cookies::session(client, signed_in.key.as_str()),
            );
            response
        }
        Err(error) => {
            let retry = login_href(client, &ReturnTo::root());
            match error {
                Error::InvalidState | Error::Refused(_) | Error::InvalidIdToken(_) => {
                    tracing::warn!(%error, "sign-in refused");
                    pages::sign_in_failed(&retry)
                }
                error if error.is_center_unavailable() => {
                    tracing::warn!(%error, "sign-in interrupted");
                    pages::unavailable(&retry)
                }
                error => {
                    tracing::error!(%error, "sign-in failed");
                    pages::internal_error(home(client))
                }
            }
        }
    };
    add_cookie(&mut response, &cookies::login_removal(client));
    response
}

/// The form a sign-out POST carries.
#[derive(Deserialize)]
pub(crate) struct LogoutForm {
    csrf_token: String,
}

/// The status for a request body that could not be read as the form expected: `408` for a
/// body that did not arrive in time (see [`sso_common::http::BodyDeadline`]), else the body
/// reader's own (`413` for a body over the limit, `415` for another content type, `411`, ...),
/// else `400`.
fn body_error_status(error: &actix_web::Error) -> StatusCode {
    let late = matches!(
        error.as_error::<UrlencodedError>(),
        Some(UrlencodedError::Payload(payload)) if sso_common::http::is_timeout(payload)
    );
    if late {
        return StatusCode::REQUEST_TIMEOUT;
    }
    let status = error.as_response_error().status_code();
    if status.is_client_error() {
        status
    } else {
        StatusCode::BAD_REQUEST
    }
}

/// `POST {logout}` with the session's `csrf_token`: end the local session, then the center's.
/// A body over the form limit gets `413`, one that arrives too late `408`; any other
/// unreadable form counts as one without the token.
pub(crate) async fn logout(
    client: &SsoClient,
    req: &HttpRequest,
    form: Result<LogoutForm, actix_web::Error>,
) -> HttpResponse {
    let form = match form {
        Ok(form) => Some(form),
        Err(error) => match body_error_status(&error) {
            status @ (StatusCode::PAYLOAD_TOO_LARGE | StatusCode::REQUEST_TIMEOUT) => {
                tracing::debug!(%error, "sign-out form not received");
                return pages::form_not_received(status, home(client));
            }
            _ => {
                tracing::debug!(%error, "unreadable sign-out form");
                None
            }
        },
    };
    let Some(key) = presented_key(client, req) else {
        return redirect(StatusCode::SEE_OTHER, home(client));
    };
    let session = match client.load(&key).await {
        Ok(session) => session,
        Err(error) => {
            tracing::error!(%error, "cannot read the session to sign out");
            return pages::internal_error(home(client));
        }
    };
    if let Some(session) = &session {
        let confirmed = form.is_some_and(|form| session.principal.verify_csrf(&form.csrf_token));
        if !confirmed {
            return pages::sign_out_refused(home(client));
        }
    }
    let mut response = match client.logout(&key).await {
        Ok(next) => redirect(StatusCode::SEE_OTHER, next.as_str()),
        Err(error) => {
            tracing::error!(%error, "sign-out failed");
            return pages::internal_error(home(client));
        }
    };
    add_cookie(&mut response, &cookies::session_removal(client));
    response
}

/// The form the center POSTs to the back-channel logout route.
#[derive(Deserialize)]
pub(crate) struct BackChannelForm {
    logout_token: String,
}

/// `POST {backchannel_logout}` from the center: end the sessions the logout token names. A
/// body that is not a form with a `logout_token` gets `invalid_request`, with `413` when it is
/// over the form limit.
pub(crate) async fn back_channel_logout(
    client: &SsoClient,
    form: Result<BackChannelForm, actix_web::Error>,
) -> HttpResponse {
    let form = match form {
        Ok(form) => form,
        Err(error) => {
            tracing::warn!(%error, "malformed back-channel logout request");
            return pages::json_error(body_error_status(&error), "invalid_request");
        }
    };
    match client.back_channel_logout(&form.logout_token).await {
        Ok(()) => {
            let mut response = HttpResponse::Ok().finish();
            pages::no_store(&mut response);
            response
        }
        Err(Error::InvalidLogoutToken(reason)) => {
            tracing::warn!(%reason, "logout token refused");
            pages::json_error(StatusCode::BAD_REQUEST, "invalid_request")
        }
        Err(error) if error.is_center_unavailable() => {
            tracing::warn!(%error, "cannot verify a logout token now");
            pages::json_error(StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable")
        }
        Err(error) => {
            tracing::error!(%error, "back-channel logout failed");
            pages::json_error(StatusCode::INTERNAL_SERVER_ERROR, "server_error")
        }
    }
}

/// `405` for other methods on the SDK's routes.
pub(crate) fn method_not_allowed(allow: &'static str) -> HttpResponse {
    let mut response = HttpResponse::MethodNotAllowed()
        .insert_header((header::ALLOW, HeaderValue::from_static(allow)))
        .finish();
    pages::no_store(&mut response);
    response
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
