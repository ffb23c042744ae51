//! Resolving a task's choice into the snapshot its run is queued with
//! ([`protocol::capabilities::CapabilitySnapshot`]), and keeping a copied snapshot stageable.
//!
//! # Resolution ([`resolve`])
//! Per kind (skills, MCP servers, slash commands, subagents):
//! - an explicit list in the task replaces that kind; each id must name an item the user can
//!   see, else 404 naming the kind and nothing is queued;
//! - else the preset's list, if the task names a preset (ids deleted since are left out);
//! - else the defaults: the user's enabled items and the system's enabled items.
//!
//! Items named explicitly or by a preset are staged even when disabled (the choice is
//! explicit). Two items of one name cannot both be staged (they would be the same file): a
//! user's item shadows a system item of its name. Instructions are always the system's text
//! then the user's. A preset also gives its model and permission mode (the task's own win, in
//! `tasks::queue`) and its prompt template, which the claim prepends to this run's prompt.
//!
//! # Digest
//! Hex SHA-256 over a canonical JSON (sorted keys, no spaces) of everything staged: each
//! skill's id, name, version and file paths and sizes, each MCP server's name and config, each
//! rendered command and subagent, and the instructions. Not the summary, not the prompt
//! template: equal digests stage identical files.
//!
//! # Copies ([`refresh`])
//! A follow-up that names nothing, and a failed run its owner retries, reuse a snapshot made
//! earlier. A skill version in it stays stageable while it is current or retired-but-kept; one
//! whose objects the retention sweep already deleted (no active run needed it) is replaced by
//! the skill's current version, or left out when the skill is gone.

use std::collections::{BTreeMap, HashSet};

use protocol::capabilities::{
    CapabilityChoice, CapabilityRef, CapabilitySnapshot, CapabilitySummary, ConfigDocument,
    McpServerView, SlashCommandView, SnapshotMcpServer, SnapshotSkill, SnapshotSkillFile,
    SubagentView,
};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use sqlx::PgConnection;
use sqlx::postgres::PgRow;
use uuid::Uuid;

use super::{Kind, commands, instructions, mcp, presets, render, skills, subagents};
use crate::error::{ApiError, ApiResult};

/// The most skill files one run may stage, and their most bytes in all.
pub const MAX_STAGED_FILES: usize = 2_000;
pub const MAX_STAGED_SKILL_BYTES: i64 = 100 * 1024 * 1024;

