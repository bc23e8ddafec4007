//! Passkeys clicked through with Chromium's virtual authenticator (WebDriver's WebAuthn
//! extension): the demo user signs in with the password, adds a passkey at
//! `/account/passkeys`, signs out everywhere, then signs in at app1 with "Sign in with a
//! passkey" (no username, no password) and reaches app2 without any prompt; app1's sensitive
//! page (which requires a second factor) opens without a step-up. Then a password sign-in
//! gives the passkey as its second step, and a refused verification and a spent address budget
//! read as messages.
//! Screenshots go to `target/screenshots/passkeys/`.

use e2e::browser::Browser;
use e2e::stack::{Backend, DISPLAY_NAME, PASSWORD, Site, Stack, USERNAME};

/// Signs out everywhere at the center's `/logout`, and waits for the answer: a page opened
/// before it arrives would be replaced by it.
async fn sign_out(browser: &Browser, center: &Site) -> anyhow::Result<()> {
    browser.goto(&center.page("/logout")).await?;
    browser
        .click("form[action='/logout'] button[type=submit]")
        .await?;
    browser.wait_for_text("h1", "Signed out").await
}

#[tokio::test]
async fn a_passkey_added_at_the_account_signs_in_without_a_password_for_every_app() {
    let stack = Stack::start(&Backend::Memory)
        .await
        .expect("the servers start");
    let Stack {
        center, app1, app2, ..
    } = &stack;
    let browser = Browser::start("passkeys").await.expect("a browser");
    let authenticator = browser
        .step("virtual-authenticator", browser.add_virtual_authenticator())
        .await;

    browser
        .step("add-a-passkey", async {
            browser.goto(&center.page("/account/passkeys")).await?;
            browser
                .wait_for_login_form(|url| center.is_at(url, "/login"))
                .await?;
            browser.submit_login(USERNAME, PASSWORD).await?;
            browser
                .wait_for_url("the passkeys page", |url| {
                    center.is_at(url, "/account/passkeys")
                })
                .await?;
            browser.wait_for("#no-passkeys").await?;
            browser.photograph("passkeys", "empty").await?;
            browser.fill("input#passkey-name", "This laptop").await?;
            browser.click("#passkey-add button[type=submit]").await?;
            // A first factor comes with its recovery codes, shown once.
            browser.wait_for("#recovery-codes").await?;
            browser.photograph("passkeys", "recovery-codes").await?;
            browser.click("#continue").await?;
            browser.wait_for("#notice").await?;
            browser
                .wait_for_text("#passkeys .passkey-name", "This laptop")
                .await?;
            let kept = browser.virtual_credentials(&authenticator).await?;
            anyhow::ensure!(kept.len() == 1, "one credential, not {}", kept.len());
            anyhow::ensure!(
                kept[0]["isResidentCredential"] == true,
                "the passkey is discoverable: {}",
                kept[0]
            );
            browser.photograph("passkeys", "added").await
        })
        .await;

    browser
        .step("sign-out", async {
            sign_out(&browser, center).await?;
            browser.goto(&center.page("/account/passkeys")).await?;
            browser
                .wait_for_login_form(|url| center.is_at(url, "/login"))
                .await
        })
        .await;

    browser
        .step("sign-in-with-the-passkey", async {
            browser.goto(&app1.page("/profile")).await?;
            browser
                .wait_for_login_form(|url| center.serves(url))
                .await?;
            browser.wait_for("#passkey-sign-in button").await?;
            browser.photograph("passkeys", "login").await?;
            browser.click("#passkey-sign-in button").await?;
            browser
                .wait_for_url("app1's profile page", |url| app1.is_at(url, "/profile"))
                .await?;
            browser
                .wait_for_text("#profile-title", DISPLAY_NAME)
                .await?;
            browser.photograph("passkeys", "app1-profile").await
        })
        .await;

    browser
        .step("single-sign-on-to-app2", async {
            browser.goto(&app2.page("/profile")).await?;
            let url = browser.url().await?;
            anyhow::ensure!(
                app2.is_at(&url, "/profile"),
                "app2's profile without a stop at the center, not {url}"
            );
            anyhow::ensure!(
                !browser.has("input[type=password]").await?,
                "no password field on app2's page"
            );
            browser
                .wait_for_text("#profile-title", DISPLAY_NAME)
                .await?;
            browser.photograph("passkeys", "app2-profile").await
        })
        .await;

    browser
        .step("two-factors-already", async {
            browser.goto(&app2.page("/sensitive")).await?;
            browser
                .wait_for_url("app2's sensitive page", |url| app2.is_at(url, "/sensitive"))
                .await?;
            browser.wait_for_text("body", "urn:sso:acr:mfa").await?;
            browser.wait_for_text("body", "hwk, user, mfa").await?;
            browser.photograph("passkeys", "app2-sensitive").await
        })
        .await;

    browser
        .step("second-step-by-passkey", async {
            sign_out(&browser, center).await?;
            browser.goto(&center.page("/login")).await?;
            browser
                .wait_for_login_form(|url| center.is_at(url, "/login"))
                .await?;
            browser.submit_login(USERNAME, PASSWORD).await?;
            browser
                .wait_for_url("signed in", |url| !center.is_at(url, "/login"))
                .await?;
            // A password session changes no factor before giving one.
            browser.goto(&center.page("/account/passkeys")).await?;
            browser
                .wait_for_url("the second step", |url| center.is_at(url, "/login/factor"))
                .await?;
            browser.wait_for("#passkey-second button").await?;
            browser.photograph("passkeys", "second-step").await?;
            browser.click("#passkey-second button").await?;
            browser
                .wait_for_url("the passkeys page", |url| {
                    center.is_at(url, "/account/passkeys")
                })
                .await?;
            browser
                .wait_for_text("#passkeys .passkey-name", "This laptop")
                .await?;
            anyhow::ensure!(
                browser.text("#passkeys .passkey-used").await? != "Never",
                "the passkey's use is recorded"
            );
            Ok(())
        })
        .await;

    browser
        .step("a-refused-verification-reads-clearly", async {
            browser.set_user_verified(&authenticator, false).await?;
            browser.fill("input#passkey-name", "Refused").await?;
            browser.click("#passkey-add button[type=submit]").await?;
            browser
                .wait_for_text("#passkey-add [data-passkey-error]", "cancelled")
                .await?;
            browser.photograph("passkeys", "cancelled").await?;
            let kept = browser.virtual_credentials(&authenticator).await?;
            anyhow::ensure!(kept.len() == 1, "nothing added: {}", kept.len());
            Ok(())
        })
        .await;

    browser
        .step("a-spent-address-budget-reads-clearly", async {
            // Every ceremony started spends the address's sign-in budget (50 by default):
            // spend what is left, as a script would, then add a passkey by hand.
            let spent = browser
                .eval(
                    "const token = document.querySelector('#passkey-add [name=csrf_token]').value;
                     for (let i = 0; i < 60; i++) {
                       const request = new XMLHttpRequest();
                       request.open('POST', '/account/passkeys/options', false);
                       request.setRequestHeader('Content-Type',
                                                'application/x-www-form-urlencoded');
                       request.send('csrf_token=' + encodeURIComponent(token));
                       if (request.status === 429) { return i; }
                     }
                     return -1;",
                )
                .await?;
            anyhow::ensure!(
                spent.as_i64().is_some_and(|n| n >= 0),
                "never limited: {spent}"
            );
            browser.fill("input#passkey-name", "One too many").await?;
            browser.click("#passkey-add button[type=submit]").await?;
            browser
                .wait_for_text(
                    "#passkey-add [data-passkey-error]",
                    "Too many passkey requests from this network",
                )
                .await?;
            browser.photograph("passkeys", "limited").await?;
            let kept = browser.virtual_credentials(&authenticator).await?;
            anyhow::ensure!(kept.len() == 1, "nothing added: {}", kept.len());
            Ok(())
        })
        .await;
}
