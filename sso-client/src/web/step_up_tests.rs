//! Routes requiring a second factor, through both glues (actix-web and axum) over HTTP, with
//! the center down: who gets the page, who is sent to sign in again asking for a second factor,
//! who is refused, and what the sign-in route does with the options it is given.

use axum::routing::get;
use reqwest::StatusCode;
use reqwest::header::{ACCEPT, COOKIE, LOCATION};
use serde_json::{Value, json};
use session_store::MemoryStore;

use crate::{
    ACR_MFA, ACR_PASSWORD, LocalSessions, MultiFactor, Principal, Secret, SsoClient, SsoConfig,
};

/// An issuer on a port nobody listens on: the center is down.
fn unreachable_issuer() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

fn client() -> SsoClient {
    let mut config = SsoConfig::new(
        unreachable_issuer(),
        "app1",
        Secret::new("secret"),
        "http://app1.localhost:8081".parse().unwrap(),
    );
    config.public_paths = vec!["/open/".to_owned()];
    SsoClient::new(config, LocalSessions::memory(MemoryStore::default())).unwrap()
}

fn shown(user: &Principal) -> Value {
    json!({"sub": user.sub(), "acr": user.acr(), "amr": user.amr()})
}

async fn actix_sensitive(user: MultiFactor) -> actix_web::HttpResponse {
    actix_web::HttpResponse::Ok().json(shown(&user))
}

async fn axum_sensitive(user: MultiFactor) -> axum::Json<Value> {
    axum::Json(shown(&user))
}

