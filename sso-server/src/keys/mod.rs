//! Token signing keys: RS256 and EdDSA, generated on first start, kept in the database, rotated
//! by `sso-server keys rotate`.
//!
//! The newest key of each algorithm signs; the two newest of each are published in the JWKS, so
//! tokens signed before a rotation stay verifiable. Replicas re-read the keys periodically
//! ([`crate::config::TokenSettings::key_reload_secs`]), so a rotation reaches all of them
//! without a restart.
//!
//! Private keys are sealed at rest when `tokens.key_encryption_key` is configured
//! ([`sealing`]); keys stored before that are sealed in place on the next start. Without it they
//! are stored as PEM documents, and the database must be protected like the keys themselves.
//!
//! # Limitations
//! There is one key encryption key at a time: changing it means unsealing with the old one,
//! which the center does not do by itself.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, RwLock};

use anyhow::Context as _;
use aws_lc_rs::encoding::AsDer as _;
use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize};
use aws_lc_rs::signature::Ed25519KeyPair;
use base64::Engine as _;
use jsonwebtoken::jwk::{Jwk, JwkSet, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sqlx::{AnyPool, Row as _};

use crate::crypto::random_id;
use crate::db::now_ms;

pub mod sealing;
mod signer;

use sealing::{KeySealer, is_sealed};

/// The algorithms the center signs with.
pub const ALGORITHMS: [Algorithm; 2] = [Algorithm::RS256, Algorithm::EdDSA];

/// How many keys of each algorithm are published.
const PUBLISHED_PER_ALGORITHM: usize = 2;

struct SigningKey {
    kid: String,
    encoding: EncodingKey,
}

struct KeySet {
    signing: BTreeMap<&'static str, SigningKey>,
    published: JwkSet,
    verifying: Vec<(String, Algorithm, DecodingKey)>,
}

/// The current keys; cheap to share, reloaded in place.
pub struct Keys {
    store: KeyStore,
    set: RwLock<Arc<KeySet>>,
}

/// Where the private keys live: the database, sealed when a sealer is given.
#[derive(Clone, Debug)]
pub struct KeyStore {
    pool: AnyPool,
    sealer: Option<Arc<KeySealer>>,
}

impl fmt::Debug for Keys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keys").finish_non_exhaustive()
    }
}

fn alg_name(alg: Algorithm) -> &'static str {
    match alg {
        Algorithm::EdDSA => "EdDSA",
        _ => "RS256",
    }
}

fn pem(der: &[u8]) -> String {
    let body = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|chunk| std::str::from_utf8(chunk).expect("base64 is ASCII"))
        .collect();
    format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        lines.join("\n")
    )
}

fn generate_pem(alg: Algorithm) -> anyhow::Result<String> {
    let der = match alg {
        Algorithm::EdDSA => Ed25519KeyPair::generate()
            .and_then(|pair| pair.to_pkcs8v1())
            .map_err(|_| anyhow::anyhow!("Ed25519 key generation failed"))?
            .as_ref()
            .to_vec(),
        _ => RsaKeyPair::generate(KeySize::Rsa2048)
            .map_err(|_| anyhow::anyhow!("RSA key generation failed"))?
            .as_der()
            .map_err(|_| anyhow::anyhow!("RSA key encoding failed"))?
            .as_ref()
            .to_vec(),
    };
    Ok(pem(&der))
}

fn encoding_key(alg: Algorithm, pem: &str) -> anyhow::Result<EncodingKey> {
    match alg {
        Algorithm::EdDSA => EncodingKey::from_ed_pem(pem.as_bytes()),
        _ => EncodingKey::from_rsa_pem(pem.as_bytes()),
    }
    .context("stored signing key is not readable")
}

impl KeyStore {
    /// The keys in `pool`, sealed with `sealer` when one is given.
    pub fn new(pool: AnyPool, sealer: Option<KeySealer>) -> Self {
        Self {
            pool,
            sealer: sealer.map(Arc::new),
        }
    }

