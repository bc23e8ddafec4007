//! Single logout: every end of a global session reaches every registered client, reliably.

use std::time::Duration;

use serde_json::Value;
use sso_server::domain::{ClientId, Username};
use sso_server::slo::EndReason;

use crate::helpers::*;
use crate::receiver::{Receiver, reserve_port, uri_for, verify_logout_token};

const SETTLE: Duration = Duration::from_secs(10);

fn all_in(state: &'static str) -> impl Fn(&[Value]) -> bool {
    move |deliveries| !deliveries.is_empty() && deliveries.iter().all(|d| d["state"] == state)
}

async fn with_receivers(app: &TestApp) -> (Receiver, Receiver) {
    let (one, two) = (Receiver::start().await, Receiver::start().await);
    app.add_client("app1", Some(APP1_SECRET), APP1_CALLBACK, Some(&one.uri))
        .await;
    app.add_client("app2", Some(APP2_SECRET), APP2_CALLBACK, Some(&two.uri))
        .await;
    (one, two)
}

/// Signs alice in at app1 and, silently, at app2; returns app1's tokens.
async fn sign_in_both(app: &TestApp) -> Value {
    let tokens = app.login_app1("alice").await;
    let callback = app
        .follow(app.get_authorize(&AuthRequest::app2()).await)
        .await;
    let response = app
        .exchange(
            "app2",
            APP2_SECRET,
            &callback.code(),
            APP2_CALLBACK,
            Some(VERIFIER),
        )
        .await;
    assert_eq!(response.status(), 200);
    tokens
}

