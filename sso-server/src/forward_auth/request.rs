//! What nginx tells the center about the request it is asking for: the original scheme, host,
//! URI and method in `X-Forwarded-*` headers, believed only from a trusted proxy; and the
//! validated values built from them.

use std::fmt;
use std::net::IpAddr;

use actix_web::HttpRequest;
use actix_web::http::header::HeaderName;

/// Longest host or URI the center accepts from a proxy; anything longer is refused.
const MAX_URI_LEN: usize = 2048;

// Named once, not parsed from text on every request.
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
const X_FORWARDED_URI: HeaderName = HeaderName::from_static("x-forwarded-uri");
const X_FORWARDED_METHOD: HeaderName = HeaderName::from_static("x-forwarded-method");

/// A DNS host name, lowercase, without port: 1–253 characters of `a-z`, `0-9`, `-` and `.`,
/// labels of 1–63 characters.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HostName(String);

impl HostName {
    /// Accepts a host name (any case; stored lowercase); `None` when it cannot be one.
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.to_ascii_lowercase();
        let valid = (1..=253).contains(&text.len())
            && text.split('.').all(|label| {
                (1..=63).contains(&label.len())
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                    && !label.starts_with('-')
                    && !label.ends_with('-')
            });
        valid.then_some(Self(text))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for HostName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HostName({})", self.0)
    }
}

impl fmt::Display for HostName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A path on the protected host to return to after sign-in (`rd`): it starts with a single
/// `/` and holds only visible ASCII without `\`, so it can never name another host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReturnPath(String);

impl ReturnPath {
    /// Accepts a path on the same host; `None` for anything else (absolute or
    /// scheme-relative URLs, backslashes, control characters, more than 2048 bytes).
    pub fn parse(text: &str) -> Option<Self> {
        let valid = text.len() <= MAX_URI_LEN
            && text.starts_with('/')
            && !text.starts_with("//")
            && text.bytes().all(|b| b.is_ascii_graphic() && b != b'\\');
        valid.then(|| Self(text.to_owned()))
    }

    /// The host's root, `/`.
    pub fn root() -> Self {
        Self("/".to_owned())
    }

    /// The path as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The original request, as a trusted proxy forwarded it.
#[derive(Clone, Debug)]
pub struct Forwarded {
    /// `https` or `http`.
    pub scheme: &'static str,
    /// The host name without port, to look the protected host up by.
    pub host: HostName,
    /// The host as the browser addressed it (with its port, if any), to build URLs with.
    pub authority: String,
    /// The original path and query, if the proxy sent one that is a path on this host.
    pub uri: Option<ReturnPath>,
    /// Whether the original request was a `GET` or `HEAD` (or the proxy did not say).
    pub safe_method: bool,
}

impl Forwarded {
    /// The original request described by `X-Forwarded-Proto`, `X-Forwarded-Host`,
    /// `X-Forwarded-Uri` and `X-Forwarded-Method`, when the peer is one of `trusted_proxies`.
    ///
    /// `None` when the peer is not trusted (whatever headers it sent), or the host is missing,
    /// repeated or malformed. A missing or malformed URI is left out rather than refused.
    pub fn from_trusted_proxy(req: &HttpRequest, trusted_proxies: &[IpAddr]) -> Option<Self> {
        let peer = req.peer_addr()?.ip();
        if !trusted_proxies.contains(&peer) {
            return None;
        }
        let header = |name: &HeaderName| {
            let mut values = req.headers().get_all(name);
            let value = values.next()?.to_str().ok()?;
            // A repeated header is ambiguous: which proxy wrote which?
            values.next().is_none().then_some(value.trim())
        };
        let scheme = match header(&X_FORWARDED_PROTO) {
            Some(proto) if proto.eq_ignore_ascii_case("http") => "http",
            _ => "https",
        };
        let authority = header(&X_FORWARDED_HOST)?;
        let (name, port) = match authority.rsplit_once(':') {
            Some((name, port)) => (name, Some(port)),
            None => (authority, None),
        };
        let port_ok = port.is_none_or(|port| {
            port.bytes().all(|b| b.is_ascii_digit()) && port.parse::<u16>().is_ok_and(|p| p > 0)
        });
        let host = HostName::parse(name).filter(|_| port_ok)?;
        let method = header(&X_FORWARDED_METHOD);
        Some(Self {
            scheme,
            authority: match port {
                Some(port) => format!("{host}:{port}"),
                None => host.to_string(),
            },
            host,
            uri: header(&X_FORWARDED_URI).and_then(ReturnPath::parse),
            safe_method: method.is_none_or(|m| m == "GET" || m == "HEAD"),
        })
    }

    /// `scheme://authority` followed by `path` (which starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}://{}{path}", self.scheme, self.authority)
    }
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    const PROXY: &str = "10.0.0.1";

    fn request(peer: &str, headers: &[(&str, &str)]) -> HttpRequest {
        let mut request = TestRequest::default().peer_addr(format!("{peer}:5000").parse().unwrap());
        for (name, value) in headers {
            request = request.append_header((*name, *value));
        }
        request.to_http_request()
    }

    fn forwarded(peer: &str, headers: &[(&str, &str)]) -> Option<Forwarded> {
        Forwarded::from_trusted_proxy(&request(peer, headers), &[PROXY.parse().unwrap()])
    }

    #[test]
    fn headers_are_believed_only_from_trusted_proxies() {
        let headers = [
            ("x-forwarded-host", "Wiki.Example.test:8443"),
            ("x-forwarded-proto", "https"),
            ("x-forwarded-uri", "/page?x=1"),
            ("x-forwarded-method", "POST"),
        ];
        let trusted = forwarded(PROXY, &headers).unwrap();
        assert_eq!(trusted.host.as_str(), "wiki.example.test");
        assert_eq!(trusted.authority, "wiki.example.test:8443");
        assert_eq!(trusted.uri.unwrap().as_str(), "/page?x=1");
        assert!(!trusted.safe_method);
        assert_eq!(trusted.scheme, "https");
        assert!(forwarded("192.0.2.9", &headers).is_none());
    }

    #[test]
    fn malformed_or_repeated_hosts_are_refused() {
        for host in [
            "",
            "a b",
            "wiki:port",
            "wiki:123456",
            "wiki:65536",
            "wiki:0",
            "-wiki",
            "wiki..test",
            "wiki/x",
        ] {
            assert!(
                forwarded(PROXY, &[("x-forwarded-host", host)]).is_none(),
                "{host:?}"
            );
        }
        let twice = [
            ("x-forwarded-host", "a.test"),
            ("x-forwarded-host", "b.test"),
        ];
        assert!(forwarded(PROXY, &twice).is_none());
        let plain = forwarded(
            PROXY,
            &[
                ("x-forwarded-host", "a.test"),
                ("x-forwarded-proto", "http"),
            ],
        );
        assert_eq!(plain.unwrap().url("/x"), "http://a.test/x");
    }

    #[test]
    fn return_paths_stay_on_the_host() {
        assert!(ReturnPath::parse("/").is_some());
        assert!(ReturnPath::parse("/a/b?c=d&e=%2F").is_some());
        for bad in [
            "",
            "page",
            "//evil.test/",
            "/\\evil.test",
            "https://evil.test/",
            "/a b",
            "/a\r\nSet-Cookie:x",
            &format!("/{}", "a".repeat(2048)),
        ] {
            assert!(ReturnPath::parse(bad).is_none(), "{bad:?}");
        }
    }
}
