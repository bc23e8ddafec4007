//! Login limiting under concurrency, device cookies, and one live session per login form.
//!
//! Clients reach the center through a trusted proxy (`127.0.0.1`) and say where they are with
//! `X-Forwarded-For`, so one test can attack from many addresses. Each "browser" here is a set
//! of cookies sent by hand, so that concurrent requests can share one form.

use std::sync::Arc;

use serde_json::Value;
use session_store::SharedStore;
use sso_server::config::Settings;

use crate::helpers::*;

const ATTACKERS: [&str; 4] = ["203.0.113.1", "203.0.113.2", "203.0.113.3", "203.0.113.4"];
const ALICE_ADDRESS: &str = "198.51.100.7";
const DEVICE_COOKIE: &str = "sso_device";

/// Settings behind the trusted proxy of the tests, with `configure` applied.
fn behind_proxy(configure: impl FnOnce(&mut Settings)) -> Settings {
    let mut settings = test_settings();
    settings.login.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    configure(&mut settings);
    settings
}

async fn spawn_behind_proxy(configure: impl FnOnce(&mut Settings)) -> TestApp {
    let (database, dir) = new_database().await;
    let app = start(behind_proxy(configure), &database, dir, memory_store()).await;
    app.seed().await;
    app
}

/// The `name=value` of every cookie a response sets.
fn set_cookies(response: &reqwest::Response) -> Vec<String> {
    response
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .map(|value| {
            let text = value.to_str().unwrap();
            text.split(';').next().unwrap().to_owned()
        })
        .collect()
}

/// The value of cookie `name` set by `response`, if any.
fn cookie_value(response: &reqwest::Response, name: &str) -> Option<String> {
    set_cookies(response)
        .into_iter()
        .find_map(|pair| pair.strip_prefix(&format!("{name}=")).map(str::to_owned))
}

/// A browser of its own: its cookies, and the hidden fields of the login form it was shown.
#[derive(Clone, Debug)]
struct Browser {
    cookies: Vec<String>,
    csrf_token: String,
    form_id: String,
}

impl Browser {
    /// A new browser that opened the login page of `center`.
    async fn open(center: &Center) -> Self {
        let response = center.api.get(center.url("/login")).send().await.unwrap();
        assert_eq!(response.status(), 200);
        let cookies = set_cookies(&response);
        let page = response.text().await.unwrap();
        Self {
            cookies,
            csrf_token: hidden(&page, "csrf_token"),
            form_id: hidden(&page, "form_id"),
        }
    }

    /// This browser with the device cookie `value` too.
    fn with_device(&self, value: &str) -> Self {
        let mut browser = self.clone();
        browser.cookies.push(format!("{DEVICE_COOKIE}={value}"));
        browser
    }

    /// Submits the login form from `address` to `center` (the URL of its `/login`).
    async fn submit(
        &self,
        client: &reqwest::Client,
        login_url: &str,
        address: &str,
        username: &str,
        password: &str,
    ) -> reqwest::Response {
        client
            .post(login_url)
            .header(reqwest::header::COOKIE, self.cookies.join("; "))
            .header("x-forwarded-for", address)
            .form(&[
                ("csrf_token", self.csrf_token.as_str()),
                ("form_id", self.form_id.as_str()),
                ("username", username),
                ("password", password),
            ])
            .send()
            .await
            .unwrap()
    }

    async fn sign_in(&self, center: &Center, address: &str, password: &str) -> reqwest::Response {
        self.submit(
            &center.api,
            &center.url("/login"),
            address,
            "alice",
            password,
        )
        .await
    }
}

/// Fires `guesses` (address, password) for alice at once, spread over `centers` in turn, and
/// returns how many were evaluated (401, or 303 for the right password) and how many limited
/// (429).
async fn burst(centers: &[&Center], browser: &Browser, guesses: Vec<(&str, &str)>) -> (u32, u32) {
    let mut attempts = tokio::task::JoinSet::new();
    for (i, (address, password)) in guesses.into_iter().enumerate() {
        let center = centers[i % centers.len()];
        let (client, url) = (center.api.clone(), center.url("/login"));
        let (browser, address, password) =
            (browser.clone(), address.to_owned(), password.to_owned());
        attempts.spawn(async move {
            let response = browser
                .submit(&client, &url, &address, "alice", &password)
                .await;
            let status = response.status().as_u16();
            if status == 429 {
                assert!(response.headers().contains_key("retry-after"));
            }
            status
        });
    }
    let (mut evaluated, mut limited) = (0, 0);
    for status in attempts.join_all().await {
        match status {
            401 | 303 => evaluated += 1,
            429 => limited += 1,
            other => panic!("unexpected status {other}"),
        }
    }
    (evaluated, limited)
}

