//! The demo's sensitive page against the real center, on both demo apps (actix-web and axum):
//! alice signs in with her password, the home page shows a one-factor sign-in, and opening the
//! sensitive page asks the center for her TOTP code only; the page then shows `acr`, `amr` and
//! `auth_time` of a two-factor sign-in.

mod support;

use reqwest::redirect::Policy;
use sso_common::html::hidden_input;
use sso_server::clients::{NewClient, TokenPolicy};
use sso_server::domain::{ClientId, RedirectUri, Username};
use sso_server::factors::CodeCheck;
use sso_server::factors::totp::Generator;
use sso_server::state::AppState;
use sso_server::users::{NewUser, Password};
use subsystem_demo::axum_app::AxumApplication;
use subsystem_demo::{Application, Layered as _, Settings as DemoSettings};

use crate::support::free_port;

const PASSWORD: &str = "correct horse battery staple";
const SECRET: &str = "demo-secret-0123456789abcdef";

fn now() -> u64 {
    jsonwebtoken::get_current_timestamp()
}

/// The real center with user `alice`, who has a TOTP authenticator (returned).
async fn start_center(dir: &tempfile::TempDir) -> (String, AppState, Generator) {
    let (url, state) = support::start_center(dir, |_| ()).await;
    let hash = state.hasher.hash(Password::new(PASSWORD)).await.unwrap();
    let alice = NewUser {
        username: Username::parse("alice").unwrap(),
        name: "Alice Liddell".to_owned(),
        email: "alice@example.test".to_owned(),
    };
    let alice = state.users.add(alice, hash).await.unwrap();
    let enrollment = state.factors.begin_totp(&alice).await.unwrap();
    // The previous step's code, so the current one is still unused for the step-up.
    let first = enrollment.generator.code_at(now() - 30);
    let confirmed = state
        .factors
        .confirm_totp(&alice, enrollment.key.as_str(), &first)
        .await
        .unwrap();
    assert_eq!(confirmed, CodeCheck::Accepted);
    (url, state, enrollment.generator)
}

/// The demo app (`axum` picks the axum one) registered as client `id` at the center; returns
/// its URL.
async fn start_app(id: &str, axum: bool, issuer: &str, state: &AppState) -> String {
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let uri = |path: &str| RedirectUri::parse(&format!("{url}{path}")).unwrap();
    state
        .clients
        .upsert(NewClient {
            id: ClientId::parse(id).unwrap(),
            name: id.to_owned(),
            secret: Some(SECRET.to_owned()),
            redirect_uris: vec![uri("/auth/callback")],
            post_logout_redirect_uris: vec![uri("/")],
            backchannel_logout_uri: Some(uri("/auth/backchannel-logout")),
            id_token_alg: jsonwebtoken::Algorithm::RS256,
            tokens: TokenPolicy::default(),
        })
        .await
        .unwrap();
    let env = [
        ("DEMO_APP_NAME", id),
        ("DEMO_APP_HTTP__PORT", &port.to_string()),
        ("DEMO_APP_HTTP__PUBLIC_URL", &url),
        ("DEMO_APP_SSO__ISSUER", issuer),
        ("DEMO_APP_SSO__CLIENT_ID", id),
        ("DEMO_APP_SSO__CLIENT_SECRET", SECRET),
        ("DEMO_APP_SSO__COOKIE_SECURE", "false"),
    ]
    .map(|(key, value)| (key.to_owned(), value.to_owned()));
    let settings = DemoSettings::load_from(None, env.to_vec()).unwrap();
    if axum {
        tokio::spawn(
            AxumApplication::build(settings)
                .unwrap()
                .run_until_stopped(),
        );
    } else {
        tokio::spawn(Application::build(settings).unwrap().run_until_stopped());
    }
    url
}

fn location(response: &reqwest::Response) -> String {
    response.headers()["location"].to_str().unwrap().to_owned()
}

