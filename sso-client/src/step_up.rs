//! Authentication levels: how a user signed in (`acr`, `amr`: OpenID Connect Core §2,
//! RFC 8176), and what a sign-in may ask the center for beyond the user's identity (a second
//! factor, a recent or a fresh authentication). Routes that require a level are in
//! [`crate::web::step_up`].

use serde::{Deserialize, Serialize};

/// The `acr` of a sign-in with one factor (a password).
pub const ACR_PASSWORD: &str = "urn:sso:acr:password";
/// The `acr` of a sign-in with two factors (a password and a second factor, or a passkey with
/// user verification). Asking for it in `acr_values` makes the center ask for what is missing.
pub const ACR_MFA: &str = "urn:sso:acr:mfa";
/// The `amr` value saying that more than one factor was used (RFC 8176 §2).
pub(crate) const AMR_MFA: &str = "mfa";

/// The longest `acr_values` a sign-in carries: they travel in the sealed sign-in cookie.
const MAX_ACR_VALUES_LEN: usize = 256;

/// What a sign-in asks of the center beyond the user's identity: authentication context
/// classes (`acr_values`), a maximum age of the authentication (`max_age`), or a fresh one
/// (`prompt=login`). The default asks nothing more.
///
/// ```
/// use sso_client::LoginOptions;
/// let step_up = LoginOptions::default().second_factor();
/// let fresh = LoginOptions::default().prompt_login();
/// let recent = LoginOptions::default().max_age(300);
/// # assert_ne!(step_up, fresh);
/// # assert_ne!(fresh, recent);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginOptions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    acr_values: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    max_age: Option<u64>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    prompt_login: bool,
}

impl LoginOptions {
    /// Asks for two factors (`acr_values` [`ACR_MFA`]): a user signed in with a password only
    /// is asked for their second factor.
    #[must_use]
    pub fn second_factor(self) -> Self {
        Self {
            acr_values: Some(ACR_MFA.to_owned()),
            ..self
        }
    }

    /// Asks for the space-separated authentication context classes `acr_values`, in order of
    /// preference; text that is not a list of at most 256 bytes of printable ASCII values is
    /// ignored.
    #[must_use]
    pub fn acr_values(self, acr_values: &str) -> Self {
        let well_formed = !acr_values.is_empty()
            && acr_values.len() <= MAX_ACR_VALUES_LEN
            && acr_values
                .split(' ')
                .all(|value| !value.is_empty() && value.bytes().all(|b| b.is_ascii_graphic()));
        Self {
            acr_values: well_formed
                .then(|| acr_values.to_owned())
                .or(self.acr_values),
            ..self
        }
    }

    /// Asks for an authentication at most `secs` seconds old (`max_age`).
    #[must_use]
    pub fn max_age(self, secs: u64) -> Self {
        Self {
            max_age: Some(secs),
            ..self
        }
    }

    /// Asks the center to authenticate the user again, even with a live center session
    /// (`prompt=login`).
    #[must_use]
    pub fn prompt_login(self) -> Self {
        Self {
            prompt_login: true,
            ..self
        }
    }

    /// The `acr_values` asked for, if any.
    pub fn requested_acr_values(&self) -> Option<&str> {
        self.acr_values.as_deref()
    }

    /// Whether the options ask nothing more than a sign-in.
    pub(crate) fn is_plain(&self) -> bool {
        *self == Self::default()
    }

    #[cfg(any(feature = "actix", feature = "axum"))]
    /// Whether a user signed in as `principal` at `now` (seconds since the epoch) already has
    /// what these options ask for, so a sign-in would change nothing.
    pub(crate) fn met_by(&self, principal: &crate::Principal, now: u64) -> bool {
        let acr_met = self
            .acr_values
            .as_deref()
            .is_none_or(|values| principal.meets_acr_values(values));
        acr_met && self.unmet_max_age(principal, now, 0).is_none() && !self.prompt_login
    }

    /// The `max_age` asked for when `principal` authenticated longer ago than that at `now`,
    /// give or take `leeway` seconds (or says no time at all).
    pub(crate) fn unmet_max_age(
        &self,
        principal: &crate::Principal,
        now: u64,
        leeway: u64,
    ) -> Option<u64> {
        self.max_age.filter(|max_age| {
            principal.auth_time().is_none_or(|auth_time| {
                now.saturating_sub(auth_time) > max_age.saturating_add(leeway)
            })
        })
    }

