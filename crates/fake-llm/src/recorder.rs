//! Recording of every request the server received, so tests can assert on
//! what a client really sent (e.g. that a resumed turn carries the earlier
//! conversation, or that a tool_result came back).

use std::collections::BTreeMap;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What a request was, as the server understood it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestKind {
    /// A `/v1/messages` request that is part of a conversation: answered from
    /// the scenario.
    Turn,
    /// A `/v1/messages` request the CLI makes on the side (session title,
    /// quota probe, ...): answered with something harmless, never a turn.
    Side,
    /// `/v1/messages/count_tokens`.
    CountTokens,
    /// The OpenAI-compatible `/v1/chat/completions`.
    ChatCompletions,
    /// Anything else (connectivity checks, unknown paths, rejected requests
    /// before they were classified).
    Other,
}

/// One received request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedRequest {
    /// Arrival order, starting at 1.
    pub seq: u64,
    pub time: DateTime<Utc>,
    pub method: String,
    pub path: String,
    /// Raw query string without `?` (the CLI sends `beta=true`).
    pub query: Option<String>,
    /// Lower-cased header names. `x-api-key` and `authorization` values are
    /// replaced by `[redacted:valid]` / `[redacted:invalid]` (bearer tokens
    /// keep their `Bearer ` prefix), so a test can still see which was sent.
    pub headers: BTreeMap<String, String>,
    /// The body when it was JSON.
    pub body: Option<Value>,
    /// The body as (lossy) text when it was not empty and not JSON.
    pub raw_body: Option<String>,
    /// Response status (for streams: the status of the response head).
    pub status: Option<u16>,
    pub kind: RequestKind,
    /// Scenario that answered (conversation turns only).
    pub scenario: Option<String>,
    /// Turn index that answered (conversation turns only).
    pub turn: Option<usize>,
}

impl RecordedRequest {
    /// The `messages` array of the body (empty if none).
    pub fn messages(&self) -> &[Value] {
        self.body
            .as_ref()
            .and_then(|body| body.get("messages"))
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// The `model` field of the body.
    pub fn model(&self) -> Option<&str> {
        self.body
            .as_ref()
            .and_then(|body| body.get("model"))
            .and_then(Value::as_str)
    }

    /// All text of the body's `system` field (a subagent's request carries its
    /// agent file's body here).
    pub fn system_text(&self) -> String {
        self.body
            .as_ref()
            .and_then(|body| body.get("system"))
            .map(crate::scenario::content_text)
            .unwrap_or_default()
    }

    /// The names of the tools the request offers the model, in order.
    pub fn tool_names(&self) -> Vec<&str> {
        self.body
            .as_ref()
            .and_then(|body| body.get("tools"))
            .and_then(Value::as_array)
            .map(|tools| {
                tools
                    .iter()
                    .filter_map(|tool| tool.get("name").and_then(Value::as_str))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The text of every user message (string contents and `text` blocks,
    /// `<system-reminder>` blocks included), joined by newlines: what the CLI
    /// told the model besides the system prompt (skills and agents listings,
    /// `CLAUDE.md`, an expanded slash command).
    pub fn user_text(&self) -> String {
        self.messages()
            .iter()
            .filter(|message| message.get("role").and_then(Value::as_str) == Some("user"))
            .filter_map(|message| message.get("content"))
            .map(crate::scenario::content_text)
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Number of assistant messages in the body.
    pub fn assistant_count(&self) -> usize {
        crate::scenario::assistant_count(self.messages())
    }

    /// Whether `needle` occurs anywhere in the body's JSON text (handy for
    /// "the resumed request carries the earlier prompt").
    pub fn body_contains(&self, needle: &str) -> bool {
        match (&self.body, &self.raw_body) {
            (Some(body), _) => body.to_string().contains(needle),
            (None, Some(raw)) => raw.contains(needle),
            (None, None) => false,
        }
    }

    /// All content blocks of the given type in the messages, e.g.
    /// `"tool_result"` or `"tool_use"`.
    pub fn content_blocks(&self, block_type: &str) -> Vec<&Value> {
        self.messages()
            .iter()
            .filter_map(|message| message.get("content").and_then(Value::as_array))
            .flatten()
            .filter(|block| block.get("type").and_then(Value::as_str) == Some(block_type))
            .collect()
    }

    /// A header value (name is case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }
}

/// Details a handler learns about a request after it was recorded.
#[derive(Debug, Clone, Default)]
pub struct Annotation {
    pub kind: Option<RequestKind>,
    pub scenario: Option<String>,
    pub turn: Option<usize>,
}

/// Thread-safe, append-only (until reset) list of requests.
#[derive(Debug, Default)]
pub struct Recorder {
    inner: Mutex<RecorderInner>,
}

#[derive(Debug, Default)]
struct RecorderInner {
    next_seq: u64,
    requests: Vec<RecordedRequest>,
}

impl Recorder {
    /// Stores a request and returns its sequence number for later updates.
    pub fn push(&self, mut request: RecordedRequest) -> u64 {
        let mut inner = self.lock();
        inner.next_seq += 1;
        request.seq = inner.next_seq;
        inner.requests.push(request);
        inner.next_seq
    }

    /// Adds what the handler found out (kind, scenario, turn).
    pub fn annotate(&self, seq: u64, annotation: Annotation) {
        self.update(seq, |request| {
            if let Some(kind) = annotation.kind {
                request.kind = kind;
            }
            if annotation.scenario.is_some() {
                request.scenario = annotation.scenario;
            }
            if annotation.turn.is_some() {
                request.turn = annotation.turn;
            }
        });
    }

    /// Stores the response status.
    pub fn set_status(&self, seq: u64, status: u16) {
        self.update(seq, |request| request.status = Some(status));
    }

    /// A copy of all requests, oldest first.
    pub fn snapshot(&self) -> Vec<RecordedRequest> {
        self.lock().requests.clone()
    }

    /// Forgets all requests (sequence numbers keep growing, so a test never
    /// confuses a request from before a reset with one after).
    pub fn clear(&self) {
        self.lock().requests.clear();
    }

    fn update(&self, seq: u64, change: impl FnOnce(&mut RecordedRequest)) {
        let mut inner = self.lock();
        if let Some(request) = inner.requests.iter_mut().rev().find(|r| r.seq == seq) {
            change(request);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, RecorderInner> {
        // A panic while holding the lock cannot leave the Vec half-updated in
        // a way that matters for a test log, so poisoning is ignored.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
