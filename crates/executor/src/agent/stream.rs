//! The Claude Code CLI's `--output-format stream-json` lines, turned into protocol events.
//!
//! | CLI line | events |
//! |---|---|
//! | `system` / `init` | `system_init` (the agent session id, model, cwd, tools) |
//! | `system` / `api_retry` | none (logged); a 401/403 asks the run to stop, see [`LineOutcome::stop`] |
//! | other `system` lines | none (logged at debug) |
//! | `assistant`: `text`, `thinking`, `tool_use` blocks | `assistant_text`, `thinking`, `tool_use` |
//! | `assistant` with `is_api_error_message` | none: the model API's error ends the run as `failed` |
//! | `tool_use` of `TodoWrite` | `tool_use`, then `todo_update` with its list |
//! | `user`: `tool_result` blocks | `tool_result` |
//! | result of `TaskCreate` / `TaskUpdate` / `TaskList` | `tool_result`, then `todo_update` with the list as it stands |
//! | `result` | `result` (usage, cost, turns, duration, final text) |
//! | `control_request` | none here: handed to [`super::control`] ([`LineOutcome::control`]), which emits `input_request` |
//! | `control_cancel_request` | none here: [`LineOutcome::control_cancel`] (the request ends as `canceled`) |
//! | `control_response` (answers to the executor's own requests) | none |
//! | anything else, or a line that is not a JSON object | `raw` (kept, never fatal) |
//!
//! The CLI of this generation hides `TodoWrite` and tracks the plan with `TaskCreate` /
//! `TaskUpdate` instead; both feed the same `todo_update` event, which always carries the whole
//! list.

use std::collections::{HashMap, VecDeque};

use super::control::ControlLine;

use protocol::event::{EventBody, McpServerStatus, RunResult, TodoItem, Usage};
use protocol::input::cli::ControlRequest;
use protocol::input::{ASK_USER_QUESTION_TOOL, EXIT_PLAN_MODE_TOOL};
use serde_json::Value;
use tracing::{debug, warn};

/// Longest `raw` line kept; longer ones are cut (the cut is marked).
pub const MAX_RAW_LINE: usize = 64 * 1024;

/// Line types the CLI prints that carry nothing a user needs (partial-message deltas, control
/// traffic, keep-alives).
const IGNORED_TYPES: &[&str] = &[
    "stream_event",
    "keep_alive",
    "rate_limit_event",
    "control_response",
    "prompt_suggestion",
    "tool_progress",
    "auth_status",
];

/// What the CLI's final `result` line said, for deciding how the run ends.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ResultInfo {
    pub is_error: bool,
    pub subtype: String,
    pub text: Option<String>,
    pub api_error_status: Option<u16>,
    pub errors: Vec<String>,
}

/// A reason to stop the agent early, found in its output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StopRequest {
    /// The model API refused the credentials; the CLI would retry for minutes for nothing.
    ModelAuthRejected { status: u16, error: String },
}

/// Tool calls whose input a later `control_request` may need (the plan of `ExitPlanMode` is
/// only in its tool_use block), remembered per run.
const REMEMBERED_CALLS: usize = 16;

/// The result of one line.
#[derive(Debug, Default, PartialEq)]
pub struct LineOutcome {
    pub events: Vec<EventBody>,
    pub stop: Option<StopRequest>,
    /// A `control_request`: the CLI waits for its answer on stdin.
    pub control: Option<ControlLine>,
    /// A `control_cancel_request`: the CLI's id of the request it no longer waits for.
    pub control_cancel: Option<String>,
}

/// A task of the CLI's task tools, as the todo list shows it.
#[derive(Debug, Clone)]
struct TrackedTask {
    id: String,
    item: TodoItem,
}

/// Parses a run's stdout, line by line. Keeps the little state the mapping needs: the session
/// id, the final result, and the task list built from the task tools.
#[derive(Debug, Default)]
pub struct StreamParser {
    agent_session_id: Option<String>,
    result: Option<ResultInfo>,
    /// Text of the last synthetic assistant message reporting a model API error.
    api_error: Option<(Option<u16>, String)>,
    /// Task-tool calls waiting for their result: tool_use_id → (tool name, input).
    pending_task_calls: HashMap<String, (String, Value)>,
    tasks: Vec<TrackedTask>,
    /// The last `AskUserQuestion` / `ExitPlanMode` calls: tool_use_id → input (bounded).
    recent_calls: VecDeque<(String, Value)>,
}

