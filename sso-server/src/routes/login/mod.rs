//! The login form and its submission.

pub mod factor;
pub mod finish;
pub mod form;
pub mod get;
pub mod post;
