//! The backend binary.

use anyhow::Context;
use backend::config::Settings;
use tokio_util::sync::CancellationToken;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    telemetry::service_main("backend", Settings::from_env(), |s| &s.log, run).await
}

async fn run(settings: Settings) -> anyhow::Result<()> {
    let pool = backend::db::connect(
        &settings.database_url,
        settings.database_max_connections,
        settings.log.log_sql,
    )
    .await
    .context("cannot connect to the database (DATABASE_URL)")?;
    if settings.run_migrations {
        backend::db::MIGRATOR
            .run(&pool)
            .await
            .context("database migrations failed")?;
        tracing::info!("migrations applied");
    }
    let addr = format!("{}:{}", settings.host, settings.port);
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .with_context(|| format!("cannot listen on {addr} (HOST, PORT)"))?;
    tracing::info!(%addr, auth_mode = settings.auth_mode.as_str(), "backend listening");
    let shutdown = CancellationToken::new();
    backend::server::cancel_on_signal(shutdown.clone());
    let state = backend::server::start_state(settings, pool.clone(), shutdown.clone()).await?;
    backend::server::serve(listener, state).await?;
    pool.close().await;
    tracing::info!("backend stopped");
    Ok(())
}
