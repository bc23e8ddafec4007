//! Second factors: what a user can prove besides the password, and how sessions record it.
//!
//! A session keeps the RFC 8176 `amr` values of the steps its user took ([`Amr`]); its
//! authentication context class (`acr`, see [`acr`]) follows from them: one factor, or
//! more than one.

use serde::{Deserialize, Serialize};

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
