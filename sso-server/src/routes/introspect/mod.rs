//! Token introspection (RFC 7662).

pub mod post;
