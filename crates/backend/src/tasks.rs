//! Queuing a task: a run in a new session or as a follow-up in an existing one. The one place
//! that inserts sessions for work and enqueues their runs ([`crate::queue::enqueue`]), shared by
//! `POST /tasks`, scheduled fires and "run now" (`schedules`), so every path keeps the
//! session-line invariants the same way. The run's capabilities are resolved here too
//! ([`crate::capabilities::snapshot`]), so every path stores the same kind of snapshot.

use protocol::PermissionMode;
use protocol::capabilities::{CapabilityChoice, CapabilitySnapshot};
use protocol::schedule::RunKind;
use sqlx::PgConnection;
use sqlx::types::Json;
use uuid::Uuid;

use crate::capabilities::snapshot;
use crate::error::{ApiError, ApiResult};
use crate::projects;
use crate::queue::enqueue::{NewRun, enqueue};
use crate::runs::RunOptions;
use crate::sessions::title_from_prompt;

/// The longest prompt accepted, in characters.
pub const MAX_PROMPT_CHARS: usize = 100_000;

/// A task to queue.
#[derive(Debug, Clone)]
pub struct NewTask<'a> {
    pub user_id: Uuid,
    pub prompt: &'a str,
    /// Continue this session of the user's (404 when it is not theirs or gone); `None`: a new one.
    pub session_id: Option<Uuid>,
    /// The new session's title; from the prompt's first line when `None`.
    pub title: Option<&'a str>,
    /// `None`: the preset's (or the session's snapshot's), else the CLI's default.
    pub model: Option<String>,
    /// `None`: the session's (set by a plan's approval), else the preset's (or the session's
    /// snapshot's), else [`PermissionMode::default`].
    pub permission_mode: Option<PermissionMode>,
    /// The capabilities the task names (empty: the defaults, or the session's snapshot).
    pub capabilities: CapabilityChoice,
    pub kind: RunKind,
    pub scheduled_task_id: Option<Uuid>,
    pub max_attempts: i32,
    /// A repository to clone into a new session's workspace.
    pub git: Option<protocol::files::GitRepoRequest>,
    /// The user's project for a new session (404 when it is not theirs or gone); a follow-up
    /// keeps its session's and ignores this. See [`crate::projects`] for what it brings.
    pub project_id: Option<Uuid>,
    /// The model catalog the run's model is checked against (`AppState.catalog`).
    pub catalog: &'a crate::models::Catalog,
}

/// What a follow-up reads of its session: the kept snapshot, the permission mode a plan's
/// approval chose, the project.
type SessionForTask = (
    Option<Json<CapabilitySnapshot>>,
    Option<String>,
    Option<Uuid>,
);

/// A queued task.
#[derive(Debug, Clone)]
pub struct Queued {
    pub session_id: Uuid,
    pub run_id: Uuid,
    /// Set when a session was created.
    pub new_title: Option<String>,
}

/// Why a prompt is refused, if it is.
pub fn prompt_problem(prompt: &str) -> Option<String> {
    if prompt.trim().is_empty() {
        return Some("prompt must not be empty".into());
    }
    if prompt.chars().count() > MAX_PROMPT_CHARS {
        return Some(format!(
            "prompt must be at most {MAX_PROMPT_CHARS} characters"
        ));
    }
    None
}

/// Why a model name is refused, if it is.
pub fn model_problem(model: &str) -> Option<String> {
    if model.is_empty()
        || model.len() > 200
        || !model
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.:/@[]".contains(c))
    {
        return Some(
            "model must be 1 to 200 characters of letters, digits and - _ . : / @ [ ]".into(),
        );
    }
    None
}