    /// Seals the keys stored before a key encryption key was configured; returns how many.
    async fn seal_stored(&self) -> anyhow::Result<usize> {
        let Some(sealer) = &self.sealer else {
            return Ok(0);
        };
        let rows = sqlx::query("SELECT kid, alg, private_key FROM signing_keys")
            .fetch_all(&self.pool)
            .await
            .context("cannot read signing keys")?;
        let mut sealed = 0;
        for row in &rows {
            let (kid, alg, stored): (String, String, String) = (
                row.try_get("kid")?,
                row.try_get("alg")?,
                row.try_get("private_key")?,
            );
            if is_sealed(&stored) {
                continue;
            }
            // Compare-and-set: a replica starting at the same time seals each key once.
            sealed += sqlx::query(
                "UPDATE signing_keys SET private_key = $1 WHERE kid = $2 AND private_key = $3",
            )
            .bind(sealer.seal(&kid, &alg, &stored)?)
            .bind(&kid)
            .bind(&stored)
            .execute(&self.pool)
            .await
            .context("cannot seal a stored signing key")?
            .rows_affected();
        }
        if sealed > 0 {
            tracing::info!(
                sealed,
                "sealed stored signing keys with the key encryption key"
            );
        }
        Ok(usize::try_from(sealed).unwrap_or(usize::MAX))
    }

    /// The PEM document of key `kid` as stored.
    fn unseal(&self, kid: &str, alg: &str, stored: String) -> anyhow::Result<String> {
        match (&self.sealer, is_sealed(&stored)) {
            (Some(sealer), true) => sealer.open(kid, alg, &stored),
            (None, true) => anyhow::bail!(
                "signing key {kid} is sealed; configure tokens.key_encryption_key to open it"
            ),
            // Not sealed yet: a replica without the key encryption key stored it, or this
            // one has not sealed it yet.
            (_, false) => Ok(stored),
        }
    }

    async fn insert_new_key(&self, alg: Algorithm) -> anyhow::Result<String> {
        let pem = tokio::task::spawn_blocking(move || generate_pem(alg))
            .await
            .context("key generation task failed")??;
        let kid = random_id();
        let stored = match &self.sealer {
            Some(sealer) => sealer.seal(&kid, alg_name(alg), &pem)?,
            None => pem,
        };
        sqlx::query(
            "INSERT INTO signing_keys (kid, alg, private_key, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(&kid)
        .bind(alg_name(alg))
        .bind(stored)
        .bind(now_ms())
        .execute(&self.pool)
        .await
        .context("cannot store signing key")?;
        tracing::info!(
            kid,
            alg = alg_name(alg),
            sealed = self.sealer.is_some(),
            "generated a signing key"
        );
        Ok(kid)
    }

    async fn load_set(&self) -> anyhow::Result<KeySet> {
        let mut set = KeySet {
            signing: BTreeMap::new(),
            published: JwkSet { keys: Vec::new() },
            verifying: Vec::new(),
        };
        for alg in ALGORITHMS {
            let rows = sqlx::query(
                "SELECT kid, private_key FROM signing_keys WHERE alg = $1 \
                 ORDER BY created_at DESC, kid DESC LIMIT $2",
            )
            .bind(alg_name(alg))
            .bind(i64::try_from(PUBLISHED_PER_ALGORITHM).unwrap_or(2))
            .fetch_all(&self.pool)
            .await
            .context("cannot read signing keys")?;
            for (index, row) in rows.iter().enumerate() {
                let kid: String = row.try_get("kid")?;
                let pem = self.unseal(&kid, alg_name(alg), row.try_get("private_key")?)?;
                let encoding = encoding_key(alg, &pem)?;
                let mut jwk =
                    Jwk::from_encoding_key(&encoding, alg).context("cannot derive JWK")?;
                jwk.common.key_id = Some(kid.clone());
                jwk.common.public_key_use = Some(PublicKeyUse::Signature);
                jwk.common.key_algorithm = Some(match alg {
                    Algorithm::EdDSA => KeyAlgorithm::EdDSA,
                    _ => KeyAlgorithm::RS256,
                });
                let decoding = DecodingKey::from_jwk(&jwk).context("cannot derive decoding key")?;
                set.verifying.push((kid.clone(), alg, decoding));
                set.published.keys.push(jwk);
                if index == 0 {
                    set.signing
                        .insert(alg_name(alg), SigningKey { kid, encoding });
                }
            }
        }
        Ok(set)
    }
}

impl Keys {
    /// Loads the keys, sealing the ones stored unsealed (when a key encryption key is
    /// configured) and generating the missing ones first.
    ///
    /// # Errors
    /// When the database fails or a stored key is unreadable.
    pub async fn load_or_generate(store: KeyStore) -> anyhow::Result<Self> {
        signer::install();
        store.seal_stored().await?;
        for alg in ALGORITHMS {
            let count: i64 = sqlx::query("SELECT COUNT(*) AS n FROM signing_keys WHERE alg = $1")
                .bind(alg_name(alg))
                .fetch_one(&store.pool)
                .await
                .context("cannot read signing keys")?
                .try_get("n")?;
            if count == 0 {
                store.insert_new_key(alg).await?;
            }
        }
        let set = store.load_set().await?;
        Ok(Self {
            store,
            set: RwLock::new(Arc::new(set)),
        })
    }

