//! `GET /runs/{id}/files` and `GET /runs/{id}/archive`: presigned URLs of a run's exported
//! workspace (see `crate::files`).

use std::time::Duration;

use axum::extract::State;
use protocol::ErrorBody;
use protocol::files::{ArchiveLink, RunFiles};
use uuid::Uuid;

use crate::auth::CurrentUser;
use crate::error::ApiResult;
use crate::extract::{Json, Path};
use crate::state::AppState;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// How long the URLs handed out stay valid: `S3_PRESIGN_EXPIRES`.
fn presign_expires(state: &AppState) -> Duration {
    Duration::from_secs(state.settings.s3_presign_expires)
}

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(files))
        .routes(routes!(archive))
}

/// The files of a run's exported workspace, each with a presigned download URL
/// (`S3_PRESIGN_EXPIRES` seconds); deleted files last, with `url: null`.
#[utoipa::path(
    get,
    path = "/api/v1/runs/{id}/files",
    operation_id = "list_run_files",
    tag = "runs",
    params(("id" = Uuid, Path, description = "The run's id.")),
    responses(
        (status = 200, description = "The files (empty, with `export_status: null`, before the run's export).", body = RunFiles),
        (status = 404, description = "No such run of the caller's (`not_found`).", body = ErrorBody),
    ),
)]
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

/// A presigned download URL of the run's workspace as one zip.
#[utoipa::path(
    get,
    path = "/api/v1/runs/{id}/archive",
    operation_id = "get_run_archive",
    tag = "runs",
    params(("id" = Uuid, Path, description = "The run's id.")),
    responses(
        (status = 200, description = "The link (fetch it with a plain GET; it expires at `expires_at`).", body = ArchiveLink),
        (status = 404, description = "No such run of the caller's, or it has no ready export (`not_found`).", body = ErrorBody),
    ),
)]
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
