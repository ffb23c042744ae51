//! MCP servers: a name and a config in the shape the Claude Code CLI's `--mcp-config` accepts
//! under `mcpServers.{name}`, checked here so a run never stages one the CLI would reject.
//!
//! Accepted, and nothing else:
//! - stdio: `{"type"?: "stdio", "command": non-empty string, "args"?: [string], "env"?: {string: string}}`;
//! - remote: `{"type": "http" | "sse", "url": http(s) URL, "headers"?: {string: string}}`.
//!
//! A string may name the user's secrets as `${NAME}` (`protocol::secrets`): a task whose snapshot
//! names a secret neither the user nor the system has is refused at submit (422
//! `unknown_secret`), and the manager substitutes the values into the run's `--mcp-config`
//! document, so the CLI never expands anything from the executor's environment. Any other `${`
//! (`${lower}`, `${A:-b}`, an unclosed one) is refused here.

use chrono::{DateTime, Utc};
use protocol::capabilities::{McpServerRequest, McpServerView};
use serde_json::{Map, Value};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::{Kind, check_name, check_room, lock_for_write, name_conflict, remove_from_presets};
use crate::error::{ApiError, ApiResult};

const KIND: Kind = Kind::McpServer;
/// The largest config, as compact JSON.
pub const MAX_CONFIG_BYTES: usize = 16 * 1024;
/// The most `args`, `env` or `headers` entries.
pub const MAX_ENTRIES: usize = 100;
/// The longest string in a config.
pub const MAX_STRING_CHARS: usize = 4096;

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::validation(format!("MCP server config: {}", message.into()))
}

fn string<'a>(key: &str, v: &'a Value) -> ApiResult<&'a str> {
    v.as_str()
        .ok_or_else(|| invalid(format!("`{key}` must be a string")))
}

fn string_map(key: &str, v: &Value, header_names: bool) -> ApiResult<()> {
    let map = v
        .as_object()
        .ok_or_else(|| invalid(format!("`{key}` must be an object of strings")))?;
    if map.len() > MAX_ENTRIES {
        return Err(invalid(format!(
            "`{key}` holds at most {MAX_ENTRIES} entries"
        )));
    }
    for (name, value) in map {
        let bad_name = name.is_empty()
            || if header_names {
                !name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
            } else {
                name.contains('=') || name.contains('\0')
            };
        if bad_name {
            return Err(invalid(format!("`{key}` has an invalid name `{name}`")));
        }
        let value = string(&format!("{key}.{name}"), value)?;
        if header_names && (value.contains('\r') || value.contains('\n')) {
            return Err(invalid(format!("header `{name}` must be one line")));
        }
    }
    Ok(())
}

/// Walks every string of `v` (keys too): every `${` a secret reference, no overlong strings.
fn check_strings(v: &Value) -> ApiResult<()> {
    let check = |s: &str| -> ApiResult<()> {
        protocol::secrets::text_references(s, &mut Default::default())
            .map_err(|e| invalid(format!("{e} (the name of one of your secrets)")))?;
        if s.chars().count() > MAX_STRING_CHARS {
            return Err(invalid(format!(
                "strings are at most {MAX_STRING_CHARS} characters"
            )));
        }
        Ok(())
    };
    match v {
        Value::String(s) => check(s),
        Value::Array(items) => items.iter().try_for_each(check_strings),
        Value::Object(map) => map.iter().try_for_each(|(k, v)| {
            check(k)?;
            check_strings(v)
        }),
        _ => Ok(()),
    }
}

