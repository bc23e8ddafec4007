//! Everything this subsystem asks the center over the back channel: discovery, the JWKS, the
//! code exchange and token introspection. Every call has a short timeout and goes through the circuit breaker;
//! discovery and keys are cached, so signed-in users never wait on the center.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use url::Url;

use crate::Error;
use crate::breaker::{CircuitBreaker, Permit};
use crate::metrics::{self, CenterCall, Endpoint, Outcome};
use sso_common::LocalhostResolver;

use crate::config::{CenterSettings, Secret, SsoConfig};
use crate::tokens::keys::KeySet;
use crate::tokens::signing_key_hint;

/// The parts of the center's discovery document (OpenID Connect Discovery 1.0) the SDK uses.
#[derive(Clone, Debug, Deserialize)]
pub(crate) struct ProviderMetadata {
    /// The issuer identifier; must equal the configured issuer exactly.
    pub(crate) issuer: String,
    /// Where browsers are sent to sign in.
    pub(crate) authorization_endpoint: Url,
    /// Where codes are exchanged.
    pub(crate) token_endpoint: Url,
    /// The center's public keys.
    pub(crate) jwks_uri: Url,
    /// Where an access token is exchanged for the user's claims, if supported.
    #[serde(default)]
    pub(crate) userinfo_endpoint: Option<Url>,
    /// Where access tokens are introspected (RFC 7662), if supported.
    #[serde(default)]
    pub(crate) introspection_endpoint: Option<Url>,
    /// Where browsers are sent to sign out (RP-Initiated Logout 1.0), if supported.
    #[serde(default)]
    pub(crate) end_session_endpoint: Option<Url>,
    /// Where tokens are revoked (RFC 7009), if supported.
    #[serde(default)]
    pub(crate) revocation_endpoint: Option<Url>,
    /// PKCE methods the center supports; when listed, it must include `S256`.
    #[serde(default)]
    pub(crate) code_challenge_methods_supported: Option<Vec<String>>,
}

/// The token endpoint's answer to a code exchange or a refresh.
#[derive(Deserialize)]
pub(crate) struct TokenResponse {
    pub(crate) id_token: Option<String>,
    pub(crate) access_token: Option<String>,
    /// The refresh token to use next time (rotated on every use by our center).
    #[serde(default)]
    pub(crate) refresh_token: Option<String>,
}

/// Which kind of token is being revoked (RFC 7009 §2.1 `token_type_hint`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenKind {
    /// An access token.
    Access,
    /// A refresh token: revoking it revokes its whole family, with their access tokens.
    Refresh,
}

impl TokenKind {
    fn hint(self) -> &'static str {
        match self {
            Self::Access => "access_token",
            Self::Refresh => "refresh_token",
        }
    }
}

#[derive(Deserialize)]
struct OAuthError {
    error: String,
}

/// What the center says of an active access token (RFC 7662 §2.2).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct TokenInfo {
    /// The user's stable identifier, as in the id token's `sub`.
    pub sub: String,
    /// The user's login name.
    #[serde(default)]
    pub username: Option<String>,
    /// The client the token was issued to.
    pub client_id: String,
    /// The scopes granted, space-separated.
    #[serde(default)]
    pub scope: String,
    /// When the token lapses unless used again (seconds since the epoch).
    #[serde(default)]
    pub exp: Option<u64>,
    /// The center session the token belongs to.
    #[serde(default)]
    pub sid: Option<String>,
}

#[derive(Deserialize)]
struct Introspection {
    active: bool,
    /// Who the token is meant for: a string or an array of strings (RFC 7662 §2.2).
    #[serde(default)]
    aud: Option<serde_json::Value>,
    #[serde(flatten)]
    info: Option<TokenInfo>,
}

