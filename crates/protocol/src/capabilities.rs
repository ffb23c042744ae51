//! Agent capabilities: a user's library of skills, MCP servers, slash commands, subagents,
//! instructions (`CLAUDE.md`) and presets (public API under `/api/v1`), and the snapshot of them
//! a run takes with it (internal API: the claim hands it to the executor manager, which stages
//! it into the executor).
//!
//! Every library item belongs to a user, or to the system (`system: true`: visible to every user,
//! editable by none through the public API). The snapshot is resolved when the run is queued and
//! stored with the run: editing the library later never changes a queued or running run.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use ts_rs::TS;
use uuid::Uuid;

use crate::status::PermissionMode;

/// The longest library item name, in characters. Names are plain: `[A-Za-z0-9][A-Za-z0-9_.-]*`
/// (they become file and directory names in the CLI's configuration directory).
pub const MAX_NAME_CHARS: usize = 64;

/// Whether `name` is a plain library item name: 1 to [`MAX_NAME_CHARS`] ASCII letters, digits,
/// `-`, `_` and `.`, starting with a letter or digit, never `..`.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME_CHARS
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        && !name.contains("..")
}

// ---------------------------------------------------------------------------------------------
// Library (public API)
// ---------------------------------------------------------------------------------------------

/// `PATCH /{kind}/{id}` with only the enabled flag (skills; other kinds accept it in their update).
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "openapi",
    schema(example = json!({"enabled": false}))
)]
#[serde(deny_unknown_fields)]
pub struct EnabledUpdate {
    pub enabled: bool,
}

/// A file of a skill, relative to the skill's folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SkillFileEntry {
    pub path: String,
    pub size: i64,
}

/// A skill: a folder with a `SKILL.md` (YAML front matter `name`, `description`) and any files.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SkillView {
    pub id: Uuid,
    pub name: String,
    pub description: String,
    /// The content hash of the current files (hex SHA-256 over paths and contents).
    pub version: String,
    /// Bytes of all files.
    pub size: i64,
    pub file_count: i32,
    pub enabled: bool,
    /// A system skill: visible to every user, editable by none.
    pub system: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// `GET /skills/{id}`: the skill with its files.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SkillDetail {
    #[serde(flatten)]
    pub skill: SkillView,
    pub files: Vec<SkillFileEntry>,
}

/// `GET /skills`.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SkillList {
    pub skills: Vec<SkillView>,
}

/// An MCP server as the Claude Code CLI's `--mcp-config` accepts it under `mcpServers.{name}`:
/// `{"type": "stdio", "command", "args", "env"}` (type optional), or
/// `{"type": "http" | "sse", "url", "headers"}`. Validated by the backend.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct McpServerView {
    pub id: Uuid,
    pub name: String,
    pub config: Value,
    pub enabled: bool,
    pub system: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// `POST /mcp-servers` (all fields) and `PATCH /mcp-servers/{id}` (any of them).
#[derive(Debug, Clone, Default, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "openapi",
    schema(example = json!({"name": "files", "config": {"type": "stdio", "command": "npx", "args": ["-y", "@modelcontextprotocol/server-filesystem", "."]}, "enabled": true}))
)]
#[serde(deny_unknown_fields)]
pub struct McpServerRequest {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub config: Option<Value>,
    #[serde(default)]
    pub enabled: Option<bool>,
}

/// `GET /mcp-servers`.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct McpServerList {
    pub mcp_servers: Vec<McpServerView>,
}

