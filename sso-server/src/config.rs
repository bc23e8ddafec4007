//! Configuration: one typed struct, read from a TOML file and `SSO_`-prefixed environment
//! variables.
//!
//! # Sources, in order
//! 1. Built-in defaults (safe: cookies `Secure`, admin API off, OWASP argon2id parameters).
//! 2. The TOML file given with `--config` (or `SSO_CONFIG`), if any.
//! 3. Environment variables `SSO_<SECTION>__<KEY>` (double underscore between levels), e.g.
//!    `SSO_HTTP__PORT=8080`, `SSO_ISSUER=https://sso.example.test`,
//!    `SSO_DATABASE__URL=postgres://…`. A value that parses as a TOML number or boolean is taken
//!    as one, anything else as a string. `SSO_CONFIG` itself names the file and is not a key.
//!
//! Unknown keys, in the file or the environment, are errors: a typo must not silently fall back
//! to a default.
//!
//! # Secrets
//! Every secret has a `_file` variant (`admin.token_file`, `database.url_file`,
//! `store.redis_url_file`, `clients[].secret_file`, reachable as
//! `SSO_ADMIN__TOKEN_FILE` …) that reads the value from a file, trailing newline removed, so
//! secrets can come from mounted files rather than the config or the environment. Setting both
//! a value and its file is an error. Secrets are never printed by `Debug`.
//!
//! # Clients
//! Clients can be registered here, as `[[clients]]` tables (or `SSO_CLIENTS` holding a TOML
//! array of inline tables), as well as in the database with `sso-server client add`. A client
//! of the configuration takes precedence over a database client with the same id, and the
//! command line refuses to change or remove it. Its secret is hashed when the configuration
//! is loaded; `secret_sha256` lets the file hold only the hash.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
pub use sso_common::config::Layered;
use sso_common::config::{Layers, ReplicationSettings, resolve_secret};
use sso_common::http::ServerLimits;
use url::Url;

/// Prefix of environment variables that override the configuration.
pub const ENV_PREFIX: &str = "SSO_";

/// Environment variable naming the configuration file.
pub const CONFIG_FILE_ENV: &str = "SSO_CONFIG";

/// Longest lifetime an authorization code may be given.
const MAX_CODE_TTL: Duration = Duration::from_secs(60);

pub use sso_common::metrics::MetricsSettings;
pub use sso_common::{ConfigError, Secret};

/// The whole configuration of the center.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// The public URL of the center as clients see it; the `iss` of every token.
    pub issuer: Url,
    pub http: HttpSettings,
    pub database: DatabaseSettings,
    pub store: StoreSettings,
    pub session: SessionSettings,
    pub tokens: TokenSettings,
    pub login: LoginSettings,
    pub password: PasswordSettings,
    pub slo: SloSettings,
    pub admin: AdminSettings,
    /// The audit trail.
    pub audit: AuditSettings,
    pub demo: DemoSettings,
    /// The Prometheus endpoint (`metrics.listen`), off by default.
    pub metrics: MetricsSettings,
    /// Clients registered by the configuration.
    pub clients: Vec<ClientSettings>,
    /// Hosts protected through nginx `auth_request`, registered by the configuration.
    pub forward_auth: Vec<ForwardAuthSettings>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            issuer: Url::parse("http://sso.localhost:8080").expect("a valid literal URL"),
            http: HttpSettings::default(),
            database: DatabaseSettings::default(),
            store: StoreSettings::default(),
            session: SessionSettings::default(),
            tokens: TokenSettings::default(),
            login: LoginSettings::default(),
            password: PasswordSettings::default(),
            slo: SloSettings::default(),
            admin: AdminSettings::default(),
            audit: AuditSettings::default(),
            demo: DemoSettings::default(),
            metrics: MetricsSettings::default(),
            clients: Vec::new(),
            forward_auth: Vec::new(),
        }
    }
}

/// Where the HTTP server listens.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpSettings {
    pub host: String,
    /// `0` picks a free port (tests).
    pub port: u16,
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
            port: 8080,
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

/// The SQL database holding users, clients, signing keys and single-logout deliveries.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseSettings {
    /// `sqlite://path?mode=rwc` or `postgres://…`; it may hold a password, so it is a secret.
    /// Default: `sqlite://.data/sso.db?mode=rwc`.
    pub url: Option<Secret>,
    pub url_file: Option<PathBuf>,
    pub max_connections: u32,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self {
            url: None,
            url_file: None,
            max_connections: 5,
        }
    }
}

impl DatabaseSettings {
    /// The connection URL; an SQLite file under `.data/` unless configured.
    pub fn url(&self) -> Secret {
        self.url
            .clone()
            .unwrap_or_else(|| Secret::new("sqlite://.data/sso.db?mode=rwc"))
    }
}

/// Which store keeps global sessions, codes and login counters.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum StoreBackend {
    /// In-process; one node only (the embedded default).
    #[default]
    Memory,
    /// Redis, shared by every replica (the cluster setting).
    Redis,
    /// On every replica, replicated peer to peer (small clusters without Redis); see
    /// `store.replication`.
    Replicated,
}

