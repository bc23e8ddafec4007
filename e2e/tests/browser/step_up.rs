//! The demo's sensitive page clicked through: signed in with a password, app1's home page says
//! so (`acr`, `amr`); without a second factor the sensitive page ends on the SDK's 403 page (no
//! loop); the user sets up an authenticator app at the center, signs in again with the
//! password, and opening the sensitive page asks for the code only, then shows a two-factor
//! sign-in. Pages are photographed to `target/screenshots/step-up/` (kept whatever the
//! outcome).

use e2e::browser::Browser;
use e2e::stack::{Backend, PASSWORD, Stack, USERNAME};
use sso_server::factors::totp::Generator;

fn now() -> u64 {
    jsonwebtoken::get_current_timestamp()
}

#[tokio::test]
async fn the_sensitive_page_asks_for_the_second_factor_only_once_the_user_has_one() {
    let stack = Stack::start(&Backend::Memory)
        .await
        .expect("the servers start");
    let browser = Browser::start("step-up").await.expect("the browser starts");
    let Stack { center, app1, .. } = &stack;

    browser
        .step("password-sign-in", async {
            browser.goto(&app1.page("/profile")).await?;
            browser
                .wait_for_login_form(|url| center.serves(url))
                .await?;
            browser.submit_login(USERNAME, PASSWORD).await?;
            browser
                .wait_for_url("app1's profile", |url| app1.is_at(url, "/profile"))
                .await?;
            browser.goto(&app1.page("/")).await?;
            browser
                .wait_for_text(".hero .facts", "urn:sso:acr:password")
                .await?;
            browser.wait_for_text(".hero .facts", "pwd").await?;
            browser.photograph("step-up", "home-one-factor").await
        })
        .await;

    browser
        .step("no-second-factor-no-loop", async {
            browser.click(".hero a[href='/sensitive']").await?;
            browser
                .wait_for_url("app1's callback", |url| app1.is_at(url, "/auth/callback"))
                .await?;
            browser
                .wait_for_text("h1", "Second factor required")
                .await?;
            let status = browser.status().await?;
            anyhow::ensure!(status == 403, "the refusal is a 403, not {status}");
            browser
                .photograph("step-up", "second-factor-required")
                .await
        })
        .await;

    let confirmed_at = browser
        .step("set-up-an-authenticator-app", async {
            browser.goto(&center.page("/account/totp")).await?;
            let secret = {
                browser.wait_for("#totp-secret").await?;
                browser.text("#totp-secret").await?
            };
            let authenticator = Generator::new(&secret, "e2e", USERNAME)
                .ok_or_else(|| anyhow::anyhow!("not a TOTP secret: {secret}"))?;
            let at = now();
            browser
                .fill("input#code", &authenticator.code_at(at))
                .await?;
            browser
                .click("form[action='/account/totp'] button[type=submit]")
                .await?;
            browser.wait_for("#recovery-codes").await?;
            Ok((authenticator, at))
        })
        .await;
    let (authenticator, confirmed_at) = confirmed_at;

    browser
        .step("sign-out-everywhere", async {
            browser.goto(&app1.page("/")).await?;
            browser
                .click(".account form[action='/auth/logout'] button")
                .await?;
            browser
                .wait_for_url("app1's home page", |url| app1.is_at(url, "/"))
                .await?;
            browser
                .wait_for_text(".hero .eyebrow", "Not signed in")
                .await
        })
        .await;

    browser
        .step("password-then-code-only", async {
            browser.goto(&app1.page("/sensitive")).await?;
            browser
                .wait_for_login_form(|url| center.serves(url))
                .await?;
            browser.submit_login(USERNAME, PASSWORD).await?;
            browser
                .wait_for_url("the center's second step", |url| {
                    center.is_at(url, "/login/factor")
                })
                .await?;
            anyhow::ensure!(
                !browser.has("input#password").await?,
                "the password is not asked twice"
            );
            browser.photograph("step-up", "second-step").await?;
            // The next step's code: the enrollment used the current one.
            browser
                .fill("input#code", &authenticator.code_at(confirmed_at + 30))
                .await?;
            browser
                .click("form[action='/login/factor'] button[type=submit]")
                .await
        })
        .await;

    browser
        .step("sensitive-page", async {
            browser
                .wait_for_url("app1's sensitive page", |url| app1.is_at(url, "/sensitive"))
                .await?;
            browser
                .wait_for_text("#sensitive-title", "Sensitive area")
                .await?;
            browser.wait_for_text(".facts", "urn:sso:acr:mfa").await?;
            let facts = browser.text(".facts").await?;
            anyhow::ensure!(
                facts.contains("otp") && facts.contains("mfa") && facts.contains("UTC"),
                "amr and auth_time are shown: {facts}"
            );
            browser.photograph("step-up", "sensitive").await?;
            browser.goto(&app1.page("/")).await?;
            browser
                .wait_for_text(".hero .facts", "urn:sso:acr:mfa")
                .await?;
            browser.photograph("step-up", "home-two-factors").await
        })
        .await;
}
