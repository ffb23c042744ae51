//! The HTTP API's contract, and start-up and shutdown of the binary. No agent runs here (a task
//! whose CLI cannot start is enough); the real CLI's runs are in `cli.rs`.

mod common;

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use axum::http::StatusCode;
use common::*;
use protocol::event::EventBody;
use serde_json::{Value, json};
use uuid::Uuid;

fn assert_error(body: &Value, code: &str) {
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    assert_eq!(body.as_object().map(|o| o.len()), Some(1), "{body}");
}

async fn executor(dir: &std::path::Path) -> Executor {
    Executor::start(settings("/nonexistent/claude", &dir.join("ws"))).await
}

#[tokio::test]
async fn health_endpoints_answer() {
    let dir = tempfile::tempdir().unwrap();
    let exec = executor(dir.path()).await;
    for path in ["/health", "/health/live", "/health/ready"] {
        // Open to probes: no secret needed; the instance id tells which executor answers.
        let (code, body) = exec.get_as(None, path).await;
        assert_eq!(code, StatusCode::OK, "{path}");
        assert_eq!(
            body,
            json!({"status": "healthy", "service": "executor", "instance": exec.instance})
        );
    }
}

#[tokio::test]
async fn every_other_route_wants_the_secret() {
    let receiver = Receiver::default()
        .serve(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await;
    let dir = tempfile::tempdir().unwrap();
    let exec = executor(dir.path()).await;
    let run_id = Uuid::new_v4();
    let body = task(run_id, "hi", &receiver.url());
    let wrong_length = "x".repeat(exec.secret.len() + 1);
    let mut same_length_wrong = exec.secret.clone().into_bytes();
    same_length_wrong[0] ^= 1;
    let same_length_wrong = String::from_utf8(same_length_wrong).unwrap();
    for bearer in [
        None,
        Some(""),
        Some(wrong_length.as_str()),
        Some(same_length_wrong.as_str()),
    ] {
        let (code, answer) = exec.post_as(bearer, "/v1/tasks/execute", &body).await;
        assert_eq!(code, StatusCode::UNAUTHORIZED, "{bearer:?}: {answer}");
        assert_error(&answer, "unauthorized");
        let (code, answer) = exec
            .post_as(bearer, &format!("/v1/tasks/{run_id}/cancel"), &json!({}))
            .await;
        assert_eq!(code, StatusCode::UNAUTHORIZED, "{answer}");
        let (code, answer) = exec.get_as(bearer, &format!("/v1/tasks/{run_id}")).await;
        assert_eq!(code, StatusCode::UNAUTHORIZED, "{answer}");
        // Unknown paths too: nothing but the health routes answers without the secret.
        let (code, _) = exec.get_as(bearer, "/nope").await;
        assert_eq!(code, StatusCode::UNAUTHORIZED);
    }
    // A scheme other than Bearer is refused as well.
    let res = reqwest::Client::new()
        .get(format!("{}/v1/tasks/{run_id}", exec.url))
        .basic_auth("x", Some(&exec.secret))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    // None of the refused calls started anything; with the secret, the task is accepted.
    let (code, _) = exec.get(&format!("/v1/tasks/{run_id}")).await;
    assert_eq!(code, StatusCode::NOT_FOUND);
    exec.execute(&body).await;
    let (code, _) = exec.get(&format!("/v1/tasks/{run_id}")).await;
    assert_eq!(code, StatusCode::OK);
}

#[tokio::test]
async fn bad_requests_get_json_errors_and_the_server_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let exec = executor(dir.path()).await;
    let client = reqwest::Client::new();
    let send = |body: &'static str, content_type: Option<&'static str>| {
        let mut req = client
            .post(format!("{}/v1/tasks/execute", exec.url))
            .bearer_auth(&exec.secret)
            .body(body);
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        async move {
            let r = req.send().await.unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    let (code, body) = send("{not json", Some("application/json")).await;
    assert_eq!(code, 400);
    assert_error(&body, "bad_request");
    let (code, body) = send(r#"{"run_id": 5}"#, Some("application/json")).await;
    assert_eq!(code, 422);
    assert_error(&body, "invalid_request");
    let (code, body) = send("{}", None).await;
    assert_eq!(code, 415);
    assert_error(&body, "unsupported_media_type");

    let (code, body) = exec.get(&format!("/v1/tasks/{}", Uuid::new_v4())).await;
    assert_eq!(code, StatusCode::NOT_FOUND);
    assert_error(&body, "not_found");
    let (code, body) = exec
        .post(&format!("/v1/tasks/{}/cancel", Uuid::new_v4()), &json!({}))
        .await;
    assert_eq!(code, StatusCode::NOT_FOUND);
    assert_error(&body, "not_found");
    let (code, body) = exec.get("/v1/tasks/not-a-uuid").await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    assert_error(&body, "bad_request");
    let (code, body) = exec.get("/nope").await;
    assert_eq!(code, StatusCode::NOT_FOUND);
    assert_error(&body, "not_found");
    let (code, body) = exec.get("/v1/tasks/execute").await;
    assert_eq!(code, StatusCode::METHOD_NOT_ALLOWED);
    assert_error(&body, "method_not_allowed");

    let (code, _) = exec.get("/health").await;
    assert_eq!(code, StatusCode::OK);
}

#[tokio::test]
async fn tasks_that_would_escape_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let exec = executor(dir.path()).await;
    let base = task(Uuid::new_v4(), "hi", "http://127.0.0.1:9/cb");
    for (field, value) in [
        (
            "input_files",
            json!([{"name": "../../etc/passwd", "url": "http://x/y"}]),
        ),
        (
            "input_files",
            json!([{"name": "a/b.txt", "url": "http://x/y"}]),
        ),
        ("skills", json!([{"path": "../outside.md", "content": ""}])),
        ("allowed_tools", json!(["--dangerously-skip-permissions"])),
        ("callback_url", json!("file:///tmp/x")),
        ("prompt", json!("   ")),
    ] {
        let mut body = base.clone();
        body[field] = value.clone();
        let (code, answer) = exec.post("/v1/tasks/execute", &body).await;
        assert_eq!(
            code,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{field}={value}: {answer}"
        );
        assert_error(&answer, "invalid_request");
    }
    // Nothing was started.
    let (code, _) = exec
        .get(&format!("/v1/tasks/{}", base["run_id"].as_str().unwrap()))
        .await;
    assert_eq!(code, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_missing_cli_fails_the_run_with_a_hint_and_a_run_id_runs_once() {
    let receiver = Receiver::default()
        .serve(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await;
    let dir = tempfile::tempdir().unwrap();
    let exec = executor(dir.path()).await;
    let run_id = Uuid::new_v4();
    exec.execute(&task(run_id, "hi", &receiver.url())).await;
    let events = receiver
        .receiver
        .wait_terminal(run_id, Duration::from_secs(30))
        .await;
    assert_eq!(assert_well_formed(&events), vec!["failed"]);
    match &events[0].body {
        EventBody::Failed { error } => {
            assert_eq!(
                error,
                "could not start the agent: `/nonexistent/claude` was not found (set CLAUDE_BIN to the Claude Code CLI)"
            );
        }
        other => panic!("{other:?}"),
    }
    let status = exec.tasks.wait(run_id).await.unwrap();
    assert_eq!(status.events, 1);
    // The same run is not executed twice.
    let (code, body) = exec
        .post("/v1/tasks/execute", &task(run_id, "hi", &receiver.url()))
        .await;
    assert_eq!(code, StatusCode::CONFLICT);
    assert_error(&body, "duplicate_run");
    // The workspace was prepared before the CLI was looked for.
    let ws = dir.path().join("ws");
    assert!(ws.join(".git").is_dir() && ws.join(".claude_data").is_dir());
}

#[tokio::test]
async fn an_attachment_that_cannot_be_fetched_fails_the_run_without_leaking_its_url() {
    let receiver = Receiver::default()
        .serve(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await;
    let (files, _guard) = file_server(vec![]).await;
    let dir = tempfile::tempdir().unwrap();
    let exec = executor(dir.path()).await;
    let run_id = Uuid::new_v4();
    let mut body = task(run_id, "hi", &receiver.url());
    body["input_files"] = json!([{"name": "report.pdf", "url": format!("{files}/report.pdf?X-Amz-Signature=sig-secret")}]);
    exec.execute(&body).await;
    let events = receiver
        .receiver
        .wait_terminal(run_id, Duration::from_secs(30))
        .await;
    match &events.last().unwrap().body {
        EventBody::Failed { error } => {
            assert_eq!(
                error,
                "could not prepare the workspace: could not fetch the attachment `report.pdf`: HTTP 404"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_receiver_refusing_the_token_does_not_block_the_run() {
    // A 4xx other than 408/429 is permanent: the batch is dropped, the run still ends.
    let receiver = Receiver::default()
        .serve(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await;
    let dir = tempfile::tempdir().unwrap();
    let exec = executor(dir.path()).await;
    let run_id = Uuid::new_v4();
    let mut body = task(run_id, "hi", &receiver.url());
    body["callback_token"] = json!("wrong-token");
    exec.execute(&body).await;
    let status = tokio::time::timeout(Duration::from_secs(30), exec.tasks.wait(run_id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status.state, protocol::executor::TaskState::Failed);
    assert_eq!(
        receiver
            .receiver
            .unauthorized
            .load(std::sync::atomic::Ordering::SeqCst),
        1
    );
}

fn binary() -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_executor"));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("EXECUTOR_API_SECRET", API_SECRET)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

#[test]
fn the_binary_refuses_to_start_without_a_default_model() {
    let out = binary().env("PORT", "0").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr.trim(),
        "executor: DEFAULT_MODEL is required: model the agent uses when a task names none (e.g. claude-sonnet-4-5)"
    );
    let out = binary()
        .env("DEFAULT_MODEL", "m")
        .env("PORT", "eighty")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("executor: PORT is invalid"));
}

const API_SECRET: &str = "binary-test-secret-0123456789abcdef0123456789";

#[test]
fn the_binary_refuses_to_start_without_a_long_api_secret() {
    let out = binary()
        .env_remove("EXECUTOR_API_SECRET")
        .env("DEFAULT_MODEL", "m")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("executor: EXECUTOR_API_SECRET is required"),
        "{stderr}"
    );
    let out = binary()
        .env("EXECUTOR_API_SECRET", "short")
        .env("DEFAULT_MODEL", "m")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr.trim(),
        "executor: EXECUTOR_API_SECRET is invalid: must be at least 32 bytes"
    );
}

#[tokio::test]
async fn the_binary_serves_and_stops_on_sigterm() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let dir = tempfile::tempdir().unwrap();
    let mut child = binary()
        .env("DEFAULT_MODEL", "m")
        .env("HOST", "127.0.0.1")
        .env("PORT", port.to_string())
        .env("WORKSPACE_PATH", dir.path().join("ws"))
        .env("ANTHROPIC_API_KEY", "sk-never-logged")
        .env("EXECUTOR_INSTANCE_ID", "binary-instance-1")
        .env("LOG_LEVEL", "debug")
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}/health");
    let mut up = false;
    for _ in 0..100 {
        if let Ok(r) = reqwest::get(&url).await
            && r.status().is_success()
        {
            let body: Value = r.json().await.unwrap();
            assert_eq!(body["instance"], "binary-instance-1", "{body}");
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(up, "the executor did not come up");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let status = tokio::task::spawn_blocking(move || {
        let status = child.wait().unwrap();
        let mut stdout = String::new();
        use std::io::Read;
        child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut stdout)
            .unwrap();
        (status, stdout)
    })
    .await
    .unwrap();
    assert!(status.0.success(), "{:?}", status.0);
    assert!(status.1.contains("executor listening"), "{}", status.1);
    assert!(!status.1.contains("sk-never-logged"), "a secret was logged");
    assert!(!status.1.contains(API_SECRET), "the API secret was logged");
}

/// `AGENT_UID`/`AGENT_GID`: the agent runs as that user, with no supplementary groups, in a
/// workspace it owns. (A stand-in script records who it runs as; the real CLI is not needed to
/// check the executor's process set-up.)
#[tokio::test]
async fn the_agent_can_run_as_another_user() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    if !nix::unistd::Uid::effective().is_root() {
        eprintln!("skipped: needs root to switch users");
        return;
    }
    let receiver = Receiver::default()
        .serve(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let fake = script(
        dir.path(),
        "who-am-i",
        r#"#!/bin/sh
id -u > whoami.txt; id -g >> whoami.txt; id -G >> whoami.txt
touch "$HOME/written-by-agent"
echo '{"type":"result","subtype":"success","is_error":false,"num_turns":1,"duration_ms":1,"total_cost_usd":0,"usage":{}}'
"#,
    );
    let ws = dir.path().join("ws");
    let mut s = settings(fake.to_str().unwrap(), &ws);
    s.agent_uid = Some(65534);
    s.agent_gid = Some(65534);
    let exec = Executor::start(s).await;
    let run_id = Uuid::new_v4();
    exec.execute(&task(run_id, "hi", &receiver.url())).await;
    let events = receiver
        .receiver
        .wait_terminal(run_id, Duration::from_secs(30))
        .await;
    assert_eq!(
        assert_well_formed(&events).last(),
        Some(&"completed"),
        "{events:#?}"
    );
    assert_eq!(
        std::fs::read_to_string(ws.join("whoami.txt")).unwrap(),
        "65534\n65534\n65534\n"
    );
    assert!(ws.join(".claude_data/written-by-agent").exists());
    assert_eq!(
        std::fs::metadata(ws.join(".git/config")).unwrap().uid(),
        65534
    );
    // The executor's own bookkeeping still works on a workspace it no longer owns.
    let changes = events
        .iter()
        .find_map(|e| match &e.body {
            EventBody::FileChanges { changes } => Some(changes.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].path, "whoami.txt");
}

/// The callback settings shape the delivery of a run's events: `CALLBACK_BATCH_MAX_EVENTS` and
/// `CALLBACK_BATCH_MAX_BYTES` bound each batch (a batch over the byte limit carries one event),
/// and `CALLBACK_RETRY_SECONDS` bounds how long a batch the receiver keeps refusing is retried,
/// so the run still ends (with the default of 600 s it would wait ten minutes).
#[tokio::test]
async fn callback_settings_bound_the_batches_and_the_retries() {
    let dir = tempfile::tempdir().unwrap();
    // Twelve lines at once (each a raw event), then the result.
    let fake = script(
        dir.path(),
        "chatty-claude",
        r#"#!/bin/bash
IFS= read -r line
for i in $(seq 1 12); do echo "line $i"; done
echo '{"type":"result","subtype":"success","is_error":false,"num_turns":1,"duration_ms":1,"total_cost_usd":0,"usage":{}}'
"#,
    );
    let fake = fake.to_str().unwrap().to_owned();
    let batch_sizes = |receiver: &Receiver, run_id: Uuid| -> Vec<usize> {
        receiver
            .batches
            .lock()
            .unwrap()
            .iter()
            .filter(|b| b.run_id == run_id)
            .map(|b| b.events.len())
            .collect()
    };

    // CALLBACK_BATCH_MAX_EVENTS=2, then CALLBACK_BATCH_MAX_BYTES=1.
    for (max_events, max_bytes, most) in [(2, 1_048_576, 2), (100, 1, 1)] {
        let receiver = Receiver::default()
            .serve(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await;
        let mut s = settings(&fake, &dir.path().join(format!("ws-{most}")));
        s.callback_batch_max_events = max_events;
        s.callback_batch_max_bytes = max_bytes;
        let exec = Executor::start(s).await;
        let run_id = Uuid::new_v4();
        exec.execute(&task(run_id, "hi", &receiver.url())).await;
        let events = receiver
            .receiver
            .wait_terminal(run_id, Duration::from_secs(30))
            .await;
        assert_eq!(
            assert_well_formed(&events).last(),
            Some(&"completed"),
            "{events:#?}"
        );
        assert!(events.len() >= 14, "{}", events.len());
        let sizes = batch_sizes(&receiver.receiver, run_id);
        assert!(
            sizes.iter().all(|n| (1..=most).contains(n)),
            "max_events {max_events}, max_bytes {max_bytes}: {sizes:?}"
        );
        assert_eq!(sizes.iter().sum::<usize>(), events.len());
    }

    // CALLBACK_RETRY_SECONDS=1 against a receiver answering 503 to everything: each batch is
    // retried for a second, then given up, and the run ends.
    let receiver = Receiver::default();
    receiver
        .fail_with
        .store(503, std::sync::atomic::Ordering::SeqCst);
    let receiver = receiver.serve(SocketAddr::from(([127, 0, 0, 1], 0))).await;
    let mut s = settings(&fake, &dir.path().join("ws-retry"));
    s.callback_retry_seconds = 1;
    let exec = Executor::start(s).await;
    let run_id = Uuid::new_v4();
    exec.execute(&task(run_id, "hi", &receiver.url())).await;
    tokio::time::timeout(Duration::from_secs(60), exec.tasks.wait(run_id))
        .await
        .expect("the run ended: its batches were given up")
        .unwrap();
    let requests = receiver
        .receiver
        .requests
        .load(std::sync::atomic::Ordering::SeqCst);
    assert!(requests >= 2, "retried: {requests} requests");
    assert!(batch_sizes(&receiver.receiver, run_id).is_empty());
}
