//! The Anthropic Messages API: `POST /v1/messages` (streaming and not) and
//! `POST /v1/messages/count_tokens`, with the header checks and error shapes
//! of the real API.
//!
//! Requests are split in two kinds:
//! - **turns**: requests of the agent conversation, answered from the
//!   scenario (see [`crate::scenario`]);
//! - **side requests**: what the Claude Code CLI asks on the side (a session
//!   title with a JSON schema in interactive mode, a `max_tokens: 1` quota
//!   probe and tool-less helper prompts in older versions). They get a
//!   harmless answer and never play a turn. Since turns are chosen statelessly
//!   from the request, side requests cannot shift the turn counter either.

use std::convert::Infallible;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use axum::Extension;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use serde_json::{Value, json};

use crate::recorder::RequestKind;
use crate::scenario::{self, Block, FINISHED_TEXT, Selection, Turn, TurnError, UsageSpec};
use crate::server::{AppState, RequestSeq};
use crate::sse::{self, SseEvent};
use crate::text::{derive_title, estimate_tokens};

/// `anthropic-version` values the real API accepts.
pub const VALID_VERSIONS: &[&str] = &["2023-06-01", "2023-01-01"];

/// An error answered in the real API's shape:
/// `{"type":"error","error":{"type":...,"message":...},"request_id":...}`.
#[derive(Debug, Clone)]
pub struct ApiError {
    status: StatusCode,
    kind: String,
    message: String,
    extra_headers: Vec<(HeaderName, HeaderValue)>,
}

impl ApiError {
    /// An error with this status, type and message.
    pub fn new(status: StatusCode, kind: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            kind: kind.to_string(),
            message: message.into(),
            extra_headers: Vec::new(),
        }
    }

    fn invalid_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request_error", message)
    }

    fn authentication(message: &str) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "authentication_error", message)
    }

    /// The error a scripted error turn asks for.
    fn from_turn(error: &TurnError) -> Self {
        let status =
            StatusCode::from_u16(error.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut api_error = Self::new(status, &error.effective_kind(), error.effective_message());
        if let Some(retry) = error.should_retry {
            api_error.extra_headers.push((
                HeaderName::from_static("x-should-retry"),
                HeaderValue::from_static(if retry { "true" } else { "false" }),
            ));
        }
        if let Some(ms) = error.retry_after_ms {
            if let Ok(value) = HeaderValue::from_str(&ms.to_string()) {
                api_error
                    .extra_headers
                    .push((HeaderName::from_static("retry-after-ms"), value));
            }
            if let Ok(value) = HeaderValue::from_str(&ms.div_ceil(1000).to_string()) {
                api_error.extra_headers.push((header::RETRY_AFTER, value));
            }
        }
        api_error
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let request_id = new_id("req_");
        let body = json!({
            "type": "error",
            "error": {"type": self.kind, "message": self.message},
            "request_id": request_id,
        });
        let mut response = sse::json_response(self.status, &body);
        let headers = response.headers_mut();
        if let Ok(value) = HeaderValue::from_str(&request_id) {
            headers.insert("request-id", value);
        }
        for (name, value) in self.extra_headers {
            headers.insert(name, value);
        }
        response
    }
}

/// Unknown path: the real API's 404.
pub(crate) async fn not_found() -> Response {
    ApiError::new(StatusCode::NOT_FOUND, "not_found_error", "Not Found").into_response()
}

/// Known path, wrong method.
pub(crate) async fn method_not_allowed() -> Response {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "invalid_request_error",
        "Method Not Allowed",
    )
    .into_response()
}

/// Checks the key (`x-api-key`, else `Authorization: Bearer`) and then
/// `anthropic-version`, with the real API's messages.
fn check_headers(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    let header_str = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(key) = header_str("x-api-key") {
        if key != state.api_key {
            return Err(ApiError::authentication("invalid x-api-key"));
        }
    } else if let Some(authorization) = header_str("authorization") {
        let token = authorization.strip_prefix("Bearer ").map(str::trim);
        if token != Some(state.api_key.as_str()) {
            return Err(ApiError::authentication("Invalid bearer token"));
        }
    } else {
        return Err(ApiError::authentication("x-api-key header is required"));
    }
    match headers.get("anthropic-version") {
        None => Err(ApiError::invalid_request(
            "anthropic-version: header is required",
        )),
        Some(value) => {
            let version = String::from_utf8_lossy(value.as_bytes());
            if VALID_VERSIONS.contains(&version.as_ref()) {
                Ok(())
            } else {
                Err(ApiError::invalid_request(format!(
                    "anthropic-version: \"{version}\" is not a valid version"
                )))
            }
        }
    }
}

