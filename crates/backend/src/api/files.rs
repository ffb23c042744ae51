//! `GET /runs/{id}/files` and `GET /runs/{id}/archive`: presigned URLs of a run's exported
//! workspace (see `crate::files`).

use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use protocol::files::{ArchiveLink, RunFiles};
use uuid::Uuid;

use crate::auth::CurrentUser;
use crate::error::ApiResult;
use crate::extract::{Json, Path};
use crate::state::AppState;

/// How long the URLs handed out stay valid: `S3_PRESIGN_EXPIRES`.
fn presign_expires(state: &AppState) -> Duration {
    Duration::from_secs(state.settings.s3_presign_expires)
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/runs/{id}/files", get(files))
        .route("/runs/{id}/archive", get(archive))
}

async fn files(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<RunFiles>> {
    Ok(Json(
        crate::files::run_files(
            &state.pool,
            &state.storage,
            presign_expires(&state),
            user.id,
            id,
        )
        .await?,
    ))
}

async fn archive(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<ArchiveLink>> {
    Ok(Json(
        crate::files::archive(
            &state.pool,
            &state.storage,
            presign_expires(&state),
            user.id,
            id,
        )
        .await?,
    ))
}
