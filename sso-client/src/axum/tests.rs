//! The layer's behaviour that needs no center.

use axum::Router;
use axum::routing::get;

use super::SsoLayer;
use crate::web::test_support::client_after_a_key_rotation;
use crate::{Principal, SsoClient};

async fn me(user: Principal) -> String {
    format!("hello {}", user.display_name())
}

/// Serves `/me` behind the layer for `client`; the app's base URL.
async fn serve(client: SsoClient) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let app = Router::new()
        .route("/me", get(me))
        .layer(SsoLayer::new(client));
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

/// A cookie sealed with the previous key is resealed with the current one on its first
/// request (which asks the revocation list) and on every later request still presenting it
/// (answered at once from the store's memory): the same new value each time; the new value
/// itself is not sent again.
#[tokio::test]
async fn a_cookie_sealed_with_the_previous_key_is_renewed_on_every_request_presenting_it() {
    let (client, old_value) = client_after_a_key_rotation().await;
    let url = serve(client).await;
    let http = reqwest::Client::new();
    let get = |value: String| {
        http.get(format!("{url}/me"))
            .header("Cookie", format!("app_session={value}"))
            .send()
    };

    let mut renewed = Vec::new();
    for _ in 0..3 {
        let response = get(old_value.as_str().to_owned()).await.unwrap();
        assert_eq!(response.status(), 200);
        let set = response
            .headers()
            .get("set-cookie")
            .expect("the renewed cookie")
            .to_str()
            .unwrap()
            .to_owned();
        assert_eq!(response.text().await.unwrap(), "hello Alice");
        let value = set
            .strip_prefix("app_session=")
            .and_then(|rest| rest.split(';').next())
            .expect("an app_session cookie");
        renewed.push(value.to_owned());
    }
    assert!(
        renewed[0].starts_with("k2."),
        "resealed with the current key"
    );
    assert!(renewed.iter().all(|value| *value == renewed[0]));

    let response = get(renewed[0].clone()).await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers().get("set-cookie").is_none(),
        "the current value is not sent again"
    );
    assert_eq!(response.text().await.unwrap(), "hello Alice");
}
