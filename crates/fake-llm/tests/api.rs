//! HTTP-level tests of the fake server: SSE shape, non-streaming shape, header
//! checks, error turns, stateless turn selection, side requests, recording,
//! admin endpoints and the OpenAI-compatible endpoint.

mod common;

use std::time::{Duration, Instant};

use common::{KEY, client, error_type, parse_sse, post_messages, reassemble, request};
use fake_llm::{
    Block, ChatError, Config, FakeLlm, FakeLlmHandle, RequestKind, ScenarioFile, Turn, TurnError,
    UsageSpec,
};
use serde_json::{Value, json};

async fn start(scenarios: ScenarioFile) -> FakeLlmHandle {
    FakeLlm::start(Config::new(KEY, scenarios))
        .await
        .expect("server starts")
}

fn url(server: &FakeLlmHandle, path: &str) -> String {
    format!("{}{path}", server.base_url())
}

fn mixed_turn() -> Turn {
    Turn {
        blocks: vec![
            Block::thinking("Let me think about writing the file carefully."),
            Block::text("I will write the file now, then check it."),
            Block::tool_use(
                "Bash",
                json!({"command": "printf hello > out.txt", "description": "write the file"}),
            ),
        ],
        usage: Some(UsageSpec {
            input_tokens: Some(1234),
            output_tokens: Some(56),
            ..UsageSpec::default()
        }),
        ..Turn::default()
    }
}

fn user(text: &str) -> Value {
    json!({"role": "user", "content": [{"type": "text", "text": text}]})
}

fn assistant(text: &str) -> Value {
    json!({"role": "assistant", "content": [{"type": "text", "text": text}]})
}

#[tokio::test]
async fn streaming_reassembles_thinking_text_and_tool_use() {
    let server = start(ScenarioFile::single(vec![mixed_turn()])).await;
    let response = post_messages(
        &url(&server, "/v1/messages?beta=true"),
        &request(json!([user("write hello")]), true),
    )
    .await;
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"].to_str().unwrap_or("");
    assert!(
        content_type.starts_with("text/event-stream"),
        "{content_type}"
    );
    let body = response.text().await.expect("body");
    let events = parse_sse(&body);
    let names: Vec<&str> = events.iter().map(|e| e.event.as_str()).collect();
    assert_eq!(&names[..2], ["message_start", "ping"]);
    assert_eq!(&names[names.len() - 2..], ["message_delta", "message_stop"]);
    // Pieces, not one big delta: clients must reassemble.
    let json_pieces = events
        .iter()
        .filter(|e| e.data["delta"]["type"] == "input_json_delta")
        .count();
    assert!(
        json_pieces >= 3,
        "tool input split into pieces: {json_pieces}"
    );
    assert!(
        events
            .iter()
            .filter(|e| e.data["delta"]["type"] == "text_delta")
            .count()
            >= 2
    );
    assert_eq!(
        events
            .iter()
            .filter(|e| e.data["delta"]["type"] == "signature_delta")
            .count(),
        1
    );
    let start = &events[0].data["message"];
    assert_eq!(start["content"], json!([]));
    assert_eq!(start["stop_reason"], Value::Null);
    assert_eq!(start["usage"]["input_tokens"], 1234);

    let message = reassemble(&events);
    assert_eq!(message["role"], "assistant");
    assert_eq!(message["model"], "claude-test-model");
    assert_eq!(message["stop_reason"], "tool_use");
    assert_eq!(message["usage"]["output_tokens"], 56);
    let content = message["content"].as_array().expect("content");
    assert_eq!(content.len(), 3);
    assert_eq!(content[0]["type"], "thinking");
    assert_eq!(
        content[0]["thinking"],
        "Let me think about writing the file carefully."
    );
    assert!(!content[0]["signature"].as_str().unwrap_or("").is_empty());
    assert_eq!(content[1]["type"], "text");
    assert_eq!(
        content[1]["text"],
        "I will write the file now, then check it."
    );
    assert_eq!(content[2]["type"], "tool_use");
    assert_eq!(content[2]["name"], "Bash");
    assert!(
        content[2]["id"]
            .as_str()
            .is_some_and(|id| id.starts_with("toolu_"))
    );
    assert_eq!(
        content[2]["input"],
        json!({"command": "printf hello > out.txt", "description": "write the file"})
    );
}

