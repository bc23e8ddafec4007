//! Configuration: one typed struct, read from an optional TOML file and `DEMO_APP_`-prefixed
//! environment variables.
//!
//! # Sources, in order
//! 1. Built-in defaults: app `app1` on `127.0.0.1:8081`, public at
//!    `http://{name}.localhost:{port}`, center `http://sso.localhost:8080`, client id = name,
//!    memory sessions, `Secure` cookies.
//! 2. The TOML file given with `--config` (or `DEMO_APP_CONFIG`).
//! 3. Environment variables `DEMO_APP_<SECTION>__<KEY>` (double underscore between levels), e.g.
//!    `DEMO_APP_NAME=app2`, `DEMO_APP_HTTP__PORT=8082`, `DEMO_APP_SSO__CLIENT_SECRET=…`,
//!    `DEMO_APP_STORE__BACKEND=redis`. A value that parses as a TOML number or boolean is taken as
//!    one, anything else as a string.
//!
//! `metrics.listen = "127.0.0.1:9465"` (or `DEMO_APP_METRICS__LISTEN`) serves the SDK's
//! Prometheus series (`sso_client_*`) at `GET /metrics` on a listener of its own; off unless set.
//!
//! Unknown keys are errors. Every secret (`sso.client_secret`, `sso.login_cookie_key`,
//! `store.redis_url`, `store.cookie_key`) has a `_file` variant that reads it from a file;
//! setting both is an error. Secrets never appear in `Debug` output.

use std::path::PathBuf;

use serde::Deserialize;
use session_store::RedisConfig;
use sso_client::{CenterSettings, Secret, SessionSettings, SsoConfig};
pub use sso_common::config::Layered;
use sso_common::config::{Layers, ReplicationSettings, resolve_secret};
use sso_common::http::ServerLimits;
pub use sso_common::metrics::MetricsSettings;
use url::Url;

/// The command line of both demo apps (`subsystem-demo` on actix-web, `axum-app`).
#[derive(Debug, clap::Parser)]
#[command(version, about = "A demo app protected by single sign-on.")]
struct Args {
    /// TOML configuration file; `DEMO_APP_*` environment variables override it.
    #[arg(long, env = CONFIG_FILE_ENV)]
    config: Option<PathBuf>,
}

/// What both demo binaries do first: logging (`RUST_LOG`, or the project's default filter),
/// then the settings from the file named on the command line and the environment.
///
/// # Errors
/// When the configuration cannot be read or is invalid.
pub fn from_command_line() -> anyhow::Result<Settings> {
    use clap::Parser as _;
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
                tracing_subscriber::EnvFilter::new(sso_common::http::DEFAULT_LOG_FILTER)
            }),
        )
        .init();
    let args = Args::parse();
    Ok(Settings::load(args.config.as_deref())?)
}

/// Prefix of environment variables that override the configuration.
pub const ENV_PREFIX: &str = "DEMO_APP_";

/// Environment variable naming the configuration file.
pub const CONFIG_FILE_ENV: &str = "DEMO_APP_CONFIG";

pub use sso_common::ConfigError;

/// The demo app's configuration.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// The app's name, shown on its pages (`app1`, `app2`).
    #[serde(default = "default_name")]
    pub name: String,
    /// The name of this node, shown on the pages so HA demos can tell nodes apart; defaults to
    /// the app's name.
    #[serde(default)]
    pub node: Option<String>,
    /// Where to listen and how browsers reach the app.
    #[serde(default)]
    pub http: HttpSettings,
    /// The center and this app's client registration.
    #[serde(default)]
    pub sso: SsoSettings,
    /// Lifetime of local sessions.
    #[serde(default)]
    pub session: SessionSettings,
    /// Limits on calls to the center.
    #[serde(default)]
    pub center: CenterSettings,
    /// Where local sessions live.
    #[serde(default)]
    pub store: StoreSettings,
    /// The Prometheus endpoint (`metrics.listen`), off by default.
    #[serde(default)]
    pub metrics: MetricsSettings,
}

fn default_name() -> String {
    "app1".to_owned()
}

/// Where to listen and how browsers reach the app.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpSettings {
    /// The address to bind.
    pub host: String,
    /// The port to bind; `0` picks a free one.
    pub port: u16,
    /// The URL browsers use; defaults to `http://{name}.localhost:{port}` with the bound port.
    pub public_url: Option<Url>,
    /// Time for a request to arrive, head and body, in milliseconds (408 after it).
    pub request_timeout_ms: u64,
    /// Concurrent connections of the process; `0` (the default) takes half the open-files
    /// limit.
    pub max_connections: usize,
}