/// 30 wrong guesses from each attacking address.
fn wrong_guesses() -> Vec<(&'static str, &'static str)> {
    (0..30)
        .flat_map(|_| ATTACKERS.map(|address| (address, "wrong password")))
        .collect()
}

/// Alice's live sessions, as the admin API lists them.
async fn live_sessions(center: &Center) -> Vec<Value> {
    let body: Value = center
        .admin_get("/admin/users/alice/sessions")
        .await
        .json()
        .await
        .unwrap();
    body["sessions"].as_array().unwrap().clone()
}

/// After the burst of wrong guesses has spent the budget, a second burst with the right
/// password among wrong ones signs nobody in.
async fn the_right_password_in_a_later_burst_is_refused(centers: &[&Center], browser: &Browser) {
    let sessions_before = live_sessions(centers[0]).await.len();
    let mut guesses: Vec<(&str, &str)> = ATTACKERS
        .iter()
        .map(|address| (*address, "wrong password"))
        .collect();
    guesses.insert(2, (ATTACKERS[0], PASSWORD));
    guesses.push((ATTACKERS[3], PASSWORD));
    let (evaluated, limited) = burst(centers, browser, guesses).await;
    assert_eq!(
        (evaluated, limited),
        (0, 6),
        "nothing is evaluated any more"
    );
    assert_eq!(live_sessions(centers[0]).await.len(), sessions_before);
}

#[tokio::test]
async fn concurrent_guesses_at_one_center_evaluate_at_most_the_budget() {
    let app = spawn_behind_proxy(|s| s.login.max_failures_per_user = 5).await;
    let attacker = Browser::open(&app).await;
    let (evaluated, limited) = burst(&[&app], &attacker, wrong_guesses()).await;
    assert_eq!(
        (evaluated, limited),
        (5, 115),
        "120 concurrent guesses from four addresses evaluate exactly the budget of 5"
    );
    the_right_password_in_a_later_burst_is_refused(&[&app], &attacker).await;
}

#[tokio::test]
async fn concurrent_guesses_at_two_replicas_sharing_redis_evaluate_at_most_the_budget() {
    let (url, prefix) = (redis_url(), unique_prefix());
    let (database, dir) = new_database().await;
    let settings = || behind_proxy(|s| s.login.max_failures_per_user = 5);
    let a = start(settings(), &database, dir, redis_store(&url, &prefix)).await;
    a.seed().await;
    let (_, other_dir) = new_database().await;
    let b = start(settings(), &database, other_dir, redis_store(&url, &prefix)).await;

    // Alice signed in at A before the attack; her browser keeps its device cookie.
    let alice = Browser::open(&a).await;
    let signed_in = alice.sign_in(&a, ALICE_ADDRESS, PASSWORD).await;
    assert_eq!(signed_in.status(), 303);
    let device = cookie_value(&signed_in, DEVICE_COOKIE).expect("a device cookie");

    let attacker = Browser::open(&a).await;
    let (evaluated, limited) = burst(&[&a, &b], &attacker, wrong_guesses()).await;
    assert_eq!(
        (evaluated, limited),
        (5, 115),
        "two replicas sharing the store evaluate exactly the budget of 5 between them"
    );
    the_right_password_in_a_later_burst_is_refused(&[&a, &b], &attacker).await;

    let again = alice
        .with_device(&device)
        .sign_in(&b, ALICE_ADDRESS, PASSWORD)
        .await;
    assert_eq!(
        again.status(),
        303,
        "a device cookie from one replica is honoured by the other, through the attack"
    );
}

#[tokio::test]
async fn one_attacking_address_does_not_lock_the_user_out_of_other_addresses() {
    let app = spawn_behind_proxy(|_| {}).await;
    let attacker = Browser::open(&app).await;
    let per_address = app.state.settings.login.max_failures_per_user_address;
    for _ in 0..per_address {
        let response = attacker.sign_in(&app, ATTACKERS[0], "wrong password").await;
        assert_eq!(response.status(), 401);
    }
    let response = attacker.sign_in(&app, ATTACKERS[0], PASSWORD).await;
    assert_eq!(response.status(), 429, "that address has spent its budget");

    let alice = Browser::open(&app).await;
    let response = alice.sign_in(&app, ALICE_ADDRESS, PASSWORD).await;
    assert_eq!(
        response.status(),
        303,
        "alice, from her own address and without a device cookie, still signs in"
    );
}