#[tokio::test]
async fn non_streaming_returns_a_full_message() {
    let server = start(ScenarioFile::single(vec![mixed_turn(), Turn::text("done")])).await;
    let response = post_messages(
        &url(&server, "/v1/messages"),
        &request(json!([user("hi")]), false),
    )
    .await;
    assert_eq!(response.status(), 200);
    let message: Value = response.json().await.expect("json");
    assert!(
        message["id"]
            .as_str()
            .is_some_and(|id| id.starts_with("msg_"))
    );
    assert_eq!(message["type"], "message");
    assert_eq!(message["role"], "assistant");
    assert_eq!(message["stop_reason"], "tool_use");
    assert_eq!(message["stop_sequence"], Value::Null);
    assert_eq!(
        message["content"][2]["input"]["command"],
        "printf hello > out.txt"
    );
    for field in [
        "input_tokens",
        "output_tokens",
        "cache_creation_input_tokens",
        "cache_read_input_tokens",
    ] {
        assert!(message["usage"][field].is_u64(), "usage.{field}");
    }

    let response = post_messages(
        &url(&server, "/v1/messages"),
        &request(json!([user("hi"), assistant("x"), user("more")]), false),
    )
    .await;
    let message: Value = response.json().await.expect("json");
    assert_eq!(message["stop_reason"], "end_turn");
    assert_eq!(
        message["content"],
        json!([{"type": "text", "text": "done"}])
    );
    // Usage is estimated when not scripted.
    assert!(message["usage"]["input_tokens"].as_u64().unwrap_or(0) > 0);
}

#[tokio::test]
async fn auth_and_version_errors_match_the_real_api() {
    let server = start(ScenarioFile::single(vec![Turn::text("hi")])).await;
    let endpoint = url(&server, "/v1/messages");
    let body = request(json!([user("hi")]), false);

    let missing_key = client()
        .post(&endpoint)
        .header("anthropic-version", "2023-06-01")
        .json(&body)
        .send()
        .await
        .expect("send");
    assert_eq!(
        error_type(missing_key, 401).await,
        (
            "authentication_error".into(),
            "x-api-key header is required".into()
        )
    );

    let wrong_key = client()
        .post(&endpoint)
        .header("x-api-key", "sk-wrong")
        .header("anthropic-version", "2023-06-01")
        .json(&body)
        .send()
        .await
        .expect("send");
    assert_eq!(
        error_type(wrong_key, 401).await,
        ("authentication_error".into(), "invalid x-api-key".into())
    );

    let wrong_bearer = client()
        .post(&endpoint)
        .bearer_auth("sk-wrong")
        .header("anthropic-version", "2023-06-01")
        .json(&body)
        .send()
        .await
        .expect("send");
    assert_eq!(
        error_type(wrong_bearer, 401).await.0,
        "authentication_error"
    );

    let good_bearer = client()
        .post(&endpoint)
        .bearer_auth(KEY)
        .header("anthropic-version", "2023-06-01")
        .json(&body)
        .send()
        .await
        .expect("send");
    assert_eq!(good_bearer.status(), 200);

    let missing_version = client()
        .post(&endpoint)
        .header("x-api-key", KEY)
        .json(&body)
        .send()
        .await
        .expect("send");
    assert_eq!(
        error_type(missing_version, 400).await,
        (
            "invalid_request_error".into(),
            "anthropic-version: header is required".into()
        )
    );

    let bad_version = client()
        .post(&endpoint)
        .header("x-api-key", KEY)
        .header("anthropic-version", "2020-01-01")
        .json(&body)
        .send()
        .await
        .expect("send");
    let (kind, message) = error_type(bad_version, 400).await;
    assert_eq!(kind, "invalid_request_error");
    assert!(message.contains("2020-01-01"), "{message}");

    let no_max_tokens =
        post_messages(&endpoint, &json!({"model": "m", "messages": [user("hi")]})).await;
    assert_eq!(
        error_type(no_max_tokens, 400).await,
        (
            "invalid_request_error".into(),
            "max_tokens: Field required".into()
        )
    );

    let not_json = client()
        .post(&endpoint)
        .header("x-api-key", KEY)
        .header("anthropic-version", "2023-06-01")
        .body("{not json")
        .send()
        .await
        .expect("send");
    assert_eq!(error_type(not_json, 400).await.0, "invalid_request_error");

    let unknown_path = client()
        .post(url(&server, "/v1/nothing"))
        .send()
        .await
        .expect("send");
    assert_eq!(
        error_type(unknown_path, 404).await,
        ("not_found_error".into(), "Not Found".into())
    );
}

