//! What an administrator can do, whichever way they ask (the admin API, the admin console or
//! the command line): each action makes the change, ends what the change must end (sessions,
//! with single logout), and writes who did it to the audit trail.
//!
//! The actor is `admin-api` for the JSON API, `cli` for the command line, and the signed-in
//! administrator's username for the console.

use crate::audit::{Entry, Event};
use crate::clients::{NewClient, UriChange};
use crate::domain::{ClientId, Username};
use crate::slo::EndReason;
use crate::state::AppState;
use crate::users::{AddUserError, GroupChange, GroupName, NewUser, Password, User};

/// The actor of the admin API.
pub const API_ACTOR: &str = "admin-api";
/// The actor of the command line.
pub const CLI_ACTOR: &str = "cli";

/// An `admin_action` audit entry for `action` by `actor`.
pub fn action(actor: &str, action: &str) -> Entry {
    Entry::new(Event::AdminAction)
        .actor(actor)
        .with("action", action)
}

/// A `client_changed` audit entry for `action` on client `id` by `actor`.
pub fn client_changed(actor: &str, id: &str, action: &str) -> Entry {
    Entry::new(Event::ClientChanged)
        .actor(actor)
        .client(id)
        .with("action", action)
}

/// Ends session `sid` (single logout follows); `false` when it had already ended.
///
/// # Errors
/// When the store or the database fails.
pub async fn end_session(state: &AppState, actor: &str, sid: &str) -> anyhow::Result<bool> {
    let ended = state.sessions.end(sid, EndReason::AdminKill).await?;
    if ended {
        let entry = action(actor, "end_session").with("sid", sid);
        state.audit.record(entry).await;
    }
    Ok(ended)
}

/// Ends every session of `user` (single logout follows); returns how many were live.
///
/// # Errors
/// When the store or the database fails.
pub async fn end_user_sessions(
    state: &AppState,
    actor: &str,
    user: &User,
) -> anyhow::Result<usize> {
    let ended = state
        .sessions
        .end_all_for_user(&user.id, EndReason::AdminKill)
        .await?;
    let entry = action(actor, "end_user_sessions")
        .user(user.username.as_str())
        .with("ended", ended);
    state.audit.record(entry).await;
    Ok(ended)
}

/// Removes every second factor of `user` (TOTP, passkeys, recovery codes) and ends the user's
/// sessions (single logout follows), with their session-bound refresh tokens; returns
/// whether the user had any factor and how many sessions ended. The user signs in with the
/// password again, and enrolls afresh where a second factor is required.
///
/// # Errors
/// When the store or the database fails.
pub async fn reset_factors(
    state: &AppState,
    actor: &str,
    user: &User,
) -> anyhow::Result<(bool, usize)> {
    let had = state.factors.reset(&user.id).await?;
    let ended = state
        .sessions
        .end_all_for_user(&user.id, EndReason::FactorsChanged)
        .await?;
    let entry = Entry::new(Event::FactorsReset)
        .actor(actor)
        .user(user.username.as_str())
        .with("had_factors", had)
        .with("sessions_ended", ended);
    state.audit.record(entry).await;
    tracing::warn!(
        username = user.username,
        actor,
        had_factors = had,
        sessions_ended = ended,
        "second factors reset"
    );
    Ok((had, ended))
}

/// Applies `change` to the groups of `username`; returns the user and their groups afterwards,
/// `None` when there is no such user. The user's forward-auth sessions end, so protected hosts
/// see the new groups at the next request.
///
/// # Errors
/// When the store or the database fails.
pub async fn change_groups(
    state: &AppState,
    actor: &str,
    username: &Username,
    change: &GroupChange,
) -> anyhow::Result<Option<(User, Vec<GroupName>)>> {
    let Some((user, groups)) = state.users.change_groups(username, change).await? else {
        return Ok(None);
    };
    state.forward_auth.sessions.end_for_user(&user.id).await?;
    let entry = action(actor, change.action())
        .user(user.username.as_str())
        .with(
            "groups",
            groups.iter().map(GroupName::as_str).collect::<Vec<_>>(),
        );
    state.audit.record(entry).await;
    Ok(Some((user, groups)))
}

/// Adds a user with `password`.
///
/// # Errors
/// [`AddUserError::Exists`] when the username is taken.
pub async fn add_user(
    state: &AppState,
    actor: &str,
    user: NewUser,
    password: Password,
) -> Result<User, AddUserError> {
    let hash = state.hasher.hash(password).await?;
    let user = state.users.add(user, hash).await?;
    let entry = action(actor, "add_user").user(user.username.as_str());
    state.audit.record(entry).await;
    Ok(user)
}

