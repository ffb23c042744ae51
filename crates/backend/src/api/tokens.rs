//! `/tokens`: the caller's personal access tokens (create, list, revoke). Only a sign-in may
//! manage tokens ([`crate::auth::scope`]): a token cannot mint another.

use axum::extract::State;
use axum::http::StatusCode;
use protocol::ErrorBody;
use protocol::accounts::{CreateTokenRequest, CreatedToken, TokenList};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{CurrentUser, api_token};
use crate::error::ApiResult;
use crate::extract::{Json, Path};
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(revoke))
}

/// Creates a personal access token; its value is shown once, in this answer.
#[utoipa::path(
    post,
    path = "/api/v1/tokens",
    operation_id = "create_token",
    tag = "tokens",
    request_body = CreateTokenRequest,
    responses(
        (status = 201, description = "The token (`token`, shown only now) and its view.", body = CreatedToken),
        (status = 403, description = "Only an admin may give a token the `admin` scope (`insufficient_scope`).", body = ErrorBody),
        (status = 409, description = "The server runs in single-user mode (`single_user_mode`).", body = ErrorBody),
    ),
)]
async fn create(
    State(state): State<AppState>,
    user: CurrentUser,
    Json(body): Json<CreateTokenRequest>,
) -> ApiResult<(StatusCode, Json<CreatedToken>)> {
    super::auth::require_password_mode(&state)?;
    let created = api_token::create(&state.pool, user.id, user.role, body).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// The caller's tokens (never their values).
#[utoipa::path(
    get,
    path = "/api/v1/tokens",
    operation_id = "list_tokens",
    tag = "tokens",
    responses((status = 200, description = "The tokens.", body = TokenList)),
)]
async fn list(State(state): State<AppState>, user: CurrentUser) -> ApiResult<Json<TokenList>> {
    Ok(Json(TokenList {
        tokens: api_token::list(&state.pool, user.id).await?,
    }))
}

/// Revokes one of the caller's tokens.
#[utoipa::path(
    delete,
    path = "/api/v1/tokens/{id}",
    operation_id = "revoke_token",
    tag = "tokens",
    params(("id" = uuid::Uuid, Path, description = "The token's id.")),
    responses(
        (status = 204, description = "Revoked."),
        (status = 404, description = "No such token of the caller's (`not_found`).", body = ErrorBody),
    ),
)]
async fn revoke(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<uuid::Uuid>,
) -> ApiResult<StatusCode> {
    api_token::revoke(&state.pool, user.id, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