/// The fields of a Messages request this server looks at; everything else is
/// accepted and ignored, as new CLI versions add fields all the time.
#[derive(Debug)]
struct MessagesRequest {
    model: String,
    max_tokens: Option<u64>,
    messages: Vec<Value>,
    stream: bool,
    body: Value,
    body_len: usize,
}

impl MessagesRequest {
    fn parse(bytes: &[u8], require_max_tokens: bool) -> Result<Self, ApiError> {
        let body: Value = serde_json::from_slice(bytes).map_err(|error| {
            ApiError::invalid_request(format!(
                "There was an error parsing the body of your request: {error}"
            ))
        })?;
        let Some(object) = body.as_object() else {
            return Err(ApiError::invalid_request(
                "Request body must be a JSON object",
            ));
        };
        let model = match object.get("model") {
            Some(Value::String(model)) => model.clone(),
            Some(_) => {
                return Err(ApiError::invalid_request(
                    "model: Input should be a valid string",
                ));
            }
            None => return Err(ApiError::invalid_request("model: Field required")),
        };
        let max_tokens = match object.get("max_tokens") {
            Some(value) => Some(value.as_u64().ok_or_else(|| {
                ApiError::invalid_request("max_tokens: Input should be a valid integer")
            })?),
            None if require_max_tokens => {
                return Err(ApiError::invalid_request("max_tokens: Field required"));
            }
            None => None,
        };
        let messages = match object.get("messages") {
            Some(Value::Array(messages)) => messages.clone(),
            Some(_) => {
                return Err(ApiError::invalid_request(
                    "messages: Input should be a valid list",
                ));
            }
            None => return Err(ApiError::invalid_request("messages: Field required")),
        };
        if messages.is_empty() {
            return Err(ApiError::invalid_request(
                "messages: at least one message is required",
            ));
        }
        let stream = match object.get("stream") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(stream)) => *stream,
            Some(_) => {
                return Err(ApiError::invalid_request(
                    "stream: Input should be a valid boolean",
                ));
            }
        };
        Ok(Self {
            model,
            max_tokens,
            messages,
            stream,
            body_len: bytes.len(),
            body,
        })
    }

    /// Whether this is a side request rather than a conversation turn:
    /// - `max_tokens` of 0 or 1 (the CLI's quota probe);
    /// - a structured-output request (`output_config.format`: the CLI's
    ///   session-title request, sent with `tools: []`);
    /// - no `tools` key at all from the CLI (older CLIs' topic and
    ///   command-prefix helpers). A CLI run with `--tools ""` still sends
    ///   `tools: []`, so it stays a conversation; other clients (tests) may
    ///   omit tools and still get turns.
    fn is_side_request(&self, headers: &HeaderMap) -> bool {
        if self.max_tokens.is_some_and(|max| max <= 1) {
            return true;
        }
        if self.body.pointer("/output_config/format").is_some() {
            return true;
        }
        self.body.get("tools").is_none() && is_claude_cli(headers)
    }

    /// All text of the `system` field.
    fn system_text(&self) -> String {
        match self.body.get("system") {
            Some(system) => scenario::content_text(system),
            None => String::new(),
        }
    }

    /// Identifies the conversation across retries and resumes: the CLI's
    /// session id when present, else a hash of the opening user text.
    fn conversation_key(&self, headers: &HeaderMap) -> String {
        if let Some(user_id) = self
            .body
            .pointer("/metadata/user_id")
            .and_then(Value::as_str)
        {
            // Newer CLIs send a JSON string holding `session_id`.
            if let Ok(Value::Object(parsed)) = serde_json::from_str::<Value>(user_id)
                && let Some(session) = parsed.get("session_id").and_then(Value::as_str)
            {
                return format!("session:{session}");
            }
            return format!("user:{user_id}");
        }
        if let Some(session) = headers
            .get("x-claude-code-session-id")
            .and_then(|v| v.to_str().ok())
        {
            return format!("session:{session}");
        }
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        scenario::opening_user_text(&self.messages).hash(&mut hasher);
        format!("opening:{:016x}", hasher.finish())
    }
}

fn is_claude_cli(headers: &HeaderMap) -> bool {
    let user_agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let app = headers.get("x-app").and_then(|v| v.to_str().ok());
    user_agent.starts_with("claude-cli/") || app == Some("cli")
}

