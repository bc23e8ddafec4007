//! Building and running the server: used by `main` and by the tests alike.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::middleware::{Condition, from_fn};
use actix_web::{App, HttpServer, web};
use anyhow::Context as _;
use session_store::{
    Expiry, MemoryConfig, MemoryStore, RedisConfig, RedisStore, ReplicatedStore, SharedStore,
};
use sqlx::AnyPool;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use crate::audit::AuditLog;
use crate::authorization_code::Codes;
use crate::clients::ClientRegistry;
use crate::config::{Settings, StoreBackend};
use crate::csrf::Csrf;
use crate::db::Reachability;
use crate::factors::Factors;
use crate::factors::passkeys::Passkeys;
use crate::forward_auth::ForwardAuth;
use crate::keys::Keys;
use crate::keys::sealing::KeySealer;
use crate::routes;
use crate::secrets::ServerSecret;
use crate::sessions::{GlobalSessions, sweeper};
use crate::slo::delivery::Deliverer;
use crate::slo::outbox::Outbox;
use crate::state::AppState;
use crate::throttle::LoginThrottle;
use crate::tokens::{AccessTokens, RefreshTokens, jwt};
use crate::users::{PasswordHasher, UserStore};
use crate::web as webutil;

/// How often audit events past their retention are deleted.
const AUDIT_SWEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(3600);
/// How often an unreachable database is probed.
const DATABASE_PROBE_EVERY: std::time::Duration = std::time::Duration::from_secs(1);
/// How often registry writes kept in the store while the database was unreachable are tried.
const PENDING_REPLAY_EVERY: std::time::Duration = std::time::Duration::from_secs(2);

/// The store the configuration asks for. A Redis store connects on first use, so the center
/// starts while Redis is down (and `/readyz` says so); a replicated node starts listening for
/// its peers and catches up with them in the background.
///
/// # Errors
/// When the Redis URLs cannot be parsed or the replication listener cannot be bound.
pub fn build_store(settings: &Settings) -> anyhow::Result<Arc<dyn SharedStore>> {
    let store = &settings.store;
    Ok(match store.backend {
        StoreBackend::Memory => Arc::new(MemoryStore::new(MemoryConfig::default())),
        StoreBackend::Redis => Arc::new(
            RedisStore::new(redis_config(settings)?).context("invalid Redis configuration")?,
        ),
        StoreBackend::Replicated => {
            let config = store.replication.store_config(&store.node_id)?;
            Arc::new(ReplicatedStore::start(config).context("cannot start the replicated store")?)
        }
    })
}

fn redis_config(settings: &Settings) -> anyhow::Result<RedisConfig> {
    let store = &settings.store;
    let config = if !store.cluster_nodes.is_empty() {
        RedisConfig::cluster(
            store
                .cluster_nodes
                .iter()
                .map(|url| url.expose().to_owned())
                .collect(),
        )
    } else if store.sentinels.is_empty() {
        let url = store
            .redis_url
            .as_ref()
            .context("store.redis_url is not set")?;
        RedisConfig::new(url.expose())
    } else {
        let config = RedisConfig::sentinel(store.sentinels.clone(), store.sentinel_service.clone());
        match &store.redis_password {
            Some(password) => config.with_server_password(password.expose()),
            None => config,
        }
    };
    Ok(config
        .with_prefix(store.prefix.clone())
        .with_timeout(Duration::from_millis(store.timeout_ms.max(1))))
}

/// The store forward-auth sessions are kept in: the center's `store`, or with
/// `store.forward_auth_cache` on Redis, a second client of the same Redis and key prefix that
/// keeps the sessions it read in a local cache Redis keeps honest
/// ([`RedisConfig::with_local_cache`]). Global sessions end theirs through this store, so this
/// node's cache forgets them before the end returns; Redis tells the other nodes' caches.
fn forward_auth_store(
    settings: &Settings,
    store: &Arc<dyn SharedStore>,
) -> anyhow::Result<Arc<dyn SharedStore>> {
    if settings.store.backend != StoreBackend::Redis || !settings.store.forward_auth_cache {
        return Ok(Arc::clone(store));
    }
    let config = redis_config(settings)?.with_local_cache(true);
    Ok(Arc::new(
        RedisStore::new(config).context("invalid Redis configuration")?,
    ))
}

