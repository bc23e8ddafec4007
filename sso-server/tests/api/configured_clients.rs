//! Clients registered by the configuration rather than the database.

use sso_server::clients::{ClientRegistry, NewClient};
use sso_server::config::{ClientSettings, Secret, SigningAlg};
use sso_server::domain::{ClientId, RedirectUri};

use crate::helpers::*;
use crate::receiver::{Receiver, verify_logout_token};

const PORTAL_SECRET: &str = "portal-secret-0123456789abcdef";
const PORTAL_CALLBACK: &str = "https://portal.localhost/auth/callback";
const KIOSK_CALLBACK: &str = "http://kiosk.localhost:8090/callback";
const KIOSK_HOME: &str = "http://kiosk.localhost:8090/";

/// The settings of a public client `id` with one redirect URI, as the configuration gives them.
pub(crate) fn configured(id: &str, callback: &str) -> ClientSettings {
    ClientSettings {
        id: id.to_owned(),
        name: Some(format!("Configured {id}")),
        secret: None,
        secret_file: None,
        secret_sha256: None,
        redirect_uris: vec![callback.to_owned()],
        post_logout_redirect_uris: Vec::new(),
        backchannel_logout_uri: None,
        id_token_alg: SigningAlg::Rs256,
        grant_types: ClientSettings::default_grant_types(),
        client_credentials_scopes: Vec::new(),
        access_token_format: Default::default(),
        offline_access: false,
        mfa: None,
    }
}

/// A center with `portal` (confidential, EdDSA, back-channel logout to `receiver` if given)
/// and `kiosk` (public) in its configuration.
async fn spawn_with_configured_clients(receiver: Option<&Receiver>) -> TestApp {
    spawn_app_with(|settings| {
        let mut portal = configured("portal", PORTAL_CALLBACK);
        portal.secret = Some(Secret::new(PORTAL_SECRET));
        portal.id_token_alg = SigningAlg::EdDsa;
        portal.backchannel_logout_uri = receiver.map(|r| r.uri.clone());
        let mut kiosk = configured("kiosk", KIOSK_CALLBACK);
        kiosk.post_logout_redirect_uris = vec![KIOSK_HOME.to_owned()];
        settings.clients = vec![portal, kiosk];
    })
    .await
}

#[tokio::test]
async fn a_configured_confidential_client_signs_in_exchanges_its_code_and_gets_slo() {
    let receiver = Receiver::start().await;
    let app = spawn_with_configured_clients(Some(&receiver)).await;
    let request = AuthRequest::new("portal", PORTAL_CALLBACK);
    let page = app.get_authorize(&request).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("Configured portal"),
        "the page names the client"
    );
    let response = app.submit_login(&html, "alice", PASSWORD).await;
    let code = app.follow(response).await.code();

    let wrong = app
        .exchange(
            "portal",
            "not-the-secret-0123456789",
            &code,
            PORTAL_CALLBACK,
            Some(VERIFIER),
        )
        .await;
    assert_eq!(wrong.status(), 401, "a wrong secret is refused");

    let request = AuthRequest::new("portal", PORTAL_CALLBACK);
    let code = app.follow(app.get_authorize(&request).await).await.code();
    let response = app
        .exchange(
            "portal",
            PORTAL_SECRET,
            &code,
            PORTAL_CALLBACK,
            Some(VERIFIER),
        )
        .await;
    assert_eq!(response.status(), 200);
    let tokens: serde_json::Value = response.json().await.unwrap();
    let id_token = tokens["id_token"].as_str().unwrap();
    let header = jsonwebtoken::decode_header(id_token).unwrap();
    assert_eq!(
        header.alg,
        jsonwebtoken::Algorithm::EdDSA,
        "the configured algorithm"
    );
    let sid = claims(id_token)["sid"].as_str().unwrap().to_owned();
    assert_eq!(claims(id_token)["aud"], "portal");

    let response = app
        .browser
        .get(app.url("/logout"))
        .query(&[("id_token_hint", id_token)])
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success());
    let deliveries = app
        .wait_for_deliveries(&sid, std::time::Duration::from_secs(10), |d| {
            !d.is_empty() && d.iter().all(|d| d["state"] == "delivered")
        })
        .await;
    assert_eq!(deliveries.len(), 1);
    let received = receiver.received();
    assert_eq!(received.len(), 1, "the configured back-channel URI is told");
    let logout = verify_logout_token(&app, &received[0], "portal").await;
    assert_eq!(logout["sid"], sid.as_str());
}

#[tokio::test]
async fn a_configured_public_client_must_use_pkce() {
    let app = spawn_with_configured_clients(None).await;
    let mut request = AuthRequest::new("kiosk", KIOSK_CALLBACK);
    request.challenge = None;
    let callback = app.follow(app.get_authorize(&request).await).await;
    assert!(callback.url.as_str().starts_with(KIOSK_CALLBACK));
    assert_eq!(callback.param("error").as_deref(), Some("invalid_request"));

    let request = AuthRequest::new("kiosk", KIOSK_CALLBACK);
    let code = app.login(&request, "alice").await.code();
    let response = app.exchange_public("kiosk", &code, KIOSK_CALLBACK).await;
    assert_eq!(response.status(), 200);

    // The configured post-logout redirect URI is honoured, and only that one.
    let tokens: serde_json::Value = response.json().await.unwrap();
    let id_token = tokens["id_token"].as_str().unwrap();
    let logout = |target: &'static str| {
        app.browser
            .get(app.url("/logout"))
            .query(&[
                ("id_token_hint", id_token),
                ("post_logout_redirect_uri", target),
            ])
            .send()
    };
    let elsewhere = logout("http://kiosk.localhost:8090/elsewhere")
        .await
        .unwrap();
    assert_eq!(elsewhere.status(), 400);
    let home = logout(KIOSK_HOME).await.unwrap();
    assert_eq!(home.status(), 303);
    assert_eq!(location(&home), KIOSK_HOME);
}

#[tokio::test]
async fn the_configuration_wins_over_the_database_and_cannot_be_changed_through_it() {
    let app = spawn_with_configured_clients(None).await;
    let elsewhere = "https://elsewhere.localhost/cb";
    let portal = NewClient {
        id: ClientId::parse("portal").unwrap(),
        name: "Imposter".to_owned(),
        secret: None,
        redirect_uris: vec![RedirectUri::parse(elsewhere).unwrap()],
        post_logout_redirect_uris: Vec::new(),
        backchannel_logout_uri: None,
        id_token_alg: jsonwebtoken::Algorithm::RS256,
        tokens: sso_server::clients::TokenPolicy::default(),
    };
    let refused = app.state.clients.upsert(portal.clone()).await;
    assert!(refused.is_err(), "the registry refuses a configured id");
    // A row written by something that does not know the configuration is shadowed by it.
    ClientRegistry::new(app.state.pool.clone(), Vec::new())
        .upsert(portal)
        .await
        .unwrap();
    let response = app
        .get_authorize(&AuthRequest::new("portal", elsewhere))
        .await;
    assert_eq!(response.status(), 400, "the database's URI is not used");
    assert!(response.headers().get("location").is_none());
    let page = app
        .get_authorize(&AuthRequest::new("portal", PORTAL_CALLBACK))
        .await;
    assert_eq!(page.status(), 200);
    assert!(!page.text().await.unwrap().contains("Imposter"));
}
