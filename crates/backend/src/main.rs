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
        settings.database_url.expose(),
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
    // A socket address, not "host:port" text: an IPv6 HOST needs its brackets.
    let addr = std::net::SocketAddr::new(settings.listen_ip(), settings.port);
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .with_context(|| format!("cannot listen on {addr} (HOST, PORT)"))?;
    tracing::info!(%addr, auth_mode = settings.auth_mode.as_str(), "backend listening");
    if settings.auth_mode == backend::config::AuthMode::SingleUser
        && !addr.ip().to_canonical().is_loopback()
    {
        tracing::warn!(%addr, "single-user mode on a network address (ALLOW_SINGLE_USER_ON_NETWORK): whoever reaches this port acts as the single user");
    }
    let shutdown = CancellationToken::new();
    backend::server::cancel_on_signal(shutdown.clone());
    let state = backend::server::start_state(settings, pool.clone(), shutdown.clone()).await?;
    backend::server::serve(listener, state).await?;
    pool.close().await;
    tracing::info!("backend stopped");
    Ok(())
}
