//! Second factors: what a user can prove besides the password, and how sessions record it.
//!
//! A session keeps the RFC 8176 `amr` values of the steps its user took ([`Amr`]); its
//! authentication context class (`acr`, see [`acr`]) follows from them: one factor, or
//! more than one.
//!
//! # When a second factor is asked
//! A password starts a global session on its own. A client (or protected host) whose policy
//! is [`MfaPolicy::Required`] (or the center's default, `login.mfa`), or an authorization
//! request with `acr_values` naming [`ACR_MFA`], gets a code only for a session that gave a
//! second factor: the user is asked for it then (a step-up, `/login/factor`), and the global
//! session is upgraded for every app. A user without a factor who reaches a client that
//! requires one enrolls first. The factors: [`totp`] codes, [`recovery`] codes, and passkeys.

pub mod passkeys;
pub mod recovery;
pub mod texts;
pub mod totp;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use serde::{Deserialize, Serialize};
use session_store::{Expiry, Record, SessionKey, SharedStore};
use sqlx::{AnyPool, Row as _};

use crate::db::now_ms;
use crate::keys::sealing::{KeySealer, is_sealed};
use crate::users::User;

/// The `acr` of a session authenticated by one factor (a password).
pub const ACR_PASSWORD: &str = "urn:sso:acr:password";
/// The `acr` of a session authenticated by two factors (a password and a second factor, or a
/// passkey with user verification).
pub const ACR_MFA: &str = "urn:sso:acr:mfa";
/// The `acr` values the center supports, strongest last.
pub const ACR_VALUES: [&str; 2] = [ACR_PASSWORD, ACR_MFA];

/// Authentication methods (RFC 8176 §2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Amr {
    /// A password.
    Password,
    /// A one-time password (TOTP, or a recovery code).
    Otp,
    /// Proof of possession of a hardware-secured key (a security key or platform passkey).
    HardwareKey,
    /// Proof of possession of a software-secured key (a synced passkey).
    SoftwareKey,
    /// User presence and verification (the authenticator's PIN or biometric).
    User,
    /// More than one factor.
    MultiFactor,
}

impl Amr {
    /// The registered value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Password => "pwd",
            Self::Otp => "otp",
            Self::HardwareKey => "hwk",
            Self::SoftwareKey => "swk",
            Self::User => "user",
            Self::MultiFactor => "mfa",
        }
    }
}

/// Methods as the `amr` strings a session keeps.
pub fn amr(methods: &[Amr]) -> Vec<String> {
    let mut values: Vec<String> = methods.iter().map(|m| m.as_str().to_owned()).collect();
    complete_amr(&mut values);
    values
}

/// Whether `amr` holds two factors: a password and something else, or a key with user
/// verification.
pub fn is_multi_factor(amr: &[String]) -> bool {
    let has = |method: Amr| amr.iter().any(|value| value == method.as_str());
    let keys = has(Amr::HardwareKey) || has(Amr::SoftwareKey);
    has(Amr::MultiFactor)
        || (has(Amr::Password) && (has(Amr::Otp) || keys))
        || (keys && has(Amr::User))
}

/// Adds `mfa` to `amr` when it holds two factors.
pub fn complete_amr(amr: &mut Vec<String>) {
    let mfa = Amr::MultiFactor.as_str();
    if is_multi_factor(amr) && !amr.iter().any(|value| value == mfa) {
        amr.push(mfa.to_owned());
    }
}

/// The `acr` of a session authenticated by `amr`.
pub fn acr(amr: &[String]) -> &'static str {
    if is_multi_factor(amr) {
        ACR_MFA
    } else {
        ACR_PASSWORD
    }
}

/// Whether an authorization request's space-separated `acr_values` asks for two factors
/// (the strongest value it names that the center supports is [`ACR_MFA`]).
pub fn asks_for_mfa(acr_values: Option<&str>) -> bool {
    acr_values.is_some_and(|values| values.split(' ').any(|value| value == ACR_MFA))
}

