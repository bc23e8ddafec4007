//! The middleware's behaviour that needs no center: routing, API answers, CSRF on sign-out,
//! refused callbacks, and what happens while the center cannot be reached.

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::{Method, StatusCode, header};
use actix_web::{App, HttpResponse, test, web};
use proptest::prelude::*;
use proptest::test_runner::TestRunner;
use session_store::{MemoryStore, Record, SessionStore as _};

use super::SsoMiddleware;
use crate::web::test_support::client_after_a_key_rotation;
use crate::{LocalSessions, Principal, Secret, SsoClient, SsoConfig};

/// An issuer on a port nobody listens on: the center is down.
fn unreachable_issuer() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

fn client(store: &MemoryStore) -> SsoClient {
    client_with(store, |_| {})
}

fn client_with(store: &MemoryStore, change: impl FnOnce(&mut SsoConfig)) -> SsoClient {
    let mut config = SsoConfig::new(
        unreachable_issuer(),
        "app1",
        Secret::new("secret"),
        "http://app1.localhost:8081".parse().unwrap(),
    );
    config.public_paths = vec!["/".to_owned()];
    change(&mut config);
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

/// The cookie named `name` that `response` sets.
fn set_cookie<B>(response: &actix_web::dev::ServiceResponse<B>, name: &str) -> Cookie<'static> {
    response
        .response()
        .cookies()
        .find(|cookie| cookie.name() == name)
        .unwrap_or_else(|| panic!("no {name} cookie set"))
        .into_owned()
}

/// A cookie sealed with the previous key is resealed with the current one on its first
/// request (which asks the revocation list) and on every later request still presenting it
/// (answered at once from the store's memory): the same new value each time, sent along
/// with the app's answer; the new value itself is not sent again.
#[actix_web::test]
async fn a_cookie_sealed_with_the_previous_key_is_renewed_on_every_request_presenting_it() {
    let (client, old_value) = client_after_a_key_rotation().await;
    let app = app!(client);
    let get = |value: &str| {
        test::TestRequest::get()
            .uri("/me")
            .cookie(session_cookie(value))
            .to_request()
    };

    let mut renewed = Vec::new();
    for _ in 0..3 {
        let response = test::call_service(&app, get(old_value.as_str())).await;
        assert_eq!(response.status(), StatusCode::OK);
        let cookie = set_cookie(&response, "app_session");
        assert_eq!(test::read_body(response).await, "hello Alice");
        renewed.push(cookie.value().to_owned());
    }
    assert!(
        renewed[0].starts_with("k2."),
        "resealed with the current key"
    );
    assert!(renewed.iter().all(|value| *value == renewed[0]));

    let response = test::call_service(&app, get(&renewed[0])).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.response().cookies().next().is_none(),
        "the current value is not sent again"
    );
    assert_eq!(test::read_body(response).await, "hello Alice");
}

#[actix_web::test]
async fn cookie_deletions_carry_the_attributes_of_the_cookie_they_delete() {
    let store = MemoryStore::default();
    let client = client_with(&store, |config| {
        config.cookie.same_site = crate::SameSite::Strict;
    });
    let (key, principal) = signed_in(&store, &client).await;
    let app = app!(client);

    let stale = test::TestRequest::get()
        .uri("/")
        .cookie(session_cookie("no-such-session"))
        .to_request();
    let response = test::call_service(&app, stale).await;
    let removal = set_cookie(&response, "app_session");
    assert_eq!(removal.value(), "");
    assert_eq!(removal.same_site(), Some(SameSite::Strict));
    assert_eq!(removal.secure(), Some(true));
    assert_eq!(removal.http_only(), Some(true));
    assert_eq!(removal.path(), Some("/"));

    let sign_out = test::TestRequest::post()
        .uri("/auth/logout")
        .cookie(session_cookie(&key))
        .set_form([("csrf_token", principal.csrf_token())])
        .to_request();
    let response = test::call_service(&app, sign_out).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let removal = set_cookie(&response, "app_session");
    assert_eq!(removal.value(), "");
    assert_eq!(removal.same_site(), Some(SameSite::Strict));

    let callback = test::TestRequest::get()
        .uri("/auth/callback?code=c&state=s")
        .to_request();
    let response = test::call_service(&app, callback).await;
    let removal = set_cookie(&response, "app_session_login");
    assert_eq!(removal.value(), "");
    assert_eq!(
        removal.same_site(),
        Some(SameSite::Lax),
        "the sign-in cookie's own SameSite"
    );
    assert_eq!(removal.secure(), Some(true));
}

