//! Prometheus metrics: one recorder per process behind the [`metrics`] facade, rendered in the
//! Prometheus text format by a small HTTP server on a listener of its own (`metrics.listen`),
//! away from the public port.
//!
//! The center and the apps record through the `metrics` macros wherever something happens; the
//! recorder is installed once per process ([`handle`]), so that tests starting many centers
//! and apps in one process share it, and every metrics endpoint of the process renders it.
//!
//! [`MeteredStore`] wraps a session store and times its operations.
//!
//! # Limitations
//! A process has one recorder: two centers in one process (as in tests) add up in the same
//! series. Histograms have fixed buckets ([`BUCKETS`], in seconds).

use std::fmt;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use actix_web::dev::Server;
use actix_web::{App, HttpResponse, HttpServer, web};
use async_trait::async_trait;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use serde::Deserialize;
use session_store::{
    CounterStore, IndexTag, OneTimeKey, OneTimeStore, Record, Result as StoreResult, Session,
    SessionIndex, SessionKey, SessionStore,
};

/// Histogram buckets of every duration, in seconds: from half a millisecond to ten seconds.
pub const BUCKETS: &[f64] = &[
    0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// How often histogram samples are folded into their buckets when nobody scrapes.
const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

/// The `metrics` section of a configuration: where the metrics endpoint listens.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsSettings {
    /// `host:port` of the metrics listener (`GET /metrics`); none (the default) serves no
    /// metrics. Keep it off the public network: the figures are not secret, but they are not
    /// for everyone either.
    pub listen: Option<String>,
}

/// The process's recorder, installed on first use.
///
/// When another recorder was installed before (by an embedding program), the `metrics` macros
/// go to that one and this handle renders nothing recorded.
pub fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        // The buckets are a non-empty literal, the only thing `set_buckets` refuses.
        let builder = PrometheusBuilder::new()
            .set_buckets(BUCKETS)
            .unwrap_or_else(|_| PrometheusBuilder::new());
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        // An error means a recorder is already installed: see above.
        let _ = metrics::set_global_recorder(recorder);
        let upkeep = handle.clone();
        // Without scrapes, histogram samples would pile up until the next render.
        let _ = std::thread::Builder::new()
            .name("metrics-upkeep".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(UPKEEP_INTERVAL);
                    upkeep.run_upkeep();
                }
            });
        handle
    })
}

/// Serves `GET /metrics` (Prometheus text format) on `listener` with one worker; any other
/// path is a 404. Installs the recorder if it is not yet.
///
/// # Errors
/// When the listener cannot be used.
pub fn serve(listener: std::net::TcpListener) -> std::io::Result<Server> {
    let handle = handle();
    Ok(HttpServer::new(move || {
        App::new().route(
            "/metrics",
            web::get().to(move || async move {
                HttpResponse::Ok()
                    .content_type("text/plain; version=0.0.4; charset=utf-8")
                    .body(handle.render())
            }),
        )
    })
    .workers(1)
    .disable_signals()
    .listen(listener)?
    .run())
}

/// The metrics endpoint `settings` ask for, bound and ready to run ([`serve`]), with the port
/// it listens on; none when `metrics.listen` is unset.
///
/// # Errors
/// When the address cannot be bound.
pub fn serve_configured(settings: &MetricsSettings) -> std::io::Result<Option<(u16, Server)>> {
    let Some(address) = &settings.listen else {
        return Ok(None);
    };
    let listener = std::net::TcpListener::bind(address).map_err(|error| {
        std::io::Error::new(
            error.kind(),
            format!("cannot listen for metrics on {address}: {error}"),
        )
    })?;
    let port = listener.local_addr()?.port();
    Ok(Some((port, serve(listener)?)))
}

/// Runs `main` (an app's server) with the metrics endpoint `metrics` beside it, and stops the
/// endpoint once `main` ends.
///
/// # Errors
/// `main`'s; a failing metrics endpoint is logged and leaves `main` running.
pub async fn run_beside(
    metrics: Option<Server>,
    main: impl Future<Output = std::io::Result<()>>,
) -> std::io::Result<()> {
    let handle = metrics.map(|server| {
        let handle = server.handle();
        tokio::spawn(async move {
            if let Err(error) = server.await {
                tracing::error!(%error, "metrics server failed");
            }
        });
        handle
    });
    let result = main.await;
    if let Some(handle) = handle {
        handle.stop(true).await;
    }
    result
}

/// The names of a [`MeteredStore`]'s series.
#[derive(Clone, Copy, Debug)]
pub struct StoreMetricNames {
    /// Histogram of operation durations, labels `backend` and `operation`.
    pub duration: &'static str,
    /// Counter of failed operations, labels `backend` and `operation`.
    pub errors: &'static str,
}