#[tokio::test]
async fn error_turns_answer_the_scripted_status_and_type() {
    let cases = [
        (429, "rate_limit_error"),
        (500, "api_error"),
        (529, "overloaded_error"),
        (401, "authentication_error"),
        (404, "not_found_error"),
    ];
    let mut file = ScenarioFile::default();
    for (status, _) in cases {
        file = file.with_scenario(format!("e{status}"), vec![Turn::error(status)]);
    }
    let server = start(file).await;
    for (status, kind) in cases {
        let response = post_messages(
            &url(&server, "/v1/messages"),
            &request(json!([user(&format!("[scenario:e{status}] go"))]), true),
        )
        .await;
        assert_eq!(error_type(response, status).await.0, kind);
    }

    // A custom message and retry headers.
    let custom = Turn {
        error: Some(TurnError {
            status: 400,
            kind: Some("invalid_request_error".into()),
            message: Some("prompt is too long: 200001 tokens > 200000 maximum".into()),
            times: None,
            in_stream: false,
            should_retry: Some(false),
            retry_after_ms: Some(1500),
        }),
        ..Turn::default()
    };
    server.set_scenarios(ScenarioFile::single(vec![custom]));
    let response = post_messages(
        &url(&server, "/v1/messages"),
        &request(json!([user("hi")]), true),
    )
    .await;
    assert_eq!(response.headers()["x-should-retry"], "false");
    assert_eq!(response.headers()["retry-after-ms"], "1500");
    assert_eq!(response.headers()["retry-after"], "2");
    let (_, message) = error_type(response, 400).await;
    assert!(message.starts_with("prompt is too long"));
}

#[tokio::test]
async fn error_with_times_fails_each_conversation_once_then_plays_the_turn() {
    let flaky = Turn {
        blocks: vec![Block::text("recovered")],
        error: Some(TurnError {
            status: 529,
            kind: None,
            message: None,
            times: Some(1),
            in_stream: false,
            should_retry: None,
            retry_after_ms: None,
        }),
        ..Turn::default()
    };
    let server = start(ScenarioFile::single(vec![flaky])).await;
    let endpoint = url(&server, "/v1/messages");
    let for_session = |session: &str| {
        let mut body = request(json!([user("hi")]), false);
        body["metadata"] = json!({
            "user_id": json!({"device_id": "d", "session_id": session}).to_string()
        });
        body
    };
    for session in ["a", "b"] {
        let first = post_messages(&endpoint, &for_session(session)).await;
        assert_eq!(error_type(first, 529).await.0, "overloaded_error");
        let retry = post_messages(&endpoint, &for_session(session)).await;
        assert_eq!(retry.status(), 200);
        let message: Value = retry.json().await.expect("json");
        assert_eq!(message["content"][0]["text"], "recovered");
    }
    // Reset forgets the attempts.
    server.reset();
    let again = post_messages(&endpoint, &for_session("a")).await;
    assert_eq!(again.status(), 529);
}