/// The session store.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreSettings {
    pub backend: StoreBackend,
    /// `redis://[:password@]host:port[/db]`, for `backend = "redis"` without Sentinel.
    pub redis_url: Option<Secret>,
    pub redis_url_file: Option<PathBuf>,
    /// Sentinel URLs; when set, the primary of `sentinel_service` is used instead of
    /// `redis_url`.
    pub sentinels: Vec<String>,
    pub sentinel_service: String,
    /// The password of the Redis servers the Sentinels name (their `requirepass`), with
    /// `sentinels` only: with `redis_url` or `cluster_nodes` it goes in the URLs.
    pub redis_password: Option<Secret>,
    pub redis_password_file: Option<PathBuf>,
    /// Redis Cluster node URLs (`redis://[:password@]host:port`; one reachable node is enough,
    /// the others are learnt from it). When set, the cluster is used instead of `redis_url`;
    /// every command goes to a primary. `prefix` must then hold no braces.
    pub cluster_nodes: Vec<Secret>,
    /// Prefix of every Redis key of the center.
    pub prefix: String,
    /// Longest time one Redis operation may take, in milliseconds.
    pub timeout_ms: u64,
    /// Whether the Redis store keeps the forward-auth sessions a replica read in a local cache
    /// that Redis keeps honest (client-side caching invalidations): `GET /forward-auth/verify`
    /// then answers without asking Redis, and a logout on any replica still ends the session
    /// everywhere as soon as Redis's invalidation arrives; while the invalidations are not
    /// received, every check asks Redis. Needs Redis 6 or later reached by `redis_url` or
    /// `sentinels` (not a cluster). No effect on the other backends, which read in-process
    /// anyway.
    pub forward_auth_cache: bool,
    /// This replica's node id in the replicated store (unique per replica).
    pub node_id: String,
    /// Peers and secret of the replicated store.
    pub replication: ReplicationSettings,
}

impl Default for StoreSettings {
    fn default() -> Self {
        Self {
            backend: StoreBackend::Memory,
            redis_url: None,
            redis_url_file: None,
            sentinels: Vec::new(),
            sentinel_service: "mymaster".to_owned(),
            redis_password: None,
            redis_password_file: None,
            cluster_nodes: Vec::new(),
            prefix: "sso:".to_owned(),
            timeout_ms: 2_000,
            forward_auth_cache: false,
            node_id: "sso".to_owned(),
            replication: ReplicationSettings::default(),
        }
    }
}

/// The global session and its cookie.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SessionSettings {
    pub cookie_name: String,
    /// Idle timeout in seconds.
    pub idle_timeout_secs: u64,
    /// Absolute lifetime in seconds.
    pub absolute_timeout_secs: u64,
    /// How often ended sessions are looked for, in seconds.
    pub sweep_interval_secs: u64,
}

impl Default for SessionSettings {
    fn default() -> Self {
        Self {
            cookie_name: "sso_session".to_owned(),
            idle_timeout_secs: 30 * 60,
            absolute_timeout_secs: 12 * 60 * 60,
            sweep_interval_secs: 30,
        }
    }
}

impl SessionSettings {
    /// Idle timeout of a global session.
    pub fn idle_timeout(&self) -> Duration {
        Duration::from_secs(self.idle_timeout_secs)
    }

    /// Absolute lifetime of a global session.
    pub fn absolute_timeout(&self) -> Duration {
        Duration::from_secs(self.absolute_timeout_secs)
    }

    /// Interval of the expiry sweeper.
    pub fn sweep_interval(&self) -> Duration {
        Duration::from_secs(self.sweep_interval_secs.max(1))
    }
}

/// Lifetimes of codes and tokens.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TokenSettings {
    /// Authorization code lifetime in seconds (at most 60).
    pub code_ttl_secs: u64,
    pub id_token_ttl_secs: u64,
    pub access_token_ttl_secs: u64,
    /// How often signing keys are re-read from the database (picks up `keys rotate`).
    pub key_reload_secs: u64,
    /// How long an offline refresh token (scope `offline_access`) stays valid without use.
    pub offline_idle_secs: u64,
    /// Longest life of an offline refresh token's family, however often it is used.
    pub offline_lifetime_secs: u64,
    /// Seals the private signing keys in the database (at least 32 characters, e.g.
    /// `openssl rand -base64 32`); every replica and the command line need the same one.
    pub key_encryption_key: Option<Secret>,
    pub key_encryption_key_file: Option<PathBuf>,
}

impl Default for TokenSettings {
    fn default() -> Self {
        Self {
            code_ttl_secs: 60,
            id_token_ttl_secs: 10 * 60,
            access_token_ttl_secs: 10 * 60,
            key_reload_secs: 60,
            offline_idle_secs: 30 * 24 * 60 * 60,
            offline_lifetime_secs: 90 * 24 * 60 * 60,
            key_encryption_key: None,
            key_encryption_key_file: None,
        }
    }
}

impl TokenSettings {
    /// Lifetime of an authorization code.
    pub fn code_ttl(&self) -> Duration {
        Duration::from_secs(self.code_ttl_secs)
    }

    /// Lifetime of an id_token.
    pub fn id_token_ttl(&self) -> Duration {
        Duration::from_secs(self.id_token_ttl_secs)
    }

    /// How long an access token stays valid without use.
    pub fn access_token_ttl(&self) -> Duration {
        Duration::from_secs(self.access_token_ttl_secs)
    }

