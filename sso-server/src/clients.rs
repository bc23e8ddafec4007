//! Registered clients (relying parties): their redirect URIs, secrets and logout endpoints.
//!
//! Clients come from the configuration (`[[clients]]`) and from the database (`sso-server
//! client add`). A configured client wins over a database client with the same id and cannot
//! be changed through the registry: the configuration file is its single source.
//!
//! Client secrets are stored as SHA-256 digests and compared in constant time. A secret is
//! expected to be a long random string (the center never invents a weak one), so a fast hash
//! suffices and keeps `/token` cheap.

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::Context as _;
use jsonwebtoken::Algorithm;
use sqlx::{AnyPool, Row as _};
use subtle::ConstantTimeEq as _;

use crate::config::{ClientSettings, ConfigError};
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
    /// The public client standing for a protected host's sign-in (see `forward_auth`): no
    /// secret, one redirect URI, no logout endpoints.
    pub fn protected_host(id: ClientId, name: String, redirect_uri: RedirectUri) -> Self {
        Self {
            id,
            name,
            secret_hash: None,
            redirect_uris: vec![redirect_uri],
            post_logout_redirect_uris: Vec::new(),
            backchannel_logout_uri: None,
            id_token_alg: Algorithm::RS256,
        }
    }

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

/// Shortest secret a configured client may have.
const MIN_SECRET_LEN: usize = 16;

/// The clients of the configuration, checked: ids valid and distinct, URIs absolute http(s)
/// without fragments, at most one form of secret, secrets hashed.
///
/// # Errors
/// [`ConfigError::Invalid`] naming the client and what is wrong with it.
pub fn from_settings(settings: &[ClientSettings]) -> Result<Vec<Client>, ConfigError> {
    let mut seen = std::collections::HashSet::new();
    settings
        .iter()
        .map(|entry| {
            let client = configured_client(entry)
                .map_err(|why| ConfigError::Invalid(format!("client {:?}: {why}", entry.id)))?;
            if !seen.insert(client.id.clone()) {
                return Err(ConfigError::Invalid(format!(
                    "client {:?} is configured twice",
                    entry.id
                )));
            }
            Ok(client)
        })
        .collect()
}

fn configured_client(entry: &ClientSettings) -> Result<Client, String> {
    let id = ClientId::parse(&entry.id)
        .ok_or("the id must be 1-64 characters of letters, digits, '-', '_' and '.'")?;
    let uri = |text: &String| {
        RedirectUri::parse(text)
            .ok_or_else(|| format!("{text:?} is not an absolute http(s) URI without fragment"))
    };
    let uris = |list: &[String]| list.iter().map(uri).collect::<Result<Vec<_>, _>>();
    let secret_hash = match (&entry.secret, &entry.secret_sha256) {
        (Some(_), Some(_)) => return Err("give the secret or its SHA-256, not both".into()),
        (Some(secret), None) if secret.expose().len() < MIN_SECRET_LEN => {
            return Err(format!(
                "the secret must be at least {MIN_SECRET_LEN} characters"
            ));
        }
        (Some(secret), None) => Some(sha256_hex(secret.expose())),
        (None, Some(hash)) => {
            let hash = hash.to_ascii_lowercase();
            if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err("secret_sha256 must be 64 hex digits".into());
            }
            Some(hash)
        }
        (None, None) => None,
    };
    if entry.redirect_uris.is_empty() {
        return Err("at least one redirect URI is needed".into());
    }
    Ok(Client {
        name: entry.name.clone().unwrap_or_else(|| entry.id.clone()),
        id,
        secret_hash,
        redirect_uris: uris(&entry.redirect_uris)?,
        post_logout_redirect_uris: uris(&entry.post_logout_redirect_uris)?,
        backchannel_logout_uri: entry.backchannel_logout_uri.as_ref().map(uri).transpose()?,
        id_token_alg: entry.id_token_alg.into(),
    })
}