#[tokio::test]
async fn in_stream_errors_arrive_as_an_error_event() {
    let mut turn = Turn::error(529);
    if let Some(error) = turn.error.as_mut() {
        error.in_stream = true;
    }
    let server = start(ScenarioFile::single(vec![turn])).await;
    let response = post_messages(
        &url(&server, "/v1/messages"),
        &request(json!([user("hi")]), true),
    )
    .await;
    assert_eq!(response.status(), 200);
    let events = parse_sse(&response.text().await.expect("body"));
    let names: Vec<&str> = events.iter().map(|e| e.event.as_str()).collect();
    assert_eq!(names, ["message_start", "ping", "error"]);
    assert_eq!(events[2].data["error"]["type"], "overloaded_error");
}

#[tokio::test]
async fn turn_is_chosen_by_assistant_message_count_even_concurrently() {
    let turns = (0..4).map(|i| Turn::text(format!("turn {i}"))).collect();
    let server = start(ScenarioFile::single(turns)).await;
    let endpoint = url(&server, "/v1/messages");
    let conversation = |assistants: usize| {
        let mut messages = vec![user("start")];
        for i in 0..assistants {
            messages.push(assistant(&format!("turn {i}")));
            // The CLI also sends system-role messages and tool results.
            messages.push(json!({"role": "system", "content": "ctx"}));
            messages.push(user("next"));
        }
        request(Value::Array(messages), false)
    };
    // Out of order and at the same time: no shared counter may matter.
    let counts = [3usize, 0, 2, 1, 3, 0, 5, 4];
    let replies = futures::future::join_all(counts.iter().map(|&n| {
        let endpoint = endpoint.clone();
        let body = conversation(n);
        async move {
            let message: Value = post_messages(&endpoint, &body)
                .await
                .json()
                .await
                .expect("json");
            message["content"][0]["text"]
                .as_str()
                .unwrap_or("")
                .to_string()
        }
    }))
    .await;
    let expected: Vec<String> = counts
        .iter()
        .map(|&n| {
            if n < 4 {
                format!("turn {n}")
            } else {
                fake_llm::FINISHED_TEXT.to_string()
            }
        })
        .collect();
    assert_eq!(replies, expected);
    let turns: Vec<Option<usize>> = server.turn_requests().iter().map(|r| r.turn).collect();
    assert_eq!(turns.len(), counts.len());
}

#[tokio::test]
async fn scenario_marker_picks_the_scenario() {
    let file = ScenarioFile::single(vec![Turn::text("default one")]).with_scenario(
        "other",
        vec![Turn::text("other one"), Turn::text("other two")],
    );
    let server = start(file).await;
    let endpoint = url(&server, "/v1/messages");
    let text_of = |message: Value| {
        message["content"][0]["text"]
            .as_str()
            .unwrap_or("")
            .to_string()
    };

    let plain = post_messages(&endpoint, &request(json!([user("hello")]), false)).await;
    assert_eq!(text_of(plain.json().await.expect("json")), "default one");

    // The marker sits in a later text block of the first user message, after
    // the CLI's <system-reminder> blocks.
    let marked = json!([
        {"role": "user", "content": [
            {"type": "text", "text": "<system-reminder>env</system-reminder>"},
            {"type": "text", "text": "[scenario:other] do it"},
        ]},
        assistant("other one"),
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": "ok"}]},
    ]);
    let response = post_messages(&endpoint, &request(marked, false)).await;
    assert_eq!(text_of(response.json().await.expect("json")), "other two");
    let last = server.requests().pop().expect("recorded");
    assert_eq!(last.scenario.as_deref(), Some("other"));
    assert_eq!(last.turn, Some(1));

    let unknown = post_messages(
        &endpoint,
        &request(json!([user("[scenario:missing] x")]), false),
    )
    .await;
    let (kind, message) = error_type(unknown, 400).await;
    assert_eq!(kind, "invalid_request_error");
    assert!(
        message.contains("missing") && message.contains("other"),
        "{message}"
    );
}

