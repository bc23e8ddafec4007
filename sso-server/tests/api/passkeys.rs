//! Passkeys: registration at `/account/passkeys`, sign-in without a password, the second step,
//! and what is refused (a replayed assertion, another user's passkey, an unknown ceremony, the
//! last factor's removal).
//!
//! The authenticator is `webauthn-authenticator-rs`'s software passkey: it signs real
//! assertions with a real key, checked by the center. It keeps no discoverable credentials, so
//! for a sign-in without a username the test names the credential to use, and the user handle
//! an authenticator would return, itself.

use serde_json::{Value, json};
use sso_server::clients::{NewClient, TokenPolicy};
use sso_server::domain::{ClientId, RedirectUri};
use sso_server::factors::MfaPolicy;
use sso_server::factors::passkeys::user_handle;
use url::Url;
use webauthn_authenticator_rs::WebauthnAuthenticator;
use webauthn_authenticator_rs::softpasskey::SoftPasskey;
use webauthn_rs::prelude::{
    Base64UrlSafeData, CreationChallengeResponse, PublicKeyCredential, RequestChallengeResponse,
};

use crate::helpers::*;

/// A software authenticator that verifies its user.
struct Authenticator(WebauthnAuthenticator<SoftPasskey>);

impl Authenticator {
    fn new() -> Self {
        Self(WebauthnAuthenticator::new(SoftPasskey::new(true)))
    }

    fn origin() -> Url {
        Url::parse(ISSUER).unwrap()
    }

    /// Answers registration `options` (as the center sent them).
    fn create(&mut self, mut options: Value) -> Value {
        // The software passkey cannot store a resident key; the center asks for one.
        let selection = &mut options["publicKey"]["authenticatorSelection"];
        assert_eq!(selection["residentKey"], "required");
        assert_eq!(selection["userVerification"], "required");
        selection["requireResidentKey"] = false.into();
        selection["residentKey"] = "discouraged".into();
        let options: CreationChallengeResponse = serde_json::from_value(options).unwrap();
        let created = self.0.do_registration(Self::origin(), options).unwrap();
        serde_json::to_value(created).unwrap()
    }

    /// Answers authentication `options` with credential `credential_id` (base64url), returning
    /// `user_id`'s handle as a discoverable credential does.
    fn get(&mut self, mut options: Value, credential_id: &str, user_id: Option<&str>) -> String {
        options["publicKey"]["allowCredentials"] =
            json!([{ "type": "public-key", "id": credential_id }]);
        let options: RequestChallengeResponse = serde_json::from_value(options).unwrap();
        let mut asserted: PublicKeyCredential =
            self.0.do_authentication(Self::origin(), options).unwrap();
        if let Some(user_id) = user_id {
            let handle = user_handle(user_id).as_bytes().to_vec();
            asserted.response.user_handle = Some(Base64UrlSafeData::from(handle));
        }
        serde_json::to_string(&asserted).unwrap()
    }
}

/// `POST path` with the CSRF token of `page`: a request for a ceremony's options.
async fn ask_options(center: &Center, path: &str, page: &str) -> reqwest::Response {
    center
        .browser
        .post(center.url(path))
        .form(&[("csrf_token", hidden(page, "csrf_token"))])
        .send()
        .await
        .unwrap()
}

/// `POST path` with the CSRF token of `page`: the options and the ceremony.
async fn options(center: &Center, path: &str, page: &str) -> (String, Value) {
    let response = ask_options(center, path, page).await;
    assert_eq!(response.status(), 200, "{path}");
    let mut options: Value = response.json().await.unwrap();
    let ceremony = options["ceremony"].as_str().unwrap().to_owned();
    options.as_object_mut().unwrap().remove("ceremony");
    (ceremony, options)
}

async fn page(center: &Center, path: &str) -> String {
    let response = center.browser.get(center.url(path)).send().await.unwrap();
    assert_eq!(response.status(), 200, "{path}");
    response.text().await.unwrap()
}