#[tokio::test]
async fn logout_delivers_a_verified_logout_token_to_every_registered_client() {
    let app = spawn_app().await;
    let (one, two) = with_receivers(&app).await;
    let tokens = sign_in_both(&app).await;
    let id_token = tokens["id_token"].as_str().unwrap();
    let id_claims = claims(id_token);
    let sid = id_claims["sid"].as_str().unwrap();

    let response = app
        .browser
        .get(app.url("/logout"))
        .query(&[
            ("id_token_hint", id_token),
            ("post_logout_redirect_uri", "http://app1.localhost:8081/"),
            ("state", "after-logout"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    assert_eq!(
        location(&response),
        "http://app1.localhost:8081/?state=after-logout"
    );

    let deliveries = app
        .wait_for_deliveries(sid, SETTLE, all_in("delivered"))
        .await;
    assert_eq!(deliveries.len(), 2);
    assert!(deliveries.iter().all(|d| d["reason"] == "logout"));
    for (receiver, audience) in [(&one, "app1"), (&two, "app2")] {
        let received = receiver.received();
        assert_eq!(received.len(), 1, "{audience} is told exactly once");
        let logout = verify_logout_token(&app, &received[0], audience).await;
        assert_eq!(logout["sid"], sid);
        assert_eq!(logout["sub"], id_claims["sub"]);
    }
    let page = app.get_authorize(&AuthRequest::app1()).await;
    assert_eq!(page.status(), 200, "signed out: the login form again");
}

#[tokio::test]
async fn slo_is_retried_until_a_receiver_that_was_down_comes_back() {
    let app = spawn_app().await;
    let port = reserve_port();
    app.add_client(
        "app1",
        Some(APP1_SECRET),
        APP1_CALLBACK,
        Some(&uri_for(port)),
    )
    .await;
    let tokens = app.login_app1("alice").await;
    let sid = sid_of(&tokens);
    let page = app
        .browser
        .get(app.url("/logout"))
        .query(&[("id_token_hint", tokens["id_token"].as_str().unwrap())])
        .send()
        .await
        .unwrap();
    assert_eq!(
        page.status(),
        200,
        "the signed-out page does not wait for SLO"
    );

    let failing = app
        .wait_for_deliveries(&sid, SETTLE, |d| {
            d.len() == 1 && d[0]["state"] == "retrying" && d[0]["attempts"].as_i64() >= Some(2)
        })
        .await;
    assert_eq!(failing[0]["last_error"], "connection failed");

    let receiver = Receiver::start_on(port).await;
    let delivered = app
        .wait_for_deliveries(&sid, SETTLE, all_in("delivered"))
        .await;
    assert!(delivered[0]["attempts"].as_i64().unwrap() >= 3);
    assert_eq!(receiver.received().len(), 1);
    verify_logout_token(&app, &receiver.received()[0], "app1").await;
    receiver.stop().await;
}

#[tokio::test]
async fn slo_gives_up_after_the_configured_attempts() {
    let app = spawn_app_with(|s| s.slo.max_attempts = 2).await;
    let port = reserve_port();
    app.add_client(
        "app1",
        Some(APP1_SECRET),
        APP1_CALLBACK,
        Some(&uri_for(port)),
    )
    .await;
    let tokens = app.login_app1("alice").await;
    let sid = sid_of(&tokens);
    let ended = app
        .state
        .sessions
        .end(&sid, EndReason::Logout)
        .await
        .unwrap();
    assert!(ended);
    let deliveries = app
        .wait_for_deliveries(&sid, SETTLE, all_in("gave_up"))
        .await;
    assert_eq!(deliveries[0]["attempts"], 2);
}

#[tokio::test]
async fn an_admin_kill_triggers_slo() {
    let app = spawn_app().await;
    let (one, two) = with_receivers(&app).await;
    let tokens = sign_in_both(&app).await;
    let sid = sid_of(&tokens);
    let response = app.admin_delete(&format!("/admin/sessions/{sid}")).await;
    assert_eq!(response.status(), 200);
    let deliveries = app
        .wait_for_deliveries(&sid, SETTLE, all_in("delivered"))
        .await;
    assert!(deliveries.iter().all(|d| d["reason"] == "admin_kill"));
    assert_eq!(one.received().len(), 1);
    assert_eq!(two.received().len(), 1);
    let again = app.admin_delete(&format!("/admin/sessions/{sid}")).await;
    assert_eq!(again.status(), 404, "an ended session is not ended twice");
    let page = app.get_authorize(&AuthRequest::app1()).await;
    assert_eq!(page.status(), 200, "the killed session no longer signs in");
}

#[tokio::test]
async fn sessions_ended_at_the_same_time_all_end_and_all_reach_their_client() {
    const SESSIONS: usize = 24;
    let app = spawn_app().await;
    let receiver = Receiver::for_app1(&app).await;
    let alice = app.user("alice").await;
    let app1 = ClientId::parse("app1").unwrap();
    let mut sids = Vec::new();
    for _ in 0..SESSIONS {
        let session = app
            .state
            .sessions
            .create(&alice, &[], &Default::default())
            .await
            .unwrap();
        assert!(
            app.state
                .sessions
                .register_client(&session.sid, &app1)
                .await
                .unwrap()
        );
        sids.push(session.sid);
    }

    // Every kill races the others, the delivery worker recording their outcomes, and sweeps
    // looking for sessions that expired.
    let sessions = app.state.sessions.clone();
    let sweeping = tokio::spawn(async move {
        loop {
            sessions.sweep_expired().await.unwrap();
            tokio::task::yield_now().await;
        }
    });
    let mut kills = tokio::task::JoinSet::new();
    for sid in &sids {
        let request = app
            .api
            .delete(app.url(&format!("/admin/sessions/{sid}")))
            .bearer_auth(ADMIN_TOKEN);
        kills.spawn(async move { request.send().await.unwrap().status() });
    }
    let statuses = kills.join_all().await;
    sweeping.abort();
    assert!(
        statuses.iter().all(|status| *status == 200),
        "every kill ends its session: {statuses:?}"
    );
    for sid in &sids {
        let deliveries = app
            .wait_for_deliveries(sid, SETTLE, all_in("delivered"))
            .await;
        assert_eq!(deliveries.len(), 1);
        assert_eq!(
            deliveries[0]["reason"], "admin_kill",
            "a kill is not taken for expiry"
        );
    }
    assert_eq!(receiver.received().len(), SESSIONS);
}

#[tokio::test]
async fn idle_expiry_found_by_the_sweeper_triggers_slo() {
    let app = spawn_app_with(|s| s.session.idle_timeout_secs = 1).await;
    let receiver = Receiver::for_app1(&app).await;
    let tokens = app.login_app1("alice").await;
    let sid = sid_of(&tokens);
    let deliveries = app
        .wait_for_deliveries(&sid, SETTLE, all_in("delivered"))
        .await;
    assert_eq!(deliveries[0]["reason"], "expired");
    let logout = verify_logout_token(&app, &receiver.received()[0], "app1").await;
    assert_eq!(logout["sid"], sid.as_str());
}

#[tokio::test]
async fn a_password_change_ends_the_users_sessions_with_slo() {
    let app = spawn_app().await;
    let receiver = Receiver::for_app1(&app).await;
    let tokens = app.login_app1("alice").await;
    let sid = sid_of(&tokens);
    let alice = app.user("alice").await;
    let ended = app
        .state
        .sessions
        .end_all_for_user(&alice.id, EndReason::PasswordChanged)
        .await
        .unwrap();
    assert_eq!(ended, 1);
    let deliveries = app
        .wait_for_deliveries(&sid, SETTLE, all_in("delivered"))
        .await;
    assert_eq!(deliveries[0]["reason"], "password_changed");
    assert_eq!(receiver.received().len(), 1);
}

#[tokio::test]
async fn queued_deliveries_survive_a_restart_of_the_center() {
    let (url, dir) = new_database().await;
    let receiver = Receiver::start().await;
    let sid = {
        // The first center queues a logout and stops before delivering it.
        let first = build_only(&url).await;
        let state = first.state();
        let hash = state
            .hasher
            .hash(sso_server::users::Password::new(PASSWORD))
            .await
            .unwrap();
        let user = state
            .users
            .add(
                sso_server::users::NewUser {
                    username: Username::parse("carol").unwrap(),
                    name: "Carol".to_owned(),
                    email: "carol@example.test".to_owned(),
                },
                hash,
            )
            .await
            .unwrap();
        state
            .clients
            .upsert(sso_server::clients::NewClient {
                id: ClientId::parse("app1").unwrap(),
                name: "App 1".to_owned(),
                secret: Some(APP1_SECRET.to_owned()),
                redirect_uris: vec![sso_server::domain::RedirectUri::parse(APP1_CALLBACK).unwrap()],
                post_logout_redirect_uris: Vec::new(),
                backchannel_logout_uri: Some(
                    sso_server::domain::RedirectUri::parse(&receiver.uri).unwrap(),
                ),
                id_token_alg: jsonwebtoken::Algorithm::RS256,
                tokens: sso_server::clients::TokenPolicy::default(),
            })
            .await
            .unwrap();
        let session = state
            .sessions
            .create(&user, &[], &Default::default())
            .await
            .unwrap();
        let app1 = ClientId::parse("app1").unwrap();
        assert!(
            state
                .sessions
                .register_client(&session.sid, &app1)
                .await
                .unwrap()
        );
        assert!(
            state
                .sessions
                .end(&session.sid, EndReason::Logout)
                .await
                .unwrap()
        );
        session.sid
    };
    assert!(receiver.received().is_empty());
    let second = start(test_settings(), &url, dir, memory_store()).await;
    second
        .wait_for_deliveries(&sid, SETTLE, all_in("delivered"))
        .await;
    assert_eq!(receiver.received().len(), 1);
    verify_logout_token(&second, &receiver.received()[0], "app1").await;
}
