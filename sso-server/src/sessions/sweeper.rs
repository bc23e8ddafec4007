//! Finds global sessions that ended by idle or absolute expiry, so that they get single logout
//! too. It polls the store rather than relying on backend events (Redis keyspace notifications
//! are fire-and-forget), so an expiry is acted on within one sweep interval.
//!
//! # Limitations
//! A sweep asks the store about every live session (one index lookup each), so its cost grows
//! with the number of sessions; with several replicas each sweeps, and the SQL registry makes
//! sure a session's logout is queued once.

use std::time::Duration;

use super::GlobalSessions;

/// Sweeps every `interval` until the task is dropped.
pub async fn run(sessions: GlobalSessions, interval: Duration) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        match sessions.sweep_expired().await {
            Ok(0) => {}
            Ok(ended) => tracing::info!(ended, "expired global sessions ended"),
            Err(error) => tracing::error!(error = format!("{error:#}"), "session sweep failed"),
        }
    }
}