/// Adds a passkey named `name` for the signed-in browser of `center`; its credential id.
async fn register(center: &Center, authenticator: &mut Authenticator, name: &str) -> String {
    let page = page(center, "/account/passkeys").await;
    let (ceremony, options) = options(center, "/account/passkeys/options", &page).await;
    let created = authenticator.create(options);
    let response = center
        .browser
        .post(center.url("/account/passkeys"))
        .form(&[
            ("csrf_token", hidden(&page, "csrf_token")),
            ("ceremony", ceremony),
            ("name", name.to_owned()),
            ("credential", created.to_string()),
        ])
        .send()
        .await
        .unwrap();
    if response.status() == 200 {
        // A first factor: its recovery codes are shown once, then the passkeys page.
        let shown = response.text().await.unwrap();
        assert_eq!(shown.matches("<li><code>").count(), 10, "{shown}");
        assert!(shown.contains("href=\"/account/passkeys?done=added\""));
    } else {
        assert_eq!(response.status(), 303, "the passkey is added");
        assert_eq!(location(&response), "/account/passkeys?done=added");
    }
    created["id"].as_str().unwrap().to_owned()
}

/// The login page of an authorization request of app1, in a new browser.
async fn login_page(center: &Center) -> String {
    let response = center.get_authorize(&AuthRequest::app1()).await;
    assert_eq!(response.status(), 200);
    response.text().await.unwrap()
}

/// The form answering a passwordless sign-in started from `page`.
async fn passwordless_form(
    center: &Center,
    authenticator: &mut Authenticator,
    page: &str,
    credential_id: &str,
    user_id: &str,
) -> Vec<(&'static str, String)> {
    let (ceremony, options) = options(center, "/login/passkey/options", page).await;
    assert!(
        options["publicKey"]["allowCredentials"]
            .as_array()
            .is_none_or(Vec::is_empty),
        "no username, no credentials named"
    );
    assert_eq!(options["publicKey"]["userVerification"], "required");
    let asserted = authenticator.get(options, credential_id, Some(user_id));
    vec![
        ("csrf_token", hidden(page, "csrf_token")),
        ("return_to", hidden(page, "return_to")),
        ("ceremony", ceremony),
        ("credential", asserted),
    ]
}

async fn post_form(center: &Center, path: &str, form: &[(&str, String)]) -> reqwest::Response {
    center
        .browser
        .post(center.url(path))
        .form(form)
        .send()
        .await
        .unwrap()
}

