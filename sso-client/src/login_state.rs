//! The sign-in in progress: `state`, `nonce`, PKCE verifier and return path, kept in the
//! browser in a short-lived cookie sealed with AES-256-GCM, so no server-side storage is needed
//! before the user is signed in and any node of the subsystem can finish the sign-in.

use std::fmt;
use std::time::Duration;

use session_store::{CookieStore, Expiry, KeyRing, Record, SessionKey, SessionStore as _};

use crate::config::Secret;
use crate::pkce::random_token;
use crate::{Error, LoginOptions, ReturnTo};

/// How long a sign-in may take, from the redirect to the center until the callback.
pub(crate) const LOGIN_LIFETIME: Duration = Duration::from_secs(10 * 60);

const KEY_ID: &str = "login";

/// The values of one sign-in in progress.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct LoginState {
    pub(crate) state: String,
    pub(crate) nonce: String,
    pub(crate) verifier: String,
    pub(crate) return_to: ReturnTo,
    /// What the sign-in asked of the center beyond the user's identity.
    pub(crate) options: LoginOptions,
}

impl fmt::Debug for LoginState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginState")
            .field("return_to", &self.return_to)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl LoginState {
    /// Fresh random values for a sign-in that returns to `return_to`.
    #[cfg(test)]
    pub(crate) fn new(return_to: ReturnTo) -> Self {
        Self::with_options(return_to, LoginOptions::default())
    }

    /// Fresh random values for a sign-in that asks for `options` and returns to `return_to`.
    pub(crate) fn with_options(return_to: ReturnTo, options: LoginOptions) -> Self {
        Self {
            state: random_token(),
            nonce: random_token(),
            verifier: random_token(),
            return_to,
            options,
        }
    }
}

/// Seals and opens sign-in cookies.
#[derive(Clone, Debug)]
pub(crate) struct LoginCookies {
    name: String,
    store: CookieStore,
}

impl LoginCookies {
    /// Cookies named `name`, sealed with `key` (or a random key when `None`).
    pub(crate) fn new(name: String, key: Option<&Secret>) -> Result<Self, Error> {
        let ring = match key {
            Some(key) => KeyRing::new(KEY_ID, key.expose()),
            None => {
                tracing::info!(
                    "no login_cookie_key configured: using a random key, so a sign-in must finish \
                     on the node that started it"
                );
                KeyRing::new(KEY_ID, &KeyRing::generate_key())
            }
        }
        .map_err(|error| Error::Config(format!("login_cookie_key: {error}")))?;
        let store = CookieStore::new(&name, ring);
        Ok(Self { name, store })
    }

    /// The cookie's name.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// The sealed cookie value for `login`.
    pub(crate) async fn seal(&self, login: &LoginState) -> Result<String, Error> {
        let mut record = Record::new(Expiry::new(LOGIN_LIFETIME, LOGIN_LIFETIME));
        record.insert("state", &login.state)?;
        record.insert("nonce", &login.nonce)?;
        record.insert("verifier", &login.verifier)?;
        record.insert("return_to", &login.return_to)?;
        if !login.options.is_plain() {
            record.insert("options", &login.options)?;
        }
        let session = self.store.create(record).await?;
        Ok(session.key().as_str().to_owned())
    }