#[tokio::test]
async fn an_attacker_cannot_pass_the_ceiling_nor_lock_out_a_browser_with_a_device_cookie() {
    let app = spawn_behind_proxy(|s| {
        s.login.max_failures_per_user = 6;
        s.login.max_failures_per_user_address = 2;
        s.login.max_failures_per_device = 3;
    })
    .await;
    let alice = Browser::open(&app).await;
    let signed_in = alice.sign_in(&app, ALICE_ADDRESS, PASSWORD).await;
    assert_eq!(signed_in.status(), 303);
    let device = cookie_value(&signed_in, DEVICE_COOKIE).unwrap();

    // Five addresses with three guesses each: two per address pass, six in all.
    let attacker = Browser::open(&app).await;
    let addresses = [
        "203.0.113.11",
        "203.0.113.12",
        "203.0.113.13",
        "203.0.113.14",
        "203.0.113.15",
    ];
    let guesses = (0..3)
        .flat_map(|_| addresses.map(|address| (address, "wrong password")))
        .collect();
    let (evaluated, limited) = burst(&[&app], &attacker, guesses).await;
    assert_eq!((evaluated, limited), (6, 9), "the ceiling of 6 holds");
    let fresh_address = attacker.sign_in(&app, "203.0.113.16", PASSWORD).await;
    assert_eq!(
        fresh_address.status(),
        429,
        "a new address gets nothing past the ceiling"
    );
    let alice_without_cookie = Browser::open(&app)
        .await
        .sign_in(&app, ALICE_ADDRESS, PASSWORD)
        .await;
    assert_eq!(
        alice_without_cookie.status(),
        429,
        "a browser that never signed in as alice waits like the attacker"
    );

    let with_cookie = alice.with_device(&device);
    let typo = with_cookie.sign_in(&app, ALICE_ADDRESS, "a typo").await;
    assert_eq!(typo.status(), 401, "her own browser has its own budget");
    let response = with_cookie.sign_in(&app, ALICE_ADDRESS, PASSWORD).await;
    assert_eq!(response.status(), 303, "and signs in through the attack");

    // A stolen device cookie is a budget of its own size, and no more.
    let stolen = attacker.with_device(&cookie_value(&response, DEVICE_COOKIE).unwrap());
    for _ in 0..3 {
        let guess = stolen.sign_in(&app, ATTACKERS[0], "wrong password").await;
        assert_eq!(guess.status(), 401);
    }
    let spent = stolen.sign_in(&app, ATTACKERS[0], PASSWORD).await;
    assert_eq!(
        spent.status(),
        429,
        "a device that spent its budget counts as unknown, and the ceiling is spent"
    );
}

#[tokio::test]
async fn forged_and_other_users_device_cookies_are_ignored() {
    let app = spawn_behind_proxy(|s| {
        s.login.max_failures_per_user = 2;
    })
    .await;
    let alice = Browser::open(&app).await;
    let signed_in = alice.sign_in(&app, ALICE_ADDRESS, PASSWORD).await;
    let genuine = cookie_value(&signed_in, DEVICE_COOKIE).unwrap();

    let bob = Browser::open(&app).await;
    let bobs = bob
        .submit(
            &app.api,
            &app.url("/login"),
            "198.51.100.8",
            "bob",
            PASSWORD,
        )
        .await;
    assert_eq!(bobs.status(), 303);
    let bobs_cookie = cookie_value(&bobs, DEVICE_COOKIE).unwrap();

    let elsewhere = spawn_behind_proxy(|_| {}).await;
    let other_center = Browser::open(&elsewhere)
        .await
        .sign_in(&elsewhere, ALICE_ADDRESS, PASSWORD)
        .await;
    let other_centers_cookie = cookie_value(&other_center, DEVICE_COOKIE).unwrap();

    let attacker = Browser::open(&app).await;
    for address in &ATTACKERS[..2] {
        let guess = attacker.sign_in(&app, address, "wrong password").await;
        assert_eq!(guess.status(), 401);
    }
    let (device, issued, mac) = {
        let mut parts = genuine.split('.');
        (
            parts.next().unwrap(),
            parts.next().unwrap(),
            parts.next().unwrap(),
        )
    };
    let tampered = format!(
        "{}{}.{issued}.{mac}",
        &device[..21],
        if device.ends_with('A') { 'B' } else { 'A' }
    );
    let made_up = format!("{}.{issued}.{mac}", "A".repeat(22));
    for (what, value) in [
        ("bob's cookie", bobs_cookie.as_str()),
        ("another center's cookie", other_centers_cookie.as_str()),
        ("a tampered cookie", tampered.as_str()),
        ("a made-up cookie", made_up.as_str()),
        ("junk", "not-a-device-cookie"),
    ] {
        let response = alice
            .with_device(value)
            .sign_in(&app, ALICE_ADDRESS, PASSWORD)
            .await;
        assert_eq!(response.status(), 429, "{what} gives no budget of its own");
    }
    let response = alice
        .with_device(&genuine)
        .sign_in(&app, ALICE_ADDRESS, PASSWORD)
        .await;
    assert_eq!(response.status(), 303, "her genuine cookie does");
}

