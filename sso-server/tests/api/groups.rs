//! Users' groups: the command line, the admin API, and the `groups` claim.

use serde_json::{Value, json};

use crate::cli::{command, run, spawn_on_shared_database};
use crate::helpers::*;

/// Signs `username` in at app1 asking for `scope`; the token response.
async fn tokens_with_scope(app: &Center, username: &str, scope: &str) -> Value {
    let request = AuthRequest::app1();
    let query = request.query().replace(
        "scope=openid+profile+email",
        &format!("scope={}", scope.replace(' ', "+")),
    );
    let page = app
        .browser
        .get(app.url(&format!("/authorize?{query}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let callback = app
        .follow(app.submit_login(&page, username, PASSWORD).await)
        .await;
    let response = app
        .exchange(
            "app1",
            APP1_SECRET,
            &callback.code(),
            APP1_CALLBACK,
            Some(VERIFIER),
        )
        .await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

async fn admin_put(app: &TestApp, path: &str, body: Option<Value>) -> reqwest::Response {
    let request = app.api.put(app.url(path)).bearer_auth(ADMIN_TOKEN);
    let request = match body {
        Some(body) => request.json(&body),
        None => request,
    };
    request.send().await.unwrap()
}

#[tokio::test]
async fn the_command_line_sets_adds_removes_and_lists_groups() {
    let (app, database) = spawn_on_shared_database().await;
    let set = run(
        &database,
        &["user", "groups", "alice", "set", "staff,admins"],
        "",
    )
    .await;
    assert_eq!(set.trim(), "alice\tadmins,staff");
    let added = run(&database, &["user", "groups", "alice", "add", "ops"], "").await;
    assert_eq!(added.trim(), "alice\tadmins,ops,staff");
    let removed = run(
        &database,
        &["user", "groups", "alice", "remove", "admins,nope"],
        "",
    )
    .await;
    assert_eq!(removed.trim(), "alice\tops,staff");
    let listed = run(&database, &["user", "groups", "alice"], "").await;
    assert_eq!(listed.trim(), "alice\tops,staff");
    let cleared = run(&database, &["user", "groups", "alice", "set", ""], "").await;
    assert_eq!(cleared.trim_end(), "alice");

    let alice = app.user("alice").await;
    assert!(app.state.users.groups(&alice.id).await.unwrap().is_empty());
    let bob = run(&database, &["user", "groups", "bob"], "").await;
    assert_eq!(bob.trim_end(), "bob", "groups are per user");
}

#[tokio::test]
async fn the_command_line_refuses_bad_group_names_and_unknown_users() {
    let (_app, database) = spawn_on_shared_database().await;
    for (args, expected) in [
        (
            &["user", "groups", "alice", "set", "a b"][..],
            "not a valid group name",
        ),
        (
            &["user", "groups", "alice", "add", "x,y;z"][..],
            "not a valid group name",
        ),
        (
            &["user", "groups", "nobody", "set", "staff"][..],
            "no user named nobody",
        ),
        (&["user", "groups", "nobody"][..], "no user named nobody"),
    ] {
        let output = command(&database, args, &[], "").await;
        assert!(!output.status.success(), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
}

#[tokio::test]
async fn the_admin_api_manages_groups() {
    let app = spawn_app().await;
    let response = admin_put(
        &app,
        "/admin/users/alice/groups",
        Some(json!({"groups": ["staff", "admins"]})),
    )
    .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["groups"], json!(["admins", "staff"]));

    assert_eq!(
        admin_put(&app, "/admin/users/alice/groups/ops", None)
            .await
            .status(),
        200
    );
    let removed = app.admin_delete("/admin/users/alice/groups/admins").await;
    assert_eq!(removed.status(), 200);
    let listed: Value = app
        .admin_get("/admin/users/alice/groups")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        listed,
        json!({"username": "alice", "groups": ["ops", "staff"]})
    );
}

#[tokio::test]
async fn the_admin_api_refuses_bad_group_requests() {
    let app = spawn_app().await;
    let bad_name = admin_put(
        &app,
        "/admin/users/alice/groups",
        Some(json!({"groups": ["a,b"]})),
    )
    .await;
    assert_eq!(bad_name.status(), 400);
    let bad_json = app
        .api
        .put(app.url("/admin/users/alice/groups"))
        .bearer_auth(ADMIN_TOKEN)
        .header("content-type", "application/json")
        .body("{\"groups\": 7}")
        .send()
        .await
        .unwrap();
    assert_eq!(bad_json.status(), 400);
    let body = bad_json.text().await.unwrap();
    assert!(!body.contains("invalid type"), "no parser text: {body}");
    assert_eq!(
        admin_put(&app, "/admin/users/nobody/groups/staff", None)
            .await
            .status(),
        404
    );
    assert_eq!(
        admin_put(&app, "/admin/users/alice/groups/a%20b", None)
            .await
            .status(),
        400
    );
    let anonymous = app
        .api
        .put(app.url("/admin/users/alice/groups/staff"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    let alice = app.user("alice").await;
    assert!(
        app.state.users.groups(&alice.id).await.unwrap().is_empty(),
        "nothing refused was stored"
    );
}

#[tokio::test]
async fn scope_groups_puts_the_groups_in_the_id_token_and_userinfo() {
    let app = spawn_app().await;
    admin_put(
        &app,
        "/admin/users/alice/groups",
        Some(json!({"groups": ["staff", "admins"]})),
    )
    .await;
    let tokens = tokens_with_scope(&app, "alice", "openid profile groups").await;
    assert_eq!(
        claims(tokens["id_token"].as_str().unwrap())["groups"],
        json!(["admins", "staff"])
    );
    let userinfo: Value = app
        .userinfo(tokens["access_token"].as_str().unwrap())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(userinfo["groups"], json!(["admins", "staff"]));
}

#[tokio::test]
async fn without_scope_groups_there_is_no_groups_claim() {
    let app = spawn_app().await;
    admin_put(&app, "/admin/users/alice/groups/staff", None).await;
    let tokens = app.login_app1("alice").await;
    assert!(
        claims(tokens["id_token"].as_str().unwrap())
            .get("groups")
            .is_none()
    );
    let userinfo: Value = app
        .userinfo(tokens["access_token"].as_str().unwrap())
        .await
        .json()
        .await
        .unwrap();
    assert!(userinfo.get("groups").is_none(), "{userinfo}");

    let other_browser = Center::attach(app.address.clone());
    let bob = tokens_with_scope(&other_browser, "bob", "openid groups").await;
    assert_eq!(
        claims(bob["id_token"].as_str().unwrap())["groups"],
        json!([]),
        "asked for and empty"
    );
}

#[tokio::test]
async fn discovery_advertises_the_groups_scope_and_claim() {
    let app = spawn_app().await;
    let metadata: Value = app.get_json("/.well-known/openid-configuration").await;
    let has = |field: &str| {
        metadata[field]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v == "groups")
    };
    assert!(has("scopes_supported"));
    assert!(has("claims_supported"));
}