    /// Idle timeout of an offline refresh token.
    pub fn offline_idle(&self) -> Duration {
        Duration::from_secs(self.offline_idle_secs)
    }

    /// Absolute lifetime of an offline refresh token's family.
    pub fn offline_lifetime(&self) -> Duration {
        Duration::from_secs(self.offline_lifetime_secs)
    }

    /// Interval between reloads of the signing keys.
    pub fn key_reload(&self) -> Duration {
        Duration::from_secs(self.key_reload_secs.max(1))
    }

    /// Where the signing keys are kept: `pool`, sealed when a key encryption key is set.
    pub fn key_store(&self, pool: sqlx::AnyPool) -> crate::keys::KeyStore {
        let sealer = self
            .key_encryption_key
            .as_ref()
            .map(crate::keys::sealing::KeySealer::new);
        crate::keys::KeyStore::new(pool, sealer)
    }
}

/// Login attempt limiting, shared through the store; see [`crate::throttle`] for the scheme
/// (OWASP device cookies, with per-address budgets below a per-user ceiling).
///
/// Every budget counts per window of `window_secs` and must be at least 1. A failure is an
/// attempt that was not a successful sign-in; successes are refunded. Device cookies are
/// signed with a key the center makes on first start and keeps in the database
/// ([`crate::secrets`]), so every replica shares it without a setting.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LoginSettings {
    /// Failures allowed for one username from browsers without its device cookie, from all
    /// addresses together: the ceiling on an attacker's guesses. Default 20.
    pub max_failures_per_user: u64,
    /// Failures allowed for one username from one address without its device cookie, so
    /// that one attacking address cannot spend the whole ceiling. Default 5.
    pub max_failures_per_user_address: u64,
    /// Failures allowed for one username from one browser with its device cookie (a browser
    /// that signed in as the user before); a browser that spends it counts as one without.
    /// Default 5.
    pub max_failures_per_device: u64,
    /// Attempts allowed from one IP address, whatever the username (a passkey ceremony started,
    /// sign-in, second step or registration, is one). Default 50.
    pub max_attempts_per_ip: u64,
    /// Default 900 (15 minutes).
    pub window_secs: u64,
    /// Peers whose `X-Forwarded-For` is believed (the load balancers).
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Whether clients without a policy of their own require a second factor
    /// (`"optional"` or `"required"`; default optional). With `"required"`, users cannot
    /// remove their last factor either.
    pub mfa: crate::factors::MfaPolicy,
}

impl Default for LoginSettings {
    fn default() -> Self {
        Self {
            max_failures_per_user: 20,
            max_failures_per_user_address: 5,
            max_failures_per_device: 5,
            max_attempts_per_ip: 50,
            window_secs: 15 * 60,
            trusted_proxies: Vec::new(),
            mfa: crate::factors::MfaPolicy::Optional,
        }
    }
}

impl LoginSettings {
    /// The counting window.
    pub fn window(&self) -> Duration {
        Duration::from_secs(self.window_secs.max(1))
    }
}

/// argon2id cost parameters for new password hashes (existing hashes keep theirs).
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct PasswordSettings {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl Default for PasswordSettings {
    /// The OWASP recommendation: m=19456 KiB, t=2, p=1.
    fn default() -> Self {
        Self {
            memory_kib: 19_456,
            iterations: 2,
            parallelism: 1,
        }
    }
}

/// Single logout delivery.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SloSettings {
    /// Timeout of one POST to a back-channel logout URI, in milliseconds.
    pub request_timeout_ms: u64,
    /// Attempts before a delivery is given up.
    pub max_attempts: u32,
    /// Wait before the first retry, in milliseconds; doubles with every attempt.
    pub initial_backoff_ms: u64,
    pub max_backoff_ms: u64,
    /// How often the outbox is polled for due deliveries, in milliseconds.
    pub poll_interval_ms: u64,
}

impl Default for SloSettings {
    fn default() -> Self {
        Self {
            request_timeout_ms: 3_000,
            max_attempts: 8,
            initial_backoff_ms: 1_000,
            max_backoff_ms: 5 * 60 * 1_000,
            poll_interval_ms: 1_000,
        }
    }
}

impl SloSettings {
    /// Timeout of one delivery attempt.
    pub fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms)
    }

    /// Wait after the `attempts`-th failed attempt: `initial · 2^(attempts-1)`, capped.
    pub fn backoff(&self, attempts: u32) -> Duration {
        let factor = 1u64 << attempts.saturating_sub(1).min(30);
        Duration::from_millis(
            self.initial_backoff_ms
                .saturating_mul(factor)
                .min(self.max_backoff_ms),
        )
    }

    /// Poll interval of the delivery worker.
    pub fn poll_interval(&self) -> Duration {
        Duration::from_millis(self.poll_interval_ms.max(10))
    }
}

/// The admin API, off unless a token is configured, and the admin console (`/admin` in the
/// browser, for members of the `admin` group), on unless `console = false`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdminSettings {
    pub token: Option<Secret>,
    pub token_file: Option<PathBuf>,
    pub console: bool,
}

impl Default for AdminSettings {
    fn default() -> Self {
        Self {
            token: None,
            token_file: None,
            console: true,
        }
    }
}

