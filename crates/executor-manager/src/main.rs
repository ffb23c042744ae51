//! `executor-manager` binary: reads its settings, serves health and callbacks on `HOST:PORT`,
//! pulls runs, and drains on SIGTERM/SIGINT.
#![forbid(unsafe_code)]

use std::net::SocketAddr;
use std::process::ExitCode;

use executor_manager::{App, Settings, server};

#[tokio::main]
async fn main() -> ExitCode {
    telemetry::service_main("executor-manager", Settings::from_env(), |s| &s.log, run).await
}

async fn run(settings: Settings) -> anyhow::Result<()> {
    let ip = settings
        .host
        .parse()
        .map_err(|_| anyhow::anyhow!("HOST is invalid"))?;
    let addr = SocketAddr::new(ip, settings.port);
    let shutdown = telemetry::shutdown_signal();
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))?;
    tracing::info!(
        addr = %listener.local_addr()?,
        worker_id = %settings.worker_id(),
        runtime = settings.executor_runtime.as_str(),
        backend = %settings.backend_url,
        "executor manager listening"
    );
    let runtime = server::runtime_from_settings(&settings).await?;
    App::new(settings, runtime)?.serve(listener, shutdown).await
}
