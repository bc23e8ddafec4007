//! The account page: the profile, a password change checked like a sign-in, and the user's
//! sessions, each of which (or all of which) they can sign out, with single logout.

use std::time::Duration;

use reqwest::Response;
use reqwest::redirect::Policy;
use sso_server::audit::{Event, Query};

use crate::helpers::*;
use crate::receiver::Receiver;

const SETTLE: Duration = Duration::from_secs(10);
const NEW_PASSWORD: &str = "a brand new passphrase";
const CHROME_ON_LINUX: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 \
                               (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
const FIREFOX_ON_WINDOWS: &str =
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0";

/// A new browser at the center that sends `user_agent`.
fn browser_with_agent(app: &TestApp, user_agent: &str) -> Center {
    let mut center = Center::attach(app.address.clone());
    center.browser = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(Policy::none())
        .user_agent(user_agent)
        .build()
        .unwrap();
    center
}

/// Signs `username` in with `password` at the center itself, from the account page's
/// redirect; returns the response to the login form.
async fn sign_in_with(center: &Center, username: &str, password: &str) -> Response {
    let page = center
        .browser
        .get(center.url("/login?return_to=/account"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    center.submit_login(&page, username, password).await
}

/// Signs `username` in to the center, landing on the account page.
async fn sign_in(center: &Center, username: &str) {
    let response = sign_in_with(center, username, PASSWORD).await;
    assert_eq!(response.status(), 303, "{username} signs in");
    assert_eq!(location(&response), "/account");
}

/// The account page: its status and HTML.
async fn account(center: &Center) -> (u16, String) {
    account_in(center, None).await
}

async fn account_in(center: &Center, language: Option<&str>) -> (u16, String) {
    let mut request = center.browser.get(center.url("/account"));
    if let Some(language) = language {
        request = request.header("accept-language", language);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

/// The sessions listed on an account page: their sids, and whether each is the browser's own.
fn listed(page: &str) -> Vec<(String, bool)> {
    page.split("<tr class=\"session")
        .skip(1)
        .map(|row| {
            let current = row.starts_with(" current\"");
            let sid = row
                .split("data-sid=\"")
                .nth(1)
                .and_then(|rest| rest.split('"').next())
                .unwrap();
            (sid.to_owned(), current)
        })
        .collect()
}

/// The sid of the browser's own session, read from its account page.
async fn own_sid(center: &Center) -> String {
    let (status, page) = account(center).await;
    assert_eq!(status, 200, "{page}");
    let own: Vec<String> = listed(&page)
        .into_iter()
        .filter_map(|(sid, current)| current.then_some(sid))
        .collect();
    assert_eq!(own.len(), 1, "exactly one session is marked as this one");
    own[0].clone()
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

/// Submits the password form of the browser's account page.
async fn change_password(center: &Center, current: &str, new: &str, repeat: &str) -> Response {
    let (_, page) = account(center).await;
    let token = hidden(&page, "csrf_token");
    post(
        center,
        "/account/password",
        &[
            ("csrf_token", token.as_str()),
            ("current_password", current),
            ("new_password", new),
            ("repeat_password", repeat),
        ],
    )
    .await
}

/// Whether the browser still has a global session (silent SSO answers with a code).
async fn signed_in(center: &Center) -> bool {
    center.get_authorize(&AuthRequest::app1()).await.status() == 303
}

/// The status of a sign-in as `username` with `password` in a new browser.
async fn sign_in_elsewhere(app: &TestApp, username: &str, password: &str) -> u16 {
    let browser = Center::attach(app.address.clone());
    let response = sign_in_with(&browser, username, password).await;
    response.status().as_u16()
}

#[tokio::test]
async fn the_account_page_needs_a_session_and_shows_the_profile_and_sign_in_methods() {
    let app = spawn_app().await;
    let response = app.browser.get(app.url("/account")).send().await.unwrap();
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), "/login?return_to=/account");
    let response = post(&app, "/account/sessions/end-all", &[("csrf_token", "x")]).await;
    assert_eq!(response.status(), 303, "a form without a session too");
    assert_eq!(location(&response), "/login?return_to=/account");

    sign_in(&app, "alice").await;
    let (status, page) = account(&app).await;
    assert_eq!(status, 200, "{page}");
    for shown in [
        "<html lang=\"en\">",
        "Your account",
        ">alice<",
        ">Alice Liddell<",
        ">alice@example.test<",
        "href=\"/account/totp\"",
        "href=\"/account/passkeys\"",
        "href=\"/account/recovery-codes\"",
        "Authenticator app",
        "Active sessions",
        "Sign out everywhere",
    ] {
        assert!(page.contains(shown), "{shown} is on the page: {page}");
    }
    assert_eq!(listed(&page).len(), 1);
    assert!(!hidden(&page, "csrf_token").is_empty());
}

#[tokio::test]
async fn sessions_show_their_browser_address_start_and_applications() {
    let app = spawn_app().await;
    let laptop = browser_with_agent(&app, CHROME_ON_LINUX);
    sign_in(&laptop, "alice").await;
    let phone = browser_with_agent(&app, FIREFOX_ON_WINDOWS);
    let phone_sid = sid_of(&phone.login_app1("alice").await);
    let bob = Center::attach(app.address.clone());
    bob.login_app1("bob").await;

    let laptop_sid = own_sid(&laptop).await;
    let (_, page) = account(&laptop).await;
    let sessions = listed(&page);
    assert_eq!(
        sessions,
        vec![(laptop_sid.clone(), true), (phone_sid.clone(), false)],
        "alice's two sessions, this one first; not bob's"
    );
    assert_eq!(page.matches("This session").count(), 1);
    assert!(page.contains("Chrome on Linux"), "{page}");
    assert!(page.contains("Firefox on Windows"), "{page}");
    assert!(page.contains(">127.0.0.1<"), "{page}");
    assert!(
        page.contains("Application app1"),
        "the client's name: {page}"
    );
    let alice = app.user("alice").await;
    let sessions = app.state.sessions.list_for_user(&alice.id).await.unwrap();
    let started = sso_server::routes::console::utc(sessions[0].created_at);
    assert!(
        page.contains(&format!(">{started}<")),
        "when it started, UTC: {page}"
    );

    // A session recorded before browsers and addresses were: "unknown".
    sqlx::query("UPDATE global_sessions SET ip = NULL, user_agent = NULL WHERE sid = $1")
        .bind(&phone_sid)
        .execute(&app.state.pool)
        .await
        .unwrap();
    let (_, page) = account(&laptop).await;
    assert!(!page.contains("Firefox on Windows"));
    assert_eq!(page.matches(">unknown<").count(), 2, "browser and address");
}

#[tokio::test]
async fn changing_the_password_ends_the_other_sessions_with_single_logout_and_keeps_this_one() {
    let app = spawn_app().await;
    let receiver = Receiver::for_app1(&app).await;
    sign_in(&app, "alice").await;
    let own = own_sid(&app).await;
    let other = Center::attach(app.address.clone());
    let other_sid = sid_of(&other.login_app1("alice").await);
    let bob = Center::attach(app.address.clone());
    bob.login_app1("bob").await;

    let response = change_password(&app, PASSWORD, NEW_PASSWORD, NEW_PASSWORD).await;
    assert_eq!(response.status(), 200);
    let page = response.text().await.unwrap();
    assert!(page.contains("Your password has been changed"), "{page}");

    let deliveries = app
        .wait_for_deliveries(&other_sid, SETTLE, |d| {
            !d.is_empty() && d.iter().all(|d| d["state"] == "delivered")
        })
        .await;
    assert!(deliveries.iter().all(|d| d["reason"] == "password_changed"));
    assert_eq!(receiver.received().len(), 1, "app1 of the other session");
    assert!(!signed_in(&other).await, "the other session has ended");
    assert!(signed_in(&bob).await, "another user's session is untouched");
    assert_eq!(own_sid(&app).await, own, "this session stays");
    assert_eq!(listed(&account(&app).await.1).len(), 1);

    assert_eq!(sign_in_elsewhere(&app, "alice", PASSWORD).await, 401);
    assert_eq!(sign_in_elsewhere(&app, "alice", NEW_PASSWORD).await, 303);

    let query = Query {
        event: Some(Event::PasswordChanged),
        username: Some("alice".to_owned()),
        limit: 10,
        ..Query::default()
    };
    let events = app.state.audit.list(&query).await.unwrap().events;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].detail["ended"], 1);
    assert_eq!(events[0].actor, None, "the user changed it themselves");
}

#[tokio::test]
async fn a_wrong_current_password_a_mismatch_or_a_short_password_change_nothing() {
    let app = spawn_app().await;
    sign_in(&app, "alice").await;
    let other = Center::attach(app.address.clone());
    other.login_app1("alice").await;

    let wrong = change_password(&app, "not my password", NEW_PASSWORD, NEW_PASSWORD).await;
    assert_eq!(wrong.status(), 401);
    let page = wrong.text().await.unwrap();
    assert!(
        page.contains("The current password is not correct"),
        "{page}"
    );
    assert!(page.contains("id=\"password-form\""), "the form again");

    let mismatch = change_password(&app, PASSWORD, NEW_PASSWORD, "a brand new passphrasE").await;
    assert_eq!(mismatch.status(), 400);
    assert!(
        mismatch
            .text()
            .await
            .unwrap()
            .contains("The two new passwords are not the same")
    );

    let short = change_password(&app, PASSWORD, "short", "short").await;
    assert_eq!(short.status(), 400);
    assert!(
        short
            .text()
            .await
            .unwrap()
            .contains("must have 8 to 1024 characters")
    );

    assert!(signed_in(&other).await, "no session ended");
    assert_eq!(listed(&account(&app).await.1).len(), 2);
    assert_eq!(sign_in_elsewhere(&app, "alice", PASSWORD).await, 303);
    assert_eq!(sign_in_elsewhere(&app, "alice", NEW_PASSWORD).await, 401);
}

#[tokio::test]
async fn current_password_guesses_spend_the_login_budget() {
    let app = spawn_app_with(|settings| {
        settings.login.max_failures_per_device = 1;
        settings.login.max_failures_per_user_address = 1;
    })
    .await;
    sign_in(&app, "alice").await;
    for guess in ["guess one", "guess two"] {
        let response = change_password(&app, guess, NEW_PASSWORD, NEW_PASSWORD).await;
        assert_eq!(response.status(), 401, "{guess} is checked and wrong");
    }
    let limited = change_password(&app, PASSWORD, NEW_PASSWORD, NEW_PASSWORD).await;
    assert_eq!(
        limited.status(),
        429,
        "the right password too, once the budget is spent"
    );
    assert!(limited.headers().contains_key("retry-after"));
    assert!(
        limited
            .text()
            .await
            .unwrap()
            .contains("Too many sign-in attempts")
    );
    let hash = app
        .state
        .users
        .find_with_hash(&sso_server::domain::Username::parse("alice").unwrap())
        .await
        .unwrap()
        .unwrap()
        .1;
    assert!(
        app.state
            .hasher
            .verify(Some(hash), sso_server::users::Password::new(PASSWORD))
            .await
            .unwrap(),
        "the password is unchanged"
    );
}

#[tokio::test]
async fn forms_without_their_csrf_token_are_refused() {
    let app = spawn_app().await;
    sign_in(&app, "alice").await;
    let other = Center::attach(app.address.clone());
    let other_sid = sid_of(&other.login_app1("alice").await);

    let no_token = post(
        &app,
        "/account/password",
        &[
            ("current_password", PASSWORD),
            ("new_password", NEW_PASSWORD),
            ("repeat_password", NEW_PASSWORD),
        ],
    )
    .await;
    assert_eq!(no_token.status(), 403);
    let end_one = post(
        &app,
        &format!("/account/sessions/{other_sid}/end"),
        &[("csrf_token", "forged-token-0123456789abc")],
    )
    .await;
    assert_eq!(end_one.status(), 403);
    let end_all = post(&app, "/account/sessions/end-all", &[]).await;
    assert_eq!(end_all.status(), 403);

    // A token of another session of the same browser is no good either.
    let (_, page) = account(&app).await;
    let token = hidden(&page, "csrf_token");
    sign_in(&app, "bob").await;
    let stale = post(&app, "/account/sessions/end-all", &[("csrf_token", &token)]).await;
    assert_eq!(stale.status(), 403);

    assert!(signed_in(&other).await);
    assert!(signed_in(&app).await);
    assert_eq!(sign_in_elsewhere(&app, "alice", PASSWORD).await, 303);
}

#[tokio::test]
async fn signing_out_another_session_sends_it_single_logout() {
    let app = spawn_app().await;
    let receiver = Receiver::for_app1(&app).await;
    sign_in(&app, "alice").await;
    let other = Center::attach(app.address.clone());
    let other_sid = sid_of(&other.login_app1("alice").await);

    let (_, page) = account(&app).await;
    assert_eq!(listed(&page).len(), 2);
    let token = hidden(&page, "csrf_token");
    let response = post(
        &app,
        &format!("/account/sessions/{other_sid}/end"),
        &[("csrf_token", token.as_str())],
    )
    .await;
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), "/account");
    let deliveries = app
        .wait_for_deliveries(&other_sid, SETTLE, |d| {
            !d.is_empty() && d.iter().all(|d| d["state"] == "delivered")
        })
        .await;
    assert!(deliveries.iter().all(|d| d["reason"] == "logout"));
    assert_eq!(receiver.received().len(), 1);
    assert!(!signed_in(&other).await);
    assert!(signed_in(&app).await, "this session stays");
    assert_eq!(listed(&account(&app).await.1).len(), 1);

    // Signing out this browser's own session from its row signs it out.
    let own = own_sid(&app).await;
    let response = post(
        &app,
        &format!("/account/sessions/{own}/end"),
        &[("csrf_token", token.as_str())],
    )
    .await;
    assert_eq!(response.status(), 200);
    assert!(response.text().await.unwrap().contains("signed out"));
    assert!(!signed_in(&app).await);
}