#[tokio::test]
async fn side_requests_get_harmless_answers_and_no_turn() {
    let server = start(ScenarioFile::single(vec![mixed_turn()])).await;
    let endpoint = url(&server, "/v1/messages");

    // The CLI's session-title request: structured output, `tools: []`.
    let title_request = json!({
        "model": "claude-sonnet-4-5",
        "max_tokens": 32000,
        "stream": true,
        "tools": [],
        "thinking": {"type": "disabled"},
        "output_config": {"format": {"type": "json_schema", "schema": {
            "type": "object",
            "properties": {"title": {"type": "string"}},
            "required": ["title"],
            "additionalProperties": false,
        }}},
        "messages": [user("<session>\n[scenario:x] fix the flaky login test\n</session>\n\nWrite the title")],
    });
    let response = post_messages(&endpoint, &title_request).await;
    assert_eq!(response.status(), 200);
    let message = reassemble(&parse_sse(&response.text().await.expect("body")));
    assert_eq!(message["stop_reason"], "end_turn");
    let title: Value =
        serde_json::from_str(message["content"][0]["text"].as_str().unwrap_or("")).expect("json");
    assert_eq!(title, json!({"title": "Fix the flaky login test"}));

    // A quota probe.
    let quota = json!({"model": "claude-haiku", "max_tokens": 1, "messages": [user("quota")]});
    let response = post_messages(&endpoint, &quota).await;
    let message: Value = response.json().await.expect("json");
    assert_eq!(message["content"][0]["type"], "text");

    // A tool-less helper prompt from the CLI (older versions).
    let helper = client()
        .post(&endpoint)
        .header("x-api-key", KEY)
        .header("anthropic-version", "2023-06-01")
        .header("user-agent", "claude-cli/1.0.0 (external, cli)")
        .json(&json!({
            "model": "claude-haiku", "max_tokens": 512,
            "system": [{"type": "text", "text": "Analyze if this message indicates a new conversation topic. Answer with isNewTopic"}],
            "messages": [user("hello")],
        }))
        .send()
        .await
        .expect("send");
    let message: Value = helper.json().await.expect("json");
    assert_eq!(
        message["content"][0]["text"],
        json!({"isNewTopic": false, "title": null}).to_string()
    );

    let kinds: Vec<RequestKind> = server.requests().iter().map(|r| r.kind).collect();
    assert_eq!(kinds, [RequestKind::Side; 3]);
    assert!(server.turn_requests().is_empty());

    // The conversation itself still starts at turn 0.
    let response = post_messages(&endpoint, &request(json!([user("go")]), false)).await;
    let message: Value = response.json().await.expect("json");
    assert_eq!(message["stop_reason"], "tool_use");
}

#[tokio::test]
async fn requests_are_recorded_and_admin_endpoints_work() {
    let server = start(ScenarioFile::single(vec![Turn::text("one")])).await;
    let response = post_messages(
        &url(&server, "/v1/messages?beta=true"),
        &request(json!([user("remember me")]), true),
    )
    .await;
    assert_eq!(response.status(), 200);
    let _ = response.text().await;

    let recorded = server.requests();
    assert_eq!(recorded.len(), 1);
    let first = &recorded[0];
    assert_eq!(first.method, "POST");
    assert_eq!(first.path, "/v1/messages");
    assert_eq!(first.query.as_deref(), Some("beta=true"));
    assert_eq!(first.status, Some(200));
    assert_eq!(first.kind, RequestKind::Turn);
    assert_eq!(first.turn, Some(0));
    assert_eq!(first.header("X-API-Key"), Some("[redacted:valid]"));
    assert_eq!(first.header("anthropic-version"), Some("2023-06-01"));
    assert!(first.body_contains("remember me"));
    assert_eq!(first.model(), Some("claude-test-model"));
    assert!(
        !format!("{recorded:?}").contains(KEY),
        "the key never appears"
    );

    // The same through HTTP.
    let listed: Value = client()
        .get(url(&server, "/_admin/requests"))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(listed[0]["path"], "/v1/messages");
    assert_eq!(listed[0]["kind"], "turn");
    assert_eq!(
        listed[0]["body"]["messages"][0]["content"][0]["text"],
        "remember me"
    );
    assert_eq!(
        listed.as_array().map(Vec::len),
        Some(1),
        "admin calls are not recorded"
    );

    // Replace the scenarios at runtime.
    let put = client()
        .put(url(&server, "/_admin/scenarios"))
        .json(&json!({"scenarios": {"default": {"turns": [
            {"blocks": [{"type": "text", "text": "replaced"}]}
        ]}}}))
        .send()
        .await
        .expect("send");
    assert_eq!(put.status(), 200);
    let response = post_messages(
        &url(&server, "/v1/messages"),
        &request(json!([user("x")]), false),
    )
    .await;
    let message: Value = response.json().await.expect("json");
    assert_eq!(message["content"][0]["text"], "replaced");

    let bad = client()
        .put(url(&server, "/_admin/scenarios"))
        .json(&json!({"scenarios": {"default": {"turns": [{"blocks": [{"type": "nope"}]}]}}}))
        .send()
        .await
        .expect("send");
    assert_eq!(bad.status(), 400);

    let reset = client()
        .post(url(&server, "/_admin/reset"))
        .send()
        .await
        .expect("send");
    assert_eq!(reset.status(), 200);
    assert!(server.requests().is_empty());
    assert_eq!(
        server.scenarios().scenarios["default"].turns[0],
        Turn::text("replaced")
    );
}

