//! Terminal output: events as the lines a person reads, tables of sessions and files.
//!
//! Pure functions of their input (the clock is a parameter), so tests pin the exact lines. What
//! the terminal view leaves out on purpose: the model's thinking, successful tool output and the
//! CLI's raw accounting (shown once, in the run's last line). `--json` bypasses all of this.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use protocol::RunStatus;
use protocol::api::{RunView, SessionView};
use protocol::event::{ChangeKind, Event, EventBody, RunResult};
use protocol::files::{ManifestChange, RunFiles};
use protocol::input::InputKind;
use serde_json::Value;
use uuid::Uuid;

/// The longest a one-line summary (a tool's input, an error) gets before it is cut.
const SUMMARY_CHARS: usize = 120;

/// ANSI styling, on only for a terminal (and not under `NO_COLOR`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Style {
    pub color: bool,
}

impl Style {
    fn paint(self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }
    fn dim(self, t: &str) -> String {
        self.paint("2", t)
    }
    fn bold(self, t: &str) -> String {
        self.paint("1", t)
    }
    fn red(self, t: &str) -> String {
        self.paint("31", t)
    }
    fn green(self, t: &str) -> String {
        self.paint("32", t)
    }
    fn yellow(self, t: &str) -> String {
        self.paint("33", t)
    }
    fn cyan(self, t: &str) -> String {
        self.paint("36", t)
    }
}

/// Turns a session's events, in order, into lines. Stateful: it remembers tool names (a result
/// names only its call's id), the run's accounting (printed with its last event) and which run
/// it is in (a new run of the session gets a header with its prompt, when known).
#[derive(Debug, Default)]
pub struct Renderer {
    style: Style,
    tools: HashMap<String, String>,
    result: Option<RunResult>,
    run: Option<Uuid>,
    prompts: HashMap<Uuid, String>,
}

impl Renderer {
    pub fn new(style: Style) -> Self {
        Renderer {
            style,
            ..Renderer::default()
        }
    }

    /// Prints `› prompt` before the first event of each of these runs.
    pub fn with_prompts(mut self, prompts: HashMap<Uuid, String>) -> Self {
        self.prompts = prompts;
        self
    }

