//! The human in the loop on the real Claude Code CLI (`CLAUDE_BIN`) and the scripted model
//! server: `can_use_tool` control requests become `input_request` events, answers posted to
//! `POST /v1/tasks/{run_id}/input-answers` reach the CLI, expiry and cancel end them; and the
//! control shapes of the CLI itself, recorded, so that an upgrade that changes them fails here.

mod common;

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use chrono::Utc;
use common::*;
use executor::agent::AgentInvocation;
use executor::staging::Staged;
use executor::task::PrestartUse;
use fake_llm::{Block, Config, FakeLlm, FakeLlmHandle, ScenarioFile, Turn};
use protocol::event::{EventBody, RunEvent};
use protocol::executor::ExecuteRequest;
use protocol::input::{InputAnswer, InputDecision, InputKind, InputOutcome, InputRequest};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use uuid::Uuid;

const RUN_TIMEOUT: Duration = Duration::from_secs(90);
const ASK_TIMEOUT: Duration = Duration::from_secs(60);
const PLAN: &str = "# Plan\n1. Write b.txt";

fn bash(command: &str) -> Turn {
    Turn::blocks(vec![Block::tool_use(
        "Bash",
        json!({"command": command, "description": "Write a file"}),
    )])
}

fn scenarios() -> ScenarioFile {
    ScenarioFile::default()
        .with_scenario(
            "write",
            vec![bash("echo hi > a.txt"), Turn::text("done writing")],
        )
        .with_scenario(
            "twice",
            vec![
                bash("echo 1 > c.txt"),
                bash("echo 2 > d.txt"),
                Turn::text("done twice"),
            ],
        )
        .with_scenario(
            "follow",
            vec![
                bash("echo 1 > e.txt"),
                Turn::text("first done"),
                bash("echo 2 > f.txt"),
                Turn::text("second done"),
            ],
        )
        .with_scenario(
            "ask",
            vec![
                Turn::blocks(vec![Block::tool_use(
                    "AskUserQuestion",
                    json!({"questions": [{
                        "question": "Which color?",
                        "header": "Color",
                        "multiSelect": false,
                        "options": [
                            {"label": "Red", "description": "warm"},
                            {"label": "Blue", "description": "cool"}
                        ]
                    }]}),
                )]),
                Turn::text("ok, noted"),
            ],
        )
        .with_scenario(
            "plan",
            vec![
                Turn::blocks(vec![Block::tool_use("ExitPlanMode", json!({"plan": PLAN}))]),
                bash("echo hi > b.txt"),
                Turn::text("plan done"),
            ],
        )
}

async fn start_llm() -> FakeLlmHandle {
    FakeLlm::start(Config::new("sk-ant-test-key", scenarios()))
        .await
        .expect("fake model server")
}

