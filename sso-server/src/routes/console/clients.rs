//! Clients: list, register, change URIs, rotate the secret (shown once). Clients of the
//! configuration file are shown read-only.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use jsonwebtoken::Algorithm;
use serde::Deserialize;

use super::users::{CsrfOnly, encode};
use super::{Chrome, ConsoleAdmin, ConsoleError, lines, non_blank, page};
use crate::admin;
use crate::clients::{Client, NewClient, TokenPolicy, UriChange};
use crate::domain::{ClientId, RedirectUri};
use crate::i18n::Texts;
use crate::state::AppState;
use crate::web as webutil;

/// A client as the pages show it.
struct View {
    id: String,
    path: String,
    name: String,
    configured: bool,
    public: bool,
    redirect_uris: Vec<String>,
    post_logout_redirect_uris: Vec<String>,
    backchannel_logout_uri: String,
}

impl View {
    fn of(client: &Client, configured: bool) -> Self {
        let all = |uris: &[RedirectUri]| uris.iter().map(|uri| uri.as_str().to_owned()).collect();
        Self {
            id: client.id.to_string(),
            path: format!("/admin/clients/{}", encode(client.id.as_str())),
            name: client.name.clone(),
            configured,
            public: client.is_public(),
            redirect_uris: all(&client.redirect_uris),
            post_logout_redirect_uris: all(&client.post_logout_redirect_uris),
            backchannel_logout_uri: client
                .backchannel_logout_uri
                .as_ref()
                .map_or_else(String::new, |uri| uri.as_str().to_owned()),
        }
    }
}

/// The clients page.
#[derive(Template)]
#[template(path = "sso/console/clients.html")]
struct ClientsPage<'a> {
    lang: &'a str,
    t: &'a Texts,
    chrome: Chrome,
    clients: Vec<View>,
}

/// `GET /admin/clients`
pub async fn list(
    admin: ConsoleAdmin,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let mut clients = Vec::new();
    for listed in state.clients.list().await? {
        let Some(id) = ClientId::parse(&listed.id) else {
            continue;
        };
        if let Some(client) = state.clients.get(&id).await? {
            clients.push(View::of(&client, listed.configured));
        }
    }
    let (chrome, cookie) = Chrome::new(&req, &state, &admin, "clients");
    let body = ClientsPage {
        lang: super::LANG,
        t: super::texts(),
        chrome,
        clients,
    };
    Ok(page(StatusCode::OK, cookie, &body))
}

/// A client's page; `secret` is a secret just made, shown this once.
#[derive(Template)]
#[template(path = "sso/console/client.html")]
struct ClientPage<'a> {
    lang: &'a str,
    t: &'a Texts,
    chrome: Chrome,
    client: View,
    secret: Option<String>,
}

/// The page of client `id` with `status`, showing `secret` when one was just made.
async fn client_page(
    admin: &ConsoleAdmin,
    req: &HttpRequest,
    state: &AppState,
    id: &ClientId,
    status: StatusCode,
    secret: Option<String>,
) -> Result<HttpResponse, ConsoleError> {
    let client = state
        .clients
        .get(id)
        .await?
        .ok_or_else(|| ConsoleError::NotFound(format!("there is no client {id}")))?;
    let (chrome, cookie) = Chrome::new(req, state, admin, "clients");
    let body = ClientPage {
        lang: super::LANG,
        t: super::texts(),
        chrome,
        client: View::of(&client, state.clients.is_configured(id)),
        secret,
    };
    Ok(page(status, cookie, &body))
}

fn client_id(text: &str) -> Result<ClientId, ConsoleError> {
    ClientId::parse(text.trim())
        .ok_or_else(|| ConsoleError::NotFound(format!("there is no client {text}")))
}

/// A database client's id; a configured client is read-only here.
fn changeable(state: &AppState, text: &str) -> Result<ClientId, ConsoleError> {
    let id = client_id(text)?;
    if state.clients.is_configured(&id) {
        return Err(ConsoleError::ReadOnly(id.to_string()));
    }
    Ok(id)
}

/// `GET /admin/clients/{id}`
pub async fn show(
    admin: ConsoleAdmin,
    req: HttpRequest,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let id = client_id(&id)?;
    client_page(&admin, &req, &state, &id, StatusCode::OK, None).await
}

/// The URI fields of the client forms.
#[derive(Debug, Deserialize)]
pub struct UriFields {
    /// One per line.
    #[serde(default)]
    redirect_uris: String,
    /// One per line.
    #[serde(default)]
    post_logout_redirect_uris: String,
    #[serde(default)]
    backchannel_logout_uri: String,
}