async fn tokens(center: &Center, response: reqwest::Response, client: &str) -> Value {
    let callback = center.follow(response).await;
    let (secret, uri) = match client {
        "app1" => (APP1_SECRET, APP1_CALLBACK),
        _ => (APP2_SECRET, APP2_CALLBACK),
    };
    let response = center
        .exchange(client, secret, &callback.code(), uri, Some(VERIFIER))
        .await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// Registers app2 again, requiring a second factor.
async fn app2_requires_mfa(app: &TestApp) {
    app.state
        .clients
        .upsert(NewClient {
            id: ClientId::parse("app2").unwrap(),
            name: "Application app2".to_owned(),
            secret: Some(APP2_SECRET.to_owned()),
            redirect_uris: vec![RedirectUri::parse(APP2_CALLBACK).unwrap()],
            post_logout_redirect_uris: Vec::new(),
            backchannel_logout_uri: None,
            id_token_alg: jsonwebtoken::Algorithm::RS256,
            tokens: TokenPolicy::default().with_mfa(Some(MfaPolicy::Required)),
        })
        .await
        .unwrap();
}

/// The audit trail's events named `event`.
async fn audit(app: &TestApp, event: &str) -> Vec<Value> {
    let log: Value = app
        .admin_get(&format!("/admin/audit?event={event}"))
        .await
        .json()
        .await
        .unwrap();
    log["events"].as_array().unwrap().clone()
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
async fn a_registered_passkey_is_listed_and_signs_in_without_a_password_as_two_factors() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    app.login_app1("alice").await;
    let mut authenticator = Authenticator::new();
    let credential = register(&app, &mut authenticator, "Work laptop").await;
    let listed = page(&app, "/account/passkeys?done=added").await;
    assert!(listed.contains("The passkey was added."));
    assert!(listed.contains("Work laptop"));
    assert!(listed.contains("Never"), "not used yet");
    assert_eq!(
        app.state
            .factors
            .enrolled(&alice.id)
            .await
            .unwrap()
            .passkeys,
        1
    );

    let other = Center::attach(app.address.clone());
    let page_html = login_page(&other).await;
    assert!(page_html.contains("Sign in with a passkey"));
    let form = passwordless_form(
        &other,
        &mut authenticator,
        &page_html,
        &credential,
        &alice.id,
    )
    .await;
    let response = post_form(&other, "/login/passkey", &form).await;
    assert_eq!(response.status(), 303);
    let tokens = tokens(&other, response, "app1").await;
    assert_eq!(
        claims(tokens["id_token"].as_str().unwrap())["sub"],
        alice.id
    );
    assert_eq!(amr(&tokens), ["hwk", "user", "mfa"]);
    assert_eq!(acr(&tokens), "urn:sso:acr:mfa");

    let listed = page(&app, "/account/passkeys").await;
    assert!(!listed.contains("Never"), "the use is recorded");
    let signed_in = audit(&app, "sign_in_succeeded").await;
    assert!(
        signed_in
            .iter()
            .any(|event| event["username"] == "alice" && event["detail"]["method"] == "passkey"),
        "{signed_in:?}"
    );
    let enrolled = audit(&app, "factor_enrolled").await;
    let mut kinds: Vec<&str> = enrolled
        .iter()
        .map(|event| event["detail"]["kind"].as_str().unwrap())
        .collect();
    kinds.sort_unstable();
    assert_eq!(
        kinds,
        ["passkey", "recovery_codes"],
        "a first passkey comes with codes"
    );

    let username = sso_server::domain::Username::parse("alice").unwrap();
    assert!(app.state.users.set_disabled(&username, true).await.unwrap());
    let third = Center::attach(app.address.clone());
    let page_html = login_page(&third).await;
    let form = passwordless_form(
        &third,
        &mut authenticator,
        &page_html,
        &credential,
        &alice.id,
    )
    .await;
    let response = post_form(&third, "/login/passkey", &form).await;
    assert_eq!(response.status(), 403, "a disabled user is refused");
    let response = third
        .browser
        .get(third.url("/account/passkeys"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303, "no session was started");
}

#[tokio::test]
async fn a_replayed_assertion_and_an_unknown_ceremony_are_refused_with_a_clear_page() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    app.login_app1("alice").await;
    let mut authenticator = Authenticator::new();
    let credential = register(&app, &mut authenticator, "Phone").await;

    let other = Center::attach(app.address.clone());
    let page_html = login_page(&other).await;
    let form = passwordless_form(
        &other,
        &mut authenticator,
        &page_html,
        &credential,
        &alice.id,
    )
    .await;
    let first = post_form(&other, "/login/passkey", &form).await;
    assert_eq!(first.status(), 303);

    let thief = Center::attach(app.address.clone());
    let thief_page = login_page(&thief).await;
    let mut replayed = form.clone();
    replayed[0].1 = hidden(&thief_page, "csrf_token");
    let response = post_form(&thief, "/login/passkey", &replayed).await;
    assert_eq!(response.status(), 400, "the ceremony was used up");
    let body = response.text().await.unwrap();
    assert!(body.contains("expired or was already used"), "{body}");
    let failed = audit(&app, "sign_in_failed").await;
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["detail"]["method"], "passkey");
    assert_eq!(failed[0]["detail"]["reason"], "expired");

    let mut unknown = replayed.clone();
    unknown[2].1 = "not-a-ceremony".to_owned();
    let response = post_form(&thief, "/login/passkey", &unknown).await;
    assert_eq!(response.status(), 400);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("expired or was already used")
    );

    // The same assertion under a fresh ceremony: its challenge is not the one signed.
    let (ceremony, _) = options(&thief, "/login/passkey/options", &thief_page).await;
    let mut stale = replayed.clone();
    stale[2].1 = ceremony;
    let response = post_form(&thief, "/login/passkey", &stale).await;
    assert_eq!(response.status(), 401);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("could not be verified")
    );

    let mut garbage = replayed.clone();
    let (ceremony, _) = options(&thief, "/login/passkey/options", &thief_page).await;
    garbage[2].1 = ceremony;
    garbage[3].1 = "{not json".to_owned();
    let response = post_form(&thief, "/login/passkey", &garbage).await;
    assert_eq!(response.status(), 400);

    let mut forged = replayed;
    forged[0].1 = "forged".to_owned();
    let response = post_form(&thief, "/login/passkey", &forged).await;
    assert_eq!(response.status(), 403, "CSRF");
    let response = thief
        .browser
        .post(thief.url("/login/passkey/options"))
        .form(&[("csrf_token", "forged")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    let error: Value = response.json().await.unwrap();
    assert!(error["error"].is_string());

    let session = thief
        .browser
        .get(thief.url("/account/passkeys"))
        .send()
        .await
        .unwrap();
    assert_eq!(session.status(), 303, "the thief never signed in");
}

#[tokio::test]
async fn a_passkey_is_the_second_step_of_a_password_session_and_upgrades_it() {
    let app = spawn_app().await;
    app2_requires_mfa(&app).await;
    let alice = app.user("alice").await;
    app.login_app1("alice").await;
    let mut authenticator = Authenticator::new();
    let credential = register(&app, &mut authenticator, "Key").await;

    let other = Center::attach(app.address.clone());
    let first = other.login_app1("alice").await;
    assert_eq!(amr(&first), ["pwd"]);
    let response = other.get_authorize(&AuthRequest::app2()).await;
    assert_eq!(response.status(), 303);
    let target = location(&response);
    assert!(target.starts_with("/login/factor?"), "{target}");
    let step = page(&other, &target).await;
    assert!(step.contains("id=\"passkey-second\""), "the passkey button");

    let (ceremony, options) = options(&other, "/login/passkey/second/options", &step).await;
    let allowed = options["publicKey"]["allowCredentials"].as_array().unwrap();
    assert_eq!(allowed.len(), 1, "only alice's passkey");
    assert_eq!(allowed[0]["id"], credential.as_str());
    let asserted = authenticator.get(options, &credential, None);
    let form = [
        ("csrf_token", hidden(&step, "csrf_token")),
        ("return_to", hidden(&step, "return_to")),
        ("ceremony", ceremony),
        ("credential", asserted),
    ];
    let response = post_form(&other, "/login/passkey/second", &form).await;
    assert_eq!(response.status(), 303);
    let tokens = tokens(&other, response, "app2").await;
    assert_eq!(amr(&tokens), ["pwd", "hwk", "user", "mfa"]);
    assert_eq!(acr(&tokens), "urn:sso:acr:mfa");
    assert_eq!(
        sid_of(&tokens),
        sid_of(&first),
        "the same session, upgraded"
    );
    assert_eq!(
        claims(tokens["id_token"].as_str().unwrap())["sub"],
        alice.id
    );
}

#[tokio::test]
async fn another_users_passkey_is_refused_as_the_second_factor() {
    let app = spawn_app().await;
    app2_requires_mfa(&app).await;
    app.login_app1("alice").await;
    let mut alices = Authenticator::new();
    let alice_credential = register(&app, &mut alices, "Alice's key").await;
    let bob_browser = Center::attach(app.address.clone());
    bob_browser.login_app1("bob").await;
    let mut bobs = Authenticator::new();
    register(&bob_browser, &mut bobs, "Bob's key").await;

    // Bob's password session (a fresh browser) answers his second step with Alice's passkey.
    let thief = Center::attach(app.address.clone());
    thief.login_app1("bob").await;
    let target = location(&thief.get_authorize(&AuthRequest::app2()).await);
    let step = page(&thief, &target).await;
    let (ceremony, options) = options(&thief, "/login/passkey/second/options", &step).await;
    let asserted = alices.get(options, &alice_credential, None);
    let form = [
        ("csrf_token", hidden(&step, "csrf_token")),
        ("return_to", hidden(&step, "return_to")),
        ("ceremony", ceremony),
        ("credential", asserted),
    ];
    let response = post_form(&thief, "/login/passkey/second", &form).await;
    assert_eq!(response.status(), 401);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("could not be verified")
    );
    let failed = audit(&app, "second_factor_failed").await;
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["username"], "bob");
    assert_eq!(failed[0]["detail"]["method"], "passkey");
    assert_eq!(failed[0]["detail"]["reason"], "rejected");
    let again = thief.get_authorize(&AuthRequest::app2()).await;
    assert!(
        location(&again).starts_with("/login/factor?"),
        "the session was not upgraded"
    );
}

