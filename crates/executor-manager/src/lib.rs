//! The executor manager: leases queued runs from the backend, launches one executor per run
//! (a Docker container or, for development, a child process), relays the executor's events to the
//! backend and reports how each run ended.
//!
//! - [`config`]: settings from the environment.
//! - [`backend`]: the backend's internal API client (lease-fenced calls).
//! - [`pull`]: the claim loop (bounded concurrency, long poll).
//! - [`run`]: one run's lifecycle (launch, readiness, heartbeats, cancel, terminal event, report).
//! - [`callback`]: the executors' callback endpoint and the registry of held runs.
//! - [`model_proxy`]: the agents' only way to the model API (the provider key stays here).
//! - [`ledger`]: the runs this manager holds, on disk, released at once after a crash.
//! - [`export`]: workspace export to S3 (manifest, archive, unchanged files skipped).
//! - [`input_answers`]: answers to a run's input requests, long-polled from the backend and
//!   handed to its executor.
//! - [`inputs`]: a run's attachments as presigned URLs for the executor, and its repository.
//! - [`capabilities`]: a run's capabilities snapshot for the executor to stage (skills as
//!   presigned URLs, the MCP configuration, commands, subagents, `CLAUDE.md`, the digest).
//! - [`cleanup`]: archiving or deleting old inactive workspaces, purging old archives.
//! - [`runtime`]: the [`runtime::Runtime`] trait and its implementations.
//! - [`schedule`]: `SCHEDULE_CONFIG_PATH` (which run kinds to pull, when) and the fire loop.
//! - [`warm`]: executors kept up after a run for the session's next run.
//! - [`pool`]: pre-started executors for new sessions (slot directories, workspace hand-over).
//! - [`server`]: the HTTP server (health, callbacks) and graceful shutdown.
#![forbid(unsafe_code)]

pub mod backend;
pub mod callback;
pub mod capabilities;
pub mod cleanup;
pub mod config;
pub mod deleted;
pub mod export;
pub mod input_answers;
pub mod inputs;
pub mod ledger;
pub mod model_proxy;
pub mod nudge;
pub mod open_files;
pub mod pool;
pub mod pull;
pub mod run;
pub mod runtime;
pub mod schedule;
pub mod server;
pub mod warm;
pub mod workspace_sync;

pub use config::Settings;
pub use server::{App, Kept};