/// Builds the state shared by the server and the command line.
///
/// # Errors
/// When keys cannot be loaded or generated, or the hasher parameters are invalid.
pub async fn build_state(
    settings: Settings,
    pool: AnyPool,
    store: Arc<dyn SharedStore>,
    slo_wakeup: Arc<Notify>,
) -> anyhow::Result<AppState> {
    let keys = Arc::new(Keys::load_or_generate(settings.tokens.key_store(pool.clone())).await?);
    let expiry = Expiry::new(
        settings.session.idle_timeout(),
        settings.session.absolute_timeout(),
    );
    let database = Reachability::default();
    let clients = ClientRegistry::with_configured(pool.clone(), &settings.clients)?
        .with_reachability(database.clone());
    let sealer = settings
        .tokens
        .key_encryption_key
        .as_ref()
        .map(KeySealer::new);
    let csrf_secret = ServerSecret::load_or_create(&pool, "csrf", sealer.as_ref()).await?;
    let device_secret = ServerSecret::load_or_create(&pool, "device", sealer.as_ref()).await?;
    let store = crate::metrics::metered_store(store, settings.store.backend);
    let forward_auth_store = forward_auth_store(&settings, &store)?;
    Ok(AppState {
        issuer: settings.issuer().into(),
        users: UserStore::new(pool.clone()),
        hasher: PasswordHasher::new(settings.password).await?,
        sessions: GlobalSessions::new(
            store.clone(),
            pool.clone(),
            database.clone(),
            clients.clone(),
            expiry,
            slo_wakeup,
        )
        .with_forward_auth_store(Arc::clone(&forward_auth_store)),
        clients,
        codes: Codes::new(store.clone(), settings.tokens.code_ttl()),
        access_tokens: AccessTokens::new(
            store.clone(),
            settings.tokens.access_token_ttl(),
            settings.session.absolute_timeout(),
        ),
        refresh_tokens: RefreshTokens::new(
            store.clone(),
            settings.session.absolute_timeout(),
            settings.tokens.offline_idle(),
            settings.tokens.offline_lifetime(),
        ),
        jwt_revocations: jwt::Revocations::new(store.clone(), settings.tokens.access_token_ttl()),
        throttle: LoginThrottle::new(store.clone(), settings.login.clone(), &device_secret),
        outbox: Outbox::new(pool.clone()),
        audit: AuditLog::new(pool.clone(), settings.audit.retention()),
        csrf: Csrf::new(&csrf_secret, &settings.issuer),
        forward_auth: ForwardAuth::new(&settings.forward_auth, pool.clone(), forward_auth_store)
            .await?,
        factors: Factors::new(
            pool.clone(),
            store.clone(),
            settings
                .tokens
                .key_encryption_key
                .as_ref()
                .map(KeySealer::new),
            settings.issuer.host_str().unwrap_or("SSO").to_owned(),
            settings.login.mfa,
        ),
        passkeys: Passkeys::new(
            pool.clone(),
            store.clone(),
            &settings.issuer,
            settings.issuer.host_str().unwrap_or("SSO"),
        ),
        keys,
        settings: Arc::new(settings),
        pool,
        database,
        store,
    })
}

/// A built server, listening, not yet running.
pub struct Application {
    port: u16,
    server: Server,
    metrics: Option<(u16, Server)>,
    state: AppState,
    slo_wakeup: Arc<Notify>,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application")
            .field("port", &self.port)
            .field("metrics_port", &self.metrics_port())
            .finish_non_exhaustive()
    }
}