#[tokio::test]
async fn removing_a_passkey_asks_for_a_second_factor_ends_other_sessions_and_keeps_the_last_one_when_required()
 {
    let app = spawn_app_with(|settings| {
        settings.login.mfa = MfaPolicy::Required;
    })
    .await;
    let alice = app.user("alice").await;
    let login = page(&app, "/login").await;
    let response = app.submit_login(&login, "alice", PASSWORD).await;
    assert_eq!(response.status(), 303);
    let mut authenticator = Authenticator::new();
    let first = register(&app, &mut authenticator, "First").await;

    // Now that alice has a factor, a password-only session of hers gives it before any change.
    let other = Center::attach(app.address.clone());
    let login = page(&other, "/login").await;
    assert_eq!(
        other.submit_login(&login, "alice", PASSWORD).await.status(),
        303
    );
    let response = other
        .browser
        .get(other.url("/account/passkeys"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    let target = location(&response);
    assert!(target.starts_with("/login/factor?"), "{target}");
    let step = page(&other, &target).await;
    let (ceremony, options) = options(&other, "/login/passkey/second/options", &step).await;
    let asserted = authenticator.get(options, &first, None);
    let form = [
        ("csrf_token", hidden(&step, "csrf_token")),
        ("return_to", hidden(&step, "return_to")),
        ("ceremony", ceremony),
        ("credential", asserted),
    ];
    let response = post_form(&other, "/login/passkey/second", &form).await;
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), "/account/passkeys");

    let second = register(&other, &mut authenticator, "Second").await;
    assert_ne!(first, second);
    assert_eq!(
        app.state
            .sessions
            .list_for_user(&alice.id)
            .await
            .unwrap()
            .len(),
        2
    );

    let listed = page(&other, "/account/passkeys").await;
    let ids: Vec<String> = listed
        .split("name=\"id\" value=\"")
        .skip(1)
        .map(|part| part[..part.find('"').unwrap()].to_owned())
        .collect();
    assert_eq!(ids.len(), 2);
    let remove = |id: String| {
        let form = [("csrf_token", hidden(&listed, "csrf_token")), ("id", id)];
        let center = &other;
        async move { post_form(center, "/account/passkeys/remove", &form).await }
    };
    let response = remove("someone-elses".to_owned()).await;
    assert_eq!(response.status(), 404);
    let response = remove(ids[0].clone()).await;
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), "/account/passkeys?done=removed");
    let listed_after = page(&other, "/account/passkeys?done=removed").await;
    assert!(listed_after.contains("The passkey was removed."));
    assert!(!listed_after.contains("First"));
    assert!(listed_after.contains("Second"));
    assert_eq!(
        app.state
            .sessions
            .list_for_user(&alice.id)
            .await
            .unwrap()
            .len(),
        1,
        "the other session ended"
    );

    let response = remove(ids[1].clone()).await;
    assert_eq!(response.status(), 409, "the last factor stays");
    assert!(page(&other, "/account/passkeys").await.contains("Second"));
    assert_eq!(
        app.state
            .factors
            .enrolled(&alice.id)
            .await
            .unwrap()
            .passkeys,
        1
    );

    // An administrator's reset removes passkeys too.
    assert!(app.state.factors.reset(&alice.id).await.unwrap());
    let left = app.state.factors.enrolled(&alice.id).await.unwrap();
    assert_eq!(left.passkeys, 0);
}