#[tokio::test]
async fn count_tokens_estimates_the_input() {
    let server = start(ScenarioFile::default()).await;
    let response = post_messages(
        &url(&server, "/v1/messages/count_tokens?beta=true"),
        &json!({"model": "m", "messages": [user("some words to count")]}),
    )
    .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("json");
    assert!(body["input_tokens"].as_u64().unwrap_or(0) > 0);
    assert_eq!(server.requests()[0].kind, RequestKind::CountTokens);
}

#[tokio::test]
async fn delays_are_applied() {
    let slow = Turn {
        blocks: vec![Block::text(
            "a fairly long text that is split into several deltas",
        )],
        delay_ms: 300,
        chunk_delay_ms: 50,
        ..Turn::default()
    };
    let server = start(ScenarioFile::single(vec![slow])).await;
    let started = Instant::now();
    let response = post_messages(
        &url(&server, "/v1/messages"),
        &request(json!([user("x")]), true),
    )
    .await;
    let first_byte = started.elapsed();
    let events = parse_sse(&response.text().await.expect("body"));
    assert!(first_byte >= Duration::from_millis(300), "{first_byte:?}");
    let expected_min = Duration::from_millis(300 + 50 * (events.len() as u64 - 1));
    assert!(started.elapsed() >= expected_min, "{:?}", started.elapsed());
}

