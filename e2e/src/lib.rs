//! Browser tests of single sign-on: the center and two demo apps run in the test process on
//! free ports, and a real headless Chromium, driven through chromedriver, clicks through them
//! as `http://sso.localhost:PORT`, `http://app1.localhost:PORT` and `http://app2.localhost:PORT`.
//!
//! Chromium resolves every `*.localhost` name to the loopback address and treats those origins
//! as secure contexts, so the `Secure` cookies of the center and of the apps work over plain
//! HTTP across real subdomains, and nothing but loopback is ever contacted.
//!
//! - [`stack`] starts the center (SQLite in a temporary directory, in-memory store, the demo
//!   users) and app1 and app2 (the `subsystem-demo` app) on a chosen local-session backend.
//! - [`app3`] runs app3 (Python) behind a real nginx with the forward-auth snippets, as
//!   `http://app3.localhost:PORT`, for the forward-auth tests.
//! - [`browser`] starts chromedriver and a Chromium with a fresh profile for one test, waits
//!   for pages with bounded polls, and saves a screenshot when a step fails.
//!
//! # Needs
//! `/usr/bin/chromium` and `/usr/bin/chromedriver` (Debian packages `chromium` and
//! `chromium-driver`); the forward-auth tests also `nginx` (or `NGINX_BIN`) and `python3`.
//! The Redis scenario needs the Redis server at `REDIS_URL` (default `redis://127.0.0.1:6379`)
//! and fails when it cannot reach it.
#![forbid(unsafe_code)]

pub mod app3;
pub mod browser;
pub mod stack;