    /// The lines one event prints (none for what the terminal view leaves out).
    pub fn lines(&mut self, event: &Event) -> Vec<String> {
        let s = self.style;
        let mut out = Vec::new();
        if self.run != Some(event.run_id) {
            self.run = Some(event.run_id);
            self.result = None;
            if let Some(prompt) = self.prompts.get(&event.run_id) {
                out.push(run_header(s, prompt));
            }
        }
        match &event.body {
            EventBody::SystemInit { model, .. } => {
                let model = model
                    .as_deref()
                    .map(|m| format!(" ({m})"))
                    .unwrap_or_default();
                out.push(s.dim(&format!("· agent started{model}")));
            }
            EventBody::AssistantText {
                text,
                parent_tool_use_id,
            } => {
                let indent = if parent_tool_use_id.is_some() {
                    "  "
                } else {
                    ""
                };
                let text = text.trim_end();
                if !text.is_empty() {
                    out.extend(text.lines().map(|l| format!("{indent}{l}")));
                }
            }
            EventBody::Thinking { .. } => {}
            EventBody::ToolUse {
                tool_use_id,
                name,
                input,
                parent_tool_use_id,
            } => {
                self.tools.insert(tool_use_id.clone(), name.clone());
                let indent = if parent_tool_use_id.is_some() {
                    "  "
                } else {
                    ""
                };
                let summary = tool_summary(name, input);
                let line = if summary.is_empty() {
                    format!("{indent}→ {}", s.cyan(name))
                } else {
                    format!("{indent}→ {} {summary}", s.cyan(name))
                };
                out.push(line);
            }
            EventBody::ToolResult {
                tool_use_id,
                content,
                is_error,
                parent_tool_use_id,
            } => {
                if *is_error {
                    let indent = if parent_tool_use_id.is_some() {
                        "  "
                    } else {
                        ""
                    };
                    let name = self.tools.get(tool_use_id).map_or("tool", String::as_str);
                    let text = content_text(content);
                    // The CLI wraps its own refusals in a tag a person need not read.
                    let text = text.trim();
                    let text = text
                        .strip_prefix("<tool_use_error>")
                        .map(|t| t.trim_end().trim_end_matches("</tool_use_error>"))
                        .unwrap_or(text);
                    let detail = one_line(text, SUMMARY_CHARS);
                    out.push(s.red(&format!("{indent}✗ {name} failed: {detail}")));
                }
            }
            EventBody::TodoUpdate { todos } => {
                let done = todos.iter().filter(|t| t.status == "completed").count();
                out.push(s.dim(&format!("· todo: {done}/{} done", todos.len())));
            }
            EventBody::Result(r) => self.result = Some(r.clone()),
            EventBody::InputRequest(req) => {
                let what = match req.kind {
                    InputKind::Permission => format!("permission to use {}", req.tool_name),
                    InputKind::Question => "an answer to a question".to_owned(),
                    InputKind::Plan => "approval of a plan".to_owned(),
                };
                out.push(s.yellow(&format!(
                    "? the agent waits for {what}: answer it in the web UI"
                )));
            }
            EventBody::InputAnswer(a) => {
                let decision = serde_json::to_value(a.decision)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default();
                out.push(s.dim(&format!("· answered: {decision}")));
            }
            EventBody::FileChanges { changes } => {
                if !changes.is_empty() {
                    let list: Vec<String> = changes
                        .iter()
                        .map(|c| match c.change {
                            ChangeKind::Added => format!("+{}", c.path),
                            ChangeKind::Modified => format!("~{}", c.path),
                            ChangeKind::Deleted => format!("-{}", c.path),
                            ChangeKind::Renamed => {
                                format!("{} → {}", c.old_path.as_deref().unwrap_or("?"), c.path)
                            }
                        })
                        .collect();
                    out.push(s.dim(&format!(
                        "· files: {}",
                        one_line(&list.join(" "), SUMMARY_CHARS)
                    )));
                }
            }
            EventBody::Raw { line } => {
                out.push(s.dim(&format!("· {}", one_line(line, SUMMARY_CHARS))))
            }
            EventBody::Completed {} => out.push(end_line(
                s,
                RunStatus::Completed,
                self.result
                    .as_ref()
                    .map(|r| (r.duration_ms, r.total_cost_usd)),
                None,
            )),
            EventBody::Failed { error } => out.push(end_line(
                s,
                RunStatus::Failed,
                self.result
                    .as_ref()
                    .map(|r| (r.duration_ms, r.total_cost_usd)),
                Some(error),
            )),
            EventBody::Canceled { reason } => out.push(end_line(
                s,
                RunStatus::Canceled,
                self.result
                    .as_ref()
                    .map(|r| (r.duration_ms, r.total_cost_usd)),
                reason.as_deref(),
            )),
        }
        out
    }
}

/// `› the prompt`: the line before a run's events in a session's log.
pub fn run_header(style: Style, prompt: &str) -> String {
    style.bold(&format!("› {}", one_line(prompt, SUMMARY_CHARS)))
}

/// The last line of a run that ended without a final event of its own (canceled while queued,
/// failed before it started): from the run's record.
pub fn run_end_line(style: Style, run: &RunView) -> String {
    let stats = run
        .usage
        .as_ref()
        .map(|u| (u.duration_ms, u.total_cost_usd))
        .or_else(|| {
            let (start, end) = (run.started_at?, run.finished_at?);
            Some(((end - start).num_milliseconds(), 0.0))
        });
    end_line(style, run.status, stats, run.error.as_deref())
}