#[tokio::test]
async fn a_session_of_another_user_or_an_ended_one_is_refused() {
    let app = spawn_app().await;
    sign_in(&app, "alice").await;
    let bob = Center::attach(app.address.clone());
    let bobs_sid = sid_of(&bob.login_app1("bob").await);
    let other = Center::attach(app.address.clone());
    let other_sid = sid_of(&other.login_app1("alice").await);
    let (_, page) = account(&app).await;
    let token = hidden(&page, "csrf_token");
    let end = |sid: String| {
        let token = token.clone();
        let app = &app;
        async move {
            post(
                app,
                &format!("/account/sessions/{sid}/end"),
                &[("csrf_token", token.as_str())],
            )
            .await
        }
    };

    let response = end(bobs_sid).await;
    assert_eq!(response.status(), 404);
    assert!(response.text().await.unwrap().contains("not one of yours"));
    assert!(signed_in(&bob).await, "bob's session is untouched");

    assert_eq!(end(other_sid.clone()).await.status(), 303);
    assert_eq!(end(other_sid).await.status(), 404, "already ended");
    assert_eq!(end("no-such-session".to_owned()).await.status(), 404);
    assert!(signed_in(&app).await);
}

#[tokio::test]
async fn signing_out_everywhere_ends_every_session_and_clears_the_cookie() {
    let app = spawn_app().await;
    let receiver = Receiver::for_app1(&app).await;
    sign_in(&app, "alice").await;
    let other = Center::attach(app.address.clone());
    let other_sid = sid_of(&other.login_app1("alice").await);
    let bob = Center::attach(app.address.clone());
    bob.login_app1("bob").await;

    let (_, page) = account(&app).await;
    let token = hidden(&page, "csrf_token");
    let response = post(
        &app,
        "/account/sessions/end-all",
        &[("csrf_token", token.as_str())],
    )
    .await;
    assert_eq!(response.status(), 200);
    let cleared = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .any(|value| {
            let value = value.to_str().unwrap();
            value.starts_with("sso_session=") && value.contains("Max-Age=0")
        });
    assert!(cleared, "the session cookie is removed");
    assert!(response.text().await.unwrap().contains("signed out"));

    app.wait_for_deliveries(&other_sid, SETTLE, |d| {
        !d.is_empty() && d.iter().all(|d| d["state"] == "delivered")
    })
    .await;
    assert_eq!(receiver.received().len(), 1);
    assert!(!signed_in(&other).await);
    assert!(!signed_in(&app).await);
    assert_eq!(account(&app).await.0, 303, "back to the login");
    assert!(signed_in(&bob).await, "bob's session is untouched");
}

