//! The framework-neutral core: sign-in, local sessions, logout and single logout, as plain
//! async functions that any web framework's glue can call.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use session_store::{Expiry, IndexTag, Record, Session, SessionKey};
use url::Url;

use crate::center::Center;
use crate::config::SsoConfig;
use crate::local_sessions::{Backend, LocalSessions};
use crate::login_state::{LoginCookies, LoginState};
use crate::metrics;
use crate::pkce::{s256_challenge, secrets_equal};
use crate::recheck::Rechecks;
use crate::tokens::{LEEWAY_SECS, id_token, logout_token};
use crate::{Error, LoginOptions, Principal, ReturnTo};

mod vault;

use self::vault::Tokens;

// A local session's record holds what every request needs under `SIGNED_IN_KEY` (the claims
// and the CSRF token, with no field twice) and when the center last confirmed it under
// `CHECKED_KEY`. The tokens, read only to sign out, refresh or re-check, sit apart: in the same
// record on server-side backends, and in a record of the shared store named under `VAULT_KEY`
// for cookie sessions (see `vault`). Sessions of the first layout keep the principal under
// `PRINCIPAL_KEY`, and cookie sessions of the first two layouts carry their tokens inline;
// both still load.
const SIGNED_IN_KEY: &str = "signed_in";
const PRINCIPAL_KEY: &str = "principal";
/// When the center last confirmed the session (seconds since the epoch).
const CHECKED_KEY: &str = "checked_at";
/// Cookie sessions: the key of the vault record holding the tokens.
const VAULT_KEY: &str = "vault";

/// What a request needs of its session, parsed once per version of the record
/// ([`Record::view`]).
struct SignedInView {
    principal: Principal,
    checked_at: u64,
}

#[derive(serde::Serialize, Deserialize)]
struct StoredSignedIn {
    claims: serde_json::Map<String, serde_json::Value>,
    csrf_token: String,
}

impl SignedInView {
    /// The view of a loaded session's record: `None`, and a warning, when it has none.
    fn of(session: &Session) -> Option<Arc<Self>> {
        let view = session.record().view(Self::parse);
        if view.is_none() {
            tracing::warn!("local session without a readable principal; treating it as absent");
        }
        view
    }

    fn parse(data: &serde_json::Map<String, serde_json::Value>) -> Option<Self> {
        let principal = match (data.get(SIGNED_IN_KEY), data.get(PRINCIPAL_KEY)) {
            (Some(signed_in), _) => {
                let stored = StoredSignedIn::deserialize(signed_in).ok()?;
                Principal::with_csrf_token(stored.claims, stored.csrf_token)?
            }
            (None, Some(principal)) => Principal::deserialize(principal).ok()?,
            (None, None) => return None,
        };
        let checked_at = data
            .get(CHECKED_KEY)
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(0);
        Some(Self {
            principal,
            checked_at,
        })
    }
}

/// An SSO client for one subsystem. Cloning is cheap; clones share caches and the breaker.
#[derive(Clone)]
pub struct SsoClient {
    inner: Arc<Inner>,
}

struct Inner {
    config: SsoConfig,
    redirect_uri: Url,
    post_logout_redirect_uri: Url,
    center: Center,
    sessions: Backend,
    login: LoginCookies,
    expiry: Expiry,
    rechecks: Rechecks,
}

impl fmt::Debug for SsoClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SsoClient")
            .field("issuer", &self.inner.config.issuer)
            .field("client_id", &self.inner.config.client_id)
            .field("sessions", &self.inner.sessions.name)
            .finish_non_exhaustive()
    }
}

/// Where to send the browser to sign in, and the sealed sign-in cookie to set first.
#[derive(Debug)]
pub struct LoginRedirect {
    /// The center's authorization URL with `state`, `nonce` and the PKCE challenge.
    pub url: Url,
    /// The value of the sign-in cookie ([`SsoClient::login_cookie_name`]).
    pub cookie_value: String,
}

/// The query of the callback the center redirects to.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Callback {
    /// The authorization code.
    pub code: Option<String>,
    /// The state sent with the authorization request.
    pub state: Option<String>,
    /// An OAuth error code instead of a code.
    pub error: Option<String>,
}

/// A finished sign-in.
#[derive(Debug)]
pub struct SignedIn {
    /// The new local session's key (the session cookie's value).
    pub key: SessionKey,
    /// Who signed in.
    pub principal: Principal,
    /// Where the user wanted to go.
    pub return_to: ReturnTo,
    /// What the sign-in asked of the center; the center may have given less (see
    /// [`SignedIn::unmet_acr_values`]).
    pub options: LoginOptions,
}

