//! `POST /tasks`: give the agent a task, in a new session or as a follow-up in an existing one.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use protocol::RunStatus;
use protocol::api::{CreateTaskRequest, CreateTaskResponse};
use uuid::Uuid;

use crate::auth::CurrentUser;
use crate::error::{ApiError, ApiResult};
use crate::extract::Json;
use crate::runs::RunOptions;
use crate::sessions::title_from_prompt;
use crate::state::AppState;

/// The longest prompt accepted, in characters.
pub const MAX_PROMPT_CHARS: usize = 100_000;

pub fn routes() -> Router<AppState> {
    Router::new().route("/tasks", post(create))
}

fn validate(req: &CreateTaskRequest) -> ApiResult<()> {
    if req.prompt.trim().is_empty() {
        return Err(ApiError::validation("prompt must not be empty"));
    }
    if req.prompt.chars().count() > MAX_PROMPT_CHARS {
        return Err(ApiError::validation(format!(
            "prompt must be at most {MAX_PROMPT_CHARS} characters"
        )));
    }
    if let Some(m) = &req.model
        && (m.is_empty()
            || m.len() > 200
            || !m
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.:/@[]".contains(c)))
    {
        return Err(ApiError::validation(
            "model must be 1 to 200 characters of letters, digits and - _ . : / @ [ ]",
        ));
    }
    crate::git_source::validate(req.git.as_ref(), req.session_id.is_some())?;
    crate::attachments::validate_for_task(&req.attachments)?;
    Ok(())
}

#[tracing::instrument(skip_all, fields(user_id = %user.id))]
async fn create(
    State(state): State<AppState>,
    user: CurrentUser,
    Json(req): Json<CreateTaskRequest>,
) -> ApiResult<(StatusCode, Json<CreateTaskResponse>)> {
    validate(&req)?;
    let options = RunOptions {
        model: req.model.clone(),
        permission_mode: req.permission_mode.unwrap_or_default(),
        git: req.git.clone(),
    };
    let options_json =
        serde_json::to_value(&options).map_err(|e| ApiError::Internal(e.to_string()))?;
    let mut tx = state.pool.begin().await?;
    let mut new_title = None;
    let session_id = match req.session_id {
        Some(id) => {
            // Lock the session so a concurrent delete cannot leave an orphan run.
            let found: Option<i32> = sqlx::query_scalar(
                "SELECT 1 FROM sessions WHERE id = $1 AND user_id = $2 FOR UPDATE",
            )
            .bind(id)
            .bind(user.id)
            .fetch_optional(&mut *tx)
            .await?;
            found.ok_or(ApiError::NotFound("session"))?;
            id
        }
        None => {
            let id = Uuid::now_v7();
            let title = title_from_prompt(&req.prompt);
            sqlx::query(
                "INSERT INTO sessions (id, user_id, title, config) VALUES ($1, $2, $3, $4)",
            )
            .bind(id)
            .bind(user.id)
            .bind(&title)
            .bind(&options_json)
            .execute(&mut *tx)
            .await?;
            new_title = Some(title);
            id
        }
    };
    let run_id = Uuid::now_v7();
    // Under the session's row lock (taken above, or a new session): a follow-up is ready only when
    // every earlier run of its session has finished.
    sqlx::query(
        "INSERT INTO runs (id, session_id, prompt, options, max_attempts, ready)
         VALUES ($1, $2, $3, $4, $5, NOT EXISTS (
             SELECT 1 FROM runs WHERE session_id = $2
                AND status IN ('queued', 'claimed', 'running', 'canceling')))",
    )
    .bind(run_id)
    .bind(session_id)
    .bind(&req.prompt)
    .bind(&options_json)
    .bind(state.settings.run_max_attempts)
    .execute(&mut *tx)
    .await?;
    crate::attachments::link_to_run(&mut tx, user.id, run_id, &req.attachments).await?;
    tx.commit().await?;
    // Wake this replica's claimers at once; the trigger's NOTIFY reaches the other replicas.
    state.queue.bump();
    if let (Some(titles), Some(fallback)) = (&state.titles, new_title) {
        titles.spawn_for(state.pool.clone(), session_id, req.prompt.clone(), fallback);
    }
    tracing::info!(%session_id, %run_id, "task queued");
    Ok((
        StatusCode::CREATED,
        Json(CreateTaskResponse {
            session_id,
            run_id,
            status: RunStatus::Queued,
        }),
    ))
}
