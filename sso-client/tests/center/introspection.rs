//! Token introspection: an app asks the center about an access token presented to its API.

use session_store::MemoryStore;
use sso_client::{Error, LocalSessions, Secret, SsoClient};
use sso_server::domain::Username;
use sso_server::slo::EndReason;
use sso_server::tokens::AccessGrant;

use crate::helpers::*;

/// A center session for alice and an access token of `client_id` in it: what an API client
/// of that app would present. Returns the token and the session's `sid`.
async fn access_token(center: &Center, client_id: &str) -> (String, String) {
    let state = &center.state;
    let alice = state
        .users
        .find(&Username::parse("alice").unwrap())
        .await
        .unwrap()
        .unwrap();
    let session = state
        .sessions
        .create(&alice, &[], &Default::default())
        .await
        .unwrap();
    let grant = AccessGrant {
        user_id: Some(alice.id),
        client_id: client_id.to_owned(),
        sid: Some(session.sid.clone()),
        scope: "openid profile email".to_owned(),
        grant_id: None,
    };
    let token = state.access_tokens.issue(&grant).await.unwrap();
    (token.as_str().to_owned(), session.sid)
}

#[tokio::test]
async fn an_app_learns_whose_token_it_is_until_the_center_session_ends() {
    let center = start_center().await;
    let app = start_app(&center, "app1").await;
    let (token, sid) = access_token(&center, "app1").await;

    let info = app
        .client
        .introspect(&token)
        .await
        .unwrap()
        .expect("a live token is active");
    assert_eq!(info.client_id, "app1");
    assert_eq!(info.username.as_deref(), Some("alice"));
    assert_eq!(info.sid.as_deref(), Some(sid.as_str()));
    assert_eq!(info.scope, "openid profile email");
    assert!(info.exp.unwrap() > jsonwebtoken::get_current_timestamp());
    let alice = center
        .state
        .users
        .find(&Username::parse("alice").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(info.sub, alice.id);

    assert_eq!(app.client.introspect("not-a-token").await.unwrap(), None);
    center
        .state
        .sessions
        .end(&sid, EndReason::Logout)
        .await
        .unwrap();
    assert_eq!(
        app.client.introspect(&token).await.unwrap(),
        None,
        "inactive once the center session has ended"
    );
}

#[tokio::test]
async fn a_token_issued_to_another_app_is_reported_inactive() {
    let center = start_center().await;
    let app1 = start_app(&center, "app1").await;
    let app2 = start_app(&center, "app2").await;
    let (token, _) = access_token(&center, "app2").await;

    assert_eq!(
        app1.client.introspect(&token).await.unwrap(),
        None,
        "app2's token is no credential at app1"
    );
    let info = app2.client.introspect(&token).await.unwrap();
    assert_eq!(
        info.map(|info| info.client_id).as_deref(),
        Some("app2"),
        "the token itself is active"
    );
}

#[tokio::test]
async fn introspection_with_a_wrong_secret_is_refused() {
    let center = start_center().await;
    let app = start_app(&center, "app1").await;
    let (token, _) = access_token(&center, "app1").await;
    let mut config = app.client.config().clone();
    config.client_secret = Secret::new("not-app1s-secret-at-all-0123456789");
    let impostor = SsoClient::new(config, LocalSessions::memory(MemoryStore::default())).unwrap();
    let error = impostor.introspect(&token).await.unwrap_err();
    assert!(
        matches!(&error, Error::Refused(code) if code == "invalid_client"),
        "{error:?}"
    );
}
