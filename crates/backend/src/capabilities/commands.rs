//! Slash commands: the CLI's `commands/{name}.md` (front matter `description`, `argument-hint`,
//! `allowed-tools`, `model`; a Markdown body that may use `$ARGUMENTS`, `$1`, …). A prompt that
//! starts with `/{name}` runs it. Rendered into a file by [`super::render::command`].

use chrono::{DateTime, Utc};
use protocol::capabilities::{SlashCommandRequest, SlashCommandView};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::{
    Kind, MAX_DESCRIPTION_CHARS, MAX_HINT_CHARS, check_line, check_markdown, check_model,
    check_name, check_room, check_tools, cleared, lock_for_write, name_conflict,
    remove_from_presets,
};
use crate::error::{ApiError, ApiResult};

const KIND: Kind = Kind::SlashCommand;

#[derive(sqlx::FromRow)]
pub(super) struct Row {
    id: Uuid,
    user_id: Option<Uuid>,
    name: String,
    description: String,
    argument_hint: Option<String>,
    allowed_tools: Vec<String>,
    model: Option<String>,
    body: String,
    enabled: bool,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

pub(super) const COLUMNS: &str = "id, user_id, name, description, argument_hint, allowed_tools, model, body, enabled, created_at, updated_at";

impl Row {
    pub(super) fn name(&self) -> &str {
        &self.name
    }
}

impl From<Row> for SlashCommandView {
    fn from(r: Row) -> Self {
        SlashCommandView {
            id: r.id,
            name: r.name,
            description: r.description,
            argument_hint: r.argument_hint,
            allowed_tools: r.allowed_tools,
            model: r.model,
            body: r.body,
            enabled: r.enabled,
            system: r.user_id.is_none(),
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// Checks every field the request sets.
fn check(req: &SlashCommandRequest) -> ApiResult<()> {
    if let Some(name) = &req.name {
        check_name(KIND, name)?;
    }
    if let Some(d) = &req.description {
        check_line("description", d, MAX_DESCRIPTION_CHARS)?;
    }
    if let Some(h) = &req.argument_hint {
        check_line("argument_hint", h, MAX_HINT_CHARS)?;
    }
    if let Some(tools) = &req.allowed_tools {
        check_tools("allowed_tools", tools)?;
    }
    if let Some(m) = req.model.as_deref().filter(|m| !m.is_empty()) {
        check_model(m)?;
    }
    if let Some(body) = &req.body {
        if body.trim().is_empty() {
            return Err(ApiError::validation("`body` must not be empty"));
        }
        check_markdown("body", body)?;
    }
    Ok(())
}

/// The user's commands and the system's, by name.
pub async fn list(pool: &PgPool, user: Uuid) -> ApiResult<Vec<SlashCommandView>> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM slash_commands WHERE user_id = $1 OR user_id IS NULL
          ORDER BY name, user_id NULLS LAST"
    ));
    let rows: Vec<Row> = sqlx::query_as(sql).bind(user).fetch_all(pool).await?;
    Ok(rows.into_iter().map(Into::into).collect())
}

/// One command the user can see, or 404.
pub async fn get(conn: &mut PgConnection, user: Uuid, id: Uuid) -> ApiResult<SlashCommandView> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM slash_commands WHERE id = $1 AND (user_id = $2 OR user_id IS NULL)"
    ));
    let row: Option<Row> = sqlx::query_as(sql)
        .bind(id)
        .bind(user)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(row.ok_or_else(|| KIND.not_found())?.into())
}

/// `POST /slash-commands`: `name` and `body` required.
pub async fn create(
    pool: &PgPool,
    user: Uuid,
    req: SlashCommandRequest,
) -> ApiResult<SlashCommandView> {
    check(&req)?;
    let name = req
        .name
        .ok_or_else(|| ApiError::validation("`name` is required"))?;
    let body = req
        .body
        .ok_or_else(|| ApiError::validation("`body` is required"))?;
    let mut tx = pool.begin().await?;
    check_room(&mut tx, KIND, user).await?;
    let id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO slash_commands
             (id, user_id, name, description, argument_hint, allowed_tools, model, body, enabled)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(id)
    .bind(user)
    .bind(&name)
    .bind(req.description.unwrap_or_default())
    .bind(cleared(req.argument_hint).flatten())
    .bind(req.allowed_tools.unwrap_or_default())
    .bind(cleared(req.model).flatten())
    .bind(&body)
    .bind(req.enabled.unwrap_or(true))
    .execute(&mut *tx)
    .await
    .map_err(name_conflict(KIND, &name))?;
    let view = get(&mut tx, user, id).await?;
    tx.commit().await?;
    Ok(view)
}

/// `PATCH /slash-commands/{id}`: any of the fields; `""` clears `argument_hint` and `model`.
pub async fn update(
    pool: &PgPool,
    user: Uuid,
    id: Uuid,
    req: SlashCommandRequest,
) -> ApiResult<SlashCommandView> {
    check(&req)?;
    let mut tx = pool.begin().await?;
    lock_for_write(&mut tx, KIND, user, id).await?;
    let hint = cleared(req.argument_hint);
    let model = cleared(req.model);
    sqlx::query(
        "UPDATE slash_commands
            SET name = coalesce($2, name),
                description = coalesce($3, description),
                argument_hint = CASE WHEN $4 THEN $5 ELSE argument_hint END,
                allowed_tools = coalesce($6, allowed_tools),
                model = CASE WHEN $7 THEN $8 ELSE model END,
                body = coalesce($9, body),
                enabled = coalesce($10, enabled),
                updated_at = now()
          WHERE id = $1",
    )
    .bind(id)
    .bind(&req.name)
    .bind(&req.description)
    .bind(hint.is_some())
    .bind(hint.flatten())
    .bind(&req.allowed_tools)
    .bind(model.is_some())
    .bind(model.flatten())
    .bind(&req.body)
    .bind(req.enabled)
    .execute(&mut *tx)
    .await
    .map_err(name_conflict(KIND, req.name.as_deref().unwrap_or_default()))?;
    let view = get(&mut tx, user, id).await?;
    tx.commit().await?;
    Ok(view)
}

/// `DELETE /slash-commands/{id}`, and its id out of the user's presets.
pub async fn delete(pool: &PgPool, user: Uuid, id: Uuid) -> ApiResult<()> {
    let mut tx = pool.begin().await?;
    lock_for_write(&mut tx, KIND, user, id).await?;
    sqlx::query("DELETE FROM slash_commands WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    remove_from_presets(&mut tx, KIND, user, id).await?;
    tx.commit().await?;
    Ok(())
}