/// The audit trail (table `audit_events`).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuditSettings {
    /// Days an event is kept; older ones are deleted hourly.
    pub retention_days: u32,
}

impl Default for AuditSettings {
    fn default() -> Self {
        Self { retention_days: 90 }
    }
}

impl AuditSettings {
    /// How long events are kept (at least a day).
    pub fn retention(&self) -> Duration {
        Duration::from_secs(u64::from(self.retention_days.max(1)) * 86_400)
    }
}

/// What `serve --demo` registers: clients `app1`, `app2`, … at
/// `http://appN.localhost:PORT`, one per port.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DemoSettings {
    pub app_ports: Vec<u16>,
}

impl Default for DemoSettings {
    fn default() -> Self {
        Self {
            app_ports: vec![8081, 8082],
        }
    }
}

/// How id_tokens and logout tokens for a client are signed.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq, clap::ValueEnum)]
pub enum SigningAlg {
    /// RSASSA-PKCS1-v1_5 with SHA-256, the algorithm every OpenID Connect client supports.
    #[default]
    #[serde(rename = "RS256")]
    #[value(name = "rs256")]
    Rs256,
    /// Ed25519.
    #[serde(rename = "EdDSA")]
    #[value(name = "eddsa")]
    EdDsa,
}

impl From<SigningAlg> for jsonwebtoken::Algorithm {
    fn from(alg: SigningAlg) -> Self {
        match alg {
            SigningAlg::Rs256 => Self::RS256,
            SigningAlg::EdDsa => Self::EdDSA,
        }
    }
}

/// What a client may ask for at `/token` (RFC 6749 grant types).
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
#[value(rename_all = "snake_case")]
pub enum GrantType {
    /// Sign-in in the browser, then the code exchange.
    AuthorizationCode,
    /// Refresh tokens with the code exchange, rotated on every use.
    RefreshToken,
    /// A token for the client itself, without a user (confidential clients only).
    ClientCredentials,
}

impl GrantType {
    /// The grant type as RFC 6749 names it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AuthorizationCode => "authorization_code",
            Self::RefreshToken => "refresh_token",
            Self::ClientCredentials => "client_credentials",
        }
    }

    /// The grant type named `name`.
    pub fn parse(name: &str) -> Option<Self> {
        [
            Self::AuthorizationCode,
            Self::RefreshToken,
            Self::ClientCredentials,
        ]
        .into_iter()
        .find(|grant| grant.as_str() == name)
    }
}

/// The form of a client's access tokens.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum AccessTokenFormat {
    /// A random handle, checked at `/introspect` or `/userinfo`.
    #[default]
    Opaque,
    /// A signed JWT (RFC 9068) that an API verifies with the JWKS.
    Jwt,
}

impl AccessTokenFormat {
    /// The format as configured and stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Opaque => "opaque",
            Self::Jwt => "jwt",
        }
    }
}

/// A client (relying party) registered by the configuration.
///
/// With none of `secret`, `secret_file` and `secret_sha256` it is a public client, which must
/// use PKCE.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientSettings {
    pub id: String,
    /// Shown on the login page; the id when absent.
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub secret: Option<Secret>,
    #[serde(default)]
    pub secret_file: Option<PathBuf>,
    /// The SHA-256 of the secret as 64 hex digits, so the file need not hold the secret.
    #[serde(default)]
    pub secret_sha256: Option<String>,
    /// Where codes may be sent, compared byte for byte.
    pub redirect_uris: Vec<String>,
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    /// Where logout tokens are POSTed (OpenID Connect Back-Channel Logout).
    #[serde(default)]
    pub backchannel_logout_uri: Option<String>,
    #[serde(default)]
    pub id_token_alg: SigningAlg,
    /// Grant types allowed at `/token`: `authorization_code` and `refresh_token` unless set.
    /// `client_credentials` needs a secret.
    #[serde(default = "ClientSettings::default_grant_types")]
    pub grant_types: Vec<GrantType>,
    /// Scopes a `client_credentials` token may carry.
    #[serde(default)]
    pub client_credentials_scopes: Vec<String>,
    #[serde(default)]
    pub access_token_format: AccessTokenFormat,
    /// Whether scope `offline_access` is granted: refresh tokens that outlive the sign-in.
    #[serde(default)]
    pub offline_access: bool,
    /// `"required"`: its users give a second factor; `"optional"`; unset: `login.mfa`.
    #[serde(default)]
    pub mfa: Option<crate::factors::MfaPolicy>,
}

impl ClientSettings {
    /// The grant types of a client that does not list its own.
    pub fn default_grant_types() -> Vec<GrantType> {
        vec![GrantType::AuthorizationCode, GrantType::RefreshToken]
    }
}