/// Follows redirects from `response` until one leads into `app`; returns that URL.
async fn follow_to(
    browser: &reqwest::Client,
    center: &str,
    app: &str,
    mut response: reqwest::Response,
) -> String {
    loop {
        assert!(response.status().is_redirection(), "{}", response.status());
        let target = location(&response);
        if target.starts_with(app) {
            return target;
        }
        let next = if target.starts_with('/') {
            format!("{center}{target}")
        } else {
            target
        };
        response = browser.get(next).send().await.unwrap();
    }
}

/// Posts `fields` of the form in `html` (its hidden `csrf_token` and `return_to` included) to
/// `action` at the center.
async fn submit(
    browser: &reqwest::Client,
    center: &str,
    action: &str,
    html: &str,
    fields: &[(&str, String)],
) -> reqwest::Response {
    let hidden = |name| hidden_input(html, name).unwrap_or_else(|| panic!("no {name}: {html}"));
    let mut form = vec![
        ("csrf_token", hidden("csrf_token")),
        ("return_to", hidden("return_to")),
    ];
    form.extend(fields.iter().cloned());
    browser
        .post(format!("{center}{action}"))
        .form(&form)
        .send()
        .await
        .unwrap()
}

async fn the_sensitive_page_asks_for_the_second_factor_only(axum: bool) {
    let dir = tempfile::tempdir().unwrap();
    let (center, state, authenticator) = start_center(&dir).await;
    let app = start_app(if axum { "axum" } else { "app1" }, axum, &center, &state).await;
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(Policy::none())
        .build()
        .unwrap();

    let start = browser.get(format!("{app}/profile")).send().await.unwrap();
    assert_eq!(start.status(), 302);
    let login_page = browser.get(location(&start)).send().await.unwrap();
    let html = login_page.text().await.unwrap();
    let signed_in = submit(
        &browser,
        &center,
        "/login",
        &html,
        &[
            ("username", "alice".to_owned()),
            ("password", PASSWORD.to_owned()),
        ],
    )
    .await;
    let callback = follow_to(&browser, &center, &app, signed_in).await;
    assert_eq!(browser.get(callback).send().await.unwrap().status(), 303);
    let home = browser.get(format!("{app}/")).send().await.unwrap();
    let home = home.text().await.unwrap();
    assert!(home.contains("urn:sso:acr:password"), "{home}");
    assert!(home.contains("pwd"), "{home}");
    assert!(
        home.contains(r#"href="/sensitive""#),
        "the home page links to it"
    );

    let sensitive = browser
        .get(format!("{app}/sensitive"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        sensitive.status(),
        303,
        "a step-up through the SDK's login route"
    );
    let step_up = browser
        .get(format!("{app}{}", location(&sensitive)))
        .send()
        .await
        .unwrap();
    assert!(location(&step_up).contains("acr_values=urn%3Asso%3Aacr%3Amfa"));
    let at_center = browser.get(location(&step_up)).send().await.unwrap();
    assert_eq!(at_center.status(), 303);
    let factor = browser
        .get(format!("{center}{}", location(&at_center)))
        .send()
        .await
        .unwrap();
    assert_eq!(factor.status(), 200);
    let html = factor.text().await.unwrap();
    assert!(!html.contains(r#"name="password""#), "no password again");
    let code = authenticator.code_at(now());
    let accepted = submit(&browser, &center, "/login/factor", &html, &[("code", code)]).await;
    let callback = follow_to(&browser, &center, &app, accepted).await;
    let landed = browser.get(callback).send().await.unwrap();
    assert_eq!(location(&landed), "/sensitive");

    let page = browser
        .get(format!("{app}/sensitive"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    assert!(page.contains("Sensitive area"), "{page}");
    assert!(page.contains("urn:sso:acr:mfa"), "{page}");
    assert!(page.contains("otp") && page.contains("mfa"), "{page}");
    assert!(page.contains("Last authenticated (auth_time)"), "{page}");
}

#[tokio::test]
async fn the_sensitive_page_asks_for_the_second_factor_only_on_actix() {
    the_sensitive_page_asks_for_the_second_factor_only(false).await;
}

#[tokio::test]
async fn the_sensitive_page_asks_for_the_second_factor_only_on_axum() {
    the_sensitive_page_asks_for_the_second_factor_only(true).await;
}
