//! Helpers shared by the integration tests: HTTP calls with the headers the
//! real SDK sends, and an SSE parser that reassembles content blocks the way
//! a client must.

#![allow(dead_code)]

use serde_json::{Value, json};

pub const KEY: &str = "sk-test-key";

/// A client that sends the Anthropic headers.
pub fn client() -> reqwest::Client {
    reqwest::Client::new()
}

/// POST `body` to `url` with the right key and version.
pub async fn post_messages(url: &str, body: &Value) -> reqwest::Response {
    client()
        .post(url)
        .header("x-api-key", KEY)
        .header("anthropic-version", "2023-06-01")
        .json(body)
        .send()
        .await
        .expect("request reaches the server")
}

/// A minimal Messages request body.
pub fn request(messages: Value, stream: bool) -> Value {
    json!({
        "model": "claude-test-model",
        "max_tokens": 1024,
        "stream": stream,
        "tools": [{"name": "Bash", "input_schema": {"type": "object"}}],
        "messages": messages,
    })
}

/// One parsed server-sent event.
#[derive(Debug, Clone)]
pub struct Event {
    pub event: String,
    pub data: Value,
}

/// Splits an SSE body into events (`event:` + `data:` lines, blank-line
/// separated), checking that `data.type` matches the event name as in the
/// real API.
pub fn parse_sse(body: &str) -> Vec<Event> {
    let mut events = Vec::new();
    for frame in body.split("\n\n").filter(|frame| !frame.trim().is_empty()) {
        let mut name = None;
        let mut data = String::new();
        for line in frame.lines() {
            if let Some(rest) = line.strip_prefix("event: ") {
                name = Some(rest.to_string());
            } else if let Some(rest) = line.strip_prefix("data: ") {
                data.push_str(rest);
            } else {
                panic!("unexpected SSE line {line:?}");
            }
        }
        let name = name.expect("every frame has an event line");
        let data: Value = serde_json::from_str(&data).expect("data is JSON");
        assert_eq!(
            data["type"],
            json!(name),
            "data.type matches the event name"
        );
        events.push(Event { event: name, data });
    }
    events
}

/// The message a client reconstructs from the events: content blocks with
/// text/thinking concatenated and tool input JSON reassembled and parsed.
pub fn reassemble(events: &[Event]) -> Value {
    let start = events
        .iter()
        .find(|e| e.event == "message_start")
        .expect("message_start");
    let mut message = start.data["message"].clone();
    let mut blocks: Vec<Value> = Vec::new();
    let mut partial_json: Vec<String> = Vec::new();
    for event in events {
        match event.event.as_str() {
            "content_block_start" => {
                let index = event.data["index"].as_u64().expect("index") as usize;
                assert_eq!(index, blocks.len(), "blocks start in order");
                blocks.push(event.data["content_block"].clone());
                partial_json.push(String::new());
            }
            "content_block_delta" => {
                let index = event.data["index"].as_u64().expect("index") as usize;
                let delta = &event.data["delta"];
                let block = &mut blocks[index];
                match delta["type"].as_str().expect("delta type") {
                    "text_delta" => append(block, "text", &delta["text"]),
                    "thinking_delta" => append(block, "thinking", &delta["thinking"]),
                    "signature_delta" => append(block, "signature", &delta["signature"]),
                    "input_json_delta" => partial_json[index]
                        .push_str(delta["partial_json"].as_str().expect("partial_json")),
                    other => panic!("unknown delta {other}"),
                }
            }
            "content_block_stop" => {
                let index = event.data["index"].as_u64().expect("index") as usize;
                if blocks[index]["type"] == "tool_use" {
                    blocks[index]["input"] =
                        serde_json::from_str(&partial_json[index]).expect("tool input JSON");
                }
            }
            "message_delta" => {
                message["stop_reason"] = event.data["delta"]["stop_reason"].clone();
                message["usage"]["output_tokens"] = event.data["usage"]["output_tokens"].clone();
            }
            _ => {}
        }
    }
    message["content"] = Value::Array(blocks);
    message
}

fn append(block: &mut Value, field: &str, piece: &Value) {
    let current = block[field].as_str().unwrap_or("").to_string();
    block[field] = json!(format!(
        "{current}{}",
        piece.as_str().expect("string delta")
    ));
}

/// Asserts the real API's error shape and returns `error.type`.
pub async fn error_type(response: reqwest::Response, status: u16) -> (String, String) {
    assert_eq!(response.status().as_u16(), status);
    assert!(response.headers().contains_key("request-id"));
    let body: Value = response.json().await.expect("error body is JSON");
    assert_eq!(body["type"], "error", "{body}");
    assert!(
        body["request_id"]
            .as_str()
            .is_some_and(|id| id.starts_with("req_"))
    );
    (
        body["error"]["type"].as_str().expect("type").to_string(),
        body["error"]["message"]
            .as_str()
            .expect("message")
            .to_string(),
    )
}
