//! The app's pages.

mod api;
mod assets;
mod health;
mod home;
mod profile;
mod sensitive;

use actix_web::http::header::ContentType;
use actix_web::{FromRequest, Handler, HttpResponse, Resource, Responder, web};
use askama::Template;

pub(crate) use self::assets::stylesheet_href;

/// Registers every route.
pub(crate) fn configure(config: &mut web::ServiceConfig) {
    config
        .service(readable("/", home::get))
        .service(readable("/profile", profile::get))
        .service(readable("/sensitive", sensitive::get))
        .service(readable("/static/demo.css", assets::stylesheet))
        .service(readable("/health", health::get))
        .service(readable("/api/me", api::me));
}

/// The resource at `path`, answering `GET` and `HEAD` with `handler`, and every other method
/// with `405` and `Allow: GET, HEAD` (a route registered on its own, with `App::route`, would
/// answer other methods with `404`).
fn readable<F, Args>(path: &str, handler: F) -> Resource
where
    F: Handler<Args>,
    Args: FromRequest + 'static,
    F::Output: Responder + 'static,
{
    web::resource(path)
        .route(web::get().to(handler.clone()))
        .route(web::head().to(handler))
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
