//! `/projects`: list, create, read, edit, delete (`?cascade=true` with its sessions), and the
//! project's files (`POST /projects/{id}/files`, multipart field `file`, like attachments;
//! `DELETE /projects/{id}/files/{file_id}`). The behaviour lives in `crate::projects`.
//!
//! The file upload route has the attachments' body limit and no request timeout (merged in
//! `api/mod.rs` like `attachments::routes()`); the JSON routes are ordinary public routes.

use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, State};
use axum::http::{HeaderMap, StatusCode};
use protocol::ErrorBody;
use protocol::files::AttachmentView;
use protocol::projects::{CreateProjectRequest, ProjectList, ProjectView, UpdateProjectRequest};
use serde::Deserialize;
use uuid::Uuid;

use super::attachments::{FileUpload, file_part, upload_limit};
use crate::auth::CurrentUser;
use crate::error::ApiResult;
use crate::extract::{Json, Path, Query};
use crate::projects;
use crate::state::AppState;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(view, update, remove))
        .routes(routes!(remove_file))
}

/// The upload route, merged with the attachments' body limit.
pub fn upload_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(upload))
}

/// The caller's projects.
#[utoipa::path(
    get,
    path = "/api/v1/projects",
    operation_id = "list_projects",
    tag = "projects",
    responses((status = 200, description = "The projects.", body = ProjectList)),
)]
async fn list(State(state): State<AppState>, user: CurrentUser) -> ApiResult<Json<ProjectList>> {
    Ok(Json(ProjectList {
        projects: projects::list(&state.pool, user.id).await?,
    }))
}

/// Creates a project.
#[utoipa::path(
    post,
    path = "/api/v1/projects",
    operation_id = "create_project",
    tag = "projects",
    request_body = CreateProjectRequest,
    responses(
        (status = 201, description = "Created.", body = ProjectView),
        (status = 400, description = "The default repository is not acceptable (`invalid_git`).", body = ErrorBody),
        (status = 404, description = "The default preset is not one of the caller's (`not_found`).", body = ErrorBody),
        (status = 409, description = "The caller has a project of this name (`name_taken`).", body = ErrorBody),
    ),
)]
#[tracing::instrument(skip_all, fields(user_id = %user.id))]
async fn create(
    State(state): State<AppState>,
    user: CurrentUser,
    Json(req): Json<CreateProjectRequest>,
) -> ApiResult<(StatusCode, Json<ProjectView>)> {
    let view = projects::create(&state.pool, user.id, req, state.settings.git_allow_http).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// A project, with its files.
#[utoipa::path(
    get,
    path = "/api/v1/projects/{id}",
    operation_id = "get_project",
    tag = "projects",
    params(("id" = Uuid, Path, description = "The project's id.")),
    responses(
        (status = 200, description = "The project.", body = ProjectView),
        (status = 404, description = "No such project of the caller's (`not_found`).", body = ErrorBody),
    ),
)]
async fn view(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<ProjectView>> {
    let mut conn = state.pool.acquire().await?;
    Ok(Json(projects::get(&mut conn, user.id, id).await?))
}

/// Changes a project; the fields left out keep their values.
#[utoipa::path(
    patch,
    path = "/api/v1/projects/{id}",
    operation_id = "update_project",
    tag = "projects",
    params(("id" = Uuid, Path, description = "The project's id.")),
    request_body = UpdateProjectRequest,
    responses(
        (status = 200, description = "The project as it is now.", body = ProjectView),
        (status = 400, description = "The default repository is not acceptable (`invalid_git`).", body = ErrorBody),
        (status = 404, description = "No such project (or default preset) of the caller's (`not_found`).", body = ErrorBody),
        (status = 409, description = "The caller has a project of this name (`name_taken`).", body = ErrorBody),
    ),
)]
async fn update(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<Uuid>,
    Json(req): Json<UpdateProjectRequest>,
) -> ApiResult<Json<ProjectView>> {
    Ok(Json(
        projects::update(&state.pool, user.id, id, req, state.settings.git_allow_http).await?,
    ))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct DeleteQuery {
    /// Delete the project's sessions with it.
    #[serde(default)]
    cascade: bool,
}

/// Deletes a project with its files; with `cascade=true` its sessions too (else it must have none).
#[utoipa::path(
    delete,
    path = "/api/v1/projects/{id}",
    operation_id = "delete_project",
    tag = "projects",
    params(("id" = Uuid, Path, description = "The project's id."), DeleteQuery),
    responses(
        (status = 204, description = "Deleted."),
        (status = 404, description = "No such project of the caller's (`not_found`).", body = ErrorBody),
        (status = 409, description = "The project has sessions and `cascade` is not set (`project_not_empty`), or one of them has a run in progress (`session_active`).", body = ErrorBody),
    ),
)]
#[tracing::instrument(skip_all, fields(user_id = %user.id, project_id = %id))]
async fn remove(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<Uuid>,
    Query(q): Query<DeleteQuery>,
) -> ApiResult<StatusCode> {
    projects::delete(&state.pool, &state.storage, user.id, id, q.cascade).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Adds a file to a project (staged into every run's `inputs/`; multipart part `file`, at most
/// `MAX_UPLOAD_SIZE_MB`).
#[utoipa::path(
    post,
    path = "/api/v1/projects/{id}/files",
    operation_id = "upload_project_file",
    tag = "projects",
    params(("id" = Uuid, Path, description = "The project's id.")),
    request_body(content = FileUpload, content_type = "multipart/form-data"),
    responses(
        (status = 201, description = "Stored.", body = AttachmentView),
        (status = 404, description = "No such project of the caller's (`not_found`).", body = ErrorBody),
        (status = 409, description = "A leased run may be fetching the project's files (`attachment_in_use`).", body = ErrorBody),
        (status = 422, description = "The file name or type is not acceptable, or the project has its most files (`validation_error`).", body = ErrorBody),
    ),
)]
#[tracing::instrument(skip_all, fields(user_id = %user.id, project_id = %id))]
async fn upload(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<Uuid>,
    headers: HeaderMap,
    mut multipart: Result<Multipart, MultipartRejection>,
) -> ApiResult<(StatusCode, Json<AttachmentView>)> {
    let limit = upload_limit(state.settings.max_upload_size_mb);
    let upload = file_part(&headers, &mut multipart, limit).await?;
    let view = projects::files::upload(&state.pool, &state.storage, user.id, id, upload).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// Deletes a project's file.
#[utoipa::path(
    delete,
    path = "/api/v1/projects/{id}/files/{file_id}",
    operation_id = "delete_project_file",
    tag = "projects",
    params(
        ("id" = Uuid, Path, description = "The project's id."),
        ("file_id" = Uuid, Path, description = "The file's id."),
    ),
    responses(
        (status = 204, description = "Deleted."),
        (status = 404, description = "No such project of the caller's, or no such file in it (`not_found`).", body = ErrorBody),
        (status = 409, description = "A leased run may be fetching the project's files (`attachment_in_use`).", body = ErrorBody),
    ),
)]
async fn remove_file(
    State(state): State<AppState>,
    user: CurrentUser,
    Path((id, file_id)): Path<(Uuid, Uuid)>,
) -> ApiResult<StatusCode> {
    projects::files::delete(&state.pool, &state.storage, user.id, id, file_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