/// A protected host entry (`[[forward_auth]]`): apps behind nginx `auth_request` that the
/// center signs users in to. Checked when the center starts (see `forward_auth::hosts`).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForwardAuthSettings {
    /// The entry's name: 1-40 characters of letters, digits, '-', '_' and '.'.
    pub name: String,
    /// Host names (without port) served by the entry, e.g. `wiki.example.test`.
    pub hosts: Vec<String>,
    /// Usernames allowed in; with no users and no groups, every signed-in user is.
    #[serde(default)]
    pub allowed_users: Vec<String>,
    /// Groups whose members are allowed in.
    #[serde(default)]
    pub allowed_groups: Vec<String>,
    /// Idle timeout of a forward-auth session on these hosts, in seconds.
    #[serde(default = "ForwardAuthSettings::default_idle_timeout_secs")]
    pub idle_timeout_secs: u64,
    /// Absolute lifetime of a forward-auth session on these hosts, in seconds.
    #[serde(default = "ForwardAuthSettings::default_absolute_timeout_secs")]
    pub absolute_timeout_secs: u64,
    /// `"required"`: signing in to these hosts needs a second factor; `"optional"`; unset:
    /// `login.mfa`.
    #[serde(default)]
    pub mfa: Option<crate::factors::MfaPolicy>,
}

impl ForwardAuthSettings {
    /// Default idle timeout: 30 minutes.
    pub const fn default_idle_timeout_secs() -> u64 {
        30 * 60
    }

    /// Default absolute lifetime: 12 hours.
    pub const fn default_absolute_timeout_secs() -> u64 {
        12 * 60 * 60
    }
}

impl Layered for Settings {
    const LAYERS: Layers<'static> = Layers {
        env_prefix: ENV_PREFIX,
        file_var: CONFIG_FILE_ENV,
    };

    fn resolve_secret_files(&mut self) -> Result<(), ConfigError> {
        resolve_secret(
            "database.url",
            &mut self.database.url,
            self.database.url_file.take(),
        )?;
        resolve_secret(
            "store.redis_url",
            &mut self.store.redis_url,
            self.store.redis_url_file.take(),
        )?;
        resolve_secret(
            "store.redis_password",
            &mut self.store.redis_password,
            self.store.redis_password_file.take(),
        )?;
        resolve_secret(
            "admin.token",
            &mut self.admin.token,
            self.admin.token_file.take(),
        )?;
        resolve_secret(
            "tokens.key_encryption_key",
            &mut self.tokens.key_encryption_key,
            self.tokens.key_encryption_key_file.take(),
        )?;
        for client in &mut self.clients {
            resolve_secret(
                "clients.secret",
                &mut client.secret,
                client.secret_file.take(),
            )?;
        }
        self.store
            .replication
            .resolve_secret_file("store.replication.secret")
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |text: &str| Err(ConfigError::Invalid(text.to_owned()));
        if self.tokens.code_ttl() > MAX_CODE_TTL || self.tokens.code_ttl_secs == 0 {
            return invalid("tokens.code_ttl_secs must be between 1 and 60");
        }
        if !matches!(self.issuer.scheme(), "https" | "http") || self.issuer.query().is_some() {
            return invalid("issuer must be an http(s) URL without a query");
        }
        if self
            .admin
            .token
            .as_ref()
            .is_some_and(|t| t.expose().len() < 16)
        {
            return invalid("admin.token must be at least 16 characters");
        }
        if self
            .tokens
            .key_encryption_key
            .as_ref()
            .is_some_and(|k| k.expose().len() < 32)
        {
            return invalid("tokens.key_encryption_key must be at least 32 characters");
        }
        if self.store.backend == StoreBackend::Redis
            && self.store.redis_url.is_none()
            && self.store.sentinels.is_empty()
            && self.store.cluster_nodes.is_empty()
        {
            return invalid(
                "store.backend = \"redis\" needs store.redis_url, store.sentinels or \
                 store.cluster_nodes",
            );
        }
        if self.store.redis_password.is_some() && self.store.sentinels.is_empty() {
            return invalid(
                "store.redis_password is for the servers found through store.sentinels; with \
                 store.redis_url or store.cluster_nodes the password goes in the URLs",
            );
        }
        if !self.store.cluster_nodes.is_empty() {
            if !self.store.sentinels.is_empty() {
                return invalid("store.cluster_nodes and store.sentinels exclude each other");
            }
            if self.store.prefix.contains(['{', '}']) {
                return invalid(
                    "store.prefix must not contain braces with store.cluster_nodes (a hash tag \
                     would put every key in one slot)",
                );
            }
        }
        if self.store.backend == StoreBackend::Redis
            && self.store.forward_auth_cache
            && !self.store.cluster_nodes.is_empty()
        {
            return invalid(
                "store.forward_auth_cache needs store.redis_url or store.sentinels, not \
                 store.cluster_nodes",
            );
        }
        if self.store.backend == StoreBackend::Replicated {
            self.store.replication.store_config(&self.store.node_id)?;
        }
        let login = &self.login;
        if [
            login.max_failures_per_user,
            login.max_failures_per_user_address,
            login.max_failures_per_device,
            login.max_attempts_per_ip,
        ]
        .contains(&0)
        {
            return invalid(
                "login budgets (max_failures_*, max_attempts_per_ip) must be at least 1",
            );
        }
        if self.slo.max_attempts == 0 {
            return invalid("slo.max_attempts must be at least 1");
        }
        crate::clients::from_settings(&self.clients).map(drop)
    }
}