/// Whether users of a client must give a second factor.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum MfaPolicy {
    /// A password suffices (a second factor is asked only when the request asks for it).
    #[default]
    Optional,
    /// Sessions must have given a second factor; users without one enroll first.
    Required,
}

impl MfaPolicy {
    /// The policy's name, as configured and stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Optional => "optional",
            Self::Required => "required",
        }
    }

    /// The policy [`Self::as_str`] names.
    pub fn parse(text: &str) -> Option<Self> {
        [Self::Optional, Self::Required]
            .into_iter()
            .find(|policy| policy.as_str() == text)
    }
}

/// The kinds of factor a user can remove.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FactorKind {
    Totp,
    Passkey,
}

/// The second factors of a user.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Enrolled {
    pub totp: bool,
    pub passkeys: u64,
}

impl Enrolled {
    /// How many factors: TOTP counts one, each passkey one.
    pub fn total(self) -> u64 {
        u64::from(self.totp) + self.passkeys
    }
}

/// A TOTP code checked for a user.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CodeCheck {
    /// The code is right and had not been used: it is used now.
    Accepted,
    /// Not the code of any step within the allowed skew.
    Wrong,
    /// The right code, already used: refused.
    Replayed,
    /// Not six digits.
    Malformed,
    /// The user has no TOTP (or no pending enrollment, or it expired).
    Absent,
}

/// A TOTP enrollment waiting for its first code.
#[derive(Clone, Debug)]
pub struct Enrollment {
    /// Names the enrollment in the form that confirms it.
    pub key: SessionKey,
    /// The secret, base32, to show as text.
    pub secret: String,
    pub generator: totp::Generator,
}

/// How long an enrollment waits for its first code.
const ENROLLMENT_TTL: Duration = Duration::from_secs(15 * 60);
/// How long a used code's step is remembered: longer than it can be accepted (three steps).
const USED_STEP_TTL: Duration = Duration::from_secs(4 * totp::STEP_SECS);

/// The factors of users: TOTP secrets and recovery codes in the database, passkeys in
/// [`passkeys`](crate::factors) when present; used codes and pending enrollments in the shared
/// store.
#[derive(Clone)]
pub struct Factors {
    pool: AnyPool,
    store: Arc<dyn SharedStore>,
    sealer: Option<Arc<KeySealer>>,
    /// The issuer's name in authenticator apps.
    label: String,
    /// The center's default policy.
    default_policy: MfaPolicy,
}

impl std::fmt::Debug for Factors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Factors")
            .field("label", &self.label)
            .field("default_policy", &self.default_policy)
            .finish_non_exhaustive()
    }
}

impl Factors {
    /// Factors kept in `pool` and `store`; TOTP secrets sealed by `sealer` when given; codes
    /// labelled `label` in authenticator apps; `default_policy` for clients without one.
    pub fn new(
        pool: AnyPool,
        store: Arc<dyn SharedStore>,
        sealer: Option<KeySealer>,
        label: String,
        default_policy: MfaPolicy,
    ) -> Self {
        Self {
            pool,
            store,
            sealer: sealer.map(Arc::new),
            label,
            default_policy,
        }
    }

    /// Whether a client with `policy` (`None`: the default) requires a second factor.
    pub fn required(&self, policy: Option<MfaPolicy>) -> bool {
        policy.unwrap_or(self.default_policy) == MfaPolicy::Required
    }

