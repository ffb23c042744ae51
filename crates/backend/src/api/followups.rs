//! `/sessions/{id}/queue`: the follow-ups queued behind a session's active run, editable until
//! they start ([`crate::queue::followups`]).

use axum::extract::State;
use axum::http::StatusCode;
use protocol::ErrorBody;
use protocol::input::{QueuedRunView, SessionQueue, UpdateQueuedRunRequest};
use uuid::Uuid;

use crate::auth::CurrentUser;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Json, Path};
use crate::queue::followups;
use crate::state::AppState;
use crate::{sessions, tasks};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(update, remove))
        .routes(routes!(send_now))
}

/// The follow-ups queued behind the session's active run, in the order they will run.
#[utoipa::path(
    get,
    path = "/api/v1/sessions/{id}/queue",
    operation_id = "list_session_queue",
    tag = "sessions",
    params(("id" = Uuid, Path, description = "The session's id.")),
    responses(
        (status = 200, description = "The queue.", body = SessionQueue),
        (status = 404, description = "No such session of the caller's (`not_found`).", body = ErrorBody),
    ),
)]
async fn list(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<SessionQueue>> {
    sessions::ensure_owned(&state.pool, user.id, id).await?;
    let mut conn = state.pool.acquire().await?;
    Ok(Json(followups::list(&mut conn, id).await?))
}

/// Replaces a queued follow-up's prompt (while it is still queued).
#[utoipa::path(
    patch,
    path = "/api/v1/sessions/{id}/queue/{run_id}",
    operation_id = "update_queued_run",
    tag = "sessions",
    params(
        ("id" = Uuid, Path, description = "The session's id."),
        ("run_id" = Uuid, Path, description = "The queued run's id."),
    ),
    request_body = UpdateQueuedRunRequest,
    responses(
        (status = 200, description = "The queued run.", body = QueuedRunView),
        (status = 404, description = "No such session of the caller's, or no such run in it (`not_found`).", body = ErrorBody),
        (status = 409, description = "The run is no longer queued (`not_queued`).", body = ErrorBody),
    ),
)]
async fn update(
    State(state): State<AppState>,
    user: CurrentUser,
    Path((id, run_id)): Path<(Uuid, Uuid)>,
    Json(req): Json<UpdateQueuedRunRequest>,
) -> ApiResult<Json<QueuedRunView>> {
    if let Some(problem) = tasks::prompt_problem(&req.prompt) {
        return Err(ApiError::validation(problem));
    }
    sessions::ensure_owned(&state.pool, user.id, id).await?;
    Ok(Json(
        followups::update_prompt(&state.pool, id, run_id, &req.prompt).await?,
    ))
}

/// Removes a queued follow-up (it becomes `canceled`).
#[utoipa::path(
    delete,
    path = "/api/v1/sessions/{id}/queue/{run_id}",
    operation_id = "remove_queued_run",
    tag = "sessions",
    params(
        ("id" = Uuid, Path, description = "The session's id."),
        ("run_id" = Uuid, Path, description = "The queued run's id."),
    ),
    responses(
        (status = 204, description = "Removed."),
        (status = 404, description = "No such session of the caller's, or no such run in it (`not_found`).", body = ErrorBody),
        (status = 409, description = "The run is no longer queued (`not_queued`).", body = ErrorBody),
    ),
)]
async fn remove(
    State(state): State<AppState>,
    user: CurrentUser,
    Path((id, run_id)): Path<(Uuid, Uuid)>,
) -> ApiResult<StatusCode> {
    sessions::ensure_owned(&state.pool, user.id, id).await?;
    followups::remove(&state.pool, id, run_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Sends a queued follow-up now: stops the working run and moves this one to the head of the
/// session's line.
#[utoipa::path(
    post,
    path = "/api/v1/sessions/{id}/queue/{run_id}/send-now",
    operation_id = "send_queued_run_now",
    tag = "sessions",
    params(
        ("id" = Uuid, Path, description = "The session's id."),
        ("run_id" = Uuid, Path, description = "The queued run's id."),
    ),
    responses(
        (status = 200, description = "The queue as it is now.", body = SessionQueue),
        (status = 404, description = "No such session of the caller's, or no such run in it (`not_found`).", body = ErrorBody),
        (status = 409, description = "The run is no longer queued (`not_queued`).", body = ErrorBody),
    ),
)]
async fn send_now(
    State(state): State<AppState>,
    user: CurrentUser,
    Path((id, run_id)): Path<(Uuid, Uuid)>,
) -> ApiResult<Json<SessionQueue>> {
    sessions::ensure_owned(&state.pool, user.id, id).await?;
    let (queue, wake) = followups::send_now(&state.pool, &state.nudger, id, run_id).await?;
    if wake {
        state.queue.bump();
    }
    Ok(Json(queue))
}
