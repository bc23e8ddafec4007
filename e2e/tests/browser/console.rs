//! The admin console clicked through: an administrator ends the demo user's session and both
//! apps sign her out; she, not an administrator, is refused; a new client secret is shown once.
//! Every console page is photographed at 1280 and 390 pixels wide (under
//! `target/screenshots/console/`, kept whatever the outcome) and must not scroll sideways.

use e2e::browser::{Browser, target_dir};
use e2e::stack::{ADMIN, Backend, PASSWORD, Stack, USERNAME};

/// The widths every page is checked at: a laptop and a phone.
const WIDTHS: [u32; 2] = [1280, 390];

/// Signs `browser` in to the console as [`ADMIN`], starting from `path` of the center, and
/// waits until the console shows the page at `lands_on`.
async fn sign_in_to_console(
    browser: &Browser,
    stack: &Stack,
    path: &str,
    lands_on: &str,
) -> anyhow::Result<()> {
    let center = &stack.center;
    browser.goto(&center.page(path)).await?;
    browser
        .wait_for_login_form(|url| center.is_at(url, "/login"))
        .await?;
    browser.submit_login(ADMIN, PASSWORD).await?;
    browser
        .wait_for_url("the console page asked for", |url| {
            center.is_at(url, lands_on)
        })
        .await?;
    Ok(())
}

/// Photographs the page shown at every width of [`WIDTHS`] as `name-WIDTH.png`, and checks that
/// it never needs a horizontal scroll.
async fn photograph(browser: &Browser, name: &str) -> anyhow::Result<()> {
    let dir = target_dir().join("screenshots").join("console");
    for width in WIDTHS {
        browser.resize(width, 1100).await?;
        let fits = browser
            .eval(
                "return [document.documentElement.scrollWidth, window.innerWidth, \
                 document.documentElement.clientWidth];",
            )
            .await?;
        let path = dir.join(format!("{name}-{width}.png"));
        browser.save_screenshot(&path).await?;
        let (scroll, inner) = (fits[0].as_u64(), fits[1].as_u64());
        anyhow::ensure!(
            scroll.is_some() && scroll <= inner,
            "{name} at {width} px overflows sideways: scrollWidth/innerWidth/clientWidth {fits} \
             (see {})",
            path.display()
        );
    }
    browser.resize(1280, 900).await
}

#[tokio::test]
async fn an_admin_ends_alices_session_from_the_console_and_both_apps_sign_her_out() {
    let stack = Stack::start(&Backend::Memory)
        .await
        .expect("the servers start");
    let alice = Browser::start("console-alice")
        .await
        .expect("a browser for alice");
    let admin = Browser::start("console-admin")
        .await
        .expect("a browser for the administrator");
    let Stack {
        center, app1, app2, ..
    } = &stack;

    alice
        .step("alice-signs-in-to-both-apps", async {
            alice.goto(&app1.page("/profile")).await?;
            alice.wait_for_login_form(|url| center.serves(url)).await?;
            alice.submit_login(USERNAME, PASSWORD).await?;
            alice
                .wait_for_url("app1's profile", |url| app1.is_at(url, "/profile"))
                .await?;
            alice.goto(&app2.page("/profile")).await?;
            alice
                .wait_for_url("app2's profile", |url| app2.is_at(url, "/profile"))
                .await?;
            Ok(())
        })
        .await;

    alice
        .step("alice-is-not-an-administrator", async {
            alice.goto(&center.page("/admin/users")).await?;
            anyhow::ensure!(alice.status().await? == 403, "the console refuses alice");
            alice
                .wait_for_text(
                    "#message",
                    "Signed in as alice, who is not a member of the admin group",
                )
                .await?;
            photograph(&alice, "forbidden").await
        })
        .await;

    admin
        .step("admin-signs-in-through-the-center", async {
            sign_in_to_console(
                &admin,
                &stack,
                "/admin/sessions?username=alice",
                "/admin/sessions",
            )
            .await?;
            admin
                .wait_for_text("#sessions tbody td[data-label=Applications]", "app1, app2")
                .await?;
            photograph(&admin, "sessions").await
        })
        .await;

    admin
        .step("admin-ends-alices-session", async {
            admin.click("#sessions form button").await?;
            admin
                .wait_for_text("#sessions tbody", "No live session.")
                .await
        })
        .await;

    alice
        .step("app1-and-app2-signed-out", async {
            for app in [app1, app2] {
                alice.goto(&app.page("/")).await?;
                alice
                    .reload_until_text(".hero .eyebrow", "Not signed in")
                    .await?;
                anyhow::ensure!(
                    !alice.has(".account .who").await?,
                    "{} still shows alice after the console ended her session",
                    app.page("/")
                );
            }
            Ok(())
        })
        .await;

    admin
        .step("the-audit-log-names-the-administrator", async {
            admin
                .goto(&center.page("/admin/audit-log?event=admin_action"))
                .await?;
            admin
                .wait_for_text("#audit tbody td[data-label=Actor]", ADMIN)
                .await?;
            admin
                .wait_for_text("#audit tbody td[data-label=Detail]", "end_session")
                .await?;
            photograph(&admin, "audit").await
        })
        .await;

    admin
        .step("deliveries-page", async {
            admin.goto(&center.page("/admin/deliveries")).await?;
            admin
                .wait_for_text("#deliveries tbody", "Every logout has been delivered")
                .await?;
            photograph(&admin, "deliveries").await
        })
        .await;
}

