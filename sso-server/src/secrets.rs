//! Secrets the center makes for itself: random keys created on first start and kept in the
//! database, so that every replica uses the same ones without any configuration.
//!
//! Each secret has a name (`csrf`, …) and is 256 bits from the operating system's CSPRNG. Of
//! several replicas starting at once, the first insert wins and every replica reads the winner.
//! When `tokens.key_encryption_key` is set new secrets are sealed with it, as signing keys are;
//! a secret stored in clear before the key was configured is still read.
//!
//! # Limitations
//! A secret is never rotated; deleting its row makes the next start create a new one (pending
//! forms then ask to be submitted again).

use anyhow::Context as _;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sqlx::{AnyPool, Row as _};

use crate::keys::sealing::{KeySealer, is_sealed};

/// What a sealed secret is bound to, beside its name.
const SEALED_AS: &str = "server-secret";

/// A 256-bit secret of the center.
#[derive(Clone)]
pub struct ServerSecret([u8; 32]);

impl std::fmt::Debug for ServerSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServerSecret(..)")
    }
}

impl ServerSecret {
    /// A secret of the given bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The secret's bytes.
    pub fn expose(&self) -> &[u8; 32] {
        &self.0
    }

    /// The secret `name`, created (and sealed by `sealer`, if any) when the database has none.
    ///
    /// # Errors
    /// When the database fails, or the stored secret is malformed or sealed under another key.
    pub async fn load_or_create(
        pool: &AnyPool,
        name: &str,
        sealer: Option<&KeySealer>,
    ) -> anyhow::Result<Self> {
        let fresh: [u8; 32] = rand::random();
        let encoded = STANDARD.encode(fresh);
        let stored = match sealer {
            Some(sealer) => sealer.seal(name, SEALED_AS, &encoded)?,
            None => encoded,
        };
        sqlx::query(
            "INSERT INTO server_secrets (name, value, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(&stored)
        .bind(crate::db::now_ms())
        .execute(pool)
        .await
        .with_context(|| format!("cannot store server secret {name}"))?;
        let row = sqlx::query("SELECT value FROM server_secrets WHERE name = $1")
            .bind(name)
            .fetch_one(pool)
            .await
            .with_context(|| format!("cannot read server secret {name}"))?;
        let value: String = row.try_get("value")?;
        Self::decode(name, &value, sealer)
    }

    fn decode(name: &str, stored: &str, sealer: Option<&KeySealer>) -> anyhow::Result<Self> {
        let encoded = if is_sealed(stored) {
            let sealer = sealer.with_context(|| {
                format!("server secret {name} is sealed but tokens.key_encryption_key is not set")
            })?;
            sealer.open(name, SEALED_AS, stored)?
        } else {
            stored.to_owned()
        };
        let bytes = STANDARD
            .decode(encoded.trim())
            .ok()
            .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
            .with_context(|| format!("server secret {name} is malformed"))?;
        Ok(Self(bytes))
    }
}

#[cfg(test)]
mod tests {
    use sso_common::Secret;

    use super::*;

    async fn pool() -> (tempfile::TempDir, AnyPool) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/s.db?mode=rwc", dir.path().display());
        let pool = crate::db::connect_url(&url, 2).await.unwrap();
        (dir, pool)
    }

    #[tokio::test]
    async fn a_secret_is_created_once_and_read_back_by_every_later_start() {
        let (_dir, pool) = pool().await;
        let first = ServerSecret::load_or_create(&pool, "csrf", None)
            .await
            .unwrap();
        let again = ServerSecret::load_or_create(&pool, "csrf", None)
            .await
            .unwrap();
        let other = ServerSecret::load_or_create(&pool, "device", None)
            .await
            .unwrap();
        assert_eq!(first.expose(), again.expose());
        assert_ne!(first.expose(), other.expose());
    }

    #[tokio::test]
    async fn a_sealed_secret_needs_its_key_and_a_clear_one_survives_sealing_being_turned_on() {
        let (_dir, pool) = pool().await;
        let sealer = KeySealer::new(&Secret::new("0123456789abcdef0123456789abcdef"));
        let clear = ServerSecret::load_or_create(&pool, "clear", None)
            .await
            .unwrap();
        let read = ServerSecret::load_or_create(&pool, "clear", Some(&sealer))
            .await
            .unwrap();
        assert_eq!(clear.expose(), read.expose());

        let sealed = ServerSecret::load_or_create(&pool, "sealed", Some(&sealer))
            .await
            .unwrap();
        let row = sqlx::query("SELECT value FROM server_secrets WHERE name = 'sealed'")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert!(is_sealed(&row.get::<String, _>("value")));
        assert!(
            ServerSecret::load_or_create(&pool, "sealed", None)
                .await
                .is_err()
        );
        let reopened = ServerSecret::load_or_create(&pool, "sealed", Some(&sealer))
            .await
            .unwrap();
        assert_eq!(sealed.expose(), reopened.expose());
    }
}
