//! The admin API.

use serde_json::Value;

use crate::helpers::*;

#[tokio::test]
async fn the_admin_api_needs_the_token() {
    let app = spawn_app().await;
    let path = app.url("/admin/users/alice/sessions");
    let none = app.api.get(&path).send().await.unwrap();
    assert_eq!(none.status(), 401);
    let wrong = app
        .api
        .get(&path)
        .bearer_auth("not-the-admin-token-at-all")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
}

#[tokio::test]
async fn without_a_configured_token_the_admin_api_does_not_exist() {
    let app = spawn_app_with(|s| s.admin.token = None).await;
    let response = app
        .api
        .get(app.url("/admin/users/alice/sessions"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
}

#[tokio::test]
async fn an_admin_lists_and_ends_all_of_a_users_sessions() {
    let app = spawn_app().await;
    app.login_app1("alice").await;
    let first_browser = app.browser.clone();
    let mut app = app;
    app.browser = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    app.login_app1("alice").await;
    drop(first_browser);
    let body: Value = app
        .admin_get("/admin/users/alice/sessions")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["sessions"].as_array().unwrap().len(), 2);
    assert_eq!(body["user"]["username"], "alice");

    let ended: Value = app
        .admin_delete("/admin/users/alice/sessions")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(ended["ended"], 2);
    let body: Value = app
        .admin_get("/admin/users/alice/sessions")
        .await
        .json()
        .await
        .unwrap();
    assert!(body["sessions"].as_array().unwrap().is_empty());
    assert_eq!(app.get_authorize(&AuthRequest::app1()).await.status(), 200);
}

#[tokio::test]
async fn an_unknown_user_is_404() {
    let app = spawn_app().await;
    assert_eq!(
        app.admin_get("/admin/users/nobody/sessions").await.status(),
        404
    );
}
