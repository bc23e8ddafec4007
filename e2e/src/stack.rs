//! The servers a browser test clicks through: the center and the demo apps app1 and app2 (and,
//! for the axum tests, the demo app on axum), each started in this process on a free port,
//! reached under its own `*.localhost` name; and, for the forward-auth tests, app3 behind nginx
//! ([`crate::app3`]).

use std::sync::Arc;

use anyhow::Context as _;
use session_store::{KeyRing, MemoryStore, RedisConfig, RedisStore};
use sso_server::clients::NewClient;
use sso_server::config::ForwardAuthSettings;
use sso_server::domain::{ClientId, RedirectUri, Username};
use sso_server::users::{GroupChange, GroupName, NewUser, Password};
use subsystem_demo::Layered as _;
use url::Url;

/// The demo user every test signs in as.
pub const USERNAME: &str = "alice";
/// Her display name, which the apps show once she is signed in.
pub const DISPLAY_NAME: &str = "Alice Liddell";
/// Her password.
pub const PASSWORD: &str = "correct horse battery staple";
/// The group app3 lets in; the demo user is in it.
pub const APP3_GROUP: &str = "staff";
/// A second user, with the same password, who is not in [`APP3_GROUP`] (only with app3).
pub const OUTSIDER: &str = "bob";
/// An administrator, with the same password, in the `admin` group: the admin console's user.
pub const ADMIN: &str = "ada";

/// Where the apps keep their local sessions.
#[derive(Clone, Debug)]
pub enum Backend {
    /// In each app's process.
    Memory,
    /// In the Redis server at this URL, each app under a key prefix of its own.
    Redis(String),
    /// In an encrypted cookie; single logout revokes the `sid` on the app's node.
    Cookie,
}

impl Backend {
    /// The Redis server of the test environment: `REDIS_URL`, by default the local one.
    pub fn redis_from_env() -> Self {
        let url = std::env::var("REDIS_URL")
            .ok()
            .filter(|url| !url.is_empty())
            .unwrap_or_else(|| "redis://127.0.0.1:6379".to_owned());
        Self::Redis(url)
    }

    /// The name the apps show in their footer.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Memory => "memory",
            Self::Redis(_) => "redis",
            Self::Cookie => "cookie",
        }
    }

    /// The demo app's settings for this backend, as `DEMO_APP_` variables.
    fn settings(&self) -> Vec<(String, String)> {
        let mut settings = vec![("DEMO_APP_STORE__BACKEND", self.name().to_owned())];
        match self {
            Self::Memory => {}
            Self::Redis(url) => {
                settings.push(("DEMO_APP_STORE__REDIS_URL", url.clone()));
                let unique = KeyRing::generate_key().replace(['+', '/', '='], "");
                settings.push(("DEMO_APP_STORE__PREFIX", format!("e2e-{}:", &unique[..12])));
            }
            Self::Cookie => {
                settings.push(("DEMO_APP_STORE__COOKIE_KEY", KeyRing::generate_key()));
            }
        }
        settings
            .into_iter()
            .map(|(key, value)| (key.to_owned(), value))
            .collect()
    }

    /// Fails unless the backend's server answers, so a Redis test never passes without Redis.
    async fn check_reachable(&self) -> anyhow::Result<()> {
        if let Self::Redis(url) = self {
            let store = RedisStore::new(RedisConfig::new(url.clone()))
                .context("REDIS_URL is not a valid Redis URL")?;
            store
                .ping()
                .await
                .with_context(|| format!("the Redis server at REDIS_URL ({url}) is unreachable"))?;
        }
        Ok(())
    }
}

/// The center and the two demo apps, all running, with the demo user, the administrator
/// [`ADMIN`] and both apps registered.
#[derive(Debug)]
pub struct Stack {
    /// The center.
    pub center: Site,
    /// The demo app `app1`.
    pub app1: Site,
    /// The demo app `app2`.
    pub app2: Site,
    /// app3 behind nginx with forward auth, when started with [`Stack::start_with_app3`].
    pub app3: Option<crate::app3::App3>,
    /// The demo app on axum (`axum`), when started with [`Stack::start_with_axum`].
    pub axum: Option<Site>,
    _database: tempfile::TempDir,
}

/// A server as the browser reaches it.
#[derive(Clone, Debug)]
pub struct Site {
    pub(crate) origin: Url,
}

