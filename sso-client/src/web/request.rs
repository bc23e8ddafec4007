//! What the SDK reads of a request: whether it is for one of the SDK's routes, the cookies it
//! presents, whether it wants a page, and where to return after signing in.

use serde::Deserialize;
#[cfg(feature = "axum")]
pub(crate) use sso_common::http::cookie_value;

use crate::config::Paths;
use crate::{LoginOptions, ReturnTo};

/// One of the routes the SDK answers itself ([`Paths`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SdkRoute {
    /// `GET`: the center sends the browser back with the code.
    Callback,
    /// `GET ?return_to=` (and `acr_values`, `max_age`, `prompt=login`): start a sign-in
    /// explicitly.
    Login,
    /// `POST` with the CSRF token: sign out.
    Logout,
    /// `POST` from the center: a logout token.
    BackChannelLogout,
}

impl SdkRoute {
    /// The SDK route at `path`, if any.
    pub(crate) fn of(paths: &Paths, path: &str) -> Option<Self> {
        if path == paths.callback {
            Some(Self::Callback)
        } else if path == paths.backchannel_logout {
            Some(Self::BackChannelLogout)
        } else if path == paths.logout {
            Some(Self::Logout)
        } else if path == paths.login {
            Some(Self::Login)
        } else {
            None
        }
    }

    /// The methods the route answers, as an `Allow` header value.
    pub(crate) fn allow(self) -> &'static str {
        match self {
            Self::Callback | Self::Login => "GET, HEAD",
            Self::Logout | Self::BackChannelLogout => "POST",
        }
    }

    /// Whether the route answers `method`.
    pub(crate) fn allows(self, method: &str) -> bool {
        match self {
            Self::Callback | Self::Login => matches!(method, "GET" | "HEAD"),
            Self::Logout | Self::BackChannelLogout => method == "POST",
        }
    }
}

/// The session key the request presents in the cookie `name`, if it looks like one.
#[cfg(feature = "axum")]
pub(crate) fn presented_session<'a>(
    headers: impl IntoIterator<Item = &'a [u8]>,
    name: &str,
) -> Option<session_store::SessionKey> {
    session_cookie(headers, name).and_then(session_store::SessionKey::parse_bytes)
}

/// The value of the session cookie `name` as the request carries it, for
/// [`SsoClient::load_presented`](crate::SsoClient::load_presented): a cookie store recognises a
/// value it opened before without checking or copying it again.
pub(crate) fn session_cookie<'a>(
    headers: impl IntoIterator<Item = &'a [u8]>,
    name: &str,
) -> Option<&'a [u8]> {
    sso_common::http::cookie_value(headers, name)
}

/// Whether a redirect to a sign-in page makes sense for a request with this `Accept` header:
/// not for clients asking for JSON.
pub(crate) fn wants_html(accept: Option<&[u8]>) -> bool {
    let accept = accept
        .and_then(|value| std::str::from_utf8(value).ok())
        .unwrap_or("");
    !accept.contains("application/json") || accept.contains("text/html")
}

/// Where a browser asking for `path_and_query` returns after signing in: there, when it is a
/// same-origin path, else the home page.
pub(crate) fn return_to_of(path_and_query: Option<&str>) -> ReturnTo {
    path_and_query
        .and_then(|target| ReturnTo::parse(target).ok())
        .unwrap_or_else(ReturnTo::root)
}

#[derive(Deserialize, Default)]
struct LoginQuery {
    return_to: Option<String>,
    acr_values: Option<String>,
    // Text, so that a malformed value is ignored rather than spoiling the whole query.
    max_age: Option<String>,
    prompt: Option<String>,
}

/// The `return_to` of a sign-in link's `query`; a path that is not on this site (or none)
/// becomes the home page.
#[cfg(test)]
pub(crate) fn login_return_to(query: &str) -> ReturnTo {
    login_request(query).0
}

