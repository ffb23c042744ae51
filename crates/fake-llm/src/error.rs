//! Errors of the library API (starting the server, loading scenario files).
//!
//! Errors that happen *while serving a request* are never Rust errors: they are
//! answered to the client in the exact shape the real API uses (see
//! [`crate::anthropic::ApiError`] and [`crate::openai`]), because the whole
//! point of this crate is that clients cannot tell it from the real thing.

use std::path::PathBuf;

/// Everything that can go wrong when setting up a fake server.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The scenario file could not be read from disk.
    #[error("cannot read scenario file {path}: {source}")]
    ReadScenarios {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The scenario file is not valid JSON for the scenario format.
    #[error("invalid JSON scenario file {origin}: {source}")]
    ScenarioJson {
        origin: String,
        #[source]
        source: serde_json::Error,
    },

    /// The scenario file is not valid TOML for the scenario format.
    #[error("invalid TOML scenario file {origin}: {source}")]
    ScenarioToml {
        origin: String,
        #[source]
        source: toml::de::Error,
    },

    /// The scenario file parsed but describes something that cannot be played
    /// (for example an error turn with a status that is not an error).
    #[error("invalid scenario: {0}")]
    InvalidScenario(String),

    /// The listening socket could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: std::net::SocketAddr,
        #[source]
        source: std::io::Error,
    },

    /// The dedicated server thread or its runtime could not be started.
    #[error("cannot start the server thread: {0}")]
    Thread(#[source] std::io::Error),

    /// The server thread ended before reporting its bound address.
    #[error("the server thread exited before it was ready")]
    ThreadExited,
}

/// Short alias used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