/// Where one kind's items come from.
enum Source<'a> {
    /// The task's list: every id must be visible.
    Explicit(&'a [Uuid]),
    /// The preset's list: ids gone since are left out.
    Preset(&'a [Uuid]),
    /// The enabled items of the user and the system.
    Defaults,
}

impl<'a> Source<'a> {
    fn pick(explicit: Option<&'a Vec<Uuid>>, preset: Option<&'a Vec<Uuid>>) -> Self {
        match (explicit, preset) {
            (Some(ids), _) => Source::Explicit(ids),
            (None, Some(ids)) => Source::Preset(ids),
            (None, None) => Source::Defaults,
        }
    }
}

/// The visible rows of one kind from `source`, by name, one per name (the user's first).
/// `lock`: read them `FOR SHARE` (skills, whose rows say which objects exist).
async fn fetch<R>(
    conn: &mut PgConnection,
    kind: Kind,
    columns: &str,
    user: Uuid,
    source: &Source<'_>,
    lock: bool,
    name_of: fn(&R) -> &str,
) -> ApiResult<Vec<R>>
where
    R: for<'r> sqlx::FromRow<'r, PgRow> + Send + Unpin,
{
    let lock = if lock { " FOR SHARE" } else { "" };
    let table = kind.table();
    let rows: Vec<R> = match source {
        Source::Explicit(ids) | Source::Preset(ids) => {
            if ids.is_empty() {
                return Ok(Vec::new());
            }
            let sql = sqlx::AssertSqlSafe(format!(
                "SELECT {columns} FROM {table}
                  WHERE id = ANY($1) AND (user_id = $2 OR user_id IS NULL)
                  ORDER BY name, user_id NULLS LAST{lock}"
            ));
            let rows: Vec<R> = sqlx::query_as(sql)
                .bind(*ids)
                .bind(user)
                .fetch_all(&mut *conn)
                .await?;
            if matches!(source, Source::Explicit(_)) && rows.len() != ids.len() {
                return Err(kind.not_found());
            }
            rows
        }
        Source::Defaults => {
            let sql = sqlx::AssertSqlSafe(format!(
                "SELECT {columns} FROM {table}
                  WHERE (user_id = $1 OR user_id IS NULL) AND enabled
                  ORDER BY name, user_id NULLS LAST{lock}"
            ));
            sqlx::query_as(sql).bind(user).fetch_all(&mut *conn).await?
        }
    };
    // Ordered by name with the user's row first: keep the first of each name.
    let mut seen = HashSet::new();
    Ok(rows
        .into_iter()
        .filter(|r| seen.insert(name_of(r).to_owned()))
        .collect())
}

/// A skill row as a snapshot stages it: each file's key under its version's prefix (by its index
/// in the row's path-ordered list, as `skills` stored it) and its path.
fn snapshot_skill(row: skills::Row) -> SnapshotSkill {
    let files = row
        .files
        .0
        .iter()
        .enumerate()
        .map(|(index, f)| SnapshotSkillFile {
            key: objstore::keys::skill_object_key(row.user_id, row.id, &row.version, index),
            path: f.path.clone(),
            size: f.size,
        })
        .collect();
    SnapshotSkill {
        id: row.id,
        name: row.name,
        version: row.version,
        owner: row.user_id,
        files,
    }
}

/// Resolves `choice` for a run of `user` (see the module documentation). Call inside the
/// transaction that queues the run: skill rows stay share-locked until it ends.
pub async fn resolve(
    conn: &mut PgConnection,
    user: Uuid,
    choice: &CapabilityChoice,
) -> ApiResult<CapabilitySnapshot> {
    let preset = match choice.preset_id {
        Some(id) => Some(presets::row(conn, user, id).await?),
        None => None,
    };
    let p = preset.as_ref();
    let skill_rows: Vec<skills::Row> = fetch(
        conn,
        Kind::Skill,
        skills::COLUMNS,
        user,
        &Source::pick(choice.skill_ids.as_ref(), p.map(|p| &p.skill_ids)),
        true,
        |r: &skills::Row| &r.name,
    )
    .await?;
    let mcp_rows: Vec<mcp::Row> = fetch(
        conn,
        Kind::McpServer,
        mcp::COLUMNS,
        user,
        &Source::pick(choice.mcp_server_ids.as_ref(), p.map(|p| &p.mcp_server_ids)),
        false,
        mcp::Row::name,
    )
    .await?;
    let command_rows: Vec<commands::Row> = fetch(
        conn,
        Kind::SlashCommand,
        commands::COLUMNS,
        user,
        &Source::pick(
            choice.slash_command_ids.as_ref(),
            p.map(|p| &p.slash_command_ids),
        ),
        false,
        commands::Row::name,
    )
    .await?;
    let subagent_rows: Vec<subagents::Row> = fetch(
        conn,
        Kind::Subagent,
        subagents::COLUMNS,
        user,
        &Source::pick(choice.subagent_ids.as_ref(), p.map(|p| &p.subagent_ids)),
        false,
        subagents::Row::name,
    )
    .await?;
    let instructions = instructions::combined(&instructions::get(conn, user).await?);

    let skills: Vec<SnapshotSkill> = skill_rows.into_iter().map(snapshot_skill).collect();
    check_staged_size(&skills)?;
    let mcp: Vec<McpServerView> = mcp_rows.into_iter().map(Into::into).collect();
    let commands: Vec<SlashCommandView> = command_rows.into_iter().map(Into::into).collect();
    let agents: Vec<SubagentView> = subagent_rows.into_iter().map(Into::into).collect();
    let summary = CapabilitySummary {
        preset: p.map(|p| CapabilityRef {
            id: p.id,
            name: p.name.clone(),
        }),
        skills: skills.iter().map(|s| reference(s.id, &s.name)).collect(),
        mcp_servers: mcp.iter().map(|m| reference(m.id, &m.name)).collect(),
        slash_commands: commands.iter().map(|c| reference(c.id, &c.name)).collect(),
        subagents: agents.iter().map(|a| reference(a.id, &a.name)).collect(),
        instructions: instructions.is_some(),
        model: p.and_then(|p| p.model.clone()),
        permission_mode: match p {
            Some(p) => p.permission_mode()?,
            None => None,
        },
    };
    let mut snapshot = CapabilitySnapshot {
        digest: String::new(),
        summary,
        skills,
        mcp_servers: mcp
            .into_iter()
            .map(|m| SnapshotMcpServer {
                name: m.name,
                config: m.config,
            })
            .collect(),
        slash_commands: commands
            .iter()
            .map(|c| ConfigDocument {
                name: c.name.clone(),
                content: render::command(c),
            })
            .collect(),
        subagents: agents
            .iter()
            .map(|a| ConfigDocument {
                name: a.name.clone(),
                content: render::subagent(a),
            })
            .collect(),
        instructions,
        prompt_template: p
            .and_then(|p| p.prompt_template.clone())
            .filter(|t| !t.trim().is_empty()),
    };
    snapshot.digest = digest(&snapshot);
    Ok(snapshot)
}

fn reference(id: Uuid, name: &str) -> CapabilityRef {
    CapabilityRef {
        id,
        name: name.to_owned(),
    }
}

/// Refuses a run that would stage more skill files or bytes than a run may.
fn check_staged_size(skills: &[SnapshotSkill]) -> ApiResult<()> {
    let files: usize = skills.iter().map(|s| s.files.len()).sum();
    let bytes: i64 = skills
        .iter()
        .flat_map(|s| s.files.iter().map(|f| f.size))
        .sum();
    if files > MAX_STAGED_FILES || bytes > MAX_STAGED_SKILL_BYTES {
        return Err(ApiError::validation(format!(
            "the skills chosen for this run hold {files} files and {} MiB; a run stages at most {MAX_STAGED_FILES} files and {} MiB: choose fewer skills or turn some off",
            bytes / (1024 * 1024),
            MAX_STAGED_SKILL_BYTES / (1024 * 1024)
        )));
    }
    Ok(())
}

/// The digest of everything `snapshot` stages (see the module documentation).
pub fn digest(snapshot: &CapabilitySnapshot) -> String {
    let staged = json!({
        "skills": snapshot.skills.iter().map(|s| json!({
            "id": s.id,
            "name": s.name,
            "version": s.version,
            "files": s.files.iter().map(|f| json!({"path": f.path, "size": f.size})).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "mcp_servers": snapshot.mcp_servers.iter().map(|m| json!({"name": m.name, "config": m.config})).collect::<Vec<_>>(),
        "slash_commands": snapshot.slash_commands.iter().map(|c| json!({"name": c.name, "content": c.content})).collect::<Vec<_>>(),
        "subagents": snapshot.subagents.iter().map(|a| json!({"name": a.name, "content": a.content})).collect::<Vec<_>>(),
        "instructions": snapshot.instructions,
    });
    let mut text = String::new();
    canonical(&staged, &mut text);
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// `v` as JSON with every object's keys sorted and no spaces.
fn canonical(v: &Value, out: &mut String) {
    match v {
        Value::Object(map) => {
            let sorted: BTreeMap<&String, &Value> = map.iter().collect();
            out.push('{');
            for (i, (k, v)) in sorted.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                canonical(v, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical(item, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// Makes a snapshot made earlier stageable again (see the module documentation): returns
/// whether anything changed (the digest and summary are then recomputed). Call inside the
/// transaction that queues the run.
pub async fn refresh(
    conn: &mut PgConnection,
    user: Uuid,
    snapshot: &mut CapabilitySnapshot,
) -> ApiResult<bool> {
    if snapshot.skills.is_empty() {
        return Ok(false);
    }
    let ids: Vec<Uuid> = snapshot.skills.iter().map(|s| s.id).collect();
    let current: Vec<(Uuid, String)> = sqlx::query_as(
        "SELECT id, version FROM skills
          WHERE id = ANY($1) AND (user_id = $2 OR user_id IS NULL) FOR SHARE",
    )
    .bind(&ids)
    .bind(user)
    .fetch_all(&mut *conn)
    .await?;
    let current: BTreeMap<Uuid, String> = current.into_iter().collect();
    let prefixes: Vec<String> = snapshot
        .skills
        .iter()
        .map(|s| objstore::keys::skill_version_prefix(s.owner, s.id, &s.version))
        .collect();
    let kept: Vec<String> = sqlx::query_scalar(
        "SELECT prefix FROM skill_versions_retired WHERE prefix = ANY($1) FOR SHARE",
    )
    .bind(&prefixes)
    .fetch_all(&mut *conn)
    .await?;
    let kept: HashSet<String> = kept.into_iter().collect();
    let swept: Vec<usize> = snapshot
        .skills
        .iter()
        .zip(&prefixes)
        .enumerate()
        .filter(|(_, (s, prefix))| {
            current.get(&s.id) != Some(&s.version) && !kept.contains(*prefix)
        })
        .map(|(i, _)| i)
        .collect();
    if swept.is_empty() {
        return Ok(false);
    }
    let refetch: Vec<Uuid> = swept
        .iter()
        .map(|&i| snapshot.skills[i].id)
        .filter(|id| current.contains_key(id))
        .collect();
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {} FROM skills WHERE id = ANY($1)",
        skills::COLUMNS
    ));
    let rows: Vec<skills::Row> = sqlx::query_as(sql)
        .bind(&refetch)
        .fetch_all(&mut *conn)
        .await?;
    let mut fresh: BTreeMap<Uuid, SnapshotSkill> = rows
        .into_iter()
        .map(|r| (r.id, snapshot_skill(r)))
        .collect();
    let old = std::mem::take(&mut snapshot.skills);
    for (i, skill) in old.into_iter().enumerate() {
        if !swept.contains(&i) {
            snapshot.skills.push(skill);
        } else if let Some(newer) = fresh.remove(&skill.id) {
            tracing::info!(skill_id = %skill.id, from = %skill.version, to = %newer.version, "a copied snapshot's skill version is gone; staging the current one");
            snapshot.skills.push(newer);
        } else {
            tracing::info!(skill_id = %skill.id, "a copied snapshot's skill was deleted; left out");
        }
    }
    snapshot.skills.sort_by(|a, b| a.name.cmp(&b.name));
    snapshot.summary.skills = snapshot
        .skills
        .iter()
        .map(|s| reference(s.id, &s.name))
        .collect();
    snapshot.digest = digest(snapshot);
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_json_sorts_keys_at_every_level() {
        let mut a = String::new();
        canonical(&json!({"b": [1, {"z": 1, "a": "x"}], "a": null}), &mut a);
        assert_eq!(a, r#"{"a":null,"b":[1,{"a":"x","z":1}]}"#);
    }

    #[test]
    fn the_digest_covers_what_is_staged_only() {
        let base = CapabilitySnapshot {
            mcp_servers: vec![SnapshotMcpServer {
                name: "m".into(),
                config: json!({"command": "x", "args": ["1"]}),
            }],
            instructions: Some("rules\n".into()),
            ..Default::default()
        };
        let d = digest(&base);
        let mut other = base.clone();
        other.prompt_template = Some("template".into());
        other.summary.model = Some("opus".into());
        assert_eq!(digest(&other), d, "template and summary are not staged");
        other.instructions = Some("rules!\n".into());
        assert_ne!(digest(&other), d);
        let mut other = base.clone();
        other.mcp_servers[0].config = json!({"args": ["1"], "command": "x"});
        assert_eq!(digest(&other), d, "key order does not matter");
        other.mcp_servers[0].config = json!({"args": ["2"], "command": "x"});
        assert_ne!(digest(&other), d);
    }
}
