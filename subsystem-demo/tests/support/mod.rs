//! What the tests that need the real center share.

use std::sync::Arc;

use session_store::MemoryStore;
use sso_server::config::Settings;
use sso_server::startup::Application as Center;
use sso_server::state::AppState;
use url::Url;

/// A free port, released for a server to bind next.
pub(crate) fn free_port() -> u16 {
    sso_common::ports::free_port()
}

/// Starts the real center on a free port, with in-memory sessions and its database in `dir`,
/// after `configure` had its say on the settings; returns its URL and state.
pub(crate) async fn start_center(
    dir: &tempfile::TempDir,
    configure: impl FnOnce(&mut Settings),
) -> (String, AppState) {
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let mut settings = Settings {
        issuer: Url::parse(&url).unwrap(),
        ..Settings::default()
    };
    settings.http.port = port;
    configure(&mut settings);
    let database = format!("sqlite://{}/sso.db?mode=rwc", dir.path().display());
    let pool = sso_server::db::connect_url(&database, 5).await.unwrap();
    let center = Center::build_with(settings, pool, Arc::new(MemoryStore::default()))
        .await
        .unwrap();
    let state = center.state().clone();
    tokio::spawn(center.run_until_stopped());
    (url, state)
}