#[actix_web::test]
async fn return_paths_reach_location_percent_encoded() {
    let store = MemoryStore::default();
    let client = client(&store);
    let (key, _) = signed_in(&store, &client).await;
    let app = app!(client);
    for (target, expected) in [
        (
            "/auth/login?return_to=/caf%C3%A9%3Fq%3D%E2%9C%93",
            "/caf%C3%A9?q=%E2%9C%93",
        ),
        ("/auth/login?return_to=/a%22%3Cb%3E", "/a%22%3Cb%3E"),
        (
            "/auth/login?return_to=/%E2%80%8B/evil.example",
            "/%E2%80%8B/evil.example",
        ),
    ] {
        let request = test::TestRequest::get()
            .uri(target)
            .cookie(session_cookie(&key))
            .to_request();
        let response = test::call_service(&app, request).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{target}");
        let location = response.headers().get(header::LOCATION).unwrap();
        assert_eq!(location.as_bytes(), expected.as_bytes(), "{target}");
    }
}

#[actix_web::test]
async fn unsupported_methods_on_the_sdk_routes_get_405_with_allow() {
    let store = MemoryStore::default();
    let app = app!(client(&store));
    let routes = [
        ("/auth/login", "GET, HEAD"),
        ("/auth/callback", "GET, HEAD"),
        ("/auth/logout", "POST"),
        ("/auth/backchannel-logout", "POST"),
    ];
    for (path, allow) in routes {
        for method in [
            "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE",
        ] {
            if allow.split(", ").any(|allowed| allowed == method) {
                continue;
            }
            let request = test::TestRequest::default()
                .method(Method::from_bytes(method.as_bytes()).unwrap())
                .uri(path)
                .to_request();
            let response = test::call_service(&app, request).await;
            assert_eq!(
                response.status(),
                StatusCode::METHOD_NOT_ALLOWED,
                "{method} {path}"
            );
            assert_eq!(
                response.headers().get(header::ALLOW).unwrap(),
                allow,
                "{method} {path}"
            );
        }
    }
}

/// A form body over the SDK's form limit (16 KiB).
fn oversized_form(field: &str) -> String {
    format!("{field}={}", "a".repeat(20 * 1024))
}

#[actix_web::test]
async fn oversized_forms_get_413() {
    let store = MemoryStore::default();
    let client = client(&store);
    let (key, _) = signed_in(&store, &client).await;
    let app = app!(client);

    let logout_token = test::TestRequest::post()
        .uri("/auth/backchannel-logout")
        .insert_header((header::CONTENT_TYPE, "application/x-www-form-urlencoded"))
        .set_payload(oversized_form("logout_token"))
        .to_request();
    let response = test::call_service(&app, logout_token).await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let body: serde_json::Value = test::read_body_json(response).await;
    assert_eq!(body["error"], "invalid_request");

    let sign_out = test::TestRequest::post()
        .uri("/auth/logout")
        .cookie(session_cookie(&key))
        .insert_header((header::CONTENT_TYPE, "application/x-www-form-urlencoded"))
        .set_payload(oversized_form("csrf_token"))
        .to_request();
    let response = test::call_service(&app, sign_out).await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let parsed = session_store::SessionKey::parse(&key).unwrap();
    assert!(
        store.load(&parsed).await.unwrap().is_some(),
        "still signed in"
    );
}

#[actix_web::test]
async fn a_form_that_arrives_too_late_gets_408() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    let limits = sso_common::http::ServerLimits {
        request_timeout_ms: 200,
        max_connections: 0,
    };
    let client = client(&MemoryStore::default());
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let server =
        actix_web::HttpServer::new(move || {
            let deadline = limits.body_deadline();
            App::new().wrap(SsoMiddleware::new(client.clone())).wrap(
                actix_web::middleware::from_fn(move |req, next| deadline.handle(req, next)),
            )
        })
        .workers(1)
        .listen(listener)
        .unwrap()
        .run();
    actix_web::rt::spawn(server);

    for path in ["/auth/backchannel-logout", "/auth/logout"] {
        let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: app1\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\n\
             logout_token=abc"
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await.unwrap();
        let answer = String::from_utf8_lossy(&answer);
        assert!(
            answer.starts_with("HTTP/1.1 408"),
            "{path} answered {answer}"
        );
    }
}