/// What a sign-in link's `query` asks for: where to return (`return_to`; a path that is not on
/// this site, or none, becomes the home page) and the options of the sign-in (`acr_values`,
/// `max_age`, `prompt=login`; malformed values and other prompts are ignored).
pub(crate) fn login_request(query: &str) -> (ReturnTo, LoginOptions) {
    let query = serde_urlencoded::from_str::<LoginQuery>(query).unwrap_or_default();
    let return_to = query
        .return_to
        .and_then(|text| ReturnTo::parse(&text).ok())
        .unwrap_or_else(ReturnTo::root);
    let mut options = LoginOptions::default();
    if let Some(values) = &query.acr_values {
        options = options.acr_values(values);
    }
    if let Some(secs) = query.max_age.and_then(|secs| secs.parse().ok()) {
        options = options.max_age(secs);
    }
    if query.prompt.as_deref() == Some("login") {
        options = options.prompt_login();
    }
    (return_to, options)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn presented(headers: &[&str]) -> Option<String> {
        presented_session(
            headers.iter().map(|header| header.as_bytes()),
            "app_session",
        )
        .map(|key| key.as_str().to_owned())
    }

    #[test]
    fn the_session_cookie_is_read_from_any_cookie_header() {
        assert_eq!(
            presented(&["app_session=k1.abc"]).as_deref(),
            Some("k1.abc")
        );
        assert_eq!(
            presented(&["theme=dark; app_session=abc-_9 ;x=1"]).as_deref(),
            Some("abc-_9")
        );
        assert_eq!(
            presented(&["theme=dark", "app_session=second"]).as_deref(),
            Some("second")
        );
        assert_eq!(
            presented(&["app_session=first; app_session=second"]).as_deref(),
            Some("first")
        );
    }

    #[test]
    fn other_cookies_and_malformed_values_present_no_session() {
        assert_eq!(presented(&[]), None);
        assert_eq!(presented(&["app_session2=abc; xapp_session=abc"]), None);
        assert_eq!(presented(&["app_session"]), None);
        assert_eq!(presented(&["app_session="]), None);
        assert_eq!(presented(&["app_session=a%20b"]), None);
        assert_eq!(presented(&["app_session=\"quoted\""]), None);
    }

    #[test]
    fn a_kilobyte_session_cookie_is_found_among_others() {
        let sealed = format!("k1.{}", "aZ-_9".repeat(210));
        let header = format!("a=1;b=2; app_session={sealed}; theme=dark");
        assert_eq!(presented(&[&header]).as_deref(), Some(sealed.as_str()));
        assert_eq!(
            presented(&["a=1;", ";;", "app_session=x"]).as_deref(),
            Some("x")
        );
        assert_eq!(presented(&["a=1;"]), None);
    }

    #[test]
    fn sdk_routes_are_recognised_with_their_methods() {
        let paths = Paths::default();
        assert_eq!(
            SdkRoute::of(&paths, "/auth/callback"),
            Some(SdkRoute::Callback)
        );
        assert_eq!(SdkRoute::of(&paths, "/auth/login"), Some(SdkRoute::Login));
        assert_eq!(SdkRoute::of(&paths, "/auth/logout"), Some(SdkRoute::Logout));
        assert_eq!(
            SdkRoute::of(&paths, "/auth/backchannel-logout"),
            Some(SdkRoute::BackChannelLogout)
        );
        assert_eq!(SdkRoute::of(&paths, "/auth/logout/"), None);
        assert_eq!(SdkRoute::of(&paths, "/"), None);
        assert!(SdkRoute::Callback.allows("HEAD"));
        assert!(!SdkRoute::Logout.allows("GET"));
        assert!(SdkRoute::BackChannelLogout.allows("POST"));
    }

    #[test]
    fn json_clients_are_not_sent_to_a_sign_in_page() {
        assert!(wants_html(None));
        assert!(wants_html(Some(b"text/html,application/xhtml+xml")));
        assert!(!wants_html(Some(b"application/json")));
        assert!(wants_html(Some(b"application/json, text/html")));
    }

    #[test]
    fn sign_in_links_carry_their_options() {
        let (return_to, options) = login_request(
            "return_to=%2Fsensitive&acr_values=urn%3Asso%3Aacr%3Amfa&max_age=300&prompt=login",
        );
        assert_eq!(return_to.as_str(), "/sensitive");
        assert_eq!(
            options,
            LoginOptions::default()
                .second_factor()
                .max_age(300)
                .prompt_login()
        );
        let (return_to, options) =
            login_request("return_to=%2Fa&max_age=soon&prompt=none&acr_values=a%0Ab");
        assert_eq!(
            return_to.as_str(),
            "/a",
            "bad options do not spoil the path"
        );
        assert_eq!(options, LoginOptions::default());
        assert_eq!(login_request("return_to=/b&return_to=/c").0.as_str(), "/");
    }

    #[test]
    #[cfg(feature = "axum")]
    fn return_paths_stay_on_site() {
        assert_eq!(
            login_return_to("return_to=%2Fme%3Fx%3D1").as_str(),
            "/me?x=1"
        );
        assert_eq!(
            login_return_to("return_to=https%3A%2F%2Fevil.example").as_str(),
            "/"
        );
        assert_eq!(login_return_to("").as_str(), "/");
        assert_eq!(return_to_of(Some("/a?b=c")).as_str(), "/a?b=c");
        assert_eq!(return_to_of(Some("//evil.example")).as_str(), "/");
    }
}
