//! `GET /runs/{id}`, `POST /runs/{id}/retry`.

use axum::Router;
use axum::extract::State;
use axum::routing::{get, post};
use protocol::api::RunView;
use uuid::Uuid;

use crate::auth::CurrentUser;
use crate::error::ApiResult;
use crate::extract::{Json, Path};
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/runs/{id}", get(get_run))
        .route("/runs/{id}/retry", post(retry_run))
}

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
