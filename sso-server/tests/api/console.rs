//! The admin console: access through the center's own sign-in and the `admin` group, CSRF on
//! every form, and actions that behave like the admin API's (audit trail, single logout).

use std::collections::BTreeSet;
use std::time::Duration;

use reqwest::Response;
use sso_server::audit::{Entry, Event, Query, Recorded};
use sso_server::domain::{ClientId, Username};
use sso_server::users::{GroupChange, GroupName};

use crate::configured_clients::configured;
use crate::helpers::*;
use crate::receiver::Receiver;

const SETTLE: Duration = Duration::from_secs(10);

/// Puts `username` in the `admin` group.
async fn make_admin(app: &TestApp, username: &str) {
    let admin: BTreeSet<GroupName> = [GroupName::parse("admin").unwrap()].into();
    app.state
        .users
        .change_groups(
            &Username::parse(username).unwrap(),
            &GroupChange::Add(admin),
        )
        .await
        .unwrap()
        .unwrap();
}

/// Signs `username` in to the center itself in `browser`, as the console's sign-in does.
async fn sign_in(center: &Center, username: &str) {
    let page = center
        .browser
        .get(center.url("/login?return_to=/admin/users"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let response = center.submit_login(&page, username, PASSWORD).await;
    assert_eq!(response.status(), 303, "{username} signs in");
    assert_eq!(location(&response), "/admin/users");
}

/// A center with alice signed in as an administrator.
async fn console() -> TestApp {
    let app = spawn_app().await;
    make_admin(&app, "alice").await;
    sign_in(&app, "alice").await;
    app
}

async fn get(center: &Center, path: &str) -> (u16, String) {
    let response = center.browser.get(center.url(path)).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

/// The CSRF token of the console's forms, read from `path`.
async fn csrf_token(center: &Center, path: &str) -> String {
    let (status, page) = get(center, path).await;
    assert_eq!(status, 200, "{page}");
    hidden(&page, "csrf_token")
}

async fn post(center: &Center, path: &str, fields: &[(&str, &str)]) -> Response {
    center
        .browser
        .post(center.url(path))
        .form(fields)
        .send()
        .await
        .unwrap()
}

/// The audit events `event` about `username`, newest first.
async fn audited(app: &TestApp, event: Event, username: Option<&str>) -> Vec<Recorded> {
    let query = Query {
        event: Some(event),
        username: username.map(str::to_owned),
        limit: 100,
        ..Query::default()
    };
    app.state.audit.list(&query).await.unwrap().events
}

/// The status of a sign-in at app1 as `username` with `password` in a new browser.
async fn sign_in_elsewhere(app: &TestApp, username: &str, password: &str) -> u16 {
    let browser = Center::attach(app.address.clone());
    let response = browser.get_authorize(&AuthRequest::app1()).await;
    let login = response.text().await.unwrap();
    let response = browser.submit_login(&login, username, password).await;
    response.status().as_u16()
}

async fn is_disabled(app: &TestApp, username: &str) -> bool {
    app.user(username).await.disabled
}

#[tokio::test]
async fn without_a_session_the_console_sends_to_the_login_and_back() {
    let app = spawn_app().await;
    make_admin(&app, "alice").await;
    let response = app
        .browser
        .get(app.url("/admin/sessions?username=bob"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    let login = location(&response);
    assert_eq!(
        login,
        "/login?return_to=%2Fadmin%2Fsessions%3Fusername%3Dbob"
    );
    let (status, page) = get(&app, &login).await;
    assert_eq!(status, 200);
    assert_eq!(hidden(&page, "return_to"), "/admin/sessions?username=bob");
    let response = app.submit_login(&page, "alice", PASSWORD).await;
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), "/admin/sessions?username=bob");
    let (status, page) = get(&app, "/admin/sessions?username=bob").await;
    assert_eq!(status, 200);
    assert!(page.contains("Global sessions of"), "{page}");

    for foreign in ["//evil.test/admin", "https://evil.test/", "/\\evil.test"] {
        let (_, page) = get(&app, &format!("/login?return_to={}", urlencode(foreign))).await;
        assert_eq!(hidden(&page, "return_to"), "", "{foreign} is not ours");
    }
}

fn urlencode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

#[tokio::test]
async fn console_pages_keep_the_centers_strict_content_security_policy() {
    let app = console().await;
    for path in [
        "/admin/users",
        "/admin/users/bob",
        "/admin/sessions?username=bob",
        "/admin/clients",
        "/admin/clients/app1",
        "/admin/deliveries",
        "/admin/audit-log",
    ] {
        let response = app.browser.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        let headers = response.headers().clone();
        assert_eq!(
            headers["content-security-policy"],
            sso_server::web::CSP,
            "{path}"
        );
        assert_eq!(headers["cache-control"], "no-store", "{path}");
        let page = response.text().await.unwrap();
        assert!(
            !page.contains("<script") && !page.contains("style="),
            "{path}"
        );
    }
}

#[tokio::test]
async fn a_signed_in_user_outside_the_admin_group_gets_a_readable_403() {
    let app = spawn_app().await;
    sign_in(&app, "bob").await;
    for path in ["/admin/users", "/admin/clients", "/admin/audit-log"] {
        let (status, page) = get(&app, path).await;
        assert_eq!(status, 403, "{path}");
        assert!(
            page.contains("Signed in as bob, who is not a member of the admin group"),
            "{page}"
        );
    }
    let response = post(
        &app,
        "/admin/users",
        &[("username", "mallory"), ("password", "long enough")],
    )
    .await;
    assert_eq!(response.status(), 403);
    assert!(
        app.state
            .users
            .find(&Username::parse("mallory").unwrap())
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn the_console_can_be_turned_off() {
    let app = spawn_app_with(|s| s.admin.console = false).await;
    make_admin(&app, "alice").await;
    sign_in(&app, "alice").await;
    assert_eq!(get(&app, "/admin/users").await.0, 404);
}

#[tokio::test]
async fn forms_without_the_right_csrf_token_are_refused_and_change_nothing() {
    let app = console().await;
    let token = csrf_token(&app, "/admin/users/bob").await;
    let missing = post(&app, "/admin/users/bob/disable", &[]).await;
    assert_eq!(missing.status(), 403);
    assert!(missing.text().await.unwrap().contains("Form refused"));
    let wrong = post(
        &app,
        "/admin/users/bob/disable",
        &[("csrf_token", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")],
    )
    .await;
    assert_eq!(wrong.status(), 403);
    let created = post(
        &app,
        "/admin/users",
        &[("username", "carol"), ("password", "long enough")],
    )
    .await;
    assert_eq!(created.status(), 403);
    assert!(
        !is_disabled(&app, "bob").await,
        "refused forms change nothing"
    );
    assert!(
        audited(&app, Event::AdminAction, Some("bob"))
            .await
            .is_empty()
    );

    // Another administrator's token does not work here either: tokens are bound to a session.
    let other = Center::attach(app.address.clone());
    make_admin(&app, "bob").await;
    sign_in(&other, "bob").await;
    let bobs = csrf_token(&other, "/admin/users").await;
    assert_ne!(bobs, token);
    let response = post(
        &app,
        "/admin/users/carol/enable",
        &[("csrf_token", bobs.as_str())],
    )
    .await;
    assert_eq!(response.status(), 403);

    let done = post(
        &app,
        "/admin/users/bob/disable",
        &[("csrf_token", token.as_str())],
    )
    .await;
    assert_eq!(done.status(), 303);
    assert!(is_disabled(&app, "bob").await);
}

#[tokio::test]
async fn an_admin_adds_a_user_who_can_then_sign_in() {
    let app = console().await;
    let token = csrf_token(&app, "/admin/users").await;
    let response = post(
        &app,
        "/admin/users",
        &[
            ("csrf_token", token.as_str()),
            ("username", "carol"),
            ("name", "Carol Danvers"),
            ("email", "carol@example.test"),
            ("password", PASSWORD),
        ],
    )
    .await;
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), "/admin/users/carol");
    let (status, page) = get(&app, "/admin/users?q=danvers").await;
    assert_eq!(status, 200);
    assert!(page.contains("/admin/users/carol"), "{page}");
    assert!(!page.contains("/admin/users/bob"), "the search filters");

    let carol = Center::attach(app.address.clone());
    carol.login(&AuthRequest::app1(), "carol").await;

    let entry = &audited(&app, Event::AdminAction, Some("carol")).await[0];
    assert_eq!(entry.actor.as_deref(), Some("alice"));
    assert_eq!(entry.detail["action"], "add_user");

    for (username, password, why) in [
        ("carol", PASSWORD, "already exists"),
        ("no spaces", PASSWORD, "not a valid username"),
        ("dave", "short", "8 to 1024 characters"),
    ] {
        let response = post(
            &app,
            "/admin/users",
            &[
                ("csrf_token", token.as_str()),
                ("username", username),
                ("password", password),
            ],
        )
        .await;
        assert_eq!(response.status(), 400, "{username}");
        let page = response.text().await.unwrap();
        assert!(page.contains(why), "{page}");
        assert!(page.contains("Back to the admin console"));
    }
}

#[tokio::test]
async fn a_disabled_user_is_signed_out_and_refused_at_sign_in() {
    let app = console().await;
    let bob = Center::attach(app.address.clone());
    bob.login(&AuthRequest::app1(), "bob").await;
    let bob_id = app.user("bob").await.id;
    assert_eq!(
        app.state
            .sessions
            .list_for_user(&bob_id)
            .await
            .unwrap()
            .len(),
        1
    );

    let token = csrf_token(&app, "/admin/users/bob").await;
    let response = post(
        &app,
        "/admin/users/bob/disable",
        &[("csrf_token", token.as_str())],
    )
    .await;
    assert_eq!(response.status(), 303);
    assert!(
        app.state
            .sessions
            .list_for_user(&bob_id)
            .await
            .unwrap()
            .is_empty()
    );
    let (_, page) = get(&app, "/admin/users/bob").await;
    assert!(page.contains("disabled"));

    let refused = sign_in_elsewhere(&app, "bob", PASSWORD).await;
    assert_eq!(refused, 403, "a disabled user cannot sign in");

    let entry = &audited(&app, Event::AdminAction, Some("bob")).await[0];
    assert_eq!(entry.actor.as_deref(), Some("alice"));
    assert_eq!(entry.detail["action"], "disable_user");
    let (status, page) = get(&app, "/admin/audit-log?username=bob&event=admin_action").await;
    assert_eq!(status, 200);
    assert!(
        page.contains("disable_user") && page.contains("alice"),
        "{page}"
    );
    assert_eq!(get(&app, "/admin/audit-log?event=nonsense").await.0, 400);

    let enable = post(
        &app,
        "/admin/users/bob/enable",
        &[("csrf_token", token.as_str())],
    )
    .await;
    assert_eq!(enable.status(), 303);
    let enabled = sign_in_elsewhere(&app, "bob", PASSWORD).await;
    assert_eq!(enabled, 303, "enabled again, bob signs in");
}

#[tokio::test]
async fn the_audit_log_is_read_a_page_at_a_time_and_wrong_methods_get_a_page() {
    let app = console().await;
    for n in 0..55 {
        let entry = Entry::new(Event::AdminAction).user("pager").with("n", n);
        app.state.audit.record(entry).await;
    }
    let (status, first) = get(&app, "/admin/audit-log?username=pager").await;
    assert_eq!(status, 200);
    assert_eq!(first.matches("data-label=\"Time (UTC)\"").count(), 50);
    assert!(first.contains("{&#34;n&#34;:54}"), "newest first");
    let next = first
        .split("href=\"")
        .find_map(|rest| rest.strip_prefix("/admin/audit-log?"))
        .and_then(|rest| rest.split('"').next())
        .expect("a link to the next page")
        .replace("&#38;", "&");
    let (status, second) = get(&app, &format!("/admin/audit-log?{next}")).await;
    assert_eq!(status, 200);
    assert_eq!(second.matches("data-label=\"Time (UTC)\"").count(), 5);
    assert!(second.contains("{&#34;n&#34;:0}"));
    assert!(!second.contains("id=\"next-page\""), "the last page");
    assert_eq!(get(&app, "/admin/audit-log?after=garbage").await.0, 400);

    let wrong = app
        .browser
        .get(app.url("/admin/users/bob/disable"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 405);
    assert_eq!(wrong.headers()["allow"], "POST");
    assert!(wrong.text().await.unwrap().contains("<h1"));
}

#[tokio::test]
async fn groups_and_passwords_are_set_from_the_console() {
    let app = console().await;
    let token = csrf_token(&app, "/admin/users/bob").await;
    let response = post(
        &app,
        "/admin/users/bob/membership",
        &[("csrf_token", token.as_str()), ("groups", "staff, ops")],
    )
    .await;
    assert_eq!(response.status(), 303);
    let groups = app
        .state
        .users
        .groups(&app.user("bob").await.id)
        .await
        .unwrap();
    let names: Vec<&str> = groups.iter().map(GroupName::as_str).collect();
    assert_eq!(names, ["ops", "staff"]);
    let bad = post(
        &app,
        "/admin/users/bob/membership",
        &[("csrf_token", token.as_str()), ("groups", "no spaces")],
    )
    .await;
    assert_eq!(bad.status(), 400);

    let response = post(
        &app,
        "/admin/users/bob/password",
        &[
            ("csrf_token", token.as_str()),
            ("password", "a brand new password"),
        ],
    )
    .await;
    assert_eq!(response.status(), 303);
    let old = sign_in_elsewhere(&app, "bob", PASSWORD).await;
    assert_eq!(old, 401, "the old password no longer works");
    let new = sign_in_elsewhere(&app, "bob", "a brand new password").await;
    assert_eq!(new, 303, "the new one does");
    let entry = &audited(&app, Event::PasswordChanged, Some("bob")).await[0];
    assert_eq!(entry.actor.as_deref(), Some("alice"));
}

/// The secret in a client page that shows a new one.
fn shown_secret(page: &str) -> Option<String> {
    let start = page.find("<code class=\"secret\">")? + "<code class=\"secret\">".len();
    let end = page[start..].find("</code>")?;
    Some(page[start..start + end].to_owned())
}

#[tokio::test]
async fn a_rotated_secret_is_shown_once_and_works() {
    let app = console().await;
    let token = csrf_token(&app, "/admin/clients/app1").await;
    let response = post(
        &app,
        "/admin/clients/app1/secret",
        &[("csrf_token", token.as_str())],
    )
    .await;
    assert_eq!(response.status(), 200);
    let page = response.text().await.unwrap();
    let secret = shown_secret(&page).expect("the new secret is shown");
    assert!(secret.len() >= 32);
    let app1 = app
        .state
        .clients
        .get(&ClientId::parse("app1").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(app1.verify_secret(&secret));
    assert!(!app1.verify_secret(APP1_SECRET), "the old secret is gone");

    let (status, again) = get(&app, "/admin/clients/app1").await;
    assert_eq!(status, 200);
    assert!(shown_secret(&again).is_none());
    assert!(!again.contains(&secret), "the secret is never shown again");
    assert!(again.contains("set (hidden)"));

    let entry = &audited(&app, Event::ClientChanged, None).await[0];
    assert_eq!(entry.actor.as_deref(), Some("alice"));
    assert_eq!(entry.client_id.as_deref(), Some("app1"));
    assert_eq!(entry.detail["action"], "rotate_secret");
}

#[tokio::test]
async fn an_admin_registers_a_client_and_changes_its_uris() {
    let app = console().await;
    let token = csrf_token(&app, "/admin/clients").await;
    let response = post(
        &app,
        "/admin/clients",
        &[
            ("csrf_token", token.as_str()),
            ("client_id", "wiki"),
            ("name", "Wiki"),
            ("redirect_uris", "https://wiki.localhost/cb\r\n"),
            ("post_logout_redirect_uris", ""),
            ("backchannel_logout_uri", ""),
        ],
    )
    .await;
    assert_eq!(response.status(), 201);
    let secret = shown_secret(&response.text().await.unwrap()).expect("a secret, once");
    let id = ClientId::parse("wiki").unwrap();
    let wiki = app.state.clients.get(&id).await.unwrap().unwrap();
    assert!(wiki.verify_secret(&secret));

    let response = post(
        &app,
        "/admin/clients/wiki/uris",
        &[
            ("csrf_token", token.as_str()),
            (
                "redirect_uris",
                "https://wiki.localhost/cb\nhttps://wiki.localhost/cb2",
            ),
            ("post_logout_redirect_uris", "https://wiki.localhost/"),
            ("backchannel_logout_uri", "https://wiki.localhost/logout"),
        ],
    )
    .await;
    assert_eq!(response.status(), 303);
    let wiki = app.state.clients.get(&id).await.unwrap().unwrap();
    assert_eq!(wiki.redirect_uris.len(), 2);
    assert!(
        wiki.verify_secret(&secret),
        "changing URIs keeps the secret"
    );
    assert_eq!(
        wiki.backchannel_logout_uri.unwrap().as_str(),
        "https://wiki.localhost/logout"
    );

    for (uris, why) in [
        ("", "redirect URI is needed"),
        ("not a uri", "absolute http(s) URI"),
    ] {
        let response = post(
            &app,
            "/admin/clients/wiki/uris",
            &[("csrf_token", token.as_str()), ("redirect_uris", uris)],
        )
        .await;
        assert_eq!(response.status(), 400);
        assert!(response.text().await.unwrap().contains(why));
    }
    assert_eq!(
        app.state
            .clients
            .get(&id)
            .await
            .unwrap()
            .unwrap()
            .redirect_uris
            .len(),
        2
    );
}

#[tokio::test]
async fn clients_of_the_configuration_file_are_read_only() {
    let app = spawn_app_with(|settings| {
        let mut portal = configured("portal", "https://portal.localhost/cb");
        portal.secret = Some(sso_server::config::Secret::new("portal-secret-0123456789"));
        settings.clients.push(portal);
    })
    .await;
    make_admin(&app, "alice").await;
    sign_in(&app, "alice").await;
    let (status, page) = get(&app, "/admin/clients/portal").await;
    assert_eq!(status, 200);
    assert!(page.contains("read-only"));
    assert!(!page.contains("/admin/clients/portal/uris"), "no edit form");
    assert!(
        !page.contains("/admin/clients/portal/secret"),
        "no rotation"
    );
    let (_, list) = get(&app, "/admin/clients").await;
    assert!(list.contains("configuration file"));

    let token = csrf_token(&app, "/admin/clients").await;
    let edit = post(
        &app,
        "/admin/clients/portal/uris",
        &[
            ("csrf_token", token.as_str()),
            ("redirect_uris", "https://evil.test/cb"),
        ],
    )
    .await;
    assert_eq!(edit.status(), 403);
    assert!(edit.text().await.unwrap().contains("configuration file"));
    let rotate = post(
        &app,
        "/admin/clients/portal/secret",
        &[("csrf_token", token.as_str())],
    )
    .await;
    assert_eq!(rotate.status(), 403);
    let portal = app
        .state
        .clients
        .get(&ClientId::parse("portal").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        portal.redirect_uris[0].as_str(),
        "https://portal.localhost/cb"
    );
    assert!(portal.verify_secret("portal-secret-0123456789"));
    assert!(audited(&app, Event::ClientChanged, None).await.is_empty());
}

/// The session ids listed on a sessions page.
fn listed_sids(page: &str) -> Vec<String> {
    page.split("action=\"/admin/sessions/")
        .skip(1)
        .map(|rest| rest.split('/').next().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn ending_a_session_from_the_console_sends_single_logout() {
    let app = console().await;
    let receiver = Receiver::for_app1(&app).await;
    let bob = Center::attach(app.address.clone());
    let sid = sid_of(&bob.login_app1("bob").await);

    let (status, page) = get(&app, "/admin/sessions?username=bob").await;
    assert_eq!(status, 200);
    assert_eq!(listed_sids(&page), std::slice::from_ref(&sid));
    assert!(
        page.contains("app1"),
        "the session's applications are listed"
    );
    let token = hidden(&page, "csrf_token");
    let response = post(
        &app,
        &format!("/admin/sessions/{sid}/end"),
        &[("csrf_token", token.as_str()), ("username", "bob")],
    )
    .await;
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), "/admin/sessions?username=bob");
    let deliveries = app
        .wait_for_deliveries(&sid, SETTLE, |d| {
            !d.is_empty() && d.iter().all(|d| d["state"] == "delivered")
        })
        .await;
    assert!(deliveries.iter().all(|d| d["reason"] == "admin_kill"));
    assert_eq!(receiver.received().len(), 1);
    assert_eq!(
        bob.get_authorize(&AuthRequest::app1()).await.status(),
        200,
        "signed out"
    );
    let entry = &audited(&app, Event::AdminAction, None).await[0];
    assert_eq!(entry.actor.as_deref(), Some("alice"));
    assert_eq!(entry.detail["action"], "end_session");
    assert_eq!(entry.detail["sid"], sid.as_str());

    let again = post(
        &app,
        &format!("/admin/sessions/{sid}/end"),
        &[("csrf_token", token.as_str())],
    )
    .await;
    assert_eq!(again.status(), 404);

    bob.login(&AuthRequest::app1(), "bob").await;
    let response = post(
        &app,
        "/admin/users/bob/sessions/end",
        &[("csrf_token", token.as_str())],
    )
    .await;
    assert_eq!(response.status(), 303);
    let bob_id = app.user("bob").await.id;
    assert!(
        app.state
            .sessions
            .list_for_user(&bob_id)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_failed_delivery_is_listed_and_retried_now() {
    let app = spawn_app_with(|s| {
        s.slo.max_attempts = 1;
    })
    .await;
    make_admin(&app, "alice").await;
    sign_in(&app, "alice").await;
    let port = crate::receiver::reserve_port();
    app.add_client(
        "app1",
        Some(APP1_SECRET),
        APP1_CALLBACK,
        Some(&crate::receiver::uri_for(port)),
    )
    .await;
    let bob = Center::attach(app.address.clone());
    bob.login(&AuthRequest::app1(), "bob").await;
    let bob_id = app.user("bob").await.id;
    let sid = app.state.sessions.list_for_user(&bob_id).await.unwrap()[0]
        .sid
        .clone();
    // Registered at the exchange; this sign-in stopped at the callback, so register by hand.
    app.state
        .sessions
        .register_client(&sid, &ClientId::parse("app1").unwrap())
        .await
        .unwrap();
    assert!(
        app.state
            .sessions
            .end(&sid, sso_server::slo::EndReason::Logout)
            .await
            .unwrap()
    );
    app.wait_for_deliveries(&sid, SETTLE, |d| d.len() == 1 && d[0]["state"] == "gave_up")
        .await;

    let (status, page) = get(&app, "/admin/deliveries").await;
    assert_eq!(status, 200);
    assert!(page.contains("given up") && page.contains("bob"), "{page}");
    let id = page
        .split("action=\"/admin/deliveries/")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap()
        .to_owned();
    let receiver = Receiver::start_on(port).await;
    let token = hidden(&page, "csrf_token");
    let response = post(
        &app,
        &format!("/admin/deliveries/{id}/retry"),
        &[("csrf_token", token.as_str())],
    )
    .await;
    assert_eq!(response.status(), 303);
    app.wait_for_deliveries(&sid, SETTLE, |d| {
        d.len() == 1 && d[0]["state"] == "delivered"
    })
    .await;
    assert_eq!(receiver.received().len(), 1);
    let (_, page) = get(&app, "/admin/deliveries").await;
    assert!(page.contains("Every logout has been delivered"));
    let entry = &audited(&app, Event::AdminAction, None).await[0];
    assert_eq!(entry.detail["action"], "retry_delivery");
    assert_eq!(entry.actor.as_deref(), Some("alice"));
}

#[tokio::test]
async fn an_administrator_resets_a_users_second_factors_from_the_console() {
    let app = console().await;
    let bob = Center::attach(app.address.clone());
    bob.login_app1("bob").await;
    crate::factors::enroll(&bob).await;
    let (_, page) = get(&app, "/admin/users/bob").await;
    assert!(page.contains("id=\"reset-factors\""), "{page}");
    let token = csrf_token(&app, "/admin/users/bob").await;
    let missing = post(&app, "/admin/users/bob/factors/reset", &[]).await;
    assert_eq!(missing.status(), 403);
    let user = app.user("bob").await;
    assert!(app.state.factors.has_any(&user.id).await.unwrap());
    let done = post(
        &app,
        "/admin/users/bob/factors/reset",
        &[("csrf_token", &token)],
    )
    .await;
    assert_eq!(done.status(), 303);
    assert!(!app.state.factors.has_any(&user.id).await.unwrap());
    assert!(
        app.state
            .sessions
            .list_for_user(&user.id)
            .await
            .unwrap()
            .is_empty()
    );
    let reset = audited(&app, Event::FactorsReset, Some("bob")).await;
    assert_eq!(reset.len(), 1);
    let (_, page) = get(&app, "/admin/users/bob").await;
    assert!(!page.contains("id=\"reset-factors\""));
}
