//! Agent capabilities: each user's library (skills, MCP servers, slash commands, subagents,
//! instructions, presets), and the snapshot of it a run is queued with ([`snapshot`]).
//!
//! One module per concept; the SQL of each kind lives in its module, the HTTP handlers in
//! `api/capabilities/` only call them. What they share is here: the limits, the owner checks and
//! the checks of names and texts.
//!
//! # Owners
//! A library row has a `user_id`, or none: a **system** item, visible to every user and editable
//! by none through the API (a write answers `403 read_only`). Another user's item answers 404,
//! exactly like a missing one, for reads and writes alike. Names are unique per owner (`409
//! name_taken`); a user's item may share a system item's name and then shadows it when a run's
//! defaults are resolved (both would stage into the same file).

pub mod archive;
pub mod commands;
pub mod front_matter;
pub mod instructions;
pub mod mcp;
pub mod presets;
pub mod render;
pub mod skills;
pub mod snapshot;
pub mod subagents;

use protocol::ErrorCode;
use protocol::capabilities::{MAX_NAME_CHARS, valid_name};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};

/// The most items of one kind a user may keep (the library is a list a person curates; this
/// bounds every list, preset and snapshot).
pub const MAX_ITEMS_PER_KIND: i64 = 200;
/// The most ids a preset or a task may list per kind.
pub const MAX_IDS: usize = MAX_ITEMS_PER_KIND as usize;
/// The longest Markdown text (a command's body, a subagent's system prompt, instructions, a
/// preset's prompt template), in characters.
pub const MAX_MARKDOWN_CHARS: usize = 100_000;
/// The longest description, in characters (the CLI shows it to the model to pick a skill, a
/// command or a subagent).
pub const MAX_DESCRIPTION_CHARS: usize = 1024;
/// The longest argument hint, in characters.
pub const MAX_HINT_CHARS: usize = 200;
/// The most tool names a command or subagent may list, and the longest one, in characters.
pub const MAX_TOOLS: usize = 100;
pub const MAX_TOOL_CHARS: usize = 200;

/// A kind of library item that has rows of its own (instructions are one text per user and are
/// not listed here).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Skill,
    McpServer,
    SlashCommand,
    Subagent,
    Preset,
}

impl Kind {
    /// Its table.
    pub const fn table(self) -> &'static str {
        match self {
            Kind::Skill => "skills",
            Kind::McpServer => "mcp_servers",
            Kind::SlashCommand => "slash_commands",
            Kind::Subagent => "subagents",
            Kind::Preset => "presets",
        }
    }

    /// What a 404 calls it.
    pub const fn noun(self) -> &'static str {
        match self {
            Kind::Skill => "skill",
            Kind::McpServer => "MCP server",
            Kind::SlashCommand => "slash command",
            Kind::Subagent => "subagent",
            Kind::Preset => "preset",
        }
    }

    /// What a message about many of them calls them.
    pub const fn plural(self) -> &'static str {
        match self {
            Kind::Skill => "skills",
            Kind::McpServer => "MCP servers",
            Kind::SlashCommand => "slash commands",
            Kind::Subagent => "subagents",
            Kind::Preset => "presets",
        }
    }

    /// The `presets` column that lists items of this kind (`None` for presets themselves).
    pub const fn preset_column(self) -> Option<&'static str> {
        match self {
            Kind::Skill => Some("skill_ids"),
            Kind::McpServer => Some("mcp_server_ids"),
            Kind::SlashCommand => Some("slash_command_ids"),
            Kind::Subagent => Some("subagent_ids"),
            Kind::Preset => None,
        }
    }

    pub fn not_found(self) -> ApiError {
        ApiError::NotFound(self.noun())
    }
}

/// Locks an item the caller may change, for the rest of the caller's transaction: 404 when it
/// is missing or another user's, 403 `read_only` when it is a system item.
pub async fn lock_for_write(
    conn: &mut PgConnection,
    kind: Kind,
    user: Uuid,
    id: Uuid,
) -> ApiResult<()> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT user_id FROM {} WHERE id = $1 AND (user_id = $2 OR user_id IS NULL) FOR UPDATE",
        kind.table()
    ));
    let owner: Option<Option<Uuid>> = sqlx::query_scalar(sql)
        .bind(id)
        .bind(user)
        .fetch_optional(&mut *conn)
        .await?;
    match owner {
        None => Err(kind.not_found()),
        Some(None) => Err(read_only(kind)),
        Some(Some(_)) => Ok(()),
    }
}

/// The answer to a write of a system item.
pub fn read_only(kind: Kind) -> ApiError {
    ApiError::Forbidden {
        code: ErrorCode::ReadOnly,
        message: format!(
            "this {} belongs to the system: every user sees it, nobody edits it here",
            kind.noun()
        ),
    }
}

/// Refuses a new item when the user already keeps [`MAX_ITEMS_PER_KIND`] of its kind.
pub async fn check_room(conn: &mut PgConnection, kind: Kind, user: Uuid) -> ApiResult<()> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT count(*) FROM {} WHERE user_id = $1",
        kind.table()
    ));
    let n: i64 = sqlx::query_scalar(sql)
        .bind(user)
        .fetch_one(&mut *conn)
        .await?;
    if n >= MAX_ITEMS_PER_KIND {
        return Err(ApiError::validation(format!(
            "you keep {MAX_ITEMS_PER_KIND} {} already; delete one first",
            kind.plural()
        )));
    }
    Ok(())
}

/// `409 name_taken`: the owner has an item of this kind and name already.
pub fn name_taken(kind: Kind, name: &str) -> ApiError {
    ApiError::conflict(
        ErrorCode::NameTaken,
        format!("you have a {} named `{name}` already", kind.noun()),
    )
}