impl Site {
    /// The URL of `path` on this site.
    pub fn page(&self, path: &str) -> String {
        format!("{}{path}", self.origin.as_str().trim_end_matches('/'))
    }

    /// Whether `url` is on this site.
    pub fn serves(&self, url: &Url) -> bool {
        url.origin() == self.origin.origin()
    }

    /// Whether `url` is the page `path` of this site.
    pub fn is_at(&self, url: &Url, path: &str) -> bool {
        self.serves(url) && url.path() == path
    }
}

impl Stack {
    /// Starts the center and app1 and app2 keeping local sessions in `backend`.
    ///
    /// # Errors
    /// When a server cannot start or the backend's server is unreachable.
    pub async fn start(backend: &Backend) -> anyhow::Result<Self> {
        backend.check_reachable().await?;
        let (center, database) = start_center(false).await?;
        let app1 = start_app(&center, "app1", backend).await?;
        let app2 = start_app(&center, "app2", backend).await?;
        Ok(Self {
            center: center.site,
            app1,
            app2,
            app3: None,
            axum: None,
            _database: database,
        })
    }

    /// Like [`Stack::start`], and app3 behind nginx: the center trusts 127.0.0.1 as a proxy
    /// and protects `app3.localhost` for [`APP3_GROUP`], which the demo user is in and
    /// [`OUTSIDER`] is not.
    ///
    /// # Errors
    /// As [`Stack::start`], and when nginx or python3 is missing.
    pub async fn start_with_app3(backend: &Backend) -> anyhow::Result<Self> {
        backend.check_reachable().await?;
        let (center, database) = start_center(true).await?;
        let app1 = start_app(&center, "app1", backend).await?;
        let app2 = start_app(&center, "app2", backend).await?;
        let port = center.site.origin.port().context("the center's port")?;
        let app3 = crate::app3::App3::start(port)?;
        Ok(Self {
            center: center.site,
            app1,
            app2,
            app3: Some(app3),
            axum: None,
            _database: database,
        })
    }

    /// Like [`Stack::start`], and the demo app on axum (`axum`, through the SDK's axum layer)
    /// keeping its sessions in `backend` too.
    ///
    /// # Errors
    /// As [`Stack::start`].
    pub async fn start_with_axum(backend: &Backend) -> anyhow::Result<Self> {
        backend.check_reachable().await?;
        let (center, database) = start_center(false).await?;
        let app1 = start_app(&center, "app1", backend).await?;
        let app2 = start_app(&center, "app2", backend).await?;
        let axum = start_axum_app(&center, "axum", backend).await?;
        Ok(Self {
            center: center.site,
            app1,
            app2,
            app3: None,
            axum: Some(axum),
            _database: database,
        })
    }
}

struct Center {
    site: Site,
    state: sso_server::state::AppState,
}

// The center must know its own URL (the issuer) before it binds, so its port is chosen first.
pub(crate) use sso_common::ports::free_port;