impl SignedIn {
    /// The `acr_values` the sign-in asked for when the principal meets none of them (the
    /// center signed the user in without the second factor asked for, say).
    pub fn unmet_acr_values(&self) -> Option<&str> {
        self.options
            .requested_acr_values()
            .filter(|values| !self.principal.meets_acr_values(values))
    }

    /// The `max_age` the sign-in asked for when the authentication the center reported at
    /// `now` (seconds since the epoch) is older than that, allowing for clock skew, or has no
    /// `auth_time` (OpenID Connect Core 1.0 §3.1.3.7: the client checks it).
    pub fn unmet_max_age(&self, now: u64) -> Option<u64> {
        self.options
            .unmet_max_age(&self.principal, now, LEEWAY_SECS)
    }
}

/// A live local session.
#[derive(Debug)]
pub struct LocalSession {
    /// The session's key; for cookie sessions it changes when the cookie is resealed.
    pub key: SessionKey,
    /// Whether `key` differs from the key presented, so the cookie must be sent again.
    pub key_changed: bool,
    /// Who is signed in.
    pub principal: Principal,
}

impl LocalSession {
    /// The local session `session` of `principal`, loaded for the key `presented`.
    fn of(session: Session, principal: Principal, presented: &[u8]) -> Self {
        Self {
            key_changed: session.key().as_str().as_bytes() != presented,
            key: session.into_key(),
            principal,
        }
    }
}