    /// The authorization request's parameters for these options.
    pub(crate) fn parameters(&self) -> impl Iterator<Item = (&'static str, String)> {
        let acr = self.acr_values.clone().map(|values| ("acr_values", values));
        let max_age = self.max_age.map(|secs| ("max_age", secs.to_string()));
        let prompt = self.prompt_login.then(|| ("prompt", "login".to_owned()));
        acr.into_iter().chain(max_age).chain(prompt)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::Principal;

    fn principal(claims: serde_json::Value) -> Principal {
        Principal::from_claims(claims.as_object().unwrap().clone()).unwrap()
    }

    fn parameters(options: &LoginOptions) -> Vec<(&'static str, String)> {
        options.parameters().collect()
    }

    #[test]
    fn options_become_authorization_parameters() {
        assert!(parameters(&LoginOptions::default()).is_empty());
        assert!(LoginOptions::default().is_plain());
        let all = LoginOptions::default()
            .second_factor()
            .max_age(300)
            .prompt_login();
        assert_eq!(
            parameters(&all),
            [
                ("acr_values", ACR_MFA.to_owned()),
                ("max_age", "300".to_owned()),
                ("prompt", "login".to_owned())
            ]
        );
        assert!(!all.is_plain());
    }

    #[test]
    fn malformed_acr_values_are_ignored() {
        let both = format!("{ACR_MFA} {ACR_PASSWORD}");
        assert_eq!(
            LoginOptions::default()
                .acr_values(&both)
                .requested_acr_values(),
            Some(both.as_str())
        );
        for bad in [
            "",
            " ",
            "a  b",
            "a\u{7f}",
            "é",
            "a\nb",
            &"x".repeat(MAX_ACR_VALUES_LEN + 1),
        ] {
            let options = LoginOptions::default().acr_values(bad);
            assert_eq!(options.requested_acr_values(), None, "{bad:?}");
            let kept = LoginOptions::default().second_factor().acr_values(bad);
            assert_eq!(kept.requested_acr_values(), Some(ACR_MFA), "{bad:?}");
        }
    }

    #[test]
    fn options_are_met_only_by_a_session_that_has_what_they_ask() {
        let now = 1_800_000_000;
        let password = principal(json!({"sub": "u", "acr": ACR_PASSWORD, "amr": ["pwd"],
                                        "auth_time": now - 600}));
        let totp = principal(
            json!({"sub": "u", "acr": ACR_MFA, "amr": ["pwd", "otp", "mfa"],
                                    "auth_time": now - 60}),
        );
        let old = principal(json!({"sub": "u"}));
        let mfa = LoginOptions::default().second_factor();
        assert!(LoginOptions::default().met_by(&password, now));
        assert!(!mfa.met_by(&password, now));
        assert!(mfa.met_by(&totp, now));
        assert!(
            !mfa.met_by(&old, now),
            "a session without acr has no second factor"
        );

        let recent = LoginOptions::default().max_age(300);
        assert!(recent.met_by(&totp, now));
        assert!(!recent.met_by(&password, now));
        assert!(!recent.met_by(&old, now), "no auth_time is not recent");
        assert!(!LoginOptions::default().prompt_login().met_by(&totp, now));
    }

    #[test]
    fn an_authentication_older_than_max_age_is_unmet_past_the_leeway() {
        let now = 1_800_000_000;
        let at = |auth_time: u64| principal(json!({"sub": "u", "auth_time": auth_time}));
        let recent = LoginOptions::default().max_age(300);
        assert_eq!(recent.unmet_max_age(&at(now - 300), now, 0), None);
        assert_eq!(recent.unmet_max_age(&at(now - 301), now, 0), Some(300));
        assert_eq!(recent.unmet_max_age(&at(now - 360), now, 60), None);
        assert_eq!(recent.unmet_max_age(&at(now - 361), now, 60), Some(300));
        assert_eq!(
            recent.unmet_max_age(&at(now + 30), now, 0),
            None,
            "a clock ahead"
        );
        let without = principal(json!({"sub": "u"}));
        assert_eq!(recent.unmet_max_age(&without, now, 60), Some(300));
        assert_eq!(
            LoginOptions::default().unmet_max_age(&without, now, 0),
            None,
            "nothing asked"
        );
    }

    #[test]
    fn options_round_trip_through_the_sign_in_cookie_format() {
        let options = LoginOptions::default().second_factor().max_age(60);
        let stored = serde_json::to_value(&options).unwrap();
        assert_eq!(stored, json!({"acr_values": ACR_MFA, "max_age": 60}));
        assert_eq!(
            serde_json::from_value::<LoginOptions>(stored).unwrap(),
            options
        );
        assert_eq!(
            serde_json::from_value::<LoginOptions>(json!({})).unwrap(),
            LoginOptions::default()
        );
    }
}
