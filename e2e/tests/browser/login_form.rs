//! The center's login form in the browser.

use e2e::browser::Browser;
use e2e::stack::{Backend, Stack, USERNAME};

#[tokio::test]
async fn a_wrong_password_shows_the_error_on_the_form_and_signs_no_one_in() {
    let stack = Stack::start(&Backend::Memory)
        .await
        .expect("the servers start");
    let browser = Browser::start("wrong-password")
        .await
        .expect("the browser starts");
    let Stack { center, app1, .. } = &stack;

    browser
        .step("open-login-page", async {
            browser.goto(&app1.page("/profile")).await?;
            browser
                .wait_for_login_form(|url| center.serves(url))
                .await?;
            Ok(())
        })
        .await;

    browser
        .step("wrong-password", async {
            browser.submit_login(USERNAME, "not her password").await?;
            browser
                .wait_for_text("#form-error", "The username or password is not correct.")
                .await?;
            let url = browser.url().await?;
            anyhow::ensure!(center.serves(&url), "still at the center, not at {url}");
            anyhow::ensure!(
                browser.has("input#password").await?,
                "the form is shown again"
            );
            Ok(())
        })
        .await;

    browser
        .step("no-session", async {
            browser.goto(&app1.page("/")).await?;
            browser
                .wait_for_text(".hero .eyebrow", "Not signed in")
                .await?;
            browser.goto(&app1.page("/profile")).await?;
            browser
                .wait_for_login_form(|url| center.serves(url))
                .await?;
            Ok(())
        })
        .await;
}
