//! Scenario files: what the fake model answers, turn by turn.
//!
//! A *scenario* is a list of turns; a *turn* is one model response (a list of
//! content blocks, or an error). The turn to play is chosen **statelessly from
//! the request**: its index is the number of `assistant` messages already in the
//! request's `messages` array. Many CLI runs can therefore share one server, and
//! a resumed conversation (which re-sends its history) continues where it left
//! off. The scenario is picked by its `system_contains` text when the request's
//! system prompt holds it (a subagent's conversation: its system prompt is the
//! agent file's body), else by a `[scenario:NAME]` marker in the conversation's
//! opening user text, else `default`.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, Result};

/// Name of the scenario used when the conversation carries no marker.
pub const DEFAULT_SCENARIO: &str = "default";

/// Text answered once a conversation has used up its scenario's turns.
pub const FINISHED_TEXT: &str = "(scenario finished)";

/// The whole content of a scenario file (JSON or TOML).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    /// Named scenarios; `default` is used when no marker matches.
    #[serde(default)]
    pub scenarios: BTreeMap<String, Scenario>,

    /// Reply of the OpenAI-compatible `/v1/chat/completions` endpoint (used
    /// for session titles). When absent, the first few words of the first user
    /// message are answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chat_reply: Option<String>,

    /// Makes `/v1/chat/completions` fail, to test title-generation fallbacks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chat_error: Option<ChatError>,

    /// Delay before `/v1/chat/completions` answers, to test client timeouts.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub chat_delay_ms: u64,
}

/// One named script of model turns.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Turn `i` answers the request that already holds `i` assistant messages.
    #[serde(default)]
    pub turns: Vec<Turn>,

    /// Answers every conversation whose `system` prompt contains this text,
    /// before any marker is looked at. The Claude Code CLI runs a subagent as
    /// its own conversation with the agent file's body as the system prompt and
    /// the main agent's words as the prompt, so this is how a test scripts a
    /// subagent's turns without relying on what the main agent passes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_contains: Option<String>,
}

/// One model response.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Turn {
    /// Content blocks of the assistant message, in order.
    #[serde(default)]
    pub blocks: Vec<Block>,

    /// Wait this long before sending anything (time to first byte).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub delay_ms: u64,

    /// Wait this long between two streamed events, to exercise clients that
    /// render partial output or enforce idle timeouts.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub chunk_delay_ms: u64,

    /// Overrides the stop reason (default: `tool_use` when the turn has a
    /// tool_use block, else `end_turn`). E.g. `max_tokens`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_reason: Option<String>,

    /// Token counts reported for this turn; unset fields are estimated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<UsageSpec>,

    /// Answer an API error instead of (or, with `times`, before) the blocks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<TurnError>,
}

/// A content block of a scripted turn.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Block {
    /// Plain assistant text (streamed as `text_delta`s).
    Text { text: String },
    /// Extended thinking (streamed as `thinking_delta`s then one
    /// `signature_delta`; a signature is made up when not given).
    Thinking {
        thinking: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        signature: Option<String>,
    },
    /// A tool call (streamed as `input_json_delta` chunks). The id is made up
    /// when not given; give one only if a test needs to know it in advance.
    ToolUse {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        name: String,
        #[serde(default = "empty_object")]
        input: Value,
    },
}

/// Token counts of one turn. Every field is optional; missing ones are
/// estimated from the request and response sizes (about 4 bytes per token).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsageSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_creation_input_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_read_input_tokens: Option<u64>,
}

/// An API error answered instead of a message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TurnError {
    /// HTTP status (400, 401, 403, 404, 413, 429, 500, 529, ...).
    pub status: u16,
    /// Error type; derived from the status when absent
    /// (429 -> `rate_limit_error`, 529 -> `overloaded_error`, ...).
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Error message; a generic one for the type when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Fail only the first `times` attempts of this turn *in one conversation*
    /// (conversations are told apart by the CLI's session id), then play the
    /// turn's blocks. Lets a test check that a client retries transient
    /// errors. Absent: fail every time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<u32>,
    /// Send the error as an `event: error` inside a 200 event stream (after
    /// `message_start`), as the real API does for errors that happen mid-way.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub in_stream: bool,
    /// Value of the `x-should-retry` header the Anthropic SDKs obey (absent:
    /// no header, the SDK decides from the status).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub should_retry: Option<bool>,
    /// Adds `retry-after-ms` (and `retry-after`) headers so SDK retries are
    /// quick in tests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<u64>,
}

