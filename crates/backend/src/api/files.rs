//! `GET /runs/{id}/files`, `GET /runs/{id}/archive` (the whole workspace, or one folder with
//! `?path=`) and `GET /runs/{id}/diff?path=`: a run's exported workspace (see `crate::files`,
//! `crate::folder_archive`, `crate::diff`).

use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use protocol::ErrorBody;
use protocol::files::{ArchiveLink, FileDiff, RunFiles};
use serde::Deserialize;
use uuid::Uuid;

use crate::auth::CurrentUser;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Json, Path, Query};
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
        .routes(routes!(diff))
        .routes(routes!(content))
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

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct ArchiveQuery {
    /// A folder of the workspace (`src/` or `src`): a zip of that folder only, its files under
    /// `<folder>/`. Without it, the whole workspace's archive.
    #[serde(default)]
    #[param(example = "src/")]
    path: Option<String>,
}

/// A presigned download URL of the run's workspace as one zip, or of one folder of it
/// (`?path=`; made on the first request, at most 512 MiB of files, kept for the next).
#[utoipa::path(
    get,
    path = "/api/v1/runs/{id}/archive",
    operation_id = "get_run_archive",
    tag = "runs",
    params(("id" = Uuid, Path, description = "The run's id."), ArchiveQuery),
    responses(
        (status = 200, description = "The link (fetch it with a plain GET; it expires at `expires_at`). Its download name is `run-{id}.zip`, or `<folder>.zip`.", body = ArchiveLink),
        (status = 400, description = "The query does not parse (`invalid_query`).", body = ErrorBody),
        (status = 404, description = "No such run of the caller's, it has no ready export, or no file lies under `path` (`not_found`).", body = ErrorBody),
        (status = 413, description = "The folder's files add up to more than 512 MiB (`payload_too_large`).", body = ErrorBody),
        (status = 422, description = "`path` is empty, absolute or not normalised (`..`, `.`, `//`) (`validation_error`).", body = ErrorBody),
    ),
)]
async fn archive(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<Uuid>,
    Query(q): Query<ArchiveQuery>,
) -> ApiResult<Json<ArchiveLink>> {
    if let Some(path) = q.path {
        return Ok(Json(
            crate::folder_archive::folder_archive(
                &state.pool,
                &state.storage,
                presign_expires(&state),
                user.id,
                id,
                &path,
            )
            .await?,
        ));
    }
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

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct DiffQuery {
    /// The file's path in the workspace, as `GET /runs/{id}/files` lists it.
    #[param(example = "src/main.rs")]
    path: String,
}

/// One file of the run's export against the previous export of its session (the latest earlier
/// run with a ready export): a unified diff and its hunks. Works for every change, whatever made
/// it (an edit tool or a shell command), since it compares exported contents.
#[utoipa::path(
    get,
    path = "/api/v1/runs/{id}/diff",
    operation_id = "get_run_file_diff",
    tag = "runs",
    params(("id" = Uuid, Path, description = "The run's id."), DiffQuery),
    responses(
        (status = 200, description = "The diff; `binary` or `too_large` (over 1 MiB a side) come without text.", body = FileDiff),
        (status = 400, description = "`path` is missing, or the query does not parse (`invalid_query`).", body = ErrorBody),
        (status = 404, description = "No such run of the caller's, it has no ready export yet, or `path` is in neither export (`not_found`).", body = ErrorBody),
        (status = 422, description = "`path` is empty, absolute or not normalised (`validation_error`).", body = ErrorBody),
    ),
)]
async fn diff(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<Uuid>,
    Query(q): Query<DiffQuery>,
) -> ApiResult<Json<FileDiff>> {
    Ok(Json(
        crate::diff::run_diff(&state.pool, &state.storage, user.id, id, &q.path).await?,
    ))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct ContentQuery {
    /// The file's path in the workspace, as `GET /runs/{id}/files` lists it.
    #[param(example = "report.md")]
    path: String,
}

/// One file of the run's export, from this origin (for previews: no object-store CORS needed).
/// Always `application/octet-stream` as an attachment, `nosniff` and sandboxed: read it with
/// `fetch`, never open it as a page. One `Range: bytes=…` is answered 206.
#[utoipa::path(
    get,
    path = "/api/v1/runs/{id}/content",
    operation_id = "get_run_file_content",
    tag = "runs",
    params(
        ("id" = Uuid, Path, description = "The run's id."),
        ContentQuery,
        ("Range" = Option<String>, Header, description = "One byte range, `bytes=first-last`, `bytes=first-` or `bytes=-suffix`."),
    ),
    responses(
        (status = 200, description = "The whole file.", content_type = "application/octet-stream", body = Vec<u8>),
        (status = 206, description = "The requested range (`Content-Range` says which).", content_type = "application/octet-stream", body = Vec<u8>),
        (status = 400, description = "`path` is missing, or the query does not parse (`invalid_query`).", body = ErrorBody),
        (status = 404, description = "No such run of the caller's, it has no ready export, or the export has no such file (`not_found`).", body = ErrorBody),
        (status = 416, description = "The range starts past the end of the file (`range_not_satisfiable`).", body = ErrorBody),
        (status = 422, description = "`path` is empty, absolute or not normalised (`validation_error`).", body = ErrorBody),
    ),
)]
async fn content(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<Uuid>,
    Query(q): Query<ContentQuery>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let range = headers.get(header::RANGE).and_then(|v| v.to_str().ok());
    let file =
        crate::file_content::open(&state.pool, &state.storage, user.id, id, &q.path, range).await?;
    let (status, length) = match file.range {
        Some((first, last)) => (StatusCode::PARTIAL_CONTENT, last - first + 1),
        None => (StatusCode::OK, file.size),
    };
    let mut res = Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .header(header::CONTENT_LENGTH, length)
        .header(header::ACCEPT_RANGES, "bytes")
        .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff")
        .header(
            header::CONTENT_SECURITY_POLICY,
            "sandbox; default-src 'none'",
        )
        .header(header::CACHE_CONTROL, "private, no-store")
        .header(
            header::CONTENT_DISPOSITION,
            objstore::attachment_disposition(&file.name),
        );
    if let Some((first, last)) = file.range {
        res = res.header(
            header::CONTENT_RANGE,
            format!("bytes {first}-{last}/{}", file.size),
        );
    }
    let chunks = futures::stream::try_unfold(file.body, |mut body| async move {
        Ok::<_, objstore::Error>(body.next_chunk().await?.map(|chunk| (chunk, body)))
    });
    res.body(Body::from_stream(chunks))
        .map_err(|e| ApiError::Internal(format!("building the file response: {e}")))
}