impl UriFields {
    fn parse(&self) -> Result<UriChange, ConsoleError> {
        let uri = |text: &str| {
            RedirectUri::parse(text).ok_or_else(|| {
                ConsoleError::BadRequest(format!(
                    "{text:?} is not an absolute http(s) URI without a fragment"
                ))
            })
        };
        let list = |text: &str| lines(text).map(uri).collect::<Result<Vec<_>, _>>();
        Ok(UriChange {
            redirect_uris: list(&self.redirect_uris)?,
            post_logout_redirect_uris: list(&self.post_logout_redirect_uris)?,
            backchannel_logout_uri: non_blank(Some(&self.backchannel_logout_uri))
                .map(uri)
                .transpose()?,
        })
    }
}

/// The form registering a client.
#[derive(Debug, Deserialize)]
pub struct NewClientForm {
    csrf_token: Option<String>,
    client_id: String,
    #[serde(default)]
    name: String,
    #[serde(flatten)]
    uris: UriFields,
    /// Present (`on`) for a public client, which has no secret and must use PKCE.
    public: Option<String>,
}

/// `POST /admin/clients`: a client that signs users in; a confidential one's secret is shown
/// once.
pub async fn create(
    admin: ConsoleAdmin,
    req: HttpRequest,
    form: web::Form<NewClientForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let form = form.into_inner();
    admin.check_csrf(&req, &state, form.csrf_token.as_deref())?;
    let id = ClientId::parse(form.client_id.trim()).ok_or_else(|| {
        ConsoleError::BadRequest(format!("{:?} is not a valid client id", form.client_id))
    })?;
    if state.clients.is_configured(&id) {
        return Err(ConsoleError::ReadOnly(id.to_string()));
    }
    if state.clients.get(&id).await?.is_some() {
        return Err(ConsoleError::BadRequest(format!(
            "a client {id} already exists"
        )));
    }
    let uris = form.uris.parse()?;
    let name = form.name.trim();
    if name.chars().count() > 128 || name.chars().any(char::is_control) {
        return Err(ConsoleError::BadRequest(
            "the name must be at most 128 characters, without control characters".to_owned(),
        ));
    }
    let secret = form.public.is_none().then(admin::generate_secret);
    let client = NewClient {
        id: id.clone(),
        name: if name.is_empty() {
            id.to_string()
        } else {
            name.to_owned()
        },
        secret: secret.clone(),
        redirect_uris: uris.redirect_uris,
        post_logout_redirect_uris: uris.post_logout_redirect_uris,
        backchannel_logout_uri: uris.backchannel_logout_uri,
        id_token_alg: Algorithm::RS256,
        tokens: TokenPolicy::default(),
    };
    client
        .check()
        .map_err(|why| ConsoleError::BadRequest(why.to_string()))?;
    admin::register_client(&state, &admin.user.username, client).await?;
    client_page(&admin, &req, &state, &id, StatusCode::CREATED, secret).await
}

/// The form changing a client's URIs.
#[derive(Debug, Deserialize)]
pub struct UrisForm {
    csrf_token: Option<String>,
    #[serde(flatten)]
    uris: UriFields,
}

/// `POST /admin/clients/{id}/uris`
pub async fn change_uris(
    admin: ConsoleAdmin,
    req: HttpRequest,
    id: web::Path<String>,
    form: web::Form<UrisForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    admin.check_csrf(&req, &state, form.csrf_token.as_deref())?;
    let id = changeable(&state, &id)?;
    let change = form.uris.parse()?;
    let client = state
        .clients
        .get(&id)
        .await?
        .ok_or_else(|| ConsoleError::NotFound(format!("there is no client {id}")))?;
    client
        .check_uris(&change)
        .map_err(ConsoleError::BadRequest)?;
    admin::change_client_uris(&state, &admin.user.username, &id, &change).await?;
    Ok(webutil::see_other(&View::of(&client, false).path))
}

/// `POST /admin/clients/{id}/secret`: a new secret, shown in the answer and never again.
pub async fn rotate_secret(
    admin: ConsoleAdmin,
    req: HttpRequest,
    id: web::Path<String>,
    form: web::Form<CsrfOnly>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    admin.check_csrf(&req, &state, form.csrf_token.as_deref())?;
    let id = changeable(&state, &id)?;
    let not_found = || ConsoleError::NotFound(format!("there is no client {id}"));
    let client = state.clients.get(&id).await?.ok_or_else(not_found)?;
    if client.is_public() {
        return Err(ConsoleError::BadRequest(format!(
            "client {id} is public: it has no secret to rotate"
        )));
    }
    let secret = admin::rotate_client_secret(&state, &admin.user.username, &id)
        .await?
        .ok_or_else(not_found)?;
    client_page(&admin, &req, &state, &id, StatusCode::OK, Some(secret)).await
}