fn only_keys(map: &Map<String, Value>, allowed: &[&str], kind: &str) -> ApiResult<()> {
    match map.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(invalid(format!(
            "`{k}` is not a field of a {kind} server (it takes {})",
            allowed
                .iter()
                .map(|a| format!("`{a}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ))),
        None => Ok(()),
    }
}

/// Checks `config` against the shape the CLI accepts (see the module documentation).
pub fn validate(config: &Value) -> ApiResult<()> {
    let map = config
        .as_object()
        .ok_or_else(|| invalid("must be a JSON object"))?;
    if serde_json::to_vec(config).map_or(usize::MAX, |b| b.len()) > MAX_CONFIG_BYTES {
        return Err(invalid(format!(
            "must be at most {} KiB",
            MAX_CONFIG_BYTES / 1024
        )));
    }
    check_strings(config)?;
    let kind = match map.get("type") {
        None => "stdio",
        Some(t) => string("type", t)?,
    };
    match kind {
        "stdio" => {
            only_keys(map, &["type", "command", "args", "env"], "stdio")?;
            let command = map
                .get("command")
                .ok_or_else(|| invalid("a stdio server needs `command`"))?;
            if string("command", command)?.trim().is_empty() {
                return Err(invalid("`command` must not be empty"));
            }
            if let Some(args) = map.get("args") {
                let args = args
                    .as_array()
                    .ok_or_else(|| invalid("`args` must be an array of strings"))?;
                if args.len() > MAX_ENTRIES {
                    return Err(invalid(format!(
                        "`args` holds at most {MAX_ENTRIES} entries"
                    )));
                }
                for a in args {
                    string("args[]", a)?;
                }
            }
            if let Some(env) = map.get("env") {
                string_map("env", env, false)?;
            }
        }
        "http" | "sse" => {
            only_keys(map, &["type", "url", "headers"], kind)?;
            let url = map
                .get("url")
                .ok_or_else(|| invalid(format!("an {kind} server needs `url`")))?;
            // A reference stands for a value only the run will know: checked as a plain word.
            let url = protocol::secrets::substitute_text(string("url", url)?, &placeholders(url))
                .map_err(|e| invalid(e.to_string()))?;
            let parsed = reqwest::Url::parse(&url)
                .map_err(|e| invalid(format!("`url` is not a URL: {e}")))?;
            if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
                return Err(invalid("`url` must be an http:// or https:// URL"));
            }
            if let Some(headers) = map.get("headers") {
                string_map("headers", headers, true)?;
            }
        }
        other => {
            return Err(invalid(format!(
                "`type` must be \"stdio\", \"http\" or \"sse\" (got \"{other}\")"
            )));
        }
    }
    Ok(())
}

/// Every secret `value` names, standing for the word `secret`.
fn placeholders(value: &Value) -> protocol::secrets::RunSecrets {
    let mut names = std::collections::BTreeSet::new();
    if let Some(s) = value.as_str() {
        let _ = protocol::secrets::text_references(s, &mut names);
    }
    names
        .into_iter()
        .map(|n| (n, protocol::secrets::SecretValue::new("secret")))
        .collect()
}

#[derive(sqlx::FromRow)]
pub(super) struct Row {
    id: Uuid,
    user_id: Option<Uuid>,
    name: String,
    config: sqlx::types::Json<Value>,
    enabled: bool,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

pub(super) const COLUMNS: &str = "id, user_id, name, config, enabled, created_at, updated_at";

impl Row {
    pub(super) fn name(&self) -> &str {
        &self.name
    }
}

impl From<Row> for McpServerView {
    fn from(r: Row) -> Self {
        McpServerView {
            id: r.id,
            name: r.name,
            config: r.config.0,
            enabled: r.enabled,
            system: r.user_id.is_none(),
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// The user's servers and the system's, by name.
pub async fn list(pool: &PgPool, user: Uuid) -> ApiResult<Vec<McpServerView>> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM mcp_servers WHERE user_id = $1 OR user_id IS NULL
          ORDER BY name, user_id NULLS LAST"
    ));
    let rows: Vec<Row> = sqlx::query_as(sql).bind(user).fetch_all(pool).await?;
    Ok(rows.into_iter().map(Into::into).collect())
}

/// One server the user can see, or 404.
pub async fn get(conn: &mut PgConnection, user: Uuid, id: Uuid) -> ApiResult<McpServerView> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM mcp_servers WHERE id = $1 AND (user_id = $2 OR user_id IS NULL)"
    ));
    let row: Option<Row> = sqlx::query_as(sql)
        .bind(id)
        .bind(user)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(row.ok_or_else(|| KIND.not_found())?.into())
}

/// `POST /mcp-servers`: `name` and `config` required.
pub async fn create(pool: &PgPool, user: Uuid, req: McpServerRequest) -> ApiResult<McpServerView> {
    let name = req
        .name
        .ok_or_else(|| ApiError::validation("`name` is required"))?;
    let config = req
        .config
        .ok_or_else(|| ApiError::validation("`config` is required"))?;
    check_name(KIND, &name)?;
    validate(&config)?;
    let mut tx = pool.begin().await?;
    check_room(&mut tx, KIND, user).await?;
    let id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO mcp_servers (id, user_id, name, config, enabled) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(id)
    .bind(user)
    .bind(&name)
    .bind(sqlx::types::Json(&config))
    .bind(req.enabled.unwrap_or(true))
    .execute(&mut *tx)
    .await
    .map_err(name_conflict(KIND, &name))?;
    let view = get(&mut tx, user, id).await?;
    tx.commit().await?;
    Ok(view)
}

/// `PATCH /mcp-servers/{id}`: any of the fields.
pub async fn update(
    pool: &PgPool,
    user: Uuid,
    id: Uuid,
    req: McpServerRequest,
) -> ApiResult<McpServerView> {
    if let Some(name) = &req.name {
        check_name(KIND, name)?;
    }
    if let Some(config) = &req.config {
        validate(config)?;
    }
    let mut tx = pool.begin().await?;
    lock_for_write(&mut tx, KIND, user, id).await?;
    sqlx::query(
        "UPDATE mcp_servers
            SET name = coalesce($2, name), config = coalesce($3, config),
                enabled = coalesce($4, enabled), updated_at = now()
          WHERE id = $1",
    )
    .bind(id)
    .bind(&req.name)
    .bind(req.config.as_ref().map(sqlx::types::Json))
    .bind(req.enabled)
    .execute(&mut *tx)
    .await
    .map_err(name_conflict(KIND, req.name.as_deref().unwrap_or_default()))?;
    let view = get(&mut tx, user, id).await?;
    tx.commit().await?;
    Ok(view)
}

/// `DELETE /mcp-servers/{id}`, and its id out of the user's presets.
pub async fn delete(pool: &PgPool, user: Uuid, id: Uuid) -> ApiResult<()> {
    let mut tx = pool.begin().await?;
    lock_for_write(&mut tx, KIND, user, id).await?;
    sqlx::query("DELETE FROM mcp_servers WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    remove_from_presets(&mut tx, KIND, user, id).await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_shapes_the_cli_accepts() {
        for ok in [
            json!({"command": "python3", "args": ["server.py"], "env": {"MODE": "x"}}),
            json!({"type": "stdio", "command": "npx"}),
            json!({"type": "http", "url": "https://mcp.example.com/mcp", "headers": {"Authorization": "Bearer abc"}}),
            json!({"type": "sse", "url": "http://127.0.0.1:9000/sse"}),
        ] {
            validate(&ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
    }

    #[test]
    fn anything_else_is_refused() {
        for bad in [
            json!([]),
            json!("npx"),
            json!({}),
            json!({"command": ""}),
            json!({"command": "  "}),
            json!({"command": 3}),
            json!({"command": "x", "args": "a b"}),
            json!({"command": "x", "args": [1]}),
            json!({"command": "x", "env": {"A": 1}}),
            json!({"command": "x", "env": ["A=1"]}),
            json!({"command": "x", "url": "https://a"}),
            json!({"command": "x", "cwd": "/"}),
            json!({"type": "stdio", "url": "https://a"}),
            json!({"type": "http"}),
            json!({"type": "http", "url": "ftp://a/"}),
            json!({"type": "http", "url": "not a url"}),
            json!({"type": "http", "url": "https://a", "command": "x"}),
            json!({"type": "http", "url": "https://a", "headers": {"A": "b\r\nX: y"}}),
            json!({"type": "http", "url": "https://a", "headers": {"bad name": "b"}}),
            json!({"type": "ws", "url": "wss://a"}),
            json!({"type": 1, "command": "x"}),
        ] {
            assert!(validate(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn secret_references_are_accepted_and_other_variables_refused_with_a_reason() {
        for ok in [
            json!({"command": "x", "env": {"TOKEN": "${GITHUB_TOKEN}"}}),
            json!({"command": "${HOME}/bin/x"}),
            json!({"command": "x", "args": ["--key=${KEY}", "${A}${B_2}"]}),
            json!({"type": "http", "url": "https://a/${PATH}?k=${KEY}"}),
            json!({"type": "http", "url": "https://${HOST}/mcp"}),
            json!({"type": "http", "url": "https://a", "headers": {"Authorization": "Bearer ${T}"}}),
        ] {
            validate(&ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        for bad in [
            json!({"command": "x", "env": {"TOKEN": "${github_token}"}}),
            json!({"command": "${HOME:-/root}/bin/x"}),
            json!({"command": "x", "args": ["--key=${KEY"]}),
            json!({"command": "x", "args": ["${}"]}),
            json!({"type": "http", "url": "https://a/${1X}"}),
            json!({"command": "x", "env": {"${bad": "v"}}),
        ] {
            let err = validate(&bad).unwrap_err().to_string();
            assert!(err.contains("secret"), "{bad}: {err}");
        }
        // A reference does not make a URL of something that is not one.
        assert!(validate(&json!({"type": "http", "url": "${SCHEME}://a/"})).is_err());
    }
}
