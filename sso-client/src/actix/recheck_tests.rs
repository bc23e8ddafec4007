//! Re-checks of cookie sessions through the middleware: a burst of requests of one session due
//! for its re-check asks the center once between them.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use actix_web::{App, HttpResponse, HttpServer, web};
use session_store::{KeyRing, MemoryStore};

use super::SsoMiddleware;
use crate::{LocalSessions, Principal, Secret, SsoClient, SsoConfig};

/// An endpoint standing for the center: discovery, and a userinfo endpoint that counts its
/// calls and takes a while to answer, so concurrent requests overlap.
async fn start_center(userinfo_calls: Arc<AtomicUsize>) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let issuer = url.clone();
    let server = HttpServer::new(move || {
        let (issuer, calls) = (issuer.clone(), Arc::clone(&userinfo_calls));
        App::new()
            .route(
                "/.well-known/openid-configuration",
                web::get().to(move || {
                    let issuer = issuer.clone();
                    async move {
                        HttpResponse::Ok().json(serde_json::json!({
                            "issuer": issuer,
                            "authorization_endpoint": format!("{issuer}/authorize"),
                            "token_endpoint": format!("{issuer}/token"),
                            "jwks_uri": format!("{issuer}/jwks"),
                            "userinfo_endpoint": format!("{issuer}/userinfo"),
                        }))
                    }
                }),
            )
            .route(
                "/userinfo",
                web::get().to(move || {
                    let calls = Arc::clone(&calls);
                    async move {
                        calls.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(300)).await;
                        HttpResponse::Ok().json(serde_json::json!({"sub": "alice"}))
                    }
                }),
            )
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    tokio::spawn(server);
    url
}

async fn me(user: Principal) -> HttpResponse {
    HttpResponse::Ok().body(user.sub().to_owned())
}

/// Sends 50 requests at once with `cookie`; returns how many were served signed in.
async fn burst(url: &str, cookie: &str) -> usize {
    let http = reqwest::Client::new();
    let requests: Vec<_> = (0..50)
        .map(|_| {
            let request = http
                .get(format!("{url}/me"))
                .header("Cookie", format!("app_session={cookie}"))
                .header("Accept", "application/json");
            tokio::spawn(async move { request.send().await.unwrap().status().as_u16() })
        })
        .collect();
    let mut served = 0;
    for request in requests {
        if request.await.unwrap() == 200 {
            served += 1;
        }
    }
    served
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_requests_of_a_session_due_for_its_recheck_ask_the_center_once() {
    let calls = Arc::new(AtomicUsize::new(0));
    let center = start_center(Arc::clone(&calls)).await;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let mut config = SsoConfig::new(center, "app1", Secret::new("secret"), url.parse().unwrap());
    config.session.recheck_secs = 2;
    let ring = KeyRing::new("k1", &KeyRing::generate_key()).unwrap();
    let client =
        SsoClient::new(config, LocalSessions::cookie(ring, MemoryStore::default())).unwrap();
    let claims = serde_json::json!({"sub": "alice", "sid": "s-1"});
    let (key, _) = client
        .insert_session(
            claims.as_object().unwrap().clone(),
            "id.token",
            Some("at-1"),
        )
        .await
        .unwrap();
    let app = client.clone();
    let server = HttpServer::new(move || {
        App::new()
            .wrap(SsoMiddleware::new(app.clone()))
            .route("/me", web::get().to(me))
    })
    .workers(2)
    .listen(listener)
    .unwrap()
    .run();
    tokio::spawn(server);

    tokio::time::sleep(Duration::from_millis(2_100)).await;
    assert_eq!(burst(&url, key.as_str()).await, 50);
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "one re-check for the whole burst"
    );
    assert_eq!(
        burst(&url, key.as_str()).await,
        50,
        "requests still carrying the old cookie"
    );
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "the answer is remembered on this node for the re-check interval"
    );
}
