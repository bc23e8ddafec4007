//! Registered clients (relying parties): their redirect URIs, secrets and logout endpoints.
//!
//! Client secrets are stored as SHA-256 digests and compared in constant time. A secret is
//! expected to be a long random string (the center never invents a weak one), so a fast hash
//! suffices and keeps `/token` cheap.

use anyhow::Context as _;
use jsonwebtoken::Algorithm;
use sqlx::{AnyPool, Row as _};
use subtle::ConstantTimeEq as _;

use crate::crypto::sha256_hex;
use crate::domain::{ClientId, RedirectUri};

/// A registered client.
#[derive(Clone, Debug)]
pub struct Client {
    pub id: ClientId,
    pub name: String,
    secret_hash: Option<String>,
    pub redirect_uris: Vec<RedirectUri>,
    pub post_logout_redirect_uris: Vec<RedirectUri>,
    pub backchannel_logout_uri: Option<RedirectUri>,
    pub id_token_alg: Algorithm,
}

impl Client {
    /// A public client (no secret) must use PKCE.
    pub fn is_public(&self) -> bool {
        self.secret_hash.is_none()
    }

    /// The registered redirect URI equal to `uri`, byte for byte.
    pub fn redirect_uri(&self, uri: &str) -> Option<&RedirectUri> {
        self.redirect_uris.iter().find(|r| r.as_str() == uri)
    }

    /// The registered post-logout redirect URI equal to `uri`.
    pub fn post_logout_redirect_uri(&self, uri: &str) -> Option<&RedirectUri> {
        self.post_logout_redirect_uris
            .iter()
            .find(|r| r.as_str() == uri)
    }

    /// Whether `secret` is this client's secret (constant time); always false for public
    /// clients.
    pub fn verify_secret(&self, secret: &str) -> bool {
        self.secret_hash.as_ref().is_some_and(|stored| {
            let given = sha256_hex(secret);
            given.as_bytes().ct_eq(stored.as_bytes()).into()
        })
    }
}

fn alg_name(alg: Algorithm) -> anyhow::Result<&'static str> {
    match alg {
        Algorithm::RS256 => Ok("RS256"),
        Algorithm::EdDSA => Ok("EdDSA"),
        other => anyhow::bail!("unsupported signing algorithm {other:?}"),
    }
}

/// A client to register.
#[derive(Clone, Debug)]
pub struct NewClient {
    pub id: ClientId,
    pub name: String,
    /// `None` registers a public client.
    pub secret: Option<String>,
    pub redirect_uris: Vec<RedirectUri>,
    pub post_logout_redirect_uris: Vec<RedirectUri>,
    pub backchannel_logout_uri: Option<RedirectUri>,
    /// How id_tokens and logout tokens for the client are signed: RS256 or EdDSA.
    pub id_token_alg: Algorithm,
}

/// The clients table.
#[derive(Clone, Debug)]
pub struct ClientRegistry {
    pool: AnyPool,
}

impl ClientRegistry {
    /// The clients in `pool`.
    pub fn new(pool: AnyPool) -> Self {
        Self { pool }
    }

    /// Registers a client, replacing any client with the same id.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn upsert(&self, client: NewClient) -> anyhow::Result<()> {
        let uris = |list: &[RedirectUri]| serde_json::to_string(list).expect("URIs serialize");
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM clients WHERE client_id = $1")
            .bind(client.id.as_str())
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO clients (client_id, name, secret_hash, redirect_uris, \
             post_logout_redirect_uris, backchannel_logout_uri, id_token_alg) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(client.id.as_str())
        .bind(&client.name)
        .bind(client.secret.as_deref().map(sha256_hex))
        .bind(uris(&client.redirect_uris))
        .bind(uris(&client.post_logout_redirect_uris))
        .bind(client.backchannel_logout_uri.map(String::from))
        .bind(alg_name(client.id_token_alg)?)
        .execute(&mut *tx)
        .await?;
        tx.commit().await.context("cannot register client")
    }

    /// The ids of all clients, sorted.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn list(&self) -> anyhow::Result<Vec<String>> {
        let rows = sqlx::query("SELECT client_id FROM clients ORDER BY client_id")
            .fetch_all(&self.pool)
            .await
            .context("cannot list clients")?;
        rows.iter()
            .map(|row| row.try_get("client_id").map_err(Into::into))
            .collect()
    }

    /// Removes a client; returns whether it existed.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn remove(&self, id: &ClientId) -> anyhow::Result<bool> {
        let done = sqlx::query("DELETE FROM clients WHERE client_id = $1")
            .bind(id.as_str())
            .execute(&self.pool)
            .await
            .context("cannot remove client")?;
        Ok(done.rows_affected() == 1)
    }

    /// The client with id `id`.
    ///
    /// # Errors
    /// When the database fails or a stored client is malformed.
    pub async fn get(&self, id: &ClientId) -> anyhow::Result<Option<Client>> {
        let row = sqlx::query(
            "SELECT client_id, name, secret_hash, redirect_uris, post_logout_redirect_uris, \
             backchannel_logout_uri, id_token_alg FROM clients WHERE client_id = $1",
        )
        .bind(id.as_str())
        .fetch_optional(&self.pool)
        .await
        .context("cannot load client")?;
        let Some(row) = row else { return Ok(None) };
        let list = |column: &str| -> anyhow::Result<Vec<RedirectUri>> {
            let text: String = row.try_get(column)?;
            serde_json::from_str(&text).with_context(|| format!("client {id}: bad {column}"))
        };
        let backchannel: Option<String> = row.try_get("backchannel_logout_uri")?;
        let alg: String = row.try_get("id_token_alg")?;
        Ok(Some(Client {
            id: id.clone(),
            name: row.try_get("name")?,
            secret_hash: row.try_get("secret_hash")?,
            redirect_uris: list("redirect_uris")?,
            post_logout_redirect_uris: list("post_logout_redirect_uris")?,
            backchannel_logout_uri: backchannel
                .map(|uri| RedirectUri::parse(&uri).context("bad back-channel URI"))
                .transpose()?,
            id_token_alg: match alg.as_str() {
                "RS256" => Algorithm::RS256,
                "EdDSA" => Algorithm::EdDSA,
                other => anyhow::bail!("client {id}: unsupported id_token_alg {other:?}"),
            },
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(secret: Option<&str>) -> Client {
        Client {
            id: ClientId::parse("app1").unwrap(),
            name: "App 1".to_owned(),
            secret_hash: secret.map(sha256_hex),
            redirect_uris: vec![RedirectUri::parse("http://app1.localhost/cb").unwrap()],
            post_logout_redirect_uris: Vec::new(),
            backchannel_logout_uri: None,
            id_token_alg: Algorithm::RS256,
        }
    }

    #[test]
    fn secrets_verify_exactly() {
        let c = client(Some("s3cret-s3cret-s3cret"));
        assert!(c.verify_secret("s3cret-s3cret-s3cret"));
        assert!(!c.verify_secret("s3cret-s3cret-s3creT"));
        assert!(!c.verify_secret(""));
        assert!(!client(None).verify_secret(""));
        assert!(client(None).is_public());
    }

    #[test]
    fn redirect_uris_match_byte_for_byte() {
        let c = client(None);
        assert!(c.redirect_uri("http://app1.localhost/cb").is_some());
        assert!(c.redirect_uri("http://app1.localhost/cb/").is_none());
        assert!(c.redirect_uri("http://APP1.localhost/cb").is_none());
    }
}
