//! A local session's tokens: kept server-side, used to sign out, to refresh and to re-check.
//!
//! Server-side backends keep the tokens in the session record. Cookie sessions keep them in a
//! record of their shared store (the "vault", tagged like the session so single logout deletes
//! it) whose key the cookie carries, so a refresh token never reaches the browser and the
//! cookie stays small. Cookies sealed by earlier releases carry the id and access tokens
//! inline; they are read from there.
//!
//! Refresh tokens rotate at the center, and presenting one twice revokes its whole family
//! (RFC 9700 §4.14.2), so two nodes must never use the same one: before using a refresh token a
//! node claims it in the shared counters, and a node that finds it claimed waits for the
//! successor instead.

use std::time::Duration;

use aws_lc_rs::digest;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use session_store::{Expiry, Record, Session, SessionKey};

use super::{CHECKED_KEY, SsoClient, VAULT_KEY};
use crate::Error;
use crate::center::TokenKind;
use crate::recheck::Verdict;
use crate::tokens::access_token::{self, AccessToken};

const ID_TOKEN_KEY: &str = "id_token";
const ACCESS_TOKEN_KEY: &str = "access_token";
const REFRESH_TOKEN_KEY: &str = "refresh_token";

/// How long a claim on a refresh token holds other nodes off.
const CLAIM_WINDOW: Duration = Duration::from_secs(60);
/// How long [`SsoClient::refresh`] waits for another node's refresh of the same session.
const WAIT_FOR_OTHER_NODE: Duration = Duration::from_secs(3);

/// The tokens of one local session.
#[derive(Clone, Default)]
pub(crate) struct Tokens {
    pub(crate) id_token: Option<String>,
    pub(crate) access_token: Option<String>,
    pub(crate) refresh_token: Option<String>,
}

impl Tokens {
    fn read(record: &Record) -> Self {
        Self {
            id_token: record.get(ID_TOKEN_KEY),
            access_token: record.get(ACCESS_TOKEN_KEY),
            refresh_token: record.get(REFRESH_TOKEN_KEY),
        }
    }

    /// These tokens after a refresh answered `fresh`: what it brought replaces what it
    /// replaces, the rest stays.
    fn refreshed(self, fresh: crate::center::TokenResponse) -> Self {
        Self {
            id_token: fresh.id_token.or(self.id_token),
            access_token: fresh.access_token.or(self.access_token),
            refresh_token: fresh.refresh_token.or(self.refresh_token),
        }
    }

    fn write(&self, record: &mut Record) -> Result<(), Error> {
        for (name, value) in [
            (ID_TOKEN_KEY, &self.id_token),
            (ACCESS_TOKEN_KEY, &self.access_token),
            (REFRESH_TOKEN_KEY, &self.refresh_token),
        ] {
            match value {
                Some(value) => record.insert(name, value)?,
                None => {
                    record.remove(name);
                }
            }
        }
        Ok(())
    }
}

/// Access tokens at most this long (opaque ones) also travel in a session cookie, so a node
/// that cannot reach the vault can still re-check the session.
const INLINE_ACCESS_TOKEN_MAX: usize = 256;

/// Where a session's tokens were found.
enum Holder {
    /// In the session record itself (server-side backends, and cookies that cannot reach
    /// their vault record: those hold the access token at most).
    Inline,
    /// In this vault record.
    Vault(Session),
}

impl SsoClient {
    /// Puts `tokens` where the backend keeps them: into `record`, or into a new vault record
    /// named in `record`.
    pub(super) async fn keep_tokens(
        &self,
        record: &mut Record,
        tokens: Tokens,
        checked_at: u64,
    ) -> Result<(), Error> {
        let Some(vault) = &self.inner.sessions.vault else {
            return tokens.write(record);
        };
        // The vault record lives as long as the session can, however it is used: the cookie
        // session slides its own idle deadline without touching the vault.
        let lifetime = self.inner.expiry.absolute();
        let mut held = Record::new(Expiry::new(lifetime, lifetime));
        for tag in record.tags() {
            held.tag(tag.clone());
        }
        tokens.write(&mut held)?;
        held.insert(CHECKED_KEY, checked_at)?;
        let kept = vault.create(held).await?;
        record.insert(VAULT_KEY, kept.key().as_str())?;
        inline_access_token(record, tokens.access_token.as_deref())
    }

