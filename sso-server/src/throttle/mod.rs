//! Login attempt limiting, per username and per client IP, counted in the shared store so that
//! every replica enforces the same budget.
//!
//! Every attempt counts against its IP; only failures count against the username, and a
//! successful login clears the username's count. When a budget is spent the login page says so
//! and the response carries `Retry-After` (the whole window: counters do not tell how much of
//! it is left).

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use session_store::SharedStore;

use crate::config::LoginSettings;
use crate::domain::Username;

/// The login budget.
#[derive(Clone, Debug)]
pub struct LoginThrottle {
    store: Arc<dyn SharedStore>,
    settings: LoginSettings,
}

/// A spent budget.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limited {
    pub retry_after: Duration,
}

fn user_key(username: &Username) -> String {
    format!("login-fail:user:{}", username.as_str().to_lowercase())
}

fn ip_key(ip: IpAddr) -> String {
    format!("login:ip:{ip}")
}

impl LoginThrottle {
    /// Limits from `settings`, counted in `store`.
    pub fn new(store: Arc<dyn SharedStore>, settings: LoginSettings) -> Self {
        Self { store, settings }
    }

    /// Counts an attempt from `ip` for `username`; `Err(Limited)` when either budget is spent.
    ///
    /// # Errors
    /// The outer error when the store fails.
    pub async fn attempt(
        &self,
        ip: IpAddr,
        username: Option<&Username>,
    ) -> anyhow::Result<Result<(), Limited>> {
        let window = self.settings.window();
        let limited = Limited {
            retry_after: window,
        };
        let from_ip = self.store.increment(&ip_key(ip), window).await?;
        if from_ip > self.settings.max_attempts_per_ip {
            return Ok(Err(limited));
        }
        if let Some(username) = username {
            let failures = self.store.count(&user_key(username)).await?;
            if failures >= self.settings.max_failures_per_user {
                return Ok(Err(limited));
            }
        }
        Ok(Ok(()))
    }

    /// Records a failed login for `username`.
    ///
    /// # Errors
    /// When the store fails.
    pub async fn failed(&self, username: &Username) -> anyhow::Result<()> {
        self.store
            .increment(&user_key(username), self.settings.window())
            .await?;
        Ok(())
    }

    /// Clears the failures of `username` after a successful login.
    ///
    /// # Errors
    /// When the store fails.
    pub async fn succeeded(&self, username: &Username) -> anyhow::Result<()> {
        self.store.reset(&user_key(username)).await?;
        Ok(())
    }
}
