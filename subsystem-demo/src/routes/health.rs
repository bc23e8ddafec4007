use actix_web::HttpResponse;

/// `GET /health`: the process is up (for load balancers).
pub(crate) async fn get() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .body("ok")
}
