//! What an [`crate::SsoClient`] needs to know: the center, its own credentials and URLs, and
//! how it keeps local sessions.
//!
//! The struct deserializes from any serde format (the demo reads it from TOML); unknown keys are
//! rejected and every field but the center, the credentials and the app's own URL has a safe
//! default.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use url::Url;

pub use sso_common::Secret;

use crate::Error;

/// Configuration of one subsystem.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SsoConfig {
    /// The center's issuer identifier, e.g. `http://sso.localhost:8080`. Its endpoints are read
    /// from `{issuer}/.well-known/openid-configuration`, and tokens must carry exactly this `iss`.
    pub issuer: String,
    /// This subsystem's client id at the center.
    pub client_id: String,
    /// This subsystem's client secret (sent with HTTP Basic to the token endpoint).
    pub client_secret: Secret,
    /// The public origin of this subsystem, e.g. `http://app1.localhost:8081`; the callback and
    /// post-logout URLs registered at the center are built from it.
    pub base_url: Url,
    /// The routes the middleware answers itself.
    #[serde(default)]
    pub paths: Paths,
    /// Paths that need no sign-in; see [`SsoConfig::is_public`].
    #[serde(default)]
    pub public_paths: Vec<String>,
    /// Scopes asked for; `openid` is always included.
    #[serde(default = "default_scopes")]
    pub scopes: Vec<String>,
    /// The local-session cookie.
    #[serde(default)]
    pub cookie: CookieSettings,
    /// AES-256 key (32 bytes, standard base64) sealing the short-lived sign-in cookie that
    /// carries state, nonce and PKCE verifier. Every node of one subsystem needs the same key;
    /// when absent a random key is generated at start, which only suits a single node.
    #[serde(default)]
    pub login_cookie_key: Option<Secret>,
    /// Lifetime of local sessions.
    #[serde(default)]
    pub session: SessionSettings,
    /// Limits on calls to the center.
    #[serde(default)]
    pub center: CenterSettings,
}

fn default_scopes() -> Vec<String> {
    ["openid", "profile", "email"].map(str::to_owned).to_vec()
}

/// The routes handled by the middleware.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct Paths {
    /// Where the center sends the browser back with the code (the registered redirect URI).
    pub callback: String,
    /// `GET ?return_to=/path` starts a sign-in explicitly (for "Sign in" links); `acr_values`,
    /// `max_age` and `prompt=login` in the query are passed to the center (see
    /// [`crate::LoginOptions`]).
    pub login: String,
    /// `POST` (with the CSRF token of the [`crate::Principal`]) signs out.
    pub logout: String,
    /// Where the center POSTs logout tokens (the registered back-channel logout URI).
    pub backchannel_logout: String,
    /// Where the center sends the browser after signing out (registered post-logout URI).
    pub after_logout: String,
}

impl Default for Paths {
    fn default() -> Self {
        Self {
            callback: "/auth/callback".to_owned(),
            login: "/auth/login".to_owned(),
            logout: "/auth/logout".to_owned(),
            backchannel_logout: "/auth/backchannel-logout".to_owned(),
            after_logout: "/".to_owned(),
        }
    }
}

/// The `SameSite` attribute of the session cookie.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SameSite {
    /// Sent on same-site requests only.
    Strict,
    /// Also sent on top-level cross-site navigations (needed when arriving from the center).
    Lax,
}

/// Attributes of the local-session cookie. It is always `HttpOnly`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct CookieSettings {
    /// Cookie name; the sign-in cookie is named `{name}_login`.
    pub name: String,
    /// `Secure` attribute. Browsers accept secure cookies on `http://*.localhost`, so only turn
    /// this off for plain-HTTP hosts other than localhost.
    pub secure: bool,
    /// `SameSite` attribute.
    pub same_site: SameSite,
    /// `Domain` attribute; absent (host-only) unless set.
    pub domain: Option<String>,
    /// `Path` attribute.
    pub path: String,
}

impl Default for CookieSettings {
    fn default() -> Self {
        Self {
            name: "app_session".to_owned(),
            secure: true,
            same_site: SameSite::Lax,
            domain: None,
            path: "/".to_owned(),
        }
    }
}

