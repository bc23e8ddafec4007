//! One password signs in to both apps; signing out of one signs out of both, on every
//! local-session backend of the apps.

use e2e::browser::Browser;
use e2e::stack::{Backend, DISPLAY_NAME, PASSWORD, Stack, USERNAME};

#[tokio::test]
async fn single_sign_on_and_single_logout_with_memory_sessions() {
    sign_in_once_sign_out_everywhere("sso-memory", &Backend::Memory).await;
}

#[tokio::test]
async fn single_sign_on_and_single_logout_with_redis_sessions() {
    sign_in_once_sign_out_everywhere("sso-redis", &Backend::redis_from_env()).await;
}

#[tokio::test]
async fn single_sign_on_and_single_logout_with_cookie_sessions() {
    sign_in_once_sign_out_everywhere("sso-cookie", &Backend::Cookie).await;
}

async fn sign_in_once_sign_out_everywhere(test: &str, backend: &Backend) {
    let stack = Stack::start(backend).await.expect("the servers start");
    let browser = Browser::start(test).await.expect("the browser starts");
    let Stack {
        center, app1, app2, ..
    } = &stack;

    browser
        .step("app1-sends-to-login", async {
            browser.goto(&app1.page("/profile")).await?;
            browser
                .wait_for_login_form(|url| center.serves(url))
                .await?;
            Ok(())
        })
        .await;

    browser
        .step("log-in", async {
            browser.submit_login(USERNAME, PASSWORD).await?;
            browser
                .wait_for_url("app1's profile page", |url| app1.is_at(url, "/profile"))
                .await?;
            browser
                .wait_for_text("#profile-title", DISPLAY_NAME)
                .await?;
            browser.wait_for_text(".account .who", DISPLAY_NAME).await?;
            let shown = browser.text(".served-by").await?;
            anyhow::ensure!(
                shown.contains(backend.name()),
                "app1 names its session backend {:?}, the footer says {shown:?}",
                backend.name()
            );
            Ok(())
        })
        .await;

    browser
        .step("app2-without-password", async {
            browser.goto(&app2.page("/profile")).await?;
            let url = browser.url().await?;
            anyhow::ensure!(
                app2.is_at(&url, "/profile"),
                "the browser should land on app2's profile without a stop at the center, \
                 it is at {url}"
            );
            anyhow::ensure!(
                !browser.has("input[type=password]").await?,
                "no password field on app2's page"
            );
            browser.wait_for_text("#profile-title", DISPLAY_NAME).await
        })
        .await;

    browser
        .step("sign-out-on-app2", async {
            browser
                .click(".account form[action='/auth/logout'] button")
                .await?;
            browser
                .wait_for_url("app2's home page", |url| app2.is_at(url, "/"))
                .await?;
            browser
                .wait_for_text(".hero .eyebrow", "Not signed in")
                .await?;
            anyhow::ensure!(
                !browser.has(".account .who").await?,
                "app2 still shows a user after signing out"
            );
            Ok(())
        })
        .await;

    browser
        .step("app1-signed-out", async {
            browser.goto(&app1.page("/")).await?;
            browser
                .reload_until_text(".hero .eyebrow", "Not signed in")
                .await?;
            anyhow::ensure!(
                !browser.has(".account .who").await?,
                "app1 still shows a user after the single logout"
            );
            Ok(())
        })
        .await;

    browser
        .step("password-asked-again", async {
            browser.click(".account a.button").await?;
            browser
                .wait_for_login_form(|url| center.serves(url))
                .await?;
            Ok(())
        })
        .await;
}
