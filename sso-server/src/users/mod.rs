//! Users in SQL: accounts, their password hashes, whether they are disabled, and their groups.

mod groups;
mod password;

use std::collections::BTreeSet;

pub use groups::GroupName;
pub use password::{Password, PasswordHasher};

use anyhow::Context as _;
use serde::{Deserialize, Serialize};
use sqlx::{AnyPool, Row as _};

use crate::crypto::random_id;
use crate::db::now_ms;
use crate::domain::Username;

/// A user as the rest of the center sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// Stable identifier; the `sub` of tokens.
    pub id: String,
    pub username: String,
    pub name: String,
    pub email: String,
    pub disabled: bool,
}

/// Why a user could not be added.
#[derive(Debug, thiserror::Error)]
pub enum AddUserError {
    #[error("a user named {0} already exists")]
    Exists(String),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// A user's profile fields.
#[derive(Clone, Debug)]
pub struct NewUser {
    pub username: Username,
    pub name: String,
    pub email: String,
}

/// A change to a user's groups.
#[derive(Clone, Debug)]
pub enum GroupChange {
    /// The user is in exactly these groups.
    Set(BTreeSet<GroupName>),
    /// The user is in these groups too.
    Add(BTreeSet<GroupName>),
    /// The user is no longer in these groups.
    Remove(BTreeSet<GroupName>),
}

impl GroupChange {
    /// The change as the audit trail names it.
    pub fn action(&self) -> &'static str {
        match self {
            Self::Set(_) => "set_groups",
            Self::Add(_) => "add_groups",
            Self::Remove(_) => "remove_groups",
        }
    }
}

/// The users table.
#[derive(Clone, Debug)]
pub struct UserStore {
    pool: AnyPool,
}

const COLUMNS: &str = "id, username, name, email, disabled";

fn user_from(row: &sqlx::any::AnyRow) -> Result<User, sqlx::Error> {
    Ok(User {
        id: row.try_get("id")?,
        username: row.try_get("username")?,
        name: row.try_get("name")?,
        email: row.try_get("email")?,
        disabled: row.try_get::<i64, _>("disabled")? != 0,
    })
}

impl UserStore {
    /// The users in `pool`.
    pub fn new(pool: AnyPool) -> Self {
        Self { pool }
    }

    /// Adds a user with an already hashed password.
    ///
    /// # Errors
    /// [`AddUserError::Exists`] when the username is taken.
    pub async fn add(&self, user: NewUser, password_hash: String) -> Result<User, AddUserError> {
        if self.find(&user.username).await?.is_some() {
            return Err(AddUserError::Exists(user.username.as_str().to_owned()));
        }
        let id = random_id();
        sqlx::query(
            "INSERT INTO users (id, username, name, email, password_hash, disabled, created_at) \
             VALUES ($1, $2, $3, $4, $5, 0, $6)",
        )
        .bind(&id)
        .bind(user.username.as_str())
        .bind(&user.name)
        .bind(&user.email)
        .bind(password_hash)
        .bind(now_ms())
        .execute(&self.pool)
        .await
        .map_err(|e| match e.as_database_error() {
            Some(db) if db.is_unique_violation() => {
                AddUserError::Exists(user.username.as_str().to_owned())
            }
            _ => AddUserError::Unexpected(anyhow::Error::new(e).context("cannot insert user")),
        })?;
        Ok(User {
            id,
            username: user.username.as_str().to_owned(),
            name: user.name,
            email: user.email,
            disabled: false,
        })
    }

    /// The user named `username`.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn find(&self, username: &Username) -> anyhow::Result<Option<User>> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM users WHERE username = $1"))
            .bind(username.as_str())
            .fetch_optional(&self.pool)
            .await
            .context("cannot load user")?;
        row.as_ref().map(user_from).transpose().map_err(Into::into)
    }

    /// The user named `username` with their password hash.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn find_with_hash(
        &self,
        username: &Username,
    ) -> anyhow::Result<Option<(User, String)>> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS}, password_hash FROM users WHERE username = $1"
        ))
        .bind(username.as_str())
        .fetch_optional(&self.pool)
        .await
        .context("cannot load user")?;
        row.map(|row| Ok((user_from(&row)?, row.try_get("password_hash")?)))
            .transpose()
    }

    /// The user with id `id`.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn get(&self, id: &str) -> anyhow::Result<Option<User>> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM users WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .context("cannot load user")?;
        row.as_ref().map(user_from).transpose().map_err(Into::into)
    }

    /// All users, by username.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn list(&self) -> anyhow::Result<Vec<User>> {
        let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM users ORDER BY username"))
            .fetch_all(&self.pool)
            .await
            .context("cannot list users")?;
        rows.iter()
            .map(user_from)
            .collect::<Result<_, _>>()
            .map_err(Into::into)
    }

    /// Replaces a user's password hash; returns whether the user exists.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn set_password_hash(
        &self,
        username: &Username,
        password_hash: String,
    ) -> anyhow::Result<bool> {
        let done = sqlx::query("UPDATE users SET password_hash = $1 WHERE username = $2")
            .bind(password_hash)
            .bind(username.as_str())
            .execute(&self.pool)
            .await
            .context("cannot update password")?;
        Ok(done.rows_affected() == 1)
    }

    /// Disables or re-enables a user; returns whether the user exists.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn set_disabled(&self, username: &Username, disabled: bool) -> anyhow::Result<bool> {
        let done = sqlx::query("UPDATE users SET disabled = $1 WHERE username = $2")
            .bind(i64::from(disabled))
            .bind(username.as_str())
            .execute(&self.pool)
            .await
            .context("cannot update user")?;
        Ok(done.rows_affected() == 1)
    }

    /// The groups of the user with id `user_id`, sorted.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn groups(&self, user_id: &str) -> anyhow::Result<Vec<GroupName>> {
        groups::of_user(&self.pool, user_id).await
    }

    /// Changes the groups of `username`, in one transaction; returns the user and their groups
    /// afterwards, or `None` when there is no such user.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn change_groups(
        &self,
        username: &Username,
        change: &GroupChange,
    ) -> anyhow::Result<Option<(User, Vec<GroupName>)>> {
        let Some(user) = self.find(username).await? else {
            return Ok(None);
        };
        let mut tx = self.pool.begin().await?;
        match change {
            GroupChange::Set(groups) => {
                groups::delete(&mut tx, &user.id, None).await?;
                groups::insert(&mut tx, &user.id, groups).await?;
            }
            GroupChange::Add(groups) => groups::insert(&mut tx, &user.id, groups).await?,
            GroupChange::Remove(groups) => groups::delete(&mut tx, &user.id, Some(groups)).await?,
        }
        tx.commit().await.context("cannot change groups")?;
        let groups = self.groups(&user.id).await?;
        Ok(Some((user, groups)))
    }
}