    /// Adds a new key of every algorithm; the previous ones stay published. Returns the new
    /// key ids.
    ///
    /// # Errors
    /// When the database fails, or the stored keys cannot be opened: rotating with a missing
    /// or different key encryption key would add keys the running replicas cannot use.
    pub async fn rotate(store: &KeyStore) -> anyhow::Result<Vec<String>> {
        store.load_set().await?;
        let mut kids = Vec::new();
        for alg in ALGORITHMS {
            kids.push(store.insert_new_key(alg).await?);
        }
        Ok(kids)
    }

    /// Re-reads the keys from the database.
    ///
    /// # Errors
    /// When the database fails or a stored key is unreadable; the old keys stay in use.
    pub async fn reload(&self) -> anyhow::Result<()> {
        let set = self.store.load_set().await?;
        *self.set.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(set);
        Ok(())
    }

    fn current(&self) -> Arc<KeySet> {
        self.set.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Signs `claims` as a JWT with the current key of `alg` (RS256 unless EdDSA).
    ///
    /// # Errors
    /// When signing fails.
    pub fn sign<T: Serialize>(
        &self,
        alg: Algorithm,
        typ: &str,
        claims: &T,
    ) -> anyhow::Result<String> {
        let set = self.current();
        let key = set
            .signing
            .get(alg_name(alg))
            .context("no signing key for the algorithm")?;
        let mut header = Header::new(alg);
        header.kid = Some(key.kid.clone());
        header.typ = Some(typ.to_owned());
        let token =
            jsonwebtoken::encode(&header, claims, &key.encoding).context("signing failed")?;
        crate::metrics::signed(alg_name(alg));
        Ok(token)
    }

    /// The published keys.
    pub fn jwks(&self) -> JwkSet {
        self.current().published.clone()
    }

    /// Verifies a token signed by one of the published keys and decodes its claims, checking
    /// `iss` and, when `validate_exp`, the expiry. The audience is the caller's to check.
    ///
    /// # Errors
    /// When the signature, issuer or expiry is invalid, or the key is unknown.
    pub fn verify<T: DeserializeOwned>(
        &self,
        token: &str,
        issuer: &str,
        validate_exp: bool,
    ) -> anyhow::Result<T> {
        let header = jsonwebtoken::decode_header(token).context("malformed token")?;
        let kid = header.kid.context("token has no kid")?;
        let set = self.current();
        let (_, alg, key) = set
            .verifying
            .iter()
            .find(|(k, alg, _)| *k == kid && *alg == header.alg)
            .context("token signed by an unknown key")?;
        let mut validation = Validation::new(*alg);
        validation.set_issuer(&[issuer]);
        validation.validate_aud = false;
        validation.validate_exp = validate_exp;
        validation.set_required_spec_claims(&["iss"]);
        Ok(jsonwebtoken::decode::<T>(token, key, &validation)
            .context("token is not valid")?
            .claims)
    }
}