impl Introspection {
    /// Whether the token was issued to `client_id`: its `client_id`, or one of its audiences.
    fn issued_to(&self, client_id: &str) -> bool {
        let ours = self
            .info
            .as_ref()
            .is_some_and(|info| info.client_id == client_id);
        let audience = match &self.aud {
            Some(serde_json::Value::String(aud)) => aud == client_id,
            Some(serde_json::Value::Array(auds)) => {
                auds.iter().any(|aud| aud.as_str() == Some(client_id))
            }
            _ => false,
        };
        ours || audience
    }
}

#[derive(Debug)]
struct KeyCache {
    keys: Arc<KeySet>,
    fetched: Option<Instant>,
}

/// The back-channel client of one center.
#[derive(Debug)]
pub(crate) struct Center {
    http: reqwest::Client,
    issuer: String,
    client_id: String,
    client_secret: Secret,
    settings: CenterSettings,
    breaker: CircuitBreaker,
    metadata: RwLock<Option<(Instant, Arc<ProviderMetadata>)>>,
    keys: RwLock<KeyCache>,
}

impl Center {
    pub(crate) fn new(config: &SsoConfig) -> Result<Self, Error> {
        let settings = config.center;
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_millis(settings.connect_timeout_ms))
            .timeout(Duration::from_millis(settings.request_timeout_ms))
            .redirect(reqwest::redirect::Policy::none())
            .dns_resolver(Arc::new(LocalhostResolver))
            .user_agent(concat!("sso-client/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|error| Error::Config(format!("HTTP client: {error}")))?;
        Ok(Self {
            http,
            issuer: config.issuer.clone(),
            client_id: config.client_id.clone(),
            client_secret: config.client_secret.clone(),
            settings,
            breaker: CircuitBreaker::new(
                settings.failure_threshold,
                Duration::from_secs(settings.open_secs),
            ),
            metadata: RwLock::new(None),
            keys: RwLock::new(KeyCache {
                keys: Arc::new(KeySet::default()),
                fetched: None,
            }),
        })
    }

    pub(crate) fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The discovery document for back-channel use, cached for `metadata_ttl_secs`. When a
    /// refresh fails the previous document keeps being used (so sign-out still finds the
    /// end-session endpoint while the center is down).
    ///
    /// # Errors
    /// When the center cannot be asked and nothing is cached, or its document is unusable.
    pub(crate) async fn metadata(&self) -> Result<Arc<ProviderMetadata>, Error> {
        let cached = read(&self.metadata).clone();
        match cached {
            Some((fetched, metadata)) if fetched.elapsed() < self.metadata_ttl() => Ok(metadata),
            Some((_, stale)) => match self.fetch_metadata().await {
                Ok(fresh) => Ok(fresh),
                Err(error) => {
                    tracing::warn!(%error, "discovery refresh failed; using the cached document");
                    Ok(stale)
                }
            },
            None => self.fetch_metadata().await,
        }
    }

    /// The discovery document for starting a sign-in: the browser is about to be sent to the
    /// center, so a document that cannot be refreshed when due means the center is down.
    ///
    /// # Errors
    /// When the center cannot be asked, or its document is unusable.
    pub(crate) async fn live_metadata(&self) -> Result<Arc<ProviderMetadata>, Error> {
        let cached = read(&self.metadata).clone();
        match cached {
            Some((fetched, metadata)) if fetched.elapsed() < self.metadata_ttl() => Ok(metadata),
            _ => self.fetch_metadata().await,
        }
    }

    fn metadata_ttl(&self) -> Duration {
        Duration::from_secs(self.settings.metadata_ttl_secs)
    }

    async fn fetch_metadata(&self) -> Result<Arc<ProviderMetadata>, Error> {
        let url = format!(
            "{}/.well-known/openid-configuration",
            self.issuer.trim_end_matches('/')
        );
        let fetched = self
            .get_json::<ProviderMetadata>(Endpoint::Discovery, &url)
            .await?;
        if fetched.issuer != self.issuer {
            return Err(Error::CenterProtocol(format!(
                "discovery names issuer {:?}, configured is {:?}",
                fetched.issuer, self.issuer
            )));
        }
        if fetched
            .code_challenge_methods_supported
            .as_ref()
            .is_some_and(|methods| !methods.iter().any(|method| method == "S256"))
        {
            return Err(Error::CenterProtocol(
                "the center does not support PKCE S256".to_owned(),
            ));
        }
        let fetched = Arc::new(fetched);
        *write(&self.metadata) = Some((Instant::now(), fetched.clone()));
        Ok(fetched)
    }

    /// Keys to verify `token` with: the cached set if it has the token's key, else a fresh
    /// copy of the JWKS (fetched at most once per `jwks_min_refresh_secs`, so tokens naming
    /// made-up key ids cannot make this app hammer the center).
    ///
    /// # Errors
    /// When the keys are needed from the center and it cannot be asked.
    pub(crate) async fn keys_for(&self, token: &str) -> Result<Arc<KeySet>, Error> {
        let kid = signing_key_hint(token).ok().and_then(|(_, kid)| kid);
        let (keys, fetched) = {
            let cache = read(&self.keys);
            (cache.keys.clone(), cache.fetched)
        };
        let min_refresh = Duration::from_secs(self.settings.jwks_min_refresh_secs);
        let known = fetched.is_some() && keys.find(kid.as_deref()).is_some();
        let recently_fetched = fetched.is_some_and(|at| at.elapsed() < min_refresh);
        if known || recently_fetched {
            return Ok(keys);
        }
        let metadata = self.metadata().await?;
        let set: JwkSet = self
            .get_json(Endpoint::Jwks, metadata.jwks_uri.as_str())
            .await?;
        let keys = Arc::new(KeySet::from_jwks(&set));
        *write(&self.keys) = KeyCache {
            keys: keys.clone(),
            fetched: Some(Instant::now()),
        };
        Ok(keys)
    }

    /// Exchanges an authorization code (client authenticated with HTTP Basic, PKCE verifier
    /// attached) for tokens.
    ///
    /// # Errors
    /// [`Error::Refused`] when the center rejects the code, [`Error::CenterUnavailable`] or
    /// [`Error::CircuitOpen`] when it cannot be asked.
    pub(crate) async fn exchange_code(
        &self,
        code: &str,
        verifier: &str,
        redirect_uri: &Url,
    ) -> Result<TokenResponse, Error> {
        let metadata = self.metadata().await?;
        let response = self
            .post_as_client(
                Endpoint::Token,
                metadata.token_endpoint.clone(),
                &[
                    ("grant_type", "authorization_code"),
                    ("code", code),
                    ("redirect_uri", redirect_uri.as_str()),
                    ("code_verifier", verifier),
                ],
            )
            .await?;
        response
            .json::<TokenResponse>()
            .await
            .map_err(|error| Error::CenterProtocol(format!("token response: {error}")))
    }

    /// Exchanges `refresh_token` for new tokens (`grant_type=refresh_token`, client
    /// authenticated). The center rotates refresh tokens: the answer's `refresh_token`
    /// replaces the one sent, which must never be used again.
    ///
    /// # Errors
    /// [`Error::Refused`] (`invalid_grant`) when the token is no longer good: its session
    /// ended, it was revoked, or it was already used; [`Error::CenterUnavailable`] or
    /// [`Error::CircuitOpen`] when the center cannot be asked.
    pub(crate) async fn refresh(&self, refresh_token: &str) -> Result<TokenResponse, Error> {
        let metadata = self.metadata().await?;
        let response = self
            .post_as_client(
                Endpoint::Token,
                metadata.token_endpoint.clone(),
                &[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", refresh_token),
                ],
            )
            .await?;
        response
            .json::<TokenResponse>()
            .await
            .map_err(|error| Error::CenterProtocol(format!("token response: {error}")))
    }

    /// Revokes `token` (RFC 7009, client authenticated). Revoking a token that is already
    /// invalid succeeds, as the RFC says.
    ///
    /// # Errors
    /// [`Error::CenterProtocol`] when the center offers no revocation endpoint,
    /// [`Error::Refused`] when it refuses this client, [`Error::CenterUnavailable`] or
    /// [`Error::CircuitOpen`] when it cannot be asked.
    pub(crate) async fn revoke(&self, token: &str, kind: TokenKind) -> Result<(), Error> {
        let metadata = self.metadata().await?;
        let endpoint = metadata
            .revocation_endpoint
            .clone()
            .ok_or_else(|| Error::CenterProtocol("no revocation_endpoint".to_owned()))?;
        self.post_as_client(
            Endpoint::Revocation,
            endpoint,
            &[("token", token), ("token_type_hint", kind.hint())],
        )
        .await
        .map(drop)
    }

    /// Asks the center about `access_token` (RFC 7662 introspection, as this client): `None`
    /// when the token is not active, or active but issued to another client.
    ///
    /// # Errors
    /// [`Error::Refused`] when the center refuses this client, [`Error::CenterProtocol`] when
    /// it offers no introspection or answers malformed, [`Error::CenterUnavailable`] or
    /// [`Error::CircuitOpen`] when it cannot be asked.
    pub(crate) async fn introspect(&self, access_token: &str) -> Result<Option<TokenInfo>, Error> {
        let metadata = self.metadata().await?;
        let endpoint = metadata
            .introspection_endpoint
            .clone()
            .ok_or_else(|| Error::CenterProtocol("no introspection_endpoint".to_owned()))?;
        let answer: Introspection = self
            .post_as_client(
                Endpoint::Introspection,
                endpoint,
                &[("token", access_token), ("token_type_hint", "access_token")],
            )
            .await?
            .json()
            .await
            .map_err(|error| Error::CenterProtocol(format!("introspection: {error}")))?;
        let issued_to_us = answer.issued_to(&self.client_id);
        match (answer.active, answer.info) {
            (false, _) => Ok(None),
            (true, Some(info)) if issued_to_us => Ok(Some(info)),
            (true, Some(info)) => {
                tracing::warn!(
                    token_client = info.client_id,
                    "a token of another client was presented; reporting it inactive"
                );
                Ok(None)
            }
            (true, None) => Err(Error::CenterProtocol(
                "introspection: an active token without sub or client_id".to_owned(),
            )),
        }
    }

    /// Permission from the breaker to call `endpoint`, and the call's timer.
    ///
    /// # Errors
    /// [`Error::CircuitOpen`], counted as a call not made.
    fn begin(&self, endpoint: Endpoint) -> Result<(Permit<'_>, CenterCall), Error> {
        match self.breaker.acquire() {
            Ok(permit) => Ok((permit, CenterCall::start(endpoint))),
            Err(error) => {
                metrics::center_call_skipped(endpoint);
                Err(error)
            }
        }
    }

    /// POSTs `form` to `url`, the center's `endpoint`, authenticated as this client (HTTP
    /// Basic), through the breaker. Returns a 2xx answer; a 4xx is the center's refusal
    /// ([`Error::Refused`] with its OAuth error), a 5xx or no answer its unavailability.
    async fn post_as_client(
        &self,
        endpoint: Endpoint,
        url: Url,
        form: &[(&str, &str)],
    ) -> Result<reqwest::Response, Error> {
        let (permit, call) = self.begin(endpoint)?;
        let encode =
            |text: &str| url::form_urlencoded::byte_serialize(text.as_bytes()).collect::<String>();
        let sent = self
            .http
            .post(url.clone())
            .basic_auth(
                encode(&self.client_id),
                Some(encode(self.client_secret.expose())),
            )
            .header(reqwest::header::ACCEPT, "application/json")
            .form(form)
            .send()
            .await;
        let response = match sent {
            Ok(response) if !response.status().is_server_error() => response,
            Ok(response) => {
                permit.failed();
                call.finish(Outcome::Unavailable);
                return Err(unavailable(format!(
                    "{} answered {}",
                    url.path(),
                    response.status()
                )));
            }
            Err(error) => {
                permit.failed();
                call.finish(Outcome::Unavailable);
                return Err(Error::CenterUnavailable(Some(Box::new(error))));
            }
        };
        permit.succeeded();
        let status = response.status();
        if status.is_success() {
            call.finish(Outcome::Ok);
            Ok(response)
        } else {
            call.finish(Outcome::Refused);
            let error = response
                .json::<OAuthError>()
                .await
                .map_or_else(|_| format!("HTTP {status}"), |body| body.error);
            Err(Error::Refused(error))
        }
    }

    /// Whether the center still honours `access_token` at its userinfo endpoint (it refuses
    /// tokens whose center session has ended).
    ///
    /// # Errors
    /// When the center cannot be asked or has no userinfo endpoint.
    pub(crate) async fn access_token_valid(&self, access_token: &str) -> Result<bool, Error> {
        let metadata = self.metadata().await?;
        let endpoint = metadata
            .userinfo_endpoint
            .clone()
            .ok_or_else(|| Error::CenterProtocol("no userinfo_endpoint".to_owned()))?;
        let (permit, call) = self.begin(Endpoint::Userinfo)?;
        match self
            .http
            .get(endpoint)
            .bearer_auth(access_token)
            .send()
            .await
        {
            Ok(response) if response.status().is_success() => {
                permit.succeeded();
                call.finish(Outcome::Ok);
                Ok(true)
            }
            Ok(response) if response.status().is_client_error() => {
                permit.succeeded();
                call.finish(Outcome::Refused);
                Ok(false)
            }
            Ok(response) => {
                permit.failed();
                call.finish(Outcome::Unavailable);
                Err(unavailable(format!(
                    "userinfo answered {}",
                    response.status()
                )))
            }
            Err(error) => {
                permit.failed();
                call.finish(Outcome::Unavailable);
                Err(Error::CenterUnavailable(Some(Box::new(error))))
            }
        }
    }

    /// GETs `url`, the center's `endpoint`, as JSON through the breaker.
    async fn get_json<T: DeserializeOwned>(
        &self,
        endpoint: Endpoint,
        url: &str,
    ) -> Result<T, Error> {
        let (permit, call) = self.begin(endpoint)?;
        let response = match self.http.get(url).send().await {
            Ok(response) => response,
            Err(error) => {
                permit.failed();
                call.finish(Outcome::Unavailable);
                return Err(Error::CenterUnavailable(Some(Box::new(error))));
            }
        };
        let status = response.status();
        if !status.is_success() {
            permit.failed();
            call.finish(Outcome::Unavailable);
            return Err(unavailable(format!("GET {url} answered {status}")));
        }
        match response.json::<T>().await {
            Ok(body) => {
                permit.succeeded();
                call.finish(Outcome::Ok);
                Ok(body)
            }
            Err(error) => {
                permit.failed();
                call.finish(Outcome::Malformed);
                Err(Error::CenterProtocol(format!("GET {url}: {error}")))
            }
        }
    }
}

fn unavailable(reason: String) -> Error {
    Error::CenterUnavailable(Some(reason.into()))
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn answer(value: serde_json::Value) -> Introspection {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn a_token_is_ours_by_client_id_or_audience() {
        let base = json!({"active": true, "sub": "u-1", "client_id": "app2"});
        let mut by_audience = base.clone();
        by_audience["aud"] = json!(["api", "app1"]);
        let mut single_audience = base.clone();
        single_audience["aud"] = json!("app1");
        let mut other_audience = base.clone();
        other_audience["aud"] = json!(["app2", "api"]);

        assert!(answer(base.clone()).issued_to("app2"));
        assert!(!answer(base).issued_to("app1"));
        assert!(answer(by_audience).issued_to("app1"));
        assert!(answer(single_audience).issued_to("app1"));
        assert!(!answer(other_audience).issued_to("app1"));
        assert!(!answer(json!({"active": false})).issued_to("app1"));
    }
}