impl Default for HttpSettings {
    fn default() -> Self {
        let limits = ServerLimits::default();
        Self {
            host: "127.0.0.1".to_owned(),
            port: 8081,
            public_url: None,
            request_timeout_ms: limits.request_timeout_ms,
            max_connections: limits.max_connections,
        }
    }
}

impl HttpSettings {
    /// The limits the HTTP server applies to its clients.
    pub fn limits(&self) -> ServerLimits {
        ServerLimits {
            request_timeout_ms: self.request_timeout_ms,
            max_connections: self.max_connections,
        }
    }
}

/// The center and this app's registration there.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SsoSettings {
    /// The center's issuer URL.
    #[serde(default = "default_issuer")]
    pub issuer: String,
    /// The client id; defaults to the app's name.
    #[serde(default)]
    pub client_id: Option<String>,
    /// The client secret.
    #[serde(default)]
    pub client_secret: Option<Secret>,
    /// A file holding the client secret.
    #[serde(default)]
    pub client_secret_file: Option<PathBuf>,
    /// Key sealing the sign-in cookie (32 bytes, base64); needed when several nodes serve
    /// the app.
    #[serde(default)]
    pub login_cookie_key: Option<Secret>,
    /// A file holding the sign-in cookie key.
    #[serde(default)]
    pub login_cookie_key_file: Option<PathBuf>,
    /// The `Secure` attribute of the app's cookies.
    #[serde(default = "default_true")]
    pub cookie_secure: bool,
}

impl Default for SsoSettings {
    fn default() -> Self {
        Self {
            issuer: default_issuer(),
            client_id: None,
            client_secret: None,
            client_secret_file: None,
            login_cookie_key: None,
            login_cookie_key_file: None,
            cookie_secure: true,
        }
    }
}

fn default_issuer() -> String {
    "http://sso.localhost:8080".to_owned()
}

fn default_true() -> bool {
    true
}

/// Which local-session backend to use.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum StoreBackend {
    /// In this process (one node).
    #[default]
    Memory,
    /// In Redis, shared by every node.
    Redis,
    /// In an encrypted cookie; the revocation list goes to Redis when `redis_url` is set.
    Cookie,
    /// On every node, replicated peer to peer (see `store.replication`).
    Replicated,
}

impl StoreBackend {
    /// The backend's name as shown on the pages.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Memory => "memory",
            Self::Redis => "redis",
            Self::Cookie => "cookie",
            Self::Replicated => "replicated",
        }
    }
}

/// Where local sessions live.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreSettings {
    /// The backend.
    pub backend: StoreBackend,
    /// `redis://…` for the Redis backend (and the cookie backend's revocation list).
    pub redis_url: Option<Secret>,
    /// A file holding the Redis URL.
    pub redis_url_file: Option<PathBuf>,
    /// Sentinel URLs (`redis://host:26379`), instead of `redis_url`: the store uses the primary
    /// the Sentinels name for `sentinel_service`, and follows it through a failover.
    pub sentinels: Vec<String>,
    /// The name the Sentinels monitor the primary under; default `mymaster`.
    pub sentinel_service: Option<String>,
    /// The password of the Redis servers the Sentinels name (their `requirepass`); with
    /// `redis_url` the password goes in the URL.
    pub redis_password: Option<Secret>,
    /// A file holding that password.
    pub redis_password_file: Option<PathBuf>,
    /// Key sealing cookie sessions (32 bytes, standard base64).
    pub cookie_key: Option<Secret>,
    /// A file holding the cookie key.
    pub cookie_key_file: Option<PathBuf>,
    /// Keep the Redis sessions this node reads in a local cache that Redis keeps honest
    /// (client-side caching: every change or deletion by any node, a single logout say, drops
    /// the copy at once; while the invalidation connection is down the cache is empty). A
    /// signed-in request then costs no round trip to Redis.
    pub local_cache: bool,
    /// Prefix of this app's Redis keys; default `{name}:`. Nodes of one app share it.
    pub prefix: Option<String>,
    /// The peers and secret of the replicated backend.
    pub replication: ReplicationSettings,
}

