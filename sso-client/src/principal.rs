//! The signed-in user, as the id token described them at sign-in.

use std::fmt;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::pkce::{random_token, secrets_equal};
use crate::step_up::{ACR_MFA, ACR_PASSWORD, AMR_MFA};

/// The user of a local session: who they are (`sub`), how to address them, which center
/// session they belong to (`sid`), how they authenticated (`acr`, `amr`, `auth_time`), and
/// the claims of their id token (except [`CHECK_ONLY_CLAIMS`], which only served to check it).
///
/// With the `actix` feature this is an extractor: a handler taking `Principal` answers 401 to
/// anonymous requests, one taking `Option<Principal>` serves both. Cloning is cheap: clones
/// share one copy, made once when the session is read.
/// Id-token claims that bind the token to one sign-in request or to the other tokens of one
/// response: checked when the token arrives, meaningless after it, so a [`Principal`] does
/// not keep them.
pub const CHECK_ONLY_CLAIMS: [&str; 4] = ["nonce", "at_hash", "c_hash", "s_hash"];

#[derive(Clone, PartialEq)]
pub struct Principal {
    inner: Arc<Inner>,
}

#[derive(PartialEq, Serialize, Deserialize)]
struct Inner {
    sub: String,
    name: Option<String>,
    email: Option<String>,
    sid: Option<String>,
    claims: Map<String, Value>,
    csrf_token: String,
    /// Read from `claims` whenever a principal is made, never stored on its own: a session
    /// stored before the center sent these claims has none, and loads with none.
    #[serde(skip)]
    acr: Option<String>,
    #[serde(skip)]
    amr: Vec<String>,
}

impl Inner {
    /// `self` with `acr` and `amr` read from its claims.
    fn with_factors(mut self) -> Self {
        self.acr = text_claim(&self.claims, "acr");
        self.amr = match self.claims.get("amr") {
            Some(Value::Array(methods)) => methods
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
            _ => Vec::new(),
        };
        self
    }
}

/// The non-empty string claim `name`.
fn text_claim(claims: &Map<String, Value>, name: &str) -> Option<String> {
    claims
        .get(name)
        .and_then(Value::as_str)
        .filter(|value| !value.is_empty())
        .map(str::to_owned)
}

/// Serialized as the fields it is made of, as stored by earlier releases.
impl Serialize for Principal {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.inner.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Principal {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Inner::deserialize(deserializer).map(|inner| Self {
            inner: Arc::new(inner.with_factors()),
        })
    }
}

impl fmt::Debug for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Principal")
            .field("sub", &self.inner.sub)
            .field("sid", &self.inner.sid)
            .finish_non_exhaustive()
    }
}

impl Principal {
    /// The principal described by verified id-token claims, with a fresh CSRF token. The
    /// claims that only served to check the token are not kept: every request carries the
    /// principal (in a cookie session, inside the cookie).
    pub(crate) fn from_claims(mut claims: Map<String, Value>) -> Option<Self> {
        for name in CHECK_ONLY_CLAIMS {
            claims.remove(name);
        }
        Self::with_csrf_token(claims, random_token())
    }

    /// The principal described by `claims`, with the CSRF token its session was given.
    pub(crate) fn with_csrf_token(claims: Map<String, Value>, csrf_token: String) -> Option<Self> {
        let text = |name: &str| text_claim(&claims, name);
        let inner = Inner {
            sub: text("sub")?,
            name: text("name").or_else(|| text("preferred_username")),
            email: text("email"),
            sid: text("sid"),
            csrf_token,
            claims,
            acr: None,
            amr: Vec::new(),
        };
        Some(Self {
            inner: Arc::new(inner.with_factors()),
        })
    }

    /// The user's stable identifier at the center (`sub`).
    pub fn sub(&self) -> &str {
        &self.inner.sub
    }

    /// The user's display name (`name`, else `preferred_username`), if the center sent one.
    pub fn name(&self) -> Option<&str> {
        self.inner.name.as_deref()
    }

    /// The user's e-mail address, if the center sent one.
    pub fn email(&self) -> Option<&str> {
        self.inner.email.as_deref()
    }

    /// How to address the user: name, else e-mail, else `sub`.
    pub fn display_name(&self) -> &str {
        self.name().or(self.email()).unwrap_or(&self.inner.sub)
    }