#[tokio::test]
async fn a_new_client_secret_is_shown_once_and_every_page_fits_a_phone() {
    let stack = Stack::start(&Backend::Memory)
        .await
        .expect("the servers start");
    let admin = Browser::start("console-pages")
        .await
        .expect("the browser starts");
    let center = &stack.center;

    admin
        .step("users", async {
            sign_in_to_console(&admin, &stack, "/admin", "/admin/users").await?;
            admin.wait_for_text("#users", USERNAME).await?;
            photograph(&admin, "users").await
        })
        .await;

    admin
        .step("user", async {
            admin
                .goto(&center.page(&format!("/admin/users/{USERNAME}")))
                .await?;
            admin.wait_for_text("#groups", "staff").await?;
            photograph(&admin, "user").await
        })
        .await;

    admin
        .step("register-a-client", async {
            admin.goto(&center.page("/admin/clients")).await?;
            photograph(&admin, "clients").await?;
            admin.fill("#client-id", "wiki").await?;
            admin.fill("#client-name", "Team wiki").await?;
            admin
                .fill("#redirect-uris", "http://wiki.localhost:9000/auth/callback")
                .await?;
            admin.click("#add-client button[type=submit]").await?;
            admin
                .wait_for_text("#new-secret", "shown this once")
                .await?;
            Ok(())
        })
        .await;

    let first = admin
        .step("rotate-the-secret", async {
            let first = admin.text("#new-secret code").await?;
            admin.click("#rotate button").await?;
            // The page before the click shows a secret too: wait for the new one, reading
            // again while the old page's elements go stale under the navigation.
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            let second = loop {
                match admin.text("#new-secret code").await {
                    Ok(shown) if shown != first => break shown,
                    _ if std::time::Instant::now() > deadline => {
                        anyhow::bail!("no new secret was shown after the rotation")
                    }
                    _ => tokio::time::sleep(std::time::Duration::from_millis(100)).await,
                }
            };
            admin
                .wait_for_text("#new-secret", "shown this once")
                .await?;
            anyhow::ensure!(
                second.len() >= 32 && second != first,
                "rotation shows a new secret ({first:?} → {second:?})"
            );
            photograph(&admin, "client-secret-shown").await?;
            Ok(second)
        })
        .await;

    admin
        .step(
            "the-secret-is-hidden-when-the-page-is-loaded-again",
            async {
                admin.goto(&center.page("/admin/clients/wiki")).await?;
                admin.wait_for_text("#secret-state", "set (hidden)").await?;
                anyhow::ensure!(
                    !admin.has("#new-secret").await?,
                    "the secret banner is gone"
                );
                let page = admin
                    .eval("return document.documentElement.outerHTML;")
                    .await?;
                anyhow::ensure!(
                    !page.as_str().unwrap_or_default().contains(&first),
                    "the secret is nowhere in the page"
                );
                photograph(&admin, "client").await
            },
        )
        .await;

    admin
        .step("an-error-page", async {
            admin.goto(&center.page("/admin/users/nobody")).await?;
            anyhow::ensure!(admin.status().await? == 404, "an unknown user is 404");
            admin
                .wait_for_text("#message", "There is no user named nobody")
                .await?;
            photograph(&admin, "not-found").await
        })
        .await;
}
