//! `GET /runs/{id}`, `POST /runs/{id}/retry`.

use axum::extract::State;
use protocol::ErrorBody;
use protocol::api::RunView;
use uuid::Uuid;

use crate::auth::CurrentUser;
use crate::error::ApiResult;
use crate::extract::{Json, Path};
use crate::state::AppState;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_run))
        .routes(routes!(retry_run))
}

/// A run: its status, attempts, usage, export and capabilities.
#[utoipa::path(
    get,
    path = "/api/v1/runs/{id}",
    operation_id = "get_run",
    tag = "runs",
    params(("id" = Uuid, Path, description = "The run's id.")),
    responses(
        (status = 200, description = "The run.", body = RunView),
        (status = 404, description = "No such run of the caller's (`not_found`).", body = ErrorBody),
    ),
)]
async fn get_run(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<RunView>> {
    Ok(Json(
        crate::runs::get_owned(&state.pool, &state.catalog, user.id, id).await?,
    ))
}

/// Re-queues a failed (e.g. dead-lettered) run with fresh attempts.
#[utoipa::path(
    post,
    path = "/api/v1/runs/{id}/retry",
    operation_id = "retry_run",
    tag = "runs",
    params(("id" = Uuid, Path, description = "The run's id.")),
    responses(
        (status = 200, description = "The run, queued again.", body = RunView),
        (status = 404, description = "No such run of the caller's (`not_found`).", body = ErrorBody),
        (status = 409, description = "The run did not fail, or is not its session's latest (`not_retryable`).", body = ErrorBody),
    ),
)]
async fn retry_run(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<RunView>> {
    crate::queue::dead_letter::retry(&state.pool, user.id, id).await?;
    // Wake this replica's claimers at once; the trigger's NOTIFY reaches the other replicas.
    state.queue.bump();
    Ok(Json(
        crate::runs::get_owned(&state.pool, &state.catalog, user.id, id).await?,
    ))
}
