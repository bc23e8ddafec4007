//! The middleware: answers the SDK's routes, loads the local session of every other request
//! and sends anonymous visitors of protected paths to the center.

use std::future::{Future, Ready, ready};
use std::pin::Pin;
use std::rc::Rc;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::http::Method;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpMessage as _, HttpRequest, HttpResponse, web};

use super::routes::{self, BackChannelForm, LogoutForm, add_cookie};
use super::{cookies, pages};

use session_store::SessionKey;

use crate::web::future::SsoFuture;
use crate::web::request::{self, SdkRoute};
use crate::web::step_up;
use crate::{Error, LocalSession, ReturnTo, SsoClient, StepUpRequired};

/// Protects an actix-web app with single sign-on; see the crate documentation.
///
/// Every path is protected except the configured public paths and the SDK's own routes.
/// Signed-in requests carry a [`Principal`](crate::Principal) for handlers to extract.
#[derive(Clone, Debug)]
pub struct SsoMiddleware {
    client: SsoClient,
}

impl SsoMiddleware {
    /// The middleware for `client`.
    pub fn new(client: SsoClient) -> Self {
        Self { client }
    }
}

impl<S, B> Transform<S, ServiceRequest> for SsoMiddleware
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Transform = SsoService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(SsoService {
            service: Rc::new(service),
            client: self.client.clone(),
        }))
    }
}

/// The service [`SsoMiddleware`] wraps around an app.
#[derive(Debug)]
pub struct SsoService<S> {
    service: Rc<S>,
    client: SsoClient,
}

type Reply<B> = Result<ServiceResponse<EitherBody<B>>, actix_web::Error>;

impl<S, B> Service<ServiceRequest> for SsoService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Future = SsoFuture<
        S::Future,
        ServiceResponse<B>,
        ServiceResponse<EitherBody<B>>,
        Pin<Box<dyn Future<Output = Reply<B>>>>,
    >;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let client = &self.client;
        let loaded = match SdkRoute::of(&client.config().paths, req.path()) {
            Some(_) => None,
            None => session_cookie(req.request(), &client.config().cookie.name)
                .and_then(|presented| client.load_presented_now(presented)),
        };
        // The common case, a signed-in request whose session was at hand, goes straight to
        // the app: no boxed future, nothing to wait for but the app.
        if let Some(Ok(Some(session))) = loaded {
            req.extensions_mut().insert(session.principal);
            return SsoFuture::SignedIn {
                response: self.service.call(req),
                client: client.clone(),
                renewed: session.key_changed.then_some(session.key),
                finish: signed_in,
            };
        }
        SsoFuture::Other {
            future: Box::pin(handle(self.service.clone(), client.clone(), req, loaded)),
        }
    }
}

fn reply<B>(req: ServiceRequest, response: HttpResponse) -> Reply<B> {
    Ok(req.into_response(response).map_into_right_body())
}

/// Answers a request `call` could not send straight to the app; `loaded` is the outcome of
/// the session's load when `call` made one.
async fn handle<S, B>(
    service: Rc<S>,
    client: SsoClient,
    mut req: ServiceRequest,
    loaded: Option<Result<Option<LocalSession>, Error>>,
) -> Reply<B>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let paths = &client.config().paths;
    let route = SdkRoute::of(paths, req.path());
    if let Some(route) = route.filter(|route| !route.allows(req.method().as_str())) {
        return reply(req, routes::method_not_allowed(route.allow()));
    }
    // The SDK's own routes are boxed: their state (calls to the center) would otherwise make
    // the future of every request kilobytes larger.
    match route {
        Some(SdkRoute::Callback) => {
            let response = Box::pin(routes::callback(&client, req.request())).await;
            return reply(req, response);
        }
        Some(SdkRoute::BackChannelLogout) => {
            let response = Box::pin(async {
                let form = req.extract::<web::Form<BackChannelForm>>().await;
                routes::back_channel_logout(&client, form.map(web::Form::into_inner)).await
            })
            .await;
            return reply(req, response);
        }
        Some(SdkRoute::Logout) => {
            let response = Box::pin(async {
                let form = req.extract::<web::Form<LogoutForm>>().await;
                routes::logout(&client, req.request(), form.map(web::Form::into_inner)).await
            })
            .await;
            return reply(req, response);
        }
        Some(SdkRoute::Login) | None => {}
    }

    let presented = session_cookie(req.request(), &client.config().cookie.name);
    let session = match client.load_unless_loaded(loaded, presented).await {
        Ok(session) => session,
        Err(error) => {
            tracing::error!(%error, "cannot read the local session");
            let response = pages::internal_error(&paths.after_logout);
            return reply(req, response);
        }
    };

    if route == Some(SdkRoute::Login) {
        let principal = session.as_ref().map(|session| &session.principal);
        let response = Box::pin(routes::login(&client, req.request(), principal)).await;
        return reply(req, response);
    }

    if let Some(session) = session {
        req.extensions_mut().insert(session.principal);
        let response = service.call(req).await?;
        let renewed = session.key_changed.then_some(&session.key);
        return Ok(signed_in(&client, response, renewed));
    }

    let stale_cookie = req.cookie(&client.config().cookie.name).is_some();
    if client.config().is_public(req.path()) {
        let mut response = step_up(&client, service.call(req).await?);
        if stale_cookie {
            add_cookie(response.response_mut(), &cookies::session_removal(&client));
        }
        return Ok(response);
    }

    let is_get = matches!(*req.method(), Method::GET | Method::HEAD);
    let mut response = if is_get && wants_html(req.request()) {
        let return_to = req
            .uri()
            .path_and_query()
            .and_then(|target| ReturnTo::parse(target.as_str()).ok())
            .unwrap_or_else(ReturnTo::root);
        Box::pin(routes::start_login(&client, return_to)).await
    } else {
        pages::unauthenticated_json()
    };
    if stale_cookie {
        add_cookie(&mut response, &cookies::session_removal(&client));
    }
    reply(req, response)
}

/// The app's `response` to a signed-in request, with the session's cookie when its key was
/// `renewed`.
fn signed_in<B>(
    client: &SsoClient,
    response: ServiceResponse<B>,
    renewed: Option<&SessionKey>,
) -> ServiceResponse<EitherBody<B>> {
    let mut response = step_up(client, response);
    if let Some(key) = renewed {
        add_cookie(
            response.response_mut(),
            &cookies::session(client, key.as_str()),
        );
    }
    response
}

/// The app's `response`, unless a route refused it for want of a second factor: then the
/// refusal as only the SDK can complete it (a redirect to its sign-in route).
fn step_up<B>(client: &SsoClient, response: ServiceResponse<B>) -> ServiceResponse<EitherBody<B>> {
    let refused = response
        .response()
        .error()
        .and_then(|error| error.as_error::<StepUpRequired>())
        .filter(|step_up| step_up::needs_client(step_up))
        .map(|step_up| step_up::reply(client, step_up));
    match refused {
        Some(reply) => {
            let answer = pages::respond(client, reply);
            response.into_response(answer).map_into_right_body()
        }
        None => response.map_into_left_body(),
    }
}

/// The value of the session cookie `name`, as the request carries it.
fn session_cookie<'a>(req: &'a HttpRequest, name: &str) -> Option<&'a [u8]> {
    let headers = req.headers().get_all(header::COOKIE);
    request::session_cookie(headers.map(HeaderValue::as_bytes), name)
}

/// Whether a redirect to a sign-in page makes sense: not for clients asking for JSON.
fn wants_html(req: &HttpRequest) -> bool {
    request::wants_html(req.headers().get(header::ACCEPT).map(HeaderValue::as_bytes))
}
