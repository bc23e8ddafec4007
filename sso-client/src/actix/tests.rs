//! The middleware's behaviour that needs no center: routing, API answers, CSRF on sign-out,
//! refused callbacks, and what happens while the center cannot be reached.

use actix_web::cookie::Cookie;
use actix_web::http::{StatusCode, header};
use actix_web::{App, HttpResponse, test, web};
use session_store::{MemoryStore, Record, SessionStore as _};

use super::SsoMiddleware;
use crate::{LocalSessions, Principal, Secret, SsoClient, SsoConfig};

/// An issuer on a port nobody listens on: the center is down.
fn unreachable_issuer() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

fn client(store: &MemoryStore) -> SsoClient {
    let mut config = SsoConfig::new(
        unreachable_issuer(),
        "app1",
        Secret::new("secret"),
        "http://app1.localhost:8081".parse().unwrap(),
    );
    config.public_paths = vec!["/".to_owned()];
    SsoClient::new(config, LocalSessions::memory(store.clone())).unwrap()
}

async fn home(user: Option<Principal>) -> HttpResponse {
    HttpResponse::Ok().body(user.map_or("anonymous".to_owned(), |user| user.sub().to_owned()))
}

async fn me(user: Principal) -> HttpResponse {
    HttpResponse::Ok().body(format!("hello {}", user.display_name()))
}

macro_rules! app {
    ($client:expr) => {
        test::init_service(
            App::new()
                .wrap(SsoMiddleware::new($client))
                .route("/", web::get().to(home))
                .route("/me", web::get().to(me))
                .route("/api/me", web::post().to(me)),
        )
        .await
    };
}

/// A local session for alice, as a sign-in would have created it.
async fn signed_in(store: &MemoryStore, client: &SsoClient) -> (String, Principal) {
    let claims = serde_json::json!({"sub": "alice", "name": "Alice", "sid": "s-1"});
    let principal = Principal::from_claims(claims.as_object().unwrap().clone()).unwrap();
    let mut record = Record::new(client.config().session.expiry());
    record.insert("principal", &principal).unwrap();
    record
        .insert("id_token", "header.payload.signature")
        .unwrap();
    let session = store.create(record).await.unwrap();
    (session.key().as_str().to_owned(), principal)
}

fn session_cookie(value: &str) -> Cookie<'static> {
    Cookie::new("app_session", value.to_owned())
}

#[actix_web::test]
async fn public_pages_serve_anonymous_visitors() {
    let store = MemoryStore::default();
    let app = app!(client(&store));
    let response = test::call_service(&app, test::TestRequest::get().uri("/").to_request()).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(test::read_body(response).await, "anonymous");
}