    /// The center session this local session belongs to (`sid`).
    pub fn sid(&self) -> Option<&str> {
        self.inner.sid.as_deref()
    }

    /// The authentication context class of the sign-in (`acr`), such as
    /// [`ACR_PASSWORD`](crate::ACR_PASSWORD) or [`ACR_MFA`](crate::ACR_MFA); `None` when the
    /// center did not say (sessions signed in before it did have none).
    pub fn acr(&self) -> Option<&str> {
        self.inner.acr.as_deref()
    }

    /// The authentication methods of the sign-in (`amr`, RFC 8176), such as `["pwd"]`,
    /// `["pwd", "otp", "mfa"]` or, for a passkey, `["hwk", "user", "mfa"]`; empty when the
    /// center did not say.
    pub fn amr(&self) -> &[String] {
        &self.inner.amr
    }

    /// When the user last authenticated at the center (`auth_time`, seconds since the epoch).
    pub fn auth_time(&self) -> Option<u64> {
        self.inner.claims.get("auth_time").and_then(Value::as_u64)
    }

    /// Whether the user gave a second factor: `acr` is [`ACR_MFA`](crate::ACR_MFA), or `amr`
    /// holds `mfa`.
    pub fn has_second_factor(&self) -> bool {
        self.acr() == Some(ACR_MFA) || self.inner.amr.iter().any(|method| method == AMR_MFA)
    }

    /// Whether the sign-in meets one of the space-separated `acr_values`, as an
    /// authorization request names them: [`ACR_MFA`](crate::ACR_MFA) is met by a second
    /// factor, [`ACR_PASSWORD`](crate::ACR_PASSWORD) by any sign-in, and any other value by an
    /// `acr` equal to it.
    pub fn meets_acr_values(&self, acr_values: &str) -> bool {
        acr_values.split(' ').any(|value| match value {
            ACR_MFA => self.has_second_factor(),
            ACR_PASSWORD => true,
            "" => false,
            other => self.acr() == Some(other),
        })
    }

    /// The claims of the id token the user signed in with, but for [`CHECK_ONLY_CLAIMS`].
    pub fn claims(&self) -> &Map<String, Value> {
        &self.inner.claims
    }

    /// The claim `name` as a `T`, if present and of that type.
    pub fn claim<T: DeserializeOwned>(&self, name: &str) -> Option<T> {
        self.inner
            .claims
            .get(name)
            .and_then(|value| T::deserialize(value).ok())
    }

    /// Whether the `roles` claim (an array of strings) contains `role`.
    pub fn has_role(&self, role: &str) -> bool {
        self.claim::<Vec<String>>("roles")
            .is_some_and(|roles| roles.iter().any(|r| r == role))
    }

    /// The user's groups: the `groups` claim (an array of strings), present when the app asked
    /// for scope `groups`; empty otherwise.
    pub fn groups(&self) -> Vec<&str> {
        match self.inner.claims.get("groups") {
            Some(Value::Array(groups)) => groups.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        }
    }

    /// Whether the `groups` claim contains `group` (compared exactly).
    pub fn in_group(&self, group: &str) -> bool {
        self.groups().contains(&group)
    }

    /// The token to put in forms of this session (as `csrf_token`); the SDK's logout route
    /// requires it, and apps can check it with [`Principal::verify_csrf`].
    pub fn csrf_token(&self) -> &str {
        &self.inner.csrf_token
    }

