//! The SDK against the real center (`sso-server`) started in-process on free ports: sign-in,
//! single sign-on, sign-out, single logout and the attacks on them.

#[cfg(feature = "axum")]
mod axum_layer;
mod breaker;
mod flow;
mod helpers;
mod introspection;
mod metrics;
mod outage;
mod slo;
mod step_up;
mod tokens;