#[tokio::test]
async fn a_successful_sign_in_sets_a_long_lived_httponly_secure_lax_device_cookie() {
    let app = spawn_behind_proxy(|_| {}).await;
    let response = Browser::open(&app)
        .await
        .sign_in(&app, ALICE_ADDRESS, PASSWORD)
        .await;
    assert_eq!(response.status(), 303);
    let header = response
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .map(|value| value.to_str().unwrap().to_owned())
        .find(|value| value.starts_with(&format!("{DEVICE_COOKIE}=")))
        .expect("a device cookie");
    for attribute in ["HttpOnly", "Secure", "SameSite=Lax", "Path=/"] {
        assert!(header.contains(attribute), "{attribute} missing: {header}");
    }
    let max_age: i64 = header
        .split("; ")
        .find_map(|part| part.strip_prefix("Max-Age="))
        .expect("a Max-Age")
        .parse()
        .unwrap();
    assert!(max_age >= 365 * 24 * 60 * 60, "{header}");
    let failed = Browser::open(&app)
        .await
        .sign_in(&app, ALICE_ADDRESS, "wrong password")
        .await;
    assert_eq!(
        cookie_value(&failed, DEVICE_COOKIE),
        None,
        "only a success earns one"
    );
}

/// Budgets that admit six concurrent sign-ins from one address (successes are refunded only
/// once they have succeeded).
fn room_for_six(settings: &mut Settings) {
    settings.login.max_failures_per_user_address = 10;
}

/// Submits one form of alice's `times` at once, spread over `centers`, and checks that exactly
/// one global session is live afterwards, and that it is the one whose cookie came back.
async fn one_form_submitted_at_once(centers: &[&Center], times: usize) {
    let browser = Browser::open(centers[0]).await;
    let mut submissions = tokio::task::JoinSet::new();
    for i in 0..times {
        let center = centers[i % centers.len()];
        let (client, url, browser) = (center.api.clone(), center.url("/login"), browser.clone());
        submissions.spawn(async move {
            let response = browser
                .submit(&client, &url, ALICE_ADDRESS, "alice", PASSWORD)
                .await;
            assert_eq!(response.status(), 303, "every submission signs in");
            cookie_value(&response, "sso_session")
        });
    }
    let cookies: Vec<String> = submissions.join_all().await.into_iter().flatten().collect();
    assert!(!cookies.is_empty());

    let sessions = live_sessions(centers[0]).await;
    assert_eq!(sessions.len(), 1, "one live session: {sessions:?}");
    let mut live = 0;
    for cookie in &cookies {
        let response = centers[0]
            .api
            .get(centers[0].url(&format!("/authorize?{}", AuthRequest::app1().query())))
            .header(reqwest::header::COOKIE, format!("sso_session={cookie}"))
            .send()
            .await
            .unwrap();
        if response.status() == 303 {
            live += 1;
        }
    }
    assert_eq!(
        live, 1,
        "exactly one returned cookie reaches the live session"
    );
}

#[tokio::test]
async fn concurrent_submissions_of_one_login_form_leave_one_live_session() {
    let app = spawn_behind_proxy(room_for_six).await;
    one_form_submitted_at_once(&[&app], 6).await;
}

#[tokio::test]
async fn concurrent_submissions_of_one_login_form_at_two_replicas_leave_one_live_session() {
    let (url, prefix) = (redis_url(), unique_prefix());
    let (database, dir) = new_database().await;
    let store = || -> Arc<dyn SharedStore> { redis_store(&url, &prefix) };
    let a = start(behind_proxy(room_for_six), &database, dir, store()).await;
    a.seed().await;
    let (_, other_dir) = new_database().await;
    let b = start(behind_proxy(room_for_six), &database, other_dir, store()).await;
    one_form_submitted_at_once(&[&a, &b], 6).await;
}