/// Starting a passkey sign-in stores a ceremony: it spends the address's sign-in budget like a
/// password attempt, and is refused with 429, `Retry-After` and a message the page shows once
/// the budget is spent, as the password form then is.
#[tokio::test]
async fn passkey_sign_ins_started_from_one_address_spend_its_sign_in_budget() {
    let app = spawn_app_with(|settings| settings.login.max_attempts_per_ip = 3).await;
    let login = login_page(&app).await;
    for _ in 0..3 {
        options(&app, "/login/passkey/options", &login).await;
    }
    let limited = ask_options(&app, "/login/passkey/options", &login).await;
    let error = limited_error(limited).await;
    assert!(error.starts_with("Too many sign-in attempts"), "{error}");
    let password = app.submit_login(&login, "alice", PASSWORD).await;
    assert_eq!(password.status(), 429, "one budget for both ways in");
}

/// The JSON error of a ceremony refused for its address's spent budget.
async fn limited_error(response: reqwest::Response) -> String {
    assert_eq!(response.status(), 429);
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    assert!(retry_after.is_some_and(|secs| secs > 0), "{retry_after:?}");
    let error: Value = response.json().await.unwrap();
    error["error"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn passkey_registrations_and_second_steps_started_spend_the_address_budget_too() {
    let app = spawn_app_with(|settings| settings.login.max_attempts_per_ip = 5).await;
    app2_requires_mfa(&app).await;
    app.login_app1("alice").await; // 1: the password
    let mut authenticator = Authenticator::new();
    register(&app, &mut authenticator, "Key").await; // 2
    let other = Center::attach(app.address.clone());
    other.login_app1("alice").await; // 3
    let response = other.get_authorize(&AuthRequest::app2()).await;
    let step = page(&other, &location(&response)).await;
    options(&other, "/login/passkey/second/options", &step).await; // 4
    let account = page(&app, "/account/passkeys").await;
    options(&app, "/account/passkeys/options", &account).await; // 5

    let second = ask_options(&other, "/login/passkey/second/options", &step).await;
    let error = limited_error(second).await;
    assert!(error.starts_with("Too many sign-in attempts"), "{error}");
    let registration = ask_options(&app, "/account/passkeys/options", &account).await;
    let error = limited_error(registration).await;
    assert!(error.starts_with("Too many passkey requests"), "{error}");
}

#[tokio::test]
async fn an_issuer_at_an_ip_address_has_no_passkeys_and_says_so() {
    let app = spawn_app_with(|settings| {
        settings.issuer = Url::parse("https://192.0.2.10").unwrap();
    })
    .await;
    assert!(!app.state.passkeys.available());
    let login = page(&app, "/login").await;
    let response = ask_options(&app, "/login/passkey/options", &login).await;
    assert_eq!(response.status(), 404);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["error"], "Passkeys are not available on this server.");
}

#[tokio::test]
async fn a_ceremony_started_at_one_replica_is_answered_at_another_once() {
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
    let alice = a.user("alice").await;
    a.login_app1("alice").await;
    let mut authenticator = Authenticator::new();
    let credential = register(&a, &mut authenticator, "Laptop").await;

    // One browser (cookies are per host, so it is the same browser at both ports).
    let at_a = Center::attach(a.address.clone());
    let at_b = Center {
        address: b.address.clone(),
        browser: at_a.browser.clone(),
        api: at_a.api.clone(),
    };
    let login = login_page(&at_a).await;
    let form = passwordless_form(&at_a, &mut authenticator, &login, &credential, &alice.id).await;
    let response = post_form(&at_b, "/login/passkey", &form).await;
    assert_eq!(
        response.status(),
        303,
        "the other replica finds the ceremony"
    );
    let replayed = post_form(&at_a, "/login/passkey", &form).await;
    assert_eq!(replayed.status(), 400, "and it was taken there");
}