impl StoreMetricNames {
    /// The center's store series.
    pub const CENTER: Self = Self {
        duration: "sso_store_operation_duration_seconds",
        errors: "sso_store_errors_total",
    };
    /// An app's store series (the SDK's local sessions, vault and counters).
    pub const CLIENT: Self = Self {
        duration: "sso_client_store_operation_duration_seconds",
        errors: "sso_client_store_errors_total",
    };
}

/// A store that times every operation of the store it wraps (histogram) and counts the
/// failed ones, labelled by backend and operation. It changes nothing else: every call goes
/// through as it is.
pub struct MeteredStore<S: ?Sized> {
    inner: Arc<S>,
    backend: &'static str,
    names: StoreMetricNames,
}

impl<S: ?Sized> MeteredStore<S> {
    /// Wraps `inner`, whose series carry `backend="<backend>"`.
    pub fn new(inner: Arc<S>, backend: &'static str, names: StoreMetricNames) -> Self {
        Self {
            inner,
            backend,
            names,
        }
    }

    async fn timed<T>(
        &self,
        operation: &'static str,
        call: impl Future<Output = StoreResult<T>>,
    ) -> StoreResult<T> {
        let started = Instant::now();
        let result = call.await;
        metrics::histogram!(self.names.duration, "backend" => self.backend, "operation" => operation)
            .record(started.elapsed().as_secs_f64());
        if result.is_err() {
            metrics::counter!(self.names.errors, "backend" => self.backend, "operation" => operation)
                .increment(1);
        }
        result
    }
}

impl<S: fmt::Debug + ?Sized> fmt::Debug for MeteredStore<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MeteredStore")
            .field("backend", &self.backend)
            .field("inner", &self.inner)
            .finish()
    }
}

#[async_trait]
impl<S: SessionStore + ?Sized> SessionStore for MeteredStore<S> {
    async fn create(&self, record: Record) -> StoreResult<Session> {
        self.timed("create", self.inner.create(record)).await
    }

    async fn load(&self, key: &SessionKey) -> StoreResult<Option<Session>> {
        self.timed("load", self.inner.load(key)).await
    }

    async fn update(&self, session: &mut Session) -> StoreResult<bool> {
        self.timed("update", self.inner.update(session)).await
    }

    async fn delete(&self, key: &SessionKey) -> StoreResult<()> {
        self.timed("delete", self.inner.delete(key)).await
    }
}

#[async_trait]
impl<S: SessionIndex + ?Sized> SessionIndex for MeteredStore<S> {
    async fn list_by_tag(&self, tag: &IndexTag) -> StoreResult<Vec<SessionKey>> {
        self.timed("list_by_tag", self.inner.list_by_tag(tag)).await
    }

    async fn delete_by_tag(&self, tag: &IndexTag) -> StoreResult<usize> {
        self.timed("delete_by_tag", self.inner.delete_by_tag(tag))
            .await
    }
}

#[async_trait]
impl<S: OneTimeStore + ?Sized> OneTimeStore for MeteredStore<S> {
    async fn put_once(&self, value: Vec<u8>, ttl: Duration) -> StoreResult<OneTimeKey> {
        self.timed("put_once", self.inner.put_once(value, ttl))
            .await
    }

    async fn take(&self, key: &OneTimeKey) -> StoreResult<Option<Vec<u8>>> {
        self.timed("take", self.inner.take(key)).await
    }
}

#[async_trait]
impl<S: CounterStore + ?Sized> CounterStore for MeteredStore<S> {
    async fn increment(&self, name: &str, window: Duration) -> StoreResult<u64> {
        self.timed("increment", self.inner.increment(name, window))
            .await
    }

    async fn count(&self, name: &str) -> StoreResult<u64> {
        self.timed("count", self.inner.count(name)).await
    }

    async fn any_counted(&self, names: &[&str]) -> StoreResult<bool> {
        self.timed("count", self.inner.any_counted(names)).await
    }

    fn revocation_version(&self) -> Option<u64> {
        self.inner.revocation_version()
    }

    async fn reset(&self, name: &str) -> StoreResult<()> {
        self.timed("reset", self.inner.reset(name)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_listen_address_serves_nothing_and_a_bad_one_is_named() {
        assert!(
            serve_configured(&MetricsSettings::default())
                .unwrap()
                .is_none()
        );
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = taken.local_addr().unwrap().to_string();
        let settings = MetricsSettings {
            listen: Some(address.clone()),
        };
        let error = serve_configured(&settings)
            .err()
            .expect("the port is taken");
        let message = error.to_string();
        assert!(
            message.contains(&format!("cannot listen for metrics on {address}")),
            "{message}"
        );
    }
}