/// Failure of the OpenAI-compatible endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChatError {
    /// HTTP status, 500 by default.
    #[serde(default = "default_chat_error_status")]
    pub status: u16,
    /// Error message in OpenAI's error shape.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

fn default_chat_error_status() -> u16 {
    500
}

fn empty_object() -> Value {
    Value::Object(serde_json::Map::new())
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

impl ScenarioFile {
    /// Reads a scenario file; `.toml` files are TOML, anything else JSON.
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| Error::ReadScenarios {
            path: path.to_path_buf(),
            source,
        })?;
        let origin = path.display().to_string();
        let is_toml = path
            .extension()
            .is_some_and(|ext| ext.eq_ignore_ascii_case("toml"));
        if is_toml {
            Self::from_toml_str(&text, &origin)
        } else {
            Self::from_json_str(&text, &origin)
        }
    }

    /// Parses and validates the JSON form; `origin` only names it in errors.
    pub fn from_json_str(text: &str, origin: &str) -> Result<Self> {
        let file: Self = serde_json::from_str(text).map_err(|source| Error::ScenarioJson {
            origin: origin.to_string(),
            source,
        })?;
        file.validate()?;
        Ok(file)
    }

    /// Parses and validates the TOML form; `origin` only names it in errors.
    pub fn from_toml_str(text: &str, origin: &str) -> Result<Self> {
        let file: Self = toml::from_str(text).map_err(|source| Error::ScenarioToml {
            origin: origin.to_string(),
            source,
        })?;
        file.validate()?;
        Ok(file)
    }

    /// Parses and validates an already-decoded JSON value (used by
    /// `PUT /_admin/scenarios`).
    pub fn from_json_value(value: Value) -> Result<Self> {
        let file: Self = serde_json::from_value(value).map_err(|source| Error::ScenarioJson {
            origin: "request body".to_string(),
            source,
        })?;
        file.validate()?;
        Ok(file)
    }

    /// A file holding only a `default` scenario with these turns.
    pub fn single(turns: Vec<Turn>) -> Self {
        Self::default().with_scenario(DEFAULT_SCENARIO, turns)
    }

    /// Builder: adds (or replaces) the scenario `name`.
    pub fn with_scenario(mut self, name: impl Into<String>, turns: Vec<Turn>) -> Self {
        self.scenarios.insert(
            name.into(),
            Scenario {
                turns,
                system_contains: None,
            },
        );
        self
    }

    /// Builder: adds (or replaces) the scenario `name`, chosen for every
    /// conversation whose system prompt contains `system_contains` (see
    /// [`Scenario::system_contains`]).
    pub fn with_system_scenario(
        mut self,
        name: impl Into<String>,
        system_contains: impl Into<String>,
        turns: Vec<Turn>,
    ) -> Self {
        self.scenarios.insert(
            name.into(),
            Scenario {
                turns,
                system_contains: Some(system_contains.into()),
            },
        );
        self
    }

    /// Rejects what cannot be played, so mistakes surface when the file is
    /// loaded instead of as a confusing answer in the middle of a test.
    pub fn validate(&self) -> Result<()> {
        for (name, scenario) in &self.scenarios {
            if !is_valid_scenario_name(name) {
                return Err(Error::InvalidScenario(format!(
                    "scenario name {name:?} may only contain letters, digits, '_', '-' and '.'"
                )));
            }
            if scenario
                .system_contains
                .as_deref()
                .is_some_and(|text| text.trim().is_empty())
            {
                return Err(Error::InvalidScenario(format!(
                    "scenario {name:?}: system_contains must not be empty (it would match every request)"
                )));
            }
            for (index, turn) in scenario.turns.iter().enumerate() {
                if let Some(error) = &turn.error {
                    if !(400..=599).contains(&error.status) {
                        return Err(Error::InvalidScenario(format!(
                            "scenario {name:?} turn {index}: error status {} is not 4xx/5xx",
                            error.status
                        )));
                    }
                    if error.times.is_some() && turn.blocks.is_empty() {
                        return Err(Error::InvalidScenario(format!(
                            "scenario {name:?} turn {index}: an error with `times` needs blocks to play afterwards"
                        )));
                    }
                } else if turn.blocks.is_empty() {
                    return Err(Error::InvalidScenario(format!(
                        "scenario {name:?} turn {index}: a turn needs blocks or an error"
                    )));
                }
            }
        }
        if let Some(error) = &self.chat_error
            && !(400..=599).contains(&error.status)
        {
            return Err(Error::InvalidScenario(format!(
                "chat_error status {} is not 4xx/5xx",
                error.status
            )));
        }
        Ok(())
    }
}

