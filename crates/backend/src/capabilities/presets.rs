//! Presets: a named bundle of run settings (model, permission mode, a prompt template prepended
//! to the prompt of the task that names it) and the items it turns on.
//!
//! A preset's ids must name items the user can see (their own or the system's), checked when it
//! is written (404 naming the kind otherwise, so another user's id reads like a missing one).
//! Deleting an item removes its id from its owner's presets in the same transaction
//! ([`super::remove_from_presets`]). Preset names are labels, not file names: any 1 to 64
//! characters without control characters.

use chrono::{DateTime, Utc};
use protocol::PermissionMode;
use protocol::capabilities::{MAX_NAME_CHARS, PresetRequest, PresetView};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::{
    Kind, MAX_DESCRIPTION_CHARS, check_ids, check_line, check_markdown, check_model, check_room,
    check_visible, cleared, lock_for_write, name_conflict,
};
use crate::error::{ApiError, ApiResult};

const KIND: Kind = Kind::Preset;

#[derive(sqlx::FromRow)]
pub(super) struct Row {
    pub(super) id: Uuid,
    user_id: Option<Uuid>,
    pub(super) name: String,
    description: String,
    pub(super) model: Option<String>,
    permission_mode: Option<String>,
    pub(super) prompt_template: Option<String>,
    pub(super) skill_ids: Vec<Uuid>,
    pub(super) mcp_server_ids: Vec<Uuid>,
    pub(super) slash_command_ids: Vec<Uuid>,
    pub(super) subagent_ids: Vec<Uuid>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

pub(super) const COLUMNS: &str = "id, user_id, name, description, model, permission_mode, prompt_template, skill_ids, mcp_server_ids, slash_command_ids, subagent_ids, created_at, updated_at";

impl Row {
    pub(super) fn permission_mode(&self) -> ApiResult<Option<PermissionMode>> {
        self.permission_mode
            .as_deref()
            .map(|m| {
                serde_json::from_value(serde_json::Value::String(m.to_owned()))
                    .map_err(|e| ApiError::Internal(format!("stored permission mode: {e}")))
            })
            .transpose()
    }

    fn into_view(self) -> ApiResult<PresetView> {
        Ok(PresetView {
            permission_mode: self.permission_mode()?,
            id: self.id,
            name: self.name,
            description: self.description,
            model: self.model,
            prompt_template: self.prompt_template,
            skill_ids: self.skill_ids,
            mcp_server_ids: self.mcp_server_ids,
            slash_command_ids: self.slash_command_ids,
            subagent_ids: self.subagent_ids,
            system: self.user_id.is_none(),
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

/// A preset's name: a label of 1 to [`MAX_NAME_CHARS`] characters.
fn check_preset_name(name: &str) -> ApiResult<()> {
    if name.trim().is_empty() || name.trim() != name {
        return Err(ApiError::validation(
            "a preset name must not be empty or start or end with spaces",
        ));
    }
    check_line("name", name, MAX_NAME_CHARS)
}

/// Checks every field the request sets, and that its ids name items the user can see.
async fn check(conn: &mut PgConnection, user: Uuid, req: &PresetRequest) -> ApiResult<()> {
    if let Some(name) = &req.name {
        check_preset_name(name)?;
    }
    if let Some(d) = &req.description {
        check_line("description", d, MAX_DESCRIPTION_CHARS)?;
    }
    if let Some(m) = req.model.as_deref().filter(|m| !m.is_empty()) {
        check_model(m)?;
    }
    if let Some(t) = &req.prompt_template {
        check_markdown("prompt_template", t)?;
    }
    let lists = [
        (Kind::Skill, &req.skill_ids),
        (Kind::McpServer, &req.mcp_server_ids),
        (Kind::SlashCommand, &req.slash_command_ids),
        (Kind::Subagent, &req.subagent_ids),
    ];
    for (kind, ids) in &lists {
        if let Some(ids) = ids {
            check_ids(*kind, ids)?;
        }
    }
    for (kind, ids) in lists {
        if let Some(ids) = ids {
            check_visible(conn, kind, user, ids).await?;
        }
    }
    Ok(())
}

/// The user's presets and the system's, by name.
pub async fn list(pool: &PgPool, user: Uuid) -> ApiResult<Vec<PresetView>> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM presets WHERE user_id = $1 OR user_id IS NULL
          ORDER BY name, user_id NULLS LAST"
    ));
    let rows: Vec<Row> = sqlx::query_as(sql).bind(user).fetch_all(pool).await?;
    rows.into_iter().map(Row::into_view).collect()
}

/// One preset row the user can see, or 404.
pub(super) async fn row(conn: &mut PgConnection, user: Uuid, id: Uuid) -> ApiResult<Row> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM presets WHERE id = $1 AND (user_id = $2 OR user_id IS NULL)"
    ));
    let row: Option<Row> = sqlx::query_as(sql)
        .bind(id)
        .bind(user)
        .fetch_optional(&mut *conn)
        .await?;
    row.ok_or_else(|| KIND.not_found())
}

