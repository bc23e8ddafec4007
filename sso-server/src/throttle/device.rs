//! Device cookies: a browser that signed in as a user before proves it with a cookie the
//! center signed, and gets a login budget of its own (OWASP, "Slow down online guessing attacks
//! with device cookies").
//!
//! The cookie holds a random device id, the time it was issued and an HMAC-SHA256 over both and
//! the lowercased username, under a [`ServerSecret`] shared by every replica through the
//! database. The username is not in the cookie: a cookie is valid only for the username it was
//! issued to, so one user's cookie, a cookie of another center and a tampered or made-up one
//! all count as no cookie.
//!
//! # Limitations
//! A browser keeps one device cookie, for the user who signed in last. A stolen cookie is a
//! budget of guesses for its user, never a way in: the password is still checked. A cookie is
//! refused a year after it was issued; every successful sign-in issues a new one.

use std::time::Duration;

use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use aws_lc_rs::hmac;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::domain::Username;
use crate::secrets::ServerSecret;

/// Name of the device cookie.
pub const DEVICE_COOKIE: &str = "sso_device";

/// How long a device cookie is honoured after it was issued.
pub const DEVICE_COOKIE_LIFETIME: Duration = Duration::from_secs(365 * 24 * 60 * 60);

/// The id of a browser that holds a valid device cookie for the user it is signing in as.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceId(String);

impl DeviceId {
    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Issues and checks device cookies.
#[derive(Clone)]
pub struct DeviceCookies {
    key: hmac::Key,
}

impl std::fmt::Debug for DeviceCookies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DeviceCookies(..)")
    }
}

fn now_secs() -> u64 {
    session_store::Timestamp::now().as_secs()
}

/// The device id and the issue time of a cookie value, when it is well formed.
fn parse(value: &str) -> Option<(&str, u64, Vec<u8>)> {
    let mut parts = value.split('.');
    let (Some(device), Some(issued), Some(mac), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    let device_ok = device.len() == 22
        && device
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    let issued = issued.parse().ok().filter(|_| issued.len() <= 20)?;
    let mac = URL_SAFE_NO_PAD.decode(mac).ok()?;
    device_ok.then_some((device, issued, mac))
}

impl DeviceCookies {
    /// Cookies signed with `secret`.
    pub fn new(secret: &ServerSecret) -> Self {
        Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, secret.expose()),
        }
    }

    fn message(username: &Username, device: &str, issued: u64) -> Vec<u8> {
        format!(
            "sso-device v1\0{}\0{device}\0{issued}",
            username.as_str().to_lowercase()
        )
        .into_bytes()
    }

    /// The cookie value for a new device of `username`, issued at `issued` (seconds since
    /// the epoch).
    fn value(&self, username: &Username, device: &str, issued: u64) -> String {
        let mac = hmac::sign(&self.key, &Self::message(username, device, issued));
        format!("{device}.{issued}.{}", URL_SAFE_NO_PAD.encode(mac.as_ref()))
    }

    /// A new device cookie for `username`: `HttpOnly; Secure; SameSite=Lax`, path `/`, kept
    /// by the browser for [`DEVICE_COOKIE_LIFETIME`].
    pub fn issue(&self, username: &Username) -> Cookie<'static> {
        let value = self.value(username, &crate::crypto::random_id(), now_secs());
        let mut cookie = crate::web::cookie(DEVICE_COOKIE, value, SameSite::Lax);
        let lifetime = i64::try_from(DEVICE_COOKIE_LIFETIME.as_secs()).unwrap_or(i64::MAX);
        cookie.set_max_age(CookieDuration::seconds(lifetime));
        cookie
    }

    /// The device behind `value`, when it is a cookie this center issued to `username` within
    /// the last [`DEVICE_COOKIE_LIFETIME`].
    pub fn verify(&self, value: &str, username: &Username) -> Option<DeviceId> {
        let (device, issued, mac) = parse(value)?;
        if now_secs() >= issued.saturating_add(DEVICE_COOKIE_LIFETIME.as_secs()) {
            return None;
        }
        hmac::verify(&self.key, &Self::message(username, device, issued), &mac).ok()?;
        Some(DeviceId(device.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn cookies(byte: u8) -> DeviceCookies {
        DeviceCookies::new(&ServerSecret::from_bytes([byte; 32]))
    }

    fn user(name: &str) -> Username {
        Username::parse(name).unwrap()
    }

    #[test]
    fn an_issued_cookie_is_valid_for_its_user_only() {
        let devices = cookies(1);
        let cookie = devices.issue(&user("alice"));
        assert_eq!(cookie.name(), DEVICE_COOKIE);
        assert_eq!(cookie.http_only(), Some(true));
        assert_eq!(cookie.secure(), Some(true));
        assert_eq!(cookie.same_site(), Some(SameSite::Lax));
        assert!(cookie.max_age().unwrap().whole_days() >= 365);
        let device = devices.verify(cookie.value(), &user("alice")).unwrap();
        assert_eq!(device.as_str().len(), 22);
        assert_eq!(
            devices.verify(cookie.value(), &user("Alice")),
            Some(device),
            "usernames are compared as the login budget counts them, case-insensitively"
        );
        assert_eq!(devices.verify(cookie.value(), &user("bob")), None);
        assert_eq!(cookies(2).verify(cookie.value(), &user("alice")), None);
    }

    #[test]
    fn tampered_and_expired_cookies_are_refused() {
        let devices = cookies(1);
        let alice = user("alice");
        let value = devices.issue(&alice).value().to_owned();
        let (device, issued, _) = parse(&value).unwrap();
        let mac = value.rsplit('.').next().unwrap();
        let other_device = format!("{}.{issued}.{mac}", "A".repeat(22));
        let later = format!("{device}.{}.{mac}", issued + 1);
        assert_eq!(devices.verify(&other_device, &alice), None);
        assert_eq!(devices.verify(&later, &alice), None);
        let old = issued - DEVICE_COOKIE_LIFETIME.as_secs();
        assert_eq!(
            devices.verify(&devices.value(&alice, device, old), &alice),
            None
        );
        let recent = issued - DEVICE_COOKIE_LIFETIME.as_secs() + 60;
        assert!(
            devices
                .verify(&devices.value(&alice, device, recent), &alice)
                .is_some()
        );
    }

    proptest! {
        #[test]
        fn any_cookie_value_gives_an_answer_and_only_signed_ones_are_accepted(
            value in "\\PC{0,120}",
        ) {
            let devices = cookies(1);
            let accepted = devices.verify(&value, &user("alice"));
            prop_assert!(accepted.is_none());
        }
    }
}
