//! Subagents: the CLI's `agents/{name}.md` (front matter `name`, `description`, `tools`,
//! `model`; the body is the subagent's system prompt). The agent calls one through the `Task`
//! tool. Rendered into a file by [`super::render::subagent`].

use chrono::{DateTime, Utc};
use protocol::capabilities::{SubagentRequest, SubagentView};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::{
    Kind, MAX_DESCRIPTION_CHARS, check_line, check_markdown, check_model, check_name, check_room,
    check_tools, cleared, lock_for_write, name_conflict, remove_from_presets,
};
use crate::error::{ApiError, ApiResult};

const KIND: Kind = Kind::Subagent;

#[derive(sqlx::FromRow)]
pub(super) struct Row {
    id: Uuid,
    user_id: Option<Uuid>,
    name: String,
    description: String,
    tools: Vec<String>,
    model: Option<String>,
    system_prompt: String,
    enabled: bool,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

pub(super) const COLUMNS: &str =
    "id, user_id, name, description, tools, model, system_prompt, enabled, created_at, updated_at";

impl Row {
    pub(super) fn name(&self) -> &str {
        &self.name
    }
}

impl From<Row> for SubagentView {
    fn from(r: Row) -> Self {
        SubagentView {
            id: r.id,
            name: r.name,
            description: r.description,
            tools: r.tools,
            model: r.model,
            system_prompt: r.system_prompt,
            enabled: r.enabled,
            system: r.user_id.is_none(),
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// Checks every field the request sets.
fn check(req: &SubagentRequest) -> ApiResult<()> {
    if let Some(name) = &req.name {
        check_name(KIND, name)?;
    }
    if let Some(d) = &req.description {
        if d.trim().is_empty() {
            return Err(ApiError::validation(
                "`description` must not be empty: the agent picks a subagent by it",
            ));
        }
        check_line("description", d, MAX_DESCRIPTION_CHARS)?;
    }
    if let Some(tools) = &req.tools {
        check_tools("tools", tools)?;
    }
    if let Some(m) = req.model.as_deref().filter(|m| !m.is_empty()) {
        check_model(m)?;
    }
    if let Some(p) = &req.system_prompt {
        if p.trim().is_empty() {
            return Err(ApiError::validation("`system_prompt` must not be empty"));
        }
        check_markdown("system_prompt", p)?;
    }
    Ok(())
}

/// The user's subagents and the system's, by name.
pub async fn list(pool: &PgPool, user: Uuid) -> ApiResult<Vec<SubagentView>> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM subagents WHERE user_id = $1 OR user_id IS NULL
          ORDER BY name, user_id NULLS LAST"
    ));
    let rows: Vec<Row> = sqlx::query_as(sql).bind(user).fetch_all(pool).await?;
    Ok(rows.into_iter().map(Into::into).collect())
}

/// One subagent the user can see, or 404.
pub async fn get(conn: &mut PgConnection, user: Uuid, id: Uuid) -> ApiResult<SubagentView> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM subagents WHERE id = $1 AND (user_id = $2 OR user_id IS NULL)"
    ));
    let row: Option<Row> = sqlx::query_as(sql)
        .bind(id)
        .bind(user)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(row.ok_or_else(|| KIND.not_found())?.into())
}

/// `POST /subagents`: `name`, `description` and `system_prompt` required.
pub async fn create(pool: &PgPool, user: Uuid, req: SubagentRequest) -> ApiResult<SubagentView> {
    check(&req)?;
    let required = |field: &str| ApiError::validation(format!("`{field}` is required"));
    let name = req.name.ok_or_else(|| required("name"))?;
    let description = req.description.ok_or_else(|| required("description"))?;
    let system_prompt = req.system_prompt.ok_or_else(|| required("system_prompt"))?;
    let mut tx = pool.begin().await?;
    check_room(&mut tx, KIND, user).await?;
    let id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO subagents (id, user_id, name, description, tools, model, system_prompt, enabled)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(id)
    .bind(user)
    .bind(&name)
    .bind(&description)
    .bind(req.tools.unwrap_or_default())
    .bind(cleared(req.model).flatten())
    .bind(&system_prompt)
    .bind(req.enabled.unwrap_or(true))
    .execute(&mut *tx)
    .await
    .map_err(name_conflict(KIND, &name))?;
    let view = get(&mut tx, user, id).await?;
    tx.commit().await?;
    Ok(view)
}

/// `PATCH /subagents/{id}`: any of the fields; `""` clears `model`.
pub async fn update(
    pool: &PgPool,
    user: Uuid,
    id: Uuid,
    req: SubagentRequest,
) -> ApiResult<SubagentView> {
    check(&req)?;
    let mut tx = pool.begin().await?;
    lock_for_write(&mut tx, KIND, user, id).await?;
    let model = cleared(req.model);
    sqlx::query(
        "UPDATE subagents
            SET name = coalesce($2, name),
                description = coalesce($3, description),
                tools = coalesce($4, tools),
                model = CASE WHEN $5 THEN $6 ELSE model END,
                system_prompt = coalesce($7, system_prompt),
                enabled = coalesce($8, enabled),
                updated_at = now()
          WHERE id = $1",
    )
    .bind(id)
    .bind(&req.name)
    .bind(&req.description)
    .bind(&req.tools)
    .bind(model.is_some())
    .bind(model.flatten())
    .bind(&req.system_prompt)
    .bind(req.enabled)
    .execute(&mut *tx)
    .await
    .map_err(name_conflict(KIND, req.name.as_deref().unwrap_or_default()))?;
    let view = get(&mut tx, user, id).await?;
    tx.commit().await?;
    Ok(view)
}

/// `DELETE /subagents/{id}`, and its id out of the user's presets.
pub async fn delete(pool: &PgPool, user: Uuid, id: Uuid) -> ApiResult<()> {
    let mut tx = pool.begin().await?;
    lock_for_write(&mut tx, KIND, user, id).await?;
    sqlx::query("DELETE FROM subagents WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    remove_from_presets(&mut tx, KIND, user, id).await?;
    tx.commit().await?;
    Ok(())
}
