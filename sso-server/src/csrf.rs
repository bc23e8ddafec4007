//! CSRF protection of the center's forms (login, logout confirmation).
//!
//! Each browser gets a random value in a cookie; a form carries an HMAC of that value (and, for
//! forms that act on a signed-in session, of the session cookie too) under a server secret
//! shared by the replicas. A submission is accepted only when its token is the HMAC of the
//! cookies it arrives with, so a token cannot be made up: a cookie and field of the attacker's
//! choosing, equal or not, are refused, and a token bound to a session is useless once that
//! session has changed.
//!
//! The cookie is named `__Host-sso_csrf` when the issuer's origin allows it (HTTPS, or a
//! `localhost` host, which browsers treat as secure), so that a sibling subdomain cannot plant
//! one: browsers accept a `__Host-` cookie only from the host itself, `Secure`, with path `/`
//! and no `Domain`. Over plain HTTP elsewhere it is `sso_csrf`.

use actix_web::HttpRequest;
use actix_web::cookie::{Cookie, SameSite};
use aws_lc_rs::hmac;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use url::Url;

use crate::secrets::ServerSecret;

/// Name of the CSRF cookie where the `__Host-` prefix is allowed.
pub const HOST_COOKIE: &str = "__Host-sso_csrf";
/// Name of the CSRF cookie elsewhere.
pub const PLAIN_COOKIE: &str = "sso_csrf";

/// What a form acts on, and so what its token is bound to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Binding<'a> {
    /// The browser only (the login form: there is no session yet).
    Browser,
    /// The browser and the signed-in session whose cookie value this is (the logout form).
    Session(&'a str),
}

/// Issues and checks CSRF tokens.
#[derive(Clone)]
pub struct Csrf {
    key: hmac::Key,
    cookie_name: &'static str,
}

impl std::fmt::Debug for Csrf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Csrf")
            .field("cookie_name", &self.cookie_name)
            .finish_non_exhaustive()
    }
}

/// Whether browsers accept `__Host-` cookies from `issuer`.
fn allows_host_prefix(issuer: &Url) -> bool {
    issuer.scheme() == "https"
        || issuer
            .host_str()
            .is_some_and(|host| host == "localhost" || host.ends_with(".localhost"))
}

