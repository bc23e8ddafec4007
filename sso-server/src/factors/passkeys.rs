//! Passkeys (WebAuthn credentials): registered by signed-in users, used as a second factor or
//! to sign in without a password.
//!
//! Credentials are discoverable (resident) and always verify their user (PIN or biometric), so
//! one passkey alone is two factors. A ceremony (registration or authentication) starts with
//! options sent to the browser and a state kept in the shared store under a one-time key for
//! [`CEREMONY_TTL`]: the answer is checked against it once, on any replica; an expired, unknown
//! or replayed ceremony is refused.
//!
//! The relying party is the issuer's host; the only origin, the issuer. An issuer whose host is
//! not a domain name (an IP address) cannot have passkeys: [`Passkeys::available`] is false.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use session_store::{OneTimeKey, SharedStore};
use sqlx::{AnyPool, Row as _};
use url::Url;
use webauthn_rs::prelude::{
    AuthenticationResult, DiscoverableAuthentication, DiscoverableKey, Passkey,
    PasskeyAuthentication, PasskeyRegistration, PublicKeyCredential, RegisterPublicKeyCredential,
    Uuid, Webauthn, WebauthnBuilder,
};

use crate::crypto::{random_id, sha256_hex};
use crate::db::now_ms;
use crate::factors::Amr;
use crate::users::User;

/// How long a ceremony waits for the browser's answer.
pub const CEREMONY_TTL: Duration = Duration::from_secs(5 * 60);
/// The longest name a user may give a passkey, in characters.
pub const NAME_MAX_CHARS: usize = 64;

/// A passkey as its user sees it.
#[derive(Clone, Debug)]
pub struct Listed {
    pub id: String,
    pub name: String,
    /// Milliseconds since the epoch.
    pub created_at: i64,
    /// Milliseconds since the epoch; `None` when never used.
    pub last_used_at: Option<i64>,
}

/// Why a ceremony's answer was refused: the user's (or an attacker's) doing, never ours.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The ceremony is unknown, expired, was already answered, or belongs to someone else.
    Expired,
    /// The answer is not a WebAuthn credential.
    Malformed,
    /// The answer does not verify (wrong challenge, origin, signature, no user verification,
    /// a credential the ceremony did not allow).
    Rejected,
    /// The credential is registered to no one (passwordless sign-in).
    Unknown,
    /// The credential is already registered.
    Duplicate,
    /// The name is empty or longer than [`NAME_MAX_CHARS`].
    BadName,
    /// Passkeys are not available at this center (see [`Passkeys::available`]).
    Unavailable,
}

impl Refusal {
    /// The refusal's name in logs and the audit trail.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Expired => "expired",
            Self::Malformed => "malformed",
            Self::Rejected => "rejected",
            Self::Unknown => "unknown_credential",
            Self::Duplicate => "duplicate",
            Self::BadName => "bad_name",
            Self::Unavailable => "unavailable",
        }
    }
}

/// A ceremony started: the options for `navigator.credentials`, and the key that names its
/// state (sent back with the answer).
#[derive(Debug, Serialize)]
pub struct Started {
    pub ceremony: String,
    /// `{"publicKey": ...}` as the browser API takes it (binary fields in base64url).
    pub options: serde_json::Value,
}

/// A passkey that verified its user.
#[derive(Debug)]
pub struct Verified {
    pub user_id: String,
    /// Possession (`hwk`, or `swk` for a synced passkey) and user verification (`user`).
    pub methods: [Amr; 2],
}

/// The ceremonies a state can be for.
#[derive(Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Ceremony {
    Registration {
        user_id: String,
        state: PasskeyRegistration,
    },
    SecondFactor {
        user_id: String,
        state: PasskeyAuthentication,
    },
    SignIn {
        state: DiscoverableAuthentication,
    },
}

/// Users' passkeys in the database, ceremonies in the shared store.
#[derive(Clone)]
pub struct Passkeys {
    pool: AnyPool,
    store: Arc<dyn SharedStore>,
    webauthn: Option<Arc<Webauthn>>,
}

