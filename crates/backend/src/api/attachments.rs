//! `POST /attachments` (multipart, one field named `file`), `GET` and `DELETE /attachments/{id}`.
//!
//! The upload route has its own body limit (`MAX_UPLOAD_SIZE_MB` plus the multipart framing),
//! set in `api/mod.rs`; the handler also refuses an oversized `Content-Length` before reading
//! anything, and `crate::attachments` counts while streaming.

use axum::extract::multipart::{MultipartError, MultipartRejection};
use axum::extract::{Multipart, State};
use axum::http::{HeaderMap, StatusCode, header};
use futures::StreamExt;
use objstore::UploadError;
use protocol::files::AttachmentView;
use protocol::{ErrorBody, ErrorCode};
use uuid::Uuid;

use crate::attachments::{MULTIPART_OVERHEAD, Upload};
use crate::auth::CurrentUser;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Json, Path};
use crate::state::AppState;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The multipart field that carries the file.
pub const FILE_FIELD: &str = "file";

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(upload))
        .routes(routes!(view, remove))
}

/// The body of an upload route: `multipart/form-data` with one part, [`FILE_FIELD`].
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub(super) struct FileUpload {
    /// The file; the part's `filename` is its name (sanitised), its `Content-Type` its type.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

/// The largest body the upload route reads: the file limit plus the multipart framing.
pub fn body_limit(max_upload_size_mb: u64) -> usize {
    usize::try_from(upload_limit(max_upload_size_mb) + MULTIPART_OVERHEAD).unwrap_or(usize::MAX)
}

/// The largest file an upload route stores, in bytes (`MAX_UPLOAD_SIZE_MB`).
pub(super) fn upload_limit(max_upload_size_mb: u64) -> u64 {
    max_upload_size_mb.saturating_mul(1024 * 1024)
}

fn upload_error(e: MultipartError) -> UploadError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        UploadError::TooLarge
    } else {
        UploadError::Body(e.body_text())
    }
}

pub(super) fn multipart_error(e: MultipartError) -> ApiError {
    match upload_error(e) {
        UploadError::TooLarge => ApiError::PayloadTooLarge,
        other => ApiError::bad_request(ErrorCode::BadMultipart, other.to_string()),
    }
}

/// The upload's file part, after the checks every upload route makes: a declared
/// `Content-Length` over `limit` (plus the framing) is refused before anything is read, and the
/// body must be multipart with one field named [`FILE_FIELD`]. Returns the client's file name,
/// its content type and the stream of its bytes, with `limit`.
pub(super) async fn file_part<'m>(
    headers: &HeaderMap,
    multipart: &'m mut Result<Multipart, MultipartRejection>,
    limit: u64,
) -> ApiResult<Upload<impl futures::Stream<Item = Result<bytes::Bytes, UploadError>> + Unpin + 'm>>
{
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit.saturating_add(MULTIPART_OVERHEAD)) {
        return Err(ApiError::PayloadTooLarge);
    }
    let multipart = multipart
        .as_mut()
        .map_err(|r| ApiError::bad_request(ErrorCode::BadMultipart, r.body_text()))?;
    let field = multipart
        .next_field()
        .await
        .map_err(multipart_error)?
        .ok_or_else(|| {
            ApiError::bad_request(
                ErrorCode::MissingFile,
                format!("send the file in a multipart field named `{FILE_FIELD}`"),
            )
        })?;
    if field.name() != Some(FILE_FIELD) {
        return Err(ApiError::bad_request(
            ErrorCode::BadMultipart,
            format!("expected one multipart field named `{FILE_FIELD}`"),
        ));
    }
    Ok(Upload {
        raw_name: field.file_name().map(str::to_owned),
        raw_content_type: field.content_type().map(str::to_owned),
        body: field.map(|chunk| chunk.map_err(upload_error)),
        limit,
    })
}

/// Uploads a file for the caller's tasks (streamed to the object store, at most
/// `MAX_UPLOAD_SIZE_MB`); tasks name it by id.
#[utoipa::path(
    post,
    path = "/api/v1/attachments",
    operation_id = "upload_attachment",
    tag = "attachments",
    request_body(content = FileUpload, content_type = "multipart/form-data"),
    responses(
        (status = 201, description = "Stored.", body = AttachmentView),
        (status = 422, description = "The file name or type is not acceptable (`validation_error`).", body = ErrorBody),
    ),
)]
#[tracing::instrument(skip_all, fields(user_id = %user.id))]
async fn upload(
    State(state): State<AppState>,
    user: CurrentUser,
    headers: HeaderMap,
    mut multipart: Result<Multipart, MultipartRejection>,
) -> ApiResult<(StatusCode, Json<AttachmentView>)> {
    let limit = upload_limit(state.settings.max_upload_size_mb);
    let upload = file_part(&headers, &mut multipart, limit).await?;
    let view = crate::attachments::store(&state.pool, &state.storage, user.id, upload).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// One of the caller's attachments.
#[utoipa::path(
    get,
    path = "/api/v1/attachments/{id}",
    operation_id = "get_attachment",
    tag = "attachments",
    params(("id" = Uuid, Path, description = "The attachment's id.")),
    responses(
        (status = 200, description = "The attachment.", body = AttachmentView),
        (status = 404, description = "No such attachment of the caller's (`not_found`).", body = ErrorBody),
    ),
)]
async fn view(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<AttachmentView>> {
    Ok(Json(
        crate::attachments::get_owned(&state.pool, user.id, id).await?,
    ))
}

/// Deletes one of the caller's attachments and its object.
#[utoipa::path(
    delete,
    path = "/api/v1/attachments/{id}",
    operation_id = "delete_attachment",
    tag = "attachments",
    params(("id" = Uuid, Path, description = "The attachment's id.")),
    responses(
        (status = 204, description = "Deleted."),
        (status = 404, description = "No such attachment of the caller's (`not_found`).", body = ErrorBody),
        (status = 409, description = "A queued or running task needs it (`attachment_in_use`).", body = ErrorBody),
    ),
)]
async fn remove(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    crate::attachments::delete_owned(&state.pool, &state.storage, user.id, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
