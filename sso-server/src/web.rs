//! HTTP plumbing shared by the handlers: pages, cookies, security headers, client IPs, the
//! origin of audit entries.

use std::net::IpAddr;

use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::DefaultHeaders;
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;

use crate::audit::{Entry, Event};
use crate::domain::Language;
use crate::i18n::{Texts, texts};

/// Content-Security-Policy of every response: only our own stylesheet and script (the passkey
/// ceremonies, `/assets/passkey.js`, which fetches its options from the center), no framing.
///
/// There is deliberately no `form-action`: browsers apply it to the redirects that follow a
/// form submission, and a successful login redirects to the client's (registered) URI.
pub const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; \
                       script-src 'self'; connect-src 'self'; \
                       base-uri 'none'; frame-ancestors 'none'";

/// Headers set on every response.
pub fn security_headers() -> DefaultHeaders {
    DefaultHeaders::new()
        .add((header::CONTENT_SECURITY_POLICY, CSP))
        .add((header::X_FRAME_OPTIONS, "DENY"))
        .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .add((header::REFERRER_POLICY, "no-referrer"))
}

/// The language and texts for a request, from its `Accept-Language`.
pub fn language(req: &HttpRequest) -> (Language, &'static Texts) {
    let language = Language::negotiate(
        req.headers()
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok()),
    );
    (language, texts(language))
}

/// An HTML page from a template, never cached. A template that fails to render yields a bare
/// 500 (and a log line).
pub fn page(status: StatusCode, template: &impl Template) -> HttpResponse {
    match template.render() {
        Ok(body) => HttpResponse::build(status)
            .content_type("text/html; charset=utf-8")
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .body(body),
        Err(error) => {
            tracing::error!(%error, "template rendering failed");
            HttpResponse::InternalServerError()
                .content_type("text/plain; charset=utf-8")
                .body("Internal Server Error")
        }
    }
}

/// A title and a sentence: errors, "signed out", "signed in".
#[derive(Debug, Template)]
#[template(path = "sso/message.html")]
pub struct MessagePage<'a> {
    pub lang: &'a str,
    pub t: &'a Texts,
    pub title: &'a str,
    pub message: &'a str,
}

/// A message page in the request's language.
pub fn message(req: &HttpRequest, status: StatusCode, title: &str, text: &str) -> HttpResponse {
    let (language, t) = language(req);
    page(
        status,
        &MessagePage {
            lang: language.tag(),
            t,
            title,
            message: text,
        },
    )
}

/// A cookie only the center's pages see: `HttpOnly`, `Secure`, path `/`.
pub fn cookie(name: &str, value: String, same_site: SameSite) -> Cookie<'static> {
    Cookie::build(name.to_owned(), value)
        .path("/")
        .http_only(true)
        .secure(true)
        .same_site(same_site)
        .finish()
}

/// A cookie that deletes `name`.
pub fn removal(name: &str) -> Cookie<'static> {
    let mut cookie = cookie(name, String::new(), SameSite::Lax);
    cookie.set_max_age(CookieDuration::ZERO);
    cookie
}

/// An audit entry of `event` made from `req`: the client's IP (see [`client_ip`]) and its
/// `User-Agent`.
pub fn audit_entry(req: &HttpRequest, trusted_proxies: &[IpAddr], event: Event) -> Entry {
    let agent = req
        .headers()
        .get(header::USER_AGENT)
        .and_then(|value| value.to_str().ok());
    Entry::new(event).from_address(Some(&client_ip(req, trusted_proxies).to_string()), agent)
}

/// The client's IP: the peer, or, when the peer is a trusted proxy, the last address in
/// `X-Forwarded-For` that is not a trusted proxy.
pub fn client_ip(req: &HttpRequest, trusted_proxies: &[IpAddr]) -> IpAddr {
    let peer = req
        .peer_addr()
        .map_or(IpAddr::from([0, 0, 0, 0]), |addr| addr.ip());
    if !trusted_proxies.contains(&peer) {
        return peer;
    }
    req.headers()
        .get_all("x-forwarded-for")
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|part| part.trim().parse::<IpAddr>().ok())
        .rev()
        .find(|ip| !trusted_proxies.contains(ip))
        .unwrap_or(peer)
}

/// The credentials of an `Authorization` header (RFC 9110 §11.6.2; schemes are
/// case-insensitive).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Authorization<'a> {
    /// `Bearer <token>`, the token trimmed.
    Bearer(&'a str),
    /// `Basic <base64>`, the encoded part trimmed.
    Basic(&'a str),
    /// Any other scheme, or a value that is not visible ASCII.
    Other,
}

/// A request with more than one `Authorization` header: which one counts is ambiguous, so the
/// request is refused (400) rather than served by either.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("more than one Authorization header")]
pub struct AmbiguousAuthorization;

impl AmbiguousAuthorization {
    /// What a client is told.
    pub fn message(self) -> &'static str {
        "more than one Authorization header"
    }
}

