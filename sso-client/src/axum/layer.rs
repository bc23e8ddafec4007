//! The layer: answers the SDK's routes, loads the local session of every other request and
//! sends anonymous visitors of protected paths to the center.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::{Body, HttpBody as _};
use axum::extract::Request;
use axum::response::Response;
use http::{Method, header};
use session_store::SessionKey;
use tower::{Layer, Service};

use super::reply::{add_cookie, respond};
use crate::web::cookies::SetCookie;
use crate::web::future::SsoFuture;
use crate::web::request::{self, SdkRoute};
use crate::web::routes::{self, FORM_LIMIT, UnreadForm};
use crate::web::step_up;
use crate::web::{Reply, pages};
use crate::{Error, LocalSession, LoginOptions, SsoClient, StepUpRequired};

/// Protects an axum app (or any tower service taking `Request<Body>`) with single sign-on;
/// see the crate documentation.
///
/// Every path is protected except the configured public paths and the SDK's own routes.
/// Signed-in requests carry a [`Principal`](crate::Principal) in their extensions for handlers
/// to extract.
#[derive(Clone, Debug)]
pub struct SsoLayer {
    client: SsoClient,
}

impl SsoLayer {
    /// The layer for `client`.
    pub fn new(client: SsoClient) -> Self {
        Self { client }
    }
}

impl<S> Layer<S> for SsoLayer {
    type Service = SsoService<S>;

    fn layer(&self, inner: S) -> SsoService<S> {
        SsoService {
            inner,
            client: self.client.clone(),
        }
    }
}

/// The service [`SsoLayer`] wraps around an app.
#[derive(Clone, Debug)]
pub struct SsoService<S> {
    inner: S,
    client: SsoClient,
}

impl<S> Service<Request> for SsoService<S>
where
    S: Service<Request, Response = Response> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = SsoFuture<S::Future, Response, Response, BoxedReply<S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request) -> Self::Future {
        let client = self.client.clone();
        let route = SdkRoute::of(&client.config().paths, req.uri().path());
        let future: BoxedReply<S::Error> = match route {
            Some(route) if !route.allows(req.method().as_str()) => {
                let response = respond(&client, routes::method_not_allowed(route.allow()));
                Box::pin(std::future::ready(Ok(response)))
            }
            // The SDK's own routes get futures of their own, so the one of every other request
            // stays small.
            Some(SdkRoute::Callback) => {
                Box::pin(async move { Ok(respond(&client, callback(&client, req).await)) })
            }
            Some(SdkRoute::BackChannelLogout) => Box::pin(async move {
                let reply = routes::back_channel_logout(&client, read_form(req).await).await;
                Ok(respond(&client, reply))
            }),
            Some(SdkRoute::Logout) => Box::pin(async move {
                let presented = presented_session(&client, &req);
                let reply = routes::logout(&client, read_form(req).await, presented).await;
                Ok(respond(&client, reply))
            }),
            Some(SdkRoute::Login) | None => {
                // The clone is not ready; the service polled ready is the one that answers.
                let clone = self.inner.clone();
                let mut ready = std::mem::replace(&mut self.inner, clone);
                let loaded = match route {
                    Some(_) => None,
                    None => {
                        request::session_cookie(cookie_headers(&req), &client.config().cookie.name)
                            .and_then(|presented| client.load_presented_now(presented))
                    }
                };
                // The common case, a signed-in request whose session was at hand, goes straight
                // to the app: no boxed future, nothing to wait for but the app.
                if let Some(Ok(Some(session))) = loaded {
                    req.extensions_mut().insert(session.principal);
                    return SsoFuture::SignedIn {
                        response: ready.call(req),
                        client,
                        renewed: session.key_changed.then_some(session.key),
                        finish: signed_in,
                    };
                }
                Box::pin(handle(ready, client, req, route.is_some(), loaded))
            }
        };
        SsoFuture::Other { future }
    }
}

type BoxedReply<E> = Pin<Box<dyn Future<Output = Result<Response, E>> + Send>>;

fn cookie_headers(req: &Request) -> impl Iterator<Item = &[u8]> {
    req.headers()
        .get_all(header::COOKIE)
        .into_iter()
        .map(http::HeaderValue::as_bytes)
}

fn presented_session(client: &SsoClient, req: &Request) -> Option<SessionKey> {
    request::presented_session(cookie_headers(req), &client.config().cookie.name)
}

