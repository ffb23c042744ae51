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

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use protocol::secrets::{SecretList, SecretView, SetSecretRequest, UpdateSecretRequest};

use crate::auth::CurrentUser;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Json, Path};
use crate::secrets::store::{self, NewSecret};
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/secrets", get(list).post(create))
        .route(
            "/secrets/{name}",
            get(view).put(put).patch(update).delete(remove),
        )
}

async fn list(State(state): State<AppState>, user: CurrentUser) -> ApiResult<Json<SecretList>> {
    let mut conn = state.pool.acquire().await?;
    Ok(Json(SecretList {
        secrets: store::list(&mut conn, user.id).await?,
    }))
}

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
