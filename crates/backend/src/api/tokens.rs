//! `/tokens`: the caller's personal access tokens (create, list, revoke). Only a sign-in may
//! manage tokens ([`crate::auth::scope`]): a token cannot mint another.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get};
use protocol::accounts::{CreateTokenRequest, CreatedToken, TokenList};

use crate::auth::{CurrentUser, api_token};
use crate::error::ApiResult;
use crate::extract::{Json, Path};
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/tokens", get(list).post(create))
        .route("/tokens/{id}", delete(revoke))
}

async fn create(
    State(state): State<AppState>,
    user: CurrentUser,
    Json(body): Json<CreateTokenRequest>,
) -> ApiResult<(StatusCode, Json<CreatedToken>)> {
    super::auth::require_password_mode(&state)?;
    let created = api_token::create(&state.pool, user.id, user.role, body).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

async fn list(State(state): State<AppState>, user: CurrentUser) -> ApiResult<Json<TokenList>> {
    Ok(Json(TokenList {
        tokens: api_token::list(&state.pool, user.id).await?,
    }))
}

async fn revoke(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<uuid::Uuid>,
) -> ApiResult<StatusCode> {
    api_token::revoke(&state.pool, user.id, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