impl SsoClient {
    /// A client for `config` keeping local sessions in `sessions`. Nothing is asked of the
    /// center yet, so an app starts even while the center is down.
    ///
    /// # Errors
    /// [`Error::Config`] for an unusable configuration.
    pub fn new(config: SsoConfig, sessions: LocalSessions) -> Result<Self, Error> {
        config.validate()?;
        let login = LoginCookies::new(
            format!("{}_login", config.cookie.name),
            config.login_cookie_key.as_ref(),
        )?;
        Ok(Self {
            inner: Arc::new(Inner {
                redirect_uri: config.redirect_uri()?,
                post_logout_redirect_uri: config.post_logout_redirect_uri()?,
                center: Center::new(&config)?,
                sessions: sessions.into_backend(&config.cookie.name),
                login,
                expiry: config.session.expiry(),
                rechecks: Rechecks::default(),
                config,
            }),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &SsoConfig {
        &self.inner.config
    }

    /// The name of the local-session backend: `memory`, `redis` or `cookie`.
    pub fn session_backend(&self) -> &'static str {
        self.inner.sessions.name
    }

    /// The name of the short-lived sign-in cookie.
    pub fn login_cookie_name(&self) -> &str {
        self.inner.login.name()
    }

    /// Starts a sign-in that returns to `return_to`.
    ///
    /// # Errors
    /// [`Error::CenterUnavailable`] or [`Error::CircuitOpen`] when the center's endpoints
    /// cannot be discovered.
    pub async fn start_login(&self, return_to: ReturnTo) -> Result<LoginRedirect, Error> {
        self.start_login_with(return_to, LoginOptions::default())
            .await
    }

    /// Starts a sign-in that asks the center for `options` (a second factor, a recent or a
    /// fresh authentication) and returns to `return_to`.
    ///
    /// # Errors
    /// As [`SsoClient::start_login`].
    pub async fn start_login_with(
        &self,
        return_to: ReturnTo,
        options: LoginOptions,
    ) -> Result<LoginRedirect, Error> {
        let metadata = self.inner.center.live_metadata().await?;
        let login = LoginState::with_options(return_to, options);
        let mut url = metadata.authorization_endpoint.clone();
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.inner.config.client_id)
            .append_pair("redirect_uri", self.inner.redirect_uri.as_str())
            .append_pair("scope", &self.scope())
            .append_pair("state", &login.state)
            .append_pair("nonce", &login.nonce)
            .append_pair("code_challenge", &s256_challenge(&login.verifier))
            .append_pair("code_challenge_method", "S256");
        for (name, value) in login.options.parameters() {
            url.query_pairs_mut().append_pair(name, &value);
        }
        let cookie_value = self.inner.login.seal(&login).await?;
        Ok(LoginRedirect { url, cookie_value })
    }

    fn scope(&self) -> String {
        let scopes = &self.inner.config.scopes;
        let openid = (!scopes.iter().any(|scope| scope == "openid")).then_some("openid");
        openid
            .into_iter()
            .chain(scopes.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Finishes a sign-in: checks the callback's state against the sign-in cookie, exchanges
    /// the code, verifies the id token and creates a local session under a fresh key, tagged
    /// with the center session (`sid:…`) and the user (`user:…`).
    ///
    /// # Errors
    /// [`Error::InvalidState`] for a callback this browser did not start, [`Error::Refused`]
    /// when the center refuses, [`Error::InvalidIdToken`], center and store failures.
    pub async fn finish_login(
        &self,
        callback: &Callback,
        login_cookie: Option<&str>,
    ) -> Result<SignedIn, Error> {
        let finished = self.complete_login(callback, login_cookie).await;
        match &finished {
            Ok(_) => metrics::signed_in(),
            Err(error) => metrics::callback_refused(error),
        }
        finished
    }

    async fn complete_login(
        &self,
        callback: &Callback,
        login_cookie: Option<&str>,
    ) -> Result<SignedIn, Error> {
        let login = match login_cookie {
            Some(value) => self.inner.login.open(value).await,
            None => None,
        }
        .ok_or(Error::InvalidState)?;
        let state_matches = callback
            .state
            .as_deref()
            .is_some_and(|state| secrets_equal(state, &login.state));
        if !state_matches {
            return Err(Error::InvalidState);
        }
        if let Some(error) = &callback.error {
            return Err(Error::Refused(error.clone()));
        }
        let code = callback
            .code
            .as_deref()
            .filter(|code| !code.is_empty())
            .ok_or_else(|| Error::Refused("no code in the callback".to_owned()))?;
        let tokens = self
            .inner
            .center
            .exchange_code(code, &login.verifier, &self.inner.redirect_uri)
            .await?;
        let raw = tokens
            .id_token
            .ok_or_else(|| Error::CenterProtocol("token response has no id_token".to_owned()))?;
        let keys = self.inner.center.keys_for(&raw).await?;
        let expected = id_token::Expected {
            issuer: self.inner.center.issuer(),
            client_id: &self.inner.config.client_id,
            nonce: &login.nonce,
            now: jsonwebtoken::get_current_timestamp(),
        };
        let claims = id_token::verify(&raw, &keys, &expected).map_err(Error::InvalidIdToken)?;
        let principal = Principal::from_claims(claims)
            .ok_or_else(|| Error::InvalidIdToken("sub is missing".to_owned()))?;
        let held = Tokens {
            id_token: Some(raw),
            access_token: tokens.access_token,
            refresh_token: tokens.refresh_token,
        };
        let key = self.create_session(&principal, held, expected.now).await?;
        tracing::info!(sub = principal.sub(), "signed in");
        Ok(SignedIn {
            key,
            principal,
            return_to: login.return_to,
            options: login.options,
        })
    }

    /// Stores a new local session for `principal` holding `tokens`, confirmed by the center at
    /// `checked_at`.
    async fn create_session(
        &self,
        principal: &Principal,
        tokens: Tokens,
        checked_at: u64,
    ) -> Result<SessionKey, Error> {
        let mut record = Record::new(self.inner.expiry);
        if let Some(sid) = principal.sid() {
            record.tag(tag("sid", sid)?);
        }
        record.tag(tag("user", principal.sub())?);
        let signed_in = StoredSignedIn {
            claims: principal.claims().clone(),
            csrf_token: principal.csrf_token().to_owned(),
        };
        record.insert(SIGNED_IN_KEY, signed_in)?;
        record.insert(CHECKED_KEY, checked_at)?;
        self.keep_tokens(&mut record, tokens, checked_at).await?;
        let session = self.inner.sessions.store.create(record).await?;
        Ok(session.key().clone())
    }

    /// Creates a local session for the user the id-token `claims` describe, as a sign-in
    /// would, without asking the center: for tests and benchmarks of signed-in requests.
    /// `id_token` and `access_token` are stored as given, unverified.
    ///
    /// # Errors
    /// [`Error::InvalidIdToken`] when `claims` has no `sub`; store failures.
    #[cfg(any(test, feature = "testing"))]
    pub async fn insert_session(
        &self,
        claims: serde_json::Map<String, serde_json::Value>,
        id_token: &str,
        access_token: Option<&str>,
    ) -> Result<(SessionKey, Principal), Error> {
        let principal = Principal::from_claims(claims)
            .ok_or_else(|| Error::InvalidIdToken("sub is missing".to_owned()))?;
        let now = jsonwebtoken::get_current_timestamp();
        let tokens = Tokens {
            id_token: Some(id_token.to_owned()),
            access_token: access_token.map(str::to_owned),
            refresh_token: None,
        };
        let key = self.create_session(&principal, tokens, now).await?;
        Ok((key, principal))
    }

    /// The live local session under `key`, if any.
    ///
    /// Only cookie sessions ever call the center here, once per
    /// [`SessionSettings::recheck_secs`](crate::SessionSettings::recheck_secs); while the center
    /// is unavailable they are kept.
    ///
    /// # Errors
    /// When the session store fails.
    pub async fn load(&self, key: &SessionKey) -> Result<Option<LocalSession>, Error> {
        self.load_presented(key.as_str().as_bytes()).await
    }

    /// [`Self::load`] for a session cookie's value as the request carried it: `None` when it
    /// is not a session key.
    ///
    /// # Errors
    /// When the session store fails.
    pub async fn load_presented(&self, presented: &[u8]) -> Result<Option<LocalSession>, Error> {
        let Some(mut session) = self.inner.sessions.reader.load_presented(presented).await? else {
            return Ok(None);
        };
        let Some(view) = SignedInView::of(&session) else {
            return Ok(None);
        };
        // Boxed: the re-check (a call to the center) is rare, and its state would otherwise
        // make every load's future kilobytes larger.
        if self.recheck_due(view.checked_at) && !Box::pin(self.recheck(&mut session)).await? {
            return Ok(None);
        }
        let principal = view.principal.clone();
        Ok(Some(LocalSession::of(session, principal, presented)))
    }

    /// `loaded`, the outcome of a load made already, or else the load of the session cookie's
    /// value `presented`.
    #[cfg(any(feature = "actix", feature = "axum"))]
    pub(crate) async fn load_unless_loaded(
        &self,
        loaded: Option<Result<Option<LocalSession>, Error>>,
        presented: Option<&[u8]>,
    ) -> Result<Option<LocalSession>, Error> {
        match (loaded, presented) {
            (Some(loaded), _) => loaded,
            (None, Some(presented)) => self.load_presented(presented).await,
            (None, None) => Ok(None),
        }
    }

    /// [`Self::load_presented`] answered at once, when it can be (see
    /// [`SessionStore::load_presented_now`]) and no re-check with the center is due: `None`
    /// when it must be awaited.
    #[cfg(any(feature = "actix", feature = "axum"))]
    pub(crate) fn load_presented_now(
        &self,
        presented: &[u8],
    ) -> Option<Result<Option<LocalSession>, Error>> {
        let session = match self.inner.sessions.reader.load_presented_now(presented)? {
            Ok(Some(session)) => session,
            Ok(None) => return Some(Ok(None)),
            Err(error) => return Some(Err(error.into())),
        };
        let Some(view) = SignedInView::of(&session) else {
            return Some(Ok(None));
        };
        if self.recheck_due(view.checked_at) {
            return None;
        }
        let principal = view.principal.clone();
        Some(Ok(Some(LocalSession::of(session, principal, presented))))
    }

    fn recheck_due(&self, checked_at: u64) -> bool {
        let interval = self.inner.config.session.recheck_secs;
        interval > 0
            && self.inner.sessions.is_client_side()
            && jsonwebtoken::get_current_timestamp().saturating_sub(checked_at) >= interval
    }

    /// Ends the local session under `key` and returns where to send the browser: the center's
    /// end-session endpoint (with `id_token_hint` and `post_logout_redirect_uri`), or straight
    /// to the post-logout page when there was no session or the center is unavailable.
    ///
    /// # Errors
    /// When the session store fails.
    pub async fn logout(&self, key: &SessionKey) -> Result<Url, Error> {
        let session = self.inner.sessions.store.load(key).await?;
        self.inner.sessions.store.delete(key).await?;
        let Some(session) = session else {
            return Ok(self.inner.post_logout_redirect_uri.clone());
        };
        metrics::signed_out();
        let id_token = self.drop_tokens(&session).await?;
        let end_session = match self.inner.center.metadata().await {
            Ok(metadata) => metadata.end_session_endpoint.clone(),
            Err(error) => {
                tracing::warn!(%error, "signed out locally only: the sign-in service is unavailable");
                None
            }
        };
        let Some(mut url) = end_session else {
            return Ok(self.inner.post_logout_redirect_uri.clone());
        };
        {
            let mut query = url.query_pairs_mut();
            if let Some(id_token) = &id_token {
                query.append_pair("id_token_hint", id_token);
            }
            query
                .append_pair("client_id", &self.inner.config.client_id)
                .append_pair(
                    "post_logout_redirect_uri",
                    self.inner.post_logout_redirect_uri.as_str(),
                );
        }
        Ok(url)
    }

    /// Deletes the local session under `key` without involving the center (e.g. to rotate
    /// the session at sign-in).
    ///
    /// # Errors
    /// When the session store fails.
    pub async fn forget(&self, key: &SessionKey) -> Result<(), Error> {
        Ok(self.inner.sessions.store.delete(key).await?)
    }

    /// What the center says of an access token presented to this app, for example by an API
    /// client calling the app's back end with `Authorization: Bearer`: token introspection
    /// (RFC 7662), authenticated as this client. `None` when the token is not active: unknown,
    /// lapsed, its center session ended or its user disabled.
    ///
    /// Only tokens issued to this app count: an active token whose `client_id` is another
    /// client's, and whose `aud` does not name this app either, is reported as not active
    /// (`None`), so a token a user gave to another app cannot be replayed against this one.
    ///
    /// Every call asks the center (through the circuit breaker), and counts as a use of the
    /// token there, which keeps it alive; cache the answer briefly if the API is busy.
    ///
    /// # Errors
    /// [`Error::CenterUnavailable`] or [`Error::CircuitOpen`] when the center cannot be asked,
    /// [`Error::Refused`] when it refuses this client's credentials, [`Error::CenterProtocol`]
    /// when it offers no introspection.
    pub async fn introspect(&self, access_token: &str) -> Result<Option<crate::TokenInfo>, Error> {
        self.inner.center.introspect(access_token).await
    }

    /// Handles a back-channel logout: verifies the logout token, refuses a replayed `jti`, and
    /// ends every local session of the token's `sid` (or, without `sid`, of its `sub`).
    ///
    /// # Errors
    /// [`Error::InvalidLogoutToken`] for forged, expired, malformed or replayed tokens;
    /// center failures when the keys cannot be fetched; store failures (after which the same
    /// token is accepted again, so the center's retry succeeds).
    pub async fn back_channel_logout(&self, token: &str) -> Result<(), Error> {
        let mut replayed = false;
        let result = self.end_sessions_of(token, &mut replayed).await;
        metrics::logout_token(&result, replayed);
        result
    }

    /// [`Self::back_channel_logout`]; sets `replayed` when the token's `jti` was seen before.
    async fn end_sessions_of(&self, token: &str, replayed: &mut bool) -> Result<(), Error> {
        let keys = self.inner.center.keys_for(token).await?;
        let now = jsonwebtoken::get_current_timestamp();
        let request = logout_token::verify(
            token,
            &keys,
            self.inner.center.issuer(),
            &self.inner.config.client_id,
            now,
        )
        .map_err(Error::InvalidLogoutToken)?;
        let target = match (&request.sid, &request.sub) {
            (Some(sid), _) => tag("sid", sid),
            (None, Some(sub)) => tag("user", sub),
            (None, None) => Err(Error::InvalidLogoutToken("no sid or sub".to_owned())),
        }
        .map_err(|_| Error::InvalidLogoutToken("sid or sub out of bounds".to_owned()))?;

        let counters = &self.inner.sessions.counters;
        let seen = format!("logout-jti:{}", request.jti);
        let window = Duration::from_secs(request.exp.saturating_sub(now) + LEEWAY_SECS);
        if counters.increment(&seen, window).await? > 1 {
            *replayed = true;
            return Err(Error::InvalidLogoutToken("jti was already used".to_owned()));
        }
        let lifetime = self.inner.expiry.absolute();
        match self.inner.sessions.end_tagged(&target, lifetime).await {
            Ok(ended) => {
                metrics::slo_sessions_ended(ended);
                Ok(())
            }
            Err(error) => {
                if let Err(reset) = counters.reset(&seen).await {
                    tracing::warn!(error = %reset, "could not forget a failed logout token");
                }
                Err(error.into())
            }
        }
    }
}

fn tag(name: &str, value: &str) -> Result<IndexTag, Error> {
    IndexTag::new(name, value)
        .map_err(|_| Error::InvalidIdToken(format!("{name} is empty or longer than 1024 bytes")))
}

#[cfg(test)]
mod tests {
    use session_store::{MemoryStore, SessionStore as _, Timestamp};

    use super::*;
    use crate::{CHECK_ONLY_CLAIMS, Secret};

    /// A local session as the first release stored it (captured from Redis), with its
    /// timestamps moved to now: the principal in full under `principal`, the tokens beside it.
    fn first_layout(now_ms: u64) -> String {
        r#"{"v":1,"data":{"access_token":"eyJhbGciOiJSUzI1NiJ9.eyJhbGciOiJSUzI1NiJ9.e","checked_at":CHECKED,"id_token":"eyJhbGciOiJSUzI1NiJ9.eyJhbGciOiJSUzI1NiJ9.eyJhbGciOiJSUzI1NiJ9","principal":{"claims":{"aud":"bench","auth_time":1700000000,"email":"alice@example.test","exp":4000000000,"groups":["staff","admins"],"iat":1700000000,"iss":"https://sso.example.test","name":"Alice Liddell","nonce":"Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0","preferred_username":"alice","sid":"b7f9a1c4e2d84f63a0c1d2e3f4a5b6c7","sub":"8d0c5c2e-2f0a-4f7e-9a55-1b1f0f6b2d11"},"csrf_token":"61cMDAvjdIn_-my1ctd5FPeULGztRWdQ7Wc3CwG-zuE","email":"alice@example.test","name":"Alice Liddell","sid":"b7f9a1c4e2d84f63a0c1d2e3f4a5b6c7","sub":"8d0c5c2e-2f0a-4f7e-9a55-1b1f0f6b2d11"}},"tags":["sid:b7f9a1c4e2d84f63a0c1d2e3f4a5b6c7","user:8d0c5c2e-2f0a-4f7e-9a55-1b1f0f6b2d11"],"created":CREATED,"idle":1800000,"abs":ABS,"exp":EXP}"#
            .replace("CHECKED", &(now_ms / 1000).to_string())
            .replace("CREATED", &now_ms.to_string())
            .replace("ABS", &(now_ms + 28_800_000).to_string())
            .replace("EXP", &(now_ms + 1_800_000).to_string())
    }

    fn client(store: &MemoryStore) -> SsoClient {
        let config = SsoConfig::new(
            "http://127.0.0.1:9",
            "app1",
            Secret::new("secret"),
            "http://app1.localhost:8081".parse().unwrap(),
        );
        SsoClient::new(config, LocalSessions::memory(store.clone())).unwrap()
    }

    #[tokio::test]
    async fn sessions_stored_by_the_first_release_still_load() {
        let store = MemoryStore::default();
        let client = client(&store);
        let bytes = first_layout(Timestamp::now().as_millis());
        let record = session_store::record::decode(bytes.as_bytes()).expect("decodes");
        let key = store.create(record).await.unwrap().key().clone();

        let session = client.load(&key).await.unwrap().expect("still signed in");
        let alice = &session.principal;
        assert_eq!(alice.sub(), "8d0c5c2e-2f0a-4f7e-9a55-1b1f0f6b2d11");
        assert_eq!(alice.sid(), Some("b7f9a1c4e2d84f63a0c1d2e3f4a5b6c7"));
        assert_eq!(alice.display_name(), "Alice Liddell");
        assert!(alice.in_group("admins"));
        assert!(alice.verify_csrf("61cMDAvjdIn_-my1ctd5FPeULGztRWdQ7Wc3CwG-zuE"));
        assert!(!session.key_changed);
        assert_eq!(alice.acr(), None, "the first release knew no acr");
        assert!(alice.amr().is_empty());
        assert!(!alice.has_second_factor());
    }

    /// A local session as the release before second factors stored it (captured from Redis),
    /// with its timestamps moved to now: the claims and CSRF token under `signed_in`, no `acr`
    /// or `amr` among the claims.
    fn second_layout(now_ms: u64) -> String {
        r#"{"v":1,"data":{"access_token":"at-0c1d2e3f","checked_at":CHECKED,"id_token":"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJib2IifQ.c2ln","signed_in":{"claims":{"aud":"app1","auth_time":1764500000,"email":"bob@example.test","exp":4000000000,"iat":1764500000,"iss":"https://sso.example.test","name":"Bob Ross","nonce":"bm9uY2Utb2YtYm9i","sid":"5d2f0c6a8e1b4f7a9c3d2e1f0a9b8c7d","sub":"2b7e1516-28ae-4d2a-abf7-158809cf4f3c"},"csrf_token":"0yN3vA2kQ7uR9xWm4Hc8JdLp1Ts6Fe5Gb-Zq_Ki3Uo0"}},"tags":["sid:5d2f0c6a8e1b4f7a9c3d2e1f0a9b8c7d","user:2b7e1516-28ae-4d2a-abf7-158809cf4f3c"],"created":CREATED,"idle":1800000,"abs":ABS,"exp":EXP}"#
            .replace("CHECKED", &(now_ms / 1000).to_string())
            .replace("CREATED", &now_ms.to_string())
            .replace("ABS", &(now_ms + 28_800_000).to_string())
            .replace("EXP", &(now_ms + 1_800_000).to_string())
    }

    /// Every backend a local session can live in, each with a client reading it and the store
    /// a session is written to directly (for cookie sessions, a sealer with the client's key).
    fn every_backend() -> Vec<(
        &'static str,
        SsoClient,
        Arc<dyn session_store::SessionStore>,
    )> {
        let config = || {
            SsoConfig::new(
                "http://127.0.0.1:9",
                "app1",
                Secret::new("secret"),
                "http://app1.localhost:8081".parse().unwrap(),
            )
        };
        let memory = MemoryStore::default();
        let redis_url = std::env::var("REDIS_URL")
            .ok()
            .filter(|url| !url.is_empty())
            .unwrap_or_else(|| "redis://127.0.0.1:6379".to_owned());
        let prefix = format!("sso-client-migration-{}:", crate::pkce::random_token());
        let redis = session_store::RedisStore::new(
            session_store::RedisConfig::new(redis_url).with_prefix(prefix),
        )
        .unwrap();
        let listen = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
        let replication = session_store::ReplicationConfig::new(
            "a",
            listen,
            Vec::new(),
            b"single-node-replication-secret-0123456789".to_vec(),
        );
        let replicated = session_store::ReplicatedStore::start(replication).unwrap();
        let cookie_key = session_store::KeyRing::generate_key();
        let ring = || session_store::KeyRing::new("k1", &cookie_key).unwrap();
        let sealer = session_store::CookieStore::new(&config().cookie.name, ring());
        let client_on = |sessions| SsoClient::new(config(), sessions).unwrap();
        vec![
            (
                "memory",
                client_on(LocalSessions::memory(memory.clone())),
                Arc::new(memory) as Arc<dyn session_store::SessionStore>,
            ),
            (
                "redis",
                client_on(LocalSessions::redis(redis.clone())),
                Arc::new(redis),
            ),
            (
                "replicated",
                client_on(LocalSessions::replicated(replicated.clone())),
                Arc::new(replicated),
            ),
            (
                "cookie",
                client_on(LocalSessions::cookie(ring(), MemoryStore::default())),
                Arc::new(sealer),
            ),
        ]
    }

    #[tokio::test]
    async fn sessions_stored_before_second_factors_load_without_them_on_every_backend() {
        for (backend, client, store) in every_backend() {
            let bytes = second_layout(Timestamp::now().as_millis());
            let record = session_store::record::decode(bytes.as_bytes()).expect("decodes");
            let key = store.create(record).await.unwrap().key().clone();

            let session = client.load(&key).await.unwrap();
            let bob = session.expect(backend).principal;
            assert_eq!(
                bob.sub(),
                "2b7e1516-28ae-4d2a-abf7-158809cf4f3c",
                "{backend}"
            );
            assert_eq!(bob.display_name(), "Bob Ross");
            assert_eq!(bob.auth_time(), Some(1_764_500_000));
            assert!(bob.verify_csrf("0yN3vA2kQ7uR9xWm4Hc8JdLp1Ts6Fe5Gb-Zq_Ki3Uo0"));
            assert_eq!(bob.acr(), None, "{backend}");
            assert!(bob.amr().is_empty(), "{backend}");
            assert!(!bob.has_second_factor(), "{backend}");
        }
    }

    #[tokio::test]
    async fn new_sessions_keep_acr_and_amr_on_every_backend() {
        for (backend, client, _) in every_backend() {
            let claims = serde_json::json!({"sub": "carol", "sid": "s-9",
                "acr": crate::ACR_MFA, "amr": ["pwd", "otp", "mfa"], "auth_time": 1_764_500_100});
            let (key, principal) = client
                .insert_session(claims.as_object().unwrap().clone(), "id.token.x", None)
                .await
                .unwrap();
            let loaded = client.load(&key).await.unwrap().expect(backend).principal;
            assert_eq!(loaded, principal, "{backend}");
            assert_eq!(loaded.acr(), Some(crate::ACR_MFA), "{backend}");
            assert_eq!(loaded.amr(), ["pwd", "otp", "mfa"], "{backend}");
            assert!(loaded.has_second_factor(), "{backend}");
            let again = client.load(&key).await.unwrap().unwrap().principal;
            assert!(
                std::ptr::eq(loaded.amr(), again.amr()) || backend == "redis",
                "{backend}: a session read again shares the parsed principal"
            );
        }
    }

    #[tokio::test]
    async fn new_sessions_store_each_claim_once_and_load_the_same_principal() {
        let store = MemoryStore::default();
        let client = client(&store);
        let claims = serde_json::json!({"sub": "alice", "name": "Alice", "sid": "s-1"});
        let (key, principal) = client
            .insert_session(
                claims.as_object().unwrap().clone(),
                "id.token.x",
                Some("at"),
            )
            .await
            .unwrap();
        let stored = store.load(&key).await.unwrap().unwrap();
        assert!(
            stored
                .record()
                .get::<serde_json::Value>(PRINCIPAL_KEY)
                .is_none()
        );
        let encoded = session_store::record::encode(stored.record()).unwrap();
        let text = String::from_utf8(encoded).unwrap();
        assert_eq!(text.matches("Alice").count(), 1, "{text}");

        let loaded = client.load(&key).await.unwrap().unwrap();
        assert_eq!(loaded.principal, principal);
        assert!(loaded.principal.verify_csrf(principal.csrf_token()));
    }

    /// A cookie session of a user with every claim the center issues is small (every request
    /// carries it) and keeps no claim that only served to check the id token.
    #[tokio::test]
    async fn cookie_sessions_are_compact_and_keep_no_check_only_claims() {
        let config = SsoConfig::new(
            "http://127.0.0.1:9",
            "app1",
            Secret::new("secret"),
            "http://app1.localhost:8081".parse().unwrap(),
        );
        let ring = session_store::KeyRing::new("k1", &session_store::KeyRing::generate_key());
        let client = SsoClient::new(
            config,
            LocalSessions::cookie(ring.unwrap(), MemoryStore::default()),
        )
        .unwrap();
        let claims = serde_json::json!({
            "iss": "https://sso.example.test", "sub": "8d0c5c2e-2f0a-4f7e-9a55-1b1f0f6b2d11",
            "aud": "app1", "exp": 1_900_000_600u64, "iat": 1_900_000_000u64,
            "auth_time": 1_900_000_000u64, "amr": ["pwd", "otp", "mfa"],
            "acr": "urn:sso:acr:mfa", "nonce": "Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0MTIz",
            "at_hash": "77QmUPtjPfzWtF2AnpK9RQ", "sid": "b7f9a1c4e2d84f63a0c1d2e3f4a5b6c7",
            "name": "Alice Liddell", "preferred_username": "alice",
            "email": "alice@example.test", "groups": ["staff", "admins"],
        });
        let access_token = "a".repeat(43);
        let (key, _) = client
            .insert_session(
                claims.as_object().unwrap().clone(),
                &"e".repeat(820),
                Some(&access_token),
            )
            .await
            .unwrap();
        let cookie = format!("{}={}", client.config().cookie.name, key.as_str());
        assert!(cookie.len() < 700, "{} bytes: {cookie}", cookie.len());

        let loaded = client.load(&key).await.unwrap().unwrap().principal;
        for claim in CHECK_ONLY_CLAIMS {
            assert!(
                loaded.claim::<serde_json::Value>(claim).is_none(),
                "{claim}"
            );
        }
        assert_eq!(loaded.claims().len(), claims.as_object().unwrap().len() - 2);
        assert_eq!(loaded.acr(), Some("urn:sso:acr:mfa"));
        assert_eq!(
            client.access_token(&key).await.unwrap().as_deref(),
            Some(access_token.as_str())
        );
    }

    /// Every signed-in request allocates the future of a session read: the rare re-check with
    /// the center (kilobytes of HTTP client state) must not be part of it.
    #[test]
    fn the_session_read_future_stays_small() {
        let client = client(&MemoryStore::default());
        let key = SessionKey::parse("abc").unwrap();
        let read = client.load(&key);
        assert!(
            std::mem::size_of_val(&read) < 1024,
            "{} bytes",
            std::mem::size_of_val(&read)
        );
    }

    /// A cookie session as the previous release sealed it: the id and access tokens inside.
    #[tokio::test]
    async fn cookie_sessions_sealed_with_their_tokens_inside_still_load_and_sign_out() {
        let cookie_key = session_store::KeyRing::generate_key();
        let ring = || session_store::KeyRing::new("k1", &cookie_key).unwrap();
        let config = SsoConfig::new(
            "http://127.0.0.1:9",
            "app1",
            Secret::new("secret"),
            "http://app1.localhost:8081".parse().unwrap(),
        );
        let sealer = session_store::CookieStore::new(&config.cookie.name, ring());
        let client = SsoClient::new(
            config,
            LocalSessions::cookie(ring(), MemoryStore::default()),
        )
        .unwrap();
        let mut record = Record::new(client.inner.expiry);
        record.tag(tag("sid", "s-1").unwrap());
        record.tag(tag("user", "alice").unwrap());
        let claims = serde_json::json!({"sub": "alice", "sid": "s-1", "name": "Alice"});
        record
            .insert(
                SIGNED_IN_KEY,
                serde_json::json!({"claims": claims, "csrf_token": "c".repeat(43)}),
            )
            .unwrap();
        record.insert("id_token", "old.id.token").unwrap();
        record
            .insert(CHECKED_KEY, jsonwebtoken::get_current_timestamp())
            .unwrap();
        record.insert("access_token", "old-access-token").unwrap();
        let key = sealer.create(record).await.unwrap().key().clone();

        let loaded = client.load(&key).await.unwrap().expect("still signed in");
        assert_eq!(loaded.principal.sub(), "alice");
        assert_eq!(
            client.access_token(&key).await.unwrap().as_deref(),
            Some("old-access-token")
        );
        let session = sealer.load(&key).await.unwrap().unwrap();
        assert_eq!(
            client.drop_tokens(&session).await.unwrap().as_deref(),
            Some("old.id.token"),
            "sign-out still sends the id token as the hint"
        );
    }

    #[test]
    fn sessions_without_a_principal_are_absent() {
        let mut data = serde_json::Map::new();
        assert!(SignedInView::parse(&data).is_none());
        data.insert(SIGNED_IN_KEY.to_owned(), serde_json::json!({"claims": {}}));
        assert!(SignedInView::parse(&data).is_none());
    }
}
