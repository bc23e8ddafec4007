//! Token revocation (RFC 7009).

pub mod post;