    /// The tokens of `session`, and where they were found: in its vault record when it names
    /// one that is there, in the session record otherwise.
    async fn tokens_of(&self, session: &Session) -> Result<(Tokens, Holder), Error> {
        let named = session
            .record()
            .get::<String>(VAULT_KEY)
            .as_deref()
            .and_then(SessionKey::parse);
        if let (Some(vault), Some(key)) = (&self.inner.sessions.vault, named)
            && let Some(held) = vault.load(&key).await?
        {
            return Ok((Tokens::read(held.record()), Holder::Vault(held)));
        }
        Ok((Tokens::read(session.record()), Holder::Inline))
    }

    /// Forgets the tokens of a session that is being signed out: deletes its vault record and
    /// revokes its refresh token at the center (best effort: the center also ends the refresh
    /// tokens of a session it ends). Returns the id token, for the end-session request.
    pub(super) async fn drop_tokens(&self, session: &Session) -> Result<Option<String>, Error> {
        let (tokens, holder) = self.tokens_of(session).await?;
        if let (Holder::Vault(held), Some(vault)) = (&holder, &self.inner.sessions.vault) {
            vault.delete(held.key()).await?;
        }
        if let Some(refresh_token) = &tokens.refresh_token
            && let Err(error) = self
                .inner
                .center
                .revoke(refresh_token, TokenKind::Refresh)
                .await
        {
            tracing::warn!(%error, "could not revoke the refresh token of a session signed out");
        }
        Ok(tokens.id_token)
    }

    /// Asks the center whether `session` is still backed by a live center session; returns
    /// whether it stays. With a refresh token the question is a refresh (the tokens rotate);
    /// without one, the access token is shown to the userinfo endpoint. A session the center
    /// cannot vouch for right now (center down, no token to ask with) stays: availability wins
    /// over the re-check. Concurrent requests of one session share one question on this node
    /// ([`crate::recheck::Rechecks`]), and nodes never use one refresh token twice.
    pub(super) async fn recheck(&self, session: &mut Session) -> Result<bool, Error> {
        let (tokens, holder) = self.tokens_of(session).await?;
        let now = jsonwebtoken::get_current_timestamp();
        let interval = self.inner.config.session.recheck_secs;
        let flight = match (&holder, &tokens.access_token) {
            (Holder::Vault(held), _) => held.key().as_str().to_owned(),
            (Holder::Inline, Some(access_token)) => access_token.clone(),
            (Holder::Inline, None) => return Ok(true),
        };
        // Another node may have asked already, and left the answer with the tokens.
        if let Holder::Vault(held) = &holder
            && let Some(at) = held.record().get::<u64>(CHECKED_KEY)
            && now.saturating_sub(at) < interval
        {
            return self.confirmed(session, at).await;
        }
        let ask = || async move {
            match (holder, &tokens.refresh_token) {
                (Holder::Vault(held), Some(refresh_token)) => {
                    self.rotate(held, tokens.clone(), refresh_token, now).await
                }
                _ => self.ask_userinfo(tokens.access_token.as_deref(), now).await,
            }
        };
        match self
            .inner
            .rechecks
            .verdict(&flight, now, interval, ask)
            .await
        {
            Verdict::Confirmed(at) => {
                // The cookie carries the access token the refresh brought, if short.
                if self.inner.sessions.vault.is_some()
                    && let (Tokens { access_token, .. }, Holder::Vault(_)) =
                        self.tokens_of(session).await?
                {
                    inline_access_token(session.record_mut(), access_token.as_deref())?;
                }
                self.confirmed(session, at).await
            }
            Verdict::Ended => {
                tracing::info!("the center no longer honours a cookie session; ending it");
                Ok(false)
            }
            Verdict::Unknown => Ok(true),
        }
    }