impl StoreSettings {
    /// Where Redis is, if anywhere: the primary the Sentinels name, or `redis_url`.
    pub fn redis(&self) -> Option<RedisConfig> {
        if self.sentinels.is_empty() {
            return self
                .redis_url
                .as_ref()
                .map(|url| RedisConfig::new(url.expose()));
        }
        let service = self.sentinel_service.as_deref().unwrap_or("mymaster");
        let config = RedisConfig::sentinel(self.sentinels.clone(), service);
        Some(match &self.redis_password {
            Some(password) => config.with_server_password(password.expose()),
            None => config,
        })
    }
}

impl Layered for Settings {
    const LAYERS: Layers<'static> = Layers {
        env_prefix: ENV_PREFIX,
        file_var: CONFIG_FILE_ENV,
    };

    fn resolve_secret_files(&mut self) -> Result<(), ConfigError> {
        let sso = &mut self.sso;
        resolve_secret(
            "sso.client_secret",
            &mut sso.client_secret,
            sso.client_secret_file.take(),
        )?;
        resolve_secret(
            "sso.login_cookie_key",
            &mut sso.login_cookie_key,
            sso.login_cookie_key_file.take(),
        )?;
        let store = &mut self.store;
        resolve_secret(
            "store.redis_url",
            &mut store.redis_url,
            store.redis_url_file.take(),
        )?;
        resolve_secret(
            "store.redis_password",
            &mut store.redis_password,
            store.redis_password_file.take(),
        )?;
        resolve_secret(
            "store.cookie_key",
            &mut store.cookie_key,
            store.cookie_key_file.take(),
        )?;
        store
            .replication
            .resolve_secret_file("store.replication.secret")
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |text: &str| Err(ConfigError::Invalid(text.to_owned()));
        let name_ok = !self.name.is_empty()
            && self.name.len() <= 32
            && self
                .name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !name_ok {
            return invalid("name must be 1-32 characters of a-z, 0-9 and -");
        }
        if self.sso.client_secret.is_none() {
            return invalid(
                "sso.client_secret is required (or sso.client_secret_file, DEMO_APP_SSO__CLIENT_SECRET)",
            );
        }
        if self.store.redis_url.is_some() && !self.store.sentinels.is_empty() {
            return invalid("store.redis_url and store.sentinels exclude each other");
        }
        if self.store.redis_password.is_some() && self.store.sentinels.is_empty() {
            return invalid(
                "store.redis_password is for the servers found through store.sentinels; with \
                 store.redis_url it goes in the URL",
            );
        }
        let redis = self.store.redis().is_some();
        if self.store.local_cache && !redis {
            return invalid(
                "store.local_cache caches Redis: it needs store.redis_url or store.sentinels",
            );
        }
        match self.store.backend {
            StoreBackend::Redis if !redis => {
                invalid("store.backend = \"redis\" needs store.redis_url or store.sentinels")
            }
            StoreBackend::Cookie if self.store.cookie_key.is_none() => {
                invalid("store.backend = \"cookie\" needs store.cookie_key")
            }
            StoreBackend::Replicated
                if self.store.replication.listen.is_none()
                    || self.store.replication.secret.is_none() =>
            {
                invalid(
                    "store.backend = \"replicated\" needs store.replication.listen and \
                     store.replication.secret",
                )
            }
            _ => Ok(()),
        }
    }
}

impl Settings {
    /// The node name shown on the pages.
    pub fn node(&self) -> &str {
        self.node.as_deref().unwrap_or(&self.name)
    }

    /// The URL browsers reach the app at, given the port actually bound.
    ///
    /// # Errors
    /// When the derived URL does not parse (a name that is not a host label).
    pub fn public_url(&self, bound_port: u16) -> Result<Url, ConfigError> {
        match &self.http.public_url {
            Some(url) => Ok(url.clone()),
            None => format!("http://{}.localhost:{bound_port}", self.name)
                .parse()
                .map_err(|error| ConfigError::Invalid(format!("public URL: {error}"))),
        }
    }

    /// The SDK configuration for this app, reachable at `public_url`.
    pub fn sso_config(&self, public_url: Url) -> SsoConfig {
        let secret = self
            .sso
            .client_secret
            .clone()
            .unwrap_or_else(|| Secret::new(""));
        let client_id = self
            .sso
            .client_id
            .clone()
            .unwrap_or_else(|| self.name.clone());
        let mut config = SsoConfig::new(self.sso.issuer.clone(), client_id, secret, public_url);
        config.public_paths = ["/", "/static/", "/health", "/api/"]
            .map(str::to_owned)
            .to_vec();
        config.scopes.push("groups".to_owned());
        config.cookie.name = format!("{}_session", self.name.replace('-', "_"));
        config.cookie.secure = self.sso.cookie_secure;
        config.login_cookie_key = self.sso.login_cookie_key.clone();
        config.session = self.session;
        config.center = self.center;
        config
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
            .collect()
    }