/// A unique-index violation on an insert or rename is a name the owner already uses.
pub fn name_conflict(kind: Kind, name: &str) -> impl FnOnce(sqlx::Error) -> ApiError {
    move |e| match &e {
        sqlx::Error::Database(db) if db.code().as_deref() == Some("23505") => {
            name_taken(kind, name)
        }
        _ => e.into(),
    }
}

/// Removes `id` from every preset of `user`, in the caller's transaction (the item is being
/// deleted; only its owner's presets can name it, since nobody else sees it).
pub async fn remove_from_presets(
    conn: &mut PgConnection,
    kind: Kind,
    user: Uuid,
    id: Uuid,
) -> ApiResult<()> {
    let Some(column) = kind.preset_column() else {
        return Ok(());
    };
    let sql = sqlx::AssertSqlSafe(format!(
        "UPDATE presets SET {column} = array_remove({column}, $1), updated_at = now()
          WHERE user_id = $2 AND $1 = ANY({column})"
    ));
    sqlx::query(sql)
        .bind(id)
        .bind(user)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// A library item name (skills, MCP servers, commands, subagents): plain, because it becomes a
/// file or folder name in the CLI's configuration directory.
pub fn check_name(kind: Kind, name: &str) -> ApiResult<()> {
    if valid_name(name) {
        Ok(())
    } else {
        Err(ApiError::validation(format!(
            "a {} name is 1 to {MAX_NAME_CHARS} letters, digits, `-`, `_` and `.`, starting with a letter or digit (got `{}`)",
            kind.noun(),
            shorten(name)
        )))
    }
}

/// A single-line text field of at most `max` characters (no control characters).
pub fn check_line(field: &str, value: &str, max: usize) -> ApiResult<()> {
    if value.chars().count() > max {
        return Err(ApiError::validation(format!(
            "{field} must be at most {max} characters"
        )));
    }
    if value.chars().any(char::is_control) {
        return Err(ApiError::validation(format!(
            "{field} must be one line without control characters"
        )));
    }
    Ok(())
}

/// A Markdown text of at most [`MAX_MARKDOWN_CHARS`] (newlines and tabs allowed, other control
/// characters not).
pub fn check_markdown(field: &str, value: &str) -> ApiResult<()> {
    if value.chars().count() > MAX_MARKDOWN_CHARS {
        return Err(ApiError::validation(format!(
            "{field} must be at most {MAX_MARKDOWN_CHARS} characters"
        )));
    }
    if value
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(ApiError::validation(format!(
            "{field} must not contain control characters other than newlines and tabs"
        )));
    }
    Ok(())
}

/// A list of tool names (`Read`, `Bash(git add:*)`, `mcp__server__tool`).
pub fn check_tools(field: &str, tools: &[String]) -> ApiResult<()> {
    if tools.len() > MAX_TOOLS {
        return Err(ApiError::validation(format!(
            "{field} lists at most {MAX_TOOLS} tools"
        )));
    }
    for tool in tools {
        if tool.trim().is_empty() {
            return Err(ApiError::validation(format!(
                "{field} must not hold an empty name"
            )));
        }
        check_line(field, tool, MAX_TOOL_CHARS)?;
    }
    Ok(())
}

/// A model name as tasks take it.
pub fn check_model(model: &str) -> ApiResult<()> {
    match crate::tasks::model_problem(model) {
        Some(problem) => Err(ApiError::validation(problem)),
        None => Ok(()),
    }
}

/// An id list of a preset or a task: at most [`MAX_IDS`], without repeats.
pub fn check_ids(kind: Kind, ids: &[Uuid]) -> ApiResult<()> {
    if ids.len() > MAX_IDS {
        return Err(ApiError::validation(format!(
            "at most {MAX_IDS} {} may be named",
            kind.plural()
        )));
    }
    let mut seen = std::collections::HashSet::new();
    if let Some(dup) = ids.iter().find(|id| !seen.insert(**id)) {
        return Err(ApiError::validation(format!(
            "{} {dup} is listed twice",
            kind.noun()
        )));
    }
    Ok(())
}

/// Checks a task's choice before any database work: each list at most [`MAX_IDS`], no repeats.
pub fn check_choice(choice: &protocol::capabilities::CapabilityChoice) -> ApiResult<()> {
    for (kind, ids) in [
        (Kind::Skill, &choice.skill_ids),
        (Kind::McpServer, &choice.mcp_server_ids),
        (Kind::SlashCommand, &choice.slash_command_ids),
        (Kind::Subagent, &choice.subagent_ids),
    ] {
        if let Some(ids) = ids {
            check_ids(kind, ids)?;
        }
    }
    Ok(())
}

/// Checks that every id names an item of `kind` that `user` can see (theirs or the system's),
/// else 404 naming the kind: another user's id reads exactly like a missing one.
pub async fn check_visible(
    conn: &mut PgConnection,
    kind: Kind,
    user: Uuid,
    ids: &[Uuid],
) -> ApiResult<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT count(*) FROM {} WHERE id = ANY($1) AND (user_id = $2 OR user_id IS NULL)",
        kind.table()
    ));
    let found: i64 = sqlx::query_scalar(sql)
        .bind(ids)
        .bind(user)
        .fetch_one(&mut *conn)
        .await?;
    if usize::try_from(found).ok() != Some(ids.len()) {
        return Err(kind.not_found());
    }
    Ok(())
}

/// `Some("")` clears an optional text; anything else is kept.
pub fn cleared(value: Option<String>) -> Option<Option<String>> {
    value.map(|v| if v.is_empty() { None } else { Some(v) })
}

/// At most 40 characters of `s`, for messages.
fn shorten(s: &str) -> String {
    let mut out: String = s.chars().take(40).collect();
    if s.chars().count() > 40 {
        out.push('…');
    }
    out.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}
