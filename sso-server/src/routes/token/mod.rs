//! `/token`: where an authorization code is exchanged for tokens.

pub mod post;
