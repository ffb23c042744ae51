//! The executor's HTTP API (executor manager → executor) and its callbacks
//! (executor → executor manager).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use ts_rs::TS;
use uuid::Uuid;

pub use crate::capabilities::ConfigDocument;
use crate::event::RunEvent;
use crate::status::PermissionMode;

/// `POST /v1/tasks/execute`: one task for the agent. Answered `202` at once. Its `Debug` shows
/// neither the callback token, the environment's values nor the MCP configuration (which may
/// hold the user's secrets).
#[derive(Clone, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct ExecuteRequest {
    pub run_id: Uuid,
    pub session_id: Uuid,
    pub prompt: String,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub permission_mode: PermissionMode,
    /// The agent session to resume (`--resume`), for follow-up tasks.
    #[serde(default)]
    pub resume_agent_session_id: Option<String>,
    /// Where to post event batches (`POST {callback_url}` with `Authorization: Bearer {callback_token}`).
    pub callback_url: String,
    pub callback_token: String,
    /// Extra environment for the agent (provider keys and the like). Never logged.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// `--mcp-config` contents.
    #[serde(default)]
    pub mcp_config: Option<Value>,
    #[serde(default)]
    pub append_system_prompt: Option<String>,
    #[serde(default)]
    pub allowed_tools: Vec<String>,
    #[serde(default)]
    pub disallowed_tools: Vec<String>,
    /// Skill files fetched into the CLI's `skills/` directory before the run (the directory is
    /// emptied first: a run sees exactly its snapshot's skills).
    #[serde(default)]
    pub skills: Vec<SkillFile>,
    /// Slash commands written to the CLI's `commands/{name}.md` (the directory is replaced).
    #[serde(default)]
    pub slash_commands: Vec<ConfigDocument>,
    /// Subagents written to the CLI's `agents/{name}.md` (the directory is replaced).
    #[serde(default)]
    pub subagents: Vec<ConfigDocument>,
    /// The CLI's user-level `CLAUDE.md` (removed when `None`).
    #[serde(default)]
    pub instructions: Option<String>,
    /// The run snapshot's digest (`CapabilitySnapshot::digest`): when it equals the digest the
    /// executor staged last, the staged files are kept and a CLI started ahead can be reused.
    #[serde(default)]
    pub capabilities_digest: Option<String>,
    /// How long an input request waits for its answer before the executor denies it; `None`:
    /// [`crate::input::InputKind::default_timeout_seconds`].
    #[serde(default)]
    pub input_timeout_seconds: Option<u32>,
    #[serde(default)]
    pub git: Option<GitSource>,
    /// Files staged into `inputs/` before the run.
    #[serde(default)]
    pub input_files: Vec<InputFile>,
}

impl std::fmt::Debug for ExecuteRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mcp_servers: Option<Vec<&String>> = self
            .mcp_config
            .as_ref()
            .map(|c| c.get("mcpServers").and_then(Value::as_object))
            .map(|servers| servers.map(|s| s.keys().collect()).unwrap_or_default());
        f.debug_struct("ExecuteRequest")
            .field("run_id", &self.run_id)
            .field("session_id", &self.session_id)
            .field("model", &self.model)
            .field("permission_mode", &self.permission_mode)
            .field("resume_agent_session_id", &self.resume_agent_session_id)
            .field("callback_url", &self.callback_url)
            .field("callback_token", &"[redacted]")
            .field("env", &self.env.keys().collect::<Vec<_>>())
            .field("mcp_servers", &mcp_servers)
            .field("skills", &self.skills.len())
            .field("slash_commands", &self.slash_commands.len())
            .field("subagents", &self.subagents.len())
            .field("capabilities_digest", &self.capabilities_digest)
            .field("git", &self.git)
            .field("input_files", &self.input_files.len())
            .finish_non_exhaustive()
    }
}

/// A file of a skill, relative to the skills directory (`{skill}/{path}`), fetched from `url`
/// (a presigned GET: the executor holds no S3 credentials).
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct SkillFile {
    pub path: String,
    pub url: String,
    #[serde(default)]
    pub size: i64,
}

/// A repository to clone into an empty workspace.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct GitSource {
    pub url: String,
    #[serde(default)]
    pub branch: Option<String>,
    /// Passed to git through `GIT_ASKPASS`; never written to disk or logs.
    #[serde(default)]
    pub token: Option<crate::secrets::SecretValue>,
}

/// An attachment to stage into `inputs/{name}`, fetched from `url` (a presigned GET).
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct InputFile {
    pub name: String,
    pub url: String,
}

/// `POST /v1/prestart`: a pooled executor, before any task, readies the CLI a new session's first
/// run most likely needs: its workspace prepared, nothing staged, no conversation to resume, this
/// model and permission mode, this environment (the executor's model proxy token). The run that
/// takes the executor gets the CLI when its command line differs from this one in model and
/// permission mode at most: those two are applied to the waiting CLI through its control requests
/// (`set_model`, `set_permission_mode`) before the prompt. Answered `204` once the CLI is
/// started; `409` once the executor has had a task. Its `Debug` shows the environment's names only.
#[derive(Clone, Default, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct PrestartRequest {
    /// `None`: the executor's `DEFAULT_MODEL`.
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub permission_mode: PermissionMode,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
}

impl std::fmt::Debug for PrestartRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrestartRequest")
            .field("model", &self.model)
            .field("permission_mode", &self.permission_mode)
            .field("env", &self.env.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// `202` answer of `POST /v1/tasks/execute`.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct ExecuteAccepted {
    pub run_id: Uuid,
}

/// State of the executor's one task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum TaskState {
    Preparing,
    Running,
    Canceling,
    Completed,
    Failed,
    Canceled,
}

/// `GET /v1/tasks/{run_id}`.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct TaskStatus {
    pub run_id: Uuid,
    pub state: TaskState,
    /// Events produced so far (the last `run_seq`).
    pub events: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The body of a callback: events of one run in `run_seq` order.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct CallbackBatch {
    pub run_id: Uuid,
    pub events: Vec<RunEvent>,
}