    /// The second factors the user has.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn enrolled(&self, user_id: &str) -> anyhow::Result<Enrolled> {
        let totp = self.has_totp(user_id).await?;
        // passkeys: their count
        let passkeys = passkeys::count(&self.pool, user_id).await?;
        Ok(Enrolled { totp, passkeys })
    }

    /// Whether the user has any second factor.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn has_any(&self, user_id: &str) -> anyhow::Result<bool> {
        Ok(self.enrolled(user_id).await?.total() > 0)
    }

    /// Whether the user may remove a factor of `kind`: not their last one when the center's
    /// default policy requires a second factor.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn may_remove(&self, user_id: &str, _kind: FactorKind) -> anyhow::Result<bool> {
        Ok(self.default_policy == MfaPolicy::Optional || self.enrolled(user_id).await?.total() > 1)
    }

    /// Removes every factor of the user (an administrator's reset); returns whether there was
    /// any.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn reset(&self, user_id: &str) -> anyhow::Result<bool> {
        let had = self.has_any(user_id).await?;
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM user_totp WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        // passkeys:
        sqlx::query("DELETE FROM user_passkeys WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await.context("cannot reset factors")?;
        Ok(had)
    }

    /// Whether the user has TOTP.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn has_totp(&self, user_id: &str) -> anyhow::Result<bool> {
        let row = sqlx::query("SELECT 1 AS one FROM user_totp WHERE user_id = $1")
            .bind(user_id)
            .fetch_optional(&self.pool)
            .await
            .context("cannot read TOTP")?;
        Ok(row.is_some())
    }

    fn generator(&self, user: &User, secret: &str) -> anyhow::Result<totp::Generator> {
        totp::Generator::new(secret, &self.label, &user.username)
            .context("stored TOTP secret is not base32")
    }

    /// Starts a TOTP enrollment for `user` with a fresh secret; it counts once confirmed.
    ///
    /// # Errors
    /// When the store fails.
    pub async fn begin_totp(&self, user: &User) -> anyhow::Result<Enrollment> {
        let secret = totp::Generator::new_secret();
        let generator = self.generator(user, &secret)?;
        let mut record = Record::new(Expiry::new(ENROLLMENT_TTL, ENROLLMENT_TTL));
        record.insert("user_id", &user.id)?;
        record.insert("secret", &secret)?;
        let key = self.store.create(record).await?.key().clone();
        Ok(Enrollment {
            key,
            secret,
            generator,
        })
    }

    /// The pending enrollment `key` of `user`, if it has not expired.
    ///
    /// # Errors
    /// When the store fails.
    pub async fn pending_totp(&self, user: &User, key: &str) -> anyhow::Result<Option<Enrollment>> {
        let Some(key) = SessionKey::parse(key) else {
            return Ok(None);
        };
        let Some(session) = self.store.load(&key).await? else {
            return Ok(None);
        };
        let record = session.record();
        let (Some(owner), Some(secret)) = (
            record.get::<String>("user_id"),
            record.get::<String>("secret"),
        ) else {
            return Ok(None);
        };
        if owner != user.id {
            return Ok(None);
        }
        let generator = self.generator(user, &secret)?;
        Ok(Some(Enrollment {
            key,
            secret,
            generator,
        }))
    }

    /// Confirms enrollment `key` of `user` with a first `code`: on [`CodeCheck::Accepted`]
    /// the secret replaces any TOTP the user had.
    ///
    /// # Errors
    /// When the store or the database fails.
    pub async fn confirm_totp(
        &self,
        user: &User,
        key: &str,
        code: &str,
    ) -> anyhow::Result<CodeCheck> {
        let Some(enrollment) = self.pending_totp(user, key).await? else {
            return Ok(CodeCheck::Absent);
        };
        let check = self.claim(&user.id, &enrollment.generator, code).await?;
        if check != CodeCheck::Accepted {
            return Ok(check);
        }
        self.store_totp(&user.id, &enrollment.secret).await?;
        self.store.delete(&enrollment.key).await?;
        Ok(CodeCheck::Accepted)
    }

    /// Stores `secret` (base32) as the user's TOTP, sealed when a key encryption key is set,
    /// replacing any they had.
    async fn store_totp(&self, user_id: &str, secret: &str) -> anyhow::Result<()> {
        let stored = match &self.sealer {
            Some(sealer) => sealer.seal(user_id, SEALED_AS, secret)?,
            None => secret.to_owned(),
        };
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM user_totp WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO user_totp (user_id, secret, created_at, last_used_at) \
             VALUES ($1, $2, $3, $3)",
        )
        .bind(user_id)
        .bind(stored)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
        tx.commit().await.context("cannot store TOTP")
    }

    /// The user's TOTP secret (base32), opened when sealed; `None` without TOTP.
    async fn totp_secret(&self, user_id: &str) -> anyhow::Result<Option<String>> {
        let row = sqlx::query("SELECT secret FROM user_totp WHERE user_id = $1")
            .bind(user_id)
            .fetch_optional(&self.pool)
            .await
            .context("cannot read TOTP")?;
        let Some(row) = row else {
            return Ok(None);
        };
        let stored: String = row.try_get("secret")?;
        if !is_sealed(&stored) {
            return Ok(Some(stored));
        }
        let sealer = self
            .sealer
            .as_ref()
            .context("a TOTP secret is sealed but tokens.key_encryption_key is not set")?;
        Ok(Some(sealer.open(user_id, SEALED_AS, &stored)?))
    }

    /// The user's TOTP, set up now when they have none or `key` (base32) differs (the demo's
    /// provisioning): with `key`, else a fresh secret. Its generator, to show the secret and
    /// the URI.
    ///
    /// # Errors
    /// When the database fails, or `key` is not base32 of at least 128 bits.
    pub async fn ensure_totp(
        &self,
        user: &User,
        key: Option<&str>,
    ) -> anyhow::Result<totp::Generator> {
        if let Some(key) = key {
            totp::Generator::new(key, &self.label, &user.username)
                .context("the TOTP key must be base32 of at least 128 bits")?;
        }
        let stored = self.totp_secret(&user.id).await?;
        let secret = match (stored, key) {
            (Some(stored), None) => stored,
            (Some(stored), Some(key)) if stored == key => stored,
            (_, key) => {
                let secret = key.map_or_else(totp::Generator::new_secret, str::to_owned);
                self.store_totp(&user.id, &secret).await?;
                secret
            }
        };
        self.generator(user, &secret)
    }

    /// Checks `code` against `user`'s TOTP; an accepted code is used up on every replica.
    ///
    /// # Errors
    /// When the store or the database fails, or the stored secret cannot be opened.
    pub async fn verify_totp(&self, user: &User, code: &str) -> anyhow::Result<CodeCheck> {
        let Some(secret) = self.totp_secret(&user.id).await? else {
            return Ok(CodeCheck::Absent);
        };
        let check = self
            .claim(&user.id, &self.generator(user, &secret)?, code)
            .await?;
        if check == CodeCheck::Accepted {
            sqlx::query("UPDATE user_totp SET last_used_at = $1 WHERE user_id = $2")
                .bind(now_ms())
                .bind(&user.id)
                .execute(&self.pool)
                .await?;
        }
        Ok(check)
    }

    /// Checks `code` and, when it matches, claims its step for `user_id` in the shared store:
    /// only the first claim of a step is accepted.
    async fn claim(
        &self,
        user_id: &str,
        generator: &totp::Generator,
        code: &str,
    ) -> anyhow::Result<CodeCheck> {
        let now = session_store::Timestamp::now().as_secs();
        Ok(match generator.check(code, now) {
            totp::Check::Malformed => CodeCheck::Malformed,
            totp::Check::Wrong => CodeCheck::Wrong,
            totp::Check::Matches(step) => {
                let name = format!("totp-step:{}:{step}", crate::crypto::sha256_hex(user_id));
                if self.store.increment(&name, USED_STEP_TTL).await? == 1 {
                    CodeCheck::Accepted
                } else {
                    CodeCheck::Replayed
                }
            }
        })
    }

    /// Removes the user's TOTP; `false` when there was none.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn remove_totp(&self, user_id: &str) -> anyhow::Result<bool> {
        let done = sqlx::query("DELETE FROM user_totp WHERE user_id = $1")
            .bind(user_id)
            .execute(&self.pool)
            .await?;
        self.forget_recovery_codes_without_factor(user_id).await?;
        Ok(done.rows_affected() > 0)
    }

    /// Deletes the user's recovery codes once no factor is left for them to back up (they
    /// would otherwise be a second factor of their own).
    ///
    /// # Errors
    /// When the database fails.
    pub async fn forget_recovery_codes_without_factor(&self, user_id: &str) -> anyhow::Result<()> {
        if !self.has_any(user_id).await? {
            sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
                .bind(user_id)
                .execute(&self.pool)
                .await?;
        }
        Ok(())
    }

    /// Replaces the user's recovery codes with [`recovery::COUNT`] fresh ones, returned to be
    /// shown once.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn new_recovery_codes(&self, user_id: &str) -> anyhow::Result<Vec<String>> {
        let codes: Vec<String> = (0..recovery::COUNT).map(|_| recovery::new_code()).collect();
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        for code in &codes {
            let plain = recovery::normalize(code).context("fresh recovery code")?;
            sqlx::query(
                "INSERT INTO recovery_codes (user_id, code_hash, created_at) VALUES ($1, $2, $3)",
            )
            .bind(user_id)
            .bind(recovery::digest(user_id, &plain))
            .bind(now_ms())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await.context("cannot store recovery codes")?;
        Ok(codes)
    }

    /// How many unused recovery codes the user has.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn recovery_codes_left(&self, user_id: &str) -> anyhow::Result<u64> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS left_count FROM recovery_codes              WHERE user_id = $1 AND used_at IS NULL",
        )
        .bind(user_id)
        .fetch_one(&self.pool)
        .await?;
        Ok(u64::try_from(row.try_get::<i64, _>("left_count")?).unwrap_or(0))
    }

    /// Uses one of the user's recovery codes: `Some(left)` when `typed` was an unused one (it
    /// is used now), `None` otherwise; `Err` only when the database fails.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn use_recovery_code(
        &self,
        user_id: &str,
        typed: &str,
    ) -> anyhow::Result<Option<u64>> {
        let Some(code) = recovery::normalize(typed) else {
            return Ok(None);
        };
        let done = sqlx::query(
            "UPDATE recovery_codes SET used_at = $1              WHERE user_id = $2 AND code_hash = $3 AND used_at IS NULL",
        )
        .bind(now_ms())
        .bind(user_id)
        .bind(recovery::digest(user_id, &code))
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Ok(None);
        }
        Ok(Some(self.recovery_codes_left(user_id).await?))
    }
}

