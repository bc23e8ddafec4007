//! An independent OpenID Connect client library (the `openidconnect` crate) completes
//! discovery, the code flow with PKCE and id_token validation against the center.

use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, PkceCodeChallenge,
    RedirectUrl, Scope, TokenResponse as _,
};

use crate::helpers::*;
use crate::receiver::reserve_port;

/// The library's HTTP requests, sent with reqwest.
async fn send(
    client: reqwest::Client,
    request: openidconnect::HttpRequest,
) -> Result<openidconnect::HttpResponse, reqwest::Error> {
    let (parts, body) = request.into_parts();
    let response = client
        .request(parts.method, parts.uri.to_string())
        .headers(parts.headers)
        .body(body)
        .send()
        .await?;
    let mut builder = openidconnect::http::Response::builder().status(response.status());
    for (name, value) in response.headers() {
        builder = builder.header(name, value);
    }
    Ok(builder
        .body(response.bytes().await?.to_vec())
        .expect("a valid response"))
}

#[tokio::test]
async fn the_openidconnect_crate_completes_discovery_code_flow_and_validation() {
    let port = reserve_port();
    let issuer = format!("http://127.0.0.1:{port}");
    let app = spawn_app_with(|s| {
        s.http.port = port;
        s.issuer = url::Url::parse(&issuer).unwrap();
    })
    .await;
    let transport = app.api.clone();
    let http = move |request| send(transport.clone(), request);

    let metadata = CoreProviderMetadata::discover_async(IssuerUrl::new(issuer).unwrap(), &http)
        .await
        .expect("discovery");
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new("app1".to_owned()),
        Some(ClientSecret::new(APP1_SECRET.to_owned())),
    )
    .set_redirect_uri(RedirectUrl::new(APP1_CALLBACK.to_owned()).unwrap());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (authorize_url, csrf, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("profile".to_owned()))
        .set_pkce_challenge(challenge)
        .url();

    let page = app.browser.get(authorize_url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    let callback = app
        .follow(app.submit_login(&html, "alice", PASSWORD).await)
        .await;
    assert_eq!(
        callback.param("state").as_deref(),
        Some(csrf.secret().as_str())
    );

    let tokens = client
        .exchange_code(AuthorizationCode::new(callback.code()))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .expect("code exchange");
    let id_token = tokens.id_token().expect("an id_token");
    let claims = id_token
        .claims(&client.id_token_verifier(), &nonce)
        .expect("a valid id_token");
    let name = claims.name().and_then(|n| n.get(None)).map(|n| n.as_str());
    assert_eq!(name, Some("Alice Liddell"));
    assert_eq!(
        claims.email().map(|e| e.as_str()),
        Some("alice@example.test")
    );
}

#[tokio::test]
async fn the_openidconnect_crate_reads_amr_and_acr_after_a_step_up_asked_by_acr_values() {
    use openidconnect::AuthenticationContextClass;

    let port = reserve_port();
    let issuer = format!("http://127.0.0.1:{port}");
    let app = spawn_app_with(|s| {
        s.http.port = port;
        s.issuer = url::Url::parse(&issuer).unwrap();
    })
    .await;
    app.login_app1("alice").await;
    let (secret, _) = crate::factors::enroll(&app).await;
    let browser = Center::attach(app.address.clone());
    browser.login(&AuthRequest::app2(), "alice").await;

    let transport = app.api.clone();
    let http = move |request| send(transport.clone(), request);
    let metadata = CoreProviderMetadata::discover_async(IssuerUrl::new(issuer).unwrap(), &http)
        .await
        .expect("discovery");
    let mfa = AuthenticationContextClass::new("urn:sso:acr:mfa".to_owned());
    assert!(metadata.acr_values_supported().unwrap().contains(&mfa));
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new("app1".to_owned()),
        Some(ClientSecret::new(APP1_SECRET.to_owned())),
    )
    .set_redirect_uri(RedirectUrl::new(APP1_CALLBACK.to_owned()).unwrap());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (authorize_url, _, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_auth_context_value(mfa.clone())
        .set_pkce_challenge(challenge)
        .url();

    let response = browser.browser.get(authorize_url).send().await.unwrap();
    let step = location(&response);
    assert!(step.starts_with("/login/factor?"), "{step}");
    let page = browser
        .browser
        .get(browser.url(&step))
        .send()
        .await
        .unwrap();
    let page = page.text().await.unwrap();
    let code = crate::factors::totp_code(&secret, 30);
    let callback = browser
        .follow(crate::factors::give_code(&browser, &page, &code).await)
        .await;

    let tokens = client
        .exchange_code(AuthorizationCode::new(callback.code()))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .expect("code exchange");
    let claims = tokens
        .id_token()
        .expect("an id_token")
        .claims(&client.id_token_verifier(), &nonce)
        .expect("a valid id_token");
    assert_eq!(claims.auth_context_ref(), Some(&mfa));
    let methods: Vec<&str> = claims
        .auth_method_refs()
        .expect("amr")
        .iter()
        .map(|m| m.as_str())
        .collect();
    assert_eq!(methods, ["pwd", "otp", "mfa"]);
    assert!(claims.auth_time().is_some());
}