    const SECRET: (&str, &str) = ("DEMO_APP_SSO__CLIENT_SECRET", "app-secret-1");

    #[test]
    fn defaults_need_only_the_client_secret() {
        let settings = Settings::load_from(None, env(&[SECRET])).unwrap();
        assert_eq!(settings.name, "app1");
        assert_eq!(settings.node(), "app1");
        assert_eq!(settings.http.port, 8081);
        assert_eq!(settings.store.backend, StoreBackend::Memory);
        assert_eq!(settings.metrics.listen, None, "no metrics unless asked");
        let url = settings.public_url(8081).unwrap();
        assert_eq!(url.as_str(), "http://app1.localhost:8081/");
        let sso = settings.sso_config(url);
        assert_eq!(sso.client_id, "app1");
        assert_eq!(sso.issuer, "http://sso.localhost:8080");
        assert!(sso.cookie.secure);
        sso.validate().unwrap();

        let missing = Settings::load_from(None, env(&[])).unwrap_err();
        assert!(missing.to_string().contains("client_secret"), "{missing}");
    }

    #[test]
    fn the_replicated_backend_reads_its_peers_and_needs_a_listener_and_secret() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        writeln!(
            file,
            "node = \"app1-a\"\n[sso]\nclient_secret = \"s\"\n[store]\nbackend = \"replicated\"\n\
             [store.replication]\nlisten = \"127.0.0.1:7001\"\nsecret = \"0123456789abcdef0123456789abcdef\"\n\
             peers = [{{ id = \"app1-b\", addr = \"127.0.0.1:7002\" }}]"
        )
        .unwrap();
        let settings = Settings::load_from(Some(file.path()), env(&[])).unwrap();
        assert_eq!(settings.store.backend, StoreBackend::Replicated);
        let replication = &settings.store.replication;
        assert_eq!(replication.listen, Some("127.0.0.1:7001".parse().unwrap()));
        assert_eq!(replication.peers[0].id, "app1-b");
        assert!(replication.acknowledged_writes);