/// Sets the password of `username` and ends their sessions; returns how many ended, `None`
/// when there is no such user.
///
/// # Errors
/// When hashing, the store or the database fails.
pub async fn set_password(
    state: &AppState,
    actor: &str,
    username: &Username,
    password: Password,
) -> anyhow::Result<Option<usize>> {
    let hash = state.hasher.hash(password).await?;
    if !state.users.set_password_hash(username, hash).await? {
        return Ok(None);
    }
    let entry = Entry::new(Event::PasswordChanged)
        .actor(actor)
        .user(username.as_str());
    state.audit.record(entry).await;
    end_sessions(state, username, EndReason::PasswordChanged).await
}

/// Disables `username` and ends their sessions, or enables them again; returns how many
/// sessions ended, `None` when there is no such user.
///
/// # Errors
/// When the store or the database fails.
pub async fn set_disabled(
    state: &AppState,
    actor: &str,
    username: &Username,
    disabled: bool,
) -> anyhow::Result<Option<usize>> {
    if !state.users.set_disabled(username, disabled).await? {
        return Ok(None);
    }
    let name = if disabled {
        "disable_user"
    } else {
        "enable_user"
    };
    state
        .audit
        .record(action(actor, name).user(username.as_str()))
        .await;
    if disabled {
        end_sessions(state, username, EndReason::UserDisabled).await
    } else {
        Ok(Some(0))
    }
}

async fn end_sessions(
    state: &AppState,
    username: &Username,
    reason: EndReason,
) -> anyhow::Result<Option<usize>> {
    let Some(user) = state.users.find(username).await? else {
        return Ok(None);
    };
    Ok(Some(
        state.sessions.end_all_for_user(&user.id, reason).await?,
    ))
}

/// Registers `client` in the database (replacing one with the same id).
///
/// # Errors
/// When the client is inconsistent, configured, or the database fails.
pub async fn register_client(
    state: &AppState,
    actor: &str,
    client: NewClient,
) -> anyhow::Result<()> {
    let id = client.id.clone();
    state.clients.upsert(client).await?;
    state
        .audit
        .record(client_changed(actor, id.as_str(), "register"))
        .await;
    Ok(())
}

/// Replaces the redirect, post-logout and back-channel URIs of database client `id`; `false`
/// when there is no such client.
///
/// # Errors
/// When the client is configured, would be inconsistent, or the database fails.
pub async fn change_client_uris(
    state: &AppState,
    actor: &str,
    id: &ClientId,
    uris: &UriChange,
) -> anyhow::Result<bool> {
    let changed = state.clients.change_uris(id, uris).await?;
    if changed {
        state
            .audit
            .record(client_changed(actor, id.as_str(), "change_uris"))
            .await;
    }
    Ok(changed)
}

/// Gives database client `id` a new generated secret and returns it (the only time it is
/// readable: the center keeps a digest); `None` when there is no such client.
///
/// # Errors
/// When the client is configured or the database fails.
pub async fn rotate_client_secret(
    state: &AppState,
    actor: &str,
    id: &ClientId,
) -> anyhow::Result<Option<String>> {
    let secret = generate_secret();
    if !state.clients.set_secret(id, &secret).await? {
        return Ok(None);
    }
    state
        .audit
        .record(client_changed(actor, id.as_str(), "rotate_secret"))
        .await;
    Ok(Some(secret))
}

/// Makes single-logout delivery `id` due now (a given-up one gets one more attempt)
/// and wakes the delivery worker; `false` when it does not exist or was delivered.
///
/// # Errors
/// When the database fails.
pub async fn retry_delivery(state: &AppState, actor: &str, id: &str) -> anyhow::Result<bool> {
    let Some(delivery) = state.outbox.retry_now(id).await? else {
        return Ok(false);
    };
    state.sessions.wake_single_logout();
    let entry = action(actor, "retry_delivery")
        .client(&delivery.client_id)
        .with("sid", delivery.sid.as_str())
        .with("delivery", delivery.id.as_str());
    state.audit.record(entry).await;
    Ok(true)
}

/// A fresh secret: 256 random bits, URL-safe base64.
pub fn generate_secret() -> String {
    format!(
        "{}{}",
        crate::crypto::random_id(),
        crate::crypto::random_id()
    )
}
