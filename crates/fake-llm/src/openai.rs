//! The OpenAI-compatible `POST /v1/chat/completions` the backend uses to
//! generate session titles. It answers a configurable text (`chat_reply`),
//! else the first words of the first user message, and can be made to fail
//! (`chat_error`) so the backend's fallback path can be tested. Errors use
//! OpenAI's shape: `{"error":{"message","type","param","code"}}`.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Extension;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::anthropic::new_id;
use crate::recorder::RequestKind;
use crate::scenario::content_text;
use crate::server::{AppState, RequestSeq};
use crate::sse::split_chars;
use crate::text::{derive_title, estimate_tokens};

/// Characters per streamed content delta.
const CHAT_CHUNK_CHARS: usize = 8;

fn openai_error(
    status: StatusCode,
    kind: &str,
    message: impl Into<String>,
    param: Option<&str>,
    code: Option<&str>,
) -> Response {
    let body = json!({
        "error": {
            "message": message.into(),
            "type": kind,
            "param": param,
            "code": code,
        }
    });
    (status, axum::Json(body)).into_response()
}

/// `POST /v1/chat/completions`.
pub(crate) async fn chat_completions(
    State(state): State<Arc<AppState>>,
    seq: Option<Extension<RequestSeq>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(Extension(seq)) = seq {
        seq.annotate(&state, RequestKind::ChatCompletions, None, None);
    }
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    match token {
        None => {
            return openai_error(
                StatusCode::UNAUTHORIZED,
                "invalid_request_error",
                "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
                None,
                None,
            );
        }
        Some(token) if token != state.openai_api_key => {
            return openai_error(
                StatusCode::UNAUTHORIZED,
                "invalid_request_error",
                "Incorrect API key provided.",
                None,
                Some("invalid_api_key"),
            );
        }
        Some(_) => {}
    }

    let request: Value = match serde_json::from_slice(&body) {
        Ok(request @ Value::Object(_)) => request,
        Ok(_) | Err(_) => {
            return openai_error(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                "We could not parse the JSON body of your request.",
                None,
                None,
            );
        }
    };
    let Some(model) = request.get("model").and_then(Value::as_str) else {
        return openai_error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "you must provide a model parameter",
            None,
            None,
        );
    };
    let Some(messages) = request.get("messages").and_then(Value::as_array) else {
        return openai_error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "Missing required parameter: 'messages'.",
            Some("messages"),
            Some("missing_required_parameter"),
        );
    };
    let stream = request
        .get("stream")
        .and_then(Value::as_bool)
        .unwrap_or(false);

    let file = state.scenarios();
    if file.chat_delay_ms > 0 {
        tokio::time::sleep(Duration::from_millis(file.chat_delay_ms)).await;
    }
    if let Some(error) = &file.chat_error {
        let status =
            StatusCode::from_u16(error.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let kind = if status.is_server_error() {
            "server_error"
        } else {
            "invalid_request_error"
        };
        let message = error.message.clone().unwrap_or_else(|| {
            "The server had an error while processing your request. Sorry about that!".to_string()
        });
        return openai_error(status, kind, message, None, None);
    }

    let reply = file.chat_reply.clone().unwrap_or_else(|| {
        let first_user = messages
            .iter()
            .find(|m| m.get("role").and_then(Value::as_str) == Some("user"))
            .and_then(|m| m.get("content"))
            .map(content_text)
            .unwrap_or_default();
        derive_title(&first_user)
    });
    let id = new_id("chatcmpl-");
    let created = chrono::Utc::now().timestamp();
    let prompt_tokens = estimate_tokens(body.len());
    let completion_tokens = estimate_tokens(reply.len());

    if stream {
        return stream_response(&id, created, model, &reply);
    }
    axum::Json(json!({
        "id": id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": reply, "refusal": Value::Null},
            "logprobs": Value::Null,
            "finish_reason": "stop",
        }],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }))
    .into_response()
}

/// `data: {chunk}` lines: the role, the content in pieces, the finish reason,
/// then `data: [DONE]`.
fn stream_response(id: &str, created: i64, model: &str, reply: &str) -> Response {
    let chunk = |delta: Value, finish: Value| {
        json!({
            "id": id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "logprobs": Value::Null, "finish_reason": finish}],
        })
    };
    let mut lines = vec![chunk(
        json!({"role": "assistant", "content": ""}),
        Value::Null,
    )];
    lines.extend(
        split_chars(reply, CHAT_CHUNK_CHARS)
            .into_iter()
            .map(|piece| chunk(json!({"content": piece}), Value::Null)),
    );
    lines.push(chunk(json!({}), json!("stop")));
    let mut frames: Vec<Result<Bytes, Infallible>> = lines
        .into_iter()
        .map(|line| Ok(Bytes::from(format!("data: {line}\n\n"))))
        .collect();
    frames.push(Ok(Bytes::from_static(b"data: [DONE]\n\n")));
    let mut response = Response::new(Body::from_stream(futures::stream::iter(frames)));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream; charset=utf-8"),
    );
    response
}
