//! Server-sent events in the exact framing and order of the real Messages API.
//!
//! A finished message (the same JSON a non-streaming request gets) is turned
//! into `message_start`, `ping`, per-block `content_block_start` /
//! `content_block_delta`* / `content_block_stop`, `message_delta` and
//! `message_stop`. Text and thinking are cut into several deltas and tool
//! input into a few `input_json_delta` pieces, because clients must
//! reassemble them and a test server that sends everything in one delta would
//! hide bugs there.

use bytes::Bytes;
use serde_json::{Value, json};

/// Characters per text/thinking delta.
pub const TEXT_CHUNK_CHARS: usize = 24;

/// Number of pieces a tool input's JSON is cut into (after the empty first
/// piece the real API sends).
pub const TOOL_JSON_PIECES: usize = 3;

/// One SSE event: `event: NAME` + `data: JSON`.
#[derive(Debug, Clone, PartialEq)]
pub struct SseEvent {
    pub event: String,
    pub data: Value,
}

impl SseEvent {
    fn new(event: &str, data: Value) -> Self {
        Self {
            event: event.to_string(),
            data,
        }
    }

    /// Wire form: `event: NAME\ndata: JSON\n\n`.
    pub fn encode(&self) -> Bytes {
        Bytes::from(format!(
            "event: {}\ndata: {}\n\n",
            self.event,
            to_wire_json(&self.data)
        ))
    }
}

/// Compact JSON with every object's `"type"` key first, as the real API
/// writes it (`{"type":"content_block_delta",...}`); `serde_json` would
/// otherwise sort keys alphabetically. Streaming parsers that look at the
/// discriminator first see the familiar shape.
pub fn to_wire_json(value: &Value) -> String {
    let mut out = String::new();
    write_wire_json(value, &mut out);
    out
}

