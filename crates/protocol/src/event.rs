//! Events: what the agent did, as the executor reports it and as browsers read it back.
//!
//! The executor numbers the events of one run `1, 2, 3, …` (`run_seq`); the backend stores each
//! `(run_id, run_seq)` once, whatever the number of deliveries, and gives it a per-session `seq` that
//! is gap-free and increases in commit order. Browsers resume with the last `seq` they rendered.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use ts_rs::TS;
use uuid::Uuid;

/// One event as the executor produces it, before the backend gives it a session sequence number.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RunEvent {
    /// 1-based, contiguous within a run; the idempotency key together with the run id.
    pub run_seq: i64,
    pub time: DateTime<Utc>,
    #[serde(flatten)]
    pub body: EventBody,
}

/// One stored event, as the public API and the WebSocket serve it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Event {
    pub session_id: Uuid,
    /// Per-session, gap-free, strictly increasing in commit order.
    pub seq: i64,
    pub run_id: Uuid,
    pub run_seq: i64,
    pub time: DateTime<Utc>,
    #[serde(flatten)]
    pub body: EventBody,
}

/// What happened. Serialized as `{"type": "...", "payload": {...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", content = "payload", rename_all = "snake_case")]
pub enum EventBody {
    /// The agent started; carries the agent's own session id, used to resume the conversation.
    SystemInit {
        agent_session_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        model: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cwd: Option<String>,
        #[serde(default)]
        tools: Vec<String>,
        /// The MCP servers the CLI was configured with and whether each connected.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        mcp_servers: Vec<McpServerStatus>,
        /// The slash commands the CLI loaded (built-in and staged).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        slash_commands: Vec<String>,
        /// The skills the CLI loaded.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        skills: Vec<String>,
        /// The subagents the CLI loaded (built-in and staged).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        agents: Vec<String>,
    },
    /// Text the assistant wrote (Markdown).
    AssistantText {
        text: String,
        /// Set when a subagent wrote it: the id of the `Task` tool call it works for.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        parent_tool_use_id: Option<String>,
    },
    /// The model's visible reasoning.
    Thinking {
        text: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        parent_tool_use_id: Option<String>,
    },
    /// The agent called a tool.
    ToolUse {
        tool_use_id: String,
        name: String,
        input: Value,
        /// Set when a subagent made the call: the id of the `Task` tool call it works for.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        parent_tool_use_id: Option<String>,
    },
    /// A tool's answer to an earlier `tool_use` with the same id.
    ToolResult {
        tool_use_id: String,
        /// A string or the CLI's list of content blocks.
        content: Value,
        #[serde(default)]
        is_error: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        parent_tool_use_id: Option<String>,
    },
    /// The agent's todo list, whole, as it stands now.
    TodoUpdate { todos: Vec<TodoItem> },
    /// The agent's final accounting for the run.
    Result(RunResult),
    /// The agent waits for a person: a tool that needs permission, a question, a plan.
    InputRequest(Box<crate::input::InputRequest>),
    /// A request's answer (a person's, or its expiry), as the executor handed it to the agent.
    InputAnswer(Box<crate::input::InputAnswer>),
    /// Files the run added, modified, deleted or renamed, against the workspace at its start.
    FileChanges { changes: Vec<FileChange> },
    /// A line of agent output that did not parse; kept rather than dropped.
    Raw { line: String },
    /// Terminal: the run finished normally.
    Completed {},
    /// Terminal: the run failed; `error` is meant for the user.
    Failed { error: String },
    /// Terminal: the run was canceled.
    Canceled {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
}

impl EventBody {
    /// The `type` tag, as stored in the database.
    pub fn kind(&self) -> &'static str {
        match self {
            EventBody::SystemInit { .. } => "system_init",
            EventBody::AssistantText { .. } => "assistant_text",
            EventBody::Thinking { .. } => "thinking",
            EventBody::ToolUse { .. } => "tool_use",
            EventBody::ToolResult { .. } => "tool_result",
            EventBody::TodoUpdate { .. } => "todo_update",
            EventBody::Result(_) => "result",
            EventBody::InputRequest(_) => "input_request",
            EventBody::InputAnswer(_) => "input_answer",
            EventBody::FileChanges { .. } => "file_changes",
            EventBody::Raw { .. } => "raw",
            EventBody::Completed {} => "completed",
            EventBody::Failed { .. } => "failed",
            EventBody::Canceled { .. } => "canceled",
        }
    }

