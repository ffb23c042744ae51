//! Queuing a task: a run in a new session or as a follow-up in an existing one. The one place
//! that inserts sessions for work and enqueues their runs ([`crate::queue::enqueue`]), shared by
//! `POST /tasks`, scheduled fires and "run now" (`schedules`), so every path keeps the
//! session-line invariants the same way.

use protocol::PermissionMode;
use protocol::schedule::RunKind;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};
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
    pub model: Option<String>,
    pub permission_mode: PermissionMode,
    pub kind: RunKind,
    pub scheduled_task_id: Option<Uuid>,
    pub max_attempts: i32,
    /// A repository to clone into a new session's workspace.
    pub git: Option<protocol::files::GitRepoRequest>,
}

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

/// Inserts the session (if new) and enqueues the run, in the caller's transaction. The caller
/// commits, then wakes claimers (`state.queue.bump()`).
pub async fn queue(tx: &mut PgConnection, task: &NewTask<'_>) -> ApiResult<Queued> {
    let options = RunOptions {
        model: task.model.clone(),
        permission_mode: task.permission_mode,
        git: task.git.clone(),
    };
    let options_json =
        serde_json::to_value(&options).map_err(|e| ApiError::Internal(e.to_string()))?;
    let mut new_title = None;
    let session_id = match task.session_id {
        Some(id) => {
            // Lock the session so a concurrent delete cannot leave an orphan run.
            let found: Option<i32> = sqlx::query_scalar(
                "SELECT 1 FROM sessions WHERE id = $1 AND user_id = $2 FOR UPDATE",
            )
            .bind(id)
            .bind(task.user_id)
            .fetch_optional(&mut *tx)
            .await?;
            found.ok_or(ApiError::NotFound("session"))?;
            id
        }
        None => {
            let id = Uuid::now_v7();
            let title = match task.title {
                Some(t) => t.to_owned(),
                None => title_from_prompt(task.prompt),
            };
            sqlx::query(
                "INSERT INTO sessions (id, user_id, title, config) VALUES ($1, $2, $3, $4)",
            )
            .bind(id)
            .bind(task.user_id)
            .bind(&title)
            .bind(&options_json)
            .execute(&mut *tx)
            .await?;
            new_title = Some(title);
            id
        }
    };
    let run_id = enqueue(
        tx,
        &NewRun {
            session_id,
            prompt: task.prompt,
            options: &options_json,
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
