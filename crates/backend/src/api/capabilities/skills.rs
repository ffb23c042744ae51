//! `/skills`: uploads (multipart field `file`, a zip or tar.gz of the skill's folder, read into
//! memory up to `capabilities::archive::MAX_ARCHIVE_BYTES` and checked whole before anything is
//! stored), the list, one skill with its files, its download, enable/disable, delete.

use axum::Router;
use axum::body::Body;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use protocol::ErrorCode;
use protocol::capabilities::{EnabledUpdate, SkillDetail, SkillList, SkillView};
use uuid::Uuid;

use crate::attachments::MULTIPART_OVERHEAD;
use crate::auth::CurrentUser;
use crate::capabilities::archive::MAX_ARCHIVE_BYTES;
use crate::capabilities::skills;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Json, Path};
use crate::state::AppState;

use crate::api::attachments::{FILE_FIELD, multipart_error};

/// The routes that take an upload (their own body limit, no request timeout).
pub fn upload_routes() -> Router<AppState> {
    Router::new()
        .route("/skills", post(create))
        .route("/skills/{id}", axum::routing::put(replace))
}

/// The rest.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/skills", get(list))
        .route("/skills/{id}", get(view).patch(set_enabled).delete(remove))
        .route("/skills/{id}/download", get(download))
}

/// The largest body the upload routes read: the archive limit plus the multipart framing.
pub fn body_limit() -> usize {
    usize::try_from(MAX_ARCHIVE_BYTES + MULTIPART_OVERHEAD).unwrap_or(usize::MAX)
}

fn too_large() -> ApiError {
    ApiError::TooLarge(format!(
        "a skill archive is at most {} MiB",
        MAX_ARCHIVE_BYTES / (1024 * 1024)
    ))
}

/// The uploaded archive's bytes, refused at once on `Content-Length`, else as soon as the count
/// passes the limit.
async fn read_archive(
    headers: &HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
) -> ApiResult<Vec<u8>> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > MAX_ARCHIVE_BYTES + MULTIPART_OVERHEAD) {
        return Err(too_large());
    }
    let mut multipart =
        multipart.map_err(|r| ApiError::bad_request(ErrorCode::BadMultipart, r.body_text()))?;
    let mut field = multipart
        .next_field()
        .await
        .map_err(multipart_error)?
        .ok_or_else(|| {
            ApiError::bad_request(
                ErrorCode::MissingFile,
                format!("send the archive in a multipart field named `{FILE_FIELD}`"),
            )
        })?;
    if field.name() != Some(FILE_FIELD) {
        return Err(ApiError::bad_request(
            ErrorCode::BadMultipart,
            format!("expected one multipart field named `{FILE_FIELD}`"),
        ));
    }
    let mut bytes = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
        if (bytes.len() + chunk.len()) as u64 > MAX_ARCHIVE_BYTES {
            return Err(too_large());
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

#[tracing::instrument(skip_all, fields(user_id = %user.id))]
async fn create(
    State(state): State<AppState>,
    user: CurrentUser,
    headers: HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
) -> ApiResult<(StatusCode, Json<SkillDetail>)> {
    let bytes = read_archive(&headers, multipart).await?;
    let upload = skills::prepare(&bytes)?;
    let detail = skills::create(&state.pool, &state.storage, user.id, upload).await?;
    Ok((StatusCode::CREATED, Json(detail)))
}

#[tracing::instrument(skip_all, fields(user_id = %user.id))]
async fn replace(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<Uuid>,
    headers: HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
) -> ApiResult<Json<SkillDetail>> {
    let bytes = read_archive(&headers, multipart).await?;
    let upload = skills::prepare(&bytes)?;
    Ok(Json(
        skills::replace(&state.pool, &state.storage, user.id, id, upload).await?,
    ))
}

async fn list(State(state): State<AppState>, user: CurrentUser) -> ApiResult<Json<SkillList>> {
    Ok(Json(SkillList {
        skills: skills::list(&state.pool, user.id).await?,
    }))
}

async fn view(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<SkillDetail>> {
    let mut conn = state.pool.acquire().await?;
    Ok(Json(skills::get(&mut conn, user.id, id).await?))
}

#[tracing::instrument(skip_all, fields(user_id = %user.id))]
async fn set_enabled(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<Uuid>,
    Json(req): Json<EnabledUpdate>,
) -> ApiResult<Json<SkillView>> {
    Ok(Json(
        skills::set_enabled(&state.pool, user.id, id, req.enabled).await?,
    ))
}

#[tracing::instrument(skip_all, fields(user_id = %user.id))]
async fn remove(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    skills::delete(&state.pool, user.id, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A zip of the current version, the files under a folder named for the skill.
async fn download(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<Uuid>,
) -> ApiResult<Response> {
    let (name, bytes) = skills::download(&state.pool, &state.storage, user.id, id).await?;
    // The name is plain (`protocol::capabilities::valid_name`): safe inside the quotes.
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{name}.zip\""))
        .map_err(|e| ApiError::Internal(format!("skill name as a header: {e}")))?;
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/zip"),
            ),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        Body::from(bytes),
    )
        .into_response())
}
