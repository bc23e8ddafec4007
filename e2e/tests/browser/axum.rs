//! The demo app on axum (the SDK's axum layer) and the actix-web app1 share one sign-in and
//! one sign-out: a password on app1 signs in to the axum app, signing out of the axum app
//! signs out of app1, and the other way round.

use e2e::browser::Browser;
use e2e::stack::{Backend, DISPLAY_NAME, PASSWORD, Site, Stack, USERNAME};

#[tokio::test]
async fn single_sign_on_and_single_logout_between_actix_and_axum_apps() {
    let stack = Stack::start_with_axum(&Backend::Memory)
        .await
        .expect("the servers start");
    let browser = Browser::start("axum").await.expect("the browser starts");
    let Stack {
        center, app1, axum, ..
    } = &stack;
    let axum = axum.as_ref().expect("the axum app runs");

    browser
        .step("app1-log-in", async {
            browser.goto(&app1.page("/profile")).await?;
            browser
                .wait_for_login_form(|url| center.serves(url))
                .await?;
            browser.submit_login(USERNAME, PASSWORD).await?;
            browser
                .wait_for_url("app1's profile page", |url| app1.is_at(url, "/profile"))
                .await?;
            browser.wait_for_text("#profile-title", DISPLAY_NAME).await
        })
        .await;

    browser
        .step("axum-without-password", async {
            lands_signed_in(&browser, axum).await?;
            browser.goto(&axum.page("/")).await?;
            browser
                .wait_for_text("#greeting", &format!("Hello, {DISPLAY_NAME}"))
                .await
        })
        .await;

    browser
        .step("sign-out-on-axum", async {
            browser
                .click(".account form[action='/auth/logout'] button")
                .await?;
            browser
                .wait_for_url("the axum app's home page", |url| axum.is_at(url, "/"))
                .await?;
            browser
                .wait_for_text("#greeting", "Welcome to axum")
                .await?;
            anyhow::ensure!(
                !browser.has(".account .who").await?,
                "the axum app still shows a user after signing out"
            );
            Ok(())
        })
        .await;

    browser
        .step("app1-asks-for-the-password-again", async {
            browser.goto(&app1.page("/")).await?;
            browser
                .reload_until_text(".hero .eyebrow", "Not signed in")
                .await?;
            browser.goto(&app1.page("/profile")).await?;
            browser.wait_for_login_form(|url| center.serves(url)).await
        })
        .await;

    browser
        .step("axum-log-in", async {
            browser.goto(&axum.page("/profile")).await?;
            browser
                .wait_for_login_form(|url| center.serves(url))
                .await?;
            browser.submit_login(USERNAME, PASSWORD).await?;
            browser
                .wait_for_url("the axum app's profile page", |url| {
                    axum.is_at(url, "/profile")
                })
                .await?;
            browser.wait_for_text("#profile-title", DISPLAY_NAME).await
        })
        .await;

    browser
        .step("app1-without-password-then-sign-out", async {
            browser.goto(&app1.page("/profile")).await?;
            let url = browser.url().await?;
            anyhow::ensure!(
                app1.is_at(&url, "/profile"),
                "app1 should show its profile without a stop at the center, it is at {url}"
            );
            browser
                .wait_for_text("#profile-title", DISPLAY_NAME)
                .await?;
            browser
                .click(".account form[action='/auth/logout'] button")
                .await?;
            browser
                .wait_for_url("app1's home page", |url| app1.is_at(url, "/"))
                .await
        })
        .await;

    browser
        .step("axum-asks-for-the-password-again", async {
            browser.goto(&axum.page("/")).await?;
            browser
                .reload_until_text("#greeting", "Welcome to axum")
                .await?;
            browser.goto(&axum.page("/profile")).await?;
            browser.wait_for_login_form(|url| center.serves(url)).await
        })
        .await;
}

/// Opens the axum app's profile and checks it shows the user without a password asked.
async fn lands_signed_in(browser: &Browser, axum: &Site) -> anyhow::Result<()> {
    browser.goto(&axum.page("/profile")).await?;
    let url = browser.url().await?;
    anyhow::ensure!(
        axum.is_at(&url, "/profile"),
        "the browser should land on the axum app's profile without a stop at the center, \
         it is at {url}"
    );
    anyhow::ensure!(
        !browser.has("input[type=password]").await?,
        "no password field on the axum app's page"
    );
    browser.wait_for_text("#profile-title", DISPLAY_NAME).await
}
