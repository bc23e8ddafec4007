//! What the tests of both frameworks' glue share.

use session_store::{KeyRing, MemoryStore, SessionKey};

use crate::{LocalSessions, Secret, SsoClient, SsoConfig};

/// A client of app1 keeping cookie sessions sealed with `ring`, their revocation list in
/// `shared`; its center is never asked.
fn cookie_client(ring: KeyRing, shared: &MemoryStore) -> SsoClient {
    // Nobody listens on the discard port: nothing here may need the center.
    let config = SsoConfig::new(
        "http://127.0.0.1:9",
        "app1",
        Secret::new("secret"),
        "http://app1.localhost:8081".parse().unwrap(),
    );
    SsoClient::new(config, LocalSessions::cookie(ring, shared.clone())).unwrap()
}

/// A client whose key ring was rotated, and a cookie session of Alice's sealed before the
/// rotation with the key that is now the previous one.
pub(crate) async fn client_after_a_key_rotation() -> (SsoClient, SessionKey) {
    let (old_key, new_key) = (KeyRing::generate_key(), KeyRing::generate_key());
    let shared = MemoryStore::default();
    let before = cookie_client(KeyRing::new("k1", &old_key).unwrap(), &shared);
    let claims = serde_json::json!({"sub": "alice", "name": "Alice", "sid": "s-1"});
    let (old_value, _) = before
        .insert_session(claims.as_object().unwrap().clone(), "h.p.s", None)
        .await
        .unwrap();
    let ring = KeyRing::new("k2", &new_key)
        .unwrap()
        .with_previous("k1", &old_key)
        .unwrap();
    (cookie_client(ring, &shared), old_value)
}
