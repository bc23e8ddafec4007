//! One live global session per login form.
//!
//! Every rendering of the login form carries a fresh random [`FormId`]. Submissions of one form
//! that each sign in (a double click, a replayed request) would otherwise each start a global
//! session, of which only one cookie stays in the browser: the others would stay live and out
//! of reach of the user's sign-out. So the sign-ins of one form by one user are numbered, and
//! all but the latest end:
//!
//! 1. the new session takes a number from the form's counter (atomic in the shared store);
//! 2. it publishes its number and `sid` under the form's tag in the store;
//! 3. it ends every published session of the form with a lower number;
//! 4. it ends itself when the counter has moved past its number.
//!
//! Of two sign-ins `n < m`, either `n` published before `m` listed the form's sessions (and
//! `m` ends `n`), or after, and so after `m` took its number (and `n` ends itself): whatever
//! the interleaving, on one center or many sharing the store, only the highest number stays.
//!
//! # Limitations
//! Numbers and published sessions last one session idle timeout; a form submitted again that
//! much later is numbered afresh (an unused session from its first submission has idled out by
//! then). A submission without a form id (a client that leaves the field out) is a form of its
//! own. The form is scoped by user, so knowing someone's form id is no way to end their session.

use std::time::Duration;

use anyhow::Context as _;
use session_store::{Expiry, IndexTag, Record};

use crate::crypto::{random_id, sha256_hex};
use crate::sessions::GlobalSession;
use crate::slo::EndReason;
use crate::state::AppState;

/// Tag of the published sign-ins of a form.
const FORM_TAG: &str = "login_form";

/// The identity of one rendering of the login form: 128 random bits, URL-safe base64.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FormId(String);

impl FormId {
    /// A fresh id for a form about to be rendered.
    pub fn new() -> Self {
        Self(random_id())
    }

    /// A submitted id, when it has the shape of one the center makes.
    pub fn parse(text: &str) -> Option<Self> {
        let valid = text.len() == 22
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        valid.then(|| Self(text.to_owned()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for FormId {
    fn default() -> Self {
        Self::new()
    }
}

/// Settles `session`, just started by a submission of `form`: ends the form's earlier sessions,
/// and returns whether `session` is still the form's latest (`false`: it has been ended, as a
/// later submission of the same form signed in too).
///
/// # Errors
/// When the store or the database fails.
pub async fn settle(
    state: &AppState,
    form: &FormId,
    session: &GlobalSession,
) -> anyhow::Result<bool> {
    let scope = sha256_hex(&format!("{}\0{}", session.user_id, form.as_str()));
    let counter = format!("login-form:{scope}");
    let tag = IndexTag::new(FORM_TAG, &scope).context("invalid form tag")?;
    let lifetime: Duration = state.settings.session.idle_timeout();

    let number = state.store.increment(&counter, lifetime).await?;
    let mut published = Record::new(Expiry::new(lifetime, lifetime)).with_tag(tag.clone());
    published.insert("sid", &session.sid)?;
    published.insert("number", number)?;
    state.store.create(published).await?;

    for key in state.store.list_by_tag(&tag).await? {
        let Some(other) = state.store.load(&key).await? else {
            continue;
        };
        let record = other.record();
        if let (Some(sid), Some(earlier)) =
            (record.get::<String>("sid"), record.get::<u64>("number"))
            && earlier < number
        {
            state.sessions.end(&sid, EndReason::Logout).await?;
        }
    }
    if state.store.count(&counter).await? > number {
        state.sessions.end(&session.sid, EndReason::Logout).await?;
        return Ok(false);
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn fresh_ids_parse_and_differ() {
        let (a, b) = (FormId::new(), FormId::new());
        assert_ne!(a, b);
        assert_eq!(FormId::parse(a.as_str()), Some(a));
        assert_eq!(FormId::parse("short"), None);
        assert_eq!(FormId::parse("AAAAAAAAAAAAAAAAAAAAA/"), None);
    }

    proptest! {
        #[test]
        fn any_text_parses_only_when_shaped_like_an_id(text in "\\PC{0,40}") {
            if let Some(id) = FormId::parse(&text) {
                prop_assert_eq!(id.as_str(), text.as_str());
                prop_assert_eq!(text.len(), 22);
            }
        }
    }
}