    async fn confirmed(&self, session: &mut Session, at: u64) -> Result<bool, Error> {
        session.record_mut().insert(CHECKED_KEY, at)?;
        Ok(self.inner.sessions.store.update(session).await?)
    }

    async fn ask_userinfo(&self, access_token: Option<&str>, now: u64) -> Verdict {
        let Some(access_token) = access_token else {
            return Verdict::Unknown;
        };
        match self.inner.center.access_token_valid(access_token).await {
            Ok(true) => Verdict::Confirmed(now),
            Ok(false) => Verdict::Ended,
            Err(error) => {
                tracing::warn!(%error, "cannot re-check a cookie session; keeping it for now");
                Verdict::Unknown
            }
        }
    }

    /// Uses `refresh_token` once (claiming it first, so no other node does) and keeps the
    /// rotated tokens in `held`.
    async fn rotate(
        &self,
        mut held: Session,
        tokens: Tokens,
        refresh_token: &str,
        now: u64,
    ) -> Verdict {
        match self.use_refresh_token(refresh_token).await {
            Ok(Some(fresh)) => {
                let tokens = tokens.refreshed(fresh);
                let kept = async {
                    tokens.write(held.record_mut())?;
                    held.record_mut().insert(CHECKED_KEY, now)?;
                    self.vault()?.update(&mut held).await.map_err(Error::from)
                };
                match kept.await {
                    Ok(_) => Verdict::Confirmed(now),
                    Err(error) => {
                        tracing::error!(%error, "could not keep the refreshed tokens of a session");
                        Verdict::Unknown
                    }
                }
            }
            // Claimed by another node: its answer arrives with the tokens.
            Ok(None) => Verdict::Unknown,
            Err(Error::Refused(reason)) => {
                tracing::info!(reason, "the center refused to refresh a session's tokens");
                Verdict::Ended
            }
            Err(error) => {
                tracing::warn!(%error, "cannot refresh a session's tokens; keeping it for now");
                Verdict::Unknown
            }
        }
    }

    /// The store of vault records (there is one whenever a [`Holder::Vault`] was found).
    fn vault(&self) -> Result<&dyn session_store::SessionIndex, Error> {
        self.inner
            .sessions
            .vault
            .as_deref()
            .ok_or_else(|| Error::Config("no store for the tokens of cookie sessions".to_owned()))
    }

    /// Exchanges `refresh_token` at the center unless another node already claimed it
    /// (`Ok(None)`). A failure before the center could have used the token (no connection,
    /// circuit open) releases the claim, so the token is tried again.
    async fn use_refresh_token(
        &self,
        refresh_token: &str,
    ) -> Result<Option<crate::center::TokenResponse>, Error> {
        let digest = digest::digest(&digest::SHA256, refresh_token.as_bytes());
        let claim = format!("refresh-claim:{}", URL_SAFE_NO_PAD.encode(digest.as_ref()));
        let counters = &self.inner.sessions.counters;
        if counters.increment(&claim, CLAIM_WINDOW).await? > 1 {
            return Ok(None);
        }
        let answer = self.inner.center.refresh(refresh_token).await;
        if let Err(Error::CircuitOpen) = &answer {
            counters.reset(&claim).await?;
        }
        answer.map(Some)
    }

    /// The access token of the signed-in session under `key`, to call an API as the user:
    /// `None` when there is no such session or it holds no access token. Call
    /// [`SsoClient::refresh`] when the API refuses it as expired.
    ///
    /// # Errors
    /// When the session store fails.
    pub async fn access_token(&self, key: &SessionKey) -> Result<Option<String>, Error> {
        let Some(session) = self.inner.sessions.store.load(key).await? else {
            return Ok(None);
        };
        Ok(self.tokens_of(&session).await?.0.access_token)
    }

