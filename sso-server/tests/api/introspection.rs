//! Token introspection (RFC 7662) at `/introspect`.

use serde_json::Value;

use crate::helpers::*;

/// Introspects `token` as `client_id` with `secret` (HTTP Basic).
async fn introspect(app: &TestApp, client_id: &str, secret: &str, token: &str) -> Value {
    let response = app
        .api
        .post(app.url("/introspect"))
        .basic_auth(client_id, Some(secret))
        .form(&[("token", token), ("token_type_hint", "access_token")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["cache-control"],
        "no-store",
        "introspection answers are not cached"
    );
    response.json().await.unwrap()
}

fn inactive() -> Value {
    serde_json::json!({ "active": false })
}

#[tokio::test]
async fn a_live_access_token_is_active_with_what_it_grants() {
    let app = spawn_app().await;
    let tokens = app.login_app1("alice").await;
    let token = tokens["access_token"].as_str().unwrap();
    let alice = app.user("alice").await;

    let body = introspect(&app, "app1", APP1_SECRET, token).await;
    assert_eq!(body["active"], true);
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["client_id"], "app1");
    assert_eq!(body["aud"], "app1");
    assert_eq!(body["sub"], alice.id.as_str());
    assert_eq!(body["username"], "alice");
    assert_eq!(body["iss"], ISSUER);
    assert_eq!(body["sid"], sid_of(&tokens).as_str());
    assert_eq!(body["scope"], tokens["scope"]);
    let now = jsonwebtoken::get_current_timestamp();
    let (iat, exp) = (body["iat"].as_u64().unwrap(), body["exp"].as_u64().unwrap());
    assert!(
        iat <= now && now < exp,
        "iat {iat} <= now {now} < exp {exp}"
    );

    // Another confidential client (say app2's back end) may ask, and learns whose it is.
    let by_app2 = introspect(&app, "app2", APP2_SECRET, token).await;
    assert_eq!(by_app2["active"], true);
    assert_eq!(by_app2["client_id"], "app1");
}

#[tokio::test]
async fn a_token_of_an_ended_session_or_a_disabled_user_or_nobody_is_inactive() {
    let app = spawn_app().await;
    let tokens = app.login_app1("alice").await;
    let token = tokens["access_token"].as_str().unwrap();
    for garbage in ["not-a-token", &"A".repeat(4096), "Ünïcode ✓"] {
        assert_eq!(
            introspect(&app, "app1", APP1_SECRET, garbage).await,
            inactive()
        );
    }

    let alice = sso_server::domain::Username::parse("alice").unwrap();
    assert!(app.state.users.set_disabled(&alice, true).await.unwrap());
    assert_eq!(
        introspect(&app, "app1", APP1_SECRET, token).await,
        inactive()
    );
    assert!(app.state.users.set_disabled(&alice, false).await.unwrap());
    assert_eq!(
        introspect(&app, "app1", APP1_SECRET, token).await["active"],
        true
    );

    let ended = app
        .admin_delete(&format!("/admin/sessions/{}", sid_of(&tokens)))
        .await;
    assert_eq!(ended.status(), 200);
    assert_eq!(
        introspect(&app, "app1", APP1_SECRET, token).await,
        inactive()
    );
}

#[tokio::test]
async fn introspection_needs_an_authenticated_confidential_client() {
    let app = spawn_app().await;
    let tokens = app.login_app1("alice").await;
    let token = tokens["access_token"].as_str().unwrap();
    let post = || app.api.post(app.url("/introspect"));

    let anonymous = post().form(&[("token", token)]).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    let wrong_secret = post()
        .basic_auth("app1", Some("not-the-secret-at-all"))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_secret.status(), 401);
    assert_eq!(
        wrong_secret.headers()["www-authenticate"],
        "Basic realm=\"sso\""
    );
    let body: Value = wrong_secret.json().await.unwrap();
    assert_eq!(body["error"], "invalid_client");
    assert!(body.get("active").is_none(), "nothing about the token");

    let public = post()
        .form(&[("token", token), ("client_id", "spa")])
        .send()
        .await
        .unwrap();
    assert_eq!(public.status(), 401, "a public client proves nothing");

    let by_post = post()
        .form(&[
            ("token", token),
            ("client_id", "app1"),
            ("client_secret", APP1_SECRET),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(by_post.status(), 200, "client_secret_post works too");
}

#[tokio::test]
async fn an_introspection_request_without_a_token_is_invalid_request() {
    let app = spawn_app().await;
    let response = app
        .api
        .post(app.url("/introspect"))
        .basic_auth("app1", Some(APP1_SECRET))
        .form(&[("token_type_hint", "access_token")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_request");

    let oversized = app
        .api
        .post(app.url("/introspect"))
        .basic_auth("app1", Some(APP1_SECRET))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(vec![b'%'; 20 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(oversized.status(), 413);
    let body: Value = oversized.json().await.unwrap();
    assert_eq!(body["error"], "invalid_request");

    let malformed = app
        .api
        .post(app.url("/introspect"))
        .basic_auth("app1", Some(APP1_SECRET))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("token=%zz&token=twice")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), 400);
    let body: Value = malformed.json().await.unwrap();
    assert_eq!(body["error"], "invalid_request");
}
