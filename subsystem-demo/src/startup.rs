//! Building and running the app: used by `main` and by the tests alike.

use std::net::TcpListener;

use actix_web::dev::Server;
use actix_web::middleware::{DefaultHeaders, from_fn};
use actix_web::{App, HttpServer, web};
use anyhow::Context as _;
use sso_client::SsoClient;
use sso_client::actix::SsoMiddleware;
use url::Url;

use crate::config::Settings;
use crate::pages::{Site, first_letter};
use crate::store::local_sessions;

/// A built app, listening, not yet running.
pub struct Application {
    port: u16,
    public_url: Url,
    server: Server,
    metrics: Option<(u16, Server)>,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application")
            .field("port", &self.port)
            .field("public_url", &self.public_url.as_str())
            .field("metrics_port", &self.metrics_port())
            .finish_non_exhaustive()
    }
}

/// The listening socket and what both demo apps (actix-web and axum) derive from the
/// settings before building their routes.
pub(crate) struct Bound {
    pub(crate) listener: TcpListener,
    pub(crate) port: u16,
    /// The metrics endpoint (`metrics.listen`) and its port, when it is set.
    pub(crate) metrics: Option<(u16, Server)>,
    pub(crate) public_url: Url,
    pub(crate) sso_config: sso_client::SsoConfig,
    /// `form-action 'self' {center}`: sign-out forms are answered with a redirect to the
    /// center, which the Content-Security-Policy must allow.
    pub(crate) form_action: String,
}

/// Binds the configured address (port `0` picks a free one) and the metrics endpoint, and
/// resolves the app's public URL and SDK configuration.
///
/// # Errors
/// When an address cannot be bound or the configuration cannot work.
pub(crate) fn bind(settings: &Settings) -> anyhow::Result<Bound> {
    let listener = TcpListener::bind((settings.http.host.as_str(), settings.http.port))
        .with_context(|| {
            format!(
                "cannot listen on {}:{}",
                settings.http.host, settings.http.port
            )
        })?;
    let port = listener.local_addr()?.port();
    let metrics = sso_common::metrics::serve_configured(&settings.metrics)?;
    if metrics.is_some() {
        sso_client::metrics::describe();
    }
    let public_url = settings.public_url(port)?;
    let sso_config = settings.sso_config(public_url.clone());
    let form_action = format!(
        "form-action 'self' {}",
        Url::parse(&sso_config.issuer)
            .map(|issuer| issuer.origin().ascii_serialization())
            .context("sso.issuer")?
    );
    Ok(Bound {
        listener,
        port,
        metrics,
        public_url,
        sso_config,
        form_action,
    })
}

impl Application {
    /// Binds the configured address (port `0` picks a free one) and builds the app. The center
    /// is not contacted, so the app starts even while the center is down.
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
        } = bind(&settings)?;
        let csp = format!(
            "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; \
             object-src 'none'; {form_action}"
        );
        let client = SsoClient::new(sso_config, local_sessions(&settings)?)?;
        let paths = &client.config().paths;
        let site = web::Data::new(Site {
            initial: first_letter(&settings.name),
            theme: settings.name.clone(),
            name: settings.name.clone(),
            node: settings.node().to_owned(),
            backend: client.session_backend(),
            logout_path: paths.logout.clone(),
            login_href: format!("{}?return_to=%2Fprofile", paths.login),
            stylesheet_href: crate::routes::stylesheet_href(),
        });
        let limits = settings.http.limits();
        let api_client = web::Data::new(client.clone());
        let server = limits.apply(HttpServer::new(move || {
            let deadline = limits.body_deadline();
            App::new()
                .wrap(SsoMiddleware::new(client.clone()))
                .wrap(
                    DefaultHeaders::new()
                        .add(("Content-Security-Policy", csp.as_str()))
                        .add(("X-Content-Type-Options", "nosniff"))
                        .add(("X-Frame-Options", "DENY"))
                        .add(("Referrer-Policy", "same-origin")),
                )
                .app_data(site.clone())
                .app_data(api_client.clone())
                .configure(crate::routes::configure)
                .wrap(from_fn(move |req, next| deadline.handle(req, next)))
        }));
        let server = server.listen(listener)?.run();
        Ok(Self {
            port,
            public_url,
            server,
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
        let metrics = self.metrics.map(|(_, server)| server);
        sso_common::metrics::run_beside(metrics, self.server).await
    }
}
