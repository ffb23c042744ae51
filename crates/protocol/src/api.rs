//! The public API under `/api/v1`, as browsers and API clients see it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use ts_rs::TS;
use uuid::Uuid;

use crate::accounts::{Role, Scope};
use crate::event::{Event, Usage};
use crate::status::{PermissionMode, RunStatus, SessionStatus};

/// `POST /auth/register` and `POST /auth/login`.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "openapi",
    schema(example = json!({"email": "ada@example.com", "password": "correct horse battery staple"}))
)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    pub email: String,
    pub password: String,
}

/// A signed-in user, as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UserView {
    pub id: Uuid,
    pub email: String,
    pub role: Role,
    pub created_at: DateTime<Utc>,
}

/// The answer to a login or registration: the token is also set as an httpOnly cookie.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuthResponse {
    pub token: String,
    pub expires_at: DateTime<Utc>,
    pub user: UserView,
}

/// `GET /auth/me`.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MeResponse {
    pub user: UserView,
    /// `single_user` or `password`: lets the UI skip its sign-in screen.
    pub auth_mode: String,
    /// What the credential of this request may do (an API token's scopes; every scope the
    /// role allows for a sign-in).
    pub scopes: Vec<Scope>,
}

/// `POST /tasks`: a new session, or a follow-up in an existing one.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "openapi",
    schema(example = json!({"prompt": "Summarise the README in three sentences.", "permission_mode": "bypassPermissions"}))
)]
#[serde(deny_unknown_fields)]
pub struct CreateTaskRequest {
    pub prompt: String,
    #[serde(default)]
    pub session_id: Option<Uuid>,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub permission_mode: Option<PermissionMode>,
    /// Ids of the user's own attachments, staged into the run's `inputs/`.
    #[serde(default)]
    pub attachments: Vec<Uuid>,
    /// A repository cloned into the workspace (new sessions only).
    #[serde(default)]
    pub git: Option<crate::files::GitRepoRequest>,
    /// A preset of the user's (or the system's): its capabilities, model, permission mode and
    /// prompt template (explicit fields of this request win).
    #[serde(default)]
    pub preset_id: Option<Uuid>,
    /// Explicit capability lists (each replaces that kind's preset or default items; `[]`: none).
    #[serde(default)]
    pub skill_ids: Option<Vec<Uuid>>,
    #[serde(default)]
    pub mcp_server_ids: Option<Vec<Uuid>>,
    #[serde(default)]
    pub slash_command_ids: Option<Vec<Uuid>>,
    #[serde(default)]
    pub subagent_ids: Option<Vec<Uuid>>,
    /// The client's id for this submit (1 to 200 characters): a retried submit with the same id
    /// queues nothing and answers what the first one did.
    #[serde(default)]
    pub client_request_id: Option<String>,
    /// The user's project for a new session: its defaults fill what the task leaves out, its
    /// instructions and files reach every run of the session. Ignored for a follow-up (the
    /// session keeps its project).
    #[serde(default)]
    pub project_id: Option<Uuid>,
}

impl CreateTaskRequest {
    /// The capabilities the task names.
    pub fn capability_choice(&self) -> crate::capabilities::CapabilityChoice {
        crate::capabilities::CapabilityChoice {
            preset_id: self.preset_id,
            skill_ids: self.skill_ids.clone(),
            mcp_server_ids: self.mcp_server_ids.clone(),
            slash_command_ids: self.slash_command_ids.clone(),
            subagent_ids: self.subagent_ids.clone(),
        }
    }
}

/// `201` answer of `POST /tasks`.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreateTaskResponse {
    pub session_id: Uuid,
    pub run_id: Uuid,
    pub status: RunStatus,
}

/// A session in lists and details.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SessionView {
    pub id: Uuid,
    pub title: String,
    pub status: SessionStatus,
    /// The options the session was created with (model, permission mode).
    pub config: Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Input requests of the session's runs waiting for an answer.
    #[serde(default)]
    pub pending_inputs: i64,
    /// Follow-ups queued behind the active run.
    #[serde(default)]
    pub queued_runs: i64,
    /// The project the session belongs to.
    #[serde(default)]
    pub project_id: Option<Uuid>,
    /// Pinned by its owner (`PATCH /sessions/{id}` with `pinned`); `GET /sessions?pinned=true`
    /// lists only these.
    #[serde(default)]
    pub pinned: bool,
    /// While a run of the session is on a worker: when it started (null before it started and
    /// when no run is), so a client can show the elapsed time.
    #[serde(default)]
    pub running_since: Option<DateTime<Utc>>,
}

