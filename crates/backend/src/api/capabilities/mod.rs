//! The capabilities library under `/api/v1` (`crate::capabilities` does the work): skills,
//! MCP servers, slash commands, subagents, presets, instructions, and
//! `POST /capabilities/resolve`, what a task with a given choice would get.
//!
//! | route | answers |
//! |---|---|
//! | `POST /skills` (multipart `file`: zip or tar.gz) | 201 `SkillDetail`; 413, 422 `invalid_archive`, 409 `name_taken` |
//! | `GET /skills` | 200 `SkillList` |
//! | `GET /skills/{id}` | 200 `SkillDetail` |
//! | `GET /skills/{id}/download` | 200 `application/zip` (the files under a folder named for the skill) |
//! | `PATCH /skills/{id}` `EnabledUpdate` | 200 `SkillView` |
//! | `PUT /skills/{id}` (multipart `file`) | 200 `SkillDetail` (a new version; its `SKILL.md` may rename it) |
//! | `DELETE /skills/{id}` | 204 |
//! | `POST /mcp-servers`, `/slash-commands`, `/subagents`, `/presets` | 201 view |
//! | `GET` of each | 200 list |
//! | `GET`, `PATCH`, `DELETE` `…/{id}` | 200 view, 200 view, 204 |
//! | `GET /instructions`, `PUT /instructions` | 200 `InstructionsView` |
//! | `POST /capabilities/resolve` `CapabilityChoice` | 200 `CapabilitySummary` |
//!
//! Another user's id answers 404 (`not_found`), like a missing one; a write to a system item
//! answers 403 `read_only`; bad fields 422 `validation_error`.

mod library;
mod skills;

use axum::extract::State;
use protocol::ErrorBody;
use protocol::capabilities::{
    CapabilityChoice, CapabilitySummary, InstructionsRequest, InstructionsView,
};

use crate::auth::CurrentUser;
use crate::error::ApiResult;
use crate::extract::Json;
use crate::state::AppState;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use skills::{body_limit as skill_upload_body_limit, upload_routes as skill_upload_routes};

/// Every route but the skill uploads (which have their own body limit, see
/// [`skill_upload_routes`]).
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(skills::routes())
        .merge(library::routes())
        .routes(routes!(get_instructions, put_instructions))
        .routes(routes!(resolve))
}

/// The caller's instructions (their `CLAUDE.md`) and the system's.
#[utoipa::path(
    get,
    path = "/api/v1/instructions",
    operation_id = "get_instructions",
    tag = "capabilities",
    responses((status = 200, description = "The instructions.", body = InstructionsView)),
)]
async fn get_instructions(
    State(state): State<AppState>,
    user: CurrentUser,
) -> ApiResult<Json<InstructionsView>> {
    let mut conn = state.pool.acquire().await?;
    Ok(Json(
        crate::capabilities::instructions::get(&mut conn, user.id).await?,
    ))
}

/// Replaces the caller's instructions (empty clears them).
#[utoipa::path(
    put,
    path = "/api/v1/instructions",
    operation_id = "put_instructions",
    tag = "capabilities",
    request_body = InstructionsRequest,
    responses((status = 200, description = "The instructions as they are now.", body = InstructionsView)),
)]
#[tracing::instrument(skip_all, fields(user_id = %user.id))]
async fn put_instructions(
    State(state): State<AppState>,
    user: CurrentUser,
    Json(req): Json<InstructionsRequest>,
) -> ApiResult<Json<InstructionsView>> {
    Ok(Json(
        crate::capabilities::instructions::put(&state.pool, user.id, &req.text).await?,
    ))
}

/// What a new task with this choice would get (nothing is queued or changed).
#[utoipa::path(
    post,
    path = "/api/v1/capabilities/resolve",
    operation_id = "resolve_capabilities",
    tag = "capabilities",
    request_body = CapabilityChoice,
    responses(
        (status = 200, description = "What the run would get.", body = CapabilitySummary),
        (status = 404, description = "A named item is not the caller's or the system's (`not_found`).", body = ErrorBody),
    ),
)]
#[tracing::instrument(skip_all, fields(user_id = %user.id))]
async fn resolve(
    State(state): State<AppState>,
    user: CurrentUser,
    Json(choice): Json<CapabilityChoice>,
) -> ApiResult<Json<CapabilitySummary>> {
    crate::capabilities::check_choice(&choice)?;
    let mut tx = state.pool.begin().await?;
    let snapshot = crate::capabilities::snapshot::resolve(&mut tx, user.id, &choice).await?;
    tx.rollback().await?;
    Ok(Json(snapshot.summary))
}
