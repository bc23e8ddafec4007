//! Forward auth against a real center: the test plays nginx (a trusted proxy at 127.0.0.1
//! sending `X-Forwarded-*`) and a browser on the protected host (keeping that host's cookies
//! itself), with the memory store and with Redis.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, SET_COOKIE};
use serde_json::Value;
use session_store::SharedStore;
use sso_server::config::{ForwardAuthSettings, Settings};
use sso_server::slo::EndReason;

use crate::helpers::*;

const WIKI: &str = "wiki.test.localhost";
const WIKI_AUTHORITY: &str = "wiki.test.localhost:8443";
const ADMIN_HOST: &str = "admin.test.localhost";

fn entry(name: &str, host: &str, groups: &[&str]) -> ForwardAuthSettings {
    ForwardAuthSettings {
        name: name.to_owned(),
        hosts: vec![host.to_owned()],
        allowed_users: Vec::new(),
        allowed_groups: groups.iter().map(|g| (*g).to_owned()).collect(),
        idle_timeout_secs: 600,
        absolute_timeout_secs: 3_600,
        mfa: None,
    }
}

/// The center trusts 127.0.0.1 as its proxy and protects the wiki (anyone) and the admin
/// host (group `admins`).
fn protect(settings: &mut Settings) {
    settings.login.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    settings.forward_auth = vec![
        entry("wiki", WIKI, &[]),
        entry("admin", ADMIN_HOST, &["admins"]),
    ];
}

async fn spawn_protected() -> TestApp {
    spawn_app_with(protect).await
}

async fn spawn_protected_on(store: Arc<dyn SharedStore>) -> TestApp {
    let mut settings = test_settings();
    protect(&mut settings);
    let (url, dir) = new_database().await;
    let app = start(settings, &url, dir, store).await;
    app.seed().await;
    app
}

/// A browser on one protected host, reached through "nginx" (this test), with the host's
/// cookies kept here and the center's in the center's browser.
struct HostBrowser<'a> {
    center: &'a Center,
    authority: String,
    cookies: BTreeMap<String, String>,
}

impl<'a> HostBrowser<'a> {
    fn new(center: &'a Center, authority: &str) -> Self {
        Self {
            center,
            authority: authority.to_owned(),
            cookies: BTreeMap::new(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// A request to the center as nginx sends it for `uri` on this host.
    fn proxied(&self, path: &str, uri: &str) -> reqwest::RequestBuilder {
        self.center
            .api
            .get(self.center.url(path))
            .header("x-forwarded-proto", "https")
            .header("x-forwarded-host", &self.authority)
            .header("x-forwarded-uri", uri)
            .header("x-forwarded-method", "GET")
            .header("cookie", self.cookie_header())
    }

    async fn verify(&self, uri: &str) -> reqwest::Response {
        self.proxied("/forward-auth/verify", uri)
            .send()
            .await
            .unwrap()
    }

    /// `/_sso/<path>` on this host, proxied to `/forward-auth/<path>`.
    async fn sso(&mut self, path_and_query: &str) -> reqwest::Response {
        let response = self
            .proxied(
                &format!("/forward-auth/{path_and_query}"),
                &format!("/_sso/{path_and_query}"),
            )
            .send()
            .await
            .unwrap();
        self.keep_cookies(response.headers());
        response
    }

    fn keep_cookies(&mut self, headers: &HeaderMap) {
        for value in headers.get_all(SET_COOKIE) {
            let text = value.to_str().unwrap();
            let (pair, _) = text.split_once(';').unwrap_or((text, ""));
            let (name, value) = pair.split_once('=').unwrap();
            if value.is_empty() || text.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
    }

    /// Start → the center (login with `password` when asked) → callback; the callback's
    /// response.
    async fn sign_in(&mut self, rd: &str, username: &str) -> reqwest::Response {
        let start = self.sso(&format!("start?rd={}", urlencode(rd))).await;
        assert_eq!(start.status(), 303, "start redirects to the center");
        let authorize = location(&start);
        let path = authorize
            .strip_prefix(ISSUER)
            .expect("to the center's issuer URL");
        let mut response = self
            .center
            .browser
            .get(self.center.url(path))
            .send()
            .await
            .unwrap();
        if response.status() == 200 {
            let page = response.text().await.unwrap();
            response = self.center.submit_login(&page, username, PASSWORD).await;
        }
        let callback = self.center.follow(response).await;
        let prefix = format!("https://{}/_sso/", self.authority);
        let rest = callback
            .url
            .as_str()
            .strip_prefix(&prefix)
            .expect("back on the host");
        self.sso(rest).await
    }

    fn session_cookie(&self) -> Option<&String> {
        self.cookies.get("sso_fa_session")
    }
}

fn urlencode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

fn header<'r>(response: &'r reqwest::Response, name: &str) -> Option<&'r str> {
    response.headers().get(name).map(|v| v.to_str().unwrap())
}

/// Signs `username` in to the wiki; the host browser, holding its forward-auth cookie.
async fn signed_in<'a>(app: &'a TestApp, username: &str) -> HostBrowser<'a> {
    let mut wiki = HostBrowser::new(app, WIKI_AUTHORITY);
    let callback = wiki.sign_in("/page?x=1", username).await;
    assert_eq!(callback.status(), 303);
    assert_eq!(location(&callback), "/page?x=1");
    assert!(wiki.session_cookie().is_some());
    wiki
}