/// A slash command: the CLI's `commands/{name}.md` (front matter `description`, `argument-hint`,
/// `allowed-tools`, `model`; the body may use `$ARGUMENTS`, `$1`, …). A prompt that starts with
/// `/{name}` runs it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SlashCommandView {
    pub id: Uuid,
    pub name: String,
    pub description: String,
    pub argument_hint: Option<String>,
    pub allowed_tools: Vec<String>,
    pub model: Option<String>,
    pub body: String,
    pub enabled: bool,
    pub system: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// `POST /slash-commands` (`name` and `body` required) and `PATCH /slash-commands/{id}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "openapi",
    schema(example = json!({"name": "review", "description": "Review the changes", "argument_hint": "[path]", "allowed_tools": ["Read", "Grep"], "body": "Review the changes in $ARGUMENTS and list the problems you find.", "enabled": true}))
)]
#[serde(deny_unknown_fields)]
pub struct SlashCommandRequest {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    /// `Some("")` clears it.
    #[serde(default)]
    pub argument_hint: Option<String>,
    #[serde(default)]
    pub allowed_tools: Option<Vec<String>>,
    /// `Some("")` clears it.
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub enabled: Option<bool>,
}

/// `GET /slash-commands`.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SlashCommandList {
    pub slash_commands: Vec<SlashCommandView>,
}

/// A subagent: the CLI's `agents/{name}.md` (front matter `name`, `description`, `tools`,
/// `model`; the body is its system prompt). The agent calls it through the `Task` tool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SubagentView {
    pub id: Uuid,
    pub name: String,
    pub description: String,
    /// The tools it may use; all of the main agent's when empty.
    pub tools: Vec<String>,
    pub model: Option<String>,
    pub system_prompt: String,
    pub enabled: bool,
    pub system: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// `POST /subagents` (`name`, `description`, `system_prompt` required) and `PATCH /subagents/{id}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "openapi",
    schema(example = json!({"name": "reviewer", "description": "Reviews code for bugs", "tools": ["Read", "Grep"], "system_prompt": "You review code and report bugs, nothing else.", "enabled": true}))
)]
#[serde(deny_unknown_fields)]
pub struct SubagentRequest {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub tools: Option<Vec<String>>,
    /// `Some("")` clears it.
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub system_prompt: Option<String>,
    #[serde(default)]
    pub enabled: Option<bool>,
}

/// `GET /subagents`.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SubagentList {
    pub subagents: Vec<SubagentView>,
}

/// `GET /instructions`: the user's `CLAUDE.md` (empty when never set) and the system's, if any.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InstructionsView {
    pub text: String,
    /// The system-wide instructions every run also gets (read-only).
    pub system_text: Option<String>,
    pub updated_at: Option<DateTime<Utc>>,
}

/// `PUT /instructions`.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "openapi",
    schema(example = json!({"text": "Answer in British English. Run the tests before you finish."}))
)]
#[serde(deny_unknown_fields)]
pub struct InstructionsRequest {
    pub text: String,
}

/// A preset: a named bundle of run settings and the capabilities it turns on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PresetView {
    pub id: Uuid,
    pub name: String,
    pub description: String,
    pub model: Option<String>,
    pub permission_mode: Option<PermissionMode>,
    /// Prepended to the prompt of the task that names the preset.
    pub prompt_template: Option<String>,
    pub skill_ids: Vec<Uuid>,
    pub mcp_server_ids: Vec<Uuid>,
    pub slash_command_ids: Vec<Uuid>,
    pub subagent_ids: Vec<Uuid>,
    pub system: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// `POST /presets` (`name` required) and `PATCH /presets/{id}`. Ids must name items the user
/// can see (their own or the system's).
#[derive(Debug, Clone, Default, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "openapi",
    schema(example = json!({"name": "careful", "description": "Plan first, then edit", "permission_mode": "acceptEdits", "prompt_template": "Work carefully and explain each change."}))
)]
#[serde(deny_unknown_fields)]
pub struct PresetRequest {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    /// `Some("")` clears it.
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub permission_mode: Option<PermissionMode>,
    /// `Some("")` clears it.
    #[serde(default)]
    pub prompt_template: Option<String>,
    #[serde(default)]
    pub skill_ids: Option<Vec<Uuid>>,
    #[serde(default)]
    pub mcp_server_ids: Option<Vec<Uuid>>,
    #[serde(default)]
    pub slash_command_ids: Option<Vec<Uuid>>,
    #[serde(default)]
    pub subagent_ids: Option<Vec<Uuid>>,
}

