//! Login attempt limiting, counted in the shared store so that every replica enforces the
//! same budgets.
//!
//! # The budgets
//! Each window (`login.window_secs`) allows:
//! - `max_attempts_per_ip` attempts from one address, whatever the username (credential
//!   stuffing), passkey ceremonies started included (sign-ins, second steps, registrations);
//! - for one username, from browsers without its device cookie (see [`device`]):
//!   `max_failures_per_user_address` from any one address, and `max_failures_per_user` from
//!   all addresses together, the ceiling on guesses no attacker can pass;
//! - for one username, from one browser holding its device cookie: `max_failures_per_device`.
//!   A browser that spends it counts as one without a cookie.
//!
//! This is the OWASP "device cookies" scheme with per-(user, address) budgets below the
//! per-user ceiling, chosen so that guessing stays bounded without a lockout anyone can
//! trigger: an attacker at one address spends only that address's budget, and an attacker
//! with many addresses who reaches the ceiling locks out only browsers that never signed in as
//! the user, while the user's own browser keeps its budget. A limited attempt gets 429 with
//! `Retry-After` (the whole window: counters do not tell how much of it is left).
//!
//! # Concurrency
//! An attempt is admitted by incrementing its counters *before* the password is hashed: the
//! increment is atomic in every store, and its result decides, so of any number of
//! concurrent attempts, on one replica or many sharing the store, at most the budget are
//! evaluated; the rest are refused without hashing, even those with the right password.
//! Success refunds what the attempt was charged: the (user, address) count and the ceiling of
//! a browser without a device cookie; a browser with one gets a new cookie, and so a fresh
//! budget.
//!
//! # Limitations
//! While the ceiling is spent, a browser that never signed in as the user (or whose cookie the
//! user cleared) waits like the attacker. Each success from such a browser refunds the
//! ceiling, and so gives an attacker a fresh one; the user's own browsers, once they hold a
//! device cookie, no longer do.

pub mod device;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use actix_web::cookie::Cookie;
use session_store::SharedStore;

use crate::config::LoginSettings;
use crate::domain::Username;
use crate::secrets::ServerSecret;
use device::{DeviceCookies, DeviceId};

/// The login budgets.
#[derive(Clone, Debug)]
pub struct LoginThrottle {
    store: Arc<dyn SharedStore>,
    settings: LoginSettings,
    devices: DeviceCookies,
}

/// A spent budget.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limited {
    pub retry_after: Duration,
}

/// An admitted attempt, and the budget it was charged to; hand it back to
/// [`LoginThrottle::succeeded`] when the password was right.
#[derive(Debug)]
#[must_use]
pub struct Admitted(Charged);

#[derive(Debug)]
enum Charged {
    /// Not a valid username: only its address was charged.
    Address,
    /// A browser with a device cookie for the user.
    Device,
    /// A browser without one: the (user, address) budget and the user's ceiling.
    Unknown { user: String, ip: IpAddr },
}

/// The counters' user part: usernames are limited case-insensitively.
fn user_part(username: &Username) -> String {
    username.as_str().to_lowercase()
}

fn user_key(user: &str) -> String {
    format!("login-fail:user:{user}")
}

fn user_ip_key(user: &str, ip: IpAddr) -> String {
    format!("login-fail:user-ip:{user}:{ip}")
}

fn device_key(device: &DeviceId) -> String {
    format!("login-fail:device:{}", device.as_str())
}

fn ip_key(ip: IpAddr) -> String {
    format!("login:ip:{ip}")
}

impl LoginThrottle {
    /// Limits from `settings`, counted in `store`; device cookies signed with `device_secret`,
    /// which every replica must share.
    pub fn new(
        store: Arc<dyn SharedStore>,
        settings: LoginSettings,
        device_secret: &ServerSecret,
    ) -> Self {
        Self {
            store,
            settings,
            devices: DeviceCookies::new(device_secret),
        }
    }

    /// Admits an attempt from `ip` for `username` (with the value of the browser's device
    /// cookie, if any), charging it to its budgets before the password is checked;
    /// `Err(Limited)` when a budget is spent.
    ///
    /// # Errors
    /// The outer error when the store fails.
    pub async fn admit(
        &self,
        ip: IpAddr,
        username: Option<&Username>,
        device_cookie: Option<&str>,
    ) -> anyhow::Result<Result<Admitted, Limited>> {
        let window = self.settings.window();
        let limited = Err(Limited {
            retry_after: window,
        });
        let within = |count: u64, budget: u64| count <= budget;
        let settings = &self.settings;
        if !within(
            self.store.increment(&ip_key(ip), window).await?,
            settings.max_attempts_per_ip,
        ) {
            return Ok(limited);
        }
        let Some(username) = username else {
            return Ok(Ok(Admitted(Charged::Address)));
        };
        if let Some(device) = device_cookie.and_then(|value| self.devices.verify(value, username))
            && within(
                self.store.increment(&device_key(&device), window).await?,
                settings.max_failures_per_device,
            )
        {
            return Ok(Ok(Admitted(Charged::Device)));
        }
        let user = user_part(username);
        // The address first, so that an attacker at one address stops at its own budget
        // without spending more of the ceiling.
        if !within(
            self.store
                .increment(&user_ip_key(&user, ip), window)
                .await?,
            settings.max_failures_per_user_address,
        ) || !within(
            self.store.increment(&user_key(&user), window).await?,
            settings.max_failures_per_user,
        ) {
            return Ok(limited);
        }
        Ok(Ok(Admitted(Charged::Unknown { user, ip })))
    }

    /// Refunds a successful attempt for `username` and returns the device cookie to set, a
    /// new one, so that this browser has a budget of its own from now on.
    ///
    /// # Errors
    /// When the store fails.
    pub async fn succeeded(
        &self,
        admitted: Admitted,
        username: &Username,
    ) -> anyhow::Result<Cookie<'static>> {
        if let Charged::Unknown { user, ip } = &admitted.0 {
            self.store.reset(&user_ip_key(user, *ip)).await?;
            self.store.reset(&user_key(user)).await?;
        }
        Ok(self.devices.issue(username))
    }
}
