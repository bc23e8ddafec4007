//! The cookies the SDK sets and deletes: the local session and the short-lived sign-in cookie.
//! Routes name the cookie they want ([`SetCookie`]); each glue writes it with the attributes
//! below (the actix glue through actix-web's cookie type, with the same attributes).

#[cfg(feature = "axum")]
use crate::SsoClient;
#[cfg(feature = "axum")]
use crate::config::{CookieSettings, SameSite};
#[cfg(feature = "axum")]
use crate::login_state::LOGIN_LIFETIME;

/// A cookie a reply sets or deletes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SetCookie {
    /// The local-session cookie carrying this key, living as long as a session can.
    Session(String),
    /// The sign-in cookie carrying this sealed value. Always `SameSite=Lax`: it must come back
    /// on the top-level navigation from the center to the callback.
    Login(String),
    /// Deletes the session cookie. It carries the session cookie's attributes (`SameSite`
    /// included), so browsers match it to that cookie and none of them warns about it.
    SessionRemoval,
    /// Deletes the sign-in cookie, with the sign-in cookie's attributes.
    LoginRemoval,
}

/// When removal cookies expire: long ago (`Max-Age=0` already deletes them; `Expires` is for
/// clients that only know that attribute).
#[cfg(feature = "axum")]
const LONG_AGO: &str = "Thu, 01 Jan 1970 00:00:00 GMT";

impl SetCookie {
    /// The `Set-Cookie` header value for this cookie of `client`: name and value, then
    /// `HttpOnly`, `SameSite`, `Secure`, `Path`, `Domain`, `Max-Age` and, for removals,
    /// `Expires`.
    #[cfg(feature = "axum")]
    pub(crate) fn header_value(&self, client: &SsoClient) -> String {
        let config = client.config();
        let session_same_site = match config.cookie.same_site {
            SameSite::Strict => "Strict",
            SameSite::Lax => "Lax",
        };
        let absolute = config.session.absolute_timeout_secs;
        let (name, value, same_site, max_age) = match self {
            Self::Session(key) => (
                config.cookie.name.as_str(),
                key.as_str(),
                session_same_site,
                Some(absolute),
            ),
            Self::Login(sealed) => (
                client.login_cookie_name(),
                sealed.as_str(),
                "Lax",
                Some(LOGIN_LIFETIME.as_secs()),
            ),
            Self::SessionRemoval => (config.cookie.name.as_str(), "", session_same_site, None),
            Self::LoginRemoval => (client.login_cookie_name(), "", "Lax", None),
        };
        let mut header = format!("{name}={value}; HttpOnly; SameSite={same_site}");
        append_common(&mut header, &config.cookie);
        match max_age {
            Some(secs) => {
                header.push_str("; Max-Age=");
                header.push_str(&secs.min(i64::MAX.unsigned_abs()).to_string());
            }
            None => {
                header.push_str("; Max-Age=0; Expires=");
                header.push_str(LONG_AGO);
            }
        }
        header
    }

    /// The name of the cookie, for logs.
    #[cfg(feature = "axum")]
    pub(crate) fn name<'a>(&self, client: &'a SsoClient) -> &'a str {
        match self {
            Self::Session(_) | Self::SessionRemoval => &client.config().cookie.name,
            Self::Login(_) | Self::LoginRemoval => client.login_cookie_name(),
        }
    }
}

#[cfg(feature = "axum")]
fn append_common(header: &mut String, settings: &CookieSettings) {
    if settings.secure {
        header.push_str("; Secure");
    }
    header.push_str("; Path=");
    header.push_str(&settings.path);
    if let Some(domain) = &settings.domain {
        header.push_str("; Domain=");
        header.push_str(domain.strip_prefix('.').unwrap_or(domain));
    }
}

#[cfg(all(test, feature = "axum", feature = "actix"))]
mod tests {
    use session_store::MemoryStore;

    use super::*;
    use crate::actix::cookies;
    use crate::{LocalSessions, Secret, SsoConfig};

    fn client(change: impl FnOnce(&mut SsoConfig)) -> SsoClient {
        let mut config = SsoConfig::new(
            "http://127.0.0.1:9",
            "app1",
            Secret::new("secret"),
            "http://app1.localhost:8081".parse().unwrap(),
        );
        change(&mut config);
        SsoClient::new(config, LocalSessions::memory(MemoryStore::default())).unwrap()
    }

    /// The header without the `Expires` date, which actix-web sets to a year before now.
    fn without_expires(header: &str) -> String {
        header
            .split("; ")
            .filter(|part| !part.starts_with("Expires="))
            .collect::<Vec<_>>()
            .join("; ")
    }

    #[test]
    fn both_glues_write_the_same_cookies() {
        let settings: [fn(&mut SsoConfig); 3] = [
            |_| {},
            |config| {
                config.cookie.secure = false;
                config.cookie.same_site = SameSite::Strict;
                config.cookie.path = "/app".to_owned();
                config.cookie.name = "sid".to_owned();
            },
            |config| config.cookie.domain = Some("example.test".to_owned()),
        ];
        for change in settings {
            let client = client(change);
            let pairs = [
                (
                    SetCookie::Session("k1.abc".to_owned()),
                    cookies::session(&client, "k1.abc"),
                ),
                (
                    SetCookie::Login("sealed".to_owned()),
                    cookies::login(&client, "sealed".to_owned()),
                ),
                (SetCookie::SessionRemoval, cookies::session_removal(&client)),
                (SetCookie::LoginRemoval, cookies::login_removal(&client)),
            ];
            for (neutral, actix) in pairs {
                let ours = neutral.header_value(&client);
                assert_eq!(without_expires(&ours), without_expires(&actix.to_string()));
                assert_eq!(
                    ours.contains("Expires="),
                    actix.to_string().contains("Expires=")
                );
            }
        }
    }
}
