//! The authentication center: an OpenID Connect provider with global sessions and reliable
//! single logout.
//!
//! Where things are:
//! - [`routes`]: the HTTP endpoints, one module per area (`authorize`, `login`, `token` — the
//!   code exchange —, `introspect`, `userinfo`, `discovery`, `logout`, `admin` (the JSON API),
//!   `console` (the admin console in the browser), `health`), one file per verb; `client_auth` authenticates clients at `token` and `introspect`.
//! - [`sessions`]: global sessions (store + SQL registry) and the expiry [`sessions::sweeper`].
//! - [`slo`]: single logout — the durable [`slo::outbox`], [`slo::delivery`] (sending and
//!   retrying) and the [`slo::logout_token`].
//! - [`authorization_code`], [`tokens`]: codes, id_tokens and access tokens.
//! - [`users`], [`clients`], [`keys`], [`db`]: what lives in SQL; [`admin`]: the administrators'
//!   actions (shared by the admin API, the admin console and the command line).
//! - [`forward_auth`]: apps behind nginx `auth_request` (protected hosts, their sessions).
//! - [`throttle`]: login attempt limiting through the shared store, with device cookies.
//! - [`web`], [`error`], [`i18n`]: pages, cookies, security headers, error responses, texts;
//!   [`csrf`]: the forms' CSRF tokens, keyed by a [`secrets`] entry shared by the replicas.
//! - [`metrics`]: the Prometheus series (`metrics.listen`).
//! - [`config`], [`startup`], [`cli`]: configuration (`sso.example.toml` lists every key),
//!   building the server (used by `main` and the tests alike), the command line
//!   (`serve [--demo]`, `user add|passwd|disable|enable|list`, `client add|list|remove`,
//!   `keys rotate`).

pub mod admin;
pub mod audit;
pub mod authorization_code;
pub mod cli;
pub mod clients;
pub mod config;
pub mod crypto;
pub mod csrf;
pub mod db;
pub mod domain;
pub mod error;
pub mod factors;
pub mod forward_auth;
pub mod i18n;
pub mod keys;
pub mod metrics;
pub mod routes;
pub mod secrets;
pub mod sessions;
pub mod slo;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod throttle;
pub mod tokens;
pub mod users;
pub mod web;
