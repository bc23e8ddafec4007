//! The return from the center to an app with its `state` changed on the way.
//!
//! The browser asks the center for a code with a `state` one character longer than the one
//! app1 issued, so the callback app1 receives carries a real, valid code and a changed state:
//! the request an attacker makes by editing the callback URL.

use e2e::browser::Browser;
use e2e::stack::{Backend, PASSWORD, Stack, USERNAME};
use url::Url;

#[tokio::test]
async fn a_callback_with_a_changed_state_is_refused_with_a_clear_page() {
    let stack = Stack::start(&Backend::Memory)
        .await
        .expect("the servers start");
    let browser = Browser::start("tampered-callback")
        .await
        .expect("the browser starts");
    let Stack { center, app1, .. } = &stack;

    let changed_state = browser
        .step("change-state", async {
            browser.goto(&app1.page("/profile")).await?;
            let authorize = browser
                .wait_for_url("the center's authorization request", |url| {
                    center.is_at(url, "/authorize")
                })
                .await?;
            let (tampered, changed_state) = with_changed_state(&authorize)?;
            browser.goto(tampered.as_str()).await?;
            browser.wait_for("input#password").await?;
            Ok(changed_state)
        })
        .await;

    browser
        .step("tampered-callback-refused", async {
            browser.submit_login(USERNAME, PASSWORD).await?;
            let callback = browser
                .wait_for_url("app1's callback", |url| app1.is_at(url, "/auth/callback"))
                .await?;
            let state = callback
                .query_pairs()
                .find(|(name, _)| name == "state")
                .map(|(_, value)| value.into_owned());
            anyhow::ensure!(
                state.as_deref() == Some(changed_state.as_str()),
                "the callback carries the changed state: {callback}"
            );
            anyhow::ensure!(
                callback.query_pairs().any(|(name, _)| name == "code"),
                "the callback carries a code: {callback}"
            );
            browser
                .wait_for_text("h1", "Sign-in could not be completed")
                .await?;
            let message = browser.text("main p").await?;
            anyhow::ensure!(
                message.contains("invalid, has expired, or was not started in this browser"),
                "the page explains the refusal, it says {message:?}"
            );
            let status = browser.status().await?;
            anyhow::ensure!(status == 400, "the refusal is a 400, not {status}");
            Ok(())
        })
        .await;

    browser
        .step("no-session", async {
            browser.goto(&app1.page("/")).await?;
            browser
                .wait_for_text(".hero .eyebrow", "Not signed in")
                .await?;
            anyhow::ensure!(
                !browser.has(".account .who").await?,
                "a tampered callback signs no one in"
            );
            Ok(())
        })
        .await;
}

/// `authorize` with one more character on its `state`, and that state.
fn with_changed_state(authorize: &Url) -> anyhow::Result<(Url, String)> {
    let mut pairs: Vec<(String, String)> = authorize.query_pairs().into_owned().collect();
    let state = pairs
        .iter_mut()
        .find(|(name, _)| name == "state")
        .map(|(_, value)| value)
        .ok_or_else(|| anyhow::anyhow!("no state in {authorize}"))?;
    state.push('x');
    let changed = state.clone();
    let mut tampered = authorize.clone();
    tampered.query_pairs_mut().clear().extend_pairs(pairs);
    Ok((tampered, changed))
}
