//! Registered clients (relying parties): their redirect URIs, secrets and logout endpoints.
//!
//! Clients come from the configuration (`[[clients]]`) and from the database (`sso-server
//! client add`). A configured client wins over a database client with the same id and cannot
//! be changed through the registry: the configuration file is its single source.
//!
//! What a client may obtain at `/token` beyond the code exchange, and in which form, is its
//! [`TokenPolicy`].
//!
//! Database clients are also kept in memory as last read ([`ClientRegistry::refresh`] re-reads
//! them all periodically), and that copy is served while the database is unreachable, so that
//! signed-in users keep signing in to apps and apps keep exchanging codes.
//!
//! Client secrets are stored as SHA-256 digests and compared in constant time. A secret is
//! expected to be a long random string (the center never invents a weak one), so a fast hash
//! suffices and keeps `/token` cheap.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use anyhow::Context as _;
use jsonwebtoken::Algorithm;
use sqlx::{AnyPool, Row as _};
use subtle::ConstantTimeEq as _;

use crate::config::{AccessTokenFormat, ClientSettings, ConfigError, GrantType};
use crate::crypto::sha256_hex;
use crate::db::Reachability;
use crate::domain::{ClientId, RedirectUri};
use crate::factors::MfaPolicy;

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
    pub tokens: TokenPolicy,
}

/// What a client may obtain at `/token`, in which form, and on what sign-in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenPolicy {
    grant_types: Vec<GrantType>,
    client_credentials_scopes: Vec<String>,
    /// The form of its access tokens.
    pub access_token_format: AccessTokenFormat,
    /// Whether it may be granted `offline_access`.
    pub offline_access: bool,
    /// Whether its codes need a session that gave a second factor; `None`: the center's
    /// default (`login.mfa`).
    pub mfa: Option<MfaPolicy>,
}

impl Default for TokenPolicy {
    /// The code exchange with session-bound refresh tokens, opaque access tokens, no
    /// `offline_access`.
    fn default() -> Self {
        Self {
            grant_types: ClientSettings::default_grant_types(),
            client_credentials_scopes: Vec::new(),
            access_token_format: AccessTokenFormat::Opaque,
            offline_access: false,
            mfa: None,
        }
    }
}

/// Whether `scope` is an RFC 6749 scope-token: printable ASCII without space, `"` or `\`.
pub fn is_scope_token(scope: &str) -> bool {
    !scope.is_empty()
        && scope
            .bytes()
            .all(|b| matches!(b, 0x21 | 0x23..=0x5b | 0x5d..=0x7e))
}

impl TokenPolicy {
    /// A policy allowing `grant_types` (in any order, repeats ignored), `client_credentials`
    /// tokens with `client_credentials_scopes`.
    ///
    /// # Errors
    /// When a scope is not an RFC 6749 scope-token, or scopes are given to a client without
    /// the `client_credentials` grant.
    pub fn new(
        mut grant_types: Vec<GrantType>,
        mut client_credentials_scopes: Vec<String>,
        access_token_format: AccessTokenFormat,
        offline_access: bool,
    ) -> Result<Self, String> {
        grant_types.sort_unstable();
        grant_types.dedup();
        client_credentials_scopes.sort_unstable();
        client_credentials_scopes.dedup();
        if let Some(bad) = client_credentials_scopes
            .iter()
            .find(|scope| !is_scope_token(scope))
        {
            return Err(format!("{bad:?} is not a scope"));
        }
        if !client_credentials_scopes.is_empty()
            && !grant_types.contains(&GrantType::ClientCredentials)
        {
            return Err("client_credentials_scopes need the client_credentials grant type".into());
        }
        Ok(Self {
            grant_types,
            client_credentials_scopes,
            access_token_format,
            offline_access,
            mfa: None,
        })
    }

    /// The policy with second factors as `mfa` says (`None`: the center's default).
    #[must_use]
    pub fn with_mfa(mut self, mfa: Option<MfaPolicy>) -> Self {
        self.mfa = mfa;
        self
    }

    /// Whether the client may use `grant` at `/token`.
    pub fn allows(&self, grant: GrantType) -> bool {
        self.grant_types.contains(&grant)
    }

    /// The grant types allowed, sorted.
    pub fn grant_types(&self) -> &[GrantType] {
        &self.grant_types
    }

