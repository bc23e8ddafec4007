//! The demo app on axum, protected by the SDK's axum layer ([`sso_client::axum::SsoLayer`]):
//! a home page that greets the signed-in user and has a sign-out form, a protected profile
//! page, and a sensitive page that requires a second factor. It reads the same settings as the actix-web demo app.

use std::net::TcpListener;

use actix_web::dev::Server;
use anyhow::Context as _;
use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use sso_client::axum::SsoLayer;
use sso_client::{MultiFactor, Principal, SsoClient};
use url::Url;

use crate::config::Settings;
use crate::pages::UserView;
use crate::startup::Bound;
use crate::store::local_sessions;

/// What every page shows of the app.
#[derive(Clone, Debug)]
struct Site {
    name: String,
    node: String,
    backend: &'static str,
    logout_path: String,
    login_href: String,
}

#[derive(Template)]
#[template(
    ext = "html",
    source = r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }} · {{ site.name }}</title>
<style>
body{margin:0;background:#f6f7fb;color:#1f2933;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
header,main,footer{max-width:40rem;margin:0 auto;padding:1rem 1.5rem}
header{display:flex;justify-content:space-between;align-items:center}
nav a{margin-right:1rem;color:#2456d6}
button{padding:.5rem 1rem;border:0;border-radius:8px;background:#2456d6;color:#fff;font-weight:600;cursor:pointer}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem}
footer{color:#52606d;font-size:.9rem}
</style>
</head>
<body>
<header>
<nav aria-label="Main"><a href="/">Home</a><a href="/profile">Profile</a><a href="/sensitive">Sensitive</a></nav>
<div class="account">
{% match user %}
{% when Some with (user) %}
<span class="who">{{ user.display_name }}</span>
<form method="post" action="{{ site.logout_path }}">
<input type="hidden" name="csrf_token" value="{{ user.csrf_token }}">
<button type="submit">Sign out</button>
</form>
{% when None %}
<a class="sign-in" href="{{ site.login_href }}">Sign in</a>
{% endmatch %}
</div>
</header>
<main>
<h1 id="{{ heading_id }}">{{ heading }}</h1>
{% match user %}
{% when Some with (user) %}
{% if show_claims %}
<dl>
<dt>Subject</dt><dd>{{ user.sub }}</dd>
{% if let Some(email) = user.email %}<dt>E-mail</dt><dd>{{ email }}</dd>{% endif %}
{% if let Some(sid) = user.sid %}<dt>Session</dt><dd>{{ sid }}</dd>{% endif %}
<dt>Assurance level (acr)</dt><dd>{% if let Some(acr) = user.factors.acr %}{{ acr }}{% else %}not provided{% endif %}</dd>
<dt>Methods used (amr)</dt><dd>{% if user.factors.amr.is_empty() %}not provided{% else %}{{ user.factors.amr }}{% endif %}</dd>
{% if let Some(when) = auth_time %}<dt>Last authenticated (auth_time)</dt><dd>{{ when }}</dd>{% endif %}
</dl>
{% else %}
<p>You are signed in to {{ site.name }}, an axum app, with single sign-on.</p>
<dl>
<dt>Assurance level (acr)</dt><dd>{% if let Some(acr) = user.factors.acr %}{{ acr }}{% else %}not provided{% endif %}</dd>
<dt>Methods used (amr)</dt><dd>{% if user.factors.amr.is_empty() %}not provided{% else %}{{ user.factors.amr }}{% endif %}</dd>
</dl>
<p><a href="/sensitive">Open the sensitive area</a> (it needs a second factor).</p>
{% endif %}
{% when None %}
<p>{{ site.name }} is an axum app protected by single sign-on. Sign in to see your profile.</p>
{% endmatch %}
</main>
<footer class="served-by">Served by {{ site.node }} (axum) · sessions: {{ site.backend }}</footer>
</body>
</html>"#
)]
struct Page<'a> {
    site: &'a Site,
    user: Option<UserView>,
    title: &'a str,
    heading: String,
    heading_id: &'a str,
    show_claims: bool,
    /// When the user last authenticated, on the pages that show it.
    auth_time: Option<u64>,
}

fn render(page: &Page<'_>) -> Response {
    match page.render() {
        Ok(html) => Html(html).into_response(),
        Err(error) => {
            tracing::error!(%error, "rendering a page failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// `GET /`: a greeting for the signed-in user, or a way to sign in.
async fn home(State(site): State<Site>, user: Option<Principal>) -> Response {
    let heading = user.as_ref().map_or_else(
        || format!("Welcome to {}", site.name),
        |user| format!("Hello, {}", user.display_name()),
    );
    render(&Page {
        site: &site,
        user: user.as_ref().map(UserView::from),
        title: "Home",
        heading,
        heading_id: "greeting",
        show_claims: false,
        auth_time: None,
    })
}

/// `GET /profile`: signed-in users only.
async fn profile(State(site): State<Site>, user: Principal) -> Response {
    render(&Page {
        site: &site,
        heading: user.display_name().to_owned(),
        user: Some(UserView::from(&user)),
        title: "Profile",
        heading_id: "profile-title",
        show_claims: true,
        auth_time: user.auth_time(),
    })
}

/// `GET /sensitive`: users who gave a second factor only; the SDK sends anyone else to the
/// sign-in service to give one, and back here.
async fn sensitive(State(site): State<Site>, user: MultiFactor) -> Response {
    render(&Page {
        site: &site,
        heading: "Sensitive area".to_owned(),
        user: Some(UserView::from(&*user)),
        title: "Sensitive area",
        heading_id: "sensitive-title",
        show_claims: true,
        auth_time: user.auth_time(),
    })
}

/// `GET /health`: the app is up.
async fn health() -> &'static str {
    "ok"
}

/// The demo app on axum, listening, not yet running.
pub struct AxumApplication {
    port: u16,
    public_url: Url,
    listener: TcpListener,
    router: Router,
    metrics: Option<(u16, Server)>,
}

impl std::fmt::Debug for AxumApplication {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AxumApplication")
            .field("port", &self.port)
            .field("public_url", &self.public_url.as_str())
            .field("metrics_port", &self.metrics_port())
            .finish_non_exhaustive()
    }
}

impl AxumApplication {
    /// Binds the configured address (port `0` picks a free one) and builds the app. The center
    /// is not contacted, so the app starts even while the center is down. Must run inside a
    /// Tokio runtime.
    ///
    /// # Errors
    /// When the address cannot be bound or the configuration cannot work.
    pub fn build(settings: Settings) -> anyhow::Result<Self> {
        let Bound {
            listener,
            port,
            metrics,
            public_url,
            sso_config,
            form_action,
        } = crate::startup::bind(&settings)?;
        listener.set_nonblocking(true)?;
        let csp = format!(
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; \
             base-uri 'none'; {form_action}"
        );
        let csp = HeaderValue::from_str(&csp).context("sso.issuer")?;
        let client = SsoClient::new(sso_config, local_sessions(&settings)?)?;
        let paths = &client.config().paths;
        let site = Site {
            name: settings.name.clone(),
            node: settings.node().to_owned(),
            backend: client.session_backend(),
            logout_path: paths.logout.clone(),
            login_href: format!("{}?return_to=%2Fprofile", paths.login),
        };
        let router = Router::new()
            .route("/", get(home))
            .route("/profile", get(profile))
            .route("/sensitive", get(sensitive))
            .route("/health", get(health))
            .with_state(site)
            .layer(SsoLayer::new(client))
            .layer(axum::middleware::map_response(move |response| {
                security_headers(response, csp.clone())
            }));
        Ok(Self {
            port,
            public_url,
            listener,
            router,
            metrics,
        })
    }

    /// The port the app listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The port of the metrics endpoint, when `metrics.listen` is set.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics.as_ref().map(|(port, _)| *port)
    }

    /// The URL browsers use to reach the app.
    pub fn public_url(&self) -> &Url {
        &self.public_url
    }

    /// Serves requests until the process is asked to stop.
    ///
    /// # Errors
    /// When the server fails.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let listener = tokio::net::TcpListener::from_std(self.listener)?;
        let metrics = self.metrics.map(|(_, server)| server);
        sso_common::metrics::run_beside(metrics, axum::serve(listener, self.router).into_future())
            .await
    }
}

/// The headers every answer carries; the SDK's own pages keep the stricter policy they set.
async fn security_headers(mut response: Response, csp: HeaderValue) -> Response {
    let headers = response.headers_mut();
    headers
        .entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(csp);
    for (name, value) in [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "same-origin"),
    ] {
        headers
            .entry(name)
            .or_insert(HeaderValue::from_static(value));
    }
    response
}
