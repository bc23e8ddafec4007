//! Group names and the `user_groups` table.

use std::collections::BTreeSet;
use std::fmt;

use anyhow::Context as _;
use serde::{Deserialize, Serialize};
use sqlx::{Any, AnyPool, Row as _, Transaction};

/// A group name: 1–64 characters of ASCII letters, digits, `.`, `_` and `-`, compared as given.
///
/// No commas or spaces, so a list of groups can travel as one comma-separated header
/// (`Remote-Groups`) without quoting.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct GroupName(String);

impl GroupName {
    /// Accepts a group name.
    ///
    /// # Errors
    /// A readable message when the text is not a valid group name.
    pub fn parse(text: &str) -> Result<Self, String> {
        let valid = (1..=64).contains(&text.len())
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if valid {
            Ok(Self(text.to_owned()))
        } else {
            Err(format!(
                "{text:?} is not a valid group name (1-64 ASCII letters, digits, '.', '_', '-')"
            ))
        }
    }

    /// A comma-separated list of group names, as the command line takes it; empty entries are
    /// ignored, so `""` is the empty list.
    ///
    /// # Errors
    /// The message of the first invalid name.
    pub fn parse_list(text: &str) -> Result<BTreeSet<Self>, String> {
        text.split(',')
            .map(str::trim)
            .filter(|name| !name.is_empty())
            .map(Self::parse)
            .collect()
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for GroupName {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        Self::parse(&text)
    }
}

impl From<GroupName> for String {
    fn from(name: GroupName) -> Self {
        name.0
    }
}

impl fmt::Debug for GroupName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "GroupName({})", self.0)
    }
}

impl fmt::Display for GroupName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The groups of `user_id`, sorted.
pub(super) async fn of_user(pool: &AnyPool, user_id: &str) -> anyhow::Result<Vec<GroupName>> {
    let rows =
        sqlx::query("SELECT group_name FROM user_groups WHERE user_id = $1 ORDER BY group_name")
            .bind(user_id)
            .fetch_all(pool)
            .await
            .context("cannot load groups")?;
    rows.iter()
        .map(|row| {
            let name: String = row.try_get("group_name")?;
            GroupName::parse(&name).map_err(anyhow::Error::msg)
        })
        .collect()
}

/// Inserts the memberships of `user_id` in `groups` that do not exist yet.
pub(super) async fn insert(
    tx: &mut Transaction<'static, Any>,
    user_id: &str,
    groups: &BTreeSet<GroupName>,
) -> anyhow::Result<()> {
    for group in groups {
        // Delete then insert: portable between SQLite and PostgreSQL, unlike the two dialects'
        // upserts, and idempotent inside the transaction.
        sqlx::query("DELETE FROM user_groups WHERE user_id = $1 AND group_name = $2")
            .bind(user_id)
            .bind(group.as_str())
            .execute(&mut **tx)
            .await?;
        sqlx::query("INSERT INTO user_groups (user_id, group_name) VALUES ($1, $2)")
            .bind(user_id)
            .bind(group.as_str())
            .execute(&mut **tx)
            .await
            .context("cannot add group membership")?;
    }
    Ok(())
}

/// Deletes the memberships of `user_id` in `groups`, or in every group when `groups` is `None`.
pub(super) async fn delete(
    tx: &mut Transaction<'static, Any>,
    user_id: &str,
    groups: Option<&BTreeSet<GroupName>>,
) -> anyhow::Result<()> {
    match groups {
        None => {
            sqlx::query("DELETE FROM user_groups WHERE user_id = $1")
                .bind(user_id)
                .execute(&mut **tx)
                .await
                .context("cannot remove group memberships")?;
        }
        Some(groups) => {
            for group in groups {
                sqlx::query("DELETE FROM user_groups WHERE user_id = $1 AND group_name = $2")
                    .bind(user_id)
                    .bind(group.as_str())
                    .execute(&mut **tx)
                    .await
                    .context("cannot remove group membership")?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_plain_ascii_without_separators() {
        assert!(GroupName::parse("admins").is_ok());
        assert!(GroupName::parse("team.ops-2_b").is_ok());
        for bad in ["", "a,b", "a b", "ünïcode", "a;b", "a\nb", &"g".repeat(65)] {
            assert!(GroupName::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn lists_are_comma_separated_sets() {
        let list = GroupName::parse_list("staff, admins,,staff").unwrap();
        let names: Vec<&str> = list.iter().map(GroupName::as_str).collect();
        assert_eq!(names, ["admins", "staff"]);
        assert!(GroupName::parse_list("").unwrap().is_empty());
        assert!(GroupName::parse_list("ok,not ok").is_err());
    }
}