/// `GET /sessions`: newest first; pass `next_cursor` back as `cursor` for the next page.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SessionList {
    pub sessions: Vec<SessionView>,
    pub next_cursor: Option<String>,
}

/// `GET /sessions/{id}`: the session and its runs, oldest first.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SessionDetail {
    #[serde(flatten)]
    pub session: SessionView,
    pub runs: Vec<RunView>,
}

/// `PATCH /sessions/{id}`: a new title, a pin, or both (at least one).
#[derive(Debug, Clone, Default, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "openapi",
    schema(example = json!({"title": "README summary", "pinned": true}))
)]
#[serde(deny_unknown_fields)]
pub struct UpdateSessionRequest {
    /// 1 to 200 characters (trimmed).
    #[serde(default)]
    #[ts(optional)]
    pub title: Option<String>,
    /// Pin (true) or unpin (false) the session.
    #[serde(default)]
    #[ts(optional)]
    pub pinned: Option<bool>,
}

/// One run (one task given to the agent).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RunView {
    pub id: Uuid,
    pub session_id: Uuid,
    pub prompt: String,
    pub status: RunStatus,
    pub model: Option<String>,
    pub permission_mode: PermissionMode,
    pub attempts: i32,
    pub max_attempts: i32,
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub scheduled_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub usage: Option<RunUsage>,
    /// The workspace export at the end of the run; `None` until the worker reports it.
    #[serde(default)]
    pub export: Option<RunExport>,
    /// Why a run happened (`scheduled` runs also name their scheduled task).
    #[serde(default)]
    pub kind: crate::schedule::RunKind,
    #[serde(default)]
    pub scheduled_task_id: Option<Uuid>,
    /// Set when the run failed on its last allowed attempt: it stays failed until its owner
    /// retries it (`POST /runs/{id}/retry`).
    #[serde(default)]
    pub dead_lettered_at: Option<DateTime<Utc>>,
    /// The error of every failed attempt, oldest first.
    #[serde(default)]
    pub attempt_errors: Vec<AttemptError>,
    /// The capabilities the run was queued with, by name (`None` for runs queued before
    /// capabilities existed).
    #[serde(default)]
    pub capabilities: Option<crate::capabilities::CapabilitySummary>,
}

/// The error of one failed attempt of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AttemptError {
    pub attempt: i32,
    pub error: String,
    pub at: DateTime<Utc>,
}

/// The state of a run's workspace export (object keys stay on the server).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RunExport {
    pub status: crate::internal::ExportStatus,
    pub files: i64,
    pub added: i64,
    pub modified: i64,
    pub unchanged: i64,
    pub deleted: i64,
    pub uploaded_bytes: i64,
    pub error: Option<String>,
}

/// Tokens, cost and time of a finished run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RunUsage {
    #[serde(flatten)]
    pub tokens: Usage,
    /// The CLI's figure, or, when `estimated`, the model catalog's prices times the tokens.
    pub total_cost_usd: f64,
    pub duration_ms: i64,
    pub num_turns: i64,
    /// `total_cost_usd` comes from the catalog's prices: the CLI reported no cost, or the model
    /// belongs to a provider of its own (the CLI prices every model at Anthropic's rates).
    #[serde(default)]
    pub estimated: bool,
}

/// `GET /sessions/{id}/events?after=N&limit=M`.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EventsPage {
    pub events: Vec<Event>,
    /// Pass back as `after` to continue; equals the request's `after` when nothing was returned.
    pub next_after: i64,
    pub has_more: bool,
}

/// `POST /sessions/{id}/cancel`.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CancelResponse {
    /// Queued runs canceled at once.
    pub canceled: i64,
    /// Active runs now `canceling`; their workers stop them at their next heartbeat.
    pub canceling: i64,
}

/// `GET /health` and `GET /health/live`.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HealthResponse {
    pub status: String,
    pub service: String,
}

/// `GET /health/ready`: `503` with `errors` naming each failing dependency.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReadyResponse {
    pub status: String,
    pub service: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
}
