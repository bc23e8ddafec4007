//! A small app protected by the `sso-client` SDK, run as app1 and app2 in the demos.
//!
//! It shows who is signed in and how (`acr`, `amr`), the user's claims, which node served the
//! request and which session backend holds the local session, has a sensitive page that
//! requires a second factor (a step-up through the sign-in service), and a sign-out button. Everything that touches
//! single sign-on goes through the SDK's public API.
#![forbid(unsafe_code)]

pub mod axum_app;
pub mod config;
mod pages;
mod routes;
pub mod startup;
mod store;

pub use config::{Layered, Settings};
pub use startup::Application;
