//! Scheduled tasks: prompts that run unattended on a cron schedule in the owner's time zone.
//!
//! Cron expressions have the five standard fields (`minute hour day-of-month month day-of-week`)
//! and are evaluated in the task's IANA time zone, so "every day at 09:00" stays at 09:00 local
//! time across daylight-saving changes. Missed fires (every manager down) collapse into one.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use ts_rs::TS;
use uuid::Uuid;

use crate::status::PermissionMode;

/// Where the runs of a scheduled task go.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum SessionMode {
    /// Every fire continues the same session (its workspace and conversation persist).
    #[default]
    Reuse,
    /// Every fire starts a new session.
    New,
}

/// Why a run exists: a person asked for it, or a schedule fired. Executor managers can pull
/// only some kinds (`SCHEDULE_CONFIG_PATH`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum RunKind {
    #[default]
    Interactive,
    Scheduled,
}

impl RunKind {
    pub const ALL: [RunKind; 2] = [RunKind::Interactive, RunKind::Scheduled];

    /// The wire name, also stored in `runs.kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            RunKind::Interactive => "interactive",
            RunKind::Scheduled => "scheduled",
        }
    }
}

impl std::str::FromStr for RunKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RunKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| format!("unknown run kind `{s}` (interactive or scheduled)"))
    }
}

impl SessionMode {
    /// The wire name, also stored in `scheduled_tasks.session_mode`.
    pub fn as_str(self) -> &'static str {
        match self {
            SessionMode::Reuse => "reuse",
            SessionMode::New => "new",
        }
    }
}

impl std::str::FromStr for SessionMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "reuse" => Ok(SessionMode::Reuse),
            "new" => Ok(SessionMode::New),
            _ => Err(format!("unknown session mode `{s}` (reuse or new)")),
        }
    }
}

/// A scheduled task as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ScheduledTaskView {
    pub id: Uuid,
    pub name: String,
    pub prompt: String,
    /// Five-field cron expression.
    pub cron: String,
    /// IANA time zone name, e.g. `Europe/Berlin`.
    pub timezone: String,
    pub enabled: bool,
    pub session_mode: SessionMode,
    /// The session `reuse` mode continues (set after the first fire).
    pub session_id: Option<Uuid>,
    pub model: Option<String>,
    pub permission_mode: PermissionMode,
    /// `None` while disabled.
    pub next_fire_at: Option<DateTime<Utc>>,
    pub last_fired_at: Option<DateTime<Utc>>,
    /// The next few fire times (for a preview), empty while disabled.
    pub upcoming: Vec<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// `GET /scheduled-tasks`: the user's scheduled tasks, by name.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ScheduledTaskList {
    pub scheduled_tasks: Vec<ScheduledTaskView>,
}

/// `POST /scheduled-tasks`.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "openapi",
    schema(example = json!({"name": "Morning report", "prompt": "Summarise yesterday's open issues.", "cron": "0 9 * * 1-5", "timezone": "Europe/Paris", "enabled": true, "session_mode": "new"}))
)]
#[serde(deny_unknown_fields)]
pub struct CreateScheduledTaskRequest {
    pub name: String,
    pub prompt: String,
    pub cron: String,
    pub timezone: String,
    #[serde(default = "enabled_default")]
    pub enabled: bool,
    #[serde(default)]
    pub session_mode: SessionMode,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub permission_mode: Option<PermissionMode>,
}

fn enabled_default() -> bool {
    true
}

/// `PATCH /scheduled-tasks/{id}`: any subset of the fields.
#[derive(Debug, Clone, Default, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "openapi",
    schema(example = json!({"cron": "30 8 * * 1-5", "enabled": true}))
)]
#[serde(deny_unknown_fields)]
pub struct UpdateScheduledTaskRequest {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub prompt: Option<String>,
    #[serde(default)]
    pub cron: Option<String>,
    #[serde(default)]
    pub timezone: Option<String>,
    #[serde(default)]
    pub enabled: Option<bool>,
    #[serde(default)]
    pub session_mode: Option<SessionMode>,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub permission_mode: Option<PermissionMode>,
}

/// `GET /scheduled-tasks/preview?cron=...&timezone=...`: validates an expression and shows its
/// next fires, for the editor.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CronPreview {
    pub upcoming: Vec<DateTime<Utc>>,
}

/// `GET /scheduled-tasks/{id}/runs`: the runs a scheduled task created, newest first.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ScheduledRunList {
    pub runs: Vec<crate::api::RunView>,
}

/// `POST /internal/schedules/fire`: an executor manager asks the backend to turn due scheduled
/// tasks into runs. Safe to call from every manager at once: each due task fires exactly once.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct FireRequest {
    pub worker_id: String,
    /// Fire at most this many tasks per call.
    #[serde(default)]
    pub limit: Option<u32>,
}

/// The answer to a fire call.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FireResponse {
    /// Runs created by this call, one per fired task.
    pub fired: Vec<FiredTask>,
}

/// One scheduled task fired by a fire call.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FiredTask {
    pub scheduled_task_id: Uuid,
    pub run_id: Uuid,
    pub session_id: Uuid,
}
