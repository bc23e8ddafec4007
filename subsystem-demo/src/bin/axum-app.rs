//! The demo app on axum: the same settings as the actix-web demo app (`DEMO_APP_*`), served
//! through the SDK's axum layer.

use std::path::PathBuf;

use clap::Parser;
use subsystem_demo::axum_app::AxumApplication;
use subsystem_demo::{Layered as _, Settings};
use tracing_subscriber::EnvFilter;

/// A demo axum app protected by single sign-on.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// TOML configuration file; `DEMO_APP_*` environment variables override it.
    #[arg(long, env = subsystem_demo::config::CONFIG_FILE_ENV)]
    config: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| EnvFilter::new(sso_common::http::DEFAULT_LOG_FILTER)),
        )
        .init();
    let args = Args::parse();
    let settings = Settings::load(args.config.as_deref())?;
    let app = AxumApplication::build(settings)?;
    tracing::info!(url = %app.public_url(), port = app.port(), "demo axum app listening");
    app.run_until_stopped().await?;
    Ok(())
}
