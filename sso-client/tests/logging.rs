//! What the SDK logs when clients send it nonsense: warnings at most, so that the errors in an
//! app's log are the app's own failures. One test in a process of its own, as it watches every
//! event of the process.

use std::sync::{Arc, Mutex};

use actix_web::cookie::Cookie;
use actix_web::http::header;
use actix_web::{App, test};
use session_store::MemoryStore;
use sso_client::actix::SsoMiddleware;
use sso_client::{LocalSessions, Secret, SsoClient, SsoConfig};

/// An app whose center is down (nothing listens on its port).
fn client() -> SsoClient {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let issuer = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let config = SsoConfig::new(
        issuer,
        "app1",
        Secret::new("secret"),
        "http://app1.localhost:8081".parse().unwrap(),
    );
    SsoClient::new(config, LocalSessions::memory(MemoryStore::default())).unwrap()
}

fn session_cookie(value: &str) -> Cookie<'static> {
    Cookie::new("app_session", value.to_owned())
}

/// A form body over the SDK's form limit (16 KiB).
fn oversized_form(field: &str) -> String {
    format!("{field}={}", "a".repeat(20 * 1024))
}

/// Every event logged in this process: its level and message.
#[derive(Clone, Default)]
struct Events(Arc<Mutex<Vec<(tracing::Level, String)>>>);

struct Message<'a>(&'a mut String);

impl tracing::field::Visit for Message<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        use std::fmt::Write as _;
        let _ = write!(self.0, "{}={value:?} ", field.name());
    }
}

impl tracing::Subscriber for Events {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }

    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}

    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}

    fn event(&self, event: &tracing::Event<'_>) {
        let mut message = String::new();
        event.record(&mut Message(&mut message));
        let mut events = self.0.lock().unwrap();
        events.push((*event.metadata().level(), message));
    }

    fn enter(&self, _: &tracing::span::Id) {}

    fn exit(&self, _: &tracing::span::Id) {}
}

#[actix_web::test]
async fn client_mistakes_are_not_logged_as_errors() {
    let events = Events::default();
    tracing::subscriber::set_global_default(events.clone()).unwrap();
    let app = test::init_service(App::new().wrap(SsoMiddleware::new(client()))).await;
    let form = "application/x-www-form-urlencoded";

    let mut requests = vec![
        test::TestRequest::get().uri("/auth/callback?code=%ZZ&state=a&state=b"),
        test::TestRequest::get().uri("/auth/callback?error=access_denied&state=x"),
        test::TestRequest::get()
            .uri("/auth/callback?code=c&state=s")
            .cookie(Cookie::new("app_session_login", "not-a-sealed-cookie")),
        test::TestRequest::get().uri("/auth/login?return_to=%FF%FE"),
        test::TestRequest::get().uri("/auth/login?return_to=//evil.example"),
        test::TestRequest::post()
            .uri("/auth/backchannel-logout")
            .insert_header((header::CONTENT_TYPE, form))
            .set_payload("logout_token=not.a.jwt"),
        test::TestRequest::post()
            .uri("/auth/backchannel-logout")
            .insert_header((header::CONTENT_TYPE, form))
            .set_payload("logout_token=%ZZ&&=="),
        test::TestRequest::post()
            .uri("/auth/backchannel-logout")
            .insert_header((header::CONTENT_TYPE, "application/json"))
            .set_payload(r#"{"logout_token": "x"}"#),
        test::TestRequest::post()
            .uri("/auth/backchannel-logout")
            .insert_header((header::CONTENT_TYPE, form))
            .set_payload(oversized_form("logout_token")),
        test::TestRequest::post()
            .uri("/auth/logout")
            .cookie(session_cookie("no-such-session"))
            .insert_header((header::CONTENT_TYPE, form))
            .set_payload("csrf_token=%ZZ"),
        test::TestRequest::post()
            .uri("/auth/logout")
            .cookie(session_cookie("%%%not a key"))
            .insert_header((header::CONTENT_TYPE, form))
            .set_payload(oversized_form("csrf_token")),
        test::TestRequest::put().uri("/auth/callback"),
    ];
    for cookie in ["", "a b", "\u{e9}t\u{e9}", &"k".repeat(5000), "....", "-_-"] {
        requests.push(
            test::TestRequest::get()
                .uri("/me")
                .cookie(session_cookie(cookie)),
        );
    }
    for request in requests {
        let response = test::call_service(&app, request.to_request()).await;
        assert!(
            !response.status().is_server_error() || response.status().as_u16() == 503,
            "{}",
            response.status()
        );
    }

    let events = events.0.lock().unwrap();
    let errors: Vec<_> = events
        .iter()
        .filter(|(level, _)| *level == tracing::Level::ERROR)
        .collect();
    assert!(errors.is_empty(), "logged as errors: {errors:?}");
    assert!(
        events
            .iter()
            .any(|(level, message)| *level == tracing::Level::WARN
                && message.contains("sign-in refused")),
        "the refusals themselves are logged as warnings: {events:?}"
    );
}
