//! `/mcp-servers`, `/slash-commands`, `/subagents`, `/presets`: the same five routes for each
//! kind — `POST` (201), `GET` list, `GET`/`PATCH`/`DELETE` `…/{id}` (200, 200, 204) — calling
//! the kind's module in `crate::capabilities`.

use axum::extract::State;
use axum::http::StatusCode;
use protocol::ErrorBody;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::auth::CurrentUser;
use crate::error::ApiResult;
use crate::extract::{Json, Path};
use crate::state::AppState;

/// The handlers of one kind: `$module` is its module in `crate::capabilities`, `$list` its list
/// type with the field `$field`; `$items` and `$item` its two paths, and the operation ids of
/// its five handlers follow.
macro_rules! library_kind {
    (
        $name:ident, $module:ident, $request:ty, $view:ty, $list:ident, $field:ident,
        $items:tt, $item:tt,
        [$list_id:tt, $create_id:tt, $view_id:tt, $update_id:tt, $delete_id:tt]
    ) => {
        mod $name {
            use super::*;
            use crate::capabilities::$module as kind;
            use protocol::capabilities::$list;

            type Request = $request;
            type View = $view;

            /// The routes of this kind.
            pub fn routes() -> OpenApiRouter<AppState> {
                OpenApiRouter::new()
                    .routes(routes!(list, create))
                    .routes(routes!(view, update, remove))
            }

            /// Creates one of the caller's items of this kind.
            #[utoipa::path(
                post,
                path = $items,
                operation_id = $create_id,
                tag = "capabilities",
                request_body = Request,
                responses(
                    (status = 201, description = "Created.", body = View),
                    (status = 404, description = "An item it names is not the caller's or the system's (`not_found`).", body = ErrorBody),
                    (status = 409, description = "The caller has an item of this name (`name_taken`).", body = ErrorBody),
                ),
            )]
            #[tracing::instrument(skip_all, fields(user_id = %user.id))]
            pub async fn create(
                State(state): State<AppState>,
                user: CurrentUser,
                Json(req): Json<$request>,
            ) -> ApiResult<(StatusCode, Json<$view>)> {
                let view = kind::create(&state.pool, user.id, req).await?;
                Ok((StatusCode::CREATED, Json(view)))
            }

            /// The caller's items of this kind, and the system's.
            #[utoipa::path(
                get,
                path = $items,
                operation_id = $list_id,
                tag = "capabilities",
                responses((status = 200, description = "The items.", body = $list)),
            )]
            pub async fn list(
                State(state): State<AppState>,
                user: CurrentUser,
            ) -> ApiResult<Json<$list>> {
                Ok(Json($list {
                    $field: kind::list(&state.pool, user.id).await?,
                }))
            }

            /// One item (the caller's or the system's).
            #[utoipa::path(
                get,
                path = $item,
                operation_id = $view_id,
                tag = "capabilities",
                params(("id" = Uuid, Path, description = "The item's id.")),
                responses(
                    (status = 200, description = "The item.", body = View),
                    (status = 404, description = "No such item of the caller's or the system's (`not_found`).", body = ErrorBody),
                ),
            )]
            pub async fn view(
                State(state): State<AppState>,
                user: CurrentUser,
                Path(id): Path<Uuid>,
            ) -> ApiResult<Json<$view>> {
                let mut conn = state.pool.acquire().await?;
                Ok(Json(kind::get(&mut conn, user.id, id).await?))
            }

            /// Changes one of the caller's items; the fields left out keep their values.
            #[utoipa::path(
                patch,
                path = $item,
                operation_id = $update_id,
                tag = "capabilities",
                params(("id" = Uuid, Path, description = "The item's id.")),
                request_body = Request,
                responses(
                    (status = 200, description = "The item as it is now.", body = View),
                    (status = 403, description = "A system item (`read_only`).", body = ErrorBody),
                    (status = 404, description = "No such item (`not_found`).", body = ErrorBody),
                    (status = 409, description = "The caller has an item of this name (`name_taken`).", body = ErrorBody),
                ),
            )]
            #[tracing::instrument(skip_all, fields(user_id = %user.id))]
            pub async fn update(
                State(state): State<AppState>,
                user: CurrentUser,
                Path(id): Path<Uuid>,
                Json(req): Json<$request>,
            ) -> ApiResult<Json<$view>> {
                Ok(Json(kind::update(&state.pool, user.id, id, req).await?))
            }

            /// Deletes one of the caller's items.
            #[utoipa::path(
                delete,
                path = $item,
                operation_id = $delete_id,
                tag = "capabilities",
                params(("id" = Uuid, Path, description = "The item's id.")),
                responses(
                    (status = 204, description = "Deleted."),
                    (status = 403, description = "A system item (`read_only`).", body = ErrorBody),
                    (status = 404, description = "No such item (`not_found`).", body = ErrorBody),
                ),
            )]
            #[tracing::instrument(skip_all, fields(user_id = %user.id))]
            pub async fn remove(
                State(state): State<AppState>,
                user: CurrentUser,
                Path(id): Path<Uuid>,
            ) -> ApiResult<StatusCode> {
                kind::delete(&state.pool, user.id, id).await?;
                Ok(StatusCode::NO_CONTENT)
            }
        }
    };
}

library_kind!(
    mcp_servers,
    mcp,
    protocol::capabilities::McpServerRequest,
    protocol::capabilities::McpServerView,
    McpServerList,
    mcp_servers,
    "/api/v1/mcp-servers",
    "/api/v1/mcp-servers/{id}",
    [
        "list_mcp_servers",
        "create_mcp_server",
        "get_mcp_server",
        "update_mcp_server",
        "delete_mcp_server"
    ]
);
library_kind!(
    slash_commands,
    commands,
    protocol::capabilities::SlashCommandRequest,
    protocol::capabilities::SlashCommandView,
    SlashCommandList,
    slash_commands,
    "/api/v1/slash-commands",
    "/api/v1/slash-commands/{id}",
    [
        "list_slash_commands",
        "create_slash_command",
        "get_slash_command",
        "update_slash_command",
        "delete_slash_command"
    ]
);
library_kind!(
    subagents,
    subagents,
    protocol::capabilities::SubagentRequest,
    protocol::capabilities::SubagentView,
    SubagentList,
    subagents,
    "/api/v1/subagents",
    "/api/v1/subagents/{id}",
    [
        "list_subagents",
        "create_subagent",
        "get_subagent",
        "update_subagent",
        "delete_subagent"
    ]
);
library_kind!(
    presets,
    presets,
    protocol::capabilities::PresetRequest,
    protocol::capabilities::PresetView,
    PresetList,
    presets,
    "/api/v1/presets",
    "/api/v1/presets/{id}",
    [
        "list_presets",
        "create_preset",
        "get_preset",
        "update_preset",
        "delete_preset"
    ]
);

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(mcp_servers::routes())
        .merge(slash_commands::routes())
        .merge(subagents::routes())
        .merge(presets::routes())
}