impl Settings {
    /// The issuer without a trailing slash, as it appears in `iss`.
    pub fn issuer(&self) -> String {
        self.issuer.as_str().trim_end_matches('/').to_owned()
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> PathBuf {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn the_example_file_loads_and_states_the_defaults() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("sso.example.toml");
        let mut example = Settings::load_from(Some(&path), env(&[])).unwrap();
        let defaults = Settings::default();
        assert_eq!(
            example.database.url().expose(),
            defaults.database.url().expose()
        );
        example.database.url = None;
        assert_eq!(format!("{example:?}"), format!("{defaults:?}"));
    }

    #[test]
    fn defaults_are_safe() {
        let settings = Settings::load_from(None, env(&[])).unwrap();
        assert!(
            settings.admin.token.is_none(),
            "admin API is off by default"
        );
        assert_eq!(settings.password, PasswordSettings::default());
        assert_eq!(
            (settings.password.memory_kib, settings.password.iterations),
            (19_456, 2)
        );
        assert!(settings.tokens.code_ttl() <= Duration::from_secs(60));
        assert_eq!(settings.http.host, "127.0.0.1");
    }

    #[test]
    fn file_then_env_overrides() {
        let dir = tempfile::tempdir().unwrap();
        let file = write(
            &dir,
            "sso.toml",
            "issuer = \"https://sso.example.test\"\n[http]\nport = 9000\nhost = \"0.0.0.0\"\n",
        );
        let settings = Settings::load_from(
            Some(&file),
            env(&[
                ("SSO_HTTP__PORT", "9100"),
                ("SSO_LOGIN__TRUSTED_PROXIES", "[\"10.0.0.1\"]"),
                ("SSO_CONFIG", "ignored"),
                ("HOME", "/root"),
            ]),
        )
        .unwrap();
        assert_eq!(settings.issuer(), "https://sso.example.test");
        assert_eq!(settings.http.port, 9100);
        assert_eq!(settings.http.host, "0.0.0.0");
        assert_eq!(settings.login.trusted_proxies.len(), 1);
    }

    #[test]
    fn the_replicated_store_needs_a_listener_and_a_secret() {
        let missing = Settings::load_from(None, env(&[("SSO_STORE__BACKEND", "replicated")]));
        assert!(
            matches!(missing, Err(ConfigError::Invalid(_))),
            "{missing:?}"
        );
        let settings = Settings::load_from(
            None,
            env(&[
                ("SSO_STORE__BACKEND", "replicated"),
                ("SSO_STORE__NODE_ID", "sso-a"),
                ("SSO_STORE__REPLICATION__LISTEN", "127.0.0.1:7100"),
                (
                    "SSO_STORE__REPLICATION__SECRET",
                    "0123456789abcdef0123456789abcdef",
                ),
                (
                    "SSO_STORE__REPLICATION__PEERS",
                    r#"[{ id = "sso-b", addr = "127.0.0.1:7101" }]"#,
                ),
            ]),
        )
        .unwrap();
        let config = settings
            .store
            .replication
            .store_config(&settings.store.node_id)
            .unwrap();
        assert_eq!((config.node_id.as_str(), config.peers.len()), ("sso-a", 1));
    }

    #[test]
    fn unknown_keys_are_rejected_in_file_and_env() {
        let dir = tempfile::tempdir().unwrap();
        let file = write(&dir, "sso.toml", "[http]\nprot = 1\n");
        assert!(matches!(
            Settings::load_from(Some(&file), env(&[])),
            Err(ConfigError::Parse(_))
        ));
        assert!(Settings::load_from(None, env(&[("SSO_HTTP__PROT", "1")])).is_err());
        assert!(Settings::load_from(None, env(&[("SSO_NOPE", "1")])).is_err());
    }

    #[test]
    fn secrets_come_from_files_and_are_not_shown() {
        let dir = tempfile::tempdir().unwrap();
        let token = write(&dir, "token", "a-very-long-admin-token\n");
        let settings = Settings::load_from(
            None,
            env(&[("SSO_ADMIN__TOKEN_FILE", token.to_str().unwrap())]),
        )
        .unwrap();
        let secret = settings.admin.token.as_ref().unwrap();
        assert_eq!(secret.expose(), "a-very-long-admin-token");
        assert!(!format!("{settings:?}").contains("a-very-long-admin-token"));
    }

    #[test]
    fn a_secret_and_its_file_together_are_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let token = write(&dir, "token", "a-very-long-admin-token");
        let result = Settings::load_from(
            None,
            env(&[
                ("SSO_ADMIN__TOKEN", "another-long-admin-token"),
                ("SSO_ADMIN__TOKEN_FILE", token.to_str().unwrap()),
            ]),
        );
        assert!(matches!(result, Err(ConfigError::SecretTwice(_))));
    }

    #[test]
    fn out_of_bounds_values_are_rejected() {
        assert!(Settings::load_from(None, env(&[("SSO_TOKENS__CODE_TTL_SECS", "120")])).is_err());
        assert!(Settings::load_from(None, env(&[("SSO_ADMIN__TOKEN", "short")])).is_err());
        assert!(Settings::load_from(None, env(&[("SSO_HTTP__PORT", "not-a-port")])).is_err());
        let short_kek = env(&[("SSO_TOKENS__KEY_ENCRYPTION_KEY", "0123456789abcdef")]);
        assert!(matches!(
            Settings::load_from(None, short_kek),
            Err(ConfigError::Invalid(text)) if text.contains("at least 32 characters")
        ));
        for budget in [
            "SSO_LOGIN__MAX_FAILURES_PER_USER",
            "SSO_LOGIN__MAX_FAILURES_PER_USER_ADDRESS",
            "SSO_LOGIN__MAX_FAILURES_PER_DEVICE",
            "SSO_LOGIN__MAX_ATTEMPTS_PER_IP",
        ] {
            assert!(
                matches!(
                    Settings::load_from(None, env(&[(budget, "0")])),
                    Err(ConfigError::Invalid(text)) if text.contains("login budgets")
                ),
                "{budget} = 0 must be refused"
            );
        }
    }

