use subsystem_demo::Application;

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    let settings = subsystem_demo::config::from_command_line()?;
    let app = Application::build(settings)?;
    tracing::info!(url = %app.public_url(), port = app.port(), "demo app listening");
    app.run_until_stopped().await?;
    Ok(())
}
