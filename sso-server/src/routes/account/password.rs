//! `POST /account/password`: the signed-in user changes their password.
//!
//! The current password is checked like a sign-in: against the login budgets of
//! [`crate::throttle`] before it is hashed, so the form is no way around them to guess
//! passwords. The new password follows the rule the console and the command line apply. Once
//! it is stored, every other session of the user ends with single logout, and so do the user's
//! offline refresh tokens, which outlive sessions but not the credentials they were granted
//! on; the session that made the change stays.

use std::ops::RangeInclusive;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use anyhow::Context as _;
use serde::Deserialize;
use session_store::IndexTag;

use super::{Account, AccountError, Pick, SIGN_IN, add_cookie, render};
use crate::audit::Event;
use crate::domain::Username;
use crate::error::Page;
use crate::slo::EndReason;
use crate::state::AppState;
use crate::throttle::device::DEVICE_COOKIE;
use crate::users::Password;
use crate::web as webutil;

/// How many characters a new password may have: the rule of the console and the CLI.
const PASSWORD_CHARS: RangeInclusive<usize> = 8..=1024;

/// The submitted form.
#[derive(Deserialize)]
pub struct PasswordForm {
    csrf_token: Option<String>,
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    new_password: String,
    #[serde(default)]
    repeat_password: String,
}

impl std::fmt::Debug for PasswordForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordForm").finish_non_exhaustive()
    }
}

/// Why a new password is refused before anything is checked.
fn refusal(form: &PasswordForm) -> Option<Pick> {
    if !PASSWORD_CHARS.contains(&form.new_password.chars().count()) {
        Some(|t| t.account.password_length)
    } else if form.new_password != form.repeat_password {
        Some(|t| t.account.passwords_differ)
    } else {
        None
    }
}

/// `POST /account/password`
pub async fn change_password(
    req: HttpRequest,
    form: web::Form<PasswordForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Page<AccountError>> {
    handle(&req, form.into_inner(), &state)
        .await
        .map_err(|error| Page::new(&req, error.into()))
}

async fn handle(
    req: &HttpRequest,
    form: PasswordForm,
    state: &AppState,
) -> anyhow::Result<HttpResponse> {
    let Some(account) = Account::of(req, state).await? else {
        return Ok(webutil::see_other(SIGN_IN));
    };
    let refuse = |status, error: Pick| render(req, state, &account, status, None, Some(error));
    if !account.csrf_ok(req, state, form.csrf_token.as_deref()) {
        return refuse(StatusCode::FORBIDDEN, |t| t.form_expired).await;
    }
    if let Some(error) = refusal(&form) {
        return refuse(StatusCode::BAD_REQUEST, error).await;
    }
    let username = Username::parse(&account.user.username)
        .map_err(|_| anyhow::anyhow!("a stored username does not parse"))?;
    let ip = webutil::client_ip(req, &state.settings.login.trusted_proxies);
    let device_cookie = req.cookie(DEVICE_COOKIE);
    let admitted = state
        .throttle
        .admit(
            ip,
            Some(&username),
            device_cookie.as_ref().map(|cookie| cookie.value()),
        )
        .await?;
    let admitted = match admitted {
        Ok(admitted) => admitted,
        Err(limited) => {
            tracing::warn!(%ip, username = username.as_str(), "password change limited");
            let mut response =
                refuse(StatusCode::TOO_MANY_REQUESTS, |t| t.too_many_attempts).await?;
            response.headers_mut().insert(
                header::RETRY_AFTER,
                header::HeaderValue::from(limited.retry_after.as_secs()),
            );
            return Ok(response);
        }
    };
    let hash = state
        .users
        .find_with_hash(&username)
        .await?
        .map(|(_, hash)| hash);
    let verified = state
        .hasher
        .verify(hash, Password::new(form.current_password))
        .await?;
    if !verified {
        // The attempt was charged when it was admitted.
        tracing::info!(%ip, username = username.as_str(), "password change: wrong current password");
        return refuse(StatusCode::UNAUTHORIZED, |t| {
            t.account.wrong_current_password
        })
        .await;
    }
    let device = state.throttle.succeeded(admitted, &username).await?;
    let new_hash = state.hasher.hash(Password::new(form.new_password)).await?;
    if !state.users.set_password_hash(&username, new_hash).await? {
        anyhow::bail!("the signed-in user is gone");
    }
    let ended = end_other_sessions(state, &account).await?;
    let entry = webutil::audit_entry(
        req,
        &state.settings.login.trusted_proxies,
        Event::PasswordChanged,
    )
    .user(username.as_str())
    .with("sid", account.session.sid.as_str())
    .with("ended", ended);
    state.audit.record(entry).await;
    tracing::info!(
        username = username.as_str(),
        ended,
        "password changed by its user"
    );
    let mut response = render(
        req,
        state,
        &account,
        StatusCode::OK,
        Some(|t| t.account.password_changed),
        None,
    )
    .await?;
    add_cookie(&mut response, Some(device));
    Ok(response)
}

/// Ends every session of the account's user but its own (with single logout), and forgets the
/// user's offline refresh and access tokens; returns how many sessions ended.
async fn end_other_sessions(state: &AppState, account: &Account) -> anyhow::Result<usize> {
    let ended = crate::routes::factors::end_other_sessions(
        state,
        &account.user.id,
        &account.session.sid,
        EndReason::PasswordChanged,
    )
    .await?;
    let offline = IndexTag::new(crate::tokens::OFFLINE_USER_TAG, &account.user.id)
        .context("invalid index tag")?;
    state.store.delete_by_tag(&offline).await?;
    Ok(ended)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(new: &str, repeat: &str) -> PasswordForm {
        PasswordForm {
            csrf_token: None,
            current_password: "old".to_owned(),
            new_password: new.to_owned(),
            repeat_password: repeat.to_owned(),
        }
    }

    #[test]
    fn new_passwords_follow_the_consoles_rule_and_must_be_repeated() {
        let t = crate::i18n::texts(crate::domain::Language::English);
        let pick = |form: PasswordForm| refusal(&form).map(|pick| pick(t));
        assert_eq!(pick(form("8 chars!", "8 chars!")), None);
        assert_eq!(pick(form("密码密码密码密码", "密码密码密码密码")), None);
        assert_eq!(
            pick(form("7 chars", "7 chars")),
            Some(t.account.password_length)
        );
        let long = "x".repeat(1025);
        assert_eq!(pick(form(&long, &long)), Some(t.account.password_length));
        assert_eq!(
            pick(form("long enough", "long enougH")),
            Some(t.account.passwords_differ)
        );
    }

    #[test]
    fn passwords_are_not_shown() {
        let shown = format!("{:?}", form("hunter2hunter2", "hunter2hunter2"));
        assert!(
            !shown.contains("hunter2") && !shown.contains("old"),
            "{shown}"
        );
    }
}
