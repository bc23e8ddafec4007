//! Password hashing with argon2id, always on the blocking pool.
//!
//! New hashes use the configured cost (OWASP: m=19456 KiB, t=2, p=1 by default); verification
//! uses the cost recorded in each hash, so raising the cost does not lock anyone out.
//!
//! At most one hash per CPU core runs at a time; further logins queue. More would not finish
//! sooner (argon2 is bound by memory bandwidth, and parallel hashes evict each other from the
//! cache) and would take the cores the request handlers need, so pages like a silent-SSO
//! `/authorize` stay fast while logins saturate the hashing capacity.

use std::fmt;
use std::sync::Arc;

use anyhow::Context as _;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::Semaphore;

use crate::config::PasswordSettings;

/// A plaintext password on its way to the hasher; never shown.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    /// Wraps a plaintext password.
    pub fn new(text: impl Into<String>) -> Self {
        Self(text.into())
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

/// Hashes passwords and verifies them against stored hashes.
#[derive(Clone, Debug)]
pub struct PasswordHasher {
    params: Params,
    /// One permit per core: the hashes allowed to run at once.
    slots: Arc<Semaphore>,
    /// A hash of a random password, verified for unknown users so that the response time does
    /// not tell whether a username exists.
    dummy_hash: String,
}

impl PasswordHasher {
    /// A hasher with the configured cost; computes its dummy hash on the blocking pool.
    ///
    /// # Errors
    /// When the parameters are out of argon2's bounds.
    pub async fn new(settings: PasswordSettings) -> anyhow::Result<Self> {
        let params = Params::new(
            settings.memory_kib,
            settings.iterations,
            settings.parallelism,
            None,
        )
        .map_err(|e| anyhow::anyhow!("invalid argon2 parameters: {e}"))?;
        let random: [u8; 16] = rand::random();
        let dummy = Password::new(base64_text(&random));
        let for_dummy = params.clone();
        let dummy_hash = tokio::task::spawn_blocking(move || hash_blocking(&for_dummy, &dummy))
            .await
            .context("hashing task failed")??;
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        Ok(Self {
            params,
            slots: Arc::new(Semaphore::new(cores)),
            dummy_hash,
        })
    }

    /// The PHC string of a new argon2id hash of `password`.
    ///
    /// # Errors
    /// When hashing fails (it does not for valid parameters).
    pub async fn hash(&self, password: Password) -> anyhow::Result<String> {
        let params = self.params.clone();
        let _slot = self.slots.acquire().await.context("hasher closed")?;
        tokio::task::spawn_blocking(move || hash_blocking(&params, &password))
            .await
            .context("hashing task failed")?
    }

    /// Whether `password` matches `stored`; with `stored` absent (unknown user) the dummy hash
    /// is verified instead and the answer is `false`.
    ///
    /// # Errors
    /// When the blocking task fails.
    pub async fn verify(&self, stored: Option<String>, password: Password) -> anyhow::Result<bool> {
        let known = stored.is_some();
        let hash = stored.unwrap_or_else(|| self.dummy_hash.clone());
        let _slot = self.slots.acquire().await.context("hasher closed")?;
        let matches = tokio::task::spawn_blocking(move || verify_blocking(&hash, &password))
            .await
            .context("verification task failed")?;
        Ok(known && matches)
    }
}

fn argon2(params: Params) -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

fn hash_blocking(params: &Params, password: &Password) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    argon2(params.clone())
        .hash_password(password.0.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| anyhow::anyhow!("argon2 hashing failed: {e}"))
}

fn verify_blocking(stored: &str, password: &Password) -> bool {
    let Ok(parsed) = PasswordHash::new(stored) else {
        tracing::error!("a stored password hash is not a valid PHC string");
        return false;
    };
    argon2(Params::default())
        .verify_password(password.0.as_bytes(), &parsed)
        .is_ok()
}

fn base64_text(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cheap() -> PasswordSettings {
        PasswordSettings {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        }
    }

    #[tokio::test]
    async fn default_parameters_are_owasp_argon2id() {
        let hasher = PasswordHasher::new(PasswordSettings::default())
            .await
            .unwrap();
        let hash = hasher.hash(Password::new("correct horse")).await.unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
    }

    #[tokio::test]
    async fn verifies_the_right_password_only() {
        let hasher = PasswordHasher::new(cheap()).await.unwrap();
        let hash = hasher.hash(Password::new("s3cret")).await.unwrap();
        assert!(
            hasher
                .verify(Some(hash.clone()), Password::new("s3cret"))
                .await
                .unwrap()
        );
        assert!(
            !hasher
                .verify(Some(hash), Password::new("S3cret"))
                .await
                .unwrap()
        );
    }

    #[tokio::test]
    async fn unknown_users_never_verify() {
        let hasher = PasswordHasher::new(cheap()).await.unwrap();
        assert!(!hasher.verify(None, Password::new("")).await.unwrap());
        assert!(
            !hasher
                .verify(Some("not a hash".to_owned()), Password::new("x"))
                .await
                .unwrap()
        );
    }

    #[test]
    fn passwords_are_not_shown() {
        assert_eq!(format!("{:?}", Password::new("hunter2")), "Password(***)");
    }
}
