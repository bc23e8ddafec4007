//! Private signing keys sealed at rest with `tokens.key_encryption_key`.

use serde_json::Value;
use sso_server::config::{Secret, Settings};
use sso_server::startup::Application;

use crate::helpers::*;

const KEY: &str = "kek-0123456789abcdef-0123456789abcdef";

fn sealed_settings(key: &str) -> Settings {
    let mut settings = test_settings();
    settings.tokens.key_encryption_key = Some(Secret::new(key));
    settings
}

/// The private keys as the database holds them.
async fn stored_keys(url: &str) -> Vec<String> {
    let pool = sso_server::db::connect_url(url, 1).await.unwrap();
    let rows = sqlx::query("SELECT private_key FROM signing_keys")
        .fetch_all(&pool)
        .await
        .unwrap();
    rows.iter()
        .map(|row| sqlx::Row::get::<String, _>(row, "private_key"))
        .collect()
}

fn all_sealed(stored: &[String]) -> bool {
    !stored.is_empty()
        && stored
            .iter()
            .all(|key| key.starts_with("sealed:v1:") && !key.contains("PRIVATE KEY"))
}

async fn build(settings: Settings, url: &str) -> anyhow::Result<Application> {
    let pool = sso_server::db::connect_url(url, 5).await.unwrap();
    Application::build_with(settings, pool, memory_store()).await
}

async fn build_error(settings: Settings, url: &str) -> String {
    match build(settings, url).await {
        Ok(_) => panic!("the center started"),
        Err(error) => format!("{error:#}"),
    }
}

fn jwks_of(application: &Application) -> Value {
    serde_json::to_value(application.state().keys.jwks()).unwrap()
}

#[tokio::test]
async fn with_a_key_encryption_key_the_database_holds_no_private_key_in_clear() {
    let (url, dir) = new_database().await;
    let app = start(sealed_settings(KEY), &url, dir, memory_store()).await;
    app.seed().await;
    let stored = stored_keys(&url).await;
    assert_eq!(stored.len(), 2);
    assert!(all_sealed(&stored), "{stored:?}");

    let tokens = app.login_app1("alice").await;
    let id_token = tokens["id_token"].as_str().unwrap();
    let claims: Value = app
        .state
        .keys
        .verify(id_token, ISSUER, true)
        .expect("signed with the sealed key");
    assert_eq!(claims["aud"], "app1");

    let restarted = build(sealed_settings(KEY), &url).await.unwrap();
    let jwks: Value = app.get_json("/jwks.json").await;
    assert_eq!(jwks_of(&restarted), jwks, "the same keys after a restart");
}

#[tokio::test]
async fn keys_stored_in_clear_are_sealed_on_the_next_start_and_keep_their_kids() {
    let (url, _dir) = new_database().await;
    let before = jwks_of(&build(test_settings(), &url).await.unwrap());
    assert!(
        stored_keys(&url)
            .await
            .iter()
            .all(|key| key.contains("PRIVATE KEY"))
    );
    let after = jwks_of(&build(sealed_settings(KEY), &url).await.unwrap());
    assert!(all_sealed(&stored_keys(&url).await));
    assert_eq!(before, after);
}

#[tokio::test]
async fn sealed_keys_do_not_open_without_the_key_or_with_another_one() {
    let (url, _dir) = new_database().await;
    build(sealed_settings(KEY), &url).await.unwrap();
    let missing = build_error(test_settings(), &url).await;
    assert!(
        missing.contains("configure tokens.key_encryption_key"),
        "{missing}"
    );
    let other = build_error(sealed_settings("another-kek-0123456789abcdef-012345"), &url).await;
    assert!(
        other.contains("sealed under another tokens.key_encryption_key"),
        "{other}"
    );
    assert!(!other.contains(KEY), "the key is not echoed");
}
