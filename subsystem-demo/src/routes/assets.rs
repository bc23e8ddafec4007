use std::hash::{DefaultHasher, Hash as _, Hasher as _};

use actix_web::HttpResponse;

const STYLESHEET: &str = include_str!("../../../templates/demo/demo.css");

/// The stylesheet's URL, versioned by its content so browsers may cache it for long and still
/// pick up a new release at once.
pub(crate) fn stylesheet_href() -> String {
    let mut hasher = DefaultHasher::new();
    STYLESHEET.hash(&mut hasher);
    format!("/static/demo.css?v={:016x}", hasher.finish())
}

/// `GET /static/demo.css`.
pub(crate) async fn stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header(("Cache-Control", "public, max-age=31536000, immutable"))
        .body(STYLESHEET)
}
