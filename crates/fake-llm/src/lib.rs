//! A scripted stand-in for the Anthropic Messages API, for end-to-end tests.
//!
//! No model API is reachable from the test machines, so every test that runs
//! the real Claude Code CLI points it (`ANTHROPIC_BASE_URL`) at this server.
//! It speaks the API the way the real one does (SSE framing, header checks,
//! error shapes) and answers from *scenarios*: scripted lists of turns, chosen
//! statelessly from each request so that many concurrent CLI runs, retries
//! and resumed conversations all get the right turn. Every request is
//! recorded for assertions.
//!
//! ```no_run
//! # async fn demo() -> Result<(), fake_llm::Error> {
//! use fake_llm::{Block, Config, FakeLlm, ScenarioFile, Turn};
//! use serde_json::json;
//!
//! let scenarios = ScenarioFile::default().with_scenario(
//!     "write_file",
//!     vec![
//!         Turn::blocks(vec![Block::tool_use("Bash", json!({"command": "printf hello > out.txt"}))]),
//!         Turn::text("Done."),
//!     ],
//! );
//! let server = FakeLlm::start(Config::new("sk-test", scenarios)).await?;
//! // ANTHROPIC_BASE_URL=server.base_url(), prompt containing "[scenario:write_file]"
//! let turns = server.turn_requests();
//! # drop(turns);
//! # Ok(()) }
//! ```

pub mod anthropic;
pub mod error;
pub mod openai;
pub mod recorder;
pub mod scenario;
pub mod server;
pub mod sse;
pub mod text;

pub use error::{Error, Result};
pub use recorder::{RecordedRequest, RequestKind};
pub use scenario::{
    Block, ChatError, DEFAULT_SCENARIO, FINISHED_TEXT, Scenario, ScenarioFile, Turn, TurnError,
    UsageSpec,
};
pub use server::{Config, DEFAULT_API_KEY, FakeLlm, FakeLlmHandle};