/// The `sid` of the browser's single global session, from the admin API.
async fn sid_of_user(app: &TestApp, username: &str) -> String {
    let body: Value = app
        .admin_get(&format!("/admin/users/{username}/sessions"))
        .await
        .json()
        .await
        .unwrap();
    body["sessions"][0]["sid"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn the_full_flow_signs_in_and_verify_answers_with_the_identity() {
    let app = spawn_protected().await;
    app.state
        .users
        .change_groups(
            &sso_server::domain::Username::parse("alice").unwrap(),
            &sso_server::users::GroupChange::Set(
                sso_server::users::GroupName::parse_list("staff,admins").unwrap(),
            ),
        )
        .await
        .unwrap();
    let mut wiki = HostBrowser::new(&app, WIKI_AUTHORITY);

    let anonymous = wiki.verify("/page?x=1").await;
    assert_eq!(anonymous.status(), 401);
    assert_eq!(
        location(&anonymous),
        "https://wiki.test.localhost:8443/_sso/start?rd=%2Fpage%3Fx%3D1"
    );
    assert!(header(&anonymous, "remote-user").is_none());

    let start = wiki.sso("start?rd=%2Fpage%3Fx%3D1").await;
    let flow_cookie = header(&start, "set-cookie").unwrap().to_owned();
    assert!(flow_cookie.starts_with("sso_fa_flow_"), "{flow_cookie}");
    for attribute in ["HttpOnly", "Secure", "SameSite=Lax", "Path=/_sso"] {
        assert!(flow_cookie.contains(attribute), "{flow_cookie}");
    }
    let authorize = url::Url::parse(&location(&start)).unwrap();
    let query: BTreeMap<_, _> = authorize.query_pairs().into_owned().collect();
    assert_eq!(query["client_id"], "forward-auth.wiki");
    assert_eq!(
        query["redirect_uri"],
        "https://wiki.test.localhost:8443/_sso/callback"
    );
    assert_eq!(query["code_challenge_method"], "S256");

    let callback = wiki.sign_in("/page?x=1", "alice").await;
    assert_eq!(callback.status(), 303);
    assert_eq!(location(&callback), "/page?x=1");
    let cookie = callback
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("sso_fa_session="))
        .unwrap();
    for attribute in ["HttpOnly", "Secure", "SameSite=Lax", "Path=/"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    assert!(
        !cookie.to_ascii_lowercase().contains("domain"),
        "host-only: {cookie}"
    );

    let verified = wiki.verify("/page?x=1").await;
    assert_eq!(verified.status(), 200);
    assert_eq!(header(&verified, "remote-user"), Some("alice"));
    assert_eq!(header(&verified, "remote-name"), Some("Alice Liddell"));
    assert_eq!(
        header(&verified, "remote-email"),
        Some("alice@example.test")
    );
    assert_eq!(header(&verified, "remote-groups"), Some("admins,staff"));

    let sessions: Value = app
        .admin_get("/admin/users/alice/sessions")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        sessions["sessions"][0]["clients"],
        serde_json::json!(["forward-auth.wiki"]),
        "the admin view lists the protected host with the global session"
    );
}

#[tokio::test]
async fn a_live_global_session_signs_in_to_a_protected_host_without_a_password() {
    let app = spawn_protected().await;
    app.login_app1("alice").await;
    let mut wiki = HostBrowser::new(&app, WIKI_AUTHORITY);
    let start = wiki.sso("start?rd=%2F").await;
    let authorize = location(&start);
    let at_center = app
        .browser
        .get(app.url(authorize.strip_prefix(ISSUER).unwrap()))
        .send()
        .await
        .unwrap();
    assert_eq!(
        at_center.status(),
        303,
        "no login page: the code is issued at once"
    );
    let callback = app.follow(at_center).await;
    assert!(
        callback
            .url
            .as_str()
            .starts_with("https://wiki.test.localhost:8443/_sso/callback?")
    );
}

#[tokio::test]
async fn a_signed_in_user_outside_the_allowed_groups_gets_403_until_added() {
    let app = spawn_protected().await;
    let mut admin = HostBrowser::new(&app, ADMIN_HOST);
    let callback = admin.sign_in("/", "bob").await;
    assert_eq!(callback.status(), 303);
    let refused = admin.verify("/").await;
    assert_eq!(refused.status(), 403);
    assert!(header(&refused, "remote-user").is_none());

    let added = app
        .api
        .put(app.url("/admin/users/bob/groups/admins"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(added.status(), 200);
    assert_eq!(
        admin.verify("/").await.status(),
        401,
        "a change of groups makes the host's session sign in again"
    );
    admin.sign_in("/", "bob").await;
    let allowed = admin.verify("/").await;
    assert_eq!(allowed.status(), 200);
    assert_eq!(header(&allowed, "remote-groups"), Some("admins"));
}

#[tokio::test]
async fn a_session_for_one_host_is_not_accepted_by_another() {
    let app = spawn_protected().await;
    let wiki = signed_in(&app, "alice").await;
    let mut other = HostBrowser::new(&app, ADMIN_HOST);
    other.cookies = wiki.cookies.clone();
    assert_eq!(other.verify("/").await.status(), 401);
}

#[tokio::test]
async fn logout_at_the_center_ends_the_forward_auth_session_at_once() {
    let app = spawn_protected().await;
    let tokens = app.login_app1("alice").await;
    let wiki = signed_in(&app, "alice").await;
    assert_eq!(wiki.verify("/").await.status(), 200);
    let logout = app
        .browser
        .get(app.url("/logout"))
        .query(&[("id_token_hint", tokens["id_token"].as_str().unwrap())])
        .send()
        .await
        .unwrap();
    assert!(logout.status().is_success() || logout.status().is_redirection());
    let after = wiki.verify("/").await;
    assert_eq!(after.status(), 401, "no delay: the record is gone");
}

#[tokio::test]
async fn every_way_a_global_session_ends_ends_the_forward_auth_session() {
    let app = spawn_protected().await;
    for reason in [
        EndReason::AdminKill,
        EndReason::PasswordChanged,
        EndReason::UserDisabled,
    ] {
        let wiki = signed_in(&app, "alice").await;
        let sid = sid_of_user(&app, "alice").await;
        assert_eq!(wiki.verify("/").await.status(), 200);
        let alice = app.user("alice").await;
        match reason {
            EndReason::AdminKill => {
                let killed = app.admin_delete(&format!("/admin/sessions/{sid}")).await;
                assert_eq!(killed.status(), 200);
            }
            other => {
                app.state
                    .sessions
                    .end_all_for_user(&alice.id, other)
                    .await
                    .unwrap();
            }
        }
        assert_eq!(wiki.verify("/").await.status(), 401, "{reason:?}");
        assert_eq!(
            app.state
                .forward_auth
                .sessions
                .count_for_sid(&sid)
                .await
                .unwrap(),
            0
        );
        // The next round signs in with a password again.
        app.browser.get(app.url("/logout")).send().await.unwrap();
    }
}

#[tokio::test]
async fn expiry_of_the_global_session_ends_the_forward_auth_session() {
    let app = spawn_app_with(|settings| {
        protect(settings);
        settings.session.idle_timeout_secs = 1;
        settings.session.sweep_interval_secs = 1;
    })
    .await;
    let wiki = signed_in(&app, "alice").await;
    assert_eq!(wiki.verify("/").await.status(), 200);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while wiki.verify("/").await.status() != 401 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the sweep never ended it"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn forwarded_headers_from_an_untrusted_peer_are_refused_and_not_reflected() {
    let app = spawn_app_with(|settings| {
        protect(settings);
        settings.login.trusted_proxies = vec!["10.9.9.9".parse().unwrap()];
    })
    .await;
    let mut wiki = HostBrowser::new(&app, WIKI_AUTHORITY);
    let verify = wiki
        .proxied("/forward-auth/verify", "/evil-marker")
        .header("remote-user", "admin")
        .send()
        .await
        .unwrap();
    assert_eq!(verify.status(), 403);
    assert!(header(&verify, "remote-user").is_none());
    assert!(header(&verify, "location").is_none());
    let body = verify.text().await.unwrap();
    assert!(
        !body.contains("evil-marker") && !body.contains("wiki"),
        "{body}"
    );
    let start = wiki.sso("start?rd=%2F").await;
    assert_eq!(start.status(), 400);
    assert!(header(&start, "location").is_none(), "never redirected for");
}

#[tokio::test]
async fn a_client_sent_remote_user_is_ignored() {
    let app = spawn_protected().await;
    let wiki = HostBrowser::new(&app, WIKI_AUTHORITY);
    let forged = wiki
        .proxied("/forward-auth/verify", "/")
        .header("remote-user", "admin")
        .header("remote-groups", "admins")
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 401);
    assert!(header(&forged, "remote-user").is_none());
    let signed = signed_in(&app, "bob").await;
    let mixed = signed
        .proxied("/forward-auth/verify", "/")
        .header("remote-user", "admin")
        .send()
        .await
        .unwrap();
    assert_eq!(header(&mixed, "remote-user"), Some("bob"));
}

#[tokio::test]
async fn garbage_cookies_get_401() {
    let app = spawn_protected().await;
    let long = "A".repeat(4_000);
    let values = [
        "",
        "not-a-key",
        "%00%01",
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        long.as_str(),
        "\"quoted\"",
    ];
    for value in values {
        let mut wiki = HostBrowser::new(&app, WIKI_AUTHORITY);
        wiki.cookies
            .insert("sso_fa_session".to_owned(), value.to_owned());
        let response = wiki.verify("/").await;
        assert_eq!(response.status(), 401, "{value:?}");
        assert!(!response.text().await.unwrap().contains(value) || value.is_empty());
    }
}

#[tokio::test]
async fn rd_must_be_a_path_on_the_same_host() {
    let app = spawn_protected().await;
    let mut wiki = HostBrowser::new(&app, WIKI_AUTHORITY);
    for rd in [
        "https://evil.test/",
        "//evil.test/",
        "/\\evil.test",
        "evil.test",
        "/a\r\nSet-Cookie: x=1",
    ] {
        let response = wiki.sso(&format!("start?rd={}", urlencode(rd))).await;
        assert_eq!(response.status(), 400, "{rd:?}");
        assert!(header(&response, "location").is_none());
        assert!(!response.text().await.unwrap().contains("evil.test"));
    }
}

#[tokio::test]
async fn an_unregistered_host_is_refused_and_never_redirected_for() {
    let app = spawn_protected().await;
    let mut stranger = HostBrowser::new(&app, "stranger.test.localhost");
    let verify = stranger.verify("/").await;
    assert_eq!(verify.status(), 403);
    assert!(header(&verify, "location").is_none());
    for path in ["start?rd=%2F", "callback?code=x&state=y", "sign-out"] {
        let response = stranger.sso(path).await;
        assert_eq!(response.status(), 400, "{path}");
        assert!(header(&response, "location").is_none(), "{path}");
    }
    // Nor does /authorize accept a callback on a host the entry does not serve.
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("response_type", "code")
        .append_pair("client_id", "forward-auth.wiki")
        .append_pair("redirect_uri", "https://evil.test/_sso/callback")
        .append_pair("scope", "openid")
        .append_pair("code_challenge", CHALLENGE)
        .append_pair("code_challenge_method", "S256")
        .finish();
    let authorize = app
        .browser
        .get(app.url(&format!("/authorize?{query}")))
        .send()
        .await
        .unwrap();
    assert_eq!(authorize.status(), 400);
    assert!(header(&authorize, "location").is_none());
}

#[tokio::test]
async fn oversized_and_malformed_forwarded_headers_get_a_defined_4xx() {
    let app = spawn_protected().await;
    let wiki = HostBrowser::new(&app, WIKI_AUTHORITY);
    let huge = format!("/{}", "x".repeat(100_000));
    let oversized = wiki.verify(&huge).await;
    assert!(
        oversized.status().is_client_error(),
        "{}",
        oversized.status()
    );
    assert!(!oversized.text().await.unwrap().contains("xxxxxxxxxx"));
    let long_uri = format!("/{}", "y".repeat(3_000));
    let long = wiki.verify(&long_uri).await;
    assert_eq!(long.status(), 401, "an unusable URI returns to the root");
    assert_eq!(
        location(&long),
        "https://wiki.test.localhost:8443/_sso/start?rd=%2F"
    );
    for host in [
        "wiki.test.localhost:99999",
        "wiki test",
        &"a".repeat(300),
        "wiki.test.localhost, evil.test",
    ] {
        let bad = HostBrowser::new(&app, host).verify("/").await;
        assert_eq!(bad.status(), 403, "{host}");
        assert!(header(&bad, "location").is_none());
    }
    let no_host = app
        .api
        .get(app.url("/forward-auth/verify"))
        .send()
        .await
        .unwrap();
    assert_eq!(no_host.status(), 403);
}

#[tokio::test]
async fn the_callback_refuses_codes_and_states_from_another_browser() {
    let app = spawn_protected().await;
    // The attacker starts a sign-in and gets a callback URL for their own account.
    let mut attacker = HostBrowser::new(&app, WIKI_AUTHORITY);
    let start = attacker.sso("start?rd=%2F").await;
    let authorize = location(&start);
    let page = app
        .browser
        .get(app.url(authorize.strip_prefix(ISSUER).unwrap()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let callback = app
        .follow(app.submit_login(&page, "bob", PASSWORD).await)
        .await;
    let rest = callback
        .url
        .as_str()
        .strip_prefix("https://wiki.test.localhost:8443/_sso/")
        .unwrap()
        .to_owned();

    // The victim's browser, without the attacker's flow cookie, is refused.
    let mut victim = HostBrowser::new(&app, WIKI_AUTHORITY);
    let refused = victim.sso(&rest).await;
    assert_eq!(refused.status(), 400);
    assert!(victim.session_cookie().is_none());

    // Refusing the victim did not consume the attacker's code; it works once, in the
    // browser that started the sign-in.
    assert_eq!(attacker.sso(&rest).await.status(), 303);
    let replay = attacker.sso(&rest).await;
    assert_eq!(
        replay.status(),
        400,
        "the flow cookie and the code are single use"
    );
    let mut wrong_state = HostBrowser::new(&app, WIKI_AUTHORITY);
    wrong_state.cookies = attacker.cookies.clone();
    let response = wrong_state
        .sso("callback?code=abc&state=zzzzzzzzzzzzzzzzzzzzzz")
        .await;
    assert_eq!(response.status(), 400);
}

#[tokio::test]
async fn sign_out_on_a_protected_host_goes_to_the_centers_logout() {
    let app = spawn_protected().await;
    let mut wiki = signed_in(&app, "alice").await;
    let response = wiki.sso("sign-out").await;
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), format!("{ISSUER}/logout"));
    let confirm = app.browser.get(app.url("/logout")).send().await.unwrap();
    let page = confirm.text().await.unwrap();
    let done = app
        .browser
        .post(app.url("/logout"))
        .form(&[("csrf_token", hidden(&page, "csrf_token"))])
        .send()
        .await
        .unwrap();
    assert!(done.status().is_success(), "{}", done.status());
    assert_eq!(wiki.verify("/").await.status(), 401);
}

/// Status and `Location` of 500 concurrent verifications of `wiki`'s cookie, for the assets
/// `/asset/<n>.css` of one page.
async fn verifications(wiki: &HostBrowser<'_>) -> Vec<(StatusCode, Option<String>)> {
    let handles: Vec<_> = (0..500)
        .map(|n| {
            let pending = wiki
                .proxied("/forward-auth/verify", &format!("/asset/{n}.css"))
                .send();
            tokio::spawn(async move {
                let response = pending.await.unwrap();
                let location = header(&response, "location").map(str::to_owned);
                (response.status(), location)
            })
        })
        .collect();
    let mut answers = Vec::new();
    for handle in handles {
        answers.push(handle.await.unwrap());
    }
    answers
}

/// Follows every sign-in location at once, as a browser loading the page's assets does: the
/// statuses, after keeping the cookies the answers set.
async fn follow_all(wiki: &mut HostBrowser<'_>, locations: &[String]) -> Vec<StatusCode> {
    let prefix = format!("https://{}/_sso/", wiki.authority);
    let handles: Vec<_> = locations
        .iter()
        .map(|location| {
            let rest = location
                .strip_prefix(&prefix)
                .expect("a sign-in on the host");
            let pending = wiki
                .proxied(&format!("/forward-auth/{rest}"), &format!("/_sso/{rest}"))
                .header("sec-fetch-mode", "no-cors")
                .header("sec-fetch-dest", "style")
                .send();
            tokio::spawn(async move {
                let response = pending.await.unwrap();
                (response.status(), response.headers().clone())
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for handle in handles {
        let (status, headers) = handle.await.unwrap();
        wiki.keep_cookies(&headers);
        statuses.push(status);
    }
    statuses
}

/// The issue's burst: 500 concurrent requests of a page's assets get 0 non-200 answers with a
/// live session; once the host's session has ended (the global session lives on) they get
/// only 401s, and what a browser then does (every asset following its 401 to the sign-in at
/// once, then the page's own sign-in) ends in one sign-in, without a password, after which the
/// next 500 are all 200 again.
async fn burst(app: &TestApp) {
    let mut wiki = signed_in(app, "alice").await;
    let live = verifications(&wiki).await;
    let failed: Vec<_> = live.iter().filter(|(s, _)| *s != StatusCode::OK).collect();
    assert!(failed.is_empty(), "{failed:?}");

    // The host's session ends as at its idle timeout: its record is gone from the store.
    let sid = sid_of_user(app, "alice").await;
    let cookie = wiki.session_cookie().unwrap().clone();
    app.state
        .forward_auth
        .sessions
        .delete(&cookie)
        .await
        .unwrap();
    let ended = verifications(&wiki).await;
    let mut locations = Vec::new();
    for (n, (status, location)) in ended.iter().enumerate() {
        assert_eq!(*status, StatusCode::UNAUTHORIZED, "asset {n}");
        let expected = format!("https://{WIKI_AUTHORITY}/_sso/start?rd=%2Fasset%2F{n}.css");
        assert_eq!(location.as_deref(), Some(expected.as_str()), "asset {n}");
        locations.extend(location.clone());
    }

    let followed = follow_all(&mut wiki, &locations).await;
    assert!(
        followed.iter().all(|s| *s == StatusCode::UNAUTHORIZED),
        "an asset cannot sign in: {followed:?}"
    );
    assert!(
        !wiki
            .cookies
            .keys()
            .any(|name| name.starts_with("sso_fa_flow_")),
        "the assets' starts left no flow cookie: {:?}",
        wiki.cookies.keys()
    );

    // The page's own sign-in: a page load, no password while the global session lives.
    let start = wiki
        .proxied("/forward-auth/start?rd=%2Fpage", "/_sso/start?rd=%2Fpage")
        .header("sec-fetch-mode", "navigate")
        .send()
        .await
        .unwrap();
    assert_eq!(start.status(), 303);
    wiki.keep_cookies(start.headers());
    let authorize = location(&start);
    let at_center = app
        .browser
        .get(app.url(authorize.strip_prefix(ISSUER).unwrap()))
        .send()
        .await
        .unwrap();
    assert_eq!(
        at_center.status(),
        303,
        "no password: the global session lives"
    );
    let back = app.follow(at_center).await;
    let prefix = format!("https://{WIKI_AUTHORITY}/_sso/");
    let callback = wiki
        .sso(
            back.url
                .as_str()
                .strip_prefix(&prefix)
                .expect("back on the host"),
        )
        .await;
    assert_eq!(callback.status(), 303);
    assert_eq!(location(&callback), "/page");
    assert_ne!(wiki.session_cookie(), Some(&cookie), "a new session");
    assert_eq!(
        app.state
            .forward_auth
            .sessions
            .count_for_sid(&sid)
            .await
            .unwrap(),
        1,
        "one sign-in"
    );

    let again = verifications(&wiki).await;
    let failed: Vec<_> = again.iter().filter(|(s, _)| *s != StatusCode::OK).collect();
    assert!(failed.is_empty(), "{failed:?}");

    // And when the global session ends, every request is a 401 at once.
    app.state
        .sessions
        .end(&sid, EndReason::Expired)
        .await
        .unwrap();
    let ended = verifications(&wiki).await;
    assert!(
        ended.iter().all(|(s, _)| *s == StatusCode::UNAUTHORIZED),
        "{ended:?}"
    );
}

#[tokio::test]
async fn a_burst_of_500_verifications_gets_no_spurious_answer_and_needs_one_sign_in() {
    let app = spawn_protected().await;
    burst(&app).await;
}

/// A Redis center with `store.forward_auth_cache`: the store's settings name the same Redis
/// and prefix as `store`.
async fn spawn_protected_on_cached_redis() -> TestApp {
    let prefix = unique_prefix();
    let mut settings = test_settings();
    protect(&mut settings);
    settings.store.backend = sso_server::config::StoreBackend::Redis;
    settings.store.redis_url = Some(sso_server::config::Secret::new(redis_url()));
    settings.store.prefix.clone_from(&prefix);
    settings.store.forward_auth_cache = true;
    let (url, dir) = new_database().await;
    let app = start(settings, &url, dir, redis_store(&redis_url(), &prefix)).await;
    app.seed().await;
    app
}

async fn flow_logout_and_burst(app: &TestApp) {
    burst(app).await;
    let wiki = signed_in(app, "bob").await;
    let sid = sid_of_user(app, "bob").await;
    assert_eq!(header(&wiki.verify("/").await, "remote-user"), Some("bob"));
    app.admin_delete(&format!("/admin/sessions/{sid}")).await;
    assert_eq!(wiki.verify("/").await.status(), 401);
}

#[tokio::test]
async fn with_redis_the_flow_logout_and_burst_hold() {
    let app = spawn_protected_on(redis_store(&redis_url(), &unique_prefix())).await;
    flow_logout_and_burst(&app).await;
}

#[tokio::test]
async fn with_the_redis_forward_auth_cache_the_flow_logout_and_burst_hold() {
    let app = spawn_protected_on_cached_redis().await;
    flow_logout_and_burst(&app).await;
}

/// Two replicas sharing Redis, each with its forward-auth cache: once the host's session has
/// been checked (and cached) on both, a logout through the first ends it on the second within
/// the push of an invalidation.
#[tokio::test]
async fn with_the_forward_auth_cache_a_logout_on_one_replica_ends_the_session_on_the_other() {
    let prefix = unique_prefix();
    let (url, dir) = new_database().await;
    let replica = |settings: &mut Settings| {
        protect(settings);
        settings.store.backend = sso_server::config::StoreBackend::Redis;
        settings.store.redis_url = Some(sso_server::config::Secret::new(redis_url()));
        settings.store.prefix.clone_from(&prefix);
        settings.store.forward_auth_cache = true;
    };
    let mut settings = test_settings();
    replica(&mut settings);
    let first = start(settings, &url, dir, redis_store(&redis_url(), &prefix)).await;
    first.seed().await;
    let mut settings = test_settings();
    replica(&mut settings);
    let second = start(
        settings,
        &url,
        tempfile::tempdir().unwrap(),
        redis_store(&redis_url(), &prefix),
    )
    .await;

    let tokens = first.login_app1("alice").await;
    let wiki = signed_in(&first, "alice").await;
    let mut on_second = HostBrowser::new(&second, WIKI_AUTHORITY);
    on_second.cookies = wiki.cookies.clone();
    for _ in 0..3 {
        assert_eq!(wiki.verify("/").await.status(), 200);
        assert_eq!(on_second.verify("/").await.status(), 200);
    }
    let logout = first
        .browser
        .get(first.url("/logout"))
        .query(&[("id_token_hint", tokens["id_token"].as_str().unwrap())])
        .send()
        .await
        .unwrap();
    assert!(logout.status().is_success() || logout.status().is_redirection());
    let deadline = tokio::time::Instant::now() + Duration::from_millis(100);
    while on_second.verify("/").await.status() != 401 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the second replica still answers from its cache"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(wiki.verify("/").await.status(), 401);
}

/// Browsers that do not say what a request is for: each start that follows a 401 adds a flow
/// cookie, but never more than `MAX_PENDING_FLOWS` stay, so requests to `/_sso/` stay small and
/// the last sign-in completes.
#[tokio::test]
async fn abandoned_sign_ins_do_not_pile_up_cookies() {
    use sso_server::routes::forward_auth::sign_in::MAX_PENDING_FLOWS;
    let app = spawn_protected().await;
    let mut wiki = HostBrowser::new(&app, WIKI_AUTHORITY);
    for n in 0..3 * MAX_PENDING_FLOWS {
        let start = wiki.sso(&format!("start?rd=%2Fasset%2F{n}.css")).await;
        assert_eq!(start.status(), 303);
        let flows = wiki
            .cookies
            .keys()
            .filter(|name| name.starts_with("sso_fa_flow_"))
            .count();
        assert!(
            (1..=MAX_PENDING_FLOWS).contains(&flows),
            "{flows} after {n}"
        );
    }
    let callback = wiki.sign_in("/page", "alice").await;
    assert_eq!(callback.status(), 303);
    assert_eq!(wiki.verify("/page").await.status(), 200);
}

#[tokio::test]
async fn the_command_line_registers_hosts_that_sign_in_at_once() {
    let (database, dir) = new_database().await;
    let mut settings = test_settings();
    protect(&mut settings);
    let app = start(settings, &database, dir, memory_store()).await;
    app.seed().await;
    let out = crate::cli::run(
        &database,
        &[
            "forward-auth",
            "add",
            "docs",
            "--host",
            "docs.test.localhost",
            "--allow-user",
            "bob",
            "--idle-timeout-secs",
            "120",
        ],
        "",
    )
    .await;
    assert!(out.contains("registered"), "{out}");
    let list = crate::cli::run(&database, &["forward-auth", "list"], "").await;
    assert!(
        list.contains("docs\thosts=docs.test.localhost\tusers=bob\tgroups="),
        "{list}"
    );

    let mut docs = HostBrowser::new(&app, "docs.test.localhost");
    assert_eq!(
        docs.sign_in("/", "bob").await.status(),
        303,
        "sign-in reads the database"
    );
    // Verification learns of the new host within its reload interval.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while docs.verify("/").await.status() != 200 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "verify never learned of the host"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let clash = crate::cli::command(
        &database,
        &[
            "forward-auth",
            "add",
            "other",
            "--host",
            "docs.test.localhost",
        ],
        &[],
        "",
    )
    .await;
    assert!(!clash.status.success(), "a host is served by one entry");
    assert!(String::from_utf8_lossy(&clash.stderr).contains("already served by docs"));
    let removed = crate::cli::run(&database, &["forward-auth", "remove", "docs"], "").await;
    assert!(removed.contains("removed"), "{removed}");
    let absent = crate::cli::command(&database, &["forward-auth", "remove", "docs"], &[], "").await;
    assert!(!absent.status.success());
}

#[tokio::test]
async fn a_host_that_requires_a_second_factor_asks_a_password_session_for_it() {
    let app = spawn_app_with(|settings| {
        protect(settings);
        settings.forward_auth[0].mfa = Some(sso_server::factors::MfaPolicy::Required);
    })
    .await;
    app.login_app1("alice").await;
    let (secret, _) = crate::factors::enroll(&app).await;
    let browser = Center::attach(app.address.clone());
    browser.login_app1("alice").await;
    let mut wiki = HostBrowser::new(&browser, WIKI_AUTHORITY);
    let start = wiki.sso("start?rd=%2F").await;
    let authorize = location(&start);
    let at_center = browser
        .browser
        .get(browser.url(authorize.strip_prefix(ISSUER).unwrap()))
        .send()
        .await
        .unwrap();
    let step = location(&at_center);
    assert!(
        step.starts_with("/login/factor?"),
        "the wiki needs a second factor: {step}"
    );
    let page = browser
        .browser
        .get(browser.url(&step))
        .send()
        .await
        .unwrap();
    let page = page.text().await.unwrap();
    let code = crate::factors::totp_code(&secret, 30);
    let callback = browser
        .follow(crate::factors::give_code(&browser, &page, &code).await)
        .await;
    assert!(
        callback
            .url
            .as_str()
            .starts_with("https://wiki.test.localhost:8443/_sso/callback?")
    );
    // The admin host keeps the center's default: the same session enters without a step.
    let mut admin = HostBrowser::new(&browser, "admin.test.localhost:8443");
    let start = admin.sso("start?rd=%2F").await;
    let at_center = browser
        .browser
        .get(browser.url(location(&start).strip_prefix(ISSUER).unwrap()))
        .send()
        .await
        .unwrap();
    assert!(!location(&at_center).starts_with("/login/factor"));
}
