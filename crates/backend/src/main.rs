//! The backend binary.

use anyhow::Context;
use backend::config::Settings;
use tokio_util::sync::CancellationToken;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let settings = match Settings::from_env() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("backend: configuration error: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let _guard = match settings.log.init("backend") {
        Ok(g) => g,
        Err(e) => {
            eprintln!("backend: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    match run(settings).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "backend stopped");
            eprintln!("backend: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
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