/// `✓ completed in 2.1s · $0.0042`, `✗ failed in 1.0s · $0.0010: the reason`, `■ canceled`.
fn end_line(
    s: Style,
    status: RunStatus,
    stats: Option<(i64, f64)>,
    detail: Option<&str>,
) -> String {
    let stats = stats
        .map(|(ms, cost)| format!(" in {} · ${cost:.4}", duration(ms)))
        .unwrap_or_default();
    let detail = detail
        .filter(|d| !d.trim().is_empty())
        .map(|d| format!(": {}", one_line(d, SUMMARY_CHARS)))
        .unwrap_or_default();
    let text = format!("{status}{stats}{detail}");
    match status {
        RunStatus::Completed => s.green(&format!("✓ {text}")),
        RunStatus::Failed => s.red(&format!("✗ {text}")),
        RunStatus::Canceled => s.yellow(&format!("■ {text}")),
        _ => format!("· {text}"),
    }
}

/// What a tool call is about, in a few words: the command, the file, the pattern, the URL.
pub fn tool_summary(name: &str, input: &Value) -> String {
    let field = |k: &str| input.get(k).and_then(Value::as_str);
    let text = match name {
        "Bash" => field("command").map(str::to_owned),
        "Read" | "Write" | "Edit" | "MultiEdit" => field("file_path").map(str::to_owned),
        "NotebookEdit" => field("notebook_path").map(str::to_owned),
        "Glob" | "Grep" => field("pattern").map(|p| match field("path") {
            Some(path) => format!("{p} in {path}"),
            None => p.to_owned(),
        }),
        "WebFetch" => field("url").map(str::to_owned),
        "WebSearch" => field("query").map(str::to_owned),
        "Task" | "Agent" => field("description").map(str::to_owned),
        "TodoWrite" => input
            .get("todos")
            .and_then(Value::as_array)
            .map(|t| format!("{} items", t.len())),
        _ => None,
    };
    let text = text.unwrap_or_else(|| match input {
        // An unknown tool: its first string argument, else its input as JSON.
        Value::Object(m) if m.is_empty() => String::new(),
        Value::Object(m) => m
            .values()
            .find_map(Value::as_str)
            .map(str::to_owned)
            .unwrap_or_else(|| input.to_string()),
        Value::Null => String::new(),
        other => other.to_string(),
    });
    one_line(&text, SUMMARY_CHARS)
}

/// A tool result's text: a string, or the text blocks of the CLI's content list.
fn content_text(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(blocks) => blocks
            .iter()
            .filter_map(|b| b.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join("\n"),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// The first non-blank line of `text`, cut to `max` characters (`…` when cut or when more
/// lines followed).
pub fn one_line(text: &str, max: usize) -> String {
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    let first = lines.next().unwrap_or("");
    let more = lines.next().is_some();
    let mut out: String = first.chars().take(max).collect();
    if first.chars().count() > max || more {
        out.push('…');
    }
    out
}

/// `850ms`, `2.1s`, `1m05s`, `2h03m`.
pub fn duration(ms: i64) -> String {
    let ms = ms.max(0);
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms < 60_000 {
        format!("{:.1}s", ms as f64 / 1000.0)
    } else if ms < 3_600_000 {
        format!("{}m{:02}s", ms / 60_000, (ms / 1000) % 60)
    } else {
        format!("{}h{:02}m", ms / 3_600_000, (ms / 60_000) % 60)
    }
}

/// `512 B`, `1.5 KiB`, `3.0 MiB`.
pub fn size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut v = bytes as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.1} {}", UNITS[unit])
}

/// `12s ago`, `5m ago`, `3h ago`, `2d ago`, then the date.
pub fn ago(at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let secs = (now - at).num_seconds().max(0);
    match secs {
        0..60 => format!("{secs}s ago"),
        60..3600 => format!("{}m ago", secs / 60),
        3600..86_400 => format!("{}h ago", secs / 3600),
        86_400..2_592_000 => format!("{}d ago", secs / 86_400),
        _ => at.format("%Y-%m-%d").to_string(),
    }
}

