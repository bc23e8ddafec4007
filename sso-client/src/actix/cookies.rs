//! The cookies the middleware sets: the local session and the short-lived sign-in cookie.

use actix_web::cookie::time::Duration as CookieDuration;
use actix_web::cookie::{Cookie, SameSite as CookieSameSite};

use crate::SsoClient;
use crate::config::{CookieSettings, SameSite};
use crate::login_state::LOGIN_LIFETIME;

fn base(settings: &CookieSettings, name: String, value: String) -> Cookie<'static> {
    let mut cookie = Cookie::build(name, value)
        .path(settings.path.clone())
        .http_only(true)
        .secure(settings.secure)
        .finish();
    if let Some(domain) = &settings.domain {
        cookie.set_domain(domain.clone());
    }
    cookie
}

/// The local-session cookie carrying `value`, living as long as a session can.
pub(crate) fn session(client: &SsoClient, value: &str) -> Cookie<'static> {
    let mut cookie = session_base(client, value.to_owned());
    cookie.set_max_age(seconds(client.config().session.absolute_timeout_secs));
    cookie
}

/// The sign-in cookie. Always `SameSite=Lax`: it must come back on the top-level navigation
/// from the center to the callback.
pub(crate) fn login(client: &SsoClient, value: String) -> Cookie<'static> {
    let mut cookie = login_base(client, value);
    cookie.set_max_age(seconds(LOGIN_LIFETIME.as_secs()));
    cookie
}

/// A cookie that deletes the session cookie. It carries the session cookie's attributes
/// (`SameSite` included), so browsers match it to that cookie and none of them warns about it.
pub(crate) fn session_removal(client: &SsoClient) -> Cookie<'static> {
    let mut cookie = session_base(client, String::new());
    cookie.make_removal();
    cookie
}

/// A cookie that deletes the sign-in cookie, with the sign-in cookie's attributes.
pub(crate) fn login_removal(client: &SsoClient) -> Cookie<'static> {
    let mut cookie = login_base(client, String::new());
    cookie.make_removal();
    cookie
}

fn session_base(client: &SsoClient, value: String) -> Cookie<'static> {
    let config = client.config();
    let mut cookie = base(&config.cookie, config.cookie.name.clone(), value);
    cookie.set_same_site(match config.cookie.same_site {
        SameSite::Strict => CookieSameSite::Strict,
        SameSite::Lax => CookieSameSite::Lax,
    });
    cookie
}

fn login_base(client: &SsoClient, value: String) -> Cookie<'static> {
    let mut cookie = base(
        &client.config().cookie,
        client.login_cookie_name().to_owned(),
        value,
    );
    cookie.set_same_site(CookieSameSite::Lax);
    cookie
}

fn seconds(secs: u64) -> CookieDuration {
    CookieDuration::seconds(i64::try_from(secs).unwrap_or(i64::MAX))
}
