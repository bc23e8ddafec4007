//! Refresh tokens at `/token` (`grant_type=refresh_token`): rotation, reuse detection, one
//! winner across replicas, the global session's lifetime, `offline_access`, scope narrowing and
//! the refreshed id token. Also the helpers the other token tests share.

use serde_json::Value;
use sso_server::clients::{NewClient, TokenPolicy};
use sso_server::config::{AccessTokenFormat, GrantType};
use sso_server::domain::{ClientId, RedirectUri, Username};
use sso_server::slo::EndReason;

use crate::helpers::*;

pub(crate) const OFFLINE_SECRET: &str = "offline-secret-0123456789abcdef";
pub(crate) const OFFLINE_CALLBACK: &str = "http://offline.localhost:8084/callback";

/// Registers a confidential client `id` (or a public one without `secret`) with a token
/// policy of its own.
pub(crate) async fn register(
    app: &TestApp,
    id: &str,
    secret: Option<&str>,
    callback: Option<&str>,
    tokens: TokenPolicy,
    alg: jsonwebtoken::Algorithm,
) {
    app.state
        .clients
        .upsert(NewClient {
            id: ClientId::parse(id).unwrap(),
            name: format!("Application {id}"),
            secret: secret.map(str::to_owned),
            redirect_uris: callback
                .map(|uri| vec![RedirectUri::parse(uri).unwrap()])
                .unwrap_or_default(),
            post_logout_redirect_uris: Vec::new(),
            backchannel_logout_uri: None,
            id_token_alg: alg,
            tokens,
        })
        .await
        .unwrap();
}

/// A token policy: `grants`, `scopes` for client credentials, the access token format and
/// whether offline_access is allowed.
pub(crate) fn policy(
    grants: &[GrantType],
    scopes: &[&str],
    format: AccessTokenFormat,
    offline: bool,
) -> TokenPolicy {
    TokenPolicy::new(
        grants.to_vec(),
        scopes.iter().map(|s| (*s).to_owned()).collect(),
        format,
        offline,
    )
    .unwrap()
}

/// Signs `username` in at `client_id` asking for `scope`, and returns the code.
pub(crate) async fn code_for(
    app: &Center,
    client_id: &str,
    callback: &str,
    scope: &str,
    username: &str,
) -> String {
    let mut scoped = url::form_urlencoded::Serializer::new(String::new());
    scoped.append_pair("scope", scope);
    let query = AuthRequest::new(client_id, callback)
        .query()
        .replace("scope=openid+profile+email", &scoped.finish());
    let response = app
        .browser
        .get(app.url(&format!("/authorize?{query}")))
        .send()
        .await
        .unwrap();
    let response = if response.status() == 200 {
        let page = response.text().await.unwrap();
        app.submit_login(&page, username, PASSWORD).await
    } else {
        response
    };
    app.follow(response).await.code()
}

/// A `/token` request of `client_id`: HTTP Basic with `secret`, or `client_id` in the form.
pub(crate) async fn token_request(
    app: &Center,
    client_id: &str,
    secret: Option<&str>,
    form: &[(&str, &str)],
) -> reqwest::Response {
    let mut form = form.to_vec();
    let request = app.api.post(app.url("/token"));
    let request = match secret {
        Some(secret) => request.basic_auth(client_id, Some(secret)),
        None => {
            form.push(("client_id", client_id));
            request
        }
    };
    request.form(&form).send().await.unwrap()
}

