//! `fake-llm` binary: serves the scripted model API for scripts and manual
//! runs. Prints exactly one line, `listening on http://ADDR`, on stdout once
//! bound (scripts read it to learn the port); logs go to stderr.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use clap::Parser;
use fake_llm::server::{AppState, serve};
use fake_llm::{Config, ScenarioFile};
use tracing_subscriber::EnvFilter;

/// Scripted Anthropic Messages API (and OpenAI chat completions) for tests.
#[derive(Debug, Parser)]
#[command(name = "fake-llm", version)]
struct Args {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,

    /// API key clients must send (x-api-key or Authorization: Bearer).
    #[arg(long, env = "FAKE_LLM_API_KEY")]
    api_key: String,

    /// Key for /v1/chat/completions (defaults to --api-key).
    #[arg(long, env = "FAKE_LLM_OPENAI_API_KEY")]
    openai_api_key: Option<String>,

    /// Scenario file (.json, or .toml).
    #[arg(long, env = "FAKE_LLM_SCENARIOS")]
    scenarios: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match run(Args::parse()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let scenarios = match &args.scenarios {
        Some(path) => ScenarioFile::load(path)?,
        None => ScenarioFile::default(),
    };
    tracing::info!(scenarios = ?scenarios.scenarios.keys().collect::<Vec<_>>(), "scenarios loaded");
    let config = Config {
        api_key: args.api_key,
        openai_api_key: args.openai_api_key,
        scenarios,
        listen: args.listen,
    };
    let state = Arc::new(AppState::new(&config));
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| fake_llm::Error::Bind {
            addr: config.listen,
            source,
        })?;
    let addr = listener.local_addr()?;
    {
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "listening on http://{addr}")?;
        stdout.flush()?;
    }
    serve(listener, state, shutdown_signal()).await?;
    tracing::info!("stopped");
    Ok(())
}

/// Completes on SIGTERM or SIGINT.
async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = interrupt => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM; only SIGINT stops the server");
                let _ = interrupt.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}