/// What a sealed TOTP secret is bound to, beside its user id.
const SEALED_AS: &str = "totp";

#[cfg(test)]
mod tests {
    use super::*;

    fn values(list: &[&str]) -> Vec<String> {
        list.iter().map(|&v| v.to_owned()).collect()
    }

    #[test]
    fn a_password_is_one_factor() {
        assert_eq!(amr(&[Amr::Password]), values(&["pwd"]));
        assert_eq!(acr(&values(&["pwd"])), ACR_PASSWORD);
    }

    #[test]
    fn a_password_and_a_code_are_two() {
        let methods = amr(&[Amr::Password, Amr::Otp]);
        assert_eq!(methods, values(&["pwd", "otp", "mfa"]));
        assert_eq!(acr(&methods), ACR_MFA);
    }

    #[test]
    fn a_verified_passkey_is_two_factors_alone() {
        let methods = amr(&[Amr::HardwareKey, Amr::User]);
        assert_eq!(methods, values(&["hwk", "user", "mfa"]));
        assert!(!is_multi_factor(&values(&["swk"])));
    }

    #[test]
    fn acr_values_ask_for_mfa_only_by_its_value() {
        assert!(asks_for_mfa(Some("urn:sso:acr:password urn:sso:acr:mfa")));
        assert!(!asks_for_mfa(Some("urn:sso:acr:password")));
        assert!(!asks_for_mfa(Some("mfa")));
        assert!(!asks_for_mfa(None));
    }
}