/// `POST /v1/messages`.
pub(crate) async fn messages(
    State(state): State<Arc<AppState>>,
    seq: Option<Extension<RequestSeq>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(error) = check_headers(&state, &headers) {
        return error.into_response();
    }
    let request = match MessagesRequest::parse(&body, true) {
        Ok(request) => request,
        Err(error) => return error.into_response(),
    };
    let annotate = |kind, scenario, turn| {
        if let Some(Extension(seq)) = seq {
            seq.annotate(&state, kind, scenario, turn);
        }
    };

    if request.is_side_request(&headers) {
        annotate(RequestKind::Side, None, None);
        let text = side_reply(&request);
        tracing::debug!(model = %request.model, %text, "side request");
        let message = build_message(&request, &[Block::text(text)], "end_turn", None);
        return respond(message, request.stream, Duration::ZERO);
    }

    let selection = state
        .scenarios()
        .select_for(&request.system_text(), &request.messages);
    match selection {
        Selection::UnknownScenario { name, known } => {
            annotate(RequestKind::Turn, Some(name.clone()), None);
            ApiError::invalid_request(format!(
                "fake-llm: unknown scenario {name:?} (known: {})",
                known.join(", ")
            ))
            .into_response()
        }
        Selection::Finished { scenario, index } => {
            annotate(RequestKind::Turn, Some(scenario), Some(index));
            let message = build_message(&request, &[Block::text(FINISHED_TEXT)], "end_turn", None);
            respond(message, request.stream, Duration::ZERO)
        }
        Selection::Turn {
            scenario,
            index,
            turn,
        } => {
            annotate(RequestKind::Turn, Some(scenario.clone()), Some(index));
            play_turn(&state, &headers, &request, &scenario, index, &turn).await
        }
    }
}

async fn play_turn(
    state: &AppState,
    headers: &HeaderMap,
    request: &MessagesRequest,
    scenario: &str,
    index: usize,
    turn: &Turn,
) -> Response {
    if turn.delay_ms > 0 {
        tokio::time::sleep(Duration::from_millis(turn.delay_ms)).await;
    }
    let chunk_delay = Duration::from_millis(turn.chunk_delay_ms);
    if let Some(error) = &turn.error {
        let fail = match error.times {
            None => true,
            Some(times) => {
                let conversation = request.conversation_key(headers);
                state.count_error_attempt(&conversation, scenario, index) < times
            }
        };
        if fail {
            tracing::info!(
                scenario,
                index,
                status = error.status,
                "answering scripted error"
            );
            if error.in_stream && request.stream {
                let message = build_message(request, &[], "end_turn", turn.usage.as_ref());
                let mut events = sse::opening_events(&message);
                events.push(sse::error_event(
                    &error.effective_kind(),
                    &error.effective_message(),
                ));
                return sse_response(events, chunk_delay);
            }
            return ApiError::from_turn(error).into_response();
        }
    }
    let message = build_message(
        request,
        &turn.blocks,
        &turn.effective_stop_reason(),
        turn.usage.as_ref(),
    );
    respond(message, request.stream, chunk_delay)
}

/// What a side request gets: valid JSON for a structured-output request (a
/// title derived from the prompt where a `title` string is asked for), the
/// answers older CLIs' helper prompts expect, else a short text.
fn side_reply(request: &MessagesRequest) -> String {
    let opening = scenario::opening_user_text(&request.messages);
    if let Some(schema) = request.body.pointer("/output_config/format/schema") {
        return example_for_schema(schema, None, &derive_title(&opening)).to_string();
    }
    let system = request.system_text();
    if system.contains("isNewTopic") {
        return json!({"isNewTopic": false, "title": Value::Null}).to_string();
    }
    if system.contains("policy_spec") || system.contains("command prefix") {
        return "none".to_string();
    }
    "OK".to_string()
}

/// A minimal value matching a JSON schema (objects with their required
/// properties, first enum values, empty arrays).
fn example_for_schema(schema: &Value, property: Option<&str>, title: &str) -> Value {
    if let Some(first) = schema
        .get("enum")
        .and_then(Value::as_array)
        .and_then(|values| values.first())
    {
        return first.clone();
    }
    if let Some(constant) = schema.get("const") {
        return constant.clone();
    }
    let kind = match schema.get("type") {
        Some(Value::String(kind)) => kind.as_str(),
        // `["string", "null"]`: use the first type.
        Some(Value::Array(kinds)) => kinds.first().and_then(Value::as_str).unwrap_or("null"),
        _ if schema.get("properties").is_some() => "object",
        _ => "null",
    };
    match kind {
        "object" => {
            let properties = schema.get("properties").and_then(Value::as_object);
            let required: Option<Vec<&str>> = schema
                .get("required")
                .and_then(Value::as_array)
                .map(|names| names.iter().filter_map(Value::as_str).collect());
            let mut object = serde_json::Map::new();
            for (name, property_schema) in properties.into_iter().flatten() {
                if required
                    .as_ref()
                    .is_none_or(|names| names.contains(&name.as_str()))
                {
                    object.insert(
                        name.clone(),
                        example_for_schema(property_schema, Some(name), title),
                    );
                }
            }
            Value::Object(object)
        }
        "array" => json!([]),
        "string" if property == Some("title") => json!(title),
        "string" => json!("fake"),
        "boolean" => json!(false),
        "integer" | "number" => json!(0),
        _ => Value::Null,
    }
}