impl std::fmt::Debug for Passkeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Passkeys")
            .field("available", &self.available())
            .finish_non_exhaustive()
    }
}

impl Passkeys {
    /// Passkeys for the relying party of `issuer` (its host; its origin), named `rp_name`.
    pub fn new(pool: AnyPool, store: Arc<dyn SharedStore>, issuer: &Url, rp_name: &str) -> Self {
        let built = issuer.domain().map(|rp_id| {
            WebauthnBuilder::new(rp_id, issuer)
                .map(|builder| builder.rp_name(rp_name).timeout(CEREMONY_TTL))
                .and_then(WebauthnBuilder::build)
        });
        let webauthn = match built {
            Some(Ok(webauthn)) => Some(Arc::new(webauthn)),
            Some(Err(error)) => {
                tracing::warn!(%error, %issuer, "passkeys are not available");
                None
            }
            None => {
                tracing::warn!(%issuer, "passkeys need an issuer whose host is a domain name");
                None
            }
        };
        Self {
            pool,
            store,
            webauthn,
        }
    }

    /// Whether passkeys can be used at this center.
    pub fn available(&self) -> bool {
        self.webauthn.is_some()
    }

    fn webauthn(&self) -> Result<&Webauthn, Refusal> {
        self.webauthn.as_deref().ok_or(Refusal::Unavailable)
    }

    /// The user's passkeys, oldest first.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn list(&self, user_id: &str) -> anyhow::Result<Vec<Listed>> {
        let rows = sqlx::query(
            "SELECT id, name, created_at, last_used_at FROM user_passkeys \
             WHERE user_id = $1 ORDER BY created_at, id",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await
        .context("cannot list passkeys")?;
        rows.iter()
            .map(|row| {
                Ok(Listed {
                    id: row.try_get("id")?,
                    name: row.try_get("name")?,
                    created_at: row.try_get("created_at")?,
                    last_used_at: row.try_get("last_used_at")?,
                })
            })
            .collect()
    }

