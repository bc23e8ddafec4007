//! The happy paths: login, single sign-on, token contents, userinfo.

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{DecodingKey, Validation};
use serde_json::Value;

use crate::helpers::*;

#[tokio::test]
async fn full_login_issues_a_code_bound_to_state_and_issuer() {
    let app = spawn_app().await;
    let request = AuthRequest::app1();
    let page = app.get_authorize(&request).await;
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    let html = page.text().await.unwrap();
    assert!(
        html.contains("Application app1"),
        "the login page names the client"
    );
    let response = app.submit_login(&html, "alice", PASSWORD).await;
    assert_eq!(response.status(), 303);
    let cookie = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("sso_session="))
        .expect("a session cookie");
    for attribute in ["HttpOnly", "Secure", "SameSite=Lax"] {
        assert!(cookie.contains(attribute), "{cookie} lacks {attribute}");
    }
    let callback = app.follow(response).await;
    assert!(callback.url.as_str().starts_with(APP1_CALLBACK));
    assert_eq!(callback.param("state"), Some(request.state));
    assert_eq!(callback.param("iss").as_deref(), Some(ISSUER));
    assert!(
        callback.code().len() >= 43,
        "a code carries at least 256 bits"
    );
}

#[tokio::test]
async fn second_client_signs_in_silently_in_the_same_session() {
    let app = spawn_app().await;
    let first = app.login_app1("alice").await;
    let request = AuthRequest::app2();
    let response = app.get_authorize(&request).await;
    assert_eq!(response.status(), 303, "no login form the second time");
    let callback = app.follow(response).await;
    assert!(callback.url.as_str().starts_with(APP2_CALLBACK));
    let tokens: Value = app
        .exchange(
            "app2",
            APP2_SECRET,
            &callback.code(),
            APP2_CALLBACK,
            Some(VERIFIER),
        )
        .await
        .json()
        .await
        .unwrap();
    let first = claims(first["id_token"].as_str().unwrap());
    let second = claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(first["sid"], second["sid"], "one global session");
    assert_eq!(first["sub"], second["sub"]);
    assert_eq!(second["aud"], "app2");
}

#[tokio::test]
async fn id_token_carries_the_promised_claims_and_verifies_against_the_jwks() {
    let app = spawn_app().await;
    let request = AuthRequest::app1();
    let callback = app.login(&request, "alice").await;
    let response = app
        .exchange(
            "app1",
            APP1_SECRET,
            &callback.code(),
            APP1_CALLBACK,
            Some(VERIFIER),
        )
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let tokens: Value = response.json().await.unwrap();
    assert_eq!(tokens["token_type"], "Bearer");
    let id_token = tokens["id_token"].as_str().unwrap();

    let jwks: JwkSet = app.get_json("/jwks.json").await;
    let header = jsonwebtoken::decode_header(id_token).unwrap();
    assert_eq!(header.alg, jsonwebtoken::Algorithm::RS256);
    let key = DecodingKey::from_jwk(jwks.find(header.kid.as_deref().unwrap()).unwrap()).unwrap();
    let mut validation = Validation::new(header.alg);
    validation.set_audience(&["app1"]);
    validation.set_issuer(&[ISSUER]);
    let claims = jsonwebtoken::decode::<Value>(id_token, &key, &validation)
        .unwrap()
        .claims;
    assert_eq!(claims["nonce"].as_str(), Some(request.nonce.as_str()));
    assert_eq!(claims["name"], "Alice Liddell");
    assert_eq!(claims["email"], "alice@example.test");
    assert!(claims["sid"].as_str().is_some_and(|s| !s.is_empty()));
    let user = app.user("alice").await;
    assert_eq!(claims["sub"], user.id.as_str());
    let (iat, exp) = (
        claims["iat"].as_u64().unwrap(),
        claims["exp"].as_u64().unwrap(),
    );
    assert!(exp > iat && exp - iat <= 600);

    let info: Value = app
        .userinfo(tokens["access_token"].as_str().unwrap())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(info["sub"], user.id.as_str());
    assert_eq!(info["preferred_username"], "alice");
}

#[tokio::test]
async fn the_client_is_registered_in_the_global_session_on_exchange() {
    let app = spawn_app().await;
    let tokens = app.login_app1("alice").await;
    let sid = claims(tokens["id_token"].as_str().unwrap())["sid"].clone();
    let body: Value = app
        .admin_get("/admin/users/alice/sessions")
        .await
        .json()
        .await
        .unwrap();
    let sessions = body["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0]["sid"], sid);
    assert_eq!(sessions[0]["clients"], serde_json::json!(["app1"]));
}

#[tokio::test]
async fn prompt_none_without_a_session_returns_login_required() {
    let app = spawn_app().await;
    let mut request = AuthRequest::app1();
    request.prompt = Some("none".to_owned());
    let response = app.get_authorize(&request).await;
    let callback = app.follow(response).await;
    assert_eq!(callback.param("error").as_deref(), Some("login_required"));
    assert_eq!(callback.param("state"), Some(request.state));
}

#[tokio::test]
async fn prompt_login_shows_the_form_despite_a_session() {
    let app = spawn_app().await;
    app.login_app1("alice").await;
    let mut request = AuthRequest::app2();
    request.prompt = Some("login".to_owned());
    let page = app.get_authorize(&request).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    let callback = app
        .follow(app.submit_login(&html, "alice", PASSWORD).await)
        .await;
    assert!(callback.param("code").is_some(), "{}", callback.url);
}

#[tokio::test]
async fn public_clients_exchange_with_pkce_and_no_secret() {
    let app = spawn_app().await;
    let request = AuthRequest::new("spa", SPA_CALLBACK);
    let callback = app.login(&request, "alice").await;
    let response = app
        .exchange_public("spa", &callback.code(), SPA_CALLBACK)
        .await;
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn client_secret_post_is_accepted() {
    let app = spawn_app().await;
    let callback = app.login(&AuthRequest::app1(), "alice").await;
    let response = app
        .api
        .post(app.url("/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &callback.code()),
            ("redirect_uri", APP1_CALLBACK),
            ("client_id", "app1"),
            ("client_secret", APP1_SECRET),
            ("code_verifier", VERIFIER),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn the_login_page_speaks_simplified_chinese_when_asked() {
    let app = spawn_app().await;
    let html = app
        .browser
        .get(app.url(&format!("/authorize?{}", AuthRequest::app1().query())))
        .header("accept-language", "zh-CN,zh;q=0.9,en;q=0.5")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("lang=\"zh-Hans\""));
    assert!(html.contains("登录"));
}

#[tokio::test]
async fn an_access_token_in_use_outlives_its_ttl_and_lapses_when_left_unused() {
    let app = spawn_app_with(|s| s.tokens.access_token_ttl_secs = 2).await;
    let tokens = app.login_app1("alice").await;
    let token = tokens["access_token"].as_str().unwrap().to_owned();
    let userinfo = || app.userinfo(&token);
    for _ in 0..4 {
        assert_eq!(userinfo().await.status(), 200);
        tokio::time::sleep(std::time::Duration::from_millis(1_000)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(2_500)).await;
    assert_eq!(userinfo().await.status(), 401, "unused past its TTL");
}
