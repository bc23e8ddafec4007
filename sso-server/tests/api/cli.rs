//! The command line, run as a separate process against the database of a running center.

use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::helpers::*;
use crate::receiver::{Receiver, verify_logout_token};

/// Runs `sso-server ARGS` on `database`, with `stdin` as standard input; returns stdout.
pub(crate) async fn run(database: &str, args: &[&str], stdin: &str) -> String {
    let output = command(database, args, &[], stdin).await;
    assert!(
        output.status.success(),
        "sso-server {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// Runs `sso-server ARGS` on `database` with extra environment variables; whatever the outcome.
pub(crate) async fn command(
    database: &str,
    args: &[&str],
    env: &[(&str, &str)],
    stdin: &str,
) -> std::process::Output {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_sso-server"))
        .args(args)
        .env("SSO_DATABASE__URL", database)
        .env("RUST_LOG", "warn")
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.as_bytes()).await.unwrap();
    drop(input);
    child.wait_with_output().await.unwrap()
}

pub(crate) async fn spawn_on_shared_database() -> (TestApp, String) {
    let (database, dir) = new_database().await;
    let mut settings = test_settings();
    settings.tokens.key_reload_secs = 1;
    let app = start(settings, &database, dir, memory_store()).await;
    app.seed().await;
    (app, database)
}

#[tokio::test]
async fn user_add_then_list_then_sign_in() {
    let (app, database) = spawn_on_shared_database().await;
    let out = run(
        &database,
        &[
            "user",
            "add",
            "dave",
            "--name",
            "Dave",
            "--email",
            "dave@example.test",
            "--password-stdin",
        ],
        "dave's long password\n",
    )
    .await;
    assert!(out.contains("added dave"), "{out}");
    let list = run(&database, &["user", "list"], "").await;
    assert!(list.lines().any(|l| l.starts_with("dave\t")), "{list}");

    let page = app
        .get_authorize(&AuthRequest::app1())
        .await
        .text()
        .await
        .unwrap();
    let response = app
        .submit_login(&page, "dave", "dave's long password")
        .await;
    assert_eq!(response.status(), 303);
}

#[tokio::test]
async fn user_passwd_ends_the_users_sessions_with_slo() {
    let (app, database) = spawn_on_shared_database().await;
    let receiver = Receiver::for_app1(&app).await;
    let tokens = app.login_app1("alice").await;
    let sid = sid_of(&tokens);
    let out = run(
        &database,
        &["user", "passwd", "alice", "--password-stdin"],
        "a brand new password\n",
    )
    .await;
    assert!(out.contains("1 session(s) ended"), "{out}");
    let deliveries = app
        .wait_for_deliveries(&sid, Duration::from_secs(10), |d| {
            d.len() == 1 && d[0]["state"] == "delivered"
        })
        .await;
    assert_eq!(deliveries[0]["reason"], "password_changed");
    verify_logout_token(&app, &receiver.received()[0], "app1").await;
    assert_eq!(
        app.get_authorize(&AuthRequest::app1()).await.status(),
        200,
        "the old session no longer signs in"
    );
    let page = app
        .get_authorize(&AuthRequest::app1())
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(
        app.submit_login(&page, "alice", PASSWORD).await.status(),
        401
    );
    assert_eq!(
        app.submit_login(&page, "alice", "a brand new password")
            .await
            .status(),
        303
    );
}

#[tokio::test]
async fn user_disable_ends_sessions_and_refuses_logins() {
    let (app, database) = spawn_on_shared_database().await;
    let tokens = app.login_app1("alice").await;
    let out = run(&database, &["user", "disable", "alice"], "").await;
    assert!(out.contains("1 session(s) ended"), "{out}");
    let userinfo = app.userinfo(tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(
        userinfo.status(),
        401,
        "tokens of the ended session stop working"
    );
    let page = app
        .get_authorize(&AuthRequest::app1())
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(
        app.submit_login(&page, "alice", PASSWORD).await.status(),
        403
    );
}

#[tokio::test]
async fn keys_rotate_reaches_the_running_server() {
    let (app, database) = spawn_on_shared_database().await;
    let out = run(&database, &["keys", "rotate"], "").await;
    assert!(out.contains("new signing keys"), "{out}");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let jwks: Value = app.get_json("/jwks.json").await;
        if jwks["keys"].as_array().unwrap().len() == 4 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "rotation not picked up"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn keys_rotate_seals_with_the_key_encryption_key_and_refuses_without_it() {
    let (database, dir) = new_database().await;
    let kek = "kek-0123456789abcdef-0123456789abcdef";
    let kek_file = dir.path().join("kek");
    std::fs::write(&kek_file, format!("{kek}\n")).unwrap();
    let mut settings = test_settings();
    settings.tokens.key_reload_secs = 1;
    settings.tokens.key_encryption_key = Some(sso_server::config::Secret::new(kek));
    let app = start(settings, &database, dir, memory_store()).await;

    let refused = command(&database, &["keys", "rotate"], &[], "").await;
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("configure tokens.key_encryption_key"),
        "{stderr}"
    );

    let kek_env = [(
        "SSO_TOKENS__KEY_ENCRYPTION_KEY_FILE",
        kek_file.to_str().unwrap(),
    )];
    let rotated = command(&database, &["keys", "rotate"], &kek_env, "").await;
    assert!(
        rotated.status.success(),
        "{}",
        String::from_utf8_lossy(&rotated.stderr)
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while app.get_json::<Value>("/jwks.json").await["keys"]
        .as_array()
        .unwrap()
        .len()
        < 4
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the running center did not open the new sealed keys"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let rows = sqlx::query("SELECT private_key FROM signing_keys")
        .fetch_all(&app.state.pool)
        .await
        .unwrap();
    assert_eq!(rows.len(), 4);
    for row in &rows {
        let stored: String = sqlx::Row::get(row, "private_key");
        assert!(stored.starts_with("sealed:v1:"), "{stored}");
    }
}

#[tokio::test]
async fn client_add_list_and_remove() {
    let (app, database) = spawn_on_shared_database().await;
    let secret = "app9-secret-0123456789abcdef-0123456789";
    let out = run(
        &database,
        &[
            "client",
            "add",
            "app9",
            "--name",
            "App Nine",
            "--redirect-uri",
            "http://app9.localhost:8089/auth/callback",
            "--post-logout-redirect-uri",
            "http://app9.localhost:8089/",
            "--secret-stdin",
        ],
        &format!("{secret}\n"),
    )
    .await;
    assert!(out.contains("registered client app9"), "{out}");
    assert!(!out.contains(secret), "a given secret is not echoed");
    let list = run(&database, &["client", "list"], "").await;
    assert!(list.lines().any(|l| l == "app9"), "{list}");

    let request = AuthRequest::new("app9", "http://app9.localhost:8089/auth/callback");
    let code = app.login(&request, "alice").await.code();
    let response = app
        .exchange(
            "app9",
            secret,
            &code,
            "http://app9.localhost:8089/auth/callback",
            Some(VERIFIER),
        )
        .await;
    assert_eq!(response.status(), 200, "the registered secret works");

    run(&database, &["client", "remove", "app9"], "").await;
    // A running center reads a client again once its copy is older than a second.
    tokio::time::sleep(sso_server::clients::FRESH).await;
    assert_eq!(app.get_authorize(&request).await.status(), 400);
}

#[tokio::test]
async fn client_add_registers_a_service_for_client_credentials_with_jwt_access_tokens() {
    let (app, database) = spawn_on_shared_database().await;
    let secret = "svc-secret-0123456789abcdef-0123456789";
    let out = run(
        &database,
        &[
            "client",
            "add",
            "reports",
            "--grant-type",
            "client_credentials",
            "--client-credentials-scope",
            "reports.read",
            "--access-token-format",
            "jwt",
            "--secret-stdin",
        ],
        &format!("{secret}\n"),
    )
    .await;
    assert!(out.contains("registered client reports"), "{out}");

    let grant = |scope: &'static str| {
        app.api
            .post(app.url("/token"))
            .basic_auth("reports", Some(secret))
            .form(&[("grant_type", "client_credentials"), ("scope", scope)])
            .send()
    };
    let granted = grant("reports.read").await.unwrap();
    assert_eq!(granted.status(), 200);
    let body: serde_json::Value = granted.json().await.unwrap();
    let token = body["access_token"].as_str().unwrap();
    let header = jsonwebtoken::decode_header(token).expect("a JWT access token");
    assert_eq!(header.typ.as_deref(), Some("at+jwt"));
    assert_eq!(claims(token)["client_id"], "reports");
    assert_eq!(claims(token)["scope"], "reports.read");

    let wider = grant("reports.write").await.unwrap();
    assert_eq!(wider.status(), 400);
    let body: serde_json::Value = wider.json().await.unwrap();
    assert_eq!(body["error"], "invalid_scope");

    let request = AuthRequest::new("reports", "http://reports.localhost/cb");
    assert_eq!(
        app.get_authorize(&request).await.status(),
        400,
        "a service without redirect URIs cannot sign users in"
    );
}

#[tokio::test]
async fn configured_clients_are_listed_and_cannot_be_changed_from_the_command_line() {
    let (_app, database) = spawn_on_shared_database().await;
    let clients = r#"[{ id = "portal", secret_sha256 = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", redirect_uris = ["https://portal.localhost/cb"] }]"#;
    let env = [("SSO_CLIENTS", clients)];
    let list = command(&database, &["client", "list"], &env, "").await;
    let list = String::from_utf8(list.stdout).unwrap();
    assert!(
        list.lines().any(|l| l == "portal\t(configuration file)"),
        "{list}"
    );
    assert!(
        list.lines().any(|l| l == "app1"),
        "database clients too: {list}"
    );

    let removed = command(&database, &["client", "remove", "portal"], &env, "").await;
    assert!(!removed.status.success());
    let stderr = String::from_utf8_lossy(&removed.stderr);
    assert!(stderr.contains("configuration file"), "{stderr}");
    let added = command(
        &database,
        &[
            "client",
            "add",
            "portal",
            "--redirect-uri",
            "https://evil.localhost/cb",
            "--public",
        ],
        &env,
        "",
    )
    .await;
    assert!(
        !added.status.success(),
        "a configured client is not replaced"
    );

    let invalid = command(
        &database,
        &["client", "list"],
        &[("SSO_CLIENTS", r#"[{ id = "bad id", redirect_uris = [] }]"#)],
        "",
    )
    .await;
    assert!(!invalid.status.success());
    let stderr = String::from_utf8_lossy(&invalid.stderr);
    assert!(
        stderr.contains("bad id"),
        "the error names the client: {stderr}"
    );
}

#[tokio::test]
async fn client_add_generates_a_secret_when_none_is_given() {
    let (_app, database) = spawn_on_shared_database().await;
    let out = run(
        &database,
        &[
            "client",
            "add",
            "app8",
            "--redirect-uri",
            "http://app8.localhost:8088/auth/callback",
        ],
        "",
    )
    .await;
    let secret = out
        .lines()
        .find_map(|l| l.strip_prefix("secret: "))
        .expect("the generated secret is printed");
    assert!(secret.len() >= 43, "{secret}");
}

#[tokio::test]
async fn an_eddsa_client_gets_eddsa_signed_id_and_logout_tokens() {
    let (app, database) = spawn_on_shared_database().await;
    let receiver = Receiver::start().await;
    let secret = "app7-secret-0123456789abcdef-0123456789";
    let callback_uri = "http://app7.localhost:8087/auth/callback";
    run(
        &database,
        &[
            "client",
            "add",
            "app7",
            "--redirect-uri",
            callback_uri,
            "--backchannel-logout-uri",
            &receiver.uri,
            "--id-token-alg",
            "eddsa",
            "--secret-stdin",
        ],
        &format!("{secret}\n"),
    )
    .await;
    let code = app
        .login(&AuthRequest::new("app7", callback_uri), "alice")
        .await
        .code();
    let tokens: Value = app
        .exchange("app7", secret, &code, callback_uri, Some(VERIFIER))
        .await
        .json()
        .await
        .unwrap();
    let id_token = tokens["id_token"].as_str().unwrap();
    let header = jsonwebtoken::decode_header(id_token).unwrap();
    assert_eq!(header.alg, jsonwebtoken::Algorithm::EdDSA);
    let sid = claims(id_token)["sid"].as_str().unwrap().to_owned();
    let response = app.admin_delete(&format!("/admin/sessions/{sid}")).await;
    assert_eq!(response.status(), 200);
    app.wait_for_deliveries(&sid, Duration::from_secs(10), |d| {
        d.len() == 1 && d[0]["state"] == "delivered"
    })
    .await;
    let logout = &receiver.received()[0];
    assert_eq!(
        jsonwebtoken::decode_header(logout).unwrap().alg,
        jsonwebtoken::Algorithm::EdDSA
    );
    verify_logout_token(&app, logout, "app7").await;
}

/// The key of bob's authenticator app in the demo test.
const DEMO_TOTP_KEY: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";

#[tokio::test]
async fn serve_demo_signs_alice_in_to_app1_on_its_port_and_stops_gracefully_on_sigterm() {
    let (database, _dir) = new_database().await;
    let port = crate::receiver::reserve_port();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_sso-server"))
        .args(["serve", "--demo", "--demo-password", "demo password 123"])
        .env("SSO_DATABASE__URL", &database)
        .env("SSO_HTTP__PORT", port.to_string())
        .env("SSO_ISSUER", format!("http://127.0.0.1:{port}"))
        .env("SSO_DEMO__APP_PORTS", "[9181, 9182]")
        .env("DEMO_TOTP_KEY", DEMO_TOTP_KEY)
        .env(
            "SSO_CLIENTS",
            r#"[{ id = "app2", name = "Configured app 2", redirect_uris = ["https://app2.localhost/cb"] }]"#,
        )
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let app = Center::attach(format!("http://127.0.0.1:{port}"));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while app.api.get(app.url("/healthz")).send().await.is_err() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the demo did not start"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let callback_uri = "http://app1.localhost:9181/auth/callback";
    let page = app
        .get_authorize(&AuthRequest::new("app1", callback_uri))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("Demo app 1"));
    let callback = app
        .follow(app.submit_login(&page, "alice", "demo password 123").await)
        .await;
    let response = app
        .exchange(
            "app1",
            "app1-demo-secret",
            &callback.code(),
            callback_uri,
            Some(VERIFIER),
        )
        .await;
    assert_eq!(response.status(), 200);
    let page = app
        .get_authorize(&AuthRequest::new("app2", "https://app2.localhost/cb"))
        .await;
    assert_eq!(
        page.status(),
        303,
        "app2 from the configuration, signed in already"
    );

    // bob's authenticator app has the key given: a step-up takes its code.
    let bob = Center::attach(app.address.clone());
    let request = AuthRequest::new("app1", callback_uri);
    let asking = format!(
        "/authorize?{}&acr_values=urn%3Asso%3Aacr%3Amfa",
        request.query()
    );
    let page = bob
        .browser
        .get(bob.url(&asking))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let response = bob.submit_login(&page, "bob", "demo password 123").await;
    let step = location(
        &bob.browser
            .get(bob.url(&location(&response)))
            .send()
            .await
            .unwrap(),
    );
    assert!(step.starts_with("/login/factor?"), "{step}");
    let page = bob
        .browser
        .get(bob.url(&step))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let code = crate::factors::totp_code(DEMO_TOTP_KEY, 30);
    let callback = bob
        .follow(crate::factors::give_code(&bob, &page, &code).await)
        .await;
    assert!(callback.param("code").is_some());

    let pid = child.id().unwrap().to_string();
    let killed = tokio::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .await
        .unwrap();
    assert!(killed.success());
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("stops within the shutdown timeout")
        .unwrap();
    assert!(status.success(), "{status}");
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .await
        .unwrap();
    assert!(out.contains("demo client: app1 secret"), "{out}");
    assert!(
        out.contains("demo client: app2 comes from the configuration file"),
        "a configured client is left as configured: {out}"
    );
}
