//! `executor` binary: reads its settings, serves the API on `HOST:PORT`, stops on SIGTERM/SIGINT
//! after the running task was canceled and its events delivered.
#![forbid(unsafe_code)]

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use executor::Settings;

#[tokio::main]
async fn main() -> ExitCode {
    telemetry::service_main("executor", Settings::from_env(), |s| &s.log, run).await
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
        workspace = %settings.workspace_path.display(),
        claude_bin = %settings.claude_bin,
        instance = settings.instance_id(),
        default_model = %settings.default_model,
        "executor listening"
    );
    executor::serve(listener, Arc::new(settings), shutdown).await
}