/// The tokens of a code exchange by a confidential client, asserted successful.
pub(crate) async fn exchange_ok(
    app: &Center,
    client_id: &str,
    secret: &str,
    code: &str,
    callback: &str,
) -> Value {
    let response = app
        .exchange(client_id, secret, code, callback, Some(VERIFIER))
        .await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// `grant_type=refresh_token` with `token`, and `scope` if given.
pub(crate) async fn refresh(
    app: &Center,
    client_id: &str,
    secret: Option<&str>,
    token: &str,
    scope: Option<&str>,
) -> reqwest::Response {
    let mut form = vec![("grant_type", "refresh_token"), ("refresh_token", token)];
    if let Some(scope) = scope {
        form.push(("scope", scope));
    }
    token_request(app, client_id, secret, &form).await
}

/// A successful refresh by app1: the new tokens.
pub(crate) async fn refresh_ok(app: &Center, token: &str) -> Value {
    let response = refresh(app, "app1", Some(APP1_SECRET), token, None).await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// The status and `error` code of an OAuth error response.
pub(crate) async fn oauth_error(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    (
        status,
        body["error"].as_str().unwrap_or_default().to_owned(),
    )
}

/// `/introspect` of `token`, asked by app2's back end.
pub(crate) async fn introspect(app: &Center, token: &str) -> Value {
    let response = app
        .api
        .post(app.url("/introspect"))
        .basic_auth("app2", Some(APP2_SECRET))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

pub(crate) fn text<'v>(value: &'v Value, name: &str) -> &'v str {
    value[name]
        .as_str()
        .unwrap_or_else(|| panic!("no {name} in {value}"))
}

fn invalid_grant() -> (u16, String) {
    (400, "invalid_grant".to_owned())
}

#[tokio::test]
async fn the_code_exchange_issues_a_refresh_token_that_rotates_on_every_use() {
    let app = spawn_app().await;
    let tokens = app.login_app1("alice").await;
    let first = text(&tokens, "refresh_token");

    let refreshed = refresh_ok(&app, first).await;
    let second = text(&refreshed, "refresh_token");
    assert_ne!(first, second, "a new refresh token on every use");
    assert_ne!(refreshed["access_token"], tokens["access_token"]);
    let userinfo = app.userinfo(text(&refreshed, "access_token")).await;
    assert_eq!(userinfo.status(), 200);
    assert_eq!(refreshed["scope"], tokens["scope"]);
    assert_eq!(refreshed["token_type"], "Bearer");

    let third = refresh_ok(&app, second).await;
    assert_ne!(text(&third, "refresh_token"), second);
}

#[tokio::test]
async fn a_rotated_refresh_token_presented_again_revokes_the_whole_family() {
    let app = spawn_app().await;
    let tokens = app.login_app1("alice").await;
    let stolen = text(&tokens, "refresh_token");
    let legit = refresh_ok(&app, stolen).await;
    let legit_access = text(&legit, "access_token");
    assert_eq!(app.userinfo(legit_access).await.status(), 200);

    let replay = refresh(&app, "app1", Some(APP1_SECRET), stolen, None).await;
    assert_eq!(oauth_error(replay).await, invalid_grant());

    let after = refresh(
        &app,
        "app1",
        Some(APP1_SECRET),
        text(&legit, "refresh_token"),
        None,
    )
    .await;
    assert_eq!(
        oauth_error(after).await,
        invalid_grant(),
        "the current token of the family is revoked too"
    );
    for access in [legit_access, text(&tokens, "access_token")] {
        assert_eq!(
            app.userinfo(access).await.status(),
            401,
            "every access token of the family is revoked"
        );
    }
    // The sign-in itself is untouched: the browser still has its global session.
    assert_eq!(
        app.get_authorize(&AuthRequest::app1()).await.status(),
        303,
        "a silent sign-in, not the login form"
    );
}

#[tokio::test]
async fn concurrent_uses_of_one_refresh_token_on_two_replicas_sharing_redis_succeed_once() {
    let url = redis_url();
    let prefix = unique_prefix();
    let (database, dir) = new_database().await;
    let a = start(test_settings(), &database, dir, redis_store(&url, &prefix)).await;
    a.seed().await;
    let (_, other_dir) = new_database().await;
    let b = start(
        test_settings(),
        &database,
        other_dir,
        redis_store(&url, &prefix),
    )
    .await;
    // One browser: each round signs in again at A, on the session it already has.
    let mut b = b;
    b.browser = a.browser.clone();
    for round in 0..5 {
        let tokens = if round == 0 {
            a.login_app1("alice").await
        } else {
            let code = a
                .follow(a.get_authorize(&AuthRequest::app1()).await)
                .await
                .code();
            exchange_ok(&a, "app1", APP1_SECRET, &code, APP1_CALLBACK).await
        };
        let token = text(&tokens, "refresh_token");
        let (at_a, at_b) = tokio::join!(
            refresh(&a, "app1", Some(APP1_SECRET), token, None),
            refresh(&b, "app1", Some(APP1_SECRET), token, None),
        );
        let mut won = 0;
        for response in [at_a, at_b] {
            if response.status() == 200 {
                won += 1;
            } else {
                assert_eq!(oauth_error(response).await, invalid_grant());
            }
        }
        assert_eq!(won, 1, "exactly one of two concurrent uses wins");
    }
}

#[tokio::test]
async fn refresh_tokens_end_with_the_global_session() {
    let app = spawn_app().await;
    for end in [EndReason::Logout, EndReason::AdminKill, EndReason::Expired] {
        let tokens = app.login_app1("alice").await;
        let sid = sid_of(&tokens);
        assert!(app.state.sessions.end(&sid, end).await.unwrap());
        let response = refresh(
            &app,
            "app1",
            Some(APP1_SECRET),
            text(&tokens, "refresh_token"),
            None,
        )
        .await;
        assert_eq!(oauth_error(response).await, invalid_grant(), "{end:?}");
    }
}

#[tokio::test]
async fn refresh_after_single_logout_through_the_admin_api_is_refused() {
    let app = spawn_app().await;
    let tokens = app.login_app1("alice").await;
    let response = app
        .admin_delete(&format!("/admin/sessions/{}", sid_of(&tokens)))
        .await;
    assert_eq!(response.status(), 200);
    let response = refresh(
        &app,
        "app1",
        Some(APP1_SECRET),
        text(&tokens, "refresh_token"),
        None,
    )
    .await;
    assert_eq!(oauth_error(response).await, invalid_grant());
}

async fn offline_app() -> TestApp {
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
    app
}

#[tokio::test]
async fn offline_access_outlives_the_sign_in_but_not_a_password_change() {
    let app = offline_app().await;
    let code = code_for(
        &app,
        "offline",
        OFFLINE_CALLBACK,
        "openid offline_access",
        "alice",
    )
    .await;
    let tokens = exchange_ok(&app, "offline", OFFLINE_SECRET, &code, OFFLINE_CALLBACK).await;
    assert_eq!(tokens["scope"], "openid offline_access");
    let sid = sid_of(&tokens);
    assert!(
        app.state
            .sessions
            .end(&sid, EndReason::Logout)
            .await
            .unwrap()
    );

    let response = refresh(
        &app,
        "offline",
        Some(OFFLINE_SECRET),
        text(&tokens, "refresh_token"),
        None,
    )
    .await;
    assert_eq!(response.status(), 200, "offline_access outlives the logout");
    let refreshed: Value = response.json().await.unwrap();
    let access = text(&refreshed, "access_token");
    assert_eq!(introspect(&app, access).await["active"], true);
    assert_eq!(
        claims(text(&refreshed, "id_token"))["sid"],
        sid.as_str(),
        "the id token still names the original sign-in"
    );

    let alice = app.user("alice").await;
    app.state
        .sessions
        .end_all_for_user(&alice.id, EndReason::PasswordChanged)
        .await
        .unwrap();
    let response = refresh(
        &app,
        "offline",
        Some(OFFLINE_SECRET),
        text(&refreshed, "refresh_token"),
        None,
    )
    .await;
    assert_eq!(oauth_error(response).await, invalid_grant());
    assert_eq!(introspect(&app, access).await["active"], false);
}

#[tokio::test]
async fn offline_access_dies_when_the_user_is_disabled() {
    let app = offline_app().await;
    let code = code_for(
        &app,
        "offline",
        OFFLINE_CALLBACK,
        "openid offline_access",
        "alice",
    )
    .await;
    let tokens = exchange_ok(&app, "offline", OFFLINE_SECRET, &code, OFFLINE_CALLBACK).await;
    let alice = Username::parse("alice").unwrap();
    assert!(app.state.users.set_disabled(&alice, true).await.unwrap());
    let response = refresh(
        &app,
        "offline",
        Some(OFFLINE_SECRET),
        text(&tokens, "refresh_token"),
        None,
    )
    .await;
    assert_eq!(oauth_error(response).await, invalid_grant());
    assert!(app.state.users.set_disabled(&alice, false).await.unwrap());
    let again = refresh(
        &app,
        "offline",
        Some(OFFLINE_SECRET),
        text(&tokens, "refresh_token"),
        None,
    )
    .await;
    assert_eq!(
        oauth_error(again).await,
        invalid_grant(),
        "enabling the user again does not bring the family back"
    );
}

#[tokio::test]
async fn offline_access_is_not_granted_to_a_client_not_allowed_it() {
    let app = spawn_app().await;
    let code = code_for(
        &app,
        "app1",
        APP1_CALLBACK,
        "openid offline_access",
        "alice",
    )
    .await;
    let tokens = exchange_ok(&app, "app1", APP1_SECRET, &code, APP1_CALLBACK).await;
    assert_eq!(tokens["scope"], "openid", "offline_access is dropped");
    assert!(
        app.state
            .sessions
            .end(&sid_of(&tokens), EndReason::Logout)
            .await
            .unwrap()
    );
    let response = refresh(
        &app,
        "app1",
        Some(APP1_SECRET),
        text(&tokens, "refresh_token"),
        None,
    )
    .await;
    assert_eq!(oauth_error(response).await, invalid_grant());
}

#[tokio::test]
async fn scopes_only_shrink_on_refresh() {
    let app = spawn_app().await;
    let tokens = app.login_app1("alice").await;
    assert_eq!(tokens["scope"], "openid profile email");

    let wider = refresh(
        &app,
        "app1",
        Some(APP1_SECRET),
        text(&tokens, "refresh_token"),
        Some("openid profile email groups"),
    )
    .await;
    assert_eq!(oauth_error(wider).await, (400, "invalid_scope".to_owned()));

    // The refused request did not use the token up.
    let narrower = refresh(
        &app,
        "app1",
        Some(APP1_SECRET),
        text(&tokens, "refresh_token"),
        Some("email openid"),
    )
    .await;
    assert_eq!(narrower.status(), 200);
    let narrower: Value = narrower.json().await.unwrap();
    assert_eq!(narrower["scope"], "openid email");
    assert_eq!(
        introspect(&app, text(&narrower, "access_token")).await["scope"],
        "openid email"
    );

    // The family keeps what was granted: the next refresh may ask for all of it again.
    let full = refresh_ok(&app, text(&narrower, "refresh_token")).await;
    assert_eq!(full["scope"], "openid profile email");
}

#[tokio::test]
async fn a_refreshed_id_token_keeps_the_sid_and_auth_time_of_the_sign_in() {
    let app = spawn_app().await;
    let tokens = app.login_app1("alice").await;
    let original = claims(text(&tokens, "id_token"));
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;

    let refreshed = refresh_ok(&app, text(&tokens, "refresh_token")).await;
    let renewed = claims(text(&refreshed, "id_token"));
    assert_eq!(renewed["sid"], original["sid"]);
    assert_eq!(renewed["auth_time"], original["auth_time"]);
    assert_eq!(renewed["sub"], original["sub"]);
    assert_eq!(renewed["aud"], "app1");
    assert!(renewed["iat"].as_u64() > original["iat"].as_u64());
    assert!(renewed.get("nonce").is_none(), "no nonce on a refresh");

    let without_openid = refresh(
        &app,
        "app1",
        Some(APP1_SECRET),
        text(&refreshed, "refresh_token"),
        Some("profile"),
    )
    .await;
    let without_openid: Value = without_openid.json().await.unwrap();
    assert!(without_openid.get("id_token").is_none());
    assert!(without_openid.get("refresh_token").is_some());
}

#[tokio::test]
async fn public_clients_get_rotating_refresh_tokens_without_a_secret() {
    let app = spawn_app().await;
    let callback = app
        .login(&AuthRequest::new("spa", SPA_CALLBACK), "alice")
        .await;
    let response = app
        .exchange_public("spa", &callback.code(), SPA_CALLBACK)
        .await;
    assert_eq!(response.status(), 200);
    let tokens: Value = response.json().await.unwrap();
    let first = text(&tokens, "refresh_token");
    let response = refresh(&app, "spa", None, first, None).await;
    assert_eq!(response.status(), 200);
    let replay = refresh(&app, "spa", None, first, None).await;
    assert_eq!(oauth_error(replay).await, invalid_grant());
}

#[tokio::test]
async fn bad_refresh_requests_get_rfc6749_errors_and_never_a_5xx() {
    let app = spawn_app().await;
    let tokens = app.login_app1("alice").await;
    let token = text(&tokens, "refresh_token");
    register(
        &app,
        "norefresh",
        Some(APP2_SECRET),
        Some(APP2_CALLBACK),
        policy(
            &[GrantType::AuthorizationCode],
            &[],
            AccessTokenFormat::Opaque,
            false,
        ),
        jsonwebtoken::Algorithm::RS256,
    )
    .await;

    let missing = token_request(
        &app,
        "app1",
        Some(APP1_SECRET),
        &[("grant_type", "refresh_token")],
    )
    .await;
    assert_eq!(
        oauth_error(missing).await,
        (400, "invalid_request".to_owned())
    );
    let no_grant =
        token_request(&app, "app1", Some(APP1_SECRET), &[("refresh_token", token)]).await;
    assert_eq!(
        oauth_error(no_grant).await,
        (400, "invalid_request".to_owned())
    );
    for grant in [
        "password",
        "urn:ietf:params:oauth:grant-type:device_code",
        "",
    ] {
        let response = token_request(
            &app,
            "app1",
            Some(APP1_SECRET),
            &[("grant_type", grant), ("refresh_token", token)],
        )
        .await;
        assert_eq!(
            oauth_error(response).await,
            (400, "unsupported_grant_type".to_owned()),
            "{grant:?}"
        );
    }
    let long = "A".repeat(4000);
    let forged = format!("{}~{}", token.split('~').next().unwrap(), "A".repeat(43));
    for garbage in ["x", "~", "a~b", "Ünïcode~✓", long.as_str()] {
        let response = refresh(&app, "app1", Some(APP1_SECRET), garbage, None).await;
        assert_eq!(oauth_error(response).await, invalid_grant(), "{garbage:?}");
    }
    let not_allowed = refresh(&app, "norefresh", Some(APP2_SECRET), token, None).await;
    assert_eq!(
        oauth_error(not_allowed).await,
        (400, "unauthorized_client".to_owned())
    );
    let other_client = refresh(&app, "app2", Some(APP2_SECRET), token, None).await;
    assert_eq!(oauth_error(other_client).await, invalid_grant());
    let wrong_secret = refresh(&app, "app1", Some(APP2_SECRET), token, None).await;
    assert_eq!(
        oauth_error(wrong_secret).await,
        (401, "invalid_client".to_owned())
    );
    assert_eq!(
        refresh(&app, "app1", Some(APP1_SECRET), token, None)
            .await
            .status(),
        200,
        "none of that used the token up"
    );
    // A forged secret with a real family key is a reuse: the family is revoked.
    let response = refresh(&app, "app1", Some(APP1_SECRET), &forged, None).await;
    assert_eq!(oauth_error(response).await, invalid_grant());
}
