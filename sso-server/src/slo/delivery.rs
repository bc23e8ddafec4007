//! Sends logout tokens to clients' back-channel URIs, and retries the ones that failed.
//!
//! The worker wakes when a session ends (or every poll interval, which also picks up
//! deliveries queued by other processes and those left over from before a restart), claims the
//! due deliveries and sends them concurrently, each with the configured timeout. A failure is
//! due again after `initial_backoff · 2^(attempts-1)` (capped); after `max_attempts` attempts
//! the delivery is given up. Every outcome is written to the outbox and logged.

use std::sync::Arc;

use anyhow::Context as _;
use jsonwebtoken::Algorithm;
use sso_common::LocalhostResolver;
use tokio::sync::Notify;
use tokio::task::JoinSet;

use super::logout_token::LogoutClaims;
use super::outbox::{Delivery, Outbox};
use crate::clients::ClientRegistry;
use crate::config::SloSettings;
use crate::db::now_ms;
use crate::domain::ClientId;
use crate::keys::Keys;
use crate::metrics;

/// Most deliveries claimed in one round.
const BATCH: i64 = 256;

/// Delivers single-logout notifications from the outbox.
#[derive(Clone, Debug)]
pub struct Deliverer {
    outbox: Outbox,
    clients: ClientRegistry,
    keys: Arc<Keys>,
    issuer: String,
    http: reqwest::Client,
    settings: SloSettings,
}

impl Deliverer {
    /// A deliverer signing with `keys` as `issuer`.
    ///
    /// # Errors
    /// When the HTTP client cannot be built.
    pub fn new(
        outbox: Outbox,
        clients: ClientRegistry,
        keys: Arc<Keys>,
        issuer: String,
        settings: SloSettings,
    ) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            // Demo and test clients live on `*.localhost`, which not every system resolver knows.
            .dns_resolver(Arc::new(LocalhostResolver))
            .timeout(settings.request_timeout())
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .context("cannot build HTTP client")?;
        Ok(Self {
            outbox,
            clients,
            keys,
            issuer,
            http,
            settings,
        })
    }

    /// Runs until the task is dropped: a round whenever `wakeup` is notified or the poll
    /// interval passes.
    pub async fn run(self, wakeup: Arc<Notify>) {
        loop {
            if let Err(error) = self.deliver_due().await {
                tracing::error!(error = format!("{error:#}"), "single logout round failed");
            }
            match self.outbox.backlog().await {
                Ok((pending, oldest_age)) => metrics::outbox(pending, oldest_age),
                Err(error) => tracing::warn!(
                    error = format!("{error:#}"),
                    "cannot measure the single logout outbox"
                ),
            }
            tokio::select! {
                () = wakeup.notified() => {}
                () = tokio::time::sleep(self.settings.poll_interval()) => {}
            }
        }
    }

    /// Sends every due delivery once, concurrently; returns how many were attempted.
    ///
    /// # Errors
    /// When the outbox cannot be read.
    pub async fn deliver_due(&self) -> anyhow::Result<usize> {
        let lease = i64::try_from(self.settings.request_timeout_ms)
            .unwrap_or(i64::MAX / 4)
            .saturating_add(5_000);
        let due = self.outbox.claim_due(BATCH, lease).await?;
        let count = due.len();
        let mut tasks = JoinSet::new();
        for delivery in due {
            let this = self.clone();
            tasks.spawn(async move { this.attempt(delivery).await });
        }
        while let Some(joined) = tasks.join_next().await {
            if let Err(error) = joined {
                tracing::error!(%error, "single logout attempt panicked");
            }
        }
        Ok(count)
    }

    async fn attempt(&self, delivery: Delivery) {
        let result = self.send(&delivery).await;
        let attempts = u32::try_from(delivery.attempts + 1).unwrap_or(u32::MAX);
        let outcome = match &result {
            Ok(()) => {
                metrics::slo_delivery(metrics::DeliveryOutcome::Delivered);
                tracing::info!(
                    delivery = delivery.id,
                    sid = delivery.sid,
                    client = delivery.client_id,
                    attempts,
                    "logout delivered"
                );
                Ok(())
            }
            Err(error) if attempts < self.settings.max_attempts => {
                let wait = self.settings.backoff(attempts);
                let at = now_ms() + i64::try_from(wait.as_millis()).unwrap_or(i64::MAX / 4);
                metrics::slo_delivery(metrics::DeliveryOutcome::Retrying);
                tracing::warn!(
                    delivery = delivery.id,
                    sid = delivery.sid,
                    client = delivery.client_id,
                    attempts,
                    retry_in_ms = wait.as_millis(),
                    error = format!("{error:#}"),
                    "logout delivery failed; will retry"
                );
                Err((format!("{error:#}"), Some(at)))
            }
            Err(error) => {
                metrics::slo_delivery(metrics::DeliveryOutcome::GaveUp);
                tracing::error!(
                    delivery = delivery.id,
                    sid = delivery.sid,
                    client = delivery.client_id,
                    attempts,
                    error = format!("{error:#}"),
                    "logout delivery gave up"
                );
                Err((format!("{error:#}"), None))
            }
        };
        if let Err(error) = self.outbox.record(&delivery, outcome).await {
            tracing::error!(
                delivery = delivery.id,
                error = format!("{error:#}"),
                "cannot record logout delivery outcome"
            );
        }
    }

    async fn send(&self, delivery: &Delivery) -> anyhow::Result<()> {
        let alg = match ClientId::parse(&delivery.client_id) {
            Some(id) => self
                .clients
                .get(&id)
                .await?
                .map_or(Algorithm::RS256, |client| client.id_token_alg),
            None => Algorithm::RS256,
        };
        let token = LogoutClaims::new(
            &self.issuer,
            &delivery.client_id,
            &delivery.user_id,
            &delivery.sid,
        )
        .sign(&self.keys, alg)?;
        let response = self
            .http
            .post(&delivery.uri)
            .header(reqwest::header::CACHE_CONTROL, "no-store")
            .form(&[("logout_token", token)])
            .send()
            .await
            .map_err(|error| anyhow::anyhow!("{}", describe(&error)))?;
        let status = response.status();
        anyhow::ensure!(
            status.is_success(),
            "client answered HTTP {}",
            status.as_u16()
        );
        Ok(())
    }
}

/// A short, stable description of a transport error for the outbox.
fn describe(error: &reqwest::Error) -> &'static str {
    if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "connection failed"
    } else if error.is_request() {
        "request failed"
    } else {
        "transport error"
    }
}