async fn start_receiver() -> ReceiverServer {
    Receiver::default()
        .serve(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
}

/// One run of a test: the executor, its workspace, the receiver, the model server.
struct Fixture {
    llm: FakeLlmHandle,
    receiver: ReceiverServer,
    exec: Executor,
    ws: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl Fixture {
    async fn start(prestart: bool) -> Self {
        let llm = start_llm().await;
        let receiver = start_receiver().await;
        let dir = tempfile::tempdir().unwrap();
        let ws = dir.path().join("ws");
        let mut settings = cli_settings(&ws, &llm);
        settings.agent_prestart = prestart;
        let exec = Executor::start(settings).await;
        Self {
            llm,
            receiver,
            exec,
            ws,
            _dir: dir,
        }
    }

    /// Starts a run in `mode` (extra fields merged into the body); returns its id.
    async fn run(&self, prompt: &str, mode: &str, extra: Value) -> Uuid {
        let run_id = Uuid::new_v4();
        let mut body = task(run_id, prompt, &self.receiver.url());
        body["permission_mode"] = json!(mode);
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                b.insert(k.clone(), v.clone());
            }
        }
        self.exec.execute(&body).await;
        run_id
    }

    fn requests(&self, run_id: Uuid) -> Vec<InputRequest> {
        self.receiver
            .receiver
            .events(run_id)
            .into_iter()
            .filter_map(|e| match e.body {
                EventBody::InputRequest(r) => Some(*r),
                _ => None,
            })
            .collect()
    }

    /// Waits for the run's `n`th input request (1-based).
    async fn nth_request(&self, run_id: Uuid, n: usize) -> InputRequest {
        let deadline = Instant::now() + ASK_TIMEOUT;
        loop {
            let requests = self.requests(run_id);
            if requests.len() >= n {
                return requests[n - 1].clone();
            }
            if let Some(e) = self
                .receiver
                .receiver
                .events(run_id)
                .iter()
                .find(|e| e.body.is_terminal())
            {
                panic!("run ended before input request {n}: {:?}", e.body);
            }
            assert!(
                Instant::now() < deadline,
                "no input request {n} within {ASK_TIMEOUT:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn answer(&self, run_id: Uuid, answer: &InputAnswer) -> (StatusCode, Value) {
        self.exec
            .post(
                &format!("/v1/tasks/{run_id}/input-answers"),
                &serde_json::to_value(answer).unwrap(),
            )
            .await
    }

    async fn finish(&self, run_id: Uuid) -> Vec<RunEvent> {
        self.receiver
            .receiver
            .wait_terminal(run_id, RUN_TIMEOUT)
            .await
    }

    /// The last conversation request the model received.
    fn last_turn(&self) -> fake_llm::RecordedRequest {
        self.llm.turn_requests().pop().expect("a model request")
    }
}

fn answer(request_id: Uuid, decision: InputDecision) -> InputAnswer {
    InputAnswer {
        request_id,
        outcome: InputOutcome::Answered,
        decision,
        message: None,
        updated_input: None,
        answers: Default::default(),
        always: false,
        mode: None,
        answered_by: Some("ada@example.com".into()),
        answered_at: Utc::now(),
    }
}

fn answers_of(events: &[RunEvent]) -> Vec<InputAnswer> {
    events
        .iter()
        .filter_map(|e| match &e.body {
            EventBody::InputAnswer(a) => Some((**a).clone()),
            _ => None,
        })
        .collect()
}

fn position(events: &[RunEvent], kind: &str) -> usize {
    events
        .iter()
        .position(|e| e.body.kind() == kind)
        .unwrap_or_else(|| panic!("no {kind} event"))
}

/// The `tool_result` blocks of a model request, as (is_error, text).
fn tool_results(request: &fake_llm::RecordedRequest) -> Vec<(bool, String)> {
    request
        .content_blocks("tool_result")
        .into_iter()
        .map(|b| {
            let is_error = b.get("is_error").and_then(Value::as_bool).unwrap_or(false);
            let text = match b.get("content") {
                Some(Value::String(s)) => s.clone(),
                Some(other) => other.to_string(),
                None => String::new(),
            };
            (is_error, text)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_allowed_bash_call_runs_and_a_second_answer_is_refused() {
    let _slot = cli_slot().await;
    let f = Fixture::start(false).await;
    let run_id = f
        .run("[scenario:write] write a.txt", "default", json!({}))
        .await;

    let request = f.nth_request(run_id, 1).await;
    assert_eq!(request.kind, InputKind::Permission);
    assert_eq!(request.tool_name, "Bash");
    assert_eq!(request.input["command"], "echo hi > a.txt");
    assert!(request.tool_use_id.is_some());
    assert!(request.expires_at > Utc::now() + chrono::Duration::seconds(200));
    assert!(!f.ws.join("a.txt").exists(), "ran before it was allowed");

    // Unknown run, unknown request: 404.
    let (status, body) = f
        .answer(
            Uuid::new_v4(),
            &answer(request.request_id, InputDecision::Allow),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, body) = f
        .answer(run_id, &answer(Uuid::new_v4(), InputDecision::Allow))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(body["error"]["code"], "not_found");
    // Without the secret: 401, like every other route.
    let (status, _) = f
        .exec
        .post_as(
            None,
            &format!("/v1/tasks/{run_id}/input-answers"),
            &serde_json::to_value(answer(request.request_id, InputDecision::Allow)).unwrap(),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let given = answer(request.request_id, InputDecision::Allow);
    let (status, body) = f.answer(run_id, &given).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let (status, body) = f.answer(run_id, &given).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["code"], "already_answered");

    let events = f.finish(run_id).await;
    assert_eq!(assert_well_formed(&events).last(), Some(&"completed"));
    assert_eq!(std::fs::read_to_string(f.ws.join("a.txt")).unwrap(), "hi\n");
    assert_eq!(answers_of(&events), vec![given]);
    assert!(position(&events, "input_request") < position(&events, "input_answer"));
    assert!(position(&events, "input_answer") < position(&events, "tool_result"));
    // The control traffic itself is no event.
    assert!(!events.iter().any(|e| e.body.kind() == "raw"), "{events:?}");
    // After the run: the request is resolved for good.
    let (status, _) = f
        .answer(run_id, &answer(request.request_id, InputDecision::Deny))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_denial_reaches_the_model_and_the_command_does_not_run() {
    let _slot = cli_slot().await;
    let f = Fixture::start(false).await;
    let run_id = f
        .run("[scenario:write] write a.txt", "default", json!({}))
        .await;
    let request = f.nth_request(run_id, 1).await;
    let mut given = answer(request.request_id, InputDecision::Deny);
    given.message = Some("Not in this directory, please.".into());
    assert_eq!(f.answer(run_id, &given).await.0, StatusCode::ACCEPTED);

    let events = f.finish(run_id).await;
    assert_eq!(assert_well_formed(&events).last(), Some(&"completed"));
    assert!(!f.ws.join("a.txt").exists());
    let results = tool_results(&f.last_turn());
    assert!(
        results
            .iter()
            .any(|(err, text)| *err && text.contains("Not in this directory, please.")),
        "{results:?}"
    );
    assert_eq!(answers_of(&events), vec![given]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn always_allows_the_tool_for_the_rest_of_the_run() {
    let _slot = cli_slot().await;
    let f = Fixture::start(false).await;
    let run_id = f
        .run("[scenario:twice] write twice", "default", json!({}))
        .await;
    let request = f.nth_request(run_id, 1).await;
    let mut given = answer(request.request_id, InputDecision::Allow);
    given.always = true;
    assert_eq!(f.answer(run_id, &given).await.0, StatusCode::ACCEPTED);

    let events = f.finish(run_id).await;
    assert_eq!(assert_well_formed(&events).last(), Some(&"completed"));
    assert!(f.ws.join("c.txt").exists() && f.ws.join("d.txt").exists());
    assert_eq!(f.requests(run_id).len(), 1, "the second Bash call asked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_question_is_answered_with_the_chosen_option() {
    let _slot = cli_slot().await;
    let f = Fixture::start(false).await;
    // Asked even when tools run unattended.
    let run_id = f
        .run(
            "[scenario:ask] pick a color",
            "bypassPermissions",
            json!({}),
        )
        .await;
    let request = f.nth_request(run_id, 1).await;
    assert_eq!(request.kind, InputKind::Question);
    assert_eq!(request.tool_name, "AskUserQuestion");
    assert_eq!(request.questions.len(), 1);
    let q = &request.questions[0];
    assert_eq!(q.question, "Which color?");
    assert_eq!(q.header.as_deref(), Some("Color"));
    assert!(!q.multi_select);
    let labels: Vec<&str> = q.options.iter().map(|o| o.label.as_str()).collect();
    assert_eq!(labels, ["Red", "Blue"]);
    assert_eq!(q.options[1].description.as_deref(), Some("cool"));

    let mut given = answer(request.request_id, InputDecision::Allow);
    given.answers.insert("Which color?".into(), "Blue".into());
    assert_eq!(f.answer(run_id, &given).await.0, StatusCode::ACCEPTED);
    let events = f.finish(run_id).await;
    assert_eq!(assert_well_formed(&events).last(), Some(&"completed"));
    let results = tool_results(&f.last_turn());
    assert!(
        results
            .iter()
            .any(|(err, text)| !*err && text.contains("\"Which color?\"=\"Blue\"")),
        "{results:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approved_plan_switches_to_accept_edits() {
    let _slot = cli_slot().await;
    let f = Fixture::start(false).await;
    let run_id = f.run("[scenario:plan] plan it", "plan", json!({})).await;
    let request = f.nth_request(run_id, 1).await;
    assert_eq!(request.kind, InputKind::Plan);
    assert_eq!(request.tool_name, "ExitPlanMode");
    assert_eq!(request.plan.as_deref(), Some(PLAN));
    let mut given = answer(request.request_id, InputDecision::Allow);
    given.mode = Some(protocol::PermissionMode::AcceptEdits);
    assert_eq!(f.answer(run_id, &given).await.0, StatusCode::ACCEPTED);

    let events = f.finish(run_id).await;
    assert_eq!(assert_well_formed(&events).last(), Some(&"completed"));
    assert_eq!(std::fs::read_to_string(f.ws.join("b.txt")).unwrap(), "hi\n");
    assert_eq!(f.requests(run_id).len(), 1, "the Bash write asked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_plan_sends_the_feedback_and_stays_in_plan_mode() {
    let _slot = cli_slot().await;
    let f = Fixture::start(false).await;
    let run_id = f.run("[scenario:plan] plan it", "plan", json!({})).await;
    let request = f.nth_request(run_id, 1).await;
    let mut given = answer(request.request_id, InputDecision::Deny);
    given.message = Some("Write tests first.".into());
    assert_eq!(f.answer(run_id, &given).await.0, StatusCode::ACCEPTED);

    // Still planning: the Bash write asks.
    let next = f.nth_request(run_id, 2).await;
    assert_eq!(next.kind, InputKind::Permission);
    assert_eq!(next.tool_name, "Bash");
    let results = tool_results(&f.last_turn());
    assert!(
        results.iter().any(|(err, text)| *err
            && text.contains("The user wants to keep planning.")
            && text.contains("Write tests first.")),
        "{results:?}"
    );
    assert_eq!(
        f.answer(run_id, &answer(next.request_id, InputDecision::Deny))
            .await
            .0,
        StatusCode::ACCEPTED
    );
    let events = f.finish(run_id).await;
    assert_eq!(assert_well_formed(&events).last(), Some(&"completed"));
    assert!(!f.ws.join("b.txt").exists());
    let results = tool_results(&f.last_turn());
    assert!(
        results
            .iter()
            .any(|(err, text)| *err && text.contains("The user denied this tool call.")),
        "{results:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unanswered_request_expires_and_the_model_is_told() {
    let _slot = cli_slot().await;
    let f = Fixture::start(false).await;
    let run_id = f
        .run(
            "[scenario:write] write a.txt",
            "default",
            json!({"input_timeout_seconds": 1}),
        )
        .await;
    let request = f.nth_request(run_id, 1).await;
    assert!(request.expires_at <= Utc::now() + chrono::Duration::seconds(2));
    let events = f.finish(run_id).await;
    assert_eq!(assert_well_formed(&events).last(), Some(&"completed"));
    assert!(!f.ws.join("a.txt").exists());
    let answers = answers_of(&events);
    assert_eq!(answers.len(), 1, "{answers:?}");
    assert_eq!(answers[0].request_id, request.request_id);
    assert_eq!(answers[0].outcome, InputOutcome::Expired);
    assert_eq!(answers[0].decision, InputDecision::Deny);
    assert_eq!(answers[0].answered_by, None);
    let results = tool_results(&f.last_turn());
    assert!(
        results
            .iter()
            .any(|(err, text)| *err && text.contains("Nobody answered within 1 s")),
        "{results:?}"
    );
    // Too late now.
    let (status, _) = f
        .answer(run_id, &answer(request.request_id, InputDecision::Allow))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_while_waiting_ends_the_run_and_cancels_the_request() {
    let _slot = cli_slot().await;
    let f = Fixture::start(false).await;
    let run_id = f
        .run("[scenario:write] write a.txt", "default", json!({}))
        .await;
    let request = f.nth_request(run_id, 1).await;
    let started = Instant::now();
    let (status, _) = f
        .exec
        .post(&format!("/v1/tasks/{run_id}/cancel"), &json!({}))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let events = f.finish(run_id).await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "cancel took {:?}",
        started.elapsed()
    );
    assert_eq!(assert_well_formed(&events).last(), Some(&"canceled"));
    let answers = answers_of(&events);
    assert_eq!(answers.len(), 1, "{answers:?}");
    assert_eq!(answers[0].request_id, request.request_id);
    assert_eq!(answers[0].outcome, InputOutcome::Canceled);
    assert_eq!(answers[0].answered_by, None);
    assert!(!f.ws.join("a.txt").exists());
    let (status, _) = f
        .answer(run_id, &answer(request.request_id, InputDecision::Allow))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follow_up_in_the_cli_started_ahead_still_asks() {
    let _slot = cli_slot().await;
    let f = Fixture::start(true).await;
    let session = Uuid::new_v4();
    let first = f
        .run(
            "[scenario:follow] write e.txt",
            "default",
            json!({"session_id": session}),
        )
        .await;
    let request = f.nth_request(first, 1).await;
    f.answer(first, &answer(request.request_id, InputDecision::Allow))
        .await;
    let events = f.finish(first).await;
    assert_eq!(assert_well_formed(&events).last(), Some(&"completed"));
    let agent_session = match &events[0].body {
        EventBody::SystemInit {
            agent_session_id, ..
        } => agent_session_id.clone(),
        other => panic!("{other:?}"),
    };

    let second = f
        .run(
            "now f.txt",
            "default",
            json!({"session_id": session, "resume_agent_session_id": agent_session}),
        )
        .await;
    let request = f.nth_request(second, 1).await;
    assert_eq!(request.input["command"], "echo 2 > f.txt");
    f.answer(second, &answer(request.request_id, InputDecision::Allow))
        .await;
    let events = f.finish(second).await;
    assert_eq!(assert_well_formed(&events).last(), Some(&"completed"));
    assert!(f.ws.join("f.txt").exists());
    assert_eq!(
        f.exec.tasks.prestart_counts(),
        PrestartUse {
            taken: 0,
            kept: 1,
            replaced: 0
        }
    );
}

/// The real CLI, started with the executor's own command line and environment, driven by hand.
struct RawCli {
    child: tokio::process::Child,
    stdin: tokio::process::ChildStdin,
    lines: tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
}

impl RawCli {
    async fn start(llm: &FakeLlmHandle, ws: &std::path::Path, mode: &str, prompt: &str) -> Self {
        std::fs::create_dir_all(ws.join(".claude_data")).unwrap();
        let settings = cli_settings(ws, llm);
        let req: ExecuteRequest = serde_json::from_value(json!({
            "run_id": Uuid::new_v4(),
            "session_id": Uuid::new_v4(),
            "prompt": prompt,
            "callback_url": "http://127.0.0.1:9/cb",
            "callback_token": "t",
            "permission_mode": mode,
        }))
        .unwrap();
        let inv = AgentInvocation::new(&settings, &req, &Staged::nothing(), |name| {
            std::env::var(name).ok()
        });
        assert!(
            inv.args
                .windows(2)
                .any(|w| w[0] == "--permission-prompt-tool" && w[1] == "stdio"),
            "{:?}",
            inv.args
        );
        let mut child = tokio::process::Command::new(&inv.program)
            .args(&inv.args)
            .env_clear()
            .envs(&inv.env)
            .current_dir(&inv.cwd)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let message = json!({"type": "user", "message": {"role": "user", "content": prompt}});
        stdin
            .write_all(format!("{message}\n").as_bytes())
            .await
            .unwrap();
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        Self {
            child,
            stdin,
            lines,
        }
    }

    /// Reads lines up to the first of type `kind`; returns it and the lines before it.
    async fn until(&mut self, kind: &str) -> (Value, Vec<Value>) {
        let mut before = Vec::new();
        let read = async {
            while let Some(line) = self.lines.next_line().await.unwrap() {
                let v: Value = serde_json::from_str(&line).unwrap();
                if v["type"] == kind {
                    return v;
                }
                before.push(v);
            }
            panic!("the CLI ended before a {kind} line");
        };
        let found = tokio::time::timeout(ASK_TIMEOUT, read)
            .await
            .unwrap_or_else(|_| panic!("no {kind} line"));
        (found, before)
    }

    async fn send(&mut self, v: Value) {
        self.stdin
            .write_all(format!("{v}\n").as_bytes())
            .await
            .unwrap();
    }

    /// The input of the tool_use block with this id among `lines`.
    fn tool_use_input(lines: &[Value], id: &str) -> Value {
        lines
            .iter()
            .filter(|l| l["type"] == "assistant")
            .filter_map(|l| l["message"]["content"].as_array())
            .flatten()
            .find(|b| b["type"] == "tool_use" && b["id"] == id)
            .map(|b| b["input"].clone())
            .unwrap_or_else(|| panic!("no tool_use {id}"))
    }

    async fn end(mut self) {
        let (result, _) = self.until("result").await;
        assert_eq!(result["is_error"], false, "{result}");
        drop(self.stdin);
        let status = tokio::time::timeout(Duration::from_secs(20), self.child.wait())
            .await
            .expect("the CLI exits once its input is closed")
            .unwrap();
        assert!(status.success());
    }
}

/// The fields of `can_use_tool` and `control_response` the executor relies on, as CLI 2.1.330
/// writes and reads them (see `protocol::input::cli`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_control_shapes_are_the_ones_the_executor_relies_on() {
    let _slot = cli_slot().await;
    let llm = start_llm().await;
    let dir = tempfile::tempdir().unwrap();

    // A Bash call in `default` mode.
    let ws = dir.path().join("bash");
    let mut cli = RawCli::start(&llm, &ws, "default", "[scenario:write] go").await;
    let (line, before) = cli.until("control_request").await;
    let cli_id = line["request_id"].as_str().expect("request_id").to_owned();
    let req = &line["request"];
    assert_eq!(req["subtype"], "can_use_tool", "{line}");
    assert_eq!(req["tool_name"], "Bash", "{line}");
    assert_eq!(req["input"]["command"], "echo hi > a.txt", "{line}");
    assert_eq!(req["description"], "Write a file", "{line}");
    assert!(req["permission_suggestions"].is_array(), "{line}");
    let tool_use_id = req["tool_use_id"].as_str().expect("tool_use_id");
    assert_eq!(
        RawCli::tool_use_input(&before, tool_use_id)["command"],
        "echo hi > a.txt"
    );
    let parsed: protocol::input::cli::CanUseTool =
        serde_json::from_value(req.clone()).expect("CanUseTool");
    assert_eq!(parsed.tool_use_id.as_deref(), Some(tool_use_id));
    // Always: addRules for the session.
    let allow = protocol::input::cli::PermissionResult::Allow {
        updated_input: req["input"].clone(),
        updated_permissions: vec![json!({
            "type": "addRules", "rules": [{"toolName": "Bash"}],
            "behavior": "allow", "destination": "session"
        })],
    };
    cli.send(protocol::input::cli::control_response(&cli_id, &allow))
        .await;
    cli.end().await;
    assert!(ws.join("a.txt").exists());

    // AskUserQuestion: asked even under bypassPermissions, answered through `answers`.
    let ws = dir.path().join("ask");
    let mut cli = RawCli::start(&llm, &ws, "bypassPermissions", "[scenario:ask] go").await;
    let (line, _) = cli.until("control_request").await;
    let cli_id = line["request_id"].as_str().unwrap().to_owned();
    let req = &line["request"];
    assert_eq!(req["subtype"], "can_use_tool", "{line}");
    assert_eq!(req["tool_name"], "AskUserQuestion", "{line}");
    assert_eq!(req["requires_user_interaction"], true, "{line}");
    assert_eq!(req["input"]["questions"][0]["question"], "Which color?");
    assert_eq!(req["input"]["questions"][0]["options"][1]["label"], "Blue");
    let mut input = req["input"].clone();
    input["answers"] = json!({"Which color?": "Blue"});
    let allow = protocol::input::cli::PermissionResult::Allow {
        updated_input: input,
        updated_permissions: vec![],
    };
    cli.send(protocol::input::cli::control_response(&cli_id, &allow))
        .await;
    let (user, _) = cli.until("user").await;
    assert!(
        user.to_string().contains(r#"\"Which color?\"=\"Blue\""#),
        "{user}"
    );
    cli.end().await;

    // ExitPlanMode: an empty input, the plan only in the tool_use; setMode on approval.
    let ws = dir.path().join("plan");
    let mut cli = RawCli::start(&llm, &ws, "plan", "[scenario:plan] go").await;
    let (line, before) = cli.until("control_request").await;
    let cli_id = line["request_id"].as_str().unwrap().to_owned();
    let req = &line["request"];
    assert_eq!(req["tool_name"], "ExitPlanMode", "{line}");
    assert_eq!(req["input"], json!({}), "{line}");
    let tool_use_id = req["tool_use_id"].as_str().expect("tool_use_id");
    assert_eq!(RawCli::tool_use_input(&before, tool_use_id)["plan"], PLAN);
    let allow = protocol::input::cli::PermissionResult::Allow {
        updated_input: json!({}),
        updated_permissions: vec![
            json!({"type": "setMode", "mode": "acceptEdits", "destination": "session"}),
        ],
    };
    cli.send(protocol::input::cli::control_response(&cli_id, &allow))
        .await;
    cli.end().await;
    assert!(ws.join("b.txt").exists(), "the write after setMode asked");
}
