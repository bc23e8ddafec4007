//! Forward-auth sessions: one per browser and protected host, in the center's store.
//!
//! A record holds everything the verify endpoint answers with (host, user, name, e-mail,
//! groups), so verifying is one store read and nothing else. It is tagged with the global
//! session's `sid` ([`FORWARD_AUTH_SID_TAG`]), so that ending the global session in any way
//! deletes it (see `sessions::GlobalSessions::end`), and with the user, so that a change of the
//! user's groups makes it sign in again.
//!
//! # Limitations
//! What the record says about the user is what was true at sign-in; a change of groups ends
//! the user's forward-auth sessions (the next request signs in again without a password), a
//! change of name or e-mail shows at the next sign-in. Deleting the records of an ended global
//! session is best effort: should the store fail at that moment, a record stays usable until
//! its own idle timeout.

use std::sync::Arc;

use actix_web::http::header::{HeaderName, HeaderValue};
use anyhow::Context as _;
use serde_json::{Map, Value};
use session_store::{Expiry, IndexTag, Record, SessionKey, SharedStore};

use super::request::HostName;
use crate::sessions::FORWARD_AUTH_SID_TAG;
use crate::users::{GroupName, User};

/// Tag of a user's forward-auth sessions.
const USER_TAG: &str = "fa_user";

/// Who a live forward-auth session belongs to, as the verify endpoint answers: made once per
/// version of the record and shared by every load of it (see [`Record::view`]), so an
/// in-process store or the Redis local cache answers without parsing or building anything.
#[derive(Debug)]
pub struct Identity {
    /// The host the session was made for.
    pub host: String,
    pub username: String,
    pub groups: Vec<String>,
    /// The global session it belongs to.
    pub sid: String,
    /// `Remote-User`, `Remote-Name`, `Remote-Email` and `Remote-Groups` (comma-separated),
    /// ready to send.
    pub headers: [(HeaderName, HeaderValue); 4],
}

impl Identity {
    /// The identity in a record's data; `None` when a field is missing or of another type.
    fn parse(data: &Map<String, Value>) -> Option<Self> {
        let text = |key: &str| data.get(key)?.as_str().map(str::to_owned);
        let groups = data
            .get("groups")?
            .as_array()?
            .iter()
            .map(|group| group.as_str().map(str::to_owned))
            .collect::<Option<Vec<String>>>()?;
        let (username, name, email) = (text("username")?, text("name")?, text("email")?);
        let headers = [
            (
                HeaderName::from_static("remote-user"),
                header_value(&username),
            ),
            (HeaderName::from_static("remote-name"), header_value(&name)),
            (
                HeaderName::from_static("remote-email"),
                header_value(&email),
            ),
            (
                HeaderName::from_static("remote-groups"),
                header_value(&groups.join(",")),
            ),
        ];
        Some(Self {
            host: text("host")?,
            username,
            groups,
            sid: text("sid")?,
            headers,
        })
    }
}

/// `text` as a header value: UTF-8 bytes as they are (names need not be ASCII), control
/// characters dropped so a value can never end the header.
fn header_value(text: &str) -> HeaderValue {
    let clean: String = text.chars().filter(|c| !c.is_control()).collect();
    HeaderValue::from_bytes(clean.trim().as_bytes()).unwrap_or(HeaderValue::from_static(""))
}

/// Creates, reads and ends forward-auth sessions.
#[derive(Clone, Debug)]
pub struct ForwardSessions {
    store: Arc<dyn SharedStore>,
}

fn tag(name: &str, value: &str) -> anyhow::Result<IndexTag> {
    IndexTag::new(name, value).context("invalid index tag")
}

impl ForwardSessions {
    /// Sessions kept in `store`.
    pub fn new(store: Arc<dyn SharedStore>) -> Self {
        Self { store }
    }

    /// A new session on `host` for `user` (in `groups`) within the global session `sid`.
    ///
    /// # Errors
    /// When the store fails.
    pub async fn create(
        &self,
        host: &HostName,
        user: &User,
        groups: &[GroupName],
        sid: &str,
        expiry: Expiry,
    ) -> anyhow::Result<SessionKey> {
        let mut record = Record::new(expiry)
            .with_tag(tag(FORWARD_AUTH_SID_TAG, sid)?)
            .with_tag(tag(USER_TAG, &user.id)?);
        record.insert("host", host.as_str())?;
        record.insert("username", &user.username)?;
        record.insert("name", &user.name)?;
        record.insert("email", &user.email)?;
        record.insert("groups", groups)?;
        record.insert("sid", sid)?;
        let session = self.store.create(record).await?;
        Ok(session.key().clone())
    }

    /// The identity of the session `key`: one store read. `None` when it names no live
    /// session, or a record this code cannot read.
    ///
    /// # Errors
    /// When the store fails.
    pub async fn identity(&self, key: &SessionKey) -> anyhow::Result<Option<Arc<Identity>>> {
        let Some(session) = self.store.load(key).await? else {
            return Ok(None);
        };
        Ok(session.record().view(Identity::parse))
    }

    /// Deletes the session behind a cookie value, if any.
    ///
    /// # Errors
    /// When the store fails.
    pub async fn delete(&self, cookie: &str) -> anyhow::Result<()> {
        if let Some(key) = SessionKey::parse(cookie) {
            self.store.delete(&key).await?;
        }
        Ok(())
    }

    /// Ends every forward-auth session of user `user_id`; returns how many there were.
    ///
    /// # Errors
    /// When the store fails.
    pub async fn end_for_user(&self, user_id: &str) -> anyhow::Result<usize> {
        Ok(self.store.delete_by_tag(&tag(USER_TAG, user_id)?).await?)
    }

    /// How many live forward-auth sessions the global session `sid` has.
    ///
    /// # Errors
    /// When the store fails.
    pub async fn count_for_sid(&self, sid: &str) -> anyhow::Result<usize> {
        Ok(self
            .store
            .list_by_tag(&tag(FORWARD_AUTH_SID_TAG, sid)?)
            .await?
            .len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_values_keep_unicode_and_drop_control_characters() {
        assert_eq!(header_value("张伟").as_bytes(), "张伟".as_bytes());
        assert_eq!(header_value("a\r\nX-Evil: 1").as_bytes(), b"aX-Evil: 1");
        assert_eq!(header_value(" Alice ").as_bytes(), b"Alice");
    }

    #[test]
    fn an_identity_is_read_once_per_version_of_the_record() {
        let mut record = Record::new(Expiry::new(
            std::time::Duration::from_secs(60),
            std::time::Duration::from_secs(60),
        ));
        for (key, value) in [
            ("host", "wiki.test"),
            ("username", "alice"),
            ("name", "Alice"),
            ("email", "alice@example.test"),
            ("sid", "s1"),
        ] {
            record.insert(key, value).unwrap();
        }
        assert!(record.view(Identity::parse).is_none(), "groups missing");
        record.insert("groups", ["staff", "admins"]).unwrap();
        let first = record.view(Identity::parse).unwrap();
        assert_eq!(first.headers[3].1.as_bytes(), b"staff,admins");
        let copy = record.clone();
        assert!(Arc::ptr_eq(&first, &copy.view(Identity::parse).unwrap()));
        record.insert("groups", ["staff"]).unwrap();
        assert_eq!(record.view(Identity::parse).unwrap().groups, ["staff"]);
        record.insert("email", 5).unwrap();
        assert!(
            record.view(Identity::parse).is_none(),
            "a field of another type"
        );
    }
}
