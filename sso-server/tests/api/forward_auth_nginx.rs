//! Forward auth through real nginx (`NGINX_BIN`, or `/usr/sbin/nginx`) with the snippets of
//! `nginx/forward-auth/` and app3 (Python, standard library), all on loopback ports. The
//! protected host is `localhost` and the center `127.0.0.1`: two cookie hosts that HTTP
//! clients treat as secure contexts, as browsers do.

use std::net::SocketAddr;

use sso_common::nginx::{self, Nginx};
use sso_server::config::ForwardAuthSettings;

use crate::helpers::*;
use crate::receiver::reserve_port;

/// nginx's servers: `localhost` with the snippets included as their guide says, in front of
/// app3 and asking the center.
fn servers(nginx_port: u16, center_port: u16, app3_port: u16) -> String {
    format!(
        r#"    server {{
        listen 127.0.0.1:{nginx_port};
        server_name localhost;
        set $sso_center http://127.0.0.1:{center_port};
        include {snippets}/server.conf;
        location / {{
            include {snippets}/location.conf;
            proxy_pass http://127.0.0.1:{app3_port};
        }}
    }}
"#,
        snippets = nginx::snippets().display(),
    )
}

#[tokio::test]
async fn nginx_with_the_snippets_signs_in_strips_forged_headers_and_refuses() {
    let (center_port, nginx_port, app3_port) = (reserve_port(), reserve_port(), reserve_port());
    let issuer = format!("http://127.0.0.1:{center_port}");
    let app = spawn_app_with(|settings| {
        settings.issuer = issuer.parse().unwrap();
        settings.http.port = center_port;
        settings.login.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
        settings.forward_auth = vec![ForwardAuthSettings {
            name: "app3".to_owned(),
            hosts: vec!["localhost".to_owned()],
            allowed_users: Vec::new(),
            allowed_groups: vec!["staff".to_owned()],
            idle_timeout_secs: 600,
            absolute_timeout_secs: 3_600,
            mfa: None,
        }];
    })
    .await;
    app.state
        .users
        .change_groups(
            &sso_server::domain::Username::parse("alice").unwrap(),
            &sso_server::users::GroupChange::Set(
                sso_server::users::GroupName::parse_list("staff,ops").unwrap(),
            ),
        )
        .await
        .unwrap();

    let _app3 = nginx::app3(app3_port).expect("python3 runs app3");
    nginx::wait_for_port(app3_port).unwrap();
    let _nginx = Nginx::start(
        |_| Ok(servers(nginx_port, center_port, app3_port)),
        &[],
        &[nginx_port],
    )
    .expect("nginx must be installed (scripts/test.sh installs it)");

    let loopback = |port| SocketAddr::from(([127, 0, 0, 1], port));
    let browser = |jar: bool| {
        reqwest::Client::builder()
            .cookie_store(jar)
            .redirect(reqwest::redirect::Policy::limited(10))
            .resolve("localhost", loopback(nginx_port))
            .build()
            .unwrap()
    };
    let app3 = format!("http://localhost:{nginx_port}");

    // Anonymous: nginx sends the browser to sign in at the center, on the app's host first.
    let alice = browser(true);
    let login = alice
        .get(format!("{app3}/hello"))
        .header("remote-user", "admin")
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200);
    assert!(
        login
            .url()
            .as_str()
            .starts_with(&format!("{issuer}/authorize?")),
        "{}",
        login.url()
    );
    let page = login.text().await.unwrap();
    let signed_in = alice
        .post(format!("{issuer}/login"))
        .form(&[
            ("csrf_token", hidden(&page, "csrf_token")),
            ("return_to", hidden(&page, "return_to")),
            ("username", "alice".to_owned()),
            ("password", PASSWORD.to_owned()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.url().as_str(), format!("{app3}/hello"));
    let greeting = signed_in.text().await.unwrap();
    assert!(
        greeting.contains(r#"<code id="user">alice</code>"#),
        "{greeting}"
    );
    assert!(
        greeting.contains("<li>ops</li><li>staff</li>"),
        "{greeting}"
    );

    // A forged Remote-User never reaches the app.
    let forged = alice
        .get(format!("{app3}/again"))
        .header("Remote-User", "admin")
        .header("Remote-Groups", "admins")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        forged.contains(r#"<code id="user">alice</code>"#),
        "{forged}"
    );
    assert!(
        !forged.contains("admin<") && !forged.contains("admins"),
        "{forged}"
    );

    // Bob signs in too but is not in `staff`: nginx answers 403.
    let bob = browser(true);
    let page = bob
        .get(format!("{app3}/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let refused = bob
        .post(format!("{issuer}/login"))
        .form(&[
            ("csrf_token", hidden(&page, "csrf_token")),
            ("return_to", hidden(&page, "return_to")),
            ("username", "bob".to_owned()),
            ("password", PASSWORD.to_owned()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
    assert!(!refused.text().await.unwrap().contains("Hello"));

    // Without a cookie jar, a forged Remote-User is a sign-in redirect, not a page.
    let stranger = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .resolve("localhost", loopback(nginx_port))
        .build()
        .unwrap();
    let anonymous = stranger
        .get(format!("{app3}/"))
        .header("Remote-User", "admin")
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 302);
    assert_eq!(location(&anonymous), format!("{app3}/_sso/start?rd=%2F"));
    drop(app);
}