    /// Refreshes the tokens of the signed-in session under `key` with its refresh token and
    /// returns the new access token; `None` when there is no such session or it has no refresh
    /// token. The refresh token rotates (the old one is never used again, on any node); if
    /// another node is refreshing the same session right now, this waits for its result.
    ///
    /// # Errors
    /// [`Error::Refused`] when the center refuses (the center session ended, or the token was
    /// revoked: the user must sign in again), [`Error::CenterUnavailable`] or
    /// [`Error::CircuitOpen`] when it cannot be asked, store failures.
    pub async fn refresh(&self, key: &SessionKey) -> Result<Option<String>, Error> {
        let Some(mut session) = self.inner.sessions.store.load(key).await? else {
            return Ok(None);
        };
        let (tokens, holder) = self.tokens_of(&session).await?;
        let Some(refresh_token) = tokens.refresh_token.clone() else {
            return Ok(None);
        };
        let Some(fresh) = self.use_refresh_token(&refresh_token).await? else {
            return self.successor(&session, &refresh_token).await;
        };
        let tokens = tokens.refreshed(fresh);
        let now = jsonwebtoken::get_current_timestamp();
        match holder {
            Holder::Vault(mut held) => {
                tokens.write(held.record_mut())?;
                held.record_mut().insert(CHECKED_KEY, now)?;
                self.vault()?.update(&mut held).await?;
            }
            Holder::Inline => {
                tokens.write(session.record_mut())?;
                self.inner.sessions.store.update(&mut session).await?;
            }
        }
        Ok(tokens.access_token)
    }

    /// The access token another node obtains by using `used`, once it has kept it.
    async fn successor(&self, session: &Session, used: &str) -> Result<Option<String>, Error> {
        let deadline = tokio::time::Instant::now() + WAIT_FOR_OTHER_NODE;
        while tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let current = match self.inner.sessions.vault {
                Some(_) => self.tokens_of(session).await?.0,
                None => match self.inner.sessions.store.load(session.key()).await? {
                    Some(session) => self.tokens_of(&session).await?.0,
                    None => return Ok(None),
                },
            };
            if current.refresh_token.as_deref() != Some(used) {
                return Ok(current.access_token);
            }
        }
        Err(Error::CenterUnavailable(Some(
            "another node's refresh of this session did not finish".into(),
        )))
    }

    /// Revokes `token` at the center (RFC 7009, authenticated as this client). Revoking a
    /// refresh token revokes its whole family and their access tokens.
    ///
    /// # Errors
    /// [`Error::CenterProtocol`] when the center offers no revocation, [`Error::Refused`] when
    /// it refuses this client, [`Error::CenterUnavailable`] or [`Error::CircuitOpen`] when it
    /// cannot be asked.
    pub async fn revoke(&self, token: &str, kind: TokenKind) -> Result<(), Error> {
        self.inner.center.revoke(token, kind).await
    }

    /// Verifies a JWT access token (RFC 9068) presented to this app's API, locally: the
    /// signature against the center's cached JWKS (fetched again when a new key id appears),
    /// `typ: at+jwt`, `iss`, `aud` naming this client, `exp`. No call to the center per token,
    /// so a token stays accepted until it expires even if its session ended; use
    /// [`SsoClient::introspect`] where that matters.
    ///
    /// # Errors
    /// [`Error::InvalidAccessToken`] for a token that fails any check, center failures when
    /// the keys cannot be fetched.
    pub async fn verify_access_token(&self, token: &str) -> Result<AccessToken, Error> {
        let keys = self.inner.center.keys_for(token).await?;
        access_token::verify(
            token,
            &keys,
            self.inner.center.issuer(),
            &self.inner.config.client_id,
            jsonwebtoken::get_current_timestamp(),
        )
        .map_err(Error::InvalidAccessToken)
    }
}

/// Puts `access_token` into a cookie session's record if it is short enough, so nodes without
/// the vault can re-check with it; a long (JWT) one stays in the vault only.
fn inline_access_token(record: &mut Record, access_token: Option<&str>) -> Result<(), Error> {
    match access_token.filter(|token| token.len() <= INLINE_ACCESS_TOKEN_MAX) {
        Some(token) => record.insert(ACCESS_TOKEN_KEY, token)?,
        None => {
            record.remove(ACCESS_TOKEN_KEY);
        }
    }
    Ok(())
}
