//! `/admin/*`: users (list with usage, disable/enable, role, one-time password reset links) and
//! invites. Every route needs the `admin` scope ([`crate::auth::scope`]), which only an admin's
//! sign-in or an admin's token holding it has.

use axum::extract::State;
use axum::http::StatusCode;
use protocol::accounts::{
    AdminUserList, AdminUserView, CreateInviteRequest, CreatedInvite, InviteList,
    PasswordResetLink, Role, UpdateUserRequest,
};
use protocol::{ErrorBody, ErrorCode};
use uuid::Uuid;

use crate::auth::CurrentUser;
use crate::auth::accounts;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Json, Path};
use crate::state::AppState;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_users))
        .routes(routes!(get_user, update_user))
        .routes(routes!(reset_link))
        .routes(routes!(list_invites, create_invite))
        .routes(routes!(delete_invite))
}

/// Every user, with their usage.
#[utoipa::path(
    get,
    path = "/api/v1/admin/users",
    operation_id = "admin_list_users",
    tag = "admin",
    responses((status = 200, description = "The users.", body = AdminUserList)),
)]
async fn list_users(
    State(state): State<AppState>,
    _admin: CurrentUser,
) -> ApiResult<Json<AdminUserList>> {
    Ok(Json(AdminUserList {
        users: accounts::list_with_usage(&state.pool, None).await?,
    }))
}

/// One user, with their usage.
#[utoipa::path(
    get,
    path = "/api/v1/admin/users/{id}",
    operation_id = "admin_get_user",
    tag = "admin",
    params(("id" = Uuid, Path, description = "The user's id.")),
    responses(
        (status = 200, description = "The user.", body = AdminUserView),
        (status = 404, description = "No such user (`not_found`).", body = ErrorBody),
    ),
)]
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

/// Disables or enables a user, or changes their role. A disabled user's logins and tokens stop
/// working at once.
#[utoipa::path(
    patch,
    path = "/api/v1/admin/users/{id}",
    operation_id = "admin_update_user",
    tag = "admin",
    params(("id" = Uuid, Path, description = "The user's id.")),
    request_body = UpdateUserRequest,
    responses(
        (status = 200, description = "The user as it is now.", body = AdminUserView),
        (status = 404, description = "No such user (`not_found`).", body = ErrorBody),
        (status = 409, description = "An admin cannot disable or demote themselves (`invalid_request`).", body = ErrorBody),
    ),
)]
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
    // An account (not the implicit single-user one, which is never listed); its usage is read
    // once, for the answer.
    match accounts::get(&state.pool, id).await? {
        Some(u) if !u.email.eq_ignore_ascii_case(crate::auth::LOCAL_USER_EMAIL) => {}
        _ => return Err(ApiError::NotFound("user")),
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

/// A one-time password reset link for a user (to hand over out of band).
#[utoipa::path(
    post,
    path = "/api/v1/admin/users/{id}/password-reset",
    operation_id = "admin_password_reset_link",
    tag = "admin",
    params(("id" = Uuid, Path, description = "The user's id.")),
    responses(
        (status = 201, description = "The link and its token.", body = PasswordResetLink),
        (status = 404, description = "No such user (`not_found`).", body = ErrorBody),
        (status = 409, description = "The server runs in single-user mode (`single_user_mode`).", body = ErrorBody),
    ),
)]
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

/// The invites, used or not.
#[utoipa::path(
    get,
    path = "/api/v1/admin/invites",
    operation_id = "admin_list_invites",
    tag = "admin",
    responses((status = 200, description = "The invites.", body = InviteList)),
)]
async fn list_invites(
    State(state): State<AppState>,
    _admin: CurrentUser,
) -> ApiResult<Json<InviteList>> {
    Ok(Json(InviteList {
        invites: accounts::list_invites(&state.pool).await?,
    }))
}

/// Creates an invite; its token is shown once, in this answer.
#[utoipa::path(
    post,
    path = "/api/v1/admin/invites",
    operation_id = "admin_create_invite",
    tag = "admin",
    request_body = CreateInviteRequest,
    responses(
        (status = 201, description = "The invite, its token and its link.", body = CreatedInvite),
        (status = 409, description = "The server runs in single-user mode (`single_user_mode`).", body = ErrorBody),
    ),
)]
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

/// Deletes an invite.
#[utoipa::path(
    delete,
    path = "/api/v1/admin/invites/{id}",
    operation_id = "admin_delete_invite",
    tag = "admin",
    params(("id" = Uuid, Path, description = "The invite's id.")),
    responses(
        (status = 204, description = "Deleted."),
        (status = 404, description = "No such invite (`not_found`).", body = ErrorBody),
    ),
)]
async fn delete_invite(
    State(state): State<AppState>,
    _admin: CurrentUser,
    Path(id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    accounts::delete_invite(&state.pool, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