/// The complete assistant message (the non-streaming body, and the source of
/// the streamed events), with ids and signatures filled in.
fn build_message(
    request: &MessagesRequest,
    blocks: &[Block],
    stop_reason: &str,
    usage: Option<&UsageSpec>,
) -> Value {
    let content: Vec<Value> = blocks
        .iter()
        .map(|block| match block {
            Block::Text { text } => json!({"type": "text", "text": text}),
            Block::Thinking {
                thinking,
                signature,
            } => json!({
                "type": "thinking",
                "thinking": thinking,
                "signature": signature.clone().unwrap_or_else(|| new_id("fakesig_")),
            }),
            Block::ToolUse { id, name, input } => json!({
                "type": "tool_use",
                "id": id.clone().unwrap_or_else(|| new_id("toolu_")),
                "name": name,
                "input": input,
            }),
        })
        .collect();
    let content_len = Value::Array(content.clone()).to_string().len();
    let spec = usage.cloned().unwrap_or_default();
    json!({
        "id": new_id("msg_"),
        "type": "message",
        "role": "assistant",
        "model": request.model,
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": Value::Null,
        "usage": {
            "input_tokens": spec.input_tokens.unwrap_or_else(|| estimate_tokens(request.body_len)),
            "cache_creation_input_tokens": spec.cache_creation_input_tokens.unwrap_or(0),
            "cache_read_input_tokens": spec.cache_read_input_tokens.unwrap_or(0),
            "output_tokens": spec.output_tokens.unwrap_or_else(|| estimate_tokens(content_len)),
            "service_tier": "standard",
        },
    })
}

fn respond(message: Value, stream: bool, chunk_delay: Duration) -> Response {
    if stream {
        sse_response(sse::message_events(&message), chunk_delay)
    } else {
        let mut response = sse::json_response(StatusCode::OK, &message);
        add_request_id(response.headers_mut());
        response
    }
}

/// A 200 event stream of `events`, waiting `chunk_delay` between two events.
fn sse_response(events: Vec<SseEvent>, chunk_delay: Duration) -> Response {
    let stream = futures::stream::iter(events.into_iter().enumerate()).then(
        move |(position, event)| async move {
            if position > 0 && !chunk_delay.is_zero() {
                tokio::time::sleep(chunk_delay).await;
            }
            Ok::<Bytes, Infallible>(event.encode())
        },
    );
    let mut response = Response::new(Body::from_stream(stream));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    add_request_id(headers);
    response
}

fn add_request_id(headers: &mut HeaderMap) {
    if let Ok(value) = HeaderValue::from_str(&new_id("req_")) {
        headers.insert("request-id", value);
    }
}

/// `POST /v1/messages/count_tokens`: an estimate of the input size.
pub(crate) async fn count_tokens(
    State(state): State<Arc<AppState>>,
    seq: Option<Extension<RequestSeq>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(Extension(seq)) = seq {
        seq.annotate(&state, RequestKind::CountTokens, None, None);
    }
    if let Err(error) = check_headers(&state, &headers) {
        return error.into_response();
    }
    match MessagesRequest::parse(&body, false) {
        Ok(request) => {
            let mut response = sse::json_response(
                StatusCode::OK,
                &json!({"input_tokens": estimate_tokens(request.body_len)}),
            );
            add_request_id(response.headers_mut());
            response
        }
        Err(error) => error.into_response(),
    }
}

/// `prefix` + 24 random hex digits, like the real API's ids.
pub(crate) fn new_id(prefix: &str) -> String {
    let simple = uuid::Uuid::new_v4().simple().to_string();
    format!("{prefix}{}", &simple[..24])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_examples_fill_required_fields() {
        let schema = json!({
            "type": "object",
            "properties": {
                "title": {"type": "string"},
                "done": {"type": "boolean"},
                "kind": {"type": "string", "enum": ["a", "b"]},
                "optional": {"type": "string"},
            },
            "required": ["title", "done", "kind"],
        });
        assert_eq!(
            example_for_schema(&schema, None, "My title"),
            json!({"title": "My title", "done": false, "kind": "a"})
        );
    }
}
