//! Single logout (OpenID Connect Back-Channel Logout 1.0).
//!
//! When a global session ends, [`outbox`] records one delivery per registered client in the
//! same database transaction; [`delivery`] POSTs a signed [`logout_token`] to each client's
//! back-channel URI, concurrently and with a short timeout, and retries failures with
//! exponential backoff until a limit. Because the outbox is in SQL, deliveries survive a
//! restart and are shared by replicas (each delivery is claimed by one of them at a time).

pub mod delivery;
pub mod logout_token;
pub mod outbox;

/// Why a global session ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndReason {
    /// The user signed out.
    Logout,
    /// Idle or absolute timeout.
    Expired,
    /// An operator ended it.
    AdminKill,
    /// The user's password changed.
    PasswordChanged,
    /// The user was disabled.
    UserDisabled,
    /// The user's second factors were removed or reset.
    FactorsChanged,
}

impl EndReason {
    /// The reason as stored and logged.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Logout => "logout",
            Self::Expired => "expired",
            Self::AdminKill => "admin_kill",
            Self::PasswordChanged => "password_changed",
            Self::UserDisabled => "user_disabled",
            Self::FactorsChanged => "factors_changed",
        }
    }

    /// The reason [`Self::as_str`] names.
    pub fn parse(text: &str) -> Option<Self> {
        [
            Self::Logout,
            Self::Expired,
            Self::AdminKill,
            Self::PasswordChanged,
            Self::UserDisabled,
            Self::FactorsChanged,
        ]
        .into_iter()
        .find(|reason| reason.as_str() == text)
    }
}

#[cfg(test)]
mod tests {
    use super::EndReason;

    #[test]
    fn every_reason_parses_back_from_its_name() {
        for reason in [
            EndReason::Logout,
            EndReason::Expired,
            EndReason::AdminKill,
            EndReason::PasswordChanged,
            EndReason::UserDisabled,
        ] {
            assert_eq!(EndReason::parse(reason.as_str()), Some(reason));
        }
        assert_eq!(EndReason::parse("Logout"), None);
        assert_eq!(EndReason::parse(""), None);
    }
}