/// A query string as a client may send it: pairs of any text, form-encoded, or raw characters
/// a URI may hold (stray `%`, `&`, `=`, ...).
fn any_query() -> impl Strategy<Value = String> {
    let names = prop_oneof![
        proptest::sample::select(vec!["code", "state", "error", "return_to", "iss"])
            .prop_map(str::to_owned),
        any::<String>(),
    ];
    prop_oneof![
        proptest::collection::vec((names, any::<String>()), 0..5).prop_map(|pairs| {
            url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(pairs)
                .finish()
        }),
        "[A-Za-z0-9%&=;+._~!$'()*,:@/?-]{0,80}",
    ]
}

/// A `Cookie` header value: any bytes a header may carry.
fn any_cookie_header() -> impl Strategy<Value = Vec<u8>> {
    let byte = prop_oneof![0x20_u8..0x7f, 0x80_u8..=0xff];
    proptest::collection::vec(byte, 0..300).prop_map(|value| {
        let mut header = b"app_session=".to_vec();
        header.extend(value);
        header
    })
}

/// A form body: any bytes, or a field of the SDK's forms with any value.
fn any_body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..400),
        (
            proptest::sample::select(vec!["logout_token", "csrf_token"]),
            any::<String>()
        )
            .prop_map(|(name, value)| {
                url::form_urlencoded::Serializer::new(String::new())
                    .append_pair(name, &value)
                    .finish()
                    .into_bytes()
            }),
    ]
}

// The plain test attribute: `test` here is actix-web's test module, whose attribute is async.
#[core::prelude::v1::test]
fn any_request_to_the_sdk_gets_a_clean_answer() {
    let system = actix_web::rt::System::new();
    let (app, key, cookie_sessions) = system.block_on(async {
        let store = MemoryStore::default();
        let client = client(&store);
        let (key, _) = signed_in(&store, &client).await;
        let mut config = client.config().clone();
        config.client_id = "app2".to_owned();
        let ring =
            session_store::KeyRing::new("k1", &session_store::KeyRing::generate_key()).unwrap();
        let cookie_sessions =
            SsoClient::new(config, LocalSessions::cookie(ring, MemoryStore::default())).unwrap();
        (app!(client), key, cookie_sessions)
    });
    let signed_in_cookie = format!("app_session={key}");
    let form = "application/x-www-form-urlencoded";
    let inputs = (any_query(), any_cookie_header(), any_body());
    let mut runner = TestRunner::new(ProptestConfig::with_cases(128));
    runner
        .run(&inputs, |(query, cookie, body)| {
            system.block_on(async {
                let cookie = header::HeaderValue::from_bytes(&cookie).unwrap();
                let call =
                    |request: test::TestRequest| test::call_service(&app, request.to_request());

                let callback = call(
                    test::TestRequest::get()
                        .uri(&format!("/auth/callback?{query}"))
                        .insert_header((header::COOKIE, cookie.clone())),
                )
                .await;
                prop_assert_eq!(
                    callback.status(),
                    StatusCode::BAD_REQUEST,
                    "callback ?{}",
                    query
                );

                let login = call(
                    test::TestRequest::get()
                        .uri(&format!("/auth/login?{query}"))
                        .insert_header((header::COOKIE, signed_in_cookie.as_str())),
                )
                .await;
                prop_assert_eq!(login.status(), StatusCode::SEE_OTHER, "login ?{}", query);
                let location = login.headers().get(header::LOCATION).unwrap().to_str();
                let location = location.expect("an ASCII Location");
                prop_assert!(crate::ReturnTo::parse(location).is_ok(), "{}", location);

                let home = call(
                    test::TestRequest::get()
                        .uri("/")
                        .insert_header((header::COOKIE, cookie.clone())),
                )
                .await;
                prop_assert_eq!(home.status(), StatusCode::OK);

                for path in ["/auth/logout", "/auth/backchannel-logout"] {
                    let response = call(
                        test::TestRequest::post()
                            .uri(path)
                            .insert_header((header::COOKIE, cookie.clone()))
                            .insert_header((header::CONTENT_TYPE, form))
                            .set_payload(body.clone()),
                    )
                    .await;
                    let status = response.status();
                    prop_assert!(
                        !status.is_server_error() || status == StatusCode::SERVICE_UNAVAILABLE,
                        "{} answered {}",
                        path,
                        status
                    );
                }

                let presented = cookie
                    .to_str()
                    .ok()
                    .and_then(|header| header.strip_prefix("app_session="))
                    .and_then(session_store::SessionKey::parse);
                if let Some(presented) = presented {
                    prop_assert!(
                        presented
                            .as_str()
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
                    );
                    let loaded = cookie_sessions.load(&presented).await;
                    prop_assert!(matches!(loaded, Ok(None)), "a forged cookie session opened");
                }
                Ok(())
            })
        })
        .unwrap();
}
