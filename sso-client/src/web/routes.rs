//! The routes the SDK answers itself: sign-in, callback, sign-out and back-channel logout.
//! Each turns the core's result into one [`Reply`]; the glues read the request for them.

use serde::Deserialize;
use session_store::SessionKey;

use super::Reply;
use super::cookies::SetCookie;
use super::pages;
use super::request::login_request;
use crate::{Callback, Error, LoginOptions, Principal, ReturnTo, SsoClient};

#[cfg(feature = "axum")]
/// The most a form posted to the SDK may weigh, as actix-web's default form limit.
pub(crate) const FORM_LIMIT: usize = 16_384;

/// A request body that could not be read as the form expected, with the status it earns:
/// `413` over the limit, `408` too late, `415` another content type, `400` otherwise.
#[derive(Debug)]
pub(crate) struct UnreadForm {
    pub(crate) status: u16,
    pub(crate) reason: String,
}

impl UnreadForm {
    pub(crate) fn new(status: u16, reason: impl std::fmt::Display) -> Self {
        Self {
            status,
            reason: reason.to_string(),
        }
    }
}

/// Checks that a form body's `content_type` has the essence
/// `application/x-www-form-urlencoded`.
///
/// # Errors
/// `415` for another content type or none.
#[cfg(feature = "axum")]
pub(crate) fn form_content_type(content_type: Option<&[u8]>) -> Result<(), UnreadForm> {
    let essence = content_type
        .and_then(|value| std::str::from_utf8(value).ok())
        .and_then(|value| value.split(';').next())
        .map(str::trim);
    if essence
        .is_some_and(|essence| essence.eq_ignore_ascii_case("application/x-www-form-urlencoded"))
    {
        Ok(())
    } else {
        Err(UnreadForm::new(415, "not a form"))
    }
}

/// Reads a form `body`.
///
/// # Errors
/// `413` for a body over [`FORM_LIMIT`], `400` for one that is not the form expected.
#[cfg(feature = "axum")]
pub(crate) fn parse_form<F: serde::de::DeserializeOwned>(body: &[u8]) -> Result<F, UnreadForm> {
    if body.len() > FORM_LIMIT {
        return Err(UnreadForm::new(413, "form over the limit"));
    }
    serde_urlencoded::from_bytes(body).map_err(|error| UnreadForm::new(400, error))
}

fn home(client: &SsoClient) -> &str {
    &client.config().paths.after_logout
}

/// The SDK's sign-in route for a sign-in that asks for `options` and returns to `return_to`.
pub(crate) fn login_href(
    client: &SsoClient,
    return_to: &ReturnTo,
    options: &LoginOptions,
) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query.append_pair("return_to", return_to.as_str());
    for (name, value) in options.parameters() {
        query.append_pair(name, &value);
    }
    format!("{}?{}", client.config().paths.login, query.finish())
}

