//! Runs as the public API shows them, and the options a run is created with.

use chrono::{DateTime, Utc};
use protocol::api::{RunExport, RunUsage, RunView};
use protocol::event::Usage;
use protocol::internal::ExportStatus;
use protocol::{PermissionMode, RunStatus};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use sqlx::types::Json;
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};

/// What the task asked for, stored with the run (`runs.options`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RunOptions {
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub permission_mode: PermissionMode,
    /// The task named no mode (nor did its preset): `permission_mode` came from the session or
    /// the default, so a plan approved before the run starts switches it too.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub permission_mode_inherited: bool,
    /// The repository cloned into a new session's workspace (checked by `crate::git_source`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git: Option<protocol::files::GitRepoRequest>,
}

/// The columns of a run that its view needs, with its usage if recorded.
pub const RUN_VIEW_COLUMNS: &str =
    "r.id, r.session_id, r.prompt, r.options, r.status, r.attempts, r.max_attempts, r.error,
     r.created_at, r.scheduled_at, r.started_at, r.finished_at, r.kind, r.scheduled_task_id,
     u.input_tokens, u.output_tokens, u.cache_creation_input_tokens, u.cache_read_input_tokens,
     u.total_cost_usd, u.duration_ms, u.num_turns,
     x.status AS export_status, x.files AS export_files, x.added AS export_added,
     x.modified AS export_modified, x.unchanged AS export_unchanged, x.deleted AS export_deleted,
     x.uploaded_bytes AS export_uploaded_bytes, x.error AS export_error,
     r.dead_lettered_at, r.attempt_errors, r.capabilities -> 'summary' AS capabilities";

#[derive(sqlx::FromRow)]
pub struct RunRow {
    id: Uuid,
    session_id: Uuid,
    prompt: String,
    options: Json<RunOptions>,
    status: String,
    attempts: i32,
    max_attempts: i32,
    error: Option<String>,
    created_at: DateTime<Utc>,
    scheduled_at: DateTime<Utc>,
    started_at: Option<DateTime<Utc>>,
    finished_at: Option<DateTime<Utc>>,
    kind: String,
    scheduled_task_id: Option<Uuid>,
    input_tokens: Option<i64>,
    output_tokens: Option<i64>,
    cache_creation_input_tokens: Option<i64>,
    cache_read_input_tokens: Option<i64>,
    total_cost_usd: Option<f64>,
    duration_ms: Option<i64>,
    num_turns: Option<i64>,
    export_status: Option<String>,
    export_files: Option<i64>,
    export_added: Option<i64>,
    export_modified: Option<i64>,
    export_unchanged: Option<i64>,
    export_deleted: Option<i64>,
    export_uploaded_bytes: Option<i64>,
    export_error: Option<String>,
    dead_lettered_at: Option<DateTime<Utc>>,
    attempt_errors: Json<Vec<crate::queue::dead_letter::StoredAttemptError>>,
    /// The snapshot's summary (`NULL` for runs queued before capabilities existed).
    capabilities: Option<Json<protocol::capabilities::CapabilitySummary>>,
}

impl RunRow {
    /// The view; a usage without a cost of the CLI's is priced from `catalog`
    /// ([`crate::models::Catalog::price`]).
    pub fn into_view(self, catalog: &crate::models::Catalog) -> ApiResult<RunView> {
        let status: RunStatus = self
            .status
            .parse()
            .map_err(|e| ApiError::Internal(format!("stored run status: {e}")))?;
        let mut usage = self.input_tokens.map(|input_tokens| RunUsage {
            tokens: Usage {
                input_tokens,
                output_tokens: self.output_tokens.unwrap_or_default(),
                cache_creation_input_tokens: self.cache_creation_input_tokens.unwrap_or_default(),
                cache_read_input_tokens: self.cache_read_input_tokens.unwrap_or_default(),
            },
            total_cost_usd: self.total_cost_usd.unwrap_or_default(),
            duration_ms: self.duration_ms.unwrap_or_default(),
            num_turns: self.num_turns.unwrap_or_default(),
            estimated: false,
        });
        if let Some(usage) = usage.as_mut() {
            catalog.price(self.options.0.model.as_deref(), usage);
        }
        let export = match self.export_status.as_deref() {
            None => None,
            Some(s) => Some(RunExport {
                status: match s {
                    "ready" => ExportStatus::Ready,
                    _ => ExportStatus::Failed,
                },
                files: self.export_files.unwrap_or_default(),
                added: self.export_added.unwrap_or_default(),
                modified: self.export_modified.unwrap_or_default(),
                unchanged: self.export_unchanged.unwrap_or_default(),
                deleted: self.export_deleted.unwrap_or_default(),
                uploaded_bytes: self.export_uploaded_bytes.unwrap_or_default(),
                error: self.export_error,
            }),
        };
        Ok(RunView {
            id: self.id,
            session_id: self.session_id,
            prompt: self.prompt,
            status,
            model: self.options.0.model,
            permission_mode: self.options.0.permission_mode,
            attempts: self.attempts,
            max_attempts: self.max_attempts,
            error: self.error,
            created_at: self.created_at,
            scheduled_at: self.scheduled_at,
            started_at: self.started_at,
            finished_at: self.finished_at,
            usage,
            export,
            kind: self
                .kind
                .parse()
                .map_err(|e| ApiError::Internal(format!("stored run kind: {e}")))?,
            scheduled_task_id: self.scheduled_task_id,
            dead_lettered_at: self.dead_lettered_at,
            attempt_errors: crate::queue::dead_letter::attempt_errors(self.attempt_errors.0),
            capabilities: self.capabilities.map(|c| c.0),
        })
    }
}

/// A run of `user`, or 404 (also when it belongs to someone else).
pub async fn get_owned(
    pool: &PgPool,
    catalog: &crate::models::Catalog,
    user: Uuid,
    run_id: Uuid,
) -> ApiResult<RunView> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {RUN_VIEW_COLUMNS} FROM runs r
           JOIN sessions s ON s.id = r.session_id
           LEFT JOIN run_usage u ON u.run_id = r.id
           LEFT JOIN run_exports x ON x.run_id = r.id
          WHERE r.id = $1 AND s.user_id = $2"
    ));
    let row: Option<RunRow> = sqlx::query_as(sql)
        .bind(run_id)
        .bind(user)
        .fetch_optional(pool)
        .await?;
    row.ok_or(ApiError::NotFound("run"))?.into_view(catalog)
}

/// The runs of a session, oldest first.
pub async fn list_for_session(
    pool: &PgPool,
    catalog: &crate::models::Catalog,
    session_id: Uuid,
) -> ApiResult<Vec<RunView>> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {RUN_VIEW_COLUMNS} FROM runs r
           LEFT JOIN run_usage u ON u.run_id = r.id
           LEFT JOIN run_exports x ON x.run_id = r.id
          WHERE r.session_id = $1 ORDER BY r.queue_pos"
    ));
    let rows: Vec<RunRow> = sqlx::query_as(sql).bind(session_id).fetch_all(pool).await?;
    rows.into_iter().map(|r| r.into_view(catalog)).collect()
}