        let missing = Settings::load_from(
            None,
            env(&[SECRET, ("DEMO_APP_STORE__BACKEND", "replicated")]),
        )
        .unwrap_err();
        assert!(
            missing.to_string().contains("store.replication"),
            "{missing}"
        );
    }

    #[test]
    fn the_file_is_read_and_the_environment_wins() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        writeln!(
            file,
            "name = \"app2\"\nnode = \"app2-b\"\n[http]\nport = 9000\n[sso]\nclient_secret = \"from-file\"\n[store]\nbackend = \"redis\"\nredis_url = \"redis://127.0.0.1:6379\""
        )
        .unwrap();
        let settings = Settings::load_from(
            Some(file.path()),
            env(&[
                ("DEMO_APP_HTTP__PORT", "8082"),
                ("DEMO_APP_METRICS__LISTEN", "0.0.0.0:9465"),
                ("DEMO_APP_SSO__ISSUER", "https://sso.example.test"),
                ("OTHER_VARIABLE", "ignored"),
                ("DEMO_PASSWORD", "the center's, not ours"),
            ]),
        )
        .unwrap();
        assert_eq!(settings.name, "app2");
        assert_eq!(settings.node(), "app2-b");
        assert_eq!(settings.http.port, 8082);
        assert_eq!(settings.metrics.listen.as_deref(), Some("0.0.0.0:9465"));
        assert_eq!(settings.store.backend, StoreBackend::Redis);
        assert_eq!(settings.sso.issuer, "https://sso.example.test");
        assert_eq!(
            settings.sso.client_secret.as_ref().unwrap().expose(),
            "from-file"
        );
    }

    #[test]
    fn unknown_keys_are_rejected_from_file_and_environment() {
        let typo = Settings::load_from(None, env(&[SECRET, ("DEMO_APP_HTTP__PROT", "1")]));
        assert!(typo.is_err());
        let mut file = tempfile::NamedTempFile::new().unwrap();
        writeln!(file, "nmae = \"app1\"").unwrap();
        assert!(Settings::load_from(Some(file.path()), env(&[SECRET])).is_err());
    }

    #[test]
    fn secrets_come_from_files_and_never_show() {
        let mut secret = tempfile::NamedTempFile::new().unwrap();
        writeln!(secret, "file-secret-value").unwrap();
        let path = secret.path().to_str().unwrap();
        let settings =
            Settings::load_from(None, env(&[("DEMO_APP_SSO__CLIENT_SECRET_FILE", path)])).unwrap();
        assert_eq!(
            settings.sso.client_secret.as_ref().unwrap().expose(),
            "file-secret-value"
        );
        assert!(!format!("{settings:?}").contains("file-secret-value"));

        let both = Settings::load_from(
            None,
            env(&[SECRET, ("DEMO_APP_SSO__CLIENT_SECRET_FILE", path)]),
        );
        assert!(both.is_err());
    }

    #[test]
    fn backends_require_what_they_use() {
        let redis = Settings::load_from(None, env(&[SECRET, ("DEMO_APP_STORE__BACKEND", "redis")]));
        assert!(redis.unwrap_err().to_string().contains("redis_url"));
        let cookie =
            Settings::load_from(None, env(&[SECRET, ("DEMO_APP_STORE__BACKEND", "cookie")]));
        assert!(cookie.unwrap_err().to_string().contains("cookie_key"));
        let unknown =
            Settings::load_from(None, env(&[SECRET, ("DEMO_APP_STORE__BACKEND", "disk")]));
        assert!(unknown.is_err());
        let cache = Settings::load_from(
            None,
            env(&[SECRET, ("DEMO_APP_STORE__LOCAL_CACHE", "true")]),
        );
        assert!(cache.unwrap_err().to_string().contains("local_cache"));
        let cached = Settings::load_from(
            None,
            env(&[
                SECRET,
                ("DEMO_APP_STORE__BACKEND", "redis"),
                ("DEMO_APP_STORE__REDIS_URL", "redis://127.0.0.1:6379"),
                ("DEMO_APP_STORE__LOCAL_CACHE", "true"),
            ]),
        );
        assert!(cached.unwrap().store.local_cache);
    }

    #[test]
    fn redis_is_found_through_sentinels() {
        const SENTINELS: (&str, &str) = (
            "DEMO_APP_STORE__SENTINELS",
            r#"["redis://10.0.0.1:26379", "redis://10.0.0.2:26379"]"#,
        );
        let settings = Settings::load_from(
            None,
            env(&[
                SECRET,
                SENTINELS,
                ("DEMO_APP_STORE__SENTINEL_SERVICE", "sessions"),
                ("DEMO_APP_STORE__BACKEND", "redis"),
                ("DEMO_APP_STORE__LOCAL_CACHE", "true"),
            ]),
        )
        .unwrap();
        let redis = format!("{:?}", settings.store.redis().unwrap());
        assert!(
            redis.contains(r#"Sentinel { sentinels: 2, service: "sessions" }"#),
            "{redis}"
        );

        let default_service = Settings::load_from(None, env(&[SECRET, SENTINELS])).unwrap();
        let redis = format!("{:?}", default_service.store.redis().unwrap());
        assert!(redis.contains(r#"service: "mymaster""#), "{redis}");

        let both = Settings::load_from(
            None,
            env(&[
                SECRET,
                SENTINELS,
                ("DEMO_APP_STORE__REDIS_URL", "redis://127.0.0.1:6379"),
            ]),
        )
        .unwrap_err();
        assert!(both.to_string().contains("exclude each other"), "{both}");

        let with_password = Settings::load_from(
            None,
            env(&[
                SECRET,
                SENTINELS,
                ("DEMO_APP_STORE__REDIS_PASSWORD", "s3cret-pass"),
            ]),
        )
        .unwrap();
        let redis = format!("{:?}", with_password.store.redis().unwrap());
        assert!(
            redis.contains("password") && !redis.contains("s3cret"),
            "{redis}"
        );
        let beside_a_url = Settings::load_from(
            None,
            env(&[
                SECRET,
                ("DEMO_APP_STORE__REDIS_URL", "redis://127.0.0.1:6379"),
                ("DEMO_APP_STORE__REDIS_PASSWORD", "s3cret-pass"),
            ]),
        )
        .unwrap_err();
        assert!(
            beside_a_url.to_string().contains("store.redis_password"),
            "{beside_a_url}"
        );
    }

    #[test]
    fn names_must_be_host_labels() {
        let bad = Settings::load_from(None, env(&[SECRET, ("DEMO_APP_NAME", "App One")]));
        assert!(bad.is_err());
    }
}