    #[test]
    fn the_redis_backend_needs_a_target() {
        let missing = Settings::load_from(None, env(&[("SSO_STORE__BACKEND", "redis")]));
        assert!(matches!(missing, Err(ConfigError::Invalid(_))));
        let settings = Settings::load_from(
            None,
            env(&[
                ("SSO_STORE__BACKEND", "redis"),
                ("SSO_STORE__REDIS_URL", "redis://127.0.0.1:6379"),
            ]),
        )
        .unwrap();
        assert_eq!(settings.store.backend, StoreBackend::Redis);
        assert!(
            !format!("{settings:?}").contains("6379"),
            "the URL is a secret"
        );
    }

    #[test]
    fn the_password_of_servers_found_through_sentinel_is_a_secret_for_sentinels_only() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("redis-password");
        std::fs::write(&file, "s3cret-pass\n").unwrap();
        let sentinels = ("SSO_STORE__SENTINELS", r#"["redis://127.0.0.1:26379"]"#);
        let settings = Settings::load_from(
            None,
            env(&[
                ("SSO_STORE__BACKEND", "redis"),
                sentinels,
                ("SSO_STORE__REDIS_PASSWORD_FILE", file.to_str().unwrap()),
            ]),
        )
        .unwrap();
        assert_eq!(
            settings.store.redis_password.as_ref().map(Secret::expose),
            Some("s3cret-pass")
        );
        assert!(!format!("{settings:?}").contains("s3cret"));

        let with_url = Settings::load_from(
            None,
            env(&[
                ("SSO_STORE__BACKEND", "redis"),
                ("SSO_STORE__REDIS_URL", "redis://127.0.0.1:6379"),
                ("SSO_STORE__REDIS_PASSWORD", "s3cret-pass"),
            ]),
        );
        assert!(
            with_url.is_err_and(|error| error.to_string().contains("store.redis_password")),
            "a password beside a URL is refused"
        );
    }

