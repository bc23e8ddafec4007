//! The demo app on axum: the same settings as the actix-web demo app (`DEMO_APP_*`), served
//! through the SDK's axum layer.

use subsystem_demo::axum_app::AxumApplication;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings = subsystem_demo::config::from_command_line()?;
    let app = AxumApplication::build(settings)?;
    tracing::info!(url = %app.public_url(), port = app.port(), "demo axum app listening");
    app.run_until_stopped().await?;
    Ok(())
}