impl StreamParser {
    pub fn new() -> Self {
        Self::default()
    }

    /// The agent's session id, once the `init` line was seen.
    pub fn agent_session_id(&self) -> Option<&str> {
        self.agent_session_id.as_deref()
    }

    /// The final `result` line, if the CLI printed one.
    pub fn result(&self) -> Option<&ResultInfo> {
        self.result.as_ref()
    }

    /// The model API error the CLI reported, if any: status and text.
    pub fn api_error(&self) -> Option<&(Option<u16>, String)> {
        self.api_error.as_ref()
    }

    /// Maps one stdout line (without its newline).
    pub fn parse_line(&mut self, line: &str) -> LineOutcome {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            return LineOutcome::default();
        }
        let value: Value = match serde_json::from_str(line) {
            Ok(v) => v,
            Err(e) => {
                warn!(error = %e, len = line.len(), "agent printed a line that is not JSON; kept as raw");
                return raw(line);
            }
        };
        let Some(kind) = value.get("type").and_then(Value::as_str) else {
            warn!(
                len = line.len(),
                "agent printed JSON without a type; kept as raw"
            );
            return raw(line);
        };
        match kind {
            "system" => self.system(&value, line),
            "assistant" => self.assistant(&value),
            "user" => self.user(&value),
            "result" => self.result_line(&value),
            "control_request" => self.control_request(value, line),
            "control_cancel_request" => LineOutcome {
                control_cancel: str_field(&value, "request_id").map(str::to_owned),
                ..LineOutcome::default()
            },
            k if IGNORED_TYPES.contains(&k) => LineOutcome::default(),
            other => {
                debug!(kind = other, "agent line of an unknown type; kept as raw");
                raw(line)
            }
        }
    }

    fn control_request(&mut self, value: Value, line: &str) -> LineOutcome {
        let request: ControlRequest = match serde_json::from_value(value) {
            Ok(r) => r,
            Err(e) => {
                warn!(error = %e, "agent control request without a request id; kept as raw");
                return raw(line);
            }
        };
        let tool_input = str_field(&request.request, "tool_use_id").and_then(|id| {
            self.recent_calls
                .iter()
                .find(|(known, _)| known == id)
                .map(|(_, input)| input.clone())
        });
        LineOutcome {
            control: Some(ControlLine {
                request,
                tool_input,
            }),
            ..LineOutcome::default()
        }
    }

    fn system(&mut self, v: &Value, line: &str) -> LineOutcome {
        let subtype = str_field(v, "subtype").unwrap_or_default();
        match subtype {
            "init" => {
                let Some(session_id) = str_field(v, "session_id") else {
                    warn!("agent init line without a session id; kept as raw");
                    return raw(line);
                };
                self.agent_session_id = Some(session_id.to_owned());
                let mcp_servers = v
                    .get("mcp_servers")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(|s| {
                                Some(McpServerStatus {
                                    name: str_field(s, "name")?.to_owned(),
                                    status: str_field(s, "status").unwrap_or("unknown").to_owned(),
                                })
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                events(vec![EventBody::SystemInit {
                    agent_session_id: session_id.to_owned(),
                    model: str_field(v, "model").map(str::to_owned),
                    cwd: str_field(v, "cwd").map(str::to_owned),
                    tools: str_list(v, "tools"),
                    mcp_servers,
                    slash_commands: str_list(v, "slash_commands"),
                    skills: str_list(v, "skills"),
                    agents: str_list(v, "agents"),
                }])
            }
            "api_retry" => {
                let status = v
                    .get("error_status")
                    .and_then(Value::as_u64)
                    .and_then(|s| u16::try_from(s).ok());
                let error = str_field(v, "error").unwrap_or("unknown").to_owned();
                let attempt = v.get("attempt").and_then(|a| a.as_u64());
                warn!(attempt, status, %error, "model API request failed; the agent retries");
                match status {
                    Some(status @ (401 | 403)) => LineOutcome {
                        events: Vec::new(),
                        stop: Some(StopRequest::ModelAuthRejected { status, error }),
                        ..LineOutcome::default()
                    },
                    _ => LineOutcome::default(),
                }
            }
            other => {
                debug!(subtype = other, "agent system line");
                LineOutcome::default()
            }
        }
    }

    fn assistant(&mut self, v: &Value) -> LineOutcome {
        let message = v.get("message");
        let blocks = message
            .and_then(|m| m.get("content"))
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        if v.get("is_api_error_message").and_then(Value::as_bool) == Some(true) {
            let text = blocks
                .iter()
                .filter_map(|b| str_field(b, "text"))
                .collect::<Vec<_>>()
                .join("\n");
            let status = v
                .get("api_error_status")
                .and_then(Value::as_u64)
                .and_then(|s| u16::try_from(s).ok());
            warn!(status, "the model API answered with an error");
            self.api_error = Some((status, text));
            return LineOutcome::default();
        }
        let parent = parent_tool_use_id(v);
        let mut out = Vec::new();
        for block in blocks {
            match str_field(block, "type").unwrap_or_default() {
                "text" => {
                    if let Some(text) = str_field(block, "text").filter(|t| !t.is_empty()) {
                        out.push(EventBody::AssistantText {
                            text: text.to_owned(),
                            parent_tool_use_id: parent.clone(),
                        });
                    }
                }
                "thinking" => {
                    if let Some(text) = str_field(block, "thinking").filter(|t| !t.is_empty()) {
                        out.push(EventBody::Thinking {
                            text: text.to_owned(),
                            parent_tool_use_id: parent.clone(),
                        });
                    }
                }
                "tool_use" | "server_tool_use" | "mcp_tool_use" => {
                    let id = str_field(block, "id").unwrap_or_default().to_owned();
                    let name = str_field(block, "name").unwrap_or_default().to_owned();
                    let input = block.get("input").cloned().unwrap_or(Value::Null);
                    let todo = (name == "TodoWrite").then(|| todo_write(&input)).flatten();
                    if matches!(name.as_str(), "TaskCreate" | "TaskUpdate" | "TaskList") {
                        // Bounded: a call without a result is forgotten at the next result line.
                        self.pending_task_calls
                            .insert(id.clone(), (name.clone(), input.clone()));
                    }
                    if matches!(name.as_str(), ASK_USER_QUESTION_TOOL | EXIT_PLAN_MODE_TOOL) {
                        if self.recent_calls.len() >= REMEMBERED_CALLS {
                            self.recent_calls.pop_front();
                        }
                        self.recent_calls.push_back((id.clone(), input.clone()));
                    }
                    out.push(EventBody::ToolUse {
                        tool_use_id: id,
                        name,
                        input,
                        parent_tool_use_id: parent.clone(),
                    });
                    if let Some(todos) = todo {
                        out.push(EventBody::TodoUpdate { todos });
                    }
                }
                other => debug!(block = other, "assistant block not reported"),
            }
        }
        events(out)
    }

    fn user(&mut self, v: &Value) -> LineOutcome {
        let Some(blocks) = v
            .get("message")
            .and_then(|m| m.get("content"))
            .and_then(Value::as_array)
        else {
            return LineOutcome::default();
        };
        let parent = parent_tool_use_id(v);
        let mut out = Vec::new();
        let results: Vec<&Value> = blocks
            .iter()
            .filter(|b| str_field(b, "type") == Some("tool_result"))
            .collect();
        for block in &results {
            let tool_use_id = str_field(block, "tool_use_id")
                .unwrap_or_default()
                .to_owned();
            let is_error = block
                .get("is_error")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            out.push(EventBody::ToolResult {
                tool_use_id: tool_use_id.clone(),
                content: block.get("content").cloned().unwrap_or(Value::Null),
                is_error,
                parent_tool_use_id: parent.clone(),
            });
            if let Some((name, input)) = self.pending_task_calls.remove(&tool_use_id) {
                // The structured output sits beside the message; it belongs to this result only
                // when the line carries one result.
                let output = if results.len() == 1 {
                    v.get("tool_use_result")
                } else {
                    None
                };
                if !is_error
                    && let Some(output) = output
                    && self.apply_task_tool(&name, &input, output)
                {
                    out.push(EventBody::TodoUpdate {
                        todos: self.tasks.iter().map(|t| t.item.clone()).collect(),
                    });
                }
            }
        }
        if self.pending_task_calls.len() > 64 {
            self.pending_task_calls.clear();
        }
        events(out)
    }

    /// Updates the task list from a task tool's structured output; true if it changed.
    fn apply_task_tool(&mut self, name: &str, input: &Value, output: &Value) -> bool {
        match name {
            "TaskCreate" => {
                let Some(task) = output.get("task") else {
                    return false;
                };
                let Some(id) = id_field(task, "id") else {
                    return false;
                };
                let subject = str_field(task, "subject")
                    .or_else(|| str_field(input, "subject"))
                    .unwrap_or_default()
                    .to_owned();
                self.tasks.retain(|t| t.id != id);
                self.tasks.push(TrackedTask {
                    id,
                    item: TodoItem {
                        content: subject,
                        status: "pending".into(),
                        active_form: str_field(input, "activeForm").map(str::to_owned),
                    },
                });
                true
            }
            "TaskUpdate" => {
                if output.get("success").and_then(Value::as_bool) == Some(false) {
                    return false;
                }
                let Some(id) = id_field(output, "taskId").or_else(|| id_field(input, "taskId"))
                else {
                    return false;
                };
                let status = str_field(input, "status");
                if status == Some("deleted") {
                    let before = self.tasks.len();
                    self.tasks.retain(|t| t.id != id);
                    return self.tasks.len() != before;
                }
                let Some(task) = self.tasks.iter_mut().find(|t| t.id == id) else {
                    // A task from an earlier run of the conversation: not known here.
                    return false;
                };
                if let Some(status) = status {
                    task.item.status = status.to_owned();
                }
                if let Some(subject) = str_field(input, "subject") {
                    task.item.content = subject.to_owned();
                }
                if let Some(active) = str_field(input, "activeForm") {
                    task.item.active_form = Some(active.to_owned());
                }
                true
            }
            "TaskList" => {
                let Some(list) = output.get("tasks").and_then(Value::as_array) else {
                    return false;
                };
                let known: HashMap<String, Option<String>> = self
                    .tasks
                    .iter()
                    .map(|t| (t.id.clone(), t.item.active_form.clone()))
                    .collect();
                self.tasks = list
                    .iter()
                    .filter_map(|t| {
                        let id = id_field(t, "id")?;
                        Some(TrackedTask {
                            item: TodoItem {
                                content: str_field(t, "subject").unwrap_or_default().to_owned(),
                                status: str_field(t, "status").unwrap_or("pending").to_owned(),
                                active_form: known.get(&id).cloned().flatten(),
                            },
                            id,
                        })
                    })
                    .collect();
                true
            }
            _ => false,
        }
    }

    fn result_line(&mut self, v: &Value) -> LineOutcome {
        let is_error = v.get("is_error").and_then(Value::as_bool).unwrap_or(false);
        let text = str_field(v, "result").map(str::to_owned);
        let usage = v.get("usage");
        let tokens = |name: &str| {
            usage
                .and_then(|u| u.get(name))
                .and_then(Value::as_i64)
                .unwrap_or(0)
        };
        let result = RunResult {
            is_error,
            num_turns: v.get("num_turns").and_then(Value::as_i64).unwrap_or(0),
            duration_ms: v.get("duration_ms").and_then(Value::as_i64).unwrap_or(0),
            total_cost_usd: v
                .get("total_cost_usd")
                .and_then(Value::as_f64)
                .unwrap_or(0.0),
            usage: Usage {
                input_tokens: tokens("input_tokens"),
                output_tokens: tokens("output_tokens"),
                cache_creation_input_tokens: tokens("cache_creation_input_tokens"),
                cache_read_input_tokens: tokens("cache_read_input_tokens"),
            },
            result: text.clone(),
        };
        self.result = Some(ResultInfo {
            is_error,
            subtype: str_field(v, "subtype").unwrap_or_default().to_owned(),
            text,
            api_error_status: v
                .get("api_error_status")
                .and_then(Value::as_u64)
                .and_then(|s| u16::try_from(s).ok()),
            errors: v
                .get("errors")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
        });
        self.pending_task_calls.clear();
        events(vec![EventBody::Result(result)])
    }
}

fn events(events: Vec<EventBody>) -> LineOutcome {
    LineOutcome {
        events,
        ..LineOutcome::default()
    }
}

/// A line kept as it came, cut to [`MAX_RAW_LINE`].
pub fn raw(line: &str) -> LineOutcome {
    events(vec![EventBody::Raw {
        line: truncate(line, MAX_RAW_LINE),
    }])
}

/// Cuts `text` to at most `max` bytes on a character boundary, marking the cut.
pub fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… [{} bytes cut]", &text[..end], text.len() - end)
}

