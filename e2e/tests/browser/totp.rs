//! An authenticator app clicked through: the demo user sets one up at the center (the QR code
//! and key shown, the first code typed, the recovery codes shown once), then a second browser
//! signs in with the password only, opens app1's sensitive page, gives only the code, and
//! reaches app2's sensitive page without being asked again (single sign-on, upgraded). Codes
//! are computed here from the key the page showed. Screenshots go to
//! `target/screenshots/totp/`.

use e2e::browser::Browser;
use e2e::stack::{Backend, PASSWORD, Stack, USERNAME};
use totp_rs::{Algorithm, Builder, Secret};

/// The code of `secret` (base32) `offset` seconds from now.
fn code(secret: &str, offset: u64) -> String {
    let totp = Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(6)
        .with_step_duration(30)
        .with_secret(Secret::try_from_base32(secret).expect("a base32 key"))
        .build()
        .expect("a TOTP");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs();
    totp.generate(now + offset).to_string()
}

#[tokio::test]
async fn an_authenticator_app_is_set_up_then_asked_for_only_where_a_second_factor_is_needed() {
    let stack = Stack::start(&Backend::Memory)
        .await
        .expect("the servers start");
    let Stack {
        center, app1, app2, ..
    } = &stack;
    let setup = Browser::start("totp-setup").await.expect("a browser");
    let secret = setup
        .step("set-up-the-authenticator-app", async {
            setup.goto(&center.page("/account/totp")).await?;
            setup
                .wait_for_login_form(|url| center.is_at(url, "/login"))
                .await?;
            setup.submit_login(USERNAME, PASSWORD).await?;
            setup
                .wait_for_url("the authenticator page", |url| {
                    center.is_at(url, "/account/totp")
                })
                .await?;
            setup.wait_for("#totp-qr svg").await?;
            let secret = setup.text("#totp-secret").await?;
            setup.photograph("totp", "enroll").await?;
            setup.fill("input#code", "999999").await?;
            setup.click("form[action='/account/totp'] button").await?;
            setup.wait_for("#form-error").await?;
            setup.fill("input#code", &code(&secret, 0)).await?;
            setup.click("form[action='/account/totp'] button").await?;
            setup.wait_for("#recovery-codes").await?;
            let shown = setup
                .eval("return document.querySelectorAll('#recovery-codes li').length;")
                .await?;
            anyhow::ensure!(shown == 10, "ten recovery codes are shown, not {shown}");
            setup.photograph("totp", "recovery-codes").await?;
            setup.click("#continue").await?;
            setup
                .wait_for_url("the account page", |url| center.is_at(url, "/account"))
                .await?;
            Ok(secret)
        })
        .await;

    let other = Browser::start("totp-step-up")
        .await
        .expect("a second browser");
    other
        .step("step-up-asks-only-the-code", async {
            other.goto(&app1.page("/profile")).await?;
            other.wait_for_login_form(|url| center.serves(url)).await?;
            other.submit_login(USERNAME, PASSWORD).await?;
            other
                .wait_for_url("app1's profile", |url| app1.is_at(url, "/profile"))
                .await?;
            other.goto(&app1.page("/sensitive")).await?;
            other
                .wait_for_url("the second step", |url| center.is_at(url, "/login/factor"))
                .await?;
            anyhow::ensure!(
                !other.has("input#password").await?,
                "the password is not asked again"
            );
            other.fill("input#code", "000000").await?;
            other.click("form[action='/login/factor'] button").await?;
            other.wait_for("#form-error").await?;
            other.photograph("totp", "second-step-wrong-code").await?;
            other.fill("input#code", &code(&secret, 30)).await?;
            other.click("form[action='/login/factor'] button").await?;
            other
                .wait_for_url("app1's sensitive page", |url| app1.is_at(url, "/sensitive"))
                .await?;
            other.wait_for_text("body", "urn:sso:acr:mfa").await?;
            other.photograph("totp", "app1-sensitive").await
        })
        .await;
    other
        .step("the-second-app-needs-no-further-step", async {
            other.goto(&app2.page("/sensitive")).await?;
            other
                .wait_for_url("app2's sensitive page", |url| app2.is_at(url, "/sensitive"))
                .await?;
            other.wait_for_text("body", "urn:sso:acr:mfa").await
        })
        .await;
}