    #[test]
    fn the_redis_backend_takes_cluster_nodes() {
        let nodes = r#"["redis://127.0.0.1:7101", "redis://:hunter2@127.0.0.1:7102"]"#;
        let settings = Settings::load_from(
            None,
            env(&[
                ("SSO_STORE__BACKEND", "redis"),
                ("SSO_STORE__CLUSTER_NODES", nodes),
            ]),
        )
        .unwrap();
        let urls: Vec<&str> = settings
            .store
            .cluster_nodes
            .iter()
            .map(Secret::expose)
            .collect();
        assert_eq!(
            urls,
            ["redis://127.0.0.1:7101", "redis://:hunter2@127.0.0.1:7102"]
        );
        assert!(
            !format!("{settings:?}").contains("hunter2"),
            "node URLs are secrets"
        );

        for refused in [
            ("SSO_STORE__SENTINELS", r#"["redis://127.0.0.1:26379"]"#),
            ("SSO_STORE__PREFIX", "{sso}:"),
        ] {
            let result = Settings::load_from(
                None,
                env(&[
                    ("SSO_STORE__BACKEND", "redis"),
                    ("SSO_STORE__CLUSTER_NODES", nodes),
                    refused,
                ]),
            );
            assert!(
                matches!(&result, Err(ConfigError::Invalid(why)) if why.contains("cluster_nodes")),
                "{refused:?}: {result:?}"
            );
        }
    }

    #[test]
    fn the_forward_auth_cache_needs_one_redis() {
        let refused = Settings::load_from(
            None,
            env(&[
                ("SSO_STORE__BACKEND", "redis"),
                ("SSO_STORE__CLUSTER_NODES", r#"["redis://127.0.0.1:7101"]"#),
                ("SSO_STORE__FORWARD_AUTH_CACHE", "true"),
            ]),
        );
        assert!(
            matches!(&refused, Err(ConfigError::Invalid(why)) if why.contains("forward_auth_cache")),
            "{refused:?}"
        );
        for target in [
            ("SSO_STORE__REDIS_URL", "redis://127.0.0.1:6379"),
            ("SSO_STORE__SENTINELS", r#"["redis://127.0.0.1:26379"]"#),
        ] {
            let settings = Settings::load_from(
                None,
                env(&[
                    ("SSO_STORE__BACKEND", "redis"),
                    target,
                    ("SSO_STORE__FORWARD_AUTH_CACHE", "true"),
                ]),
            )
            .unwrap();
            assert!(settings.store.forward_auth_cache, "{target:?}");
        }
    }

    const CLIENTS: &str = r#"
[[clients]]
id = "portal"
name = "Portal"
secret_file = "SECRET_PATH"
redirect_uris = ["https://portal.example.test/cb"]
post_logout_redirect_uris = ["https://portal.example.test/"]
backchannel_logout_uri = "https://portal.example.test/backchannel-logout"
id_token_alg = "EdDSA"

[[clients]]
id = "kiosk"
redirect_uris = ["http://kiosk.localhost:8090/cb"]

[[clients]]
id = "hashed"
secret_sha256 = "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD"
redirect_uris = ["https://hashed.example.test/cb"]
"#;

    #[test]
    fn clients_load_from_the_file_with_their_secrets_hashed() {
        let dir = tempfile::tempdir().unwrap();
        let secret = write(&dir, "portal-secret", "portal-secret-0123456789abcdef\n");
        let text = CLIENTS.replace("SECRET_PATH", secret.to_str().unwrap());
        let file = write(&dir, "sso.toml", &text);
        let settings = Settings::load_from(Some(&file), env(&[])).unwrap();
        assert!(!format!("{settings:?}").contains("portal-secret-0123"));
        let clients = crate::clients::from_settings(&settings.clients).unwrap();
        let [portal, kiosk, hashed] = clients.as_slice() else {
            panic!("three clients expected: {clients:?}");
        };
        assert_eq!(portal.name, "Portal");
        assert!(portal.verify_secret("portal-secret-0123456789abcdef"));
        assert!(!portal.verify_secret("portal-secret-0123456789abcdeF"));
        assert_eq!(portal.id_token_alg, jsonwebtoken::Algorithm::EdDSA);
        assert!(portal.backchannel_logout_uri.is_some());
        assert_eq!(portal.post_logout_redirect_uris.len(), 1);
        assert!(kiosk.is_public(), "no secret makes a public client");
        assert_eq!(kiosk.name, "kiosk", "the name defaults to the id");
        assert_eq!(kiosk.id_token_alg, jsonwebtoken::Algorithm::RS256);
        assert!(hashed.verify_secret("abc"), "a given SHA-256 is used as is");
    }

    #[test]
    fn clients_come_from_the_environment_too() {
        let settings = Settings::load_from(
            None,
            env(&[(
                "SSO_CLIENTS",
                r#"[{ id = "app7", redirect_uris = ["http://app7.localhost/cb"] }]"#,
            )]),
        )
        .unwrap();
        assert_eq!(settings.clients.len(), 1);
        assert_eq!(settings.clients[0].id, "app7");
    }

    #[test]
    fn malformed_clients_are_rejected_naming_the_client() {
        let cases = [
            (
                r#"{ id = "bad id", redirect_uris = ["https://a.test/cb"] }"#,
                "bad id",
            ),
            (r#"{ id = "a", redirect_uris = [] }"#, "redirect URI"),
            (
                r#"{ id = "a", redirect_uris = ["/relative"] }"#,
                "/relative",
            ),
            (
                r#"{ id = "a", redirect_uris = ["https://a.test/cb#f"] }"#,
                "fragment",
            ),
            (
                r#"{ id = "a", redirect_uris = ["javascript:alert(1)"] }"#,
                "javascript",
            ),
            (
                r#"{ id = "a", redirect_uris = ["https://a.test/cb"], backchannel_logout_uri = "ftp://a.test/" }"#,
                "ftp",
            ),
            (
                r#"{ id = "a", secret = "short", redirect_uris = ["https://a.test/cb"] }"#,
                "at least 16",
            ),
            (
                r#"{ id = "a", secret = "a-long-enough-secret", secret_sha256 = "00", redirect_uris = ["https://a.test/cb"] }"#,
                "not both",
            ),
            (
                r#"{ id = "a", secret_sha256 = "xyz", redirect_uris = ["https://a.test/cb"] }"#,
                "64 hex",
            ),
            (
                r#"{ id = "a", redirect_uris = ["https://a.test/cb"] }, { id = "a", redirect_uris = ["https://a.test/cb"] }"#,
                "twice",
            ),
        ];
        for (clients, expected) in cases {
            let result =
                Settings::load_from(None, env(&[("SSO_CLIENTS", &format!("[{clients}]"))]));
            match result {
                Err(ConfigError::Invalid(why)) => assert!(why.contains(expected), "{why}"),
                other => panic!("{clients} gave {other:?}"),
            }
        }
        // An unknown key and an algorithm the center does not sign with fail to parse.
        for clients in [
            r#"[{ id = "a", redirect_uris = ["https://a.test/"], scret = "x" }]"#,
            r#"[{ id = "a", redirect_uris = ["https://a.test/"], id_token_alg = "HS256" }]"#,
        ] {
            let result = Settings::load_from(None, env(&[("SSO_CLIENTS", clients)]));
            assert!(matches!(result, Err(ConfigError::Parse(_))), "{result:?}");
        }
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        let slo = SloSettings {
            initial_backoff_ms: 100,
            max_backoff_ms: 1_000,
            ..SloSettings::default()
        };
        assert_eq!(slo.backoff(1), Duration::from_millis(100));
        assert_eq!(slo.backoff(2), Duration::from_millis(200));
        assert_eq!(slo.backoff(4), Duration::from_millis(800));
        assert_eq!(slo.backoff(5), Duration::from_millis(1_000));
        assert_eq!(slo.backoff(60), Duration::from_millis(1_000));
    }
}
