//! Single sign-on for actix-web and axum apps: the subsystem side of an OpenID Connect provider.
//!
//! Add [`SsoMiddleware`](actix::SsoMiddleware) to an app and it gets, in one `wrap`:
//!
//! - **sign-in**: a browser asking for a protected page without a local session is sent to the
//!   center (authorization-code flow with `state`, `nonce` and PKCE `S256`, kept in a
//!   short-lived encrypted cookie); API clients (non-GET, or `Accept: application/json`) get
//!   `401` with a JSON body instead;
//! - **the callback**: state check, back-channel code exchange, id-token verification (JWKS
//!   cached and refetched when an unknown `kid` appears; `iss`, `aud`, `exp`, `iat`, `nonce`),
//!   a fresh local session tagged with the center session `sid`, and a redirect to the page
//!   first asked for (same-origin paths only, see [`ReturnTo`]);
//! - **a [`Principal`] extractor** (`sub`, name, e-mail, `sid`, how the user authenticated
//!   (`acr`, `amr`, `auth_time`), all claims), and `Option<Principal>` for pages that also serve
//!   anonymous visitors;
//! - **step-up per route**: a handler taking [`MultiFactor`] requires a second factor; a user
//!   signed in with a password only is sent back through the center, which asks for the second
//!   factor alone, and returns to the page (see [Second factors](#second-factors-and-step-up));
//! - **sign-out**: `POST` to the logout path with the principal's
//!   [`csrf_token`](Principal::csrf_token) deletes the local session and sends the browser to
//!   the center's end-session endpoint, which signs the user out everywhere;
//! - **single logout**: the center's back-channel logout tokens are verified (signature,
//!   `iss`, `aud`, `iat`/`exp`, the logout event, no `nonce`, `jti` not seen before, no `crit`
//!   header, a `typ` of `logout+jwt` when there is one) and every local session of that `sid`
//!   ends; forged, expired or replayed tokens get `400`;
//! - **bearer tokens for an app's API**: [`SsoClient::introspect`] asks the center whose
//!   access token a request carries, and whether it is still active (RFC 7662); a token issued
//!   to another app counts as not active.
//!
//! # Example
//!
//! ```no_run
//! use actix_web::{App, HttpResponse, HttpServer, get};
//! use session_store::MemoryStore;
//! use sso_client::actix::SsoMiddleware;
//! use sso_client::{LocalSessions, Principal, Secret, SsoClient, SsoConfig};
//!
//! #[get("/")]
//! async fn home(user: Option<Principal>) -> HttpResponse {
//!     match user {
//!         Some(user) => HttpResponse::Ok().body(format!("Hello, {}", user.display_name())),
//!         None => HttpResponse::Ok().body("Hello, stranger. Visit /me to sign in."),
//!     }
//! }
//!
//! #[get("/me")]
//! async fn me(user: Principal) -> HttpResponse {
//!     HttpResponse::Ok().json(user.claims())
//! }
//!
//! #[actix_web::main]
//! async fn main() -> anyhow::Result<()> {
//!     let mut config = SsoConfig::new(
//!         "http://sso.localhost:8080",
//!         "app1",
//!         Secret::new(std::env::var("APP1_CLIENT_SECRET")?),
//!         "http://app1.localhost:8081".parse()?,
//!     );
//!     config.public_paths = vec!["/".to_owned()];
//!     let sessions = LocalSessions::memory(MemoryStore::default());
//!     let client = SsoClient::new(config, sessions)?;
//!     HttpServer::new(move || {
//!         App::new()
//!             .wrap(SsoMiddleware::new(client.clone()))
//!             .service(home)
//!             .service(me)
//!     })
//!     .bind(("127.0.0.1", 8081))?
//!     .run()
//!     .await?;
//!     Ok(())
//! }
//! ```
//!
//! ## axum
//!
//! With the `axum` feature, `sso_client::axum::SsoLayer` does the same for an axum app (or any
//! tower service taking `Request<Body>`): the same routes, pages, cookies and answers, from the
//! same core. `Principal` and `Option<Principal>` are extractors there too.
//!
//! ```no_run
//! # #[cfg(feature = "axum")]
//! # mod example {
//! use axum::{Json, Router, routing::get};
//! use session_store::MemoryStore;
//! use sso_client::axum::SsoLayer;
//! use sso_client::{LocalSessions, Principal, Secret, SsoClient, SsoConfig};
//!
//! async fn home(user: Option<Principal>) -> String {
//!     match user {
//!         Some(user) => format!("Hello, {}", user.display_name()),
//!         None => "Hello, stranger. Visit /me to sign in.".to_owned(),
//!     }
//! }
//!
//! async fn me(user: Principal) -> Json<serde_json::Value> {
//!     Json(serde_json::Value::Object(user.claims().clone()))
//! }
//!
//! pub async fn main() -> anyhow::Result<()> {
//!     let mut config = SsoConfig::new(
//!         "http://sso.localhost:8080",
//!         "app4",
//!         Secret::new(std::env::var("APP4_CLIENT_SECRET")?),
//!         "http://app4.localhost:8084".parse()?,
//!     );
//!     config.public_paths = vec!["/".to_owned()];
//!     let client = SsoClient::new(config, LocalSessions::memory(MemoryStore::default()))?;
//!     let app = Router::new()
//!         .route("/", get(home))
//!         .route("/me", get(me))
//!         .layer(SsoLayer::new(client));
//!     let listener = tokio::net::TcpListener::bind(("127.0.0.1", 8084)).await?;
//!     axum::serve(listener, app).await?;
//!     Ok(())
//! }
//! # }
//! ```
//!
//! The actix-web glue limits how long a form body may take to arrive (with
//! `sso_common::http::BodyDeadline`); behind axum, give the server a request timeout of its
//! own (for example tower-http's `TimeoutLayer`). `subsystem-demo` has both apps: `app1` and
//! `app2` on actix-web, and the `axum-app` binary (`subsystem_demo::axum_app`).
//!
//! Register the client at the center with the redirect URI
//! `{base_url}/auth/callback`, the back-channel logout URI `{base_url}/auth/backchannel-logout`
//! and the post-logout redirect URI `{base_url}/`; the paths are configurable in [`Paths`].
//!
//! A sign-out button is a form posting the CSRF token:
//!
//! ```html
//! <form method="post" action="/auth/logout">
//!   <input type="hidden" name="csrf_token" value="{{ user.csrf_token() }}">
//!   <button>Sign out</button>
//! </form>
//! ```
//!
//! # Second factors and step-up
//!
//! The center says in the id token how the user authenticated, and the principal keeps it:
//! [`Principal::acr`] ([`ACR_PASSWORD`] for one factor, [`ACR_MFA`] for two),
//! [`Principal::amr`] (RFC 8176 methods such as `["pwd", "otp", "mfa"]`, or
//! `["hwk", "user", "mfa"]` for a passkey), [`Principal::auth_time`], and
//! [`Principal::has_second_factor`]. A session signed in before the center sent these has none:
//! no `acr`, an empty `amr`, no second factor.
//!
//! A route that requires a second factor takes [`MultiFactor`] (which dereferences to the
//! [`Principal`]) instead of `Principal`. With actix-web:
//!
//! ```no_run
//! use actix_web::{HttpResponse, get};
//! use sso_client::MultiFactor;
//!
//! #[get("/payroll")]
//! async fn payroll(user: MultiFactor) -> HttpResponse {
//!     HttpResponse::Ok().body(format!("{} ({})", user.display_name(), user.amr().join(" ")))
//! }
//! ```
//!
//! With axum (feature `axum`), the same extractor:
//!
//! ```no_run
//! # #[cfg(feature = "axum")]
//! # mod example {
//! use axum::{Router, routing::get};
//! use sso_client::MultiFactor;
//!
//! async fn payroll(user: MultiFactor) -> String {
//!     format!("{} ({})", user.display_name(), user.amr().join(" "))
//! }
//!
//! pub fn routes() -> Router {
//!     Router::new().route("/payroll", get(payroll))
//! }
//! # }
//! ```
//!
//! A request without the second factor gets a [`StepUpRequired`], which the middleware or layer
//! answers:
//!
//! - a browser asking for a page (`GET`/`HEAD`, not asking for JSON only) is sent to
//!   `{login}?return_to=/payroll&acr_values=urn:sso:acr:mfa`; the SDK sends it to the center
//!   with `acr_values`, our center asks a user signed in with a password for the second factor
//!   only (or for the password and the second factor, without a center session), upgrades the
//!   center session in place (same `sid`), and the callback returns to `/payroll`;
//! - when the sign-in comes back still without a second factor (the user has none and the
//!   center does not make them enroll, or another provider ignores `acr_values`), the callback
//!   shows a `403` "Second factor required" page instead of returning to the page, so a browser
//!   is never sent round in circles; the user stays signed in;
//! - an API request (another method, or `Accept: application/json`) gets `403` with
//!   `{"error": "insufficient_user_authentication", "acr_values": "urn:sso:acr:mfa"}`
//!   (RFC 9470's error code), or `401` without a session.
//!
//! The login route also takes `acr_values`, `max_age` (seconds) and `prompt=login`, and passes
//! them to the center: `<a href="/auth/login?return_to=%2Fsettings&prompt=login">` asks for the
//! password again before the settings page. A signed-in user whose sign-in already has what the
//! link asks for goes straight to the page. [`SsoClient::start_login_with`] takes the same as
//! [`LoginOptions`].
//!
//! # Local sessions
//!
//! [`LocalSessions`] picks the store: [`memory`](LocalSessions::memory) for one node,
//! [`redis`](LocalSessions::redis) for a cluster (single logout deletes the sessions for every
//! node at once), or [`cookie`](LocalSessions::cookie) for stateless nodes (single logout puts
//! the `sid` on a revocation list that every node checks; keep that list in a shared store).
//! Reading a session never writes to the store on every request: the idle deadline is
//! refreshed only once a quarter of the idle window (at most a minute) has passed.
//!
//! A signed-in request costs one session read: the record is parsed once (in-process stores
//! hand out the same parsed [`Principal`], and clones of it share one copy), Redis answers one
//! `GET`, and a cookie the node has opened before is not decrypted again. For Redis, a local
//! cache that Redis keeps honest removes even the round trip:
//! `RedisConfig::new(url).with_local_cache(true)` keeps the sessions a node read, and every
//! change or deletion by any node (a single logout, say) reaches it as an invalidation push;
//! while that push channel is down the cache is empty. `cargo bench -p sso-client --features
//! testing,axum --bench middleware` (or `scripts/bench-sdk.sh`) measures each backend against
//! a bare actix-web app and actix-session, and the axum layer against a bare axum app.
//!
//! # When the center is down
//!
//! Requests with a local session never call the center, so signed-in users keep working.
//! New sign-ins get a `503` "sign-in service unavailable" page. Calls to the center time out
//! after [`CenterSettings::request_timeout_ms`], and after
//! [`CenterSettings::failure_threshold`] consecutive failures a circuit breaker fails further
//! calls at once for [`CenterSettings::open_secs`] before letting one trial call through. Only
//! the center's own failures count (no connection, a timeout, a `5xx`): a code the center
//! refuses is an answer, and a request its client abandoned (closing or resetting the
//! connection) counts neither way, so no client can open the circuit for everyone.
//!
//! # Metrics
//!
//! The SDK records Prometheus series named `sso_client_*` through the `metrics` facade: sign-ins
//! and refused callbacks, sign-outs, logout tokens and the sessions single logout ended, calls
//! to the center by endpoint and outcome with their latency, the circuit breaker's state, and
//! local-session store latency ([`metrics`] lists them). The app installs the recorder and
//! serves it (`sso_common::metrics::serve`); without one, recording costs next to nothing. The
//! read every signed-in request makes is not timed.
//!
//! # Limitations
//! - Cookie sessions live in the browser, so single logout cannot delete them: it revokes the
//!   `sid` in a revocation list, which reaches every node sharing that list at once. A node with
//!   a list of its own learns of the end through the re-check: every
//!   [`SessionSettings::recheck_secs`] a cookie session is confirmed with the center's userinfo
//!   endpoint (one call per session and interval, never while the circuit is open). Once the
//!   center stops honouring the session's access token (its center session ended, or the token
//!   lapsed) the local session ends and the next page visit signs in again, silently while the
//!   center session lives. Our center slides an access token's lifetime with each use, so the
//!   re-check (keep `recheck_secs` below the center's access-token TTL) keeps an active user's
//!   token as long as the center session lives. While the center is unreachable, sessions are
//!   kept.
//! - One sign-in at a time per browser: starting a second one (in another tab) before the first
//!   returns makes the first callback fail its state check, and the user signs in again.
//! - `max_age` and `prompt=login` are passed to the center, but the callback does not check the
//!   id token's `auth_time` against them: a route that needs a recent authentication checks
//!   [`Principal::auth_time`] itself. `acr_values` are checked (see above).
//! - `localhost` and `*.localhost` names of the center always resolve to the loopback address
//!   (RFC 6761), whatever the system resolver says.
#![forbid(unsafe_code)]

#[cfg(feature = "actix")]
pub mod actix;
#[cfg(feature = "axum")]
pub mod axum;
mod breaker;
mod center;
mod client;
pub mod config;
mod error;
mod local_sessions;
mod login_state;
pub mod metrics;
mod pkce;
mod principal;
mod recheck;
mod return_to;
mod step_up;
mod tokens;
#[cfg(any(feature = "actix", feature = "axum"))]
mod web;

pub use center::{TokenInfo, TokenKind};
pub use client::{Callback, LocalSession, LoginRedirect, SignedIn, SsoClient};
pub use config::{
    CenterSettings, CookieSettings, Paths, SameSite, Secret, SessionSettings, SsoConfig,
};
pub use error::Error;
pub use local_sessions::LocalSessions;
pub use principal::{CHECK_ONLY_CLAIMS, Principal};
pub use return_to::{NotSameOrigin, ReturnTo};
pub use step_up::{ACR_MFA, ACR_PASSWORD, LoginOptions};
pub use tokens::access_token::AccessToken;
#[cfg(any(feature = "actix", feature = "axum"))]
pub use web::step_up::{MultiFactor, StepUpRequired};
