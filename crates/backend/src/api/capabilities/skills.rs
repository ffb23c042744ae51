//! `/skills`: uploads (multipart field `file`, a zip or tar.gz of the skill's folder, read into
//! memory up to `capabilities::archive::MAX_ARCHIVE_BYTES` and checked whole before anything is
//! stored), the list, one skill with its files, its download, enable/disable, delete.

use axum::body::Body;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use protocol::capabilities::{EnabledUpdate, SkillDetail, SkillList, SkillView};
use protocol::{ErrorBody, ErrorCode};
use uuid::Uuid;

use crate::attachments::MULTIPART_OVERHEAD;
use crate::auth::CurrentUser;
use crate::capabilities::archive::MAX_ARCHIVE_BYTES;
use crate::capabilities::skills;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Json, Path};
use crate::state::AppState;

use crate::api::attachments::{FILE_FIELD, FileUpload, multipart_error};
use crate::api::openapi::BinaryFile;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The routes that take an upload (their own body limit, no request timeout).
pub fn upload_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create))
        .routes(routes!(replace))
}

/// The rest.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(view, set_enabled, remove))
        .routes(routes!(download))
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

/// Uploads a skill: a zip or tar.gz of its folder (with its `SKILL.md`), multipart part `file`.
#[utoipa::path(
    post,
    path = "/api/v1/skills",
    operation_id = "create_skill",
    tag = "capabilities",
    request_body(content = FileUpload, content_type = "multipart/form-data"),
    responses(
        (status = 201, description = "The skill and its files.", body = SkillDetail),
        (status = 409, description = "The caller has a skill of this name (`name_taken`).", body = ErrorBody),
        (status = 422, description = "The archive is not acceptable (`invalid_archive`) or its `SKILL.md` is not (`validation_error`).", body = ErrorBody),
    ),
)]
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

/// Uploads a new version of one of the caller's skills (its `SKILL.md` may rename it).
#[utoipa::path(
    put,
    path = "/api/v1/skills/{id}",
    operation_id = "replace_skill",
    tag = "capabilities",
    params(("id" = Uuid, Path, description = "The skill's id.")),
    request_body(content = FileUpload, content_type = "multipart/form-data"),
    responses(
        (status = 200, description = "The skill and its files.", body = SkillDetail),
        (status = 403, description = "A system skill (`read_only`).", body = ErrorBody),
        (status = 404, description = "No such skill (`not_found`).", body = ErrorBody),
        (status = 409, description = "The caller has another skill of the new name (`name_taken`).", body = ErrorBody),
        (status = 422, description = "The archive is not acceptable (`invalid_archive`) or its `SKILL.md` is not (`validation_error`).", body = ErrorBody),
    ),
)]
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

/// The caller's skills and the system's.
#[utoipa::path(
    get,
    path = "/api/v1/skills",
    operation_id = "list_skills",
    tag = "capabilities",
    responses((status = 200, description = "The skills.", body = SkillList)),
)]
async fn list(State(state): State<AppState>, user: CurrentUser) -> ApiResult<Json<SkillList>> {
    Ok(Json(SkillList {
        skills: skills::list(&state.pool, user.id).await?,
    }))
}

/// A skill and its files.
#[utoipa::path(
    get,
    path = "/api/v1/skills/{id}",
    operation_id = "get_skill",
    tag = "capabilities",
    params(("id" = Uuid, Path, description = "The skill's id.")),
    responses(
        (status = 200, description = "The skill.", body = SkillDetail),
        (status = 404, description = "No such skill of the caller's or the system's (`not_found`).", body = ErrorBody),
    ),
)]
async fn view(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<SkillDetail>> {
    let mut conn = state.pool.acquire().await?;
    Ok(Json(skills::get(&mut conn, user.id, id).await?))
}

/// Enables or disables one of the caller's skills.
#[utoipa::path(
    patch,
    path = "/api/v1/skills/{id}",
    operation_id = "set_skill_enabled",
    tag = "capabilities",
    params(("id" = Uuid, Path, description = "The skill's id.")),
    request_body = EnabledUpdate,
    responses(
        (status = 200, description = "The skill.", body = SkillView),
        (status = 403, description = "A system skill (`read_only`).", body = ErrorBody),
        (status = 404, description = "No such skill (`not_found`).", body = ErrorBody),
    ),
)]
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

/// Deletes one of the caller's skills (its files go once no queued or running run needs them).
#[utoipa::path(
    delete,
    path = "/api/v1/skills/{id}",
    operation_id = "delete_skill",
    tag = "capabilities",
    params(("id" = Uuid, Path, description = "The skill's id.")),
    responses(
        (status = 204, description = "Deleted."),
        (status = 403, description = "A system skill (`read_only`).", body = ErrorBody),
        (status = 404, description = "No such skill (`not_found`).", body = ErrorBody),
    ),
)]
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
#[utoipa::path(
    get,
    path = "/api/v1/skills/{id}/download",
    operation_id = "download_skill",
    tag = "capabilities",
    params(("id" = Uuid, Path, description = "The skill's id.")),
    responses(
        (status = 200, description = "The zip (`Content-Disposition: attachment; filename=\"<name>.zip\"`).", content_type = "application/zip", body = BinaryFile),
        (status = 404, description = "No such skill of the caller's or the system's (`not_found`).", body = ErrorBody),
    ),
)]
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
