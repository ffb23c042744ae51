//! `/sessions/{id}/queue`: the follow-ups queued behind a session's active run, editable until
//! they start ([`crate::queue::followups`]).

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, patch, post};
use protocol::input::{QueuedRunView, SessionQueue, UpdateQueuedRunRequest};
use uuid::Uuid;

use crate::auth::CurrentUser;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Json, Path};
use crate::queue::followups;
use crate::state::AppState;
use crate::{sessions, tasks};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/sessions/{id}/queue", get(list))
        .route(
            "/sessions/{id}/queue/{run_id}",
            patch(update).delete(remove),
        )
        .route("/sessions/{id}/queue/{run_id}/send-now", post(send_now))
}

async fn list(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<SessionQueue>> {
    sessions::ensure_owned(&state.pool, user.id, id).await?;
    let mut conn = state.pool.acquire().await?;
    Ok(Json(followups::list(&mut conn, id).await?))
}

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

async fn remove(
    State(state): State<AppState>,
    user: CurrentUser,
    Path((id, run_id)): Path<(Uuid, Uuid)>,
) -> ApiResult<StatusCode> {
    sessions::ensure_owned(&state.pool, user.id, id).await?;
    followups::remove(&state.pool, id, run_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

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
