//! The session's tokens through the SDK: refresh with rotation (once across nodes), revocation
//! on sign-out, tokens kept off session cookies, and JWT access tokens verified locally.

use std::sync::Arc;
use std::time::Duration;

use reqwest::cookie::{CookieStore as _, Jar};
use reqwest::redirect::Policy;
use serde_json::Value;
use session_store::{
    CookieStore, KeyRing, MemoryStore, RedisConfig, RedisStore, SessionKey, SessionStore,
};
use sso_client::{Error, LocalSessions, Secret, TokenKind};
use sso_server::clients::TokenPolicy;
use sso_server::config::AccessTokenFormat;

use crate::helpers::{
    Center, TestApp, config, redis_url, reserve_port, secret_of, serve, sign_in, start_center,
    whoami,
};

/// A browser whose cookies the test can read.
fn browser_with_jar() -> (reqwest::Client, Arc<Jar>) {
    let jar = Arc::new(Jar::default());
    let browser = reqwest::Client::builder()
        .cookie_provider(Arc::clone(&jar))
        .redirect(Policy::none())
        .build()
        .unwrap();
    (browser, jar)
}

/// The local-session key the browser holds for app `id`.
fn session_key(jar: &Jar, app: &TestApp, id: &str) -> SessionKey {
    let header = jar
        .cookies(&app.url.parse().unwrap())
        .expect("cookies for the app");
    let name = format!("{id}_session=");
    header
        .to_str()
        .unwrap()
        .split("; ")
        .find_map(|pair| pair.strip_prefix(name.as_str()))
        .and_then(SessionKey::parse)
        .expect("a session cookie")
}

/// Starts app `id` on `sessions` with its client registered under `tokens`.
async fn app_with(
    center: &Center,
    id: &str,
    sessions: LocalSessions,
    tokens: TokenPolicy,
    adjust: impl FnOnce(&mut sso_client::SsoConfig),
) -> TestApp {
    let port = reserve_port();
    let url = format!("http://127.0.0.1:{port}");
    center.register_with(id, &secret_of(id), &url, tokens).await;
    let mut config = config(center, id, &url);
    adjust(&mut config);
    serve(config, sessions, port)
}

/// Presents `refresh_token` at the center's token endpoint as `id`: the status and body.
async fn refresh_at_center(center: &Center, id: &str, refresh_token: &str) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!("{}/token", center.url))
        .basic_auth(id, Some(secret_of(id)))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ])
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn stored_refresh_token(store: &MemoryStore, key: &SessionKey) -> String {
    let session = store.load(key).await.unwrap().expect("the session");
    session
        .record()
        .get::<String>("refresh_token")
        .expect("a refresh token")
}

#[tokio::test]
async fn refresh_rotates_the_tokens_and_never_reuses_one() {
    let center = start_center().await;
    let store = MemoryStore::default();
    let sessions = LocalSessions::memory(store.clone());
    let app = app_with(&center, "app1", sessions, TokenPolicy::default(), |_| {}).await;
    let (browser, jar) = browser_with_jar();
    let me = sign_in(&browser, &center, &app).await;
    let key = session_key(&jar, &app, "app1");

    let first = app.client.access_token(&key).await.unwrap().expect("token");
    let first_refresh = stored_refresh_token(&store, &key).await;
    let second = app.client.refresh(&key).await.unwrap().expect("refreshed");
    assert_ne!(first, second);
    assert_ne!(stored_refresh_token(&store, &key).await, first_refresh);
    assert_eq!(
        app.client.access_token(&key).await.unwrap(),
        Some(second.clone())
    );
    let info = app
        .client
        .introspect(&second)
        .await
        .unwrap()
        .expect("active");
    assert_eq!(info.sub, me["sub"].as_str().unwrap());
    assert_eq!(info.sid.as_deref(), me["sid"].as_str());

    // Had the SDK presented a used refresh token, the center would have revoked the family.
    let third = app
        .client
        .refresh(&key)
        .await
        .unwrap()
        .expect("refreshed again");
    assert_ne!(third, second);
    assert!(whoami(&browser, &app).await.is_some());
}

#[tokio::test]
async fn signing_out_revokes_the_refresh_token() {
    let center = start_center().await;
    let store = MemoryStore::default();
    let sessions = LocalSessions::memory(store.clone());
    let app = app_with(&center, "app1", sessions, TokenPolicy::default(), |_| {}).await;
    let (browser, jar) = browser_with_jar();
    let me = sign_in(&browser, &center, &app).await;
    let key = session_key(&jar, &app, "app1");
    let refresh_token = stored_refresh_token(&store, &key).await;

    // The browser never reaches the center's end-session endpoint, so only the SDK's
    // revocation can end the token.
    let end_session = app.client.logout(&key).await.unwrap();
    assert!(
        end_session.as_str().contains("id_token_hint="),
        "{end_session}"
    );
    let sid = me["sid"].as_str().unwrap();
    assert!(center.state.sessions.is_live(sid).await.unwrap());
    let (status, body) = refresh_at_center(&center, "app1", &refresh_token).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "invalid_grant");
}

