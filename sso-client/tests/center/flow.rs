//! Sign-in, single sign-on, return paths, tampered callbacks and sign-out.

use url::Url;

use crate::helpers::*;

#[tokio::test]
async fn one_password_signs_in_to_both_apps_on_every_backend() {
    for backend in Backend::all() {
        eprintln!("backend: {}", backend.name());
        one_password_signs_in_to_both_apps(&backend).await;
    }
}

async fn one_password_signs_in_to_both_apps(backend: &Backend) {
    let center = start_center().await;
    let app1 = start_app_on(&center, "app1", backend).await;
    let app2 = start_app_on(&center, "app2", backend).await;
    let browser = browser();

    let me1 = sign_in(&browser, &center, &app1).await;
    assert_eq!(me1["name"], "Alice Liddell");
    assert_eq!(me1["email"], "alice@example.test");
    assert_eq!(me1["claims"]["iss"], center.url);
    assert_eq!(me1["claims"]["aud"], "app1");
    let sid = me1["sid"]
        .as_str()
        .expect("the id token names the center session");

    let me2 = sign_in_silently(&browser, &center, &app2).await;
    assert_eq!(
        me2["sid"], sid,
        "both local sessions belong to one center session"
    );
    assert_eq!(me2["sub"], me1["sub"]);
    assert_ne!(me2["csrf_token"], me1["csrf_token"]);
}

#[tokio::test]
async fn a_tampered_callback_state_is_refused_with_a_clear_page() {
    let center = start_center().await;
    let app = start_app(&center, "app1").await;
    let browser = browser();
    let callback = login_until_callback(&browser, &center, &app, "/me").await;

    let mut tampered = Url::parse(&callback).unwrap();
    let pairs: Vec<(String, String)> = tampered
        .query_pairs()
        .map(|(name, value)| {
            let value = if name == "state" {
                format!("{value}x")
            } else {
                value.into_owned()
            };
            (name.into_owned(), value)
        })
        .collect();
    tampered.query_pairs_mut().clear().extend_pairs(pairs);
    let response = deliver_callback(&browser, tampered.as_str()).await;
    assert_eq!(response.status(), 400);
    let page = response.text().await.unwrap();
    assert!(page.contains("Sign-in could not be completed"), "{page}");
    assert!(
        whoami(&browser, &app).await.is_none(),
        "no session from a tampered callback"
    );
}

#[tokio::test]
async fn the_page_first_asked_for_is_restored_but_never_an_off_site_one() {
    let center = start_center().await;
    let app = start_app(&center, "app1").await;

    let browser_a = browser();
    let callback = login_until_callback(&browser_a, &center, &app, "/me?tab=claims").await;
    let response = deliver_callback(&browser_a, &callback).await;
    assert_eq!(location(&response), "/me?tab=claims");

    let browser_b = browser();
    let evil = "/auth/login?return_to=https%3A%2F%2Fevil.example%2F";
    let callback = login_until_callback(&browser_b, &center, &app, evil).await;
    let response = deliver_callback(&browser_b, &callback).await;
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), "/");

    let browser_c = browser();
    let scheme_relative = "/auth/login?return_to=%2F%2Fevil.example";
    let callback = login_until_callback(&browser_c, &center, &app, scheme_relative).await;
    assert_eq!(
        location(&deliver_callback(&browser_c, &callback).await),
        "/"
    );
}

#[tokio::test]
async fn signing_out_ends_the_local_session_and_the_center_session() {
    let center = start_center().await;
    let app = start_app(&center, "app1").await;
    let browser = browser();
    let me = sign_in(&browser, &center, &app).await;

    let response = browser
        .post(format!("{}/auth/logout", app.url))
        .form(&[("csrf_token", me["csrf_token"].as_str().unwrap())])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    let end_session = Url::parse(&location(&response)).unwrap();
    assert!(
        end_session
            .as_str()
            .starts_with(&format!("{}/logout?", center.url))
    );
    let query: Vec<(String, String)> = end_session.query_pairs().into_owned().collect();
    assert!(query.iter().any(|(name, _)| name == "id_token_hint"));
    assert!(query.contains(&(
        "post_logout_redirect_uri".to_owned(),
        format!("{}/", app.url)
    )));
    assert!(
        whoami(&browser, &app).await.is_none(),
        "the local session is gone at once"
    );

    let at_center = browser.get(end_session).send().await.unwrap();
    assert!(
        at_center.status().is_redirection(),
        "{}",
        at_center.status()
    );
    assert_eq!(location(&at_center), format!("{}/", app.url));

    let again = browser.get(format!("{}/me", app.url)).send().await.unwrap();
    let login_page = browser.get(location(&again)).send().await.unwrap();
    assert_eq!(
        login_page.status(),
        200,
        "the center asks for the password again"
    );
}
