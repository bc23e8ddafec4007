//! The app's pages.

mod assets;
mod health;
mod home;
mod profile;

use actix_web::http::header::ContentType;
use actix_web::{HttpResponse, web};
use askama::Template;

pub(crate) use self::assets::stylesheet_href;

/// Registers every route.
pub(crate) fn configure(config: &mut web::ServiceConfig) {
    config
        .route("/", web::get().to(home::get))
        .route("/profile", web::get().to(profile::get))
        .route("/static/demo.css", web::get().to(assets::stylesheet))
        .route("/health", web::get().to(health::get));
}

/// Renders `template` as an HTML page; a rendering failure is a bare 500.
fn render(template: &impl Template) -> HttpResponse {
    match template.render() {
        Ok(body) => HttpResponse::Ok()
            .content_type(ContentType::html())
            .insert_header(("Cache-Control", "no-store"))
            .body(body),
        Err(error) => {
            tracing::error!(%error, "rendering a page failed");
            HttpResponse::InternalServerError().finish()
        }
    }
}
