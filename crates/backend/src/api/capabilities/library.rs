//! `/mcp-servers`, `/slash-commands`, `/subagents`, `/presets`: the same five routes for each
//! kind — `POST` (201), `GET` list, `GET`/`PATCH`/`DELETE` `…/{id}` (200, 200, 204) — calling
//! the kind's module in `crate::capabilities`.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use uuid::Uuid;

use crate::auth::CurrentUser;
use crate::error::ApiResult;
use crate::extract::{Json, Path};
use crate::state::AppState;

/// The handlers of one kind: `$module` is its module in `crate::capabilities`, `$list` its list
/// type with the field `$field`.
macro_rules! library_kind {
    ($name:ident, $module:ident, $request:ty, $view:ty, $list:ident, $field:ident) => {
        mod $name {
            use super::*;
            use crate::capabilities::$module as kind;
            use protocol::capabilities::$list;

            #[tracing::instrument(skip_all, fields(user_id = %user.id))]
            pub async fn create(
                State(state): State<AppState>,
                user: CurrentUser,
                Json(req): Json<$request>,
            ) -> ApiResult<(StatusCode, Json<$view>)> {
                let view = kind::create(&state.pool, user.id, req).await?;
                Ok((StatusCode::CREATED, Json(view)))
            }

            pub async fn list(
                State(state): State<AppState>,
                user: CurrentUser,
            ) -> ApiResult<Json<$list>> {
                Ok(Json($list {
                    $field: kind::list(&state.pool, user.id).await?,
                }))
            }

            pub async fn view(
                State(state): State<AppState>,
                user: CurrentUser,
                Path(id): Path<Uuid>,
            ) -> ApiResult<Json<$view>> {
                let mut conn = state.pool.acquire().await?;
                Ok(Json(kind::get(&mut conn, user.id, id).await?))
            }

            #[tracing::instrument(skip_all, fields(user_id = %user.id))]
            pub async fn update(
                State(state): State<AppState>,
                user: CurrentUser,
                Path(id): Path<Uuid>,
                Json(req): Json<$request>,
            ) -> ApiResult<Json<$view>> {
                Ok(Json(kind::update(&state.pool, user.id, id, req).await?))
            }

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
    mcp_servers
);
library_kind!(
    slash_commands,
    commands,
    protocol::capabilities::SlashCommandRequest,
    protocol::capabilities::SlashCommandView,
    SlashCommandList,
    slash_commands
);
library_kind!(
    subagents,
    subagents,
    protocol::capabilities::SubagentRequest,
    protocol::capabilities::SubagentView,
    SubagentList,
    subagents
);
library_kind!(
    presets,
    presets,
    protocol::capabilities::PresetRequest,
    protocol::capabilities::PresetView,
    PresetList,
    presets
);

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/mcp-servers",
            get(mcp_servers::list).post(mcp_servers::create),
        )
        .route(
            "/mcp-servers/{id}",
            get(mcp_servers::view)
                .patch(mcp_servers::update)
                .delete(mcp_servers::remove),
        )
        .route(
            "/slash-commands",
            get(slash_commands::list).post(slash_commands::create),
        )
        .route(
            "/slash-commands/{id}",
            get(slash_commands::view)
                .patch(slash_commands::update)
                .delete(slash_commands::remove),
        )
        .route("/subagents", get(subagents::list).post(subagents::create))
        .route(
            "/subagents/{id}",
            get(subagents::view)
                .patch(subagents::update)
                .delete(subagents::remove),
        )
        .route("/presets", get(presets::list).post(presets::create))
        .route(
            "/presets/{id}",
            get(presets::view)
                .patch(presets::update)
                .delete(presets::remove),
        )
}