/// A client id as listed, and where the client is registered.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Listed {
    pub id: String,
    /// Registered by the configuration rather than the database.
    pub configured: bool,
}

/// The configured clients and the clients table.
#[derive(Clone, Debug)]
pub struct ClientRegistry {
    pool: AnyPool,
    configured: Arc<BTreeMap<ClientId, Client>>,
}

impl ClientRegistry {
    /// The `configured` clients (see [`from_settings`]) and the clients in `pool`.
    pub fn new(pool: AnyPool, configured: Vec<Client>) -> Self {
        let configured = configured
            .into_iter()
            .map(|client| (client.id.clone(), client))
            .collect();
        Self {
            pool,
            configured: Arc::new(configured),
        }
    }

    /// The clients of the configuration and the clients in `pool`.
    ///
    /// # Errors
    /// When a configured client is malformed (loading the configuration already refuses it).
    pub fn with_configured(
        pool: AnyPool,
        settings: &[ClientSettings],
    ) -> Result<Self, ConfigError> {
        Ok(Self::new(pool, from_settings(settings)?))
    }

    /// Whether client `id` is registered by the configuration.
    pub fn is_configured(&self, id: &ClientId) -> bool {
        self.configured.contains_key(id)
    }

    fn refuse_configured(&self, id: &ClientId) -> anyhow::Result<()> {
        anyhow::ensure!(
            !self.is_configured(id),
            "client {id} is registered by the configuration file; change it there"
        );
        Ok(())
    }

    /// Registers a client in the database, replacing any client with the same id.
    ///
    /// # Errors
    /// When the database fails, or the id is a configured client's.
    pub async fn upsert(&self, client: NewClient) -> anyhow::Result<()> {
        self.refuse_configured(&client.id)?;
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

    /// All clients, sorted by id; a database client shadowed by a configured one is listed
    /// once, as configured.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn list(&self) -> anyhow::Result<Vec<Listed>> {
        let rows = sqlx::query("SELECT client_id FROM clients ORDER BY client_id")
            .fetch_all(&self.pool)
            .await
            .context("cannot list clients")?;
        let mut listed = self
            .configured
            .keys()
            .map(|id| Listed {
                id: id.to_string(),
                configured: true,
            })
            .collect::<Vec<_>>();
        for row in &rows {
            let id: String = row.try_get("client_id")?;
            if !ClientId::parse(&id).is_some_and(|id| self.is_configured(&id)) {
                listed.push(Listed {
                    id,
                    configured: false,
                });
            }
        }
        listed.sort();
        Ok(listed)
    }

    /// Removes a database client; returns whether it existed.
    ///
    /// # Errors
    /// When the database fails, or the id is a configured client's.
    pub async fn remove(&self, id: &ClientId) -> anyhow::Result<bool> {
        self.refuse_configured(id)?;
        let done = sqlx::query("DELETE FROM clients WHERE client_id = $1")
            .bind(id.as_str())
            .execute(&self.pool)
            .await
            .context("cannot remove client")?;
        Ok(done.rows_affected() == 1)
    }

    /// Where logout tokens for client `id` go: a configured client's back-channel URI, else
    /// `stored`, the one its database row holds.
    pub fn backchannel_uri(&self, id: &str, stored: Option<String>) -> Option<String> {
        match ClientId::parse(id).and_then(|id| self.configured.get(&id)) {
            Some(client) => client
                .backchannel_logout_uri
                .as_ref()
                .map(|uri| uri.as_str().to_owned()),
            None => stored,
        }
    }

    /// The client with id `id`: the configured one, else the database's.
    ///
    /// # Errors
    /// When the database fails or a stored client is malformed.
    pub async fn get(&self, id: &ClientId) -> anyhow::Result<Option<Client>> {
        if let Some(client) = self.configured.get(id) {
            return Ok(Some(client.clone()));
        }
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
