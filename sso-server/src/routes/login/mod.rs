//! The login form and its submission.

pub mod form;
pub mod get;
pub mod post;
