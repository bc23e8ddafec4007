//! Second factors: TOTP enrollment, the second step, step-up on clients that require a second
//! factor, `acr_values`, `max_age`, recovery codes, and what removing a factor ends.

use std::time::Duration;

use serde_json::Value;
use sso_server::clients::{NewClient, TokenPolicy};
use sso_server::domain::{ClientId, RedirectUri};
use sso_server::factors::MfaPolicy;
use totp_rs::{Algorithm, Builder, Secret};

use crate::helpers::*;
use crate::receiver::Receiver;

/// The code of the TOTP `secret` (base32) `offset` seconds from now, computed here with the
/// `totp-rs` crate from the secret the page showed.
pub(crate) fn totp_code(secret: &str, offset: i64) -> String {
    let totp = Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(6)
        .with_step_duration(30)
        .with_secret(Secret::try_from_base32(secret).unwrap())
        .build()
        .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    totp.generate(now.checked_add_signed(offset).unwrap())
        .to_string()
}

/// The text of the element with `id` (no nested elements).
fn text_of(html: &str, id: &str) -> String {
    let start = html
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no #{id} in page: {html}"));
    let open = html[start..].find('>').unwrap() + start + 1;
    let close = html[open..].find('<').unwrap() + open;
    html[open..close].to_owned()
}

/// The `href` of the link with `id`.
fn href_of(html: &str, id: &str) -> String {
    let start = html.find(&format!("id=\"{id}\"")).expect("the link");
    let href = html[start..].find("href=\"").unwrap() + start + 6;
    let end = html[href..].find('"').unwrap() + href;
    html[href..end].to_owned()
}

/// Registers `id` again with `policy` for second factors.
async fn set_mfa(app: &TestApp, id: &str, secret: &str, callback: &str, policy: MfaPolicy) {
    app.state
        .clients
        .upsert(NewClient {
            id: ClientId::parse(id).unwrap(),
            name: format!("Application {id}"),
            secret: Some(secret.to_owned()),
            redirect_uris: vec![RedirectUri::parse(callback).unwrap()],
            post_logout_redirect_uris: Vec::new(),
            backchannel_logout_uri: None,
            id_token_alg: jsonwebtoken::Algorithm::RS256,
            tokens: TokenPolicy::default().with_mfa(Some(policy)),
        })
        .await
        .unwrap();
}

