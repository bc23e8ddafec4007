//! app3 (Python, knows nothing of OpenID Connect) behind nginx with the forward-auth snippets:
//! single sign-on from app1 without a password, single logout from app3's sign-out link, and
//! the 403 page a signed-in user outside the allowed group sees.

use std::time::{Duration, Instant};

use e2e::browser::Browser;
use e2e::stack::{APP3_GROUP, Backend, DISPLAY_NAME, OUTSIDER, PASSWORD, Stack, USERNAME};

#[tokio::test]
async fn app3_signs_in_without_a_password_after_app1_and_its_sign_out_ends_app1() {
    let stack = Stack::start_with_app3(&Backend::Memory)
        .await
        .expect("the servers, nginx and app3 start");
    let browser = Browser::start("fa-sso").await.expect("the browser starts");
    let Stack {
        center, app1, app3, ..
    } = &stack;
    let app3 = &app3.as_ref().expect("app3 runs").site;

    browser
        .step("sign-in-on-app1", async {
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
        .step("app3-without-password", async {
            browser.goto(&app3.page("/")).await?;
            browser
                .wait_for_url("app3's page", |url| app3.is_at(url, "/"))
                .await?;
            browser.wait_for_text("#user", USERNAME).await?;
            browser
                .wait_for_text("h1", &format!("Hello, {DISPLAY_NAME}"))
                .await?;
            browser.wait_for_text("#groups", APP3_GROUP).await?;
            anyhow::ensure!(
                !browser.has("input[type=password]").await?,
                "no password field on app3's page"
            );
            Ok(())
        })
        .await;

    browser
        .step("sign-out-on-app3", async {
            browser.click("a[href='/_sso/sign-out']").await?;
            // The center asks for confirmation before it ends the session.
            browser
                .click("form[action='/logout'] button[type=submit]")
                .await?;
            browser
                .wait_for_url("the center", |url| center.serves(url))
                .await?;
            browser.wait_for_text("h1#title", "Signed out").await
        })
        .await;

    browser
        .step("app1-asks-for-the-password", async {
            // Back-channel logout reaches app1 within moments; until then its session lives.
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                browser.goto(&app1.page("/profile")).await?;
                if browser.has("input#password").await? {
                    break;
                }
                anyhow::ensure!(
                    Instant::now() < deadline,
                    "app1 still shows its profile 10 s after the sign-out on app3, at {}",
                    browser.url().await?
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            browser.wait_for_login_form(|url| center.serves(url)).await
        })
        .await;

    browser
        .step("app3-asks-for-the-password", async {
            browser.goto(&app3.page("/")).await?;
            browser.wait_for_login_form(|url| center.serves(url)).await
        })
        .await;
}

#[tokio::test]
async fn a_user_outside_app3s_group_sees_a_clear_403_page() {
    let stack = Stack::start_with_app3(&Backend::Memory)
        .await
        .expect("the servers, nginx and app3 start");
    let browser = Browser::start("fa-outsider")
        .await
        .expect("the browser starts");
    let Stack { center, app3, .. } = &stack;
    let app3 = &app3.as_ref().expect("app3 runs").site;

    browser
        .step("app3-sends-to-login", async {
            browser.goto(&app3.page("/")).await?;
            browser.wait_for_login_form(|url| center.serves(url)).await
        })
        .await;

    browser
        .step("access-denied", async {
            browser.submit_login(OUTSIDER, PASSWORD).await?;
            browser
                .wait_for_url("app3", |url| app3.is_at(url, "/"))
                .await?;
            browser.wait_for_text("h1", "Access denied").await?;
            let status = browser.status().await?;
            anyhow::ensure!(status == 403, "the page came with HTTP {status}, not 403");
            let text = browser.text("#sso-forbidden").await?;
            anyhow::ensure!(
                text.contains("not allowed"),
                "the page does not say why: {text:?}"
            );
            anyhow::ensure!(
                !browser.has("#user").await?,
                "app3's own page reached a user outside its group"
            );
            Ok(())
        })
        .await;
}