    /// Removes passkey `id` of the user; `false` when the user has no such passkey.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn remove(&self, user_id: &str, id: &str) -> anyhow::Result<bool> {
        let done = sqlx::query("DELETE FROM user_passkeys WHERE user_id = $1 AND id = $2")
            .bind(user_id)
            .bind(id)
            .execute(&self.pool)
            .await
            .context("cannot remove a passkey")?;
        Ok(done.rows_affected() > 0)
    }

    /// Starts registering a passkey for `user`: discoverable, with user verification, not one
    /// of the passkeys they already have.
    ///
    /// # Errors
    /// `Ok(Err(Refusal::Unavailable))` without passkeys; `Err` when the database or the store
    /// fails.
    pub async fn begin_registration(
        &self,
        user: &User,
    ) -> anyhow::Result<Result<Started, Refusal>> {
        let webauthn = match self.webauthn() {
            Ok(webauthn) => webauthn,
            Err(refusal) => return Ok(Err(refusal)),
        };
        let existing = self
            .credentials(Filter::User(&user.id))
            .await?
            .into_iter()
            .map(|(_, _, passkey)| passkey.cred_id().clone())
            .collect();
        let display_name = if user.name.is_empty() {
            &user.username
        } else {
            &user.name
        };
        let (challenge, state) = webauthn
            .start_passkey_registration(
                user_handle(&user.id),
                &user.username,
                display_name,
                Some(existing),
            )
            .context("cannot start a passkey registration")?;
        let mut options = serde_json::to_value(challenge)?;
        // webauthn-rs leaves the resident key optional; ours are asked to be discoverable so
        // that they also sign in without a username.
        if let Some(selection) = options
            .pointer_mut("/publicKey/authenticatorSelection")
            .and_then(serde_json::Value::as_object_mut)
        {
            selection.insert("residentKey".to_owned(), "required".into());
            selection.insert("requireResidentKey".to_owned(), true.into());
        }
        let ceremony = Ceremony::Registration {
            user_id: user.id.clone(),
            state,
        };
        Ok(Ok(Started {
            ceremony: self.keep(&ceremony).await?,
            options,
        }))
    }

    /// Finishes registration `ceremony` of `user` with the browser's `answer` (JSON), storing
    /// the passkey as `name`: its id, and the methods the registration proved (the new
    /// passkey's possession and its user's verification).
    ///
    /// # Errors
    /// `Ok(Err(_))` for a refused answer; `Err` when the database or the store fails.
    pub async fn finish_registration(
        &self,
        user: &User,
        ceremony: &str,
        name: &str,
        answer: &str,
    ) -> anyhow::Result<Result<(String, [Amr; 2]), Refusal>> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > NAME_MAX_CHARS {
            return Ok(Err(Refusal::BadName));
        }
        let webauthn = match self.webauthn() {
            Ok(webauthn) => webauthn,
            Err(refusal) => return Ok(Err(refusal)),
        };
        let state = match self.take(ceremony).await? {
            Some(Ceremony::Registration { user_id, state }) if user_id == user.id => state,
            _ => return Ok(Err(Refusal::Expired)),
        };
        let Ok(answer) = serde_json::from_str::<RegisterPublicKeyCredential>(answer) else {
            return Ok(Err(Refusal::Malformed));
        };
        let passkey = match webauthn.finish_passkey_registration(&answer, &state) {
            Ok(passkey) => passkey,
            Err(error) => {
                tracing::info!(%error, "passkey registration refused");
                return Ok(Err(Refusal::Rejected));
            }
        };
        let credential_id = URL_SAFE_NO_PAD.encode(passkey.cred_id());
        if self.credential(&credential_id).await?.is_some() {
            return Ok(Err(Refusal::Duplicate));
        }
        let id = random_id();
        let now = now_ms();
        sqlx::query(
            "INSERT INTO user_passkeys \
             (id, user_id, name, credential_id, credential, created_at, last_used_at) \
             VALUES ($1, $2, $3, $4, $5, $6, NULL)",
        )
        .bind(&id)
        .bind(&user.id)
        .bind(name)
        .bind(&credential_id)
        .bind(serde_json::to_string(&passkey)?)
        .bind(now)
        .execute(&self.pool)
        .await
        .context("cannot store a passkey")?;
        Ok(Ok((id, [possession(synced(&passkey)), Amr::User])))
    }

    /// Starts an authentication by one of `user_id`'s passkeys (a second factor).
    ///
    /// # Errors
    /// `Ok(Err(Refusal::Unknown))` when the user has no passkey; `Err` when the database or the
    /// store fails.
    pub async fn begin_second_factor(
        &self,
        user_id: &str,
    ) -> anyhow::Result<Result<Started, Refusal>> {
        let webauthn = match self.webauthn() {
            Ok(webauthn) => webauthn,
            Err(refusal) => return Ok(Err(refusal)),
        };
        let passkeys: Vec<Passkey> = self
            .credentials(Filter::User(user_id))
            .await?
            .into_iter()
            .map(|(_, _, passkey)| passkey)
            .collect();
        if passkeys.is_empty() {
            return Ok(Err(Refusal::Unknown));
        }
        let (challenge, state) = webauthn
            .start_passkey_authentication(&passkeys)
            .context("cannot start a passkey authentication")?;
        let ceremony = Ceremony::SecondFactor {
            user_id: user_id.to_owned(),
            state,
        };
        Ok(Ok(Started {
            ceremony: self.keep(&ceremony).await?,
            options: serde_json::to_value(challenge)?,
        }))
    }

    /// Finishes second-factor `ceremony` of `user_id` with the browser's `answer`.
    ///
    /// # Errors
    /// `Ok(Err(_))` for a refused answer; `Err` when the database or the store fails.
    pub async fn finish_second_factor(
        &self,
        user_id: &str,
        ceremony: &str,
        answer: &str,
    ) -> anyhow::Result<Result<Verified, Refusal>> {
        let webauthn = match self.webauthn() {
            Ok(webauthn) => webauthn,
            Err(refusal) => return Ok(Err(refusal)),
        };
        let state = match self.take(ceremony).await? {
            Some(Ceremony::SecondFactor {
                user_id: owner,
                state,
            }) if owner == user_id => state,
            _ => return Ok(Err(Refusal::Expired)),
        };
        let Ok(answer) = serde_json::from_str::<PublicKeyCredential>(answer) else {
            return Ok(Err(Refusal::Malformed));
        };
        let result = match webauthn.finish_passkey_authentication(&answer, &state) {
            Ok(result) => result,
            Err(error) => {
                tracing::info!(%error, "passkey assertion refused");
                return Ok(Err(Refusal::Rejected));
            }
        };
        self.used(user_id, &result).await
    }

    /// Starts a sign-in by any discoverable passkey (no username).
    ///
    /// # Errors
    /// When the store fails.
    pub async fn begin_sign_in(&self) -> anyhow::Result<Result<Started, Refusal>> {
        let webauthn = match self.webauthn() {
            Ok(webauthn) => webauthn,
            Err(refusal) => return Ok(Err(refusal)),
        };
        let (mut challenge, state) = webauthn
            .start_discoverable_authentication()
            .context("cannot start a passkey sign-in")?;
        // Asked from a button, not from the username field's autofill.
        challenge.mediation = None;
        Ok(Ok(Started {
            ceremony: self.keep(&Ceremony::SignIn { state }).await?,
            options: serde_json::to_value(challenge)?,
        }))
    }

    /// Finishes sign-in `ceremony` with the browser's `answer`: the passkey's user, who still
    /// has to be found enabled.
    ///
    /// # Errors
    /// `Ok(Err(_))` for a refused answer; `Err` when the database or the store fails.
    pub async fn finish_sign_in(
        &self,
        ceremony: &str,
        answer: &str,
    ) -> anyhow::Result<Result<Verified, Refusal>> {
        let webauthn = match self.webauthn() {
            Ok(webauthn) => webauthn,
            Err(refusal) => return Ok(Err(refusal)),
        };
        let state = match self.take(ceremony).await? {
            Some(Ceremony::SignIn { state }) => state,
            _ => return Ok(Err(Refusal::Expired)),
        };
        let Ok(answer) = serde_json::from_str::<PublicKeyCredential>(answer) else {
            return Ok(Err(Refusal::Malformed));
        };
        let Ok((handle, credential_id)) = webauthn.identify_discoverable_authentication(&answer)
        else {
            return Ok(Err(Refusal::Malformed));
        };
        let credential_id = URL_SAFE_NO_PAD.encode(credential_id);
        let Some((user_id, passkey)) = self.credential(&credential_id).await? else {
            return Ok(Err(Refusal::Unknown));
        };
        if handle != user_handle(&user_id) {
            return Ok(Err(Refusal::Rejected));
        }
        let keys = [DiscoverableKey::from(&passkey)];
        let result = match webauthn.finish_discoverable_authentication(&answer, state, &keys) {
            Ok(result) => result,
            Err(error) => {
                tracing::info!(%error, "passkey sign-in refused");
                return Ok(Err(Refusal::Rejected));
            }
        };
        self.used(&user_id, &result).await
    }

    /// Records a verified use of a passkey of `user_id`: its counter and backup state, and when.
    async fn used(
        &self,
        user_id: &str,
        result: &AuthenticationResult,
    ) -> anyhow::Result<Result<Verified, Refusal>> {
        if !result.user_verified() {
            return Ok(Err(Refusal::Rejected));
        }
        let credential_id = URL_SAFE_NO_PAD.encode(result.cred_id());
        let Some((owner, mut passkey)) = self.credential(&credential_id).await? else {
            // Removed while the ceremony ran.
            return Ok(Err(Refusal::Unknown));
        };
        if owner != user_id {
            return Ok(Err(Refusal::Rejected));
        }
        passkey.update_credential(result);
        sqlx::query(
            "UPDATE user_passkeys SET credential = $1, last_used_at = $2 \
             WHERE credential_id = $3",
        )
        .bind(serde_json::to_string(&passkey)?)
        .bind(now_ms())
        .bind(&credential_id)
        .execute(&self.pool)
        .await
        .context("cannot update a passkey")?;
        Ok(Ok(Verified {
            user_id: owner,
            methods: [possession(result.backup_eligible()), Amr::User],
        }))
    }

    /// The passkeys matching `filter`: (user id, credential id, passkey).
    async fn credentials(
        &self,
        filter: Filter<'_>,
    ) -> anyhow::Result<Vec<(String, String, Passkey)>> {
        let (sql, value) = match filter {
            Filter::User(user_id) => (
                "SELECT user_id, credential_id, credential FROM user_passkeys WHERE user_id = $1",
                user_id,
            ),
            Filter::Credential(credential_id) => (
                "SELECT user_id, credential_id, credential FROM user_passkeys \
                 WHERE credential_id = $1",
                credential_id,
            ),
        };
        let rows = sqlx::query(sql)
            .bind(value)
            .fetch_all(&self.pool)
            .await
            .context("cannot read passkeys")?;
        rows.iter()
            .map(|row| {
                let credential: String = row.try_get("credential")?;
                Ok((
                    row.try_get("user_id")?,
                    row.try_get("credential_id")?,
                    serde_json::from_str(&credential).context("stored passkey is not readable")?,
                ))
            })
            .collect()
    }

    /// The passkey whose credential id (base64url) is `credential_id`, and its user.
    async fn credential(&self, credential_id: &str) -> anyhow::Result<Option<(String, Passkey)>> {
        Ok(self
            .credentials(Filter::Credential(credential_id))
            .await?
            .into_iter()
            .next()
            .map(|(user_id, _, passkey)| (user_id, passkey)))
    }

    /// Keeps a ceremony's state until it is answered or expires; returns its key.
    async fn keep(&self, ceremony: &Ceremony) -> anyhow::Result<String> {
        let bytes = serde_json::to_vec(ceremony)?;
        let key = self.store.put_once(bytes, CEREMONY_TTL).await?;
        Ok(key.as_str().to_owned())
    }

    /// The state of ceremony `key`, taken: no other answer can use it.
    async fn take(&self, key: &str) -> anyhow::Result<Option<Ceremony>> {
        let Some(key) = OneTimeKey::parse(key) else {
            return Ok(None);
        };
        let Some(bytes) = self.store.take(&key).await? else {
            return Ok(None);
        };
        Ok(serde_json::from_slice(&bytes).ok())
    }
}