impl Turn {
    /// A turn answering one text block.
    pub fn text(text: impl Into<String>) -> Self {
        Self {
            blocks: vec![Block::text(text)],
            ..Self::default()
        }
    }

    /// A turn made of these blocks.
    pub fn blocks(blocks: Vec<Block>) -> Self {
        Self {
            blocks,
            ..Self::default()
        }
    }

    /// A turn answering an error with this status (type and message derived).
    pub fn error(status: u16) -> Self {
        Self {
            error: Some(TurnError {
                status,
                kind: None,
                message: None,
                times: None,
                in_stream: false,
                should_retry: None,
                retry_after_ms: None,
            }),
            ..Self::default()
        }
    }

    /// The stop reason this turn reports.
    pub fn effective_stop_reason(&self) -> String {
        if let Some(reason) = &self.stop_reason {
            return reason.clone();
        }
        let has_tool_use = self
            .blocks
            .iter()
            .any(|block| matches!(block, Block::ToolUse { .. }));
        if has_tool_use { "tool_use" } else { "end_turn" }.to_string()
    }
}

impl Block {
    /// A text block.
    pub fn text(text: impl Into<String>) -> Self {
        Self::Text { text: text.into() }
    }

    /// A thinking block with a made-up signature.
    pub fn thinking(thinking: impl Into<String>) -> Self {
        Self::Thinking {
            thinking: thinking.into(),
            signature: None,
        }
    }

    /// A tool call with a made-up id.
    pub fn tool_use(name: impl Into<String>, input: Value) -> Self {
        Self::ToolUse {
            id: None,
            name: name.into(),
            input,
        }
    }
}

impl TurnError {
    /// The error type, from the field or else from the status, with the
    /// mapping the real API uses.
    pub fn effective_kind(&self) -> String {
        self.kind
            .clone()
            .unwrap_or_else(|| error_type_for_status(self.status).to_string())
    }

    /// The error message, from the field or else a generic one for the type.
    pub fn effective_message(&self) -> String {
        self.message
            .clone()
            .unwrap_or_else(|| default_error_message(&self.effective_kind()).to_string())
    }
}

/// The error type the real API uses for an HTTP status.
pub fn error_type_for_status(status: u16) -> &'static str {
    match status {
        400 => "invalid_request_error",
        401 => "authentication_error",
        402 => "billing_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        504 => "timeout_error",
        529 => "overloaded_error",
        s if s >= 500 => "api_error",
        _ => "invalid_request_error",
    }
}

/// A generic message for an error type, close to what the real API says.
pub fn default_error_message(kind: &str) -> &'static str {
    match kind {
        "authentication_error" => "invalid x-api-key",
        "permission_error" => {
            "Your API key does not have permission to use the specified resource."
        }
        "not_found_error" => "Not Found",
        "request_too_large" => "Request exceeds the maximum allowed number of bytes.",
        "rate_limit_error" => "Number of request tokens has exceeded your per-minute rate limit",
        "overloaded_error" => "Overloaded",
        "api_error" => "Internal server error",
        "timeout_error" => "Request timed out",
        "billing_error" => "Your credit balance is too low to access the Anthropic API.",
        _ => "Invalid request",
    }
}

