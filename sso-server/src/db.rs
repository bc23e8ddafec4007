//! The SQL database: SQLite (embedded default) or PostgreSQL, through one `sqlx::Any` pool and
//! one set of migrations.
//!
//! A request never waits long for a database that does not answer: taking a connection gives up
//! after [`ACQUIRE_TIMEOUT`], and such a failure is told apart from others by
//! [`is_unreachable`], so that callers can serve what they can without it (see the README's
//! "Without the database"). Once one call found it unreachable, [`Reachability`] has the
//! others skip it until a probe gets an answer again, so that they do not each wait.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use sqlx::AnyPool;
use sqlx::any::AnyPoolOptions;

use crate::config::DatabaseSettings;

/// How long a query waits for a connection before the database counts as unreachable.
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

/// How long the center waits for the database when it starts.
const STARTUP_PATIENCE: Duration = Duration::from_secs(30);

/// Whether `error` says the database could not be reached (no connection, or a broken one),
/// rather than that it refused or could not do what was asked. A pool closed by the center
/// itself (shutting down) is not an outage.
pub fn is_unreachable(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause.downcast_ref::<sqlx::Error>().is_some_and(|error| {
            matches!(
                error,
                sqlx::Error::Io(_)
                    | sqlx::Error::Tls(_)
                    | sqlx::Error::Protocol(_)
                    | sqlx::Error::PoolTimedOut
            )
        }) || cause.downcast_ref::<std::io::Error>().is_some()
            || cause.downcast_ref::<Unreachable>().is_some()
    })
}

/// The database is known to be unreachable, so it was not asked.
#[derive(Debug, thiserror::Error)]
#[error("the database is unreachable")]
pub struct Unreachable;

/// Whether the database answers, as last found; shared by the parts of the center that can do
/// without it. Starts as reachable.
#[derive(Clone, Debug, Default)]
pub struct Reachability {
    down: Arc<AtomicBool>,
}

impl Reachability {
    /// Whether the last attempt found the database unreachable, and no probe has reached it since.
    pub fn is_down(&self) -> bool {
        self.down.load(Ordering::Relaxed)
    }

    /// The result of `work`, or the error saying the database is unreachable: known to be down
    /// (then `work` is not run) or found so by `work`.
    ///
    /// # Errors
    /// The unreachable database, as an error to log or to return.
    pub async fn reach<T>(
        &self,
        work: impl Future<Output = anyhow::Result<T>>,
    ) -> Result<anyhow::Result<T>, anyhow::Error> {
        if self.is_down() {
            return Err(Unreachable.into());
        }
        match work.await {
            Err(error) if is_unreachable(&error) => {
                if !self.down.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        error = format!("{error:#}"),
                        "database unreachable; serving what does not need it"
                    );
                }
                Err(error)
            }
            done => Ok(done),
        }
    }

    /// Probes the database every `interval`: finds it unreachable before a request has to
    /// wait for it, and reachable again once it answers. Runs until the task is dropped.
    pub async fn watch(self, pool: AnyPool, interval: Duration) {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            let answered = async {
                sqlx::query("SELECT 1")
                    .execute(&pool)
                    .await
                    .map(drop)
                    .map_err(anyhow::Error::from)
            };
            if !self.is_down() {
                // Marks it down when unreachable; any other failure is for the requests to meet.
                let _found = self.reach(answered).await;
            } else if answered.await.is_ok() {
                self.down.store(false, Ordering::Relaxed);
                tracing::info!("database reachable again");
            }
        }
    }
}

/// Connects to the configured database and brings its schema up to date.
///
/// For SQLite the directory of the database file is created if missing.
///
/// # Errors
/// When the database cannot be reached or a migration fails.
pub async fn connect(settings: &DatabaseSettings) -> anyhow::Result<AnyPool> {
    connect_url(settings.url().expose(), settings.max_connections).await
}

/// Connects to `url` and runs the migrations.
///
/// # Errors
/// As [`connect`].
pub async fn connect_url(url: &str, max_connections: u32) -> anyhow::Result<AnyPool> {
    sqlx::any::install_default_drivers();
    if let Some(path) = sqlite_file(url)
        && let Some(dir) = std::path::Path::new(path).parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create database directory {}", dir.display()))?;
    }
    // At start a database server may still be coming up: it is given STARTUP_PATIENCE, while a
    // request later never waits longer than ACQUIRE_TIMEOUT. A SQLite file is there or not.
    let deadline = tokio::time::Instant::now() + STARTUP_PATIENCE;
    let pool = loop {
        let connected = AnyPoolOptions::new()
            .max_connections(max_connections.max(1))
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect(url)
            .await
            .context("cannot connect to the database");
        match connected {
            Err(error)
                if is_unreachable(&error)
                    && !url.starts_with("sqlite:")
                    && tokio::time::Instant::now() < deadline =>
            {
                tracing::warn!(error = format!("{error:#}"), "waiting for the database");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            connected => break connected?,
        }
    };
    if url.starts_with("sqlite:") {
        // Write-ahead logging lets readers (every page view) proceed while a login or a logout
        // writes; the setting is stored in the database file.
        sqlx::query("PRAGMA journal_mode = WAL")
            .execute(&pool)
            .await
            .context("cannot enable write-ahead logging")?;
    }
    sqlx::migrate!("./migrations")
        .run(&pool)
        .await
        .context("database migration failed")?;
    Ok(pool)
}

fn sqlite_file(url: &str) -> Option<&str> {
    let rest = url.strip_prefix("sqlite://")?;
    let path = rest.split('?').next().unwrap_or(rest);
    (!path.is_empty() && path != ":memory:").then_some(path)
}

/// Milliseconds since the Unix epoch, as stored in the database.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_database_out_of_reach_is_unreachable() {
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        let unreachable = [
            anyhow::Error::from(sqlx::Error::Io(refused)).context("cannot load user"),
            anyhow::Error::from(sqlx::Error::PoolTimedOut),
            anyhow::Error::from(Unreachable),
        ];
        assert!(unreachable.iter().all(is_unreachable));
        let answered = [
            anyhow::Error::from(sqlx::Error::RowNotFound),
            anyhow::Error::from(sqlx::Error::PoolClosed),
            anyhow::anyhow!("client app1: bad redirect_uris"),
        ];
        assert!(!answered.iter().any(is_unreachable));
    }

    #[tokio::test]
    async fn a_database_found_unreachable_is_skipped_until_found_again() {
        let database = Reachability::default();
        let refused = || async { Err::<(), _>(anyhow::Error::from(sqlx::Error::PoolTimedOut)) };
        assert!(database.reach(async { Ok(1) }).await.is_ok());
        assert!(database.reach(refused()).await.is_err());
        assert!(database.is_down());
        let mut asked = false;
        let skipped = database
            .reach(async {
                asked = true;
                Ok(())
            })
            .await;
        assert!(skipped.is_err_and(|error| is_unreachable(&error)));
        assert!(!asked, "a database known down is not asked");
    }
}