/// The sessions table: id, status, updated, title.
pub fn sessions_table(sessions: &[SessionView], now: DateTime<Utc>) -> Vec<String> {
    let mut out = vec![format!(
        "{:<36}  {:<9}  {:<8}  TITLE",
        "ID", "STATUS", "UPDATED"
    )];
    out.extend(sessions.iter().map(|s| {
        format!(
            "{:<36}  {:<9}  {:<8}  {}",
            s.id,
            s.status.as_str(),
            ago(s.updated_at, now),
            one_line(&s.title, 60)
        )
    }));
    out
}

/// The files table: size, change, path (deleted files last, as the API lists them).
pub fn files_table(files: &RunFiles) -> Vec<String> {
    let mut out = vec![format!("{:>10}  {:<9}  PATH", "SIZE", "CHANGE")];
    out.extend(files.files.iter().map(|f| {
        let change = match f.change {
            ManifestChange::Added => "added",
            ManifestChange::Modified => "modified",
            ManifestChange::Unchanged => "unchanged",
            ManifestChange::Deleted => "deleted",
        };
        let size = if f.change == ManifestChange::Deleted {
            "-".to_owned()
        } else {
            size(f.size)
        };
        format!("{size:>10}  {change:<9}  {}", f.path)
    }));
    out
}

/// A one-line spinner on stderr while nothing happens (only when stderr is a terminal). It is
/// cleared before every line printed, so it never mixes with the output.
#[derive(Debug)]
pub struct Spinner {
    enabled: bool,
    frame: usize,
    shown: bool,
    message: String,
    since: std::time::Instant,
}

impl Spinner {
    const FRAMES: [char; 10] = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

    pub fn new(enabled: bool) -> Self {
        Spinner {
            enabled,
            frame: 0,
            shown: false,
            message: "waiting".into(),
            since: std::time::Instant::now(),
        }
    }

    /// What it says next to the spinning frame (`queued`, `running`, `reconnecting`).
    pub fn set_message(&mut self, message: impl Into<String>) {
        self.message = message.into();
    }

    /// Draws the next frame.
    pub fn tick(&mut self) {
        if !self.enabled {
            return;
        }
        use std::io::Write;
        self.frame = (self.frame + 1) % Self::FRAMES.len();
        let elapsed = self.since.elapsed().as_secs();
        let mut err = std::io::stderr().lock();
        let _ = write!(
            err,
            "\r\x1b[K{} {} {elapsed}s",
            Self::FRAMES[self.frame],
            self.message
        );
        let _ = err.flush();
        self.shown = true;
    }

    /// Removes the spinner's line (before printing anything else).
    pub fn clear(&mut self) {
        if self.shown {
            use std::io::Write;
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[K");
            let _ = err.flush();
            self.shown = false;
        }
    }
}

impl Drop for Spinner {
    fn drop(&mut self) {
        self.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::event::TodoItem;
    use serde_json::json;

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + secs, 0).unwrap()
    }

    fn events(run: Uuid, bodies: Vec<EventBody>) -> Vec<Event> {
        let session = Uuid::nil();
        bodies
            .into_iter()
            .enumerate()
            .map(|(i, body)| Event {
                session_id: session,
                seq: i as i64 + 1,
                run_id: run,
                run_seq: i as i64 + 1,
                time: at(i as i64),
                body,
            })
            .collect()
    }

    fn render(r: &mut Renderer, events: &[Event]) -> Vec<String> {
        events.iter().flat_map(|e| r.lines(e)).collect()
    }

