//! `executor-manager` binary: reads its settings, serves health and callbacks on `HOST:PORT`,
//! pulls runs, and drains on SIGTERM/SIGINT.
#![forbid(unsafe_code)]

use std::net::SocketAddr;
use std::process::ExitCode;

use executor_manager::{App, Settings, open_files, server};

#[tokio::main]
async fn main() -> ExitCode {
    telemetry::service_main("executor-manager", Settings::from_env(), |s| &s.log, run).await
}

async fn run(settings: Settings) -> anyhow::Result<()> {
    // Before anything is opened: every run holds a few descriptors here.
    match open_files::raise_open_files_limit() {
        Ok(Some((from, to))) => tracing::info!(from, to, "raised the open files limit"),
        Ok(None) => {}
        Err(e) => tracing::warn!(error = %e, "cannot raise the open files limit"),
    }
    let runs = settings.max_concurrent_tasks as u64;
    if let Some(limit) = open_files::open_files_limit()
        && limit < 256 + runs * open_files::OPEN_FILES_PER_RUN
    {
        tracing::warn!(
            limit,
            max_concurrent_tasks = runs,
            "the open files limit is low for MAX_CONCURRENT_TASKS (about {} per run): raise the \
             hard limit (ulimit -n, the container's nofile ulimit)",
            open_files::OPEN_FILES_PER_RUN
        );
    }
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