/// `GET /presets`.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PresetList {
    pub presets: Vec<PresetView>,
}

// ---------------------------------------------------------------------------------------------
// Choice per task
// ---------------------------------------------------------------------------------------------

/// The capabilities a task asks for, as `POST /tasks` and `POST /capabilities/resolve` take them.
///
/// - Nothing given: a new session's run gets the user's enabled items (and the system's); a
///   follow-up keeps its session's snapshot.
/// - `preset_id`: the preset's items, model, permission mode and prompt template.
/// - An explicit list replaces that kind's items (the preset's or the defaults); `[]` means none.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "openapi",
    schema(example = json!({"skill_ids": [], "mcp_server_ids": []}))
)]
#[serde(deny_unknown_fields)]
pub struct CapabilityChoice {
    #[serde(default)]
    pub preset_id: Option<Uuid>,
    #[serde(default)]
    pub skill_ids: Option<Vec<Uuid>>,
    #[serde(default)]
    pub mcp_server_ids: Option<Vec<Uuid>>,
    #[serde(default)]
    pub slash_command_ids: Option<Vec<Uuid>>,
    #[serde(default)]
    pub subagent_ids: Option<Vec<Uuid>>,
}

impl CapabilityChoice {
    /// Whether the task named anything (a follow-up that names nothing keeps its session's).
    pub fn is_empty(&self) -> bool {
        self.preset_id.is_none()
            && self.skill_ids.is_none()
            && self.mcp_server_ids.is_none()
            && self.slash_command_ids.is_none()
            && self.subagent_ids.is_none()
    }
}

/// A library item as a run's summary names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CapabilityRef {
    pub id: Uuid,
    pub name: String,
}

/// What a run gets (or would get), by name: `RunView.capabilities` and the answer of
/// `POST /capabilities/resolve` (the composer's options panel). Never carries keys or configs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CapabilitySummary {
    pub preset: Option<CapabilityRef>,
    pub skills: Vec<CapabilityRef>,
    pub mcp_servers: Vec<CapabilityRef>,
    pub slash_commands: Vec<CapabilityRef>,
    pub subagents: Vec<CapabilityRef>,
    /// Whether a `CLAUDE.md` is staged (the user's and/or the system's).
    pub instructions: bool,
    /// The model and permission mode the preset sets, if it does.
    pub model: Option<String>,
    pub permission_mode: Option<PermissionMode>,
}

// ---------------------------------------------------------------------------------------------
// The run's snapshot (internal API)
// ---------------------------------------------------------------------------------------------

/// A file of a skill in a snapshot: its object key (under the owner's skills prefix, see
/// `objstore::keys::skill_version_prefix`) and where it goes under `skills/{skill}/`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SnapshotSkillFile {
    pub path: String,
    pub key: String,
    pub size: i64,
}

/// A skill in a snapshot, at the version the run was queued with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SnapshotSkill {
    pub id: Uuid,
    pub name: String,
    pub version: String,
    /// The owner (`None`: a system skill): the manager checks every key against this owner's
    /// skills prefix before signing it.
    pub owner: Option<Uuid>,
    pub files: Vec<SnapshotSkillFile>,
}

/// A configuration document staged as a file: a slash command (`commands/{name}.md`) or a
/// subagent (`agents/{name}.md`), rendered with its front matter when the run was queued.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConfigDocument {
    pub name: String,
    pub content: String,
}

/// An MCP server in a snapshot: its name and its config, as `mcpServers.{name}` takes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SnapshotMcpServer {
    pub name: String,
    pub config: Value,
}

