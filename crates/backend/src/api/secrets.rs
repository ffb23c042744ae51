//! `/secrets`: the caller's secrets, and the system's read-only (`crate::secrets::store`).
//!
//! - `GET /secrets`: the user's, then the system's (`overridden` when the user has the name).
//! - `POST /secrets` (`201`; `409 name_taken`), `PUT /secrets/{name}` (create `201` or replace
//!   `200`; a name only the system has creates the user's own, which overrides it).
//! - `GET /secrets/{name}`: the one a run would get (the user's, else the system's).
//! - `PATCH /secrets/{name}`: the description (`403 read_only` for a system-only name).
//! - `DELETE /secrets/{name}` (`204`; `404` when the user has none, `403 read_only` when only the
//!   system has it).
//!
//! No answer ever carries a value; handlers are traced without their bodies.

use axum::extract::State;
use axum::http::StatusCode;
use protocol::ErrorBody;
use protocol::secrets::{SecretList, SecretView, SetSecretRequest, UpdateSecretRequest};

use crate::auth::CurrentUser;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Json, Path};
use crate::secrets::store::{self, NewSecret};
use crate::state::AppState;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(view, put, update, remove))
}

/// The caller's secrets, then the system's (`overridden` when the caller has the name); never a
/// value.
#[utoipa::path(
    get,
    path = "/api/v1/secrets",
    operation_id = "list_secrets",
    tag = "secrets",
    responses((status = 200, description = "The secrets.", body = SecretList)),
)]
async fn list(State(state): State<AppState>, user: CurrentUser) -> ApiResult<Json<SecretList>> {
    let mut conn = state.pool.acquire().await?;
    Ok(Json(SecretList {
        secrets: store::list(&mut conn, user.id).await?,
    }))
}

/// The secret a run would get under this name: the caller's, else the system's.
#[utoipa::path(
    get,
    path = "/api/v1/secrets/{name}",
    operation_id = "get_secret",
    tag = "secrets",
    params(("name" = String, Path, description = "The secret's name (`^[A-Z_][A-Z0-9_]*$`).", example = "GITHUB_TOKEN")),
    responses(
        (status = 200, description = "The secret (at most the last 4 characters of its value).", body = SecretView),
        (status = 404, description = "Neither the caller nor the system has it (`not_found`).", body = ErrorBody),
    ),
)]
async fn view(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(name): Path<String>,
) -> ApiResult<Json<SecretView>> {
    let mut conn = state.pool.acquire().await?;
    store::describe(&mut conn, user.id, &name)
        .await?
        .map(Json)
        .ok_or(ApiError::NotFound("secret"))
}

/// Creates a secret (`name` is required).
#[utoipa::path(
    post,
    path = "/api/v1/secrets",
    operation_id = "create_secret",
    tag = "secrets",
    request_body = SetSecretRequest,
    responses(
        (status = 201, description = "Created.", body = SecretView),
        (status = 409, description = "The caller has a secret of this name (`name_taken`).", body = ErrorBody),
        (status = 422, description = "The name, value or description is not acceptable, or the caller has the most secrets (`validation_error`).", body = ErrorBody),
    ),
)]
#[tracing::instrument(skip_all, fields(user_id = %user.id))]
async fn create(
    State(state): State<AppState>,
    user: CurrentUser,
    Json(req): Json<SetSecretRequest>,
) -> ApiResult<(StatusCode, Json<SecretView>)> {
    let name = req
        .name
        .as_deref()
        .ok_or_else(|| ApiError::validation("`name` is required"))?;
    let view = store::create(
        &state.pool,
        &state.keyring,
        Some(user.id),
        &NewSecret {
            name,
            value: &req.value,
            description: req.description.as_deref(),
        },
    )
    .await?;
    tracing::info!(name = %view.name, "secret created");
    Ok((StatusCode::CREATED, Json(view)))
}

/// Creates or replaces the caller's secret of this name (one only the system has is overridden
/// by the caller's own).
#[utoipa::path(
    put,
    path = "/api/v1/secrets/{name}",
    operation_id = "put_secret",
    tag = "secrets",
    params(("name" = String, Path, description = "The secret's name (`^[A-Z_][A-Z0-9_]*$`).", example = "GITHUB_TOKEN")),
    request_body = SetSecretRequest,
    responses(
        (status = 201, description = "Created.", body = SecretView),
        (status = 200, description = "Replaced.", body = SecretView),
        (status = 422, description = "The name, value or description is not acceptable, the body's `name` is not the path's, or the caller has the most secrets (`validation_error`).", body = ErrorBody),
    ),
)]
#[tracing::instrument(skip_all, fields(user_id = %user.id))]
async fn put(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(name): Path<String>,
    Json(req): Json<SetSecretRequest>,
) -> ApiResult<(StatusCode, Json<SecretView>)> {
    if req.name.as_deref().is_some_and(|n| n != name) {
        return Err(ApiError::validation(
            "`name` in the body must be the path's or left out",
        ));
    }
    let (view, created) = store::put(
        &state.pool,
        &state.keyring,
        Some(user.id),
        &NewSecret {
            name: &name,
            value: &req.value,
            description: req.description.as_deref(),
        },
    )
    .await?;
    tracing::info!(name = %view.name, created, "secret set");
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(view)))
}

/// Changes the description of the caller's secret.
#[utoipa::path(
    patch,
    path = "/api/v1/secrets/{name}",
    operation_id = "update_secret",
    tag = "secrets",
    params(("name" = String, Path, description = "The secret's name.", example = "GITHUB_TOKEN")),
    request_body = UpdateSecretRequest,
    responses(
        (status = 200, description = "The secret.", body = SecretView),
        (status = 403, description = "Only the system has this name (`read_only`).", body = ErrorBody),
        (status = 404, description = "Neither the caller nor the system has it (`not_found`).", body = ErrorBody),
    ),
)]
#[tracing::instrument(skip_all, fields(user_id = %user.id))]
async fn update(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(name): Path<String>,
    Json(req): Json<UpdateSecretRequest>,
) -> ApiResult<Json<SecretView>> {
    Ok(Json(
        store::update_description(&state.pool, user.id, &name, &req.description).await?,
    ))
}

/// Deletes the caller's secret of this name.
#[utoipa::path(
    delete,
    path = "/api/v1/secrets/{name}",
    operation_id = "delete_secret",
    tag = "secrets",
    params(("name" = String, Path, description = "The secret's name.", example = "GITHUB_TOKEN")),
    responses(
        (status = 204, description = "Deleted."),
        (status = 403, description = "Only the system has this name (`read_only`).", body = ErrorBody),
        (status = 404, description = "The caller has no secret of this name (`not_found`).", body = ErrorBody),
    ),
)]
#[tracing::instrument(skip_all, fields(user_id = %user.id))]
async fn remove(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    store::delete(&state.pool, Some(user.id), &name).await?;
    tracing::info!(%name, "secret deleted");
    Ok(StatusCode::NO_CONTENT)
}