/// Lifetime of local sessions.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct SessionSettings {
    /// A local session ends after this many seconds without a request.
    pub idle_timeout_secs: u64,
    /// A local session ends this many seconds after sign-in in any case.
    pub absolute_timeout_secs: u64,
    /// Cookie sessions cannot be deleted on the server, so every this many seconds a request
    /// with a cookie session asks the center (its userinfo endpoint, with the session's access
    /// token) whether the session is still valid, and the session ends when the center says
    /// no. This bounds how long a cookie session outlives its center session on a node that
    /// missed the single logout. `0` turns the check off; other backends never need it.
    pub recheck_secs: u64,
}

impl Default for SessionSettings {
    fn default() -> Self {
        Self {
            idle_timeout_secs: 30 * 60,
            absolute_timeout_secs: 8 * 60 * 60,
            recheck_secs: 60,
        }
    }
}

impl SessionSettings {
    /// The expiry of a new local session.
    pub fn expiry(&self) -> session_store::Expiry {
        session_store::Expiry::new(
            Duration::from_secs(self.idle_timeout_secs),
            Duration::from_secs(self.absolute_timeout_secs),
        )
    }
}

/// Limits on calls to the center, so that a slow or dead center never holds up this app.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct CenterSettings {
    /// Connecting to the center may take at most this many milliseconds.
    pub connect_timeout_ms: u64,
    /// A whole call to the center may take at most this many milliseconds.
    pub request_timeout_ms: u64,
    /// After this many consecutive failed calls the circuit opens: calls fail at once.
    pub failure_threshold: u32,
    /// How many seconds the circuit stays open before one trial call is let through.
    pub open_secs: u64,
    /// How long discovery metadata is cached, in seconds. A sign-in refreshes an older
    /// document first, so this also bounds how long sign-ins are still sent to a center that
    /// has gone down (instead of showing the "unavailable" page).
    pub metadata_ttl_secs: u64,
    /// Unknown key ids refetch the JWKS at most once per this many seconds.
    pub jwks_min_refresh_secs: u64,
}

impl Default for CenterSettings {
    fn default() -> Self {
        Self {
            connect_timeout_ms: 1_000,
            request_timeout_ms: 3_000,
            failure_threshold: 3,
            open_secs: 15,
            metadata_ttl_secs: 30,
            jwks_min_refresh_secs: 10,
        }
    }
}

impl SsoConfig {
    /// A configuration with defaults for everything but the essentials.
    pub fn new(
        issuer: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: Secret,
        base_url: Url,
    ) -> Self {
        Self {
            issuer: issuer.into(),
            client_id: client_id.into(),
            client_secret,
            base_url,
            paths: Paths::default(),
            public_paths: Vec::new(),
            scopes: default_scopes(),
            cookie: CookieSettings::default(),
            login_cookie_key: None,
            session: SessionSettings::default(),
            center: CenterSettings::default(),
        }
    }

    /// Whether `path` needs no sign-in: it equals a public path, or a public path ending in `/`
    /// is a prefix of it (`/static/` covers `/static/app.css`). The middleware's own routes are
    /// always reachable.
    pub fn is_public(&self, path: &str) -> bool {
        self.public_paths.iter().any(|public| {
            path == public
                || (public.ends_with('/') && public.len() > 1 && path.starts_with(public))
        })
    }

    /// The redirect URI registered at the center.
    ///
    /// # Errors
    /// [`Error::Config`] when the callback path does not form a URL with the base URL.
    pub fn redirect_uri(&self) -> Result<Url, Error> {
        self.join(&self.paths.callback)
    }

    /// The post-logout redirect URI registered at the center.
    ///
    /// # Errors
    /// [`Error::Config`] when the path does not form a URL with the base URL.
    pub fn post_logout_redirect_uri(&self) -> Result<Url, Error> {
        self.join(&self.paths.after_logout)
    }

    fn join(&self, path: &str) -> Result<Url, Error> {
        self.base_url
            .join(path)
            .map_err(|error| Error::Config(format!("path {path:?}: {error}")))
    }