/// Everything a run's agent is configured with besides its prompt, resolved when the run was
/// queued. Stored with the run (`runs.capabilities`) and its session (`sessions.capabilities`,
/// kept by follow-ups that name nothing), handed to the manager in the claim.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CapabilitySnapshot {
    /// Hex SHA-256 over everything staged (skills' versions and paths, commands, subagents,
    /// instructions, MCP configs): equal digests stage identical files, so an executor that
    /// staged this digest already (and the CLI it started ahead) can be reused as is.
    pub digest: String,
    #[serde(default)]
    pub summary: CapabilitySummary,
    #[serde(default)]
    pub skills: Vec<SnapshotSkill>,
    #[serde(default)]
    pub mcp_servers: Vec<SnapshotMcpServer>,
    #[serde(default)]
    pub slash_commands: Vec<ConfigDocument>,
    #[serde(default)]
    pub subagents: Vec<ConfigDocument>,
    /// `CLAUDE.md` in the CLI's configuration directory (the system's text, then the user's).
    #[serde(default)]
    pub instructions: Option<String>,
    /// The preset's template, prepended to this run's prompt by the claim (only on the run whose
    /// task named the preset).
    #[serde(default)]
    pub prompt_template: Option<String>,
}

/// Where a preset's template goes for one prompt ([`place_template`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlacedPrompt {
    /// The prompt the agent gets.
    pub prompt: String,
    /// Text for `--append-system-prompt`, if any.
    pub append_system_prompt: Option<String>,
}

/// Places a preset's `template` for `prompt`: prepended (`template`, a blank line, the prompt),
/// except when the prompt runs a slash command (starts with `/`): the CLI runs a command only
/// when the prompt begins with it, so there the template goes to the system prompt instead.
pub fn place_template(template: Option<&str>, prompt: &str) -> PlacedPrompt {
    match template.filter(|t| !t.trim().is_empty()) {
        None => PlacedPrompt {
            prompt: prompt.to_owned(),
            append_system_prompt: None,
        },
        Some(t) if prompt.trim_start().starts_with('/') => PlacedPrompt {
            prompt: prompt.to_owned(),
            append_system_prompt: Some(t.to_owned()),
        },
        Some(t) => PlacedPrompt {
            prompt: format!("{t}\n\n{prompt}"),
            append_system_prompt: None,
        },
    }
}

impl CapabilitySnapshot {
    /// Whether the run stages nothing.
    pub fn is_empty(&self) -> bool {
        self.skills.is_empty()
            && self.mcp_servers.is_empty()
            && self.slash_commands.is_empty()
            && self.subagents.is_empty()
            && self.instructions.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_plain() {
        for ok in ["a", "my-skill", "x_1.2", "A9"] {
            assert!(valid_name(ok), "{ok}");
        }
        for bad in [
            "",
            ".",
            "..",
            "-x",
            "a/b",
            "a..b",
            "a b",
            "ü",
            &"a".repeat(65),
        ] {
            assert!(!valid_name(bad), "{bad}");
        }
    }

    #[test]
    fn a_template_is_prepended_unless_the_prompt_runs_a_command() {
        assert_eq!(
            place_template(Some("Be terse."), "Fix it"),
            PlacedPrompt {
                prompt: "Be terse.\n\nFix it".into(),
                append_system_prompt: None
            }
        );
        assert_eq!(
            place_template(Some("Be terse."), "/review src/lib.rs"),
            PlacedPrompt {
                prompt: "/review src/lib.rs".into(),
                append_system_prompt: Some("Be terse.".into())
            }
        );
        for template in [None, Some(""), Some("  \n")] {
            assert_eq!(place_template(template, "x").prompt, "x");
            assert_eq!(place_template(template, "/x").append_system_prompt, None);
        }
    }

    #[test]
    fn an_empty_choice_names_nothing() {
        assert!(CapabilityChoice::default().is_empty());
        assert!(
            !CapabilityChoice {
                skill_ids: Some(vec![]),
                ..Default::default()
            }
            .is_empty()
        );
    }
}