fn str_field<'a>(v: &'a Value, name: &str) -> Option<&'a str> {
    v.get(name).and_then(Value::as_str)
}

/// The strings of an array field (other entries skipped); empty when absent.
fn str_list(v: &Value, name: &str) -> Vec<String> {
    v.get(name)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// The `Task` tool call a subagent's line belongs to (the CLI's `parent_tool_use_id`), if any.
fn parent_tool_use_id(v: &Value) -> Option<String> {
    str_field(v, "parent_tool_use_id")
        .filter(|id| !id.is_empty())
        .map(str::to_owned)
}

/// A string or numeric id, as a string.
fn id_field(v: &Value, name: &str) -> Option<String> {
    match v.get(name)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The list of a `TodoWrite` call.
fn todo_write(input: &Value) -> Option<Vec<TodoItem>> {
    let todos = input.get("todos")?.as_array()?;
    Some(
        todos
            .iter()
            .map(|t| TodoItem {
                content: str_field(t, "content").unwrap_or_default().to_owned(),
                status: str_field(t, "status").unwrap_or("pending").to_owned(),
                active_form: str_field(t, "activeForm").map(str::to_owned),
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Real output of Claude Code 2.1.330 against a scripted model server.
    const BASH_TOOL: &str = include_str!("../../tests/data/bash_tool.jsonl");
    const TASK_TOOLS: &str = include_str!("../../tests/data/task_tools.jsonl");
    const INTERRUPTED: &str = include_str!("../../tests/data/interrupted.jsonl");
    const API_401: &str = include_str!("../../tests/data/api_401.jsonl");
    const API_500: &str = include_str!("../../tests/data/api_500.jsonl");
    const PERMISSION_DENIED: &str = include_str!("../../tests/data/permission_denied.jsonl");
    const RESUME_NOT_FOUND: &str = include_str!("../../tests/data/resume_not_found.jsonl");
    const CAPABILITIES_SUBAGENT: &str =
        include_str!("../../tests/data/capabilities_subagent.jsonl");
    const SUBAGENT_BACKGROUND: &str = include_str!("../../tests/data/subagent_background.jsonl");

    fn parse_all(text: &str) -> (StreamParser, Vec<EventBody>, Vec<StopRequest>) {
        let mut parser = StreamParser::new();
        let mut all = Vec::new();
        let mut stops = Vec::new();
        for line in text.lines() {
            let out = parser.parse_line(line);
            all.extend(out.events);
            stops.extend(out.stop);
        }
        (parser, all, stops)
    }

    fn kinds(events: &[EventBody]) -> Vec<&'static str> {
        events.iter().map(EventBody::kind).collect()
    }

    #[test]
    fn a_bash_run_maps_to_init_thinking_tool_use_result_and_text() {
        let (parser, events, stops) = parse_all(BASH_TOOL);
        assert!(stops.is_empty());
        assert_eq!(
            kinds(&events),
            vec![
                "system_init",
                "thinking",
                "tool_use",
                "tool_result",
                "tool_use",
                "todo_update",
                "tool_result",
                "assistant_text",
                "result"
            ]
        );
        assert_eq!(
            parser.agent_session_id(),
            Some("652ed4fb-856e-4229-986a-20091e0bcaff")
        );
        match &events[0] {
            EventBody::SystemInit {
                agent_session_id,
                model,
                cwd,
                tools,
                ..
            } => {
                assert_eq!(agent_session_id, "652ed4fb-856e-4229-986a-20091e0bcaff");
                assert_eq!(model.as_deref(), Some("claude-sonnet-4-5"));
                assert_eq!(cwd.as_deref(), Some("/tmp/cap/ws"));
                assert!(tools.iter().any(|t| t == "Bash"));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            events[1],
            EventBody::Thinking {
                text: "Let me write the file.".into(),
                parent_tool_use_id: None,
            }
        );
        assert_eq!(
            events[2],
            EventBody::ToolUse {
                tool_use_id: "toolu_0_1".into(),
                name: "Bash".into(),
                input: json!({"command": "echo hello > out.txt", "description": "write"}),
                parent_tool_use_id: None,
            }
        );
        assert_eq!(
            events[3],
            EventBody::ToolResult {
                tool_use_id: "toolu_0_1".into(),
                content: json!("(Bash completed with no output)"),
                is_error: false,
                parent_tool_use_id: None,
            }
        );
        assert_eq!(
            events[5],
            EventBody::TodoUpdate {
                todos: vec![TodoItem {
                    content: "write file".into(),
                    status: "completed".into(),
                    active_form: Some("Writing file".into()),
                }]
            }
        );
        match &events[8] {
            EventBody::Result(r) => {
                assert!(!r.is_error);
                assert_eq!(r.num_turns, 3);
                assert_eq!(r.duration_ms, 826);
                assert!((r.total_cost_usd - 0.0018).abs() < 1e-9);
                assert_eq!(r.usage.input_tokens, 300);
                assert_eq!(r.usage.output_tokens, 60);
                assert_eq!(r.result.as_deref(), Some("Done. Wrote out.txt"));
            }
            other => panic!("{other:?}"),
        }
        let result = parser.result().unwrap();
        assert!(!result.is_error);
        assert_eq!(result.subtype, "success");
    }

    /// The parents of the events that have one: (kind, parent).
    fn nesting(events: &[EventBody]) -> Vec<(&'static str, Option<&str>)> {
        events
            .iter()
            .filter_map(|e| match e {
                EventBody::AssistantText {
                    parent_tool_use_id, ..
                }
                | EventBody::Thinking {
                    parent_tool_use_id, ..
                }
                | EventBody::ToolUse {
                    parent_tool_use_id, ..
                }
                | EventBody::ToolResult {
                    parent_tool_use_id, ..
                } => Some((e.kind(), parent_tool_use_id.as_deref())),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn capabilities_show_in_init_and_a_subagents_calls_nest_under_its_task() {
        let (_, events, stops) = parse_all(CAPABILITIES_SUBAGENT);
        assert!(stops.is_empty());
        match &events[0] {
            EventBody::SystemInit {
                mcp_servers,
                skills,
                slash_commands,
                agents,
                ..
            } => {
                let servers: Vec<(&str, &str)> = mcp_servers
                    .iter()
                    .map(|s| (s.name.as_str(), s.status.as_str()))
                    .collect();
                assert_eq!(
                    servers,
                    vec![
                        ("echo", "connected"),
                        ("broken", "failed"),
                        ("missing", "failed")
                    ]
                );
                assert_eq!(skills[0], "greeter");
                // Skills are offered as slash commands too, before the user's commands.
                assert_eq!(slash_commands[..2], ["greeter", "shout"]);
                assert!(agents.contains(&"counter".to_owned()), "{agents:?}");
            }
            other => panic!("{other:?}"),
        }
        // A subagent run in the foreground: its tool calls and their results carry the Task
        // call's id; its final text comes back only as the Task's result.
        assert_eq!(
            nesting(&events),
            vec![
                ("tool_use", None),
                ("tool_use", Some("toolu_task1")),
                ("tool_result", Some("toolu_task1")),
                ("tool_result", None),
                ("assistant_text", None),
            ]
        );
        assert_eq!(kinds(&events).last(), Some(&"result"));
    }

    #[test]
    fn a_background_subagent_adds_a_turn_and_a_second_result() {
        let (parser, events, _) = parse_all(SUBAGENT_BACKGROUND);
        assert_eq!(
            nesting(&events),
            vec![
                ("tool_use", None),
                ("tool_result", None),
                ("assistant_text", None),
                ("tool_use", Some("toolu_task1")),
                ("tool_result", Some("toolu_task1")),
                ("assistant_text", Some("toolu_task1")),
                ("assistant_text", None),
            ]
        );
        // The main agent ends its turn (a result), is told the subagent finished, answers, and
        // prints a second result: the run's outcome is the last one.
        let results: Vec<_> = events
            .iter()
            .filter_map(|e| match e {
                EventBody::Result(r) => Some(r.result.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(
            results,
            vec![
                Some("done task".to_owned()),
                Some("(scenario finished)".to_owned())
            ]
        );
        assert_eq!(
            parser.result().unwrap().text.as_deref(),
            Some("(scenario finished)")
        );
    }

    #[test]
    fn task_tools_build_the_todo_list() {
        let (_, events, _) = parse_all(TASK_TOOLS);
        let todos: Vec<Vec<(String, String)>> = events
            .iter()
            .filter_map(|e| match e {
                EventBody::TodoUpdate { todos } => Some(
                    todos
                        .iter()
                        .map(|t| (t.content.clone(), t.status.clone()))
                        .collect(),
                ),
                _ => None,
            })
            .collect();
        let s = |a: &str, b: &str| (a.to_owned(), b.to_owned());
        assert_eq!(
            todos,
            vec![
                vec![s("Write file", "pending")],
                vec![s("Write file", "in_progress")],
                vec![s("Write file", "in_progress"), s("Check file", "pending")],
                vec![s("Write file", "completed"), s("Check file", "pending")],
                vec![s("Write file", "completed")],
            ]
        );
        // The todo update follows the tool result it comes from.
        let first = events
            .iter()
            .position(|e| e.kind() == "todo_update")
            .unwrap();
        assert_eq!(events[first - 1].kind(), "tool_result");
    }

    #[test]
    fn an_interrupted_run_reports_an_error_result() {
        let (parser, events, _) = parse_all(INTERRUPTED);
        assert_eq!(
            kinds(&events),
            vec!["system_init", "tool_use", "tool_result", "result"]
        );
        let result = parser.result().unwrap();
        assert!(result.is_error);
        assert_eq!(result.subtype, "error_during_execution");
    }

    #[test]
    fn a_rejected_key_asks_to_stop_and_keeps_the_api_text() {
        let (parser, events, stops) = parse_all(API_401);
        assert_eq!(kinds(&events), vec!["system_init", "result"]);
        assert_eq!(
            stops,
            vec![StopRequest::ModelAuthRejected {
                status: 401,
                error: "authentication_failed".into()
            }]
        );
        let result = parser.result().unwrap();
        assert!(result.is_error);
        assert_eq!(result.api_error_status, Some(401));
        assert_eq!(
            result.text.as_deref(),
            Some("Invalid API key · Fix external API key")
        );
        assert_eq!(
            parser.api_error(),
            Some(&(
                Some(401),
                "Invalid API key · Fix external API key".to_owned()
            ))
        );
    }

    #[test]
    fn a_server_error_does_not_stop_the_run_early() {
        let (parser, _, stops) = parse_all(API_500);
        assert!(stops.is_empty());
        assert_eq!(parser.result().unwrap().api_error_status, Some(500));
    }

    #[test]
    fn a_failed_resume_keeps_the_cli_error_list() {
        let (parser, events, _) = parse_all(RESUME_NOT_FOUND);
        assert_eq!(kinds(&events), vec!["result"]);
        let result = parser.result().unwrap();
        assert!(result.is_error);
        assert_eq!(
            result.errors,
            vec!["No conversation found with session ID: 11111111-2222-3333-4444-555555555555"]
        );
    }

    #[test]
    fn denied_permissions_show_as_failed_tool_results() {
        let (_, events, _) = parse_all(PERMISSION_DENIED);
        assert!(events.iter().any(|e| matches!(
            e,
            EventBody::ToolResult { is_error: true, content, .. }
                if content.as_str().is_some_and(|c| c.contains("needs approval"))
        )));
    }

    #[test]
    fn control_requests_are_handed_over_with_the_plan_they_name() {
        let mut parser = StreamParser::new();
        let plan = r#"{"type":"assistant","message":{"content":[{"type":"tool_use","id":"toolu_p","name":"ExitPlanMode","input":{"plan":"Plan A"}}]}}"#;
        assert_eq!(kinds(&parser.parse_line(plan).events), vec!["tool_use"]);
        let line = r#"{"type":"control_request","request_id":"cli-1","request":{"subtype":"can_use_tool","tool_name":"ExitPlanMode","input":{},"tool_use_id":"toolu_p"}}"#;
        let out = parser.parse_line(line);
        assert!(out.events.is_empty());
        let control = out.control.expect("a control request");
        assert_eq!(control.request.request_id, "cli-1");
        assert_eq!(control.request.request["tool_name"], "ExitPlanMode");
        assert_eq!(control.tool_input, Some(json!({"plan": "Plan A"})));
        // A call it does not know (or a tool it does not remember): no input.
        let other = r#"{"type":"control_request","request_id":"cli-2","request":{"subtype":"can_use_tool","tool_name":"Bash","input":{"command":"ls"},"tool_use_id":"toolu_x"}}"#;
        assert_eq!(parser.parse_line(other).control.unwrap().tool_input, None);
        // Withdrawn requests; answers to the executor's own requests are no events.
        let cancel = r#"{"type":"control_cancel_request","request_id":"cli-2"}"#;
        assert_eq!(
            parser.parse_line(cancel).control_cancel.as_deref(),
            Some("cli-2")
        );
        let response =
            r#"{"type":"control_response","response":{"subtype":"success","request_id":"x"}}"#;
        assert_eq!(parser.parse_line(response), LineOutcome::default());
        // Without a request id it cannot be answered: kept as raw.
        let bad = r#"{"type":"control_request","request":{"subtype":"can_use_tool"}}"#;
        assert_eq!(kinds(&parser.parse_line(bad).events), vec!["raw"]);
        // The memory is bounded.
        for i in 0..40 {
            let call = format!(
                r#"{{"type":"assistant","message":{{"content":[{{"type":"tool_use","id":"toolu_{i}","name":"AskUserQuestion","input":{{"questions":[]}}}}]}}}}"#
            );
            parser.parse_line(&call);
        }
        assert_eq!(parser.recent_calls.len(), REMEMBERED_CALLS);
    }

    #[test]
    fn garbage_is_kept_as_raw() {
        let mut parser = StreamParser::new();
        for line in [
            "not json at all",
            "[1,2]",
            "{\"no_type\":1}",
            "{\"type\":\"brand_new\"}",
        ] {
            let out = parser.parse_line(line);
            assert_eq!(
                out.events,
                vec![EventBody::Raw {
                    line: line.to_owned()
                }]
            );
        }
        assert!(parser.parse_line("").events.is_empty());
        assert!(
            parser
                .parse_line("{\"type\":\"stream_event\"}")
                .events
                .is_empty()
        );
        // A truncated JSON line (the CLI killed mid-write) is raw too.
        let cut = &BASH_TOOL.lines().next().unwrap()[..100];
        assert_eq!(parser.parse_line(cut).events[0].kind(), "raw");
    }

    #[test]
    fn long_raw_lines_are_cut_on_a_char_boundary() {
        let line = "é".repeat(MAX_RAW_LINE);
        let out = raw(&line);
        match &out.events[0] {
            EventBody::Raw { line: kept } => {
                assert!(kept.len() < MAX_RAW_LINE + 40);
                assert!(kept.ends_with("bytes cut]"));
            }
            other => panic!("{other:?}"),
        }
    }
}
