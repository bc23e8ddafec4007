//! The login form and its submission.

pub mod get;
pub mod post;