/// The request's `Authorization` header, if it has one.
///
/// # Errors
/// When it has more than one.
pub fn authorization(
    req: &HttpRequest,
) -> Result<Option<Authorization<'_>>, AmbiguousAuthorization> {
    let mut values = req.headers().get_all(header::AUTHORIZATION);
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(AmbiguousAuthorization);
    }
    Ok(Some(parse_authorization(value.to_str().unwrap_or(""))))
}

fn parse_authorization(value: &str) -> Authorization<'_> {
    let Some((scheme, credentials)) = value.split_once(' ') else {
        return Authorization::Other;
    };
    let credentials = credentials.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        Authorization::Bearer(credentials)
    } else if scheme.eq_ignore_ascii_case("basic") {
        Authorization::Basic(credentials)
    } else {
        Authorization::Other
    }
}

/// `text` when it is a path of the center itself to go back to after signing in: it starts
/// with one `/` (not `//` or `/\\`, which browsers take for another host) and is plain
/// visible ASCII without `#`, quotes or angle brackets.
pub fn local_path(text: &str) -> Option<&str> {
    let plain = text.len() <= 2048
        && text
            .bytes()
            .all(|b| b.is_ascii_graphic() && !matches!(b, b'#' | b'"' | b'<' | b'>' | b'\\'));
    let local = text.starts_with('/') && !text.starts_with("//");
    (plain && local).then_some(text)
}

/// A `303 See Other` to `location`.
pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

/// `Cache-Control: no-store` and `Pragma: no-cache`, as RFC 6749 requires for token responses.
pub fn no_store(
    builder: &mut actix_web::HttpResponseBuilder,
) -> &mut actix_web::HttpResponseBuilder {
    builder
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .insert_header((header::PRAGMA, HeaderValue::from_static("no-cache")))
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    fn request(peer: &str, forwarded: Option<&str>) -> HttpRequest {
        let mut request = TestRequest::default().peer_addr(peer.parse().unwrap());
        if let Some(value) = forwarded {
            request = request.insert_header(("x-forwarded-for", value));
        }
        request.to_http_request()
    }

    #[test]
    fn authorization_schemes_are_case_insensitive_and_two_headers_are_ambiguous() {
        let one = |value: &str| {
            TestRequest::default()
                .insert_header((header::AUTHORIZATION, value.to_owned()))
                .to_http_request()
        };
        assert_eq!(
            authorization(&one("Bearer abc")),
            Ok(Some(Authorization::Bearer("abc")))
        );
        assert_eq!(
            authorization(&one("bearer  abc ")),
            Ok(Some(Authorization::Bearer("abc")))
        );
        assert_eq!(
            authorization(&one("BASIC eDp5")),
            Ok(Some(Authorization::Basic("eDp5")))
        );
        assert_eq!(
            authorization(&one("Digest x")),
            Ok(Some(Authorization::Other))
        );
        assert_eq!(
            authorization(&one("Bearer")),
            Ok(Some(Authorization::Other))
        );
        assert_eq!(
            authorization(&TestRequest::default().to_http_request()),
            Ok(None)
        );
        let two = TestRequest::default()
            .append_header((header::AUTHORIZATION, "Bearer first"))
            .append_header((header::AUTHORIZATION, "Bearer second"))
            .to_http_request();
        assert_eq!(authorization(&two), Err(AmbiguousAuthorization));
    }

    proptest::proptest! {
        #[test]
        fn any_authorization_value_parses_to_an_answer(value in "\\PC{0,80}") {
            match parse_authorization(&value) {
                Authorization::Bearer(token) | Authorization::Basic(token) => {
                    proptest::prop_assert!(value.contains(token));
                    proptest::prop_assert_eq!(token, token.trim());
                }
                Authorization::Other => {}
            }
        }
    }

    #[test]
    fn only_paths_of_the_center_are_local() {
        assert_eq!(local_path("/admin/users?q=a"), Some("/admin/users?q=a"));
        for foreign in [
            "//evil.test/",
            "/\\evil.test",
            "https://evil.test/",
            "admin",
            "",
            "/a b",
            "/a\"b",
        ] {
            assert_eq!(local_path(foreign), None, "{foreign}");
        }
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let client: IpAddr = "203.0.113.7".parse().unwrap();
        let from_proxy = request("10.0.0.1:5000", Some("198.51.100.1, 203.0.113.7"));
        assert_eq!(client_ip(&from_proxy, &[proxy]), client);
        let spoofed = request("192.0.2.9:5000", Some("203.0.113.7"));
        assert_eq!(
            client_ip(&spoofed, &[proxy]),
            "192.0.2.9".parse::<IpAddr>().unwrap()
        );
        let untrusted_default = request("10.0.0.1:5000", Some("203.0.113.7"));
        assert_eq!(client_ip(&untrusted_default, &[]), proxy);
    }
}