    /// The write_file scenario of the scripted model, as the executor reports it.
    #[test]
    fn a_completed_run_prints_text_tool_calls_and_the_end() {
        let evs = events(
            Uuid::from_u128(1),
            vec![
                EventBody::SystemInit {
                    agent_session_id: "a".into(),
                    model: Some("claude-test".into()),
                    cwd: None,
                    tools: vec![],
                    mcp_servers: vec![],
                    slash_commands: vec![],
                    skills: vec![],
                    agents: vec![],
                },
                EventBody::Thinking {
                    text: "The user wants a file.".into(),
                    parent_tool_use_id: None,
                },
                EventBody::AssistantText {
                    text: "I'll write the file.".into(),
                    parent_tool_use_id: None,
                },
                EventBody::ToolUse {
                    tool_use_id: "t1".into(),
                    name: "Bash".into(),
                    input: json!({"command": "printf hello > out.txt", "description": "Write"}),
                    parent_tool_use_id: None,
                },
                EventBody::ToolResult {
                    tool_use_id: "t1".into(),
                    content: json!(""),
                    is_error: false,
                    parent_tool_use_id: None,
                },
                EventBody::AssistantText {
                    text: "Wrote hello to out.txt.\n".into(),
                    parent_tool_use_id: None,
                },
                EventBody::FileChanges {
                    changes: vec![protocol::event::FileChange {
                        path: "out.txt".into(),
                        change: ChangeKind::Added,
                        old_path: None,
                        lines_added: 1,
                        lines_deleted: 0,
                    }],
                },
                EventBody::Result(RunResult {
                    duration_ms: 2300,
                    total_cost_usd: 0.0123,
                    num_turns: 2,
                    ..RunResult::default()
                }),
                EventBody::Completed {},
            ],
        );
        let mut r = Renderer::new(Style::default());
        assert_eq!(
            render(&mut r, &evs),
            vec![
                "· agent started (claude-test)",
                "I'll write the file.",
                "→ Bash printf hello > out.txt",
                "Wrote hello to out.txt.",
                "· files: +out.txt",
                "✓ completed in 2.3s · $0.0123",
            ]
        );
    }

    #[test]
    fn tool_errors_are_marked_with_the_tools_name() {
        let evs = events(
            Uuid::from_u128(1),
            vec![
                EventBody::ToolUse {
                    tool_use_id: "t1".into(),
                    name: "Read".into(),
                    input: json!({"file_path": "/w/missing.txt"}),
                    parent_tool_use_id: None,
                },
                EventBody::ToolResult {
                    tool_use_id: "t1".into(),
                    content: json!([{"type": "text", "text": "File does not exist.\nmore"}]),
                    is_error: true,
                    parent_tool_use_id: None,
                },
                EventBody::ToolUse {
                    tool_use_id: "t2".into(),
                    name: "Bash".into(),
                    input: json!({"command": "sleep 60"}),
                    parent_tool_use_id: None,
                },
                EventBody::ToolResult {
                    tool_use_id: "t2".into(),
                    content: json!("<tool_use_error>Blocked: standalone sleep 60</tool_use_error>"),
                    is_error: true,
                    parent_tool_use_id: None,
                },
                EventBody::Failed {
                    error: "the agent gave up".into(),
                },
            ],
        );
        let mut r = Renderer::new(Style::default());
        assert_eq!(
            render(&mut r, &evs),
            vec![
                "→ Read /w/missing.txt",
                "✗ Read failed: File does not exist.…",
                "→ Bash sleep 60",
                "✗ Bash failed: Blocked: standalone sleep 60",
                "✗ failed: the agent gave up",
            ]
        );
    }

    #[test]
    fn each_run_of_a_session_gets_its_prompt_as_a_header() {
        let (a, b) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let mut evs = events(
            a,
            vec![
                EventBody::AssistantText {
                    text: "one".into(),
                    parent_tool_use_id: None,
                },
                EventBody::Canceled {
                    reason: Some("canceled by the user".into()),
                },
            ],
        );
        evs.extend(events(
            b,
            vec![
                EventBody::TodoUpdate {
                    todos: vec![
                        TodoItem {
                            content: "x".into(),
                            status: "completed".into(),
                            active_form: None,
                        },
                        TodoItem {
                            content: "y".into(),
                            status: "pending".into(),
                            active_form: None,
                        },
                    ],
                },
                EventBody::Completed {},
            ],
        ));
        let prompts = HashMap::from([(a, "first task".to_owned()), (b, "second\ntask".to_owned())]);
        let mut r = Renderer::new(Style::default()).with_prompts(prompts);
        assert_eq!(
            render(&mut r, &evs),
            vec![
                "› first task",
                "one",
                "■ canceled: canceled by the user",
                "› second…",
                "· todo: 1/2 done",
                "✓ completed",
            ]
        );
    }

