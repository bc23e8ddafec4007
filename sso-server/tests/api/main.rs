//! Integration tests: the server in-process on port 0, a fresh database per test (SQLite in a
//! temporary directory, or a new PostgreSQL database when `DATABASE_URL` is set), the memory
//! store, and a cookie-keeping HTTP client.

mod account;
mod admin;
mod audit;
mod cli;
mod client_credentials;
mod configured_clients;
mod console;
mod discovery;
mod factors;
mod flow;
mod forward_auth;
mod forward_auth_nginx;
mod groups;
mod hardening;
mod helpers;
mod interop;
mod introspection;
mod jwt_access_tokens;
mod login_limits;
mod logout;
mod metrics;
mod negative;
mod no_database;
mod passkeys;
mod receiver;
mod redis;
mod redis_cluster;
mod refresh;
mod replicated;
mod revocation;
mod sealed_keys;
mod slo;