    /// Whether `token` is this session's CSRF token (compared in constant time).
    pub fn verify_csrf(&self, token: &str) -> bool {
        secrets_equal(&self.inner.csrf_token, token)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn principal(claims: Value) -> Option<Principal> {
        Principal::from_claims(claims.as_object().unwrap().clone())
    }

    #[test]
    fn fields_come_from_the_claims() {
        let alice = principal(
            json!({"sub": "u-1", "name": "Alice", "email": "a@example.test",
                                     "sid": "s-1", "roles": ["admin"]}),
        )
        .unwrap();
        assert_eq!(alice.sub(), "u-1");
        assert_eq!(alice.display_name(), "Alice");
        assert_eq!(alice.sid(), Some("s-1"));
        assert!(alice.has_role("admin"));
        assert!(!alice.has_role("root"));
        assert_eq!(
            alice.claim::<String>("email").as_deref(),
            Some("a@example.test")
        );

        let bare = principal(json!({"sub": "u-2"})).unwrap();
        assert_eq!(bare.display_name(), "u-2");
        assert!(principal(json!({"name": "no sub"})).is_none());
    }

    #[test]
    fn groups_come_from_the_groups_claim() {
        let staff = principal(json!({"sub": "u", "groups": ["admins", "staff", 7]})).unwrap();
        assert_eq!(staff.groups(), ["admins", "staff"]);
        assert!(staff.in_group("staff"));
        assert!(!staff.in_group("Staff"));
        let none = principal(json!({"sub": "u"})).unwrap();
        assert!(none.groups().is_empty());
        assert!(!none.in_group("staff"));
        let odd = principal(json!({"sub": "u", "groups": "admins"})).unwrap();
        assert!(!odd.in_group("admins"), "a string is not a list of groups");
    }

    #[test]
    fn factors_come_from_acr_and_amr() {
        let password = principal(json!({"sub": "u", "acr": ACR_PASSWORD, "amr": ["pwd"]})).unwrap();
        assert_eq!(password.acr(), Some(ACR_PASSWORD));
        assert_eq!(password.amr(), ["pwd"]);
        assert!(!password.has_second_factor());
        assert!(password.meets_acr_values(ACR_PASSWORD));
        assert!(!password.meets_acr_values(ACR_MFA));
        assert!(password.meets_acr_values(&format!("{ACR_MFA} {ACR_PASSWORD}")));

        let totp = principal(
            json!({"sub": "u", "acr": ACR_MFA, "amr": ["pwd", "otp", "mfa"],
                                    "auth_time": 1_700_000_000}),
        )
        .unwrap();
        assert!(totp.has_second_factor());
        assert!(totp.meets_acr_values(ACR_MFA));
        assert_eq!(totp.auth_time(), Some(1_700_000_000));

        let passkey = principal(json!({"sub": "u", "amr": ["hwk", "user", "mfa"]})).unwrap();
        assert_eq!(passkey.acr(), None);
        assert!(passkey.has_second_factor(), "amr alone says mfa");
        let by_acr = principal(json!({"sub": "u", "acr": ACR_MFA})).unwrap();
        assert!(by_acr.has_second_factor(), "acr alone says mfa");
        assert!(!by_acr.meets_acr_values("urn:other:gold"));
        assert!(!by_acr.meets_acr_values(""));
    }

    #[test]
    fn principals_without_factors_have_none() {
        let bare = principal(json!({"sub": "u"})).unwrap();
        assert_eq!(bare.acr(), None);
        assert!(bare.amr().is_empty());
        assert_eq!(bare.auth_time(), None);
        assert!(!bare.has_second_factor());
        let odd = principal(json!({"sub": "u", "acr": "", "amr": "mfa"})).unwrap();
        assert_eq!(odd.acr(), None);
        assert!(odd.amr().is_empty(), "a string is not a list of methods");
        assert!(!odd.has_second_factor());
        let mixed = principal(json!({"sub": "u", "amr": ["pwd", 7, "otp"]})).unwrap();
        assert_eq!(mixed.amr(), ["pwd", "otp"]);
    }

    #[test]
    fn a_principal_serialized_as_before_reads_its_factors_back_from_the_claims() {
        let totp =
            principal(json!({"sub": "u", "acr": ACR_MFA, "amr": ["pwd", "otp", "mfa"]})).unwrap();
        let stored = serde_json::to_value(&totp).unwrap();
        let fields: Vec<&str> = stored
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            fields,
            ["claims", "csrf_token", "email", "name", "sid", "sub"]
        );
        let loaded: Principal = serde_json::from_value(stored).unwrap();
        assert_eq!(loaded, totp);
        assert!(loaded.has_second_factor());
    }

    #[test]
    fn csrf_tokens_are_per_session_and_hidden_from_debug() {
        let a = principal(json!({"sub": "u"})).unwrap();
        let b = principal(json!({"sub": "u"})).unwrap();
        assert_ne!(a.csrf_token(), b.csrf_token());
        assert!(a.verify_csrf(a.csrf_token()));
        assert!(!a.verify_csrf(b.csrf_token()));
        assert!(!a.verify_csrf(""));
        assert!(!format!("{a:?}").contains(a.csrf_token()));
    }
}