    /// Checks what the types cannot.
    ///
    /// # Errors
    /// [`Error::Config`] naming the first problem found.
    pub fn validate(&self) -> Result<(), Error> {
        let issuer = Url::parse(&self.issuer)
            .map_err(|error| Error::Config(format!("issuer {:?}: {error}", self.issuer)))?;
        if !matches!(issuer.scheme(), "https" | "http") || issuer.query().is_some() {
            return Err(Error::Config(
                "issuer must be an http(s) URL without query".to_owned(),
            ));
        }
        if self.client_id.is_empty() || self.client_secret.expose().is_empty() {
            return Err(Error::Config(
                "client_id and client_secret must not be empty".to_owned(),
            ));
        }
        let paths = &self.paths;
        for path in [
            &paths.callback,
            &paths.login,
            &paths.logout,
            &paths.backchannel_logout,
            &paths.after_logout,
        ] {
            if !path.starts_with('/') || path.starts_with("//") {
                return Err(Error::Config(format!(
                    "path {path:?} must be an absolute path"
                )));
            }
        }
        if self.cookie.name.is_empty()
            || !self
                .cookie
                .name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'))
        {
            return Err(Error::Config(
                "cookie name must be letters, digits, _ or -".to_owned(),
            ));
        }
        if self.session.idle_timeout_secs == 0 || self.session.absolute_timeout_secs == 0 {
            return Err(Error::Config(
                "session timeouts must be positive".to_owned(),
            ));
        }
        self.redirect_uri()?;
        self.post_logout_redirect_uri()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
        issuer = "http://sso.localhost:8080"
        client_id = "app1"
        client_secret = "s3cret-value"
        base_url = "http://app1.localhost:8081"
    "#;

    #[test]
    fn minimal_toml_gets_safe_defaults() {
        let config: SsoConfig = toml::from_str(MINIMAL).unwrap();
        config.validate().unwrap();
        assert!(config.cookie.secure);
        assert_eq!(config.cookie.same_site, SameSite::Lax);
        assert_eq!(config.paths, Paths::default());
        assert!(config.scopes.iter().any(|scope| scope == "openid"));
        assert_eq!(
            config.redirect_uri().unwrap().as_str(),
            "http://app1.localhost:8081/auth/callback"
        );
        assert!(config.public_paths.is_empty());
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let text = format!("{MINIMAL}\nclient_secrte = \"typo\"");
        assert!(toml::from_str::<SsoConfig>(&text).is_err());
        let text = format!("{MINIMAL}\n[cookie]\nsecur = false");
        assert!(toml::from_str::<SsoConfig>(&text).is_err());
    }

    #[test]
    fn secrets_never_show_in_debug_output() {
        let mut config: SsoConfig = toml::from_str(MINIMAL).unwrap();
        config.login_cookie_key = Some(Secret::new("a2V5LW1hdGVyaWFs"));
        let shown = format!("{config:?}");
        assert!(!shown.contains("s3cret-value"));
        assert!(!shown.contains("a2V5LW1hdGVyaWFs"));
        assert!(shown.contains("Secret(***)"));
    }

    #[test]
    fn public_paths_match_exactly_or_by_directory_prefix() {
        let mut config: SsoConfig = toml::from_str(MINIMAL).unwrap();
        config.public_paths = vec!["/".to_owned(), "/static/".to_owned()];
        assert!(config.is_public("/"));
        assert!(config.is_public("/static/site.css"));
        assert!(!config.is_public("/me"));
        assert!(!config.is_public("/staticky"));
    }

    #[test]
    fn invalid_values_are_configuration_errors() {
        let mut config: SsoConfig = toml::from_str(MINIMAL).unwrap();
        config.issuer = "not a url".to_owned();
        assert!(matches!(config.validate(), Err(Error::Config(_))));

        let mut config: SsoConfig = toml::from_str(MINIMAL).unwrap();
        config.paths.callback = "//evil.example/cb".to_owned();
        assert!(matches!(config.validate(), Err(Error::Config(_))));

        let mut config: SsoConfig = toml::from_str(MINIMAL).unwrap();
        config.cookie.name = "bad name".to_owned();
        assert!(matches!(config.validate(), Err(Error::Config(_))));
    }
}