fn write_wire_json(value: &Value, out: &mut String) {
    match value {
        Value::Object(object) => {
            out.push('{');
            let typed = object.get_key_value("type").into_iter();
            let rest = object.iter().filter(|(key, _)| key.as_str() != "type");
            for (position, (key, item)) in typed.chain(rest).enumerate() {
                if position > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write_wire_json(item, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (position, item) in items.iter().enumerate() {
                if position > 0 {
                    out.push(',');
                }
                write_wire_json(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// A JSON response body written by [`to_wire_json`].
pub fn json_response(status: axum::http::StatusCode, value: &Value) -> axum::response::Response {
    let mut response = axum::response::Response::new(axum::body::Body::from(to_wire_json(value)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/json"),
    );
    response
}

/// The `event: error` the real API sends when a stream fails after it began.
pub fn error_event(kind: &str, message: &str) -> SseEvent {
    SseEvent::new(
        "error",
        json!({"type": "error", "error": {"type": kind, "message": message}}),
    )
}

/// The opening of a stream: `message_start` (empty content, no stop reason,
/// usage with the input counts and a placeholder output count) and a `ping`.
pub fn opening_events(message: &Value) -> Vec<SseEvent> {
    let mut head = message.clone();
    if let Some(object) = head.as_object_mut() {
        object.insert("content".into(), json!([]));
        object.insert("stop_reason".into(), Value::Null);
        object.insert("stop_sequence".into(), Value::Null);
        if let Some(usage) = object.get_mut("usage").and_then(Value::as_object_mut) {
            usage.insert("output_tokens".into(), json!(1));
        }
    }
    vec![
        SseEvent::new(
            "message_start",
            json!({"type": "message_start", "message": head}),
        ),
        SseEvent::new("ping", json!({"type": "ping"})),
    ]
}

/// Every event of a complete message, in order.
pub fn message_events(message: &Value) -> Vec<SseEvent> {
    let mut events = opening_events(message);
    let blocks = message
        .get("content")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    for (index, block) in blocks.iter().enumerate() {
        events.extend(block_events(index, block));
    }
    let usage = message.get("usage").cloned().unwrap_or_else(|| json!({}));
    let mut delta_usage = serde_json::Map::new();
    for key in [
        "input_tokens",
        "cache_creation_input_tokens",
        "cache_read_input_tokens",
        "output_tokens",
    ] {
        if let Some(value) = usage.get(key) {
            delta_usage.insert(key.to_string(), value.clone());
        }
    }
    events.push(SseEvent::new(
        "message_delta",
        json!({
            "type": "message_delta",
            "delta": {
                "stop_reason": message.get("stop_reason").cloned().unwrap_or(Value::Null),
                "stop_sequence": Value::Null,
            },
            "usage": delta_usage,
        }),
    ));
    events.push(SseEvent::new(
        "message_stop",
        json!({"type": "message_stop"}),
    ));
    events
}

/// Start, deltas and stop of one content block.
fn block_events(index: usize, block: &Value) -> Vec<SseEvent> {
    let kind = block.get("type").and_then(Value::as_str).unwrap_or("text");
    let str_field = |name: &str| block.get(name).and_then(Value::as_str).unwrap_or("");
    let (start, deltas): (Value, Vec<Value>) = match kind {
        "thinking" => {
            let mut deltas: Vec<Value> = split_chars(str_field("thinking"), TEXT_CHUNK_CHARS)
                .into_iter()
                .map(|piece| json!({"type": "thinking_delta", "thinking": piece}))
                .collect();
            deltas.push(json!({"type": "signature_delta", "signature": str_field("signature")}));
            (
                json!({"type": "thinking", "thinking": "", "signature": ""}),
                deltas,
            )
        }
        "tool_use" => {
            let input = block.get("input").cloned().unwrap_or_else(|| json!({}));
            let input_json = input.to_string();
            let piece_chars = input_json.chars().count().div_ceil(TOOL_JSON_PIECES).max(1);
            let mut deltas = vec![json!({"type": "input_json_delta", "partial_json": ""})];
            deltas.extend(
                split_chars(&input_json, piece_chars)
                    .into_iter()
                    .map(|piece| json!({"type": "input_json_delta", "partial_json": piece})),
            );
            (
                json!({
                    "type": "tool_use",
                    "id": str_field("id"),
                    "name": str_field("name"),
                    "input": {},
                }),
                deltas,
            )
        }
        _ => (
            json!({"type": "text", "text": ""}),
            split_chars(str_field("text"), TEXT_CHUNK_CHARS)
                .into_iter()
                .map(|piece| json!({"type": "text_delta", "text": piece}))
                .collect(),
        ),
    };
    let mut events = vec![SseEvent::new(
        "content_block_start",
        json!({"type": "content_block_start", "index": index, "content_block": start}),
    )];
    events.extend(deltas.into_iter().map(|delta| {
        SseEvent::new(
            "content_block_delta",
            json!({"type": "content_block_delta", "index": index, "delta": delta}),
        )
    }));
    events.push(SseEvent::new(
        "content_block_stop",
        json!({"type": "content_block_stop", "index": index}),
    ));
    events
}

/// Cuts `text` into pieces of at most `max_chars` characters (never inside a
/// UTF-8 sequence). An empty text gives no piece.
pub fn split_chars(text: &str, max_chars: usize) -> Vec<String> {
    let max_chars = max_chars.max(1);
    let mut pieces = Vec::new();
    let mut current = String::new();
    for (count, c) in text.chars().enumerate() {
        if count > 0 && count % max_chars == 0 {
            pieces.push(std::mem::take(&mut current));
        }
        current.push(c);
    }
    if !current.is_empty() {
        pieces.push(current);
    }
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_json_puts_type_first() {
        let value =
            json!({"index": 0, "type": "x", "delta": {"text": "a\"b", "type": "text_delta"}});
        assert_eq!(
            to_wire_json(&value),
            r#"{"type":"x","delta":{"type":"text_delta","text":"a\"b"},"index":0}"#
        );
    }

    #[test]
    fn split_respects_char_boundaries() {
        assert_eq!(split_chars("héllo wörld", 4), vec!["héll", "o wö", "rld"]);
        assert!(split_chars("", 4).is_empty());
    }

    #[test]
    fn events_are_ordered_like_the_real_api() {
        let message = json!({
            "id": "msg_1", "type": "message", "role": "assistant", "model": "m",
            "content": [
                {"type": "thinking", "thinking": "hmm", "signature": "sig"},
                {"type": "text", "text": "hi"},
                {"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {"command": "ls"}},
            ],
            "stop_reason": "tool_use", "stop_sequence": null,
            "usage": {"input_tokens": 5, "output_tokens": 7},
        });
        let names: Vec<String> = message_events(&message)
            .into_iter()
            .map(|e| e.event)
            .collect();
        assert_eq!(names.first().map(String::as_str), Some("message_start"));
        assert_eq!(names.get(1).map(String::as_str), Some("ping"));
        assert_eq!(names.last().map(String::as_str), Some("message_stop"));
        assert_eq!(
            names.iter().filter(|n| *n == "content_block_start").count(),
            3
        );
        assert_eq!(
            names.iter().filter(|n| *n == "content_block_stop").count(),
            3
        );
    }
}