/// Which passkeys to read.
#[derive(Clone, Copy)]
enum Filter<'a> {
    User(&'a str),
    Credential(&'a str),
}

/// The `amr` of a passkey's possession: a software key when it can be backed up (synced
/// between devices), a hardware key otherwise.
fn possession(backup_eligible: bool) -> Amr {
    if backup_eligible {
        Amr::SoftwareKey
    } else {
        Amr::HardwareKey
    }
}

/// Whether a new passkey can be backed up, as its stored form records it (webauthn-rs keeps
/// the flag but exposes it only once the passkey is used).
fn synced(passkey: &Passkey) -> bool {
    serde_json::to_value(passkey)
        .ok()
        .and_then(|value| value.pointer("/cred/backup_eligible")?.as_bool())
        .unwrap_or(false)
}

/// How many passkeys the user has.
///
/// # Errors
/// When the database fails.
pub async fn count(pool: &AnyPool, user_id: &str) -> anyhow::Result<u64> {
    let row = sqlx::query("SELECT COUNT(*) AS passkey_count FROM user_passkeys WHERE user_id = $1")
        .bind(user_id)
        .fetch_one(pool)
        .await
        .context("cannot count passkeys")?;
    Ok(u64::try_from(row.try_get::<i64, _>("passkey_count")?).unwrap_or(0))
}

/// The WebAuthn user handle of a user: derived from their id, so that it names them without
/// telling it (it is stored in the authenticator).
pub fn user_handle(user_id: &str) -> Uuid {
    let digest = sha256_hex(&format!("passkey-user-handle:{user_id}"));
    Uuid::parse_str(&digest[..32]).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_handles_are_stable_and_distinct() {
        assert_eq!(user_handle("a"), user_handle("a"));
        assert_ne!(user_handle("a"), user_handle("b"));
        assert_ne!(user_handle("a"), Uuid::default());
    }
}
