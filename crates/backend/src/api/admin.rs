//! `/admin/*`: users (list with usage, disable/enable, role, one-time password reset links) and
//! invites. Every route needs the `admin` scope ([`crate::auth::scope`]), which only an admin's
//! sign-in or an admin's token holding it has.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use protocol::ErrorCode;
use protocol::accounts::{
    AdminUserList, AdminUserView, CreateInviteRequest, CreatedInvite, InviteList,
    PasswordResetLink, Role, UpdateUserRequest,
};
use uuid::Uuid;

use crate::auth::CurrentUser;
use crate::auth::accounts;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Json, Path};
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/users", get(list_users))
        .route("/admin/users/{id}", get(get_user).patch(update_user))
        .route("/admin/users/{id}/password-reset", post(reset_link))
        .route("/admin/invites", get(list_invites).post(create_invite))
        .route("/admin/invites/{id}", delete(delete_invite))
}

async fn list_users(
    State(state): State<AppState>,
    _admin: CurrentUser,
) -> ApiResult<Json<AdminUserList>> {
    Ok(Json(AdminUserList {
        users: accounts::list_with_usage(&state.pool, None).await?,
    }))
}

async fn get_user(
    State(state): State<AppState>,
    _admin: CurrentUser,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<AdminUserView>> {
    accounts::list_with_usage(&state.pool, Some(id))
        .await?
        .pop()
        .map(Json)
        .ok_or(ApiError::NotFound("user"))
}

async fn update_user(
    State(state): State<AppState>,
    admin: CurrentUser,
    Path(id): Path<Uuid>,
    Json(body): Json<UpdateUserRequest>,
) -> ApiResult<Json<AdminUserView>> {
    if id == admin.id && (body.disabled == Some(true) || body.role == Some(Role::Member)) {
        return Err(ApiError::conflict(
            ErrorCode::InvalidRequest,
            "an admin cannot disable or demote their own account; ask another admin",
        ));
    }
    if accounts::list_with_usage(&state.pool, Some(id))
        .await?
        .is_empty()
    {
        return Err(ApiError::NotFound("user"));
    }
    if let Some(role) = body.role {
        accounts::set_role(&state.pool, id, role).await?;
    }
    if let Some(disabled) = body.disabled {
        accounts::set_disabled(&state.pool, &state.nudger, id, disabled).await?;
    }
    tracing::info!(by = %admin.id, user_id = %id, "user updated by an admin");
    get_user(State(state), admin, Path(id)).await
}

async fn reset_link(
    State(state): State<AppState>,
    admin: CurrentUser,
    Path(id): Path<Uuid>,
) -> ApiResult<(StatusCode, Json<PasswordResetLink>)> {
    super::auth::require_password_mode(&state)?;
    let link = accounts::create_reset(&state.pool, &state.settings.public_url, id).await?;
    tracing::info!(by = %admin.id, user_id = %id, "password reset link issued by an admin");
    Ok((StatusCode::CREATED, Json(link)))
}

async fn list_invites(
    State(state): State<AppState>,
    _admin: CurrentUser,
) -> ApiResult<Json<InviteList>> {
    Ok(Json(InviteList {
        invites: accounts::list_invites(&state.pool).await?,
    }))
}

async fn create_invite(
    State(state): State<AppState>,
    admin: CurrentUser,
    Json(body): Json<CreateInviteRequest>,
) -> ApiResult<(StatusCode, Json<CreatedInvite>)> {
    super::auth::require_password_mode(&state)?;
    let invite =
        accounts::create_invite(&state.pool, &state.settings.public_url, admin.id, body).await?;
    Ok((StatusCode::CREATED, Json(invite)))
}

async fn delete_invite(
    State(state): State<AppState>,
    _admin: CurrentUser,
    Path(id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    accounts::delete_invite(&state.pool, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
