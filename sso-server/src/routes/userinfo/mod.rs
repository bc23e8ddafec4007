//! `/userinfo`: the signed-in user's claims for a bearer access token.

pub mod get;