    /// The scopes a `client_credentials` token may carry, sorted.
    pub fn client_credentials_scopes(&self) -> &[String] {
        &self.client_credentials_scopes
    }
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
            tokens: TokenPolicy {
                grant_types: vec![GrantType::AuthorizationCode],
                ..TokenPolicy::default()
            },
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

    /// Whether the client stays consistent with the URIs of `change` (see
    /// [`NewClient::check`]).
    ///
    /// # Errors
    /// What would be wrong.
    pub fn check_uris(&self, change: &UriChange) -> Result<(), String> {
        check_grants(
            &self.tokens,
            !self.is_public(),
            !change.redirect_uris.is_empty(),
        )
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
    pub tokens: TokenPolicy,
}

/// New URIs for a registered client.
#[derive(Clone, Debug)]
pub struct UriChange {
    pub redirect_uris: Vec<RedirectUri>,
    pub post_logout_redirect_uris: Vec<RedirectUri>,
    pub backchannel_logout_uri: Option<RedirectUri>,
}

impl NewClient {
    /// Whether the client is consistent: redirect URIs when it signs users in, a secret when
    /// it gets tokens of its own.
    ///
    /// # Errors
    /// What is wrong.
    pub fn check(&self) -> anyhow::Result<()> {
        check_grants(
            &self.tokens,
            self.secret.is_some(),
            !self.redirect_uris.is_empty(),
        )
        .map_err(anyhow::Error::msg)
    }
}

fn check_grants(policy: &TokenPolicy, confidential: bool, redirects: bool) -> Result<(), String> {
    if policy.allows(GrantType::AuthorizationCode) && !redirects {
        return Err("at least one redirect URI is needed".into());
    }
    if policy.allows(GrantType::ClientCredentials) && !confidential {
        return Err("client_credentials is for clients with a secret".into());
    }
    if policy.grant_types.is_empty() {
        return Err("at least one grant type is needed".into());
    }
    Ok(())
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
    let tokens = TokenPolicy::new(
        entry.grant_types.clone(),
        entry.client_credentials_scopes.clone(),
        entry.access_token_format,
        entry.offline_access,
    )?
    .with_mfa(entry.mfa);
    check_grants(
        &tokens,
        secret_hash.is_some(),
        !entry.redirect_uris.is_empty(),
    )?;
    Ok(Client {
        name: entry.name.clone().unwrap_or_else(|| entry.id.clone()),
        id,
        secret_hash,
        redirect_uris: uris(&entry.redirect_uris)?,
        post_logout_redirect_uris: uris(&entry.post_logout_redirect_uris)?,
        backchannel_logout_uri: entry.backchannel_logout_uri.as_ref().map(uri).transpose()?,
        id_token_alg: entry.id_token_alg.into(),
        tokens,
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
    /// The database clients as last read: served for [`FRESH`] after the read, and whenever
    /// the database is unreachable.
    last_read: Arc<RwLock<BTreeMap<ClientId, Read>>>,
    database: Reachability,
}

/// How long a client read from the database is used without reading it again: every request
/// of a client (`/authorize`, `/token`, `/introspect`) looks it up, and a change made at
/// another replica or by the command line reaches this one within this time. Changes made
/// through this registry apply here at once.
pub const FRESH: std::time::Duration = std::time::Duration::from_secs(1);

/// A database client and when it was read.
#[derive(Clone, Debug)]
struct Read {
    client: Client,
    at: std::time::Instant,
}

impl Read {
    fn now(client: Client) -> Self {
        Self {
            client,
            at: std::time::Instant::now(),
        }
    }
}

impl ClientRegistry {
    /// Forgets the copy of client `id`, just changed, so that the next lookup reads it.
    fn forget(&self, id: &ClientId) {
        self.last_read
            .write()
            .expect("client cache lock")
            .remove(id);
    }

    /// The `configured` clients (see [`from_settings`]) and the clients in `pool`.
    pub fn new(pool: AnyPool, configured: Vec<Client>) -> Self {
        let configured = configured
            .into_iter()
            .map(|client| (client.id.clone(), client))
            .collect();
        Self {
            pool,
            configured: Arc::new(configured),
            last_read: Arc::default(),
            database: Reachability::default(),
        }
    }

    /// The same registry, skipping the database while `database` says it is unreachable.
    #[must_use]
    pub fn with_reachability(mut self, database: Reachability) -> Self {
        self.database = database;
        self
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
    /// When the database fails, the id is a configured client's, or the client is inconsistent
    /// (see [`NewClient::check`]).
    pub async fn upsert(&self, client: NewClient) -> anyhow::Result<()> {
        self.refuse_configured(&client.id)?;
        client.check()?;
        let uris = |list: &[RedirectUri]| serde_json::to_string(list).expect("URIs serialize");
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM clients WHERE client_id = $1")
            .bind(client.id.as_str())
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO clients (client_id, name, secret_hash, redirect_uris, \
             post_logout_redirect_uris, backchannel_logout_uri, id_token_alg, grant_types, \
             client_credentials_scopes, access_token_format, offline_access, mfa) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(client.id.as_str())
        .bind(&client.name)
        .bind(client.secret.as_deref().map(sha256_hex))
        .bind(uris(&client.redirect_uris))
        .bind(uris(&client.post_logout_redirect_uris))
        .bind(client.backchannel_logout_uri.map(String::from))
        .bind(alg_name(client.id_token_alg)?)
        .bind(
            client
                .tokens
                .grant_types
                .iter()
                .map(|grant| grant.as_str())
                .collect::<Vec<_>>()
                .join(" "),
        )
        .bind(client.tokens.client_credentials_scopes.join(" "))
        .bind(client.tokens.access_token_format.as_str())
        .bind(i64::from(client.tokens.offline_access))
        .bind(client.tokens.mfa.map(MfaPolicy::as_str))
        .execute(&mut *tx)
        .await?;
        tx.commit().await.context("cannot register client")?;
        self.forget(&client.id);
        Ok(())
    }

    /// Replaces the URIs of database client `id`; `false` when there is no such client.
    ///
    /// # Errors
    /// When the database fails, the id is a configured client's, or the client would be
    /// inconsistent (see [`NewClient::check`]).
    pub async fn change_uris(&self, id: &ClientId, change: &UriChange) -> anyhow::Result<bool> {
        self.refuse_configured(id)?;
        let Some(client) = self.get(id).await? else {
            return Ok(false);
        };
        client.check_uris(change).map_err(anyhow::Error::msg)?;
        let uris = |list: &[RedirectUri]| serde_json::to_string(list).expect("URIs serialize");
        let done = sqlx::query(
            "UPDATE clients SET redirect_uris = $1, post_logout_redirect_uris = $2, \
             backchannel_logout_uri = $3 WHERE client_id = $4",
        )
        .bind(uris(&change.redirect_uris))
        .bind(uris(&change.post_logout_redirect_uris))
        .bind(
            change
                .backchannel_logout_uri
                .as_ref()
                .map(RedirectUri::as_str),
        )
        .bind(id.as_str())
        .execute(&self.pool)
        .await
        .context("cannot change client URIs")?;
        self.forget(id);
        Ok(done.rows_affected() == 1)
    }

    /// Replaces the secret of database client `id` (a public client becomes confidential);
    /// `false` when there is no such client.
    ///
    /// # Errors
    /// When the database fails or the id is a configured client's.
    pub async fn set_secret(&self, id: &ClientId, secret: &str) -> anyhow::Result<bool> {
        self.refuse_configured(id)?;
        let done = sqlx::query("UPDATE clients SET secret_hash = $1 WHERE client_id = $2")
            .bind(sha256_hex(secret))
            .bind(id.as_str())
            .execute(&self.pool)
            .await
            .context("cannot set client secret")?;
        self.forget(id);
        Ok(done.rows_affected() == 1)
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
        self.forget(id);
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

    /// The client with id `id`: the configured one, else the database's. While the database
    /// is unreachable, the database's client as last read.
    ///
    /// # Errors
    /// When the database fails (and, when unreachable, the client was never read), or a stored
    /// client is malformed.
    pub async fn get(&self, id: &ClientId) -> anyhow::Result<Option<Client>> {
        if let Some(client) = self.configured.get(id) {
            return Ok(Some(client.clone()));
        }
        if let Some(read) = self.last_read.read().expect("client cache lock").get(id)
            && read.at.elapsed() < FRESH
        {
            return Ok(Some(read.client.clone()));
        }
        let loaded = self.database.reach(self.load(id)).await;
        let mut last_read = self.last_read.write().expect("client cache lock");
        match loaded {
            Ok(Ok(Some(client))) => {
                last_read.insert(id.clone(), Read::now(client.clone()));
                Ok(Some(client))
            }
            Ok(Ok(None)) => {
                last_read.remove(id);
                Ok(None)
            }
            Ok(Err(error)) => Err(error),
            Err(unreachable) => last_read
                .get(id)
                .map(|read| Some(read.client.clone()))
                .ok_or(unreachable),
        }
    }

    /// Re-reads every database client into the copy served while the database is unreachable;
    /// returns how many there are. On failure the previous copy stays.
    ///
    /// # Errors
    /// When the database fails or a stored client is malformed.
    pub async fn refresh(&self) -> anyhow::Result<usize> {
        let rows = sqlx::query("SELECT client_id FROM clients")
            .fetch_all(&self.pool)
            .await
            .context("cannot list clients")?;
        let mut read = BTreeMap::new();
        for row in &rows {
            let id: String = row.try_get("client_id")?;
            let Some(id) = ClientId::parse(&id) else {
                continue;
            };
            if let Some(client) = self.load(&id).await? {
                read.insert(id, Read::now(client));
            }
        }
        let count = read.len();
        *self.last_read.write().expect("client cache lock") = read;
        Ok(count)
    }

    /// The database's client with id `id`.
    async fn load(&self, id: &ClientId) -> anyhow::Result<Option<Client>> {
        let row = sqlx::query(
            "SELECT client_id, name, secret_hash, redirect_uris, post_logout_redirect_uris, \
             backchannel_logout_uri, id_token_alg, grant_types, client_credentials_scopes, \
             access_token_format, offline_access, mfa FROM clients WHERE client_id = $1",
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
        let words = |column: &str| -> anyhow::Result<Vec<String>> {
            let text: String = row.try_get(column)?;
            Ok(text.split_whitespace().map(str::to_owned).collect())
        };
        let grant_types = words("grant_types")?
            .iter()
            .map(|name| {
                GrantType::parse(name)
                    .with_context(|| format!("client {id}: unknown grant type {name:?}"))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let format: String = row.try_get("access_token_format")?;
        let access_token_format = match format.as_str() {
            "opaque" => AccessTokenFormat::Opaque,
            "jwt" => AccessTokenFormat::Jwt,
            other => anyhow::bail!("client {id}: unknown access_token_format {other:?}"),
        };
        let offline_access = row.try_get::<i64, _>("offline_access")? != 0;
        let mfa: Option<String> = row.try_get("mfa")?;
        let mfa = match mfa.as_deref() {
            None => None,
            Some(name) => Some(
                MfaPolicy::parse(name)
                    .with_context(|| format!("client {id}: unknown mfa policy {name:?}"))?,
            ),
        };
        let tokens = TokenPolicy::new(
            grant_types,
            words("client_credentials_scopes")?,
            access_token_format,
            offline_access,
        )
        .map_err(|why| anyhow::anyhow!("client {id}: {why}"))?
        .with_mfa(mfa);
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
            tokens,
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
            tokens: TokenPolicy::default(),
        }
    }

    #[test]
    fn client_credentials_scopes_are_scope_tokens_and_need_the_grant() {
        let policy = |grants: Vec<GrantType>, scopes: &[&str]| {
            TokenPolicy::new(
                grants,
                scopes.iter().map(|s| (*s).to_owned()).collect(),
                AccessTokenFormat::Opaque,
                false,
            )
        };
        let cc = vec![GrantType::ClientCredentials];
        assert!(policy(cc.clone(), &["reports.read", "a:b"]).is_ok());
        assert!(policy(cc.clone(), &["two words"]).is_err());
        assert!(policy(cc.clone(), &["quote\""]).is_err());
        assert!(policy(cc, &[""]).is_err());
        assert!(policy(vec![GrantType::AuthorizationCode], &["reports.read"]).is_err());
    }

    #[test]
    fn client_credentials_need_a_secret_and_sign_in_needs_a_redirect_uri() {
        let only = |grant| TokenPolicy::new(vec![grant], Vec::new(), AccessTokenFormat::Jwt, false);
        let cc = only(GrantType::ClientCredentials).unwrap();
        assert!(check_grants(&cc, true, false).is_ok());
        assert!(check_grants(&cc, false, false).is_err());
        let code = only(GrantType::AuthorizationCode).unwrap();
        assert!(check_grants(&code, false, true).is_ok());
        assert!(check_grants(&code, true, false).is_err());
        let none = TokenPolicy::new(Vec::new(), Vec::new(), AccessTokenFormat::Opaque, false);
        assert!(check_grants(&none.unwrap(), true, true).is_err());
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