/// A request for the app that `call` could not send straight to it, or for the sign-in route
/// (`login`), which needs to know whether the visitor is signed in already. `loaded` is the
/// outcome of the session's load when `call` made one.
async fn handle<S>(
    mut inner: S,
    client: SsoClient,
    mut req: Request,
    login: bool,
    loaded: Option<Result<Option<LocalSession>, Error>>,
) -> Result<Response, S::Error>
where
    S: Service<Request, Response = Response>,
{
    let paths = &client.config().paths;
    let presented = request::session_cookie(cookie_headers(&req), &client.config().cookie.name);
    let session = match client.load_unless_loaded(loaded, presented).await {
        Ok(session) => session,
        Err(error) => {
            tracing::error!(%error, "cannot read the local session");
            return Ok(respond(&client, pages::internal_error(&paths.after_logout)));
        }
    };

    if login {
        let (parts, _) = req.into_parts();
        let query = parts.uri.query().unwrap_or("");
        let principal = session.as_ref().map(|session| &session.principal);
        let reply = Box::pin(routes::login(&client, query, principal)).await;
        return Ok(respond(&client, reply));
    }

    if let Some(session) = session {
        req.extensions_mut().insert(session.principal);
        let response = inner.call(req).await?;
        let renewed = session.key_changed.then_some(&session.key);
        return Ok(signed_in(&client, response, renewed));
    }

    let stale_cookie =
        request::cookie_value(cookie_headers(&req), &client.config().cookie.name).is_some();
    if client.config().is_public(req.uri().path()) {
        let mut response = step_up(&client, inner.call(req).await?);
        if stale_cookie {
            add_cookie(&client, response.headers_mut(), &SetCookie::SessionRemoval);
        }
        return Ok(response);
    }

    let is_get = matches!(*req.method(), Method::GET | Method::HEAD);
    let accept = req
        .headers()
        .get(header::ACCEPT)
        .map(http::HeaderValue::as_bytes);
    let mut reply = if is_get && request::wants_html(accept) {
        let target = req
            .uri()
            .path_and_query()
            .map(http::uri::PathAndQuery::as_str);
        let return_to = request::return_to_of(target);
        Box::pin(routes::start_login(
            &client,
            return_to,
            LoginOptions::default(),
        ))
        .await
    } else {
        pages::unauthenticated_json()
    };
    if stale_cookie {
        reply = reply.with_cookie(SetCookie::SessionRemoval);
    }
    Ok(respond(&client, reply))
}

/// The app's `response` to a signed-in request, with the session's cookie when its key was
/// `renewed`.
fn signed_in(client: &SsoClient, response: Response, renewed: Option<&SessionKey>) -> Response {
    let mut response = step_up(client, response);
    if let Some(key) = renewed {
        let cookie = SetCookie::Session(key.as_str().to_owned());
        add_cookie(client, response.headers_mut(), &cookie);
    }
    response
}

/// The app's `response`, unless a route refused it for want of a second factor: then the
/// refusal as only the SDK can complete it (a redirect to its sign-in route).
fn step_up(client: &SsoClient, mut response: Response) -> Response {
    match response.extensions_mut().remove::<StepUpRequired>() {
        Some(refused) => respond(client, step_up::reply(client, &refused)),
        None => response,
    }
}

/// `GET {callback}`: finish the sign-in.
async fn callback(client: &SsoClient, req: Request) -> Reply {
    // Owned, as a request is not `Sync` and may not be borrowed across an await.
    let login_cookie = request::cookie_value(cookie_headers(&req), client.login_cookie_name())
        .and_then(|value| std::str::from_utf8(value).ok())
        .map(str::to_owned);
    let presented = presented_session(client, &req);
    let (parts, _) = req.into_parts();
    let query = parts.uri.query().unwrap_or("");
    routes::callback(client, query, login_cookie.as_deref(), presented).await
}

/// Reads the request's form body, refusing one of another content type (`415`) or over the
/// SDK's form limit (`413`) without reading further.
async fn read_form<F: serde::de::DeserializeOwned>(req: Request) -> Result<F, UnreadForm> {
    routes::form_content_type(
        req.headers()
            .get(header::CONTENT_TYPE)
            .map(http::HeaderValue::as_bytes),
    )?;
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<usize>().ok());
    if declared.is_some_and(|length| length > FORM_LIMIT) {
        return Err(UnreadForm::new(413, "declared form over the limit"));
    }
    let body = read_limited(req.into_body(), FORM_LIMIT).await?;
    routes::parse_form(&body)
}

/// The body's bytes, up to `limit`.
async fn read_limited(mut body: Body, limit: usize) -> Result<Vec<u8>, UnreadForm> {
    let mut bytes = Vec::new();
    while let Some(frame) = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
        let frame = frame.map_err(|error| UnreadForm::new(400, error))?;
        if let Ok(data) = frame.into_data() {
            if bytes.len() + data.len() > limit {
                return Err(UnreadForm::new(413, "form over the limit"));
            }
            bytes.extend_from_slice(&data);
        }
    }
    Ok(bytes)
}
