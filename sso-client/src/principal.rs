//! The signed-in user, as the id token described them at sign-in.

use std::fmt;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::pkce::{random_token, secrets_equal};

/// The user of a local session: who they are (`sub`), how to address them, which center
/// session they belong to (`sid`), and every claim of their id token.
///
/// With the `actix` feature this is an extractor: a handler taking `Principal` answers 401 to
/// anonymous requests, one taking `Option<Principal>` serves both. Cloning is cheap: clones
/// share one copy, made once when the session is read.
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
            inner: Arc::new(inner),
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
    /// The principal described by verified id-token claims, with a fresh CSRF token.
    pub(crate) fn from_claims(claims: Map<String, Value>) -> Option<Self> {
        Self::with_csrf_token(claims, random_token())
    }

    /// The principal described by `claims`, with the CSRF token its session was given.
    pub(crate) fn with_csrf_token(claims: Map<String, Value>, csrf_token: String) -> Option<Self> {
        let text = |name: &str| {
            claims
                .get(name)
                .and_then(Value::as_str)
                .filter(|value| !value.is_empty())
                .map(str::to_owned)
        };
        Some(Self {
            inner: Arc::new(Inner {
                sub: text("sub")?,
                name: text("name").or_else(|| text("preferred_username")),
                email: text("email"),
                sid: text("sid"),
                csrf_token,
                claims,
            }),
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

    /// Every claim of the id token the user signed in with.
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
