//! A client's back-channel logout endpoint: a tiny actix server on a free port that records
//! the logout tokens it receives.

use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpResponse, HttpServer, web};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{DecodingKey, Validation};
use serde::Deserialize;
use serde_json::Value;

use crate::helpers::{APP1_CALLBACK, APP1_SECRET, ISSUER, TestApp};

pub(crate) struct Receiver {
    pub(crate) uri: String,
    pub(crate) tokens: Arc<Mutex<Vec<String>>>,
    handle: ServerHandle,
}

#[derive(Deserialize)]
struct Form {
    logout_token: String,
}

/// A free port, released for a receiver to start on later.
pub(crate) fn reserve_port() -> u16 {
    sso_common::ports::free_port()
}

pub(crate) fn uri_for(port: u16) -> String {
    format!("http://127.0.0.1:{port}/auth/backchannel-logout")
}

impl Receiver {
    pub(crate) async fn start() -> Self {
        Self::start_on(0).await
    }

    /// A receiver registered as app1's back-channel logout URI.
    pub(crate) async fn for_app1(app: &TestApp) -> Self {
        let receiver = Self::start().await;
        app.add_client(
            "app1",
            Some(APP1_SECRET),
            APP1_CALLBACK,
            Some(&receiver.uri),
        )
        .await;
        receiver
    }

    pub(crate) async fn start_on(port: u16) -> Self {
        let tokens = Arc::new(Mutex::new(Vec::new()));
        let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
        let port = listener.local_addr().unwrap().port();
        let shared = tokens.clone();
        let server = HttpServer::new(move || {
            let shared = shared.clone();
            App::new().route(
                "/auth/backchannel-logout",
                web::post().to(move |form: web::Form<Form>| {
                    let shared = shared.clone();
                    async move {
                        shared.lock().unwrap().push(form.into_inner().logout_token);
                        HttpResponse::Ok().finish()
                    }
                }),
            )
        })
        .workers(1)
        .listen(listener)
        .unwrap()
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        Self {
            uri: uri_for(port),
            tokens,
            handle,
        }
    }

    pub(crate) fn received(&self) -> Vec<String> {
        self.tokens.lock().unwrap().clone()
    }

    pub(crate) async fn stop(self) {
        self.handle.stop(false).await;
    }
}

/// Verifies a logout token as a client must (OIDC Back-Channel Logout §2.6) against the
/// center's JWKS, and returns its claims.
pub(crate) async fn verify_logout_token(app: &TestApp, token: &str, audience: &str) -> Value {
    let jwks: JwkSet = app.get_json("/jwks.json").await;
    let header = jsonwebtoken::decode_header(token).unwrap();
    assert_eq!(header.typ.as_deref(), Some("logout+jwt"));
    let jwk = jwks.find(header.kid.as_deref().unwrap()).unwrap();
    let key = DecodingKey::from_jwk(jwk).unwrap();
    let mut validation = Validation::new(header.alg);
    validation.set_audience(&[audience]);
    validation.set_issuer(&[ISSUER]);
    validation.set_required_spec_claims(&["iss", "aud", "exp", "iat"]);
    let claims = jsonwebtoken::decode::<Value>(token, &key, &validation)
        .expect("logout token must verify")
        .claims;
    assert!(
        claims["events"]["http://schemas.openid.net/event/backchannel-logout"].is_object(),
        "{claims}"
    );
    assert!(claims.get("nonce").is_none(), "a logout token has no nonce");
    assert!(claims["jti"].as_str().is_some_and(|j| !j.is_empty()));
    claims
}