fn is_valid_scenario_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// Finds the first `[scenario:NAME]` marker in `text`.
pub fn find_marker(text: &str) -> Option<&str> {
    const OPEN: &str = "[scenario:";
    let mut rest = text;
    while let Some(start) = rest.find(OPEN) {
        let after = &rest[start + OPEN.len()..];
        if let Some(end) = after.find(']') {
            let name = after[..end].trim();
            if is_valid_scenario_name(name) {
                return Some(name);
            }
        }
        rest = after;
    }
    None
}

/// Removes every `[scenario:NAME]` marker (used when a reply quotes the
/// user's words, e.g. a derived title).
pub fn strip_markers(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("[scenario:") {
        out.push_str(&rest[..start]);
        let after = &rest[start..];
        match after.find(']') {
            Some(end) => rest = &after[end + 1..],
            None => {
                rest = after;
                break;
            }
        }
    }
    out.push_str(rest);
    out
}

/// All the text of a message's `content` (a string, or an array of blocks of
/// which only `text` blocks count), joined by newlines.
pub fn content_text(content: &Value) -> String {
    match content {
        Value::String(text) => text.clone(),
        Value::Array(blocks) => blocks
            .iter()
            .filter(|block| block.get("type").and_then(Value::as_str) == Some("text"))
            .filter_map(|block| block.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

/// The conversation's opening user text: every user message before the first
/// assistant message. The CLI puts `<system-reminder>` blocks (and, for some
/// models, `system`-role messages) around the prompt, so "the first block of
/// the first message" is not reliable.
pub fn opening_user_text(messages: &[Value]) -> String {
    messages
        .iter()
        .take_while(|message| role(message) != Some("assistant"))
        .filter(|message| role(message) == Some("user"))
        .filter_map(|message| message.get("content"))
        .map(content_text)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Number of assistant messages: the index of the turn to play.
pub fn assistant_count(messages: &[Value]) -> usize {
    messages
        .iter()
        .filter(|message| role(message) == Some("assistant"))
        .count()
}

fn role(message: &Value) -> Option<&str> {
    message.get("role").and_then(Value::as_str)
}

/// What to answer to one conversation request.
#[derive(Debug, Clone, PartialEq)]
pub enum Selection {
    /// Play this turn of this scenario.
    Turn {
        scenario: String,
        index: usize,
        turn: Turn,
    },
    /// The scenario has no turn left: answer [`FINISHED_TEXT`].
    Finished { scenario: String, index: usize },
    /// The marker names a scenario the file does not have.
    UnknownScenario { name: String, known: Vec<String> },
}

impl ScenarioFile {
    /// Chooses the answer for a conversation request from its messages only
    /// (no system prompt: `system_contains` scenarios never match).
    pub fn select(&self, messages: &[Value]) -> Selection {
        self.select_for("", messages)
    }

    /// Chooses the answer for a conversation request from its system prompt's
    /// text and its messages: the first scenario (by name) whose
    /// `system_contains` occurs in `system`, else the marker's, else `default`.
    pub fn select_for(&self, system: &str, messages: &[Value]) -> Selection {
        let by_system = self.scenarios.iter().find_map(|(name, scenario)| {
            scenario
                .system_contains
                .as_deref()
                .filter(|text| system.contains(text))
                .map(|_| name.clone())
        });
        let opening = opening_user_text(messages);
        let name = by_system.unwrap_or_else(|| {
            find_marker(&opening)
                .unwrap_or(DEFAULT_SCENARIO)
                .to_string()
        });
        let index = assistant_count(messages);
        let Some(scenario) = self.scenarios.get(&name) else {
            if name == DEFAULT_SCENARIO {
                // No default scenario: every conversation is immediately over.
                return Selection::Finished {
                    scenario: name,
                    index,
                };
            }
            return Selection::UnknownScenario {
                name,
                known: self.scenarios.keys().cloned().collect(),
            };
        };
        match scenario.turns.get(index) {
            Some(turn) => Selection::Turn {
                scenario: name,
                index,
                turn: turn.clone(),
            },
            None => Selection::Finished {
                scenario: name,
                index,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn marker_is_found_and_stripped() {
        assert_eq!(find_marker("x [scenario:write_file] y"), Some("write_file"));
        assert_eq!(find_marker("[scenario:bad name] [scenario:ok]"), Some("ok"));
        assert_eq!(find_marker("no marker"), None);
        assert_eq!(
            strip_markers("[scenario:a] hello [scenario:b]world"),
            " hello world"
        );
    }

    #[test]
    fn selection_counts_assistant_messages() {
        let file = ScenarioFile::single(vec![Turn::text("one"), Turn::text("two")])
            .with_scenario("other", vec![Turn::text("other one")]);
        let first = vec![json!({"role": "user", "content": "hi"})];
        assert!(matches!(
            file.select(&first),
            Selection::Turn { index: 0, .. }
        ));
        let second = vec![
            json!({"role": "user", "content": [{"type": "text", "text": "hi"}]}),
            json!({"role": "assistant", "content": "one"}),
            json!({"role": "user", "content": "more"}),
        ];
        match file.select(&second) {
            Selection::Turn { index, turn, .. } => {
                assert_eq!(index, 1);
                assert_eq!(turn, Turn::text("two"));
            }
            other => panic!("unexpected {other:?}"),
        }
        let marked = vec![
            json!({"role": "user", "content": [{"type": "text", "text": "<system-reminder>x</system-reminder>"}, {"type": "text", "text": "[scenario:other] go"}]}),
            json!({"role": "assistant", "content": "x"}),
        ];
        assert!(matches!(
            file.select(&marked),
            Selection::Finished { index: 1, .. }
        ));
        let unknown = vec![json!({"role": "user", "content": "[scenario:nope]"})];
        assert!(matches!(
            file.select(&unknown),
            Selection::UnknownScenario { .. }
        ));
    }

    #[test]
    fn a_system_prompt_picks_its_scenario_before_any_marker() {
        let file = ScenarioFile::single(vec![Turn::text("main")])
            .with_scenario("marked", vec![Turn::text("marked")])
            .with_system_scenario("sub", "You are the counter", vec![Turn::text("sub")]);
        let marked = vec![json!({"role": "user", "content": "[scenario:marked] go"})];
        let turn = |selection: Selection| match selection {
            Selection::Turn { scenario, turn, .. } => (scenario, turn),
            other => panic!("unexpected {other:?}"),
        };
        assert_eq!(turn(file.select(&marked)).0, "marked");
        assert_eq!(
            turn(file.select_for("Some agent. You are the counter.", &marked)),
            ("sub".to_owned(), Turn::text("sub"))
        );
        assert_eq!(turn(file.select_for("another agent", &marked)).0, "marked");
        let empty = ScenarioFile::default().with_system_scenario("x", " ", vec![Turn::text("x")]);
        assert!(empty.validate().is_err());
        let json = r#"{"scenarios": {"sub": {"system_contains": "counter", "turns": [{"blocks": [{"type": "text", "text": "3"}]}]}}}"#;
        let parsed = ScenarioFile::from_json_str(json, "inline").unwrap();
        assert_eq!(
            parsed.scenarios["sub"].system_contains.as_deref(),
            Some("counter")
        );
    }

    #[test]
    fn validation_rejects_empty_turns() {
        let file = ScenarioFile::single(vec![Turn::default()]);
        assert!(file.validate().is_err());
        let toml = r#"
            chat_reply = "A title"
            [[scenarios.default.turns]]
            blocks = [{ type = "text", text = "hi" }]
        "#;
        let parsed = ScenarioFile::from_toml_str(toml, "inline").expect("toml parses");
        assert_eq!(parsed.chat_reply.as_deref(), Some("A title"));
        assert_eq!(parsed.scenarios["default"].turns[0], Turn::text("hi"));
    }
}