impl Csrf {
    /// Tokens keyed by `secret`, with the cookie name `issuer` allows.
    pub fn new(secret: &ServerSecret, issuer: &Url) -> Self {
        Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, secret.expose()),
            cookie_name: if allows_host_prefix(issuer) {
                HOST_COOKIE
            } else {
                PLAIN_COOKIE
            },
        }
    }

    /// The name of the CSRF cookie.
    pub fn cookie_name(&self) -> &'static str {
        self.cookie_name
    }

    fn mac(&self, browser: &str, binding: Binding<'_>) -> String {
        let mut context = hmac::Context::with_key(&self.key);
        context.update(b"sso-csrf v1\0");
        context.update(browser.as_bytes());
        if let Binding::Session(session) = binding {
            context.update(b"\0session\0");
            context.update(session.as_bytes());
        }
        URL_SAFE_NO_PAD.encode(context.sign().as_ref())
    }

    /// The token for a form bound to `binding`, and the cookie to set when the browser has no
    /// usable one yet.
    pub fn token(
        &self,
        req: &HttpRequest,
        binding: Binding<'_>,
    ) -> (String, Option<Cookie<'static>>) {
        match self.browser_value(req) {
            Some(browser) => (self.mac(&browser, binding), None),
            None => {
                let browser = crate::crypto::random_id();
                let token = self.mac(&browser, binding);
                let cookie = crate::web::cookie(self.cookie_name, browser, SameSite::Strict);
                (token, Some(cookie))
            }
        }
    }

    /// Whether `submitted` is the token of this browser for `binding` (compared in constant
    /// time).
    pub fn verify(&self, req: &HttpRequest, binding: Binding<'_>, submitted: Option<&str>) -> bool {
        use subtle::ConstantTimeEq as _;
        match (self.browser_value(req), submitted) {
            (Some(browser), Some(submitted)) => self
                .mac(&browser, binding)
                .as_bytes()
                .ct_eq(submitted.as_bytes())
                .into(),
            _ => false,
        }
    }

    /// The browser's random value, when its cookie holds one the center could have made.
    fn browser_value(&self, req: &HttpRequest) -> Option<String> {
        req.cookie(self.cookie_name)
            .map(|cookie| cookie.value().to_owned())
            .filter(|value| {
                value.len() == 22
                    && value
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            })
    }
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;
    use proptest::prelude::*;

    use super::*;

    fn csrf(issuer: &str) -> Csrf {
        Csrf::new(&secret(7), &Url::parse(issuer).unwrap())
    }

    fn secret(byte: u8) -> ServerSecret {
        ServerSecret::from_bytes([byte; 32])
    }

    fn with_cookie(csrf: &Csrf, value: &str) -> HttpRequest {
        TestRequest::default()
            .cookie(Cookie::new(csrf.cookie_name(), value.to_owned()))
            .to_http_request()
    }

    #[test]
    fn the_host_prefix_is_used_where_browsers_allow_it() {
        assert_eq!(csrf("https://sso.example.test").cookie_name(), HOST_COOKIE);
        assert_eq!(csrf("http://sso.localhost:8080").cookie_name(), HOST_COOKIE);
        assert_eq!(csrf("http://localhost:8080").cookie_name(), HOST_COOKIE);
        assert_eq!(csrf("http://sso.example.test").cookie_name(), PLAIN_COOKIE);
        assert_eq!(csrf("http://127.0.0.1:8080").cookie_name(), PLAIN_COOKIE);
    }

    #[test]
    fn a_new_browser_gets_a_host_only_secure_cookie_and_a_token_for_it() {
        let csrf = csrf("https://sso.example.test");
        let (token, cookie) =
            csrf.token(&TestRequest::default().to_http_request(), Binding::Browser);
        let cookie = cookie.expect("a cookie for a new browser");
        assert_eq!(cookie.name(), HOST_COOKIE);
        assert_eq!(cookie.secure(), Some(true));
        assert_eq!(cookie.path(), Some("/"));
        assert_eq!(cookie.domain(), None);
        let back = with_cookie(&csrf, cookie.value());
        assert!(csrf.verify(&back, Binding::Browser, Some(&token)));
        let (again, none) = csrf.token(&back, Binding::Browser);
        assert_eq!(again, token, "the same browser keeps its token");
        assert!(none.is_none());
    }

    #[test]
    fn a_self_chosen_cookie_and_equal_field_are_refused() {
        let csrf = csrf("https://sso.example.test");
        let chosen = "AAAAAAAAAAAAAAAAAAAAAA";
        let req = with_cookie(&csrf, chosen);
        assert!(!csrf.verify(&req, Binding::Browser, Some(chosen)));
        assert!(!csrf.verify(&req, Binding::Browser, Some("")));
        assert!(!csrf.verify(&req, Binding::Browser, None));
        let (token, _) = csrf.token(&req, Binding::Browser);
        assert!(csrf.verify(&req, Binding::Browser, Some(&token)));
    }

    #[test]
    fn a_token_is_bound_to_its_session_and_to_the_server_secret() {
        let csrf = csrf("https://sso.example.test");
        let req = with_cookie(&csrf, "BBBBBBBBBBBBBBBBBBBBBB");
        let (token, _) = csrf.token(&req, Binding::Session("session-a"));
        assert!(csrf.verify(&req, Binding::Session("session-a"), Some(&token)));
        assert!(!csrf.verify(&req, Binding::Session("session-b"), Some(&token)));
        assert!(!csrf.verify(&req, Binding::Browser, Some(&token)));
        let other_server = Csrf::new(&secret(8), &Url::parse("https://sso.example.test").unwrap());
        assert!(!other_server.verify(&req, Binding::Session("session-a"), Some(&token)));
    }

    proptest! {
        #[test]
        fn any_cookie_and_field_give_an_answer_and_never_a_false_accept(
            cookie in "\\PC{0,40}",
            field in proptest::option::of("\\PC{0,60}"),
        ) {
            let csrf = csrf("https://sso.example.test");
            let req = TestRequest::default()
                .insert_header(("cookie", format!("{HOST_COOKIE}={cookie}")))
                .to_http_request();
            let accepted = csrf.verify(&req, Binding::Browser, field.as_deref());
            if accepted {
                let (token, _) = csrf.token(&req, Binding::Browser);
                prop_assert_eq!(Some(token.as_str()), field.as_deref());
            }
        }
    }
}
