//! The internal API under `/api/v1/internal`, used by executor managers (header `X-Internal-Token`).
//!
//! Every call about a run carries the `worker_id` that holds it and the lease `epoch` it was
//! claimed with. The epoch is a fencing token: it changes on every claim and every lease expiry,
//! so a worker that lost its lease (paused, partitioned, presumed dead) gets `409` and changes
//! nothing.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use ts_rs::TS;
use uuid::Uuid;

use crate::event::RunEvent;
use crate::status::{PermissionMode, RunOutcome, RunStatus};

/// The header that carries `INTERNAL_API_TOKEN`.
pub const INTERNAL_TOKEN_HEADER: &str = "x-internal-token";

/// `POST /runs/claim`: long-polls up to `wait_seconds` for a runnable run.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ClaimRequest {
    pub worker_id: String,
    pub lease_seconds: u32,
    #[serde(default)]
    pub wait_seconds: u32,
    /// Claim only these kinds of runs; all kinds when absent (`SCHEDULE_CONFIG_PATH`).
    #[serde(default)]
    pub kinds: Option<Vec<crate::schedule::RunKind>>,
    /// The most runs to hand out at once (a manager with N free slots asks for N): 1 to
    /// [`MAX_CLAIM_RUNS`], 1 when absent. Only `POST /runs/claims` takes more than 1.
    #[serde(default = "one_run")]
    pub max_runs: u32,
    /// Mark the claimed runs `running` in the claim itself, for a worker that starts them at
    /// once (no separate `POST /runs/{id}/start`).
    #[serde(default)]
    pub start: bool,
}

/// The most runs one `POST /runs/claims` hands out.
pub const MAX_CLAIM_RUNS: u32 = 256;

fn one_run() -> u32 {
    1
}

/// `POST /runs/claims`: the runs claimed, oldest first; empty when none became claimable within
/// `wait_seconds`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ClaimedRuns {
    pub runs: Vec<ClaimedRun>,
}

/// A claimed run: everything a worker needs to execute it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ClaimedRun {
    pub run_id: Uuid,
    pub session_id: Uuid,
    pub user_id: Uuid,
    /// The fencing token to send with every later call about this run.
    pub epoch: i64,
    /// 1 for the first execution, 2 for the first retry, …
    pub attempt: i32,
    pub max_attempts: i32,
    pub prompt: String,
    pub model: Option<String>,
    pub permission_mode: PermissionMode,
    /// The agent's conversation to resume (from the session's earlier runs), if any.
    pub agent_session_id: Option<String>,
    pub lease_expires_at: DateTime<Utc>,
    #[serde(default)]
    pub kind: crate::schedule::RunKind,
    /// Attachments to stage into the workspace's `inputs/` before the run.
    #[serde(default)]
    pub attachments: Vec<crate::files::StagedAttachment>,
    /// A repository to clone into the workspace (first run of a session).
    #[serde(default)]
    pub git: Option<crate::files::GitRepoRequest>,
    /// The skills, MCP servers, slash commands, subagents and instructions to stage, resolved
    /// when the run was queued. The preset's template, if any, is already placed: in `prompt`,
    /// or in `append_system_prompt` when the prompt runs a slash command.
    #[serde(default)]
    pub capabilities: Option<crate::capabilities::CapabilitySnapshot>,
    /// Text for the CLI's `--append-system-prompt` (a preset's template when the prompt starts
    /// with `/`: prepended, it would stop the CLI from running the command).
    #[serde(default)]
    pub append_system_prompt: Option<String>,
    /// Tools the owner allowed "always" in this session (`--allowedTools`): asked about once.
    #[serde(default)]
    pub allowed_tools: Vec<String>,
    /// How long an input request may wait for its answer (`INPUT_REQUEST_TIMEOUT_SECONDS`);
    /// `None`: [`crate::input::InputKind::default_timeout_seconds`].
    #[serde(default)]
    pub input_timeout_seconds: Option<u32>,
    /// The values of the secrets the run's configuration names (`${NAME}` in MCP configs, the
    /// repository's `token_secret`), resolved at claim for this run only.
    #[serde(default)]
    #[cfg_attr(
        feature = "openapi",
        schema(value_type = std::collections::BTreeMap<String, String>)
    )]
    pub secrets: crate::secrets::RunSecrets,
    /// Where the run's model requests go when its model belongs to a catalog provider; `None`:
    /// the manager's own upstream.
    #[serde(default)]
    pub model_route: Option<crate::models::ModelRoute>,
    /// The project of the run's session, if any.
    #[serde(default)]
    pub project_id: Option<Uuid>,
    /// Where the session's workspace stands: the last run of the session that started before
    /// this one. `None` for a session's first run. A manager whose workspace is not that run's
    /// restores it from the run's export before the executor starts.
    #[serde(default)]
    pub workspace_source: Option<WorkspaceSource>,
}