/// Sets up TOTP for the signed-in browser of `center` through `/account/totp`: the secret,
/// and the recovery codes shown once.
pub(crate) async fn enroll(center: &Center) -> (String, Vec<String>) {
    let page = center.get_page("/account/totp").await;
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    assert!(page.contains("<svg"), "a QR code is shown");
    let secret = text_of(&page, "totp-secret");
    let response = center
        .browser
        .post(center.url("/account/totp"))
        .form(&[
            ("csrf_token", hidden(&page, "csrf_token")),
            ("enrollment", hidden(&page, "enrollment")),
            ("return_to", String::new()),
            ("code", totp_code(&secret, 0)),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "the first code turns TOTP on");
    let page = response.text().await.unwrap();
    let codes = page
        .split("<li><code>")
        .skip(1)
        .map(|part| part[..part.find('<').unwrap()].to_owned())
        .collect::<Vec<_>>();
    (secret, codes)
}

/// Posts `code` to the second-step page `page`.
pub(crate) async fn give_code(center: &Center, page: &str, code: &str) -> reqwest::Response {
    center
        .browser
        .post(center.url("/login/factor"))
        .form(&[
            ("csrf_token", hidden(page, "csrf_token")),
            ("return_to", hidden(page, "return_to")),
            ("code", code.to_owned()),
        ])
        .send()
        .await
        .unwrap()
}

/// Follows an authorization request to the second-step page; its HTML.
async fn second_step(center: &Center, request: &AuthRequest) -> String {
    let response = center.get_authorize(request).await;
    assert_eq!(response.status(), 303, "a step-up redirects");
    let target = location(&response);
    assert!(target.starts_with("/login/factor?"), "{target}");
    let page = center.get_page(&target).await;
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    assert!(
        !page.contains("name=\"password\""),
        "no password is asked again"
    );
    page
}

/// A center where app2 requires a second factor and alice has TOTP, with a second browser
/// signed in with her password only: the center, the key, the recovery codes, the browser and
/// the `sid` of its session.
async fn alice_with_totp() -> (TestApp, String, Vec<String>, Center, String) {
    let app = spawn_app().await;
    set_mfa(
        &app,
        "app2",
        APP2_SECRET,
        APP2_CALLBACK,
        MfaPolicy::Required,
    )
    .await;
    app.login_app1("alice").await;
    let (secret, codes) = enroll(&app).await;
    let other = Center::attach(app.address.clone());
    let sid = sid_of(&other.login_app1("alice").await);
    (app, secret, codes, other, sid)
}

async fn tokens_for(
    center: &Center,
    client: &str,
    secret: &str,
    callback: &Callback,
    uri: &str,
) -> Value {
    let response = center
        .exchange(client, secret, &callback.code(), uri, Some(VERIFIER))
        .await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

fn amr(tokens: &Value) -> Vec<String> {
    let claims = claims(tokens["id_token"].as_str().unwrap());
    serde_json::from_value(claims["amr"].clone()).unwrap_or_default()
}

fn acr(tokens: &Value) -> String {
    claims(tokens["id_token"].as_str().unwrap())["acr"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn a_password_sign_in_says_so_in_amr_and_acr_and_discovery_lists_the_acr_values() {
    let app = spawn_app().await;
    let tokens = app.login_app1("alice").await;
    assert_eq!(amr(&tokens), ["pwd"]);
    assert_eq!(acr(&tokens), "urn:sso:acr:password");
    let discovery: Value = app.get_json("/.well-known/openid-configuration").await;
    assert_eq!(
        discovery["acr_values_supported"],
        serde_json::json!(["urn:sso:acr:password", "urn:sso:acr:mfa"])
    );
    assert!(
        discovery["claims_supported"]
            .as_array()
            .unwrap()
            .contains(&"amr".into())
    );
}

#[tokio::test]
async fn step_up_asks_only_the_second_factor_keeps_the_session_and_upgrades_amr() {
    let app = spawn_app().await;
    set_mfa(
        &app,
        "app2",
        APP2_SECRET,
        APP2_CALLBACK,
        MfaPolicy::Required,
    )
    .await;
    let first = app.login_app1("alice").await;
    let sid = sid_of(&first);
    let (secret, codes) = enroll(&app).await;
    assert_eq!(codes.len(), 10, "ten recovery codes are shown once");
    let account = app.get_page("/account").await;
    let account = account.text().await.unwrap();
    assert_eq!(text_of(&account, "totp-status"), "On");
    assert_eq!(
        text_of(&account, "recovery-status"),
        "Unused recovery codes: 10"
    );

    // Enrolling counted as a second factor; a new password sign-in has only the password.
    let other = Center::attach(app.address.clone());
    let before = other.login_app1("alice").await;
    assert_eq!(amr(&before), ["pwd"]);
    let other_sid = sid_of(&before);

    let page = second_step(&other, &AuthRequest::app2()).await;
    let wrong = give_code(&other, &page, "000000").await;
    assert_eq!(wrong.status(), 401);
    assert!(wrong.text().await.unwrap().contains("not correct"));
    let response = give_code(&other, &page, &totp_code(&secret, 30)).await;
    assert_eq!(response.status(), 303);
    let cookie = app.state.settings.session.cookie_name.clone();
    assert!(
        response
            .headers()
            .get_all(reqwest::header::SET_COOKIE)
            .iter()
            .any(|c| c.to_str().unwrap().starts_with(&format!("{cookie}="))),
        "the upgraded session gets a fresh cookie value"
    );
    let callback = other.follow(response).await;
    let tokens = tokens_for(&other, "app2", APP2_SECRET, &callback, APP2_CALLBACK).await;
    assert_eq!(amr(&tokens), ["pwd", "otp", "mfa"]);
    assert_eq!(acr(&tokens), "urn:sso:acr:mfa");
    assert_eq!(
        sid_of(&tokens),
        other_sid,
        "the same global session, upgraded"
    );
    let auth_time = |t: &Value| {
        claims(t["id_token"].as_str().unwrap())["auth_time"]
            .as_u64()
            .unwrap()
    };
    assert!(auth_time(&tokens) >= auth_time(&before));

    // The other apps' sessions go on, and now get the upgraded session without a prompt.
    assert!(app.state.sessions.is_live(&other_sid).await.unwrap());
    assert!(app.state.sessions.is_live(&sid).await.unwrap());
    let again = other
        .follow(other.get_authorize(&AuthRequest::app1()).await)
        .await;
    let tokens = tokens_for(&other, "app1", APP1_SECRET, &again, APP1_CALLBACK).await;
    assert_eq!(acr(&tokens), "urn:sso:acr:mfa");
}

#[tokio::test]
async fn a_replayed_code_is_refused_on_another_replica_sharing_redis() {
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
    set_mfa(&a, "app2", APP2_SECRET, APP2_CALLBACK, MfaPolicy::Required).await;
    a.login_app1("alice").await;
    let (secret, _) = enroll(&a).await;

    // Two browsers, each signed in with the password, one at each replica.
    let at_a = Center::attach(a.address.clone());
    at_a.login_app1("alice").await;
    let at_b = Center::attach(b.address.clone());
    at_b.login_app1("alice").await;
    let page_a = second_step(&at_a, &AuthRequest::app2()).await;
    let page_b = second_step(&at_b, &AuthRequest::app2()).await;
    let code = totp_code(&secret, 30);
    let first = give_code(&at_a, &page_a, &code).await;
    assert_eq!(first.status(), 303, "the code is accepted once");
    let replayed = give_code(&at_b, &page_b, &code).await;
    assert_eq!(replayed.status(), 401, "and refused at the other replica");
    assert!(replayed.text().await.unwrap().contains("already been used"));
}

#[tokio::test]
async fn a_recovery_code_works_once_and_its_use_is_audited() {
    let (app, _, codes, other, _) = alice_with_totp().await;
    let page = second_step(&other, &AuthRequest::app2()).await;
    let malformed = give_code(&other, &page, "abc").await;
    assert_eq!(malformed.status(), 400);
    assert!(malformed.text().await.unwrap().contains("6 digits"));
    let wrong_length = give_code(&other, &page, "1234567").await;
    assert_eq!(wrong_length.status(), 400);
    let response = give_code(&other, &page, &codes[3].to_uppercase()).await;
    assert_eq!(
        response.status(),
        303,
        "a recovery code, typed in capitals, is accepted"
    );
    let callback = other.follow(response).await;
    let tokens = tokens_for(&other, "app2", APP2_SECRET, &callback, APP2_CALLBACK).await;
    assert_eq!(acr(&tokens), "urn:sso:acr:mfa");
    let user = app.user("alice").await;
    assert_eq!(
        app.state
            .factors
            .recovery_codes_left(&user.id)
            .await
            .unwrap(),
        9
    );

    let third = Center::attach(app.address.clone());
    third.login_app1("alice").await;
    let page = second_step(&third, &AuthRequest::app2()).await;
    let again = give_code(&third, &page, &codes[3]).await;
    assert_eq!(again.status(), 401, "a used recovery code is refused");
    let log: Value = app
        .admin_get("/admin/audit?event=recovery_code_used")
        .await
        .json()
        .await
        .unwrap();
    let events = log["events"].as_array().unwrap();
    assert_eq!(events.len(), 1, "{log}");
    assert_eq!(events[0]["detail"]["left"], 9);
}

#[tokio::test]
async fn max_age_makes_an_older_sign_in_authenticate_again() {
    let app = spawn_app().await;
    app.login_app1("alice").await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let fresh = |max_age: &str| {
        format!(
            "/authorize?{}&max_age={max_age}",
            AuthRequest::app1().query()
        )
    };
    let recent = app.get_page(&fresh("60")).await;
    assert_eq!(recent.status(), 303, "a sign-in within max_age is used");
    let old = app.get_page(&fresh("1")).await;
    assert_eq!(old.status(), 200, "an older one shows the login form");
    let page = old.text().await.unwrap();
    assert!(page.contains("name=\"password\""));
    let response = app.submit_login(&page, "alice", PASSWORD).await;
    let callback = app.follow(response).await;
    let tokens = tokens_for(&app, "app1", APP1_SECRET, &callback, APP1_CALLBACK).await;
    let claims = claims(tokens["id_token"].as_str().unwrap());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(
        now - claims["auth_time"].as_u64().unwrap() <= 1,
        "auth_time is the new sign-in"
    );

    let bad = app.get_page(&fresh("soon")).await;
    assert!(location(&bad).contains("error=invalid_request"));
}

#[tokio::test]
async fn acr_values_ask_a_user_with_a_factor_for_it_and_give_others_what_they_have() {
    let app = spawn_app().await;
    app.login_app1("alice").await;
    let (secret, _) = enroll(&app).await;
    let mut request = AuthRequest::app1();
    request.prompt = None;
    let query = format!(
        "/authorize?{}&acr_values=urn%3Asso%3Aacr%3Amfa",
        request.query()
    );

    let alice = Center::attach(app.address.clone());
    alice.login_app1("alice").await;
    let response = alice.get_page(&query).await;
    assert!(location(&response).starts_with("/login/factor?"));
    let page = alice.get_page(&location(&response)).await;
    let response = give_code(&alice, &page.text().await.unwrap(), &totp_code(&secret, 30)).await;
    let callback = alice.follow(response).await;
    let tokens = tokens_for(&alice, "app1", APP1_SECRET, &callback, APP1_CALLBACK).await;
    assert_eq!(acr(&tokens), "urn:sso:acr:mfa");

    let bob = Center::attach(app.address.clone());
    bob.login_app1("bob").await;
    let response = bob.get_page(&query).await;
    let callback = bob.follow(response).await;
    let tokens = tokens_for(&bob, "app1", APP1_SECRET, &callback, APP1_CALLBACK).await;
    assert_eq!(
        acr(&tokens),
        "urn:sso:acr:password",
        "acr_values is a request, not a gate"
    );
}

#[tokio::test]
async fn a_client_that_requires_a_factor_takes_a_user_without_one_through_enrollment() {
    let app = spawn_app().await;
    set_mfa(
        &app,
        "app2",
        APP2_SECRET,
        APP2_CALLBACK,
        MfaPolicy::Required,
    )
    .await;
    app.login_app1("bob").await;
    let mut none = AuthRequest::app2();
    none.prompt = Some("none".into());
    let refused = app.get_authorize(&none).await;
    assert!(location(&refused).contains("error=interaction_required"));

    let response = app.get_authorize(&AuthRequest::app2()).await;
    let step = app.get_page(&location(&response)).await;
    assert_eq!(step.status(), 303);
    let target = location(&step);
    assert!(target.starts_with("/account/totp?return_to="), "{target}");
    let page = app.page_html(&target).await;
    assert!(page.contains("id=\"enroll-required\""));
    let secret = text_of(&page, "totp-secret");
    let mut form = vec![
        ("csrf_token", hidden(&page, "csrf_token")),
        ("enrollment", hidden(&page, "enrollment")),
        ("return_to", hidden(&page, "return_to")),
        ("code", "12345".to_owned()),
    ];
    let short = app
        .browser
        .post(app.url("/account/totp"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(short.status(), 400, "a code of the wrong length");
    form[3].1 = totp_code(&secret, 0);
    let done = app
        .browser
        .post(app.url("/account/totp"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 200);
    let done = done.text().await.unwrap();
    let next = href_of(&done, "continue").replace("&#38;", "&");
    assert!(next.starts_with("/authorize?"), "{next}");
    let response = app.get_page(&next).await;
    let callback = app.follow(response).await;
    let tokens = tokens_for(&app, "app2", APP2_SECRET, &callback, APP2_CALLBACK).await;
    assert_eq!(amr(&tokens), ["pwd", "otp", "mfa"]);
}

#[tokio::test]
async fn removing_totp_needs_the_factor_ends_the_other_sessions_with_single_logout() {
    let app = spawn_app().await;
    let receiver = Receiver::for_app1(&app).await;
    app.login_app1("alice").await;
    let (secret, _) = enroll(&app).await;
    let other = Center::attach(app.address.clone());
    let elsewhere = sid_of(&other.login_app1("alice").await);

    // A password-only session proves the factor before removing it.
    let removing = Center::attach(app.address.clone());
    removing.login_app1("alice").await;
    let page = removing.get_page("/account/totp").await;
    let page = page.text().await.unwrap();
    assert!(page.contains("id=\"totp-active\""));
    let form = [("csrf_token", hidden(&page, "csrf_token"))];
    let no_csrf = removing
        .browser
        .post(removing.url("/account/totp/remove"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        no_csrf.status(),
        400,
        "a form without its fields is refused"
    );
    let response = removing
        .browser
        .post(removing.url("/account/totp/remove"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    let target = location(&response);
    assert!(target.starts_with("/login/factor?"), "{target}");
    let step = removing.page_html(&target).await;
    let back = give_code(&removing, &step, &totp_code(&secret, 30)).await;
    assert_eq!(location(&back), "/account/totp");
    let response = removing
        .browser
        .post(removing.url("/account/totp/remove"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let user = app.user("alice").await;
    assert!(!app.state.factors.has_any(&user.id).await.unwrap());
    assert_eq!(
        app.state
            .factors
            .recovery_codes_left(&user.id)
            .await
            .unwrap(),
        0
    );
    assert!(!app.state.sessions.is_live(&elsewhere).await.unwrap());
    app.wait_for_deliveries(&elsewhere, Duration::from_secs(10), |d| {
        d.iter().any(|d| d["state"] == "delivered")
    })
    .await;
    assert!(
        !receiver.received().is_empty(),
        "single logout reached app1"
    );
}

#[tokio::test]
async fn the_last_factor_stays_when_the_center_requires_one() {
    let app = spawn_app_with(|settings| settings.login.mfa = MfaPolicy::Required).await;
    // Every client requires it: the first sign-in enrolls.
    let response = app.get_authorize(&AuthRequest::app1()).await;
    let page = response.text().await.unwrap();
    let response = app.submit_login(&page, "alice", PASSWORD).await;
    let step = app.get_page(&location(&response)).await;
    let enroll_at = location(&step);
    let step = app.get_page(&enroll_at).await;
    let enroll_at = location(&step);
    assert!(enroll_at.starts_with("/account/totp"), "{enroll_at}");
    let (_, codes) = enroll(&app).await;
    assert_eq!(codes.len(), 10);
    let page = app.page_html("/account/totp").await;
    let response = app
        .browser
        .post(app.url("/account/totp/remove"))
        .form(&[("csrf_token", hidden(&page, "csrf_token"))])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 409);
    let user = app.user("alice").await;
    assert!(app.state.factors.has_totp(&user.id).await.unwrap());
}

#[tokio::test]
async fn a_second_step_without_its_csrf_token_changes_nothing() {
    let (app, secret, _, other, sid) = alice_with_totp().await;
    let page = second_step(&other, &AuthRequest::app2()).await;
    let response = other
        .browser
        .post(other.url("/login/factor"))
        .form(&[
            ("return_to", hidden(&page, "return_to")),
            ("code", totp_code(&secret, 30)),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    let response = other.get_authorize(&AuthRequest::app2()).await;
    assert!(
        location(&response).starts_with("/login/factor?"),
        "still one factor"
    );
    assert!(app.state.sessions.is_live(&sid).await.unwrap());
}

#[tokio::test]
async fn totp_secrets_are_sealed_at_rest_with_the_key_encryption_key() {
    let app = spawn_app_with(|settings| {
        settings.tokens.key_encryption_key = Some(sso_common::Secret::new(
            "0123456789abcdef0123456789abcdef-kek",
        ));
    })
    .await;
    app.login_app1("alice").await;
    let (secret, _) = enroll(&app).await;
    let user = app.user("alice").await;
    let stored: String = sqlx::query_scalar("SELECT secret FROM user_totp WHERE user_id = $1")
        .bind(&user.id)
        .fetch_one(&app.state.pool)
        .await
        .unwrap();
    assert!(stored.starts_with("sealed:v1:"), "{stored}");
    assert!(!stored.contains(&secret));
    let check = app
        .state
        .factors
        .verify_totp(&user, &totp_code(&secret, 30))
        .await
        .unwrap();
    assert_eq!(check, sso_server::factors::CodeCheck::Accepted);
}

#[tokio::test]
async fn an_admin_reset_removes_the_factors_and_ends_sessions_and_their_refresh_tokens() {
    let app = spawn_app().await;
    let receiver = Receiver::for_app1(&app).await;
    app.login_app1("alice").await;
    enroll(&app).await;
    let other = Center::attach(app.address.clone());
    let tokens = other.login_app1("alice").await;
    let sid = sid_of(&tokens);
    let refresh_token = tokens["refresh_token"].as_str().unwrap().to_owned();

    let response = app
        .api
        .delete(app.url("/admin/users/alice/factors"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body, serde_json::json!({ "reset": true, "ended": 2 }));
    let user = app.user("alice").await;
    assert!(!app.state.factors.has_any(&user.id).await.unwrap());
    assert_eq!(
        app.state
            .factors
            .recovery_codes_left(&user.id)
            .await
            .unwrap(),
        0
    );
    app.wait_for_deliveries(&sid, Duration::from_secs(10), |d| {
        d.iter().any(|d| d["state"] == "delivered")
    })
    .await;
    assert!(
        !receiver.received().is_empty(),
        "single logout reached app1"
    );
    let refused =
        crate::refresh::refresh(&app, "app1", Some(APP1_SECRET), &refresh_token, None).await;
    let (status, error) = crate::refresh::oauth_error(refused).await;
    assert_eq!((status, error.as_str()), (400, "invalid_grant"));
    let log: Value = app
        .admin_get("/admin/audit?event=factors_reset")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(log["events"][0]["detail"]["sessions_ended"], 2);

    let unknown = app
        .api
        .delete(app.url("/admin/users/nobody/factors"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
}

#[tokio::test]
async fn the_command_line_resets_a_users_factors() {
    let (app, database) = crate::cli::spawn_on_shared_database().await;
    app.login_app1("alice").await;
    enroll(&app).await;
    let out = crate::cli::run(&database, &["user", "reset-factors", "alice"], "").await;
    assert_eq!(out.trim(), "alice: factors reset; 1 session(s) ended");
    let user = app.user("alice").await;
    assert!(!app.state.factors.has_any(&user.id).await.unwrap());
}

#[tokio::test]
async fn the_second_step_speaks_chinese() {
    let (_, _, _, other, _) = alice_with_totp().await;
    let response = other.get_authorize(&AuthRequest::app2()).await;
    let page = other
        .browser
        .get(other.url(&location(&response)))
        .header("Accept-Language", "zh-CN,zh;q=0.9")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("验证您的身份"), "{page}");
    assert!(page.contains("lang=\"zh-Hans\""));
}

#[tokio::test]
async fn wrong_codes_spend_the_same_budgets_as_wrong_passwords() {
    let (app, secret, _, other, _) = alice_with_totp().await;
    let page = second_step(&other, &AuthRequest::app2()).await;
    let budget = app.state.settings.login.max_failures_per_user_address;
    for _ in 0..budget {
        assert_eq!(give_code(&other, &page, "000000").await.status(), 401);
    }
    let limited = give_code(&other, &page, &totp_code(&secret, 30)).await;
    assert_eq!(
        limited.status(),
        429,
        "even the right code waits once the budget is spent"
    );
    assert!(limited.headers().contains_key("retry-after"));
    let log: Value = app
        .admin_get("/admin/audit?event=second_factor_failed")
        .await
        .json()
        .await
        .unwrap();
    let reasons: Vec<&str> = log["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["detail"]["reason"].as_str().unwrap())
        .collect();
    assert!(
        reasons.contains(&"limited") && reasons.contains(&"wrong_code"),
        "{reasons:?}"
    );
}