    #[test]
    fn colors_only_when_asked() {
        let evs = events(Uuid::from_u128(1), vec![EventBody::Completed {}]);
        let mut r = Renderer::new(Style { color: true });
        assert_eq!(render(&mut r, &evs), vec!["\x1b[32m✓ completed\x1b[0m"]);
    }

    #[test]
    fn tool_summaries() {
        assert_eq!(
            tool_summary("Bash", &json!({"command": "ls -la\necho hi"})),
            "ls -la…"
        );
        assert_eq!(
            tool_summary("Edit", &json!({"file_path": "src/a.rs", "old_string": "x"})),
            "src/a.rs"
        );
        assert_eq!(
            tool_summary("Grep", &json!({"pattern": "fn main", "path": "src"})),
            "fn main in src"
        );
        assert_eq!(
            tool_summary("mcp__x__lookup", &json!({"n": 3, "q": "rust"})),
            "rust"
        );
        assert_eq!(tool_summary("Odd", &json!({"n": 3})), "{\"n\":3}");
        assert_eq!(tool_summary("Odd", &json!({})), "");
        let long = "x".repeat(300);
        assert_eq!(
            tool_summary("Bash", &json!({ "command": long }))
                .chars()
                .count(),
            SUMMARY_CHARS + 1
        );
    }

    #[test]
    fn a_run_without_a_final_event_ends_from_its_record() {
        let run: RunView = serde_json::from_value(json!({
            "id": Uuid::from_u128(1), "session_id": Uuid::nil(), "prompt": "p",
            "status": "canceled", "model": null, "permission_mode": "bypassPermissions",
            "attempts": 0, "max_attempts": 3, "error": "canceled before it started",
            "created_at": at(0), "scheduled_at": at(0), "started_at": null,
            "finished_at": at(1), "usage": null
        }))
        .unwrap();
        assert_eq!(
            run_end_line(Style::default(), &run),
            "■ canceled: canceled before it started"
        );
    }

    #[test]
    fn units() {
        assert_eq!(duration(850), "850ms");
        assert_eq!(duration(2150), "2.1s");
        assert_eq!(duration(65_000), "1m05s");
        assert_eq!(duration(7_380_000), "2h03m");
        assert_eq!(size(5), "5 B");
        assert_eq!(size(1536), "1.5 KiB");
        assert_eq!(size(3 * 1024 * 1024), "3.0 MiB");
        assert_eq!(ago(at(0), at(12)), "12s ago");
        assert_eq!(ago(at(0), at(300)), "5m ago");
        assert_eq!(ago(at(0), at(2 * 86_400)), "2d ago");
        assert_eq!(ago(at(0), at(90 * 86_400)), "2023-11-14");
    }

    #[test]
    fn tables() {
        let session: SessionView = serde_json::from_value(json!({
            "id": Uuid::from_u128(7), "title": "Write hello", "status": "completed",
            "config": {}, "created_at": at(0), "updated_at": at(0)
        }))
        .unwrap();
        assert_eq!(
            sessions_table(&[session], at(120)),
            vec![
                "ID                                    STATUS     UPDATED   TITLE",
                "00000000-0000-0000-0000-000000000007  completed  2m ago    Write hello",
            ]
        );
        let files: RunFiles = serde_json::from_value(json!({
            "run_id": Uuid::nil(), "export_status": "ready", "expires_at": null,
            "files": [
                {"path": "out.txt", "size": 5, "sha256": "x", "content_type": "text/plain",
                 "change": "added", "url": "http://s3/x"},
                {"path": "old.txt", "size": 0, "sha256": "", "content_type": "",
                 "change": "deleted", "url": null}
            ]
        }))
        .unwrap();
        assert_eq!(
            files_table(&files),
            vec![
                "      SIZE  CHANGE     PATH",
                "       5 B  added      out.txt",
                "         -  deleted    old.txt",
            ]
        );
    }
}