/// The run whose end state a session's next run starts from (`ClaimedRun.workspace_source`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WorkspaceSource {
    pub run_id: Uuid,
    /// The manager that ran it.
    pub worker_id: Option<String>,
    /// Its export's manifest when the export is ready; `None` when it has none (it failed, or
    /// object storage is off): then only the manager that holds the workspace can continue.
    pub manifest_key: Option<String>,
}

/// `GET /deleted-sessions?after=&limit=`: sessions deleted (by their owner, a project's cascade
/// or retention), oldest first, so that managers drop their copies of the workspaces.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeletedSessions {
    pub sessions: Vec<DeletedSession>,
    /// The cursor for the next call (`after`): the last entry's `seq`, or the given one.
    pub next: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeletedSession {
    pub seq: i64,
    pub session_id: Uuid,
    pub user_id: Uuid,
}

/// The fencing pair every run call carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct LeaseRef {
    pub worker_id: String,
    pub epoch: i64,
}

/// `POST /runs/{id}/heartbeat`.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct HeartbeatRequest {
    pub worker_id: String,
    pub epoch: i64,
    /// Extend by this much; the claim's lease length when absent.
    #[serde(default)]
    pub lease_seconds: Option<u32>,
}

/// The answer to a heartbeat or a start.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LeaseStatus {
    pub run_id: Uuid,
    pub status: RunStatus,
    /// The owner asked to cancel: stop the executor and report `canceled`.
    pub cancel_requested: bool,
    pub lease_expires_at: DateTime<Utc>,
}

/// `POST /runs/{id}/events`: a batch in `run_seq` order. Idempotent: re-delivered events are
/// stored once.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct EventBatch {
    pub worker_id: String,
    pub epoch: i64,
    pub events: Vec<RunEvent>,
}

/// The answer to an event batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IngestResponse {
    /// Events stored by this call.
    pub stored: u32,
    /// Events already stored by an earlier delivery.
    pub duplicates: u32,
    /// The session's sequence number after this call.
    pub last_seq: i64,
}

/// `POST /runs/{id}/complete`.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CompleteRequest {
    pub worker_id: String,
    pub epoch: i64,
    #[serde(default)]
    pub outcome: RunOutcome,
}

/// The most runs one `POST /runs/completions` ends.
pub const MAX_COMPLETIONS: usize = 1000;

/// `POST /runs/completions`: ends several runs the worker holds, each as `POST
/// /runs/{id}/complete` would, in one transaction.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CompletionsRequest {
    pub worker_id: String,
    /// 1 to [`MAX_COMPLETIONS`] runs, each once.
    pub runs: Vec<Completion>,
}

/// One run of a [`CompletionsRequest`].
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Completion {
    pub run_id: Uuid,
    pub epoch: i64,
    #[serde(default)]
    pub outcome: RunOutcome,
}

/// What became of one run of a [`CompletionsRequest`], in the request's order: its status now,
/// or why nothing changed (`not_found`, `lease_lost`), as the single call would have answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CompletionResult {
    pub run_id: Uuid,
    pub status: Option<RunStatus>,
    pub error: Option<crate::error::ErrorDetail>,
}

/// `POST /runs/completions`'s answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CompletionsResponse {
    pub results: Vec<CompletionResult>,
}

/// `POST /runs/{id}/fail`.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct FailRequest {
    pub worker_id: String,
    pub epoch: i64,
    pub error: String,
    /// The failure was the platform's, not the task's (e.g. the worker is shutting down):
    /// re-queue the run while attempts remain.
    #[serde(default)]
    pub retryable: bool,
}

/// The state of a run after a start, complete or fail call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RunAck {
    pub run_id: Uuid,
    pub status: RunStatus,
}

/// How a run's workspace export ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ExportStatus {
    Ready,
    Failed,
}

/// `POST /runs/{id}/export`: the workspace export of the attempt holding `epoch`. Accepted while
/// the run is leased to the worker, and after it finished, as long as no later attempt exists.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ExportReport {
    pub worker_id: String,
    pub epoch: i64,
    pub status: ExportStatus,
    /// Object keys, under `workspaces/{session_id}/runs/{run_id}/`; present when `ready`.
    #[serde(default)]
    pub manifest_key: Option<String>,
    #[serde(default)]
    pub archive_key: Option<String>,
    #[serde(default)]
    pub files: i64,
    #[serde(default)]
    pub added: i64,
    #[serde(default)]
    pub modified: i64,
    #[serde(default)]
    pub unchanged: i64,
    #[serde(default)]
    pub deleted: i64,
    #[serde(default)]
    pub uploaded_bytes: i64,
    #[serde(default)]
    pub error: Option<String>,
}