#[actix_web::test]
async fn api_requests_without_a_session_get_401_json() {
    let store = MemoryStore::default();
    let app = app!(client(&store));
    let post = test::TestRequest::post().uri("/api/me").to_request();
    let response = test::call_service(&app, post).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let body: serde_json::Value = test::read_body_json(response).await;
    assert_eq!(body["error"], "unauthenticated");

    let json_get = test::TestRequest::get()
        .uri("/me")
        .insert_header((header::ACCEPT, "application/json"))
        .to_request();
    assert_eq!(
        test::call_service(&app, json_get).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

#[actix_web::test]
async fn while_the_center_is_down_new_sign_ins_get_a_clear_503_page() {
    let store = MemoryStore::default();
    let app = app!(client(&store));
    let started = std::time::Instant::now();
    let response = test::call_service(&app, test::TestRequest::get().uri("/me").to_request()).await;
    assert!(started.elapsed() < std::time::Duration::from_secs(4));
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(response.headers().contains_key(header::RETRY_AFTER));
    let body = String::from_utf8(test::read_body(response).await.to_vec()).unwrap();
    assert!(body.contains("Sign-in service unavailable"));
    assert!(
        !body.contains("127.0.0.1"),
        "no internal details on the page"
    );
}

#[actix_web::test]
async fn while_the_center_is_down_signed_in_users_keep_working() {
    let store = MemoryStore::default();
    let client = client(&store);
    let (key, _) = signed_in(&store, &client).await;
    let app = app!(client);
    let request = test::TestRequest::get()
        .uri("/me")
        .cookie(session_cookie(&key))
        .to_request();
    let response = test::call_service(&app, request).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(test::read_body(response).await, "hello Alice");
}

#[actix_web::test]
async fn a_callback_this_browser_did_not_start_is_refused_with_a_page() {
    let store = MemoryStore::default();
    let app = app!(client(&store));
    let forged = test::TestRequest::get()
        .uri("/auth/callback?code=stolen&state=guessed")
        .to_request();
    let response = test::call_service(&app, forged).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body = String::from_utf8(test::read_body(response).await.to_vec()).unwrap();
    assert!(body.contains("Sign-in could not be completed"));
}

#[actix_web::test]
async fn sign_out_needs_the_sessions_csrf_token() {
    let store = MemoryStore::default();
    let client = client(&store);
    let (key, principal) = signed_in(&store, &client).await;
    let app = app!(client);

    let forged = test::TestRequest::post()
        .uri("/auth/logout")
        .cookie(session_cookie(&key))
        .set_form([("csrf_token", "wrong")])
        .to_request();
    assert_eq!(
        test::call_service(&app, forged).await.status(),
        StatusCode::BAD_REQUEST
    );
    let parsed = session_store::SessionKey::parse(&key).unwrap();
    assert!(
        store.load(&parsed).await.unwrap().is_some(),
        "still signed in"
    );

    let genuine = test::TestRequest::post()
        .uri("/auth/logout")
        .cookie(session_cookie(&key))
        .set_form([("csrf_token", principal.csrf_token())])
        .to_request();
    let response = test::call_service(&app, genuine).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        response.headers().get(header::LOCATION).unwrap(),
        "http://app1.localhost:8081/",
        "with the center down, sign-out is local"
    );
    let removal = response
        .response()
        .cookies()
        .find(|cookie| cookie.name() == "app_session")
        .expect("the session cookie is removed");
    assert_eq!(removal.value(), "");
    assert!(store.load(&parsed).await.unwrap().is_none());

    let get = test::TestRequest::get().uri("/auth/logout").to_request();
    assert_eq!(
        test::call_service(&app, get).await.status(),
        StatusCode::METHOD_NOT_ALLOWED
    );
}

#[actix_web::test]
async fn the_login_route_never_redirects_off_site() {
    let store = MemoryStore::default();
    let client = client(&store);
    let (key, _) = signed_in(&store, &client).await;
    let app = app!(client);
    for (target, expected) in [
        ("/auth/login?return_to=//evil.example/x", "/"),
        ("/auth/login?return_to=https://evil.example/", "/"),
        ("/auth/login?return_to=/%5Cevil.example", "/"),
        ("/auth/login?return_to=/me%3Ftab%3D2", "/me?tab=2"),
    ] {
        let request = test::TestRequest::get()
            .uri(target)
            .cookie(session_cookie(&key))
            .to_request();
        let response = test::call_service(&app, request).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{target}");
        assert_eq!(
            response.headers().get(header::LOCATION).unwrap(),
            expected,
            "{target}"
        );
    }
}

#[actix_web::test]
async fn malformed_back_channel_requests_get_400() {
    let store = MemoryStore::default();
    let app = app!(client(&store));
    let empty = test::TestRequest::post()
        .uri("/auth/backchannel-logout")
        .set_form([("other", "x")])
        .to_request();
    let response = test::call_service(&app, empty).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: serde_json::Value = test::read_body_json(response).await;
    assert_eq!(body["error"], "invalid_request");
}

#[actix_web::test]
async fn unknown_session_cookies_are_cleared() {
    let store = MemoryStore::default();
    let app = app!(client(&store));
    let request = test::TestRequest::get()
        .uri("/")
        .cookie(session_cookie("no-such-session"))
        .to_request();
    let response = test::call_service(&app, request).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response
            .response()
            .cookies()
            .any(|cookie| cookie.name() == "app_session" && cookie.value().is_empty())
    );
}