    /// The sign-in sealed in `value`, or `None` when it was not sealed by this subsystem for
    /// this cookie, was tampered with, or has expired. A sign-in sealed without options (as
    /// every sign-in was before they existed) asks for none.
    pub(crate) async fn open(&self, value: &str) -> Option<LoginState> {
        let key = SessionKey::parse(value)?;
        let session = self.store.load(&key).await.ok()??;
        let record = session.record();
        Some(LoginState {
            state: record.get("state")?,
            nonce: record.get("nonce")?,
            verifier: record.get("verifier")?,
            return_to: record.get("return_to")?,
            options: record.get("options").unwrap_or_default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cookies(key: &str) -> LoginCookies {
        LoginCookies::new("app_login".to_owned(), Some(&Secret::new(key))).unwrap()
    }

    #[tokio::test]
    async fn sealed_state_round_trips_across_nodes_sharing_the_key() {
        let key = KeyRing::generate_key();
        let login = LoginState::new(ReturnTo::parse("/reports?year=2026").unwrap());
        let sealed = cookies(&key).seal(&login).await.unwrap();

        assert!(
            !sealed.contains(&login.verifier),
            "the verifier is encrypted"
        );
        assert!(!sealed.contains(&login.nonce));
        let other_node = cookies(&key);
        assert_eq!(other_node.open(&sealed).await, Some(login));
    }

    #[tokio::test]
    async fn sign_in_options_round_trip_and_cookies_without_them_ask_for_none() {
        let key = KeyRing::generate_key();
        let options = LoginOptions::default().second_factor().max_age(120);
        let login = LoginState::with_options(ReturnTo::parse("/sensitive").unwrap(), options);
        let sealed = cookies(&key).seal(&login).await.unwrap();
        let opened = cookies(&key).open(&sealed).await.unwrap();
        assert_eq!(opened.options.requested_acr_values(), Some(crate::ACR_MFA));
        assert_eq!(opened, login);

        // A sign-in cookie sealed by the previous release: no options field.
        let store = CookieStore::new("app_login", KeyRing::new(KEY_ID, &key).unwrap());
        let mut record = Record::new(Expiry::new(LOGIN_LIFETIME, LOGIN_LIFETIME));
        record.insert("state", "s").unwrap();
        record.insert("nonce", "n").unwrap();
        record.insert("verifier", "v").unwrap();
        record.insert("return_to", "/reports").unwrap();
        let previous = store.create(record).await.unwrap();
        let opened = cookies(&key).open(previous.key().as_str()).await.unwrap();
        assert_eq!(opened.return_to.as_str(), "/reports");
        assert_eq!(opened.options, LoginOptions::default());
    }

    #[tokio::test]
    async fn tampered_or_foreign_cookies_do_not_open() {
        let key = KeyRing::generate_key();
        let login_cookies = cookies(&key);
        let sealed = login_cookies
            .seal(&LoginState::new(ReturnTo::root()))
            .await
            .unwrap();

        let mut tampered = sealed.clone().into_bytes();
        let last = tampered.len() - 3;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).unwrap();
        assert_eq!(login_cookies.open(&tampered).await, None);

        assert_eq!(cookies(&KeyRing::generate_key()).open(&sealed).await, None);
        let other_name =
            LoginCookies::new("other_login".to_owned(), Some(&Secret::new(key))).unwrap();
        assert_eq!(other_name.open(&sealed).await, None);
        assert_eq!(login_cookies.open("not a cookie").await, None);
    }

    proptest::proptest! {
        #[test]
        fn no_cookie_value_but_a_sealed_one_opens(
            value in proptest::prop_oneof![
                proptest::prelude::any::<String>(),
                "[A-Za-z0-9_.-]{0,600}",
            ]
        ) {
            let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
            let login_cookies = cookies(&KeyRing::generate_key());
            proptest::prop_assert_eq!(runtime.block_on(login_cookies.open(&value)), None);
        }
    }

    #[test]
    fn each_sign_in_gets_fresh_values() {
        let a = LoginState::new(ReturnTo::root());
        let b = LoginState::new(ReturnTo::root());
        assert_ne!(a.state, b.state);
        assert_ne!(a.nonce, b.nonce);
        assert_ne!(a.verifier, b.verifier);
        assert_ne!(a.state, a.nonce);
    }

    #[test]
    fn malformed_keys_are_configuration_errors() {
        let error = LoginCookies::new("x".to_owned(), Some(&Secret::new("short"))).unwrap_err();
        assert!(matches!(error, Error::Config(_)));
    }
}
