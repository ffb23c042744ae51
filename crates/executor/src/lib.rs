//! The executor: runs inside each run's container, drives the Claude Code CLI in the workspace
//! and streams what it does to the executor manager.
//!
//! - [`config`]: settings from the environment.
//! - [`api`]: the HTTP API (axum routes, the one error-to-status mapping).
//! - [`task`]: one task at a time — acceptance, lifecycle, status, cancel, shutdown.
//! - [`agent`]: the CLI process (command line, explicit environment, stopping its process tree),
//!   the stream-json parser that turns its output into protocol events, and its control requests
//!   (a tool call waiting for a person → `input_request`; the answer posted to the API → the
//!   CLI's `control_response` and `input_answer`; expiry; cancel when the run ends).
//! - [`workspace`]: git (clone or init, excludes, change accounting), attachments.
//! - [`staging`]: the run's capabilities (skills, slash commands, subagents, `CLAUDE.md`, MCP
//!   servers) in the CLI's configuration directory, kept as they are when the digest is unchanged.
//! - [`callback`]: ordered, batched, retried delivery of events in bounded memory.
//!
//! Invariants: the agent's environment is built from scratch (the callback token and the
//! executor's own variables never reach it); secrets (tokens, keys, presigned URLs, task `env`)
//! are never logged; every run ends with exactly one terminal event, delivered last; each input
//! request is resolved exactly once (answered, expired or canceled), and none is left pending
//! when its run's terminal event goes out.
#![forbid(unsafe_code)]

pub mod agent;
pub mod api;
pub mod callback;
pub mod config;
pub mod staging;
pub mod task;
pub mod workspace;

use std::future::Future;
use std::sync::Arc;

pub use config::Settings;
pub use task::TaskManager;

/// Serves the API on `listener` until `shutdown` completes, then cancels the running task and
/// waits for its terminal event to be delivered before returning.
pub async fn serve(
    listener: tokio::net::TcpListener,
    settings: Arc<Settings>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let tasks = TaskManager::new(settings)?;
    serve_with(listener, tasks, shutdown).await
}

/// [`serve`] with a task manager the caller keeps (tests and benchmarks).
pub async fn serve_with(
    listener: tokio::net::TcpListener,
    tasks: TaskManager,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let app = api::router(tasks.clone());
    let draining = tasks.clone();
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            shutdown.await;
            tracing::info!("shutdown requested");
            // The API keeps answering (status, 503 for new tasks) while the run winds down.
            draining.shutdown().await;
        })
        .await?;
    Ok(())
}