/// Starts the center with the demo user and [`ADMIN`]; with `app3`, also protecting `app3.localhost` (behind
/// an nginx on 127.0.0.1) and adding [`OUTSIDER`].
async fn start_center(app3: bool) -> anyhow::Result<(Center, tempfile::TempDir)> {
    let port = free_port();
    let origin: Url = format!("http://sso.localhost:{port}").parse()?;
    let mut settings = sso_server::config::Settings {
        issuer: origin.clone(),
        ..Default::default()
    };
    settings.http.port = port;
    settings.slo.poll_interval_ms = 50;
    settings.slo.initial_backoff_ms = 100;
    settings.slo.max_backoff_ms = 400;
    settings.slo.request_timeout_ms = 1_000;
    if app3 {
        settings.login.trusted_proxies = vec![[127, 0, 0, 1].into()];
        settings.forward_auth = vec![ForwardAuthSettings {
            name: "app3".to_owned(),
            hosts: vec!["app3.localhost".to_owned()],
            allowed_users: Vec::new(),
            allowed_groups: vec![APP3_GROUP.to_owned()],
            idle_timeout_secs: ForwardAuthSettings::default_idle_timeout_secs(),
            absolute_timeout_secs: ForwardAuthSettings::default_absolute_timeout_secs(),
            mfa: None,
        }];
    }
    let database = tempfile::tempdir()?;
    let url = format!("sqlite://{}/sso.db?mode=rwc", database.path().display());
    let pool = sso_server::db::connect_url(&url, 5).await?;
    let application = sso_server::startup::Application::build_with(
        settings,
        pool,
        Arc::new(MemoryStore::default()),
    )
    .await?;
    let state = application.state().clone();
    tokio::spawn(application.run_until_stopped());
    let mut users = vec![
        (USERNAME, DISPLAY_NAME, APP3_GROUP),
        (ADMIN, "Ada Lovelace", "admin"),
    ];
    if app3 {
        users.push((OUTSIDER, "Bob Builder", "visitors"));
    }
    for (username, name, groups) in users {
        let username = Username::parse(username).map_err(anyhow::Error::msg)?;
        let hash = state.hasher.hash(Password::new(PASSWORD)).await?;
        state
            .users
            .add(
                NewUser {
                    username: username.clone(),
                    name: name.to_owned(),
                    email: format!("{}@example.test", username.as_str()),
                },
                hash,
            )
            .await
            .map_err(|error| {
                anyhow::anyhow!("cannot add the user {}: {error}", username.as_str())
            })?;
        let groups = GroupName::parse_list(groups).map_err(anyhow::Error::msg)?;
        state
            .users
            .change_groups(&username, &GroupChange::Set(groups))
            .await
            .map_err(|error| {
                anyhow::anyhow!("cannot set the groups of {}: {error}", username.as_str())
            })?;
    }
    Ok((
        Center {
            site: Site { origin },
            state,
        },
        database,
    ))
}

/// Starts the demo app `name` on a free port and registers it with the center the way the
/// demo registers it: callback, home page after sign-out, back-channel logout.
async fn start_app(center: &Center, name: &str, backend: &Backend) -> anyhow::Result<Site> {
    let (settings, secret) = app_settings(center, name, backend)?;
    let app = subsystem_demo::Application::build(settings)?;
    let site = Site {
        origin: app.public_url().clone(),
    };
    register(center, name, &site, secret).await?;
    tokio::spawn(app.run_until_stopped());
    Ok(site)
}

/// Starts the demo app on axum as `name`, like [`start_app`].
async fn start_axum_app(center: &Center, name: &str, backend: &Backend) -> anyhow::Result<Site> {
    let (settings, secret) = app_settings(center, name, backend)?;
    let app = subsystem_demo::axum_app::AxumApplication::build(settings)?;
    let site = Site {
        origin: app.public_url().clone(),
    };
    register(center, name, &site, secret).await?;
    tokio::spawn(app.run_until_stopped());
    Ok(site)
}

/// The demo app settings of `name` on a free port, and its client secret.
fn app_settings(
    center: &Center,
    name: &str,
    backend: &Backend,
) -> anyhow::Result<(subsystem_demo::Settings, String)> {
    let secret = format!("{name}-e2e-secret-0123456789abcdef");
    let mut env = vec![
        ("DEMO_APP_NAME".to_owned(), name.to_owned()),
        ("DEMO_APP_HTTP__PORT".to_owned(), "0".to_owned()),
        ("DEMO_APP_SSO__ISSUER".to_owned(), center.site.page("")),
        ("DEMO_APP_SSO__CLIENT_SECRET".to_owned(), secret.clone()),
    ];
    env.extend(backend.settings());
    Ok((subsystem_demo::Settings::load_from(None, env)?, secret))
}

/// Registers the app `name` at `site` with the center.
async fn register(center: &Center, name: &str, site: &Site, secret: String) -> anyhow::Result<()> {
    let uri = |path: &str| {
        RedirectUri::parse(&site.page(path)).with_context(|| format!("{name} URI {path}"))
    };
    center
        .state
        .clients
        .upsert(NewClient {
            id: ClientId::parse(name).context("client id")?,
            name: format!("Demo {name}"),
            secret: Some(secret),
            redirect_uris: vec![uri("/auth/callback")?],
            post_logout_redirect_uris: vec![uri("/")?],
            backchannel_logout_uri: Some(uri("/auth/backchannel-logout")?),
            id_token_alg: jsonwebtoken::Algorithm::RS256,
            tokens: sso_server::clients::TokenPolicy::default(),
        })
        .await?;
    Ok(())
}
