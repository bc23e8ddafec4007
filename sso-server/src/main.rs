#[tokio::main]
async fn main() -> anyhow::Result<()> {
    sso_server::telemetry::init();
    sso_server::cli::run().await
}