/// One preset the user can see, or 404.
pub async fn get(conn: &mut PgConnection, user: Uuid, id: Uuid) -> ApiResult<PresetView> {
    row(conn, user, id).await?.into_view()
}

/// `POST /presets`: `name` required.
pub async fn create(pool: &PgPool, user: Uuid, req: PresetRequest) -> ApiResult<PresetView> {
    let name = req
        .name
        .clone()
        .ok_or_else(|| ApiError::validation("`name` is required"))?;
    let mut tx = pool.begin().await?;
    check(&mut tx, user, &req).await?;
    check_room(&mut tx, KIND, user).await?;
    let id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO presets (id, user_id, name, description, model, permission_mode,
                              prompt_template, skill_ids, mcp_server_ids, slash_command_ids,
                              subagent_ids)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(id)
    .bind(user)
    .bind(&name)
    .bind(req.description.unwrap_or_default())
    .bind(cleared(req.model).flatten())
    .bind(req.permission_mode.map(PermissionMode::as_cli_flag))
    .bind(cleared(req.prompt_template).flatten())
    .bind(req.skill_ids.unwrap_or_default())
    .bind(req.mcp_server_ids.unwrap_or_default())
    .bind(req.slash_command_ids.unwrap_or_default())
    .bind(req.subagent_ids.unwrap_or_default())
    .execute(&mut *tx)
    .await
    .map_err(name_conflict(KIND, &name))?;
    let view = get(&mut tx, user, id).await?;
    tx.commit().await?;
    Ok(view)
}

/// `PATCH /presets/{id}`: any of the fields; `""` clears `model` and `prompt_template`; a list
/// replaces that kind's ids.
pub async fn update(
    pool: &PgPool,
    user: Uuid,
    id: Uuid,
    req: PresetRequest,
) -> ApiResult<PresetView> {
    let mut tx = pool.begin().await?;
    lock_for_write(&mut tx, KIND, user, id).await?;
    check(&mut tx, user, &req).await?;
    let model = cleared(req.model);
    let template = cleared(req.prompt_template);
    sqlx::query(
        "UPDATE presets
            SET name = coalesce($2, name),
                description = coalesce($3, description),
                model = CASE WHEN $4 THEN $5 ELSE model END,
                permission_mode = coalesce($6, permission_mode),
                prompt_template = CASE WHEN $7 THEN $8 ELSE prompt_template END,
                skill_ids = coalesce($9, skill_ids),
                mcp_server_ids = coalesce($10, mcp_server_ids),
                slash_command_ids = coalesce($11, slash_command_ids),
                subagent_ids = coalesce($12, subagent_ids),
                updated_at = now()
          WHERE id = $1",
    )
    .bind(id)
    .bind(&req.name)
    .bind(&req.description)
    .bind(model.is_some())
    .bind(model.flatten())
    .bind(req.permission_mode.map(PermissionMode::as_cli_flag))
    .bind(template.is_some())
    .bind(template.flatten())
    .bind(&req.skill_ids)
    .bind(&req.mcp_server_ids)
    .bind(&req.slash_command_ids)
    .bind(&req.subagent_ids)
    .execute(&mut *tx)
    .await
    .map_err(name_conflict(KIND, req.name.as_deref().unwrap_or_default()))?;
    let view = get(&mut tx, user, id).await?;
    tx.commit().await?;
    Ok(view)
}

/// `DELETE /presets/{id}`.
pub async fn delete(pool: &PgPool, user: Uuid, id: Uuid) -> ApiResult<()> {
    let mut tx = pool.begin().await?;
    lock_for_write(&mut tx, KIND, user, id).await?;
    sqlx::query("DELETE FROM presets WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}
