//! The account page clicked through: the demo user signs in to it, sees the session of a
//! second browser with the apps it uses, signs that session out, and both apps sign the second
//! browser out. The page is photographed to `target/screenshots/account/` (kept whatever the
//! outcome) and must not scroll sideways on a phone.

use e2e::browser::{Browser, target_dir};
use e2e::stack::{Backend, PASSWORD, Stack, USERNAME};

/// Photographs the page shown as `name.png`, in a window tall enough for the whole page, and
/// as `name-390.png` at a phone's width, which must not need a horizontal scroll.
async fn photograph(browser: &Browser, name: &str) -> anyhow::Result<()> {
    let dir = target_dir().join("screenshots").join("account");
    browser.resize(1280, 1500).await?;
    browser
        .save_screenshot(&dir.join(format!("{name}.png")))
        .await?;
    browser.resize(390, 1500).await?;
    let path = dir.join(format!("{name}-390.png"));
    browser.save_screenshot(&path).await?;
    let fits = browser
        .eval("return [document.documentElement.scrollWidth, window.innerWidth];")
        .await?;
    anyhow::ensure!(
        fits[0].as_u64().is_some() && fits[0].as_u64() <= fits[1].as_u64(),
        "{name} at 390 px overflows sideways: scrollWidth/innerWidth {fits} (see {})",
        path.display()
    );
    browser.resize(1280, 900).await
}

/// How many sessions the account page lists.
async fn sessions_listed(browser: &Browser) -> anyhow::Result<u64> {
    let count = browser
        .eval("return document.querySelectorAll('#sessions tr.session').length;")
        .await?;
    count
        .as_u64()
        .ok_or_else(|| anyhow::anyhow!("not a count: {count}"))
}

#[tokio::test]
async fn the_user_sees_another_browsers_session_on_the_account_page_and_signs_it_out() {
    let stack = Stack::start(&Backend::Memory)
        .await
        .expect("the servers start");
    let laptop = Browser::start("account-laptop")
        .await
        .expect("a browser for the account page");
    let phone = Browser::start("account-phone")
        .await
        .expect("a second browser profile");
    let Stack {
        center, app1, app2, ..
    } = &stack;

    laptop
        .step("sign-in-to-the-account-page", async {
            laptop.goto(&center.page("/account")).await?;
            laptop
                .wait_for_login_form(|url| center.is_at(url, "/login"))
                .await?;
            laptop.submit_login(USERNAME, PASSWORD).await?;
            laptop
                .wait_for_url("the account page", |url| center.is_at(url, "/account"))
                .await?;
            laptop
                .wait_for_text("#profile-email", "alice@example.test")
                .await?;
            laptop
                .wait_for_text("#sessions tr.current .browser", "Chrome on Linux")
                .await
        })
        .await;

    phone
        .step("the-second-browser-signs-in-to-both-apps", async {
            phone.goto(&app1.page("/profile")).await?;
            phone.wait_for_login_form(|url| center.serves(url)).await?;
            phone.submit_login(USERNAME, PASSWORD).await?;
            phone
                .wait_for_url("app1's profile", |url| app1.is_at(url, "/profile"))
                .await?;
            phone.goto(&app2.page("/profile")).await?;
            phone
                .wait_for_url("app2's profile", |url| app2.is_at(url, "/profile"))
                .await?;
            Ok(())
        })
        .await;

    laptop
        .step("two-sessions-listed", async {
            laptop
                .reload_until_text("#sessions tr.session:not(.current) .apps", "Demo app2")
                .await?;
            anyhow::ensure!(sessions_listed(&laptop).await? == 2, "two sessions");
            laptop
                .wait_for_text("#sessions tr.session:not(.current) .apps", "Demo app1")
                .await?;
            laptop
                .wait_for_text("#sessions tr.session:not(.current) .ip", "127.0.0.1")
                .await?;
            laptop
                .wait_for_text("#sessions tr.current .browser", "This session")
                .await?;
            photograph(&laptop, "account-two-sessions").await
        })
        .await;

    laptop
        .step("sign-the-other-session-out", async {
            laptop
                .click("#sessions tr.session:not(.current) form.end-one button")
                .await?;
            laptop
                .wait_for_url("the account page again", |url| {
                    center.is_at(url, "/account")
                })
                .await?;
            laptop.wait_for("#sessions tr.current").await?;
            let left = sessions_listed(&laptop).await?;
            anyhow::ensure!(left == 1, "only this session is left, not {left}");
            photograph(&laptop, "account").await
        })
        .await;

    phone
        .step("both-apps-signed-the-second-browser-out", async {
            for app in [app1, app2] {
                phone.goto(&app.page("/")).await?;
                phone
                    .reload_until_text(".hero .eyebrow", "Not signed in")
                    .await?;
            }
            phone.goto(&center.page("/account")).await?;
            phone
                .wait_for_login_form(|url| center.is_at(url, "/login"))
                .await
        })
        .await;

    laptop
        .step("this-browser-is-still-signed-in", async {
            laptop.goto(&center.page("/account")).await?;
            laptop
                .wait_for_url("the account page", |url| center.is_at(url, "/account"))
                .await?;
            laptop.wait_for("#sessions tr.current").await?;
            Ok(())
        })
        .await;
}