impl Application {
    /// Connects to the configured database and store and binds the configured address.
    ///
    /// # Errors
    /// When the database, the keys or the address fail.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let pool = crate::db::connect(&settings.database).await?;
        let store = build_store(&settings)?;
        Self::build_with(settings, pool, store).await
    }

    /// Binds the configured address (port 0 picks a free one) with a given database and store.
    ///
    /// # Errors
    /// When the keys or the address fail.
    pub async fn build_with(
        settings: Settings,
        pool: AnyPool,
        store: Arc<dyn SharedStore>,
    ) -> anyhow::Result<Self> {
        let slo_wakeup = Arc::new(Notify::new());
        let state = build_state(settings, pool, store, slo_wakeup.clone()).await?;
        let address = format!("{}:{}", state.settings.http.host, state.settings.http.port);
        let listener =
            TcpListener::bind(&address).with_context(|| format!("cannot listen on {address}"))?;
        let port = listener.local_addr()?.port();
        let metrics = serve_metrics(&state.settings)?;
        let metered = metrics.is_some();
        let data = web::Data::new(state.clone());
        let limits = state.settings.http.limits();
        let server = limits.apply(HttpServer::new(move || {
            let deadline = limits.body_deadline();
            App::new()
                .wrap(Condition::new(
                    metered,
                    from_fn(crate::metrics::record_request),
                ))
                .app_data(data.clone())
                .service(routes::forward_auth::verify_resource())
                .service(
                    web::scope("")
                        .wrap(webutil::security_headers())
                        .wrap(tracing_actix())
                        .wrap(from_fn(move |req, next| deadline.handle(req, next)))
                        .configure(routes::configure),
                )
        }));
        let server = server.listen(listener)?.run();
        Ok(Self {
            port,
            server,
            metrics,
            state,
            slo_wakeup,
        })
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The port of the metrics endpoint, when `metrics.listen` is set.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics.as_ref().map(|(port, _)| *port)
    }

    /// The shared state, e.g. to add users and clients.
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Runs the server and its background tasks (single-logout delivery, expiry sweeper, key
    /// reload) until it stops; SIGINT and SIGTERM stop it gracefully.
    ///
    /// # Errors
    /// When the server fails or the delivery worker cannot start.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let state = self.state;
        let deliverer = Deliverer::new(
            state.outbox.clone(),
            state.clients.clone(),
            state.keys.clone(),
            state.issuer.to_string(),
            state.settings.slo.clone(),
        )?;
        let mut tasks: Vec<JoinHandle<()>> = vec![
            tokio::spawn(deliverer.run(self.slo_wakeup)),
            tokio::spawn(sweeper::run(
                state.sessions.clone(),
                state.settings.session.sweep_interval(),
            )),
            tokio::spawn(crate::sessions::pending::run(
                state.sessions.clone(),
                PENDING_REPLAY_EVERY,
            )),
            tokio::spawn(reload_from_database(state.clone())),
            tokio::spawn(
                state
                    .database
                    .clone()
                    .watch(state.pool.clone(), DATABASE_PROBE_EVERY),
            ),
            tokio::spawn(state.audit.clone().run_sweeper(AUDIT_SWEEP_EVERY)),
        ];
        let metrics = self.metrics.map(|(_, server)| {
            let handle = server.handle();
            tasks.push(tokio::spawn(async move {
                if let Err(error) = server.await {
                    tracing::error!(%error, "metrics server failed");
                }
            }));
            handle
        });
        let result = self.server.await;
        if let Some(metrics) = metrics {
            metrics.stop(true).await;
        }
        for task in tasks {
            task.abort();
        }
        result.context("HTTP server failed")
    }
}

/// The metrics endpoint on `metrics.listen`, with its port, when it is set.
fn serve_metrics(settings: &Settings) -> anyhow::Result<Option<(u16, Server)>> {
    let endpoint = sso_common::metrics::serve_configured(&settings.metrics)?;
    if endpoint.is_some() {
        crate::metrics::describe();
    }
    Ok(endpoint)
}

/// Re-reads the signing keys and the database clients every `tokens.key_reload_secs`, so that
/// the copies in memory, served while the database is unreachable, stay fresh.
async fn reload_from_database(state: AppState) {
    let mut ticker = tokio::time::interval(state.settings.tokens.key_reload());
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        if let Err(error) = state.keys.reload().await {
            tracing::error!(error = format!("{error:#}"), "cannot reload signing keys");
        }
        if let Err(error) = state.clients.refresh().await {
            tracing::error!(error = format!("{error:#}"), "cannot reload clients");
        }
    }
}

fn tracing_actix() -> actix_web::middleware::Logger {
    actix_web::middleware::Logger::new("%a %U %s %T").exclude("/healthz")
}