#[tokio::test]
async fn cookie_sessions_keep_their_tokens_server_side_and_recheck_by_refresh() {
    let center = start_center().await;
    let shared = MemoryStore::default();
    let cookie_key = KeyRing::generate_key();
    let ring = KeyRing::new("k1", &cookie_key).unwrap();
    let sessions = LocalSessions::cookie(ring, shared.clone());
    let app = app_with(
        &center,
        "app1",
        sessions,
        TokenPolicy::default(),
        |config| {
            config.session.recheck_secs = 1;
        },
    )
    .await;
    let (browser, jar) = browser_with_jar();
    sign_in(&browser, &center, &app).await;
    let key = session_key(&jar, &app, "app1");
    assert!(key.as_str().len() < 1024, "{} bytes", key.as_str().len());

    let opener = CookieStore::new("app1_session", KeyRing::new("k1", &cookie_key).unwrap());
    let sealed = opener.load(&key).await.unwrap().expect("opens");
    for token in ["id_token", "refresh_token"] {
        assert!(
            sealed.record().data().get(token).is_none(),
            "{token} in the cookie"
        );
    }
    let vault = sealed
        .record()
        .get::<String>("vault")
        .and_then(|key| SessionKey::parse(&key))
        .expect("the cookie names its tokens' record");
    let refresh_token = |store: MemoryStore, vault: SessionKey| async move {
        let held = store
            .load(&vault)
            .await
            .unwrap()
            .expect("the tokens' record");
        assert!(held.record().get::<String>("id_token").is_some());
        held.record()
            .get::<String>("refresh_token")
            .expect("refresh token")
    };
    let first = refresh_token(shared.clone(), vault.clone()).await;

    tokio::time::sleep(Duration::from_millis(1_100)).await;
    assert!(
        whoami(&browser, &app).await.is_some(),
        "re-checked and kept"
    );
    let second = refresh_token(shared.clone(), vault.clone()).await;
    assert_ne!(first, second, "the re-check refreshed the tokens");

    // The family revoked at the center: the next re-check ends the session.
    app.client
        .revoke(&second, TokenKind::Refresh)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    assert!(
        whoami(&browser, &app).await.is_none(),
        "ended by the re-check"
    );
}

#[tokio::test]
async fn two_nodes_refreshing_one_session_at_once_use_its_refresh_token_once() {
    let center = start_center().await;
    let prefix = format!("sso-client-test-{}:", reserve_port());
    let store = || {
        let config = RedisConfig::new(redis_url()).with_prefix(prefix.clone());
        RedisStore::new(config).unwrap()
    };
    let cookie_key = KeyRing::generate_key();
    let login_key = KeyRing::generate_key();
    let sessions = || LocalSessions::cookie(KeyRing::new("k1", &cookie_key).unwrap(), store());
    let login = |config: &mut sso_client::SsoConfig| {
        config.login_cookie_key = Some(Secret::new(login_key.clone()));
    };
    let node_a = app_with(&center, "app1", sessions(), TokenPolicy::default(), login).await;
    let node_b = serve(
        {
            let mut config = config(&center, "app1", &node_a.url);
            login(&mut config);
            config
        },
        sessions(),
        reserve_port(),
    );
    let (browser, jar) = browser_with_jar();
    sign_in(&browser, &center, &node_a).await;
    let key = session_key(&jar, &node_a, "app1");

    let (a, b) = tokio::join!(node_a.client.refresh(&key), node_b.client.refresh(&key));
    let (a, b) = (a.unwrap().expect("node a"), b.unwrap().expect("node b"));
    assert_eq!(a, b, "one refresh, its token shared");
    let next = node_b.client.refresh(&key).await.unwrap();
    assert!(next.is_some_and(|next| next != a), "the family lives on");
}

#[tokio::test]
async fn jwt_access_tokens_are_verified_locally_for_their_audience_only() {
    let center = start_center().await;
    let mut jwt = TokenPolicy::default();
    jwt.access_token_format = AccessTokenFormat::Jwt;
    let app1 = app_with(
        &center,
        "app1",
        LocalSessions::memory(MemoryStore::default()),
        jwt,
        |_| {},
    )
    .await;
    let app2 = app_with(
        &center,
        "app2",
        LocalSessions::memory(MemoryStore::default()),
        TokenPolicy::default(),
        |_| {},
    )
    .await;
    let (browser, jar) = browser_with_jar();
    let me = sign_in(&browser, &center, &app1).await;
    let key = session_key(&jar, &app1, "app1");
    let token = app1
        .client
        .access_token(&key)
        .await
        .unwrap()
        .expect("token");
    assert_eq!(token.split('.').count(), 3, "a JWT");

    let verified = app1.client.verify_access_token(&token).await.unwrap();
    assert_eq!(verified.sub, me["sub"].as_str().unwrap());
    assert_eq!(verified.client_id, "app1");
    assert_eq!(verified.sid.as_deref(), me["sid"].as_str());
    assert!(verified.has_scope("openid"));

    let refused = |result: Result<sso_client::AccessToken, Error>| {
        matches!(result, Err(Error::InvalidAccessToken(_)))
    };
    assert!(
        refused(app2.client.verify_access_token(&token).await),
        "another audience"
    );
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    parts[1] = parts[1].chars().rev().collect();
    assert!(refused(
        app1.client.verify_access_token(&parts.join(".")).await
    ));
    assert!(refused(
        app1.client.verify_access_token("not-a-token").await
    ));
}