    /// The last event of a run is always one of these.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            EventBody::Completed {} | EventBody::Failed { .. } | EventBody::Canceled { .. }
        )
    }

    /// The payload alone (the value under `"payload"`).
    pub fn payload(&self) -> Value {
        match serde_json::to_value(self) {
            Ok(Value::Object(mut m)) => m.remove("payload").unwrap_or(Value::Null),
            _ => Value::Null,
        }
    }

    /// Rebuilds a body from its stored `type` and `payload`.
    pub fn from_parts(kind: &str, payload: Value) -> Result<Self, serde_json::Error> {
        serde_json::from_value(serde_json::json!({ "type": kind, "payload": payload }))
    }
}

/// An MCP server named in the agent's init line, with the CLI's word for its state
/// (`connected`, `failed`, `pending`, `needs-auth`, …).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct McpServerStatus {
    pub name: String,
    pub status: String,
}

/// One entry of the agent's todo list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TodoItem {
    pub content: String,
    /// `pending`, `in_progress` or `completed`.
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_form: Option<String>,
}

/// The agent's own accounting, from the CLI's `result` line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RunResult {
    #[serde(default)]
    pub is_error: bool,
    #[serde(default)]
    pub num_turns: i64,
    #[serde(default)]
    pub duration_ms: i64,
    #[serde(default)]
    pub total_cost_usd: f64,
    #[serde(default)]
    pub usage: Usage,
    /// The final answer text, when the CLI gives one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
}

/// Token counts of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Usage {
    #[serde(default)]
    pub input_tokens: i64,
    #[serde(default)]
    pub output_tokens: i64,
    #[serde(default)]
    pub cache_creation_input_tokens: i64,
    #[serde(default)]
    pub cache_read_input_tokens: i64,
}

/// How a file changed during a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    Added,
    Modified,
    Deleted,
    Renamed,
}

/// One file's change during a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FileChange {
    pub path: String,
    pub change: ChangeKind,
    /// For `renamed`: where the file was before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old_path: Option<String>,
    #[serde(default)]
    pub lines_added: i64,
    #[serde(default)]
    pub lines_deleted: i64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn run_event_wire_shape_is_flat() {
        let ev = RunEvent {
            run_seq: 3,
            time: DateTime::from_timestamp(0, 0).unwrap(),
            body: EventBody::AssistantText {
                text: "hi".into(),
                parent_tool_use_id: None,
            },
        };
        let v = serde_json::to_value(&ev).unwrap();
        assert_eq!(
            v,
            json!({"run_seq": 3, "time": "1970-01-01T00:00:00Z", "type": "assistant_text", "payload": {"text": "hi"}})
        );
        let back: RunEvent = serde_json::from_value(v).unwrap();
        assert_eq!(back, ev);
    }

    #[test]
    fn parts_round_trip_for_every_kind() {
        let bodies = vec![
            EventBody::SystemInit {
                agent_session_id: "s".into(),
                model: None,
                cwd: None,
                tools: vec![],
                mcp_servers: vec![McpServerStatus {
                    name: "files".into(),
                    status: "connected".into(),
                }],
                slash_commands: vec!["review".into()],
                skills: vec!["pdf".into()],
                agents: vec!["reviewer".into()],
            },
            EventBody::Thinking {
                text: "t".into(),
                parent_tool_use_id: Some("toolu_1".into()),
            },
            EventBody::ToolUse {
                tool_use_id: "1".into(),
                name: "Bash".into(),
                input: json!({"command": "ls"}),
                parent_tool_use_id: Some("toolu_0".into()),
            },
            EventBody::ToolResult {
                tool_use_id: "1".into(),
                content: json!("ok"),
                is_error: false,
                parent_tool_use_id: None,
            },
            EventBody::Result(RunResult::default()),
            EventBody::Completed {},
            EventBody::Failed { error: "x".into() },
            EventBody::Canceled { reason: None },
        ];
        for b in bodies {
            let back = EventBody::from_parts(b.kind(), b.payload()).unwrap();
            assert_eq!(back, b);
        }
    }

    #[test]
    fn unknown_type_is_rejected() {
        assert!(EventBody::from_parts("nope", json!({})).is_err());
    }
}
