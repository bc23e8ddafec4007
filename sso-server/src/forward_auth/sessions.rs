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

use anyhow::Context as _;
use session_store::{Expiry, IndexTag, Record, SessionKey, SharedStore};

use super::request::HostName;
use crate::sessions::FORWARD_AUTH_SID_TAG;
use crate::users::{GroupName, User};

/// Tag of a user's forward-auth sessions.
const USER_TAG: &str = "fa_user";

/// Who a live forward-auth session belongs to, as the verify endpoint answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// The host the session was made for.
    pub host: String,
    pub username: String,
    pub name: String,
    pub email: String,
    pub groups: Vec<String>,
    /// The global session it belongs to.
    pub sid: String,
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

    /// The identity behind a cookie value: one store read. `None` when the value is not a
    /// key, or names no live session, or a record this code cannot read.
    ///
    /// # Errors
    /// When the store fails.
    pub async fn identity(&self, cookie: &str) -> anyhow::Result<Option<Identity>> {
        let Some(key) = SessionKey::parse(cookie) else {
            return Ok(None);
        };
        let Some(session) = self.store.load(&key).await? else {
            return Ok(None);
        };
        let record = session.record();
        Ok(
            match (
                record.get("host"),
                record.get("username"),
                record.get("name"),
                record.get("email"),
                record.get("groups"),
                record.get("sid"),
            ) {
                (Some(host), Some(username), Some(name), Some(email), Some(groups), Some(sid)) => {
                    Some(Identity {
                        host,
                        username,
                        name,
                        email,
                        groups,
                        sid,
                    })
                }
                _ => None,
            },
        )
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