/// Inserts the session (if new) and enqueues the run with its capability snapshot, in the
/// caller's transaction. The caller commits, then wakes claimers (`state.queue.bump()`).
///
/// The snapshot: a new session's run resolves the task's choice (empty: the defaults); a
/// follow-up that names nothing keeps its session's snapshot (without the preset's prompt
/// template, which belongs to the run that named the preset), one that names something resolves
/// it. The session keeps the snapshot its latest naming task resolved. The model is the task's,
/// else the project's, else the snapshot's preset's, else the catalog's default; the permission
/// mode the task's, else the session's (the mode a plan's approval switched it to), else the
/// project's, else the preset's. A new session of a project whose task names no capabilities
/// resolves the project's preset, and clones the project's repository unless the task names one;
/// the run's snapshot (not the session's) gets the project's instructions as they are now. The
/// model must be one the catalog knows, with its provider's key among the user's or the system's
/// secrets ([`crate::models::check`], `422`), checked before anything is written.
pub async fn queue(tx: &mut PgConnection, task: &NewTask<'_>) -> ApiResult<Queued> {
    let mut session_mode: Option<PermissionMode> = None;
    let mut project: Option<projects::ForRun> = None;
    let (session, mut snapshot, store_in_session) = match task.session_id {
        Some(id) => {
            // Lock the session so a concurrent delete cannot leave an orphan run.
            let found: Option<SessionForTask> = sqlx::query_as(
                "SELECT capabilities, permission_mode, project_id FROM sessions
                      WHERE id = $1 AND user_id = $2 FOR UPDATE",
            )
            .bind(id)
            .bind(task.user_id)
            .fetch_optional(&mut *tx)
            .await?;
            let (kept, mode, project_id) = found.ok_or(ApiError::NotFound("session"))?;
            if let Some(p) = project_id {
                project = Some(projects::for_run(tx, task.user_id, p, false).await?);
            }
            session_mode = mode
                .map(|m| serde_json::from_value(serde_json::Value::String(m)))
                .transpose()
                .map_err(|e| ApiError::Internal(format!("stored permission mode: {e}")))?;
            match kept {
                Some(Json(mut kept)) if task.capabilities.is_empty() => {
                    kept.prompt_template = None;
                    let changed = snapshot::refresh(tx, task.user_id, &mut kept).await?;
                    (Some(id), kept, changed)
                }
                _ => (
                    Some(id),
                    snapshot::resolve(tx, task.user_id, &task.capabilities).await?,
                    true,
                ),
            }
        }
        None => {
            if let Some(p) = task.project_id {
                project = Some(projects::for_run(tx, task.user_id, p, true).await?);
            }
            let choice = projects::choice(&task.capabilities, project.as_ref());
            (
                None,
                snapshot::resolve(tx, task.user_id, &choice).await?,
                true,
            )
        }
    };
    let defaults = project.as_ref().map(|p| &p.defaults);
    let project_mode = defaults.and_then(|d| d.permission_mode);
    let options = RunOptions {
        // The catalog's default stands in for none, so it is checked and routed like the rest.
        model: task
            .model
            .clone()
            .or_else(|| defaults.and_then(|d| d.model.clone()))
            .or_else(|| snapshot.summary.model.clone())
            .or_else(|| task.catalog.default_model().map(str::to_owned)),
        permission_mode: task
            .permission_mode
            .or(session_mode)
            .or(project_mode)
            .or(snapshot.summary.permission_mode)
            .unwrap_or_default(),
        permission_mode_inherited: task.permission_mode.is_none()
            && project_mode.is_none()
            && snapshot.summary.permission_mode.is_none(),
        git: task.git.clone().or_else(|| {
            defaults
                .filter(|_| session.is_none())
                .and_then(|d| d.git.clone())
        }),
    };
    // Before anything is written, so a refusal leaves the transaction as it was. A scheduled
    // fire skips both checks: its run fails at the claim with the same reason instead, where its
    // owner sees it, and one schedule's missing key cannot hold back the other due fires. The
    // repository checked is the run's (the task's, else its project's default).
    if task.kind == RunKind::Interactive {
        crate::models::check(tx, task.catalog, task.user_id, options.model.as_deref()).await?;
        crate::secrets::check_for_task(tx, task.user_id, &snapshot, options.git.as_ref()).await?;
    }
    let options_json =
        serde_json::to_value(&options).map_err(|e| ApiError::Internal(e.to_string()))?;
    let for_session = CapabilitySnapshot {
        prompt_template: None,
        ..snapshot.clone()
    };
    if let Some(p) = &project {
        projects::add_instructions(&mut snapshot, p);
    }
    let mut new_title = None;
    let session_id = match session {
        Some(id) => {
            if store_in_session {
                sqlx::query("UPDATE sessions SET capabilities = $2 WHERE id = $1")
                    .bind(id)
                    .bind(Json(&for_session))
                    .execute(&mut *tx)
                    .await?;
            }
            id
        }
        None => {
            let id = Uuid::now_v7();
            let title = match task.title {
                Some(t) => t.to_owned(),
                None => title_from_prompt(task.prompt),
            };
            sqlx::query(
                "INSERT INTO sessions (id, user_id, title, config, capabilities, project_id)
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(id)
            .bind(task.user_id)
            .bind(&title)
            .bind(&options_json)
            .bind(Json(&for_session))
            .bind(project.as_ref().map(|p| p.id))
            .execute(&mut *tx)
            .await?;
            new_title = Some(title);
            id
        }
    };
    let capabilities =
        serde_json::to_value(&snapshot).map_err(|e| ApiError::Internal(e.to_string()))?;
    let run_id = enqueue(
        tx,
        &NewRun {
            session_id,
            prompt: task.prompt,
            options: &options_json,
            capabilities: &capabilities,
            max_attempts: task.max_attempts,
            kind: task.kind,
            scheduled_task_id: task.scheduled_task_id,
        },
    )
    .await?;
    Ok(Queued {
        session_id,
        run_id,
        new_title,
    })
}

/// The longest `client_request_id`, in characters.
pub const MAX_CLIENT_REQUEST_ID_CHARS: usize = 200;

/// Why a client request id is refused, if it is.
pub fn client_request_id_problem(id: &str) -> Option<String> {
    let n = id.chars().count();
    if n == 0 || n > MAX_CLIENT_REQUEST_ID_CHARS {
        return Some(format!(
            "client_request_id must be 1 to {MAX_CLIENT_REQUEST_ID_CHARS} characters"
        ));
    }
    None
}

/// What an earlier submit with `client_request_id` of `user` queued: (session, run, the run's
/// status now). Takes a transaction-scoped lock on the pair first, so two submits with one id
/// never both find nothing: the second waits until the first committed (and finds its run) or
/// rolled back (and queues its own).
pub async fn earlier_submit(
    tx: &mut PgConnection,
    user: Uuid,
    client_request_id: &str,
) -> ApiResult<Option<(Uuid, Uuid, String)>> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1::text || '/' || $2, 14))")
        .bind(user)
        .bind(client_request_id)
        .execute(&mut *tx)
        .await?;
    Ok(sqlx::query_as(
        "SELECT t.session_id, t.run_id, r.status FROM task_requests t
           JOIN runs r ON r.id = t.run_id
          WHERE t.user_id = $1 AND t.client_request_id = $2",
    )
    .bind(user)
    .bind(client_request_id)
    .fetch_optional(&mut *tx)
    .await?)
}

/// Remembers that `client_request_id` of `user` queued `queued` (retention forgets it after a
/// day).
pub async fn remember_submit(
    tx: &mut PgConnection,
    user: Uuid,
    client_request_id: &str,
    queued: &Queued,
) -> ApiResult<()> {
    sqlx::query(
        "INSERT INTO task_requests (user_id, client_request_id, session_id, run_id)
         VALUES ($1, $2, $3, $4)",
    )
    .bind(user)
    .bind(client_request_id)
    .bind(queued.session_id)
    .bind(queued.run_id)
    .execute(&mut *tx)
    .await?;
    Ok(())
}
