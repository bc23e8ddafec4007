//! Discovery: the provider metadata and the published signing keys.

pub mod get;