/// The same app on both glues: `/sensitive` (protected) and `/open/sensitive` (public) require
/// a second factor. Returns each app's URL.
async fn serve_both(client: &SsoClient) -> [String; 2] {
    let actix_client = client.clone();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let actix_url = format!("http://{}", listener.local_addr().unwrap());
    let server = actix_web::HttpServer::new(move || {
        actix_web::App::new()
            .wrap(crate::actix::SsoMiddleware::new(actix_client.clone()))
            .route("/sensitive", actix_web::web::get().to(actix_sensitive))
            .route("/sensitive", actix_web::web::post().to(actix_sensitive))
            .route("/open/sensitive", actix_web::web::get().to(actix_sensitive))
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    tokio::spawn(server);

    let router = axum::Router::new()
        .route("/sensitive", get(axum_sensitive).post(axum_sensitive))
        .route("/open/sensitive", get(axum_sensitive))
        .layer(crate::axum::SsoLayer::new(client.clone()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let axum_url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    [actix_url, axum_url]
}

/// A session signed in with `claims`; returns its cookie header.
async fn session(client: &SsoClient, claims: Value) -> String {
    let (key, _) = client
        .insert_session(claims.as_object().unwrap().clone(), "id.token.x", None)
        .await
        .unwrap();
    format!("app_session={}", key.as_str())
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn location(response: &reqwest::Response) -> &str {
    response.headers()[LOCATION].to_str().unwrap()
}

const STEP_UP: &str =
    "/auth/login?return_to=%2Fsensitive%3Ftab%3D2&acr_values=urn%3Asso%3Aacr%3Amfa";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_requiring_a_second_factor_sends_a_password_session_to_sign_in_asking_for_one() {
    let client = client();
    let password = session(
        &client,
        json!({"sub": "alice", "acr": ACR_PASSWORD, "amr": ["pwd"]}),
    )
    .await;
    let before = session(&client, json!({"sub": "bob"})).await;
    for url in serve_both(&client).await {
        for cookie in [&password, &before] {
            let response = http()
                .get(format!("{url}/sensitive?tab=2"))
                .header(COOKIE, cookie)
                .header(ACCEPT, "text/html")
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::SEE_OTHER, "{url}");
            assert_eq!(location(&response), STEP_UP, "{url}");
        }
        let anonymous = http()
            .get(format!("{url}/open/sensitive"))
            .send()
            .await
            .unwrap();
        assert_eq!(anonymous.status(), StatusCode::SEE_OTHER, "{url}");
        assert_eq!(
            location(&anonymous),
            "/auth/login?return_to=%2Fopen%2Fsensitive&acr_values=urn%3Asso%3Aacr%3Amfa",
            "{url}: an anonymous visitor of a public page signs in with both factors at once"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_with_a_second_factor_gets_the_page() {
    let client = client();
    let totp = session(
        &client,
        json!({"sub": "alice", "acr": ACR_MFA, "amr": ["pwd", "otp", "mfa"]}),
    )
    .await;
    let passkey = session(
        &client,
        json!({"sub": "carol", "amr": ["hwk", "user", "mfa"]}),
    )
    .await;
    for url in serve_both(&client).await {
        let response = http()
            .get(format!("{url}/sensitive"))
            .header(COOKIE, &totp)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{url}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(
            body,
            json!({"sub": "alice", "acr": ACR_MFA, "amr": ["pwd", "otp", "mfa"]})
        );
        let response = http()
            .post(format!("{url}/sensitive"))
            .header(COOKIE, &passkey)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{url}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_requests_lacking_the_second_factor_are_refused_not_redirected() {
    let client = client();
    let password = session(
        &client,
        json!({"sub": "alice", "acr": ACR_PASSWORD, "amr": ["pwd"]}),
    )
    .await;
    for url in serve_both(&client).await {
        let json_get = http()
            .get(format!("{url}/sensitive"))
            .header(COOKIE, &password)
            .header(ACCEPT, "application/json");
        let post = http()
            .post(format!("{url}/sensitive"))
            .header(COOKIE, &password);
        for request in [json_get, post] {
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), StatusCode::FORBIDDEN, "{url}");
            let body: Value = response.json().await.unwrap();
            assert_eq!(body["error"], "insufficient_user_authentication", "{url}");
            assert_eq!(body["acr_values"], ACR_MFA);
        }
        let anonymous = http()
            .get(format!("{url}/open/sensitive"))
            .header(ACCEPT, "application/json")
            .send()
            .await
            .unwrap();
        assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED, "{url}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sign_in_route_goes_to_the_center_only_for_what_the_session_lacks() {
    let client = client();
    let password = session(
        &client,
        json!({"sub": "alice", "acr": ACR_PASSWORD, "amr": ["pwd"]}),
    )
    .await;
    let now = jsonwebtoken::get_current_timestamp();
    let totp = session(
        &client,
        json!({"sub": "alice", "acr": ACR_MFA, "amr": ["pwd", "otp", "mfa"], "auth_time": now}),
    )
    .await;
    let mfa = "acr_values=urn%3Asso%3Aacr%3Amfa";
    for url in serve_both(&client).await {
        let go = |cookie: &str, query: &str| {
            http()
                .get(format!("{url}/auth/login?return_to=%2Fsensitive&{query}"))
                .header(COOKIE, cookie)
                .send()
        };
        // The center is down, so going there shows the 503 page; its retry link keeps the
        // options.
        for (cookie, query) in [
            (&password, mfa),
            (&totp, "prompt=login"),
            (&password, "max_age=60"),
        ] {
            let response = go(cookie, query).await.unwrap();
            assert_eq!(
                response.status(),
                StatusCode::SERVICE_UNAVAILABLE,
                "{url} {query}"
            );
            let page = response.text().await.unwrap();
            assert!(
                page.contains(&format!("/auth/login?return_to=%2Fsensitive&#38;{query}")),
                "{url} {query}: {page}"
            );
        }
        for (cookie, query) in [
            (&totp, mfa),
            (&totp, "max_age=60"),
            (&password, "acr_values=urn%3Asso%3Aacr%3Apassword"),
        ] {
            let response = go(cookie, query).await.unwrap();
            assert_eq!(response.status(), StatusCode::SEE_OTHER, "{url} {query}");
            assert_eq!(location(&response), "/sensitive", "{url} {query}");
        }
    }
}
