//! Liveness and readiness probes.

pub mod get;