/// Sends the browser to the center, or shows why it cannot go there now.
pub(crate) async fn start_login(
    client: &SsoClient,
    return_to: ReturnTo,
    options: LoginOptions,
) -> Reply {
    let retry = login_href(client, &return_to, &options);
    match client.start_login_with(return_to, options).await {
        Ok(login) => Reply::redirect(302, login.url.as_str())
            .with_cookie(SetCookie::Login(login.cookie_value)),
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

/// `GET {login}?return_to=/path` (`query`): start a sign-in explicitly. A return path that is
/// not on this site is replaced by the home page. A user `signed_in` already goes straight
/// there, unless the query asks for more than their sign-in has (`acr_values` it does not
/// meet, an authentication more recent than `max_age`, or `prompt=login`).
pub(crate) async fn login(client: &SsoClient, query: &str, signed_in: Option<&Principal>) -> Reply {
    let (return_to, options) = login_request(query);
    let now = jsonwebtoken::get_current_timestamp();
    if signed_in.is_some_and(|principal| options.met_by(principal, now)) {
        return Reply::redirect(303, return_to.as_str());
    }
    start_login(client, return_to, options).await
}

/// `GET {callback}` with `query`, the sign-in cookie's value and the session key the browser
/// presents (replaced at sign-in): finish the sign-in and go where the user wanted to.
pub(crate) async fn callback(
    client: &SsoClient,
    query: &str,
    login_cookie: Option<&str>,
    presented: Option<SessionKey>,
) -> Reply {
    let query = serde_urlencoded::from_str::<Callback>(query).unwrap_or_default();
    let reply = match client.finish_login(&query, login_cookie).await {
        Ok(signed_in) => {
            if let Some(previous) = presented
                && let Err(error) = client.forget(&previous).await
            {
                tracing::warn!(%error, "could not delete the session replaced at sign-in");
            }
            let session = SetCookie::Session(signed_in.key.as_str().to_owned());
            // Never back to the page that asked for the level: it would ask again, in circles.
            if let Some(unmet) = signed_in.unmet_acr_values() {
                tracing::warn!(
                    sub = signed_in.principal.sub(),
                    acr_values = unmet,
                    acr = signed_in.principal.acr(),
                    "signed in without the authentication level asked for"
                );
                pages::second_factor_required(home(client)).with_cookie(session)
            } else if let Some(max_age) =
                signed_in.unmet_max_age(jsonwebtoken::get_current_timestamp())
            {
                tracing::warn!(
                    sub = signed_in.principal.sub(),
                    max_age,
                    auth_time = signed_in.principal.auth_time(),
                    "signed in with an authentication older than max_age"
                );
                let again = signed_in.options.clone().prompt_login();
                let again = login_href(client, &signed_in.return_to, &again);
                pages::recent_sign_in_required(&again).with_cookie(session)
            } else {
                Reply::redirect(303, signed_in.return_to.as_str()).with_cookie(session)
            }
        }
        Err(error) => {
            let retry = login_href(client, &ReturnTo::root(), &LoginOptions::default());
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
    reply.with_cookie(SetCookie::LoginRemoval)
}

/// The form a sign-out POST carries.
#[derive(Deserialize)]
pub(crate) struct LogoutForm {
    csrf_token: String,
}

/// `POST {logout}` with the session's `csrf_token`: end the local session, then the center's.
/// A body over the form limit gets `413`, one that arrives too late `408`; any other
/// unreadable form counts as one without the token.
pub(crate) async fn logout(
    client: &SsoClient,
    form: Result<LogoutForm, UnreadForm>,
    presented: Option<SessionKey>,
) -> Reply {
    let form = match form {
        Ok(form) => Some(form),
        Err(
            unread @ UnreadForm {
                status: 413 | 408, ..
            },
        ) => {
            tracing::debug!(reason = %unread.reason, "sign-out form not received");
            return pages::form_not_received(unread.status, home(client));
        }
        Err(unread) => {
            tracing::debug!(reason = %unread.reason, "unreadable sign-out form");
            None
        }
    };
    let Some(key) = presented else {
        return Reply::redirect(303, home(client));
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
    match client.logout(&key).await {
        Ok(next) => Reply::redirect(303, next.as_str()).with_cookie(SetCookie::SessionRemoval),
        Err(error) => {
            tracing::error!(%error, "sign-out failed");
            pages::internal_error(home(client))
        }
    }
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
    form: Result<BackChannelForm, UnreadForm>,
) -> Reply {
    let form = match form {
        Ok(form) => form,
        Err(unread) => {
            tracing::warn!(reason = %unread.reason, "malformed back-channel logout request");
            return pages::json_error(unread.status, "invalid_request");
        }
    };
    match client.back_channel_logout(&form.logout_token).await {
        Ok(()) => Reply::empty(200),
        Err(Error::InvalidLogoutToken(reason)) => {
            tracing::warn!(%reason, "logout token refused");
            pages::json_error(400, "invalid_request")
        }
        Err(error) if error.is_center_unavailable() => {
            tracing::warn!(%error, "cannot verify a logout token now");
            pages::json_error(503, "temporarily_unavailable")
        }
        Err(error) => {
            tracing::error!(%error, "back-channel logout failed");
            pages::json_error(500, "server_error")
        }
    }
}

/// `405` for other methods on the SDK's routes, naming the `allow`ed ones.
pub(crate) fn method_not_allowed(allow: &'static str) -> Reply {
    Reply::empty(405).with_header("allow", allow.to_owned())
}