#[tokio::test]
async fn the_account_page_speaks_chinese() {
    let app = spawn_app().await;
    let browser = browser_with_agent(&app, CHROME_ON_LINUX);
    sign_in(&browser, "alice").await;
    let (status, page) = account_in(&browser, Some("zh-CN,zh;q=0.9")).await;
    assert_eq!(status, 200);
    for shown in [
        "<html lang=\"zh-Hans\">",
        "我的账户",
        "修改密码",
        "登录方式",
        "活动会话",
        "当前会话",
        "Linux 上的 Chrome",
        "退出所有会话",
    ] {
        assert!(page.contains(shown), "{shown}: {page}");
    }
    let (_, page) = account(&browser).await;
    let token = hidden(&page, "csrf_token");
    let wrong = browser
        .browser
        .post(browser.url("/account/password"))
        .header("accept-language", "zh")
        .form(&[
            ("csrf_token", token.as_str()),
            ("current_password", "wrong password"),
            ("new_password", NEW_PASSWORD),
            ("repeat_password", NEW_PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    assert!(wrong.text().await.unwrap().contains("当前密码不正确"));
}

#[tokio::test]
async fn a_password_change_forgets_offline_tokens_even_of_this_session() {
    use sso_server::config::{AccessTokenFormat, GrantType};

    use crate::refresh::{
        OFFLINE_CALLBACK, OFFLINE_SECRET, code_for, exchange_ok, introspect, oauth_error, policy,
        refresh, register, text,
    };

    let app = spawn_app().await;
    register(
        &app,
        "offline",
        Some(OFFLINE_SECRET),
        Some(OFFLINE_CALLBACK),
        policy(
            &[GrantType::AuthorizationCode, GrantType::RefreshToken],
            &[],
            AccessTokenFormat::Opaque,
            true,
        ),
        jsonwebtoken::Algorithm::RS256,
    )
    .await;
    sign_in(&app, "alice").await;
    let own = own_sid(&app).await;
    let code = code_for(
        &app,
        "offline",
        OFFLINE_CALLBACK,
        "openid offline_access",
        "alice",
    )
    .await;
    let tokens = exchange_ok(&app, "offline", OFFLINE_SECRET, &code, OFFLINE_CALLBACK).await;
    assert_eq!(sid_of(&tokens), own, "granted within this session");
    let access = text(&tokens, "access_token");
    assert_eq!(introspect(&app, access).await["active"], true);

    let response = change_password(&app, PASSWORD, NEW_PASSWORD, NEW_PASSWORD).await;
    assert_eq!(response.status(), 200);
    assert_eq!(own_sid(&app).await, own, "this session stays");
    let response = refresh(
        &app,
        "offline",
        Some(OFFLINE_SECRET),
        text(&tokens, "refresh_token"),
        None,
    )
    .await;
    assert_eq!(
        oauth_error(response).await,
        (400, "invalid_grant".to_owned()),
        "the offline refresh token is gone with the old password"
    );
    assert_eq!(
        introspect(&app, access).await["active"],
        true,
        "an access token of this session lives as long as the session"
    );
}
