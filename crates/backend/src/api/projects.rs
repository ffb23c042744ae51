//! `/projects`: list, create, read, edit, delete (`?cascade=true` with its sessions), and the
//! project's files (`POST /projects/{id}/files`, multipart field `file`, like attachments;
//! `DELETE /projects/{id}/files/{file_id}`). The behaviour lives in `crate::projects`.
//!
//! The file upload route has the attachments' body limit and no request timeout (merged in
//! `api/mod.rs` like `attachments::routes()`); the JSON routes are ordinary public routes.

use axum::Router;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{delete, get, post};
use protocol::files::AttachmentView;
use protocol::projects::{CreateProjectRequest, ProjectList, ProjectView, UpdateProjectRequest};
use serde::Deserialize;
use uuid::Uuid;

use super::attachments::{file_part, upload_limit};
use crate::auth::CurrentUser;
use crate::error::ApiResult;
use crate::extract::{Json, Path, Query};
use crate::projects;
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/projects", get(list).post(create))
        .route("/projects/{id}", get(view).patch(update).delete(remove))
        .route("/projects/{id}/files/{file_id}", delete(remove_file))
}

/// The upload route, merged with the attachments' body limit.
pub fn upload_routes() -> Router<AppState> {
    Router::new().route("/projects/{id}/files", post(upload))
}

async fn list(State(state): State<AppState>, user: CurrentUser) -> ApiResult<Json<ProjectList>> {
    Ok(Json(ProjectList {
        projects: projects::list(&state.pool, user.id).await?,
    }))
}

#[tracing::instrument(skip_all, fields(user_id = %user.id))]
async fn create(
    State(state): State<AppState>,
    user: CurrentUser,
    Json(req): Json<CreateProjectRequest>,
) -> ApiResult<(StatusCode, Json<ProjectView>)> {
    let view = projects::create(&state.pool, user.id, req, state.settings.git_allow_http).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

async fn view(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<ProjectView>> {
    let mut conn = state.pool.acquire().await?;
    Ok(Json(projects::get(&mut conn, user.id, id).await?))
}

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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DeleteQuery {
    /// Delete the project's sessions with it.
    #[serde(default)]
    cascade: bool,
}

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

async fn remove_file(
    State(state): State<AppState>,
    user: CurrentUser,
    Path((id, file_id)): Path<(Uuid, Uuid)>,
) -> ApiResult<StatusCode> {
    projects::files::delete(&state.pool, &state.storage, user.id, id, file_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