#[tokio::test]
async fn openai_chat_completions_answers_titles_and_can_fail() {
    let server = start(ScenarioFile::default()).await;
    let endpoint = url(&server, "/v1/chat/completions");
    let body = json!({
        "model": "gpt-test",
        "messages": [
            {"role": "system", "content": "Make a short title."},
            {"role": "user", "content": "[scenario:write_file] refactor the billing module to use cents"},
        ],
    });

    let response = client()
        .post(&endpoint)
        .bearer_auth(KEY)
        .json(&body)
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 200);
    let reply: Value = response.json().await.expect("json");
    assert_eq!(reply["object"], "chat.completion");
    assert_eq!(reply["model"], "gpt-test");
    assert_eq!(reply["choices"][0]["finish_reason"], "stop");
    assert_eq!(
        reply["choices"][0]["message"]["content"],
        "Refactor the billing module to"
    );
    assert!(reply["usage"]["total_tokens"].as_u64().unwrap_or(0) > 0);

    // Streaming, with a configured reply.
    server.set_scenarios(ScenarioFile {
        chat_reply: Some("Billing in cents".into()),
        ..ScenarioFile::default()
    });
    let mut streaming = body.clone();
    streaming["stream"] = json!(true);
    let response = client()
        .post(&endpoint)
        .bearer_auth(KEY)
        .json(&streaming)
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 200);
    let text = response.text().await.expect("body");
    let mut content = String::new();
    let mut finish = None;
    let mut done = false;
    for line in text.lines().filter(|l| !l.is_empty()) {
        let data = line.strip_prefix("data: ").expect("data lines only");
        if data == "[DONE]" {
            done = true;
            continue;
        }
        let chunk: Value = serde_json::from_str(data).expect("chunk json");
        assert_eq!(chunk["object"], "chat.completion.chunk");
        if let Some(piece) = chunk["choices"][0]["delta"]["content"].as_str() {
            content.push_str(piece);
        }
        if let Some(reason) = chunk["choices"][0]["finish_reason"].as_str() {
            finish = Some(reason.to_string());
        }
    }
    assert!(done);
    assert_eq!(content, "Billing in cents");
    assert_eq!(finish.as_deref(), Some("stop"));

    // Wrong and missing keys.
    let wrong = client()
        .post(&endpoint)
        .bearer_auth("nope")
        .json(&body)
        .send()
        .await
        .expect("send");
    assert_eq!(wrong.status(), 401);
    let error: Value = wrong.json().await.expect("json");
    assert_eq!(error["error"]["code"], "invalid_api_key");
    let missing = client()
        .post(&endpoint)
        .json(&body)
        .send()
        .await
        .expect("send");
    assert_eq!(missing.status(), 401);

    // Configured failure, in OpenAI's error shape.
    server.set_scenarios(ScenarioFile {
        chat_error: Some(ChatError {
            status: 500,
            message: Some("title model down".into()),
        }),
        ..ScenarioFile::default()
    });
    let failing = client()
        .post(&endpoint)
        .bearer_auth(KEY)
        .json(&body)
        .send()
        .await
        .expect("send");
    assert_eq!(failing.status(), 500);
    let error: Value = failing.json().await.expect("json");
    assert_eq!(error["error"]["message"], "title model down");
    assert_eq!(error["error"]["type"], "server_error");
    assert!(
        server
            .requests()
            .iter()
            .all(|r| r.kind == RequestKind::ChatCompletions)
    );
}

#[tokio::test]
async fn scenario_files_load_from_json_and_toml() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/example.json");
    let file = ScenarioFile::load(example).expect("example loads");
    assert!(file.scenarios.contains_key("default"));
    assert!(file.scenarios.contains_key("write_file"));

    let dir = tempfile::tempdir().expect("tempdir");
    let toml_path = dir.path().join("s.toml");
    std::fs::write(
        &toml_path,
        r#"
chat_reply = "Title"

[[scenarios.default.turns]]
blocks = [
  { type = "text", text = "hi" },
  { type = "tool_use", name = "Bash", input = { command = "ls" } },
]
delay_ms = 5

[[scenarios.default.turns]]
error = { status = 529 }
"#,
    )
    .expect("write");
    let file = ScenarioFile::load(&toml_path).expect("toml loads");
    let turns = &file.scenarios["default"].turns;
    assert_eq!(
        turns[0].blocks[1],
        Block::tool_use("Bash", json!({"command": "ls"}))
    );
    assert_eq!(turns[0].delay_ms, 5);
    assert_eq!(turns[1].error.as_ref().map(|e| e.status), Some(529));

    let bad_path = dir.path().join("bad.json");
    std::fs::write(&bad_path, r#"{"scenarios": {"default": {"turns": [{}]}}}"#).expect("write");
    assert!(
        ScenarioFile::load(&bad_path).is_err(),
        "a turn needs blocks or an error"
    );
}

#[test]
fn start_blocking_works_without_a_runtime() {
    let server =
        FakeLlm::start_blocking(Config::new(KEY, ScenarioFile::default())).expect("server starts");
    let addr = server.addr();
    // Plain std networking: the server runs on its own thread.
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    use std::io::{Read, Write};
    stream
        .write_all(b"GET /_admin/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .expect("write");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    server.shutdown();
    assert!(std::net::TcpStream::connect(addr).is_err(), "stopped");
}
