//! End-to-end runs of the real Claude Code CLI (`CLAUDE_BIN`) against the scripted model server.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use common::*;
use executor::task::PrestartUse;
use fake_llm::{Block, Config, FakeLlm, ScenarioFile, Turn};
use protocol::event::{ChangeKind, EventBody};
use serde_json::json;
use uuid::Uuid;

const RUN_TIMEOUT: Duration = Duration::from_secs(90);

fn scenarios() -> ScenarioFile {
    ScenarioFile::default()
        .with_scenario(
            "write_file",
            vec![
                Turn::blocks(vec![
                    Block::thinking("I will write the file with Bash."),
                    Block::tool_use(
                        "Bash",
                        json!({
                            "command": "printf 'hello from the agent\\n' > created.txt && env | sort > .claude_data/agent-env.txt",
                            "description": "Write created.txt"
                        }),
                    ),
                ]),
                Turn::blocks(vec![Block::tool_use(
                    "TaskCreate",
                    json!({"subject": "Check the greeting", "description": "Read it back", "activeForm": "Checking the greeting"}),
                )]),
                Turn::text("Done: created.txt holds the greeting."),
            ],
        )
        .with_scenario(
            "long_tool",
            vec![
                Turn::blocks(vec![Block::tool_use(
                    "Bash",
                    json!({"command": "echo started && sleep 60 && echo finished", "description": "Wait"}),
                )]),
                Turn::text("finished waiting"),
            ],
        )
        .with_scenario(
            "ignored_files",
            vec![
                Turn::blocks(vec![Block::tool_use(
                    "Bash",
                    json!({
                        "command": "mkdir -p build && printf 'a\\nb\\n' > kept.txt && printf 's\\n' > secret.txt && printf 'o\\n' > build/out.txt",
                        "description": "Write files"
                    }),
                )]),
                Turn::text("Wrote three files."),
            ],
        )
        .with_scenario(
            "remember",
            vec![
                Turn::text("Nice to meet you, Ada."),
                Turn::text("Your name is Ada."),
            ],
        )
        .with_scenario(
            "three_turns",
            vec![
                Turn::text("Nice to meet you, Grace."),
                Turn::text("Your name is Grace."),
                Turn::text("Still Grace."),
                Turn::text("Grace, as before."),
            ],
        )
        .with_scenario("server_error", vec![Turn::error(500)])
        .with_scenario(
            "count_lines",
            vec![
                Turn::blocks(vec![Block::tool_use(
                    "Bash",
                    json!({"command": "tail -n +2 inputs/data.csv | wc -l > count.txt", "description": "Count rows"}),
                )]),
                Turn::text("2 rows."),
            ],
        )
}

async fn start_llm() -> fake_llm::FakeLlmHandle {
    FakeLlm::start(Config::new("sk-ant-test-key", scenarios()))
        .await
        .expect("fake model server")
}

async fn start_receiver() -> ReceiverServer {
    Receiver::default()
        .serve(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
}

fn result_of(events: &[protocol::event::RunEvent]) -> Option<&protocol::event::RunResult> {
    events.iter().find_map(|e| match &e.body {
        EventBody::Result(r) => Some(r),
        _ => None,
    })
}

fn failure_of(events: &[protocol::event::RunEvent]) -> String {
    match events.last().map(|e| &e.body) {
        Some(EventBody::Failed { error }) => error.clone(),
        other => panic!("expected a failed run, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bash_tool_writes_a_file_and_every_event_arrives_in_order() {
    let _slot = cli_slot().await;
    let llm = start_llm().await;
    let receiver = start_receiver().await;
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("workspace");
    let exec = Executor::start(cli_settings(&ws, &llm)).await;

    let run_id = Uuid::new_v4();
    exec.execute(&task(
        run_id,
        "[scenario:write_file] Write a greeting to created.txt",
        &receiver.url(),
    ))
    .await;
    let events = receiver.receiver.wait_terminal(run_id, RUN_TIMEOUT).await;
    let kinds = assert_well_formed(&events);

    assert_eq!(
        std::fs::read_to_string(ws.join("created.txt")).unwrap(),
        "hello from the agent\n"
    );
    assert_eq!(kinds.first(), Some(&"system_init"), "{kinds:?}");
    assert_eq!(kinds.last(), Some(&"completed"), "{kinds:?}");
    for kind in [
        "thinking",
        "tool_use",
        "tool_result",
        "todo_update",
        "assistant_text",
    ] {
        assert!(kinds.contains(&kind), "{kind} missing from {kinds:?}");
    }
    // The result (with usage) comes before the file changes, which come before the end.
    let result_at = kinds.iter().position(|k| *k == "result").unwrap();
    let changes_at = kinds.iter().position(|k| *k == "file_changes").unwrap();
    assert!(
        result_at < changes_at && changes_at == kinds.len() - 2,
        "{kinds:?}"
    );
    let todos = events
        .iter()
        .find_map(|e| match &e.body {
            EventBody::TodoUpdate { todos } => Some(todos.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(todos.len(), 1);
    assert_eq!(todos[0].content, "Check the greeting");
    assert_eq!(todos[0].status, "pending");
    let result = result_of(&events).unwrap();
    assert!(!result.is_error);
    assert!(
        result.usage.input_tokens > 0 && result.usage.output_tokens > 0,
        "{result:?}"
    );
    assert!(result.num_turns >= 3, "{result:?}");
    match &events[changes_at].body {
        EventBody::FileChanges { changes } => {
            assert_eq!(changes.len(), 1, "{changes:?}");
            assert_eq!(changes[0].path, "created.txt");
            assert_eq!(changes[0].change, ChangeKind::Added);
            assert_eq!(changes[0].lines_added, 1);
        }
        other => panic!("{other:?}"),
    }
    match &events[0].body {
        EventBody::SystemInit {
            agent_session_id,
            cwd,
            ..
        } => {
            assert!(!agent_session_id.is_empty());
            assert_eq!(cwd.as_deref(), Some(ws.to_str().unwrap()));
        }
        other => panic!("{other:?}"),
    }

    // The agent's environment is the executor's explicit one.
    let env = std::fs::read_to_string(ws.join(".claude_data/agent-env.txt")).unwrap();
    assert!(
        !env.contains(CALLBACK_TOKEN),
        "callback token leaked to the agent"
    );
    for line in [
        "IS_SANDBOX=1",
        "DISABLE_TELEMETRY=1",
        "DISABLE_AUTOUPDATER=1",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1",
    ] {
        assert!(env.lines().any(|l| l == line), "{line} missing");
    }
    let home = format!("HOME={}", ws.join(".claude_data").display());
    assert!(env.lines().any(|l| l == home), "{home} missing");
    assert!(
        !env.contains("CARGO_"),
        "executor environment leaked: {env}"
    );

    // The status endpoint agrees.
    let (code, status) = exec.get(&format!("/v1/tasks/{run_id}")).await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(status["state"], "completed");
    assert_eq!(status["events"], events.len());
    // No commit was made in the workspace's history.
    let head = std::process::Command::new("git")
        .args([
            "-C",
            ws.to_str().unwrap(),
            "rev-parse",
            "--verify",
            "-q",
            "HEAD",
        ])
        .output()
        .unwrap();
    assert!(!head.status.success(), "the executor must not commit");
    // Requests carried the model and the key.
    let turns = llm.turn_requests();
    assert_eq!(turns.len(), 3);
    assert_eq!(turns[0].model(), Some("claude-sonnet-4-5"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_during_a_long_tool_call_ends_canceled_and_leaves_no_process() {
    let _slot = cli_slot().await;
    let llm = start_llm().await;
    let receiver = start_receiver().await;
    let dir = tempfile::tempdir().unwrap();
    let exec = Executor::start(cli_settings(&dir.path().join("ws"), &llm)).await;

    let run_id = Uuid::new_v4();
    exec.execute(&task(
        run_id,
        "[scenario:long_tool] wait a minute",
        &receiver.url(),
    ))
    .await;
    // Wait until the tool really runs (this run's `sleep`: other tests may run one too).
    let deadline = Instant::now() + RUN_TIMEOUT;
    while processes_with_argv_in(&["sleep", "60"], dir.path()).is_empty() {
        assert!(Instant::now() < deadline, "the sleep never started");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // A second task while this one runs is refused.
    let (code, body) = exec
        .post(
            "/v1/tasks/execute",
            &task(Uuid::new_v4(), "another", &receiver.url()),
        )
        .await;
    assert_eq!(code, StatusCode::CONFLICT);
    assert_eq!(body["error"]["code"], "task_running");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains(&run_id.to_string())
    );

    let asked = Instant::now();
    let (code, status) = exec
        .post(&format!("/v1/tasks/{run_id}/cancel"), &json!({}))
        .await;
    assert_eq!(code, StatusCode::ACCEPTED, "{status}");
    assert_eq!(status["state"], "canceling");
    let events = receiver
        .receiver
        .wait_terminal(run_id, Duration::from_secs(10))
        .await;
    let took = asked.elapsed();
    assert!(took < Duration::from_secs(5), "cancel took {took:?}");
    let kinds = assert_well_formed(&events);
    assert_eq!(kinds.last(), Some(&"canceled"), "{kinds:?}");
    match &events.last().unwrap().body {
        EventBody::Canceled { reason } => {
            assert_eq!(reason.as_deref(), Some("canceled by request"))
        }
        other => panic!("{other:?}"),
    }
    assert!(kinds.contains(&"file_changes"), "{kinds:?}");

    assert!(
        processes_with_argv_in(&["sleep", "60"], dir.path()).is_empty(),
        "a `sleep 60` survived the cancel"
    );
    let (_, status) = exec.get(&format!("/v1/tasks/{run_id}")).await;
    assert_eq!(status["state"], "canceled");
    // Canceling a finished run changes nothing.
    let (code, status) = exec
        .post(&format!("/v1/tasks/{run_id}/cancel"), &json!({}))
        .await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(status["state"], "canceled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_api_key_fails_fast_with_an_actionable_message() {
    let _slot = cli_slot().await;
    let llm = start_llm().await;
    let receiver = start_receiver().await;
    let dir = tempfile::tempdir().unwrap();
    let mut settings = cli_settings(&dir.path().join("ws"), &llm);
    settings.anthropic_api_key = Some("sk-ant-wrong-key".into());
    let exec = Executor::start(settings).await;

    let run_id = Uuid::new_v4();
    let started = Instant::now();
    exec.execute(&task(run_id, "[scenario:remember] hello", &receiver.url()))
        .await;
    let events = receiver.receiver.wait_terminal(run_id, RUN_TIMEOUT).await;
    assert_well_formed(&events);
    let error = failure_of(&events);
    assert!(
        error.starts_with("model API rejected the key (401)"),
        "{error}"
    );
    assert!(error.contains("ANTHROPIC_API_KEY"), "{error}");
    // The CLI would retry a 401 for minutes; the executor stops it at the first refusal.
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
    let (_, status) = exec.get(&format!("/v1/tasks/{run_id}")).await;
    assert_eq!(status["state"], "failed");
    assert_eq!(status["error"], error);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_server_error_fails_with_the_api_text() {
    let _slot = cli_slot().await;
    let llm = start_llm().await;
    let receiver = start_receiver().await;
    let dir = tempfile::tempdir().unwrap();
    let mut settings = cli_settings(&dir.path().join("ws"), &llm);
    settings.agent_max_retries = Some(1);
    let exec = Executor::start(settings).await;

    let run_id = Uuid::new_v4();
    exec.execute(&task(
        run_id,
        "[scenario:server_error] hello",
        &receiver.url(),
    ))
    .await;
    let events = receiver.receiver.wait_terminal(run_id, RUN_TIMEOUT).await;
    let kinds = assert_well_formed(&events);
    let error = failure_of(&events);
    assert!(error.starts_with("model API failed (500)"), "{error}");
    assert!(error.contains("retry"), "{error}");
    // The CLI's own accounting still arrives, marked as an error.
    assert!(kinds.contains(&"result"), "{kinds:?}");
    assert!(result_of(&events).unwrap().is_error);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cli_exiting_non_zero_fails_with_its_error() {
    let _slot = cli_slot().await;
    let llm = start_llm().await;
    let receiver = start_receiver().await;
    let dir = tempfile::tempdir().unwrap();
    let exec = Executor::start(cli_settings(&dir.path().join("ws"), &llm)).await;

    // Resuming a conversation that does not exist makes the CLI exit with status 1.
    let run_id = Uuid::new_v4();
    let mut body = task(run_id, "continue", &receiver.url());
    body["resume_agent_session_id"] = json!("11111111-2222-3333-4444-555555555555");
    exec.execute(&body).await;
    let events = receiver.receiver.wait_terminal(run_id, RUN_TIMEOUT).await;
    assert_well_formed(&events);
    let error = failure_of(&events);
    assert!(
        error.contains(
            "No conversation found with session ID: 11111111-2222-3333-4444-555555555555"
        ),
        "{error}"
    );
    assert!(llm.turn_requests().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_callback_receiver_gets_everything_once_it_is_back() {
    let _slot = cli_slot().await;
    let llm = start_llm().await;
    // Reserve a port, then leave it closed: connections are refused.
    let mut server = start_receiver().await;
    let receiver = server.receiver.clone();
    let addr = server.addr;
    let url = server.url();
    server.stop().await;

    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("ws");
    let exec = Executor::start(cli_settings(&ws, &llm)).await;
    let run_id = Uuid::new_v4();
    exec.execute(&task(run_id, "[scenario:write_file] write it", &url))
        .await;

    // The run goes on while nobody listens.
    let deadline = Instant::now() + RUN_TIMEOUT;
    while !ws.join("created.txt").exists() {
        assert!(Instant::now() < deadline, "the run did not progress");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(receiver.events(run_id).is_empty());
    let (_, status) = exec.get(&format!("/v1/tasks/{run_id}")).await;
    assert_ne!(
        status["state"], "completed",
        "terminal before delivery: {status}"
    );

    // Back, and also answering 503 to the first two requests.
    receiver
        .fail_with
        .store(503, std::sync::atomic::Ordering::SeqCst);
    receiver
        .fail_times
        .store(2, std::sync::atomic::Ordering::SeqCst);
    let _server = receiver.serve(addr).await;
    let events = receiver.wait_terminal(run_id, RUN_TIMEOUT).await;
    let kinds = assert_well_formed(&events);
    assert_eq!(kinds.last(), Some(&"completed"));
    assert_eq!(
        receiver
            .unauthorized
            .load(std::sync::atomic::Ordering::SeqCst),
        0
    );
    let status = exec.tasks.wait(run_id).await.unwrap();
    assert_eq!(status.events, events.len() as i64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follow_up_task_resumes_the_conversation_in_a_fresh_executor() {
    let _slot = cli_slot().await;
    let llm = start_llm().await;
    let receiver = start_receiver().await;
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("ws");

    let first = Uuid::new_v4();
    let exec = Executor::start(cli_settings(&ws, &llm)).await;
    exec.execute(&task(
        first,
        "[scenario:remember] My name is Ada.",
        &receiver.url(),
    ))
    .await;
    let events = receiver.receiver.wait_terminal(first, RUN_TIMEOUT).await;
    assert_eq!(assert_well_formed(&events).last(), Some(&"completed"));
    let agent_session = match &events[0].body {
        EventBody::SystemInit {
            agent_session_id, ..
        } => agent_session_id.clone(),
        other => panic!("{other:?}"),
    };
    exec.shutdown().await;

    // A new container: a new executor on the same workspace.
    let exec = Executor::start(cli_settings(&ws, &llm)).await;
    let second = Uuid::new_v4();
    let mut body = task(second, "What is my name?", &receiver.url());
    body["resume_agent_session_id"] = json!(agent_session);
    exec.execute(&body).await;
    let events = receiver.receiver.wait_terminal(second, RUN_TIMEOUT).await;
    assert_eq!(assert_well_formed(&events).last(), Some(&"completed"));
    assert!(events.iter().any(|e| matches!(
        &e.body,
        EventBody::AssistantText { text, .. } if text == "Your name is Ada."
    )));

    let last = llm.turn_requests().pop().unwrap();
    assert!(
        last.body_contains("My name is Ada."),
        "earlier turn missing"
    );
    assert!(
        last.body_contains("Nice to meet you, Ada."),
        "earlier answer missing"
    );
    assert!(last.body_contains("What is my name?"));
    assert_eq!(last.assistant_count(), 1);
}

fn run_id_of(body: &serde_json::Value) -> Uuid {
    serde_json::from_value(body["run_id"].clone()).unwrap()
}

/// The one agent CLI under `ws`, once it shows (its command line is the CLI's once it has
/// started).
async fn one_agent_in(ws: &std::path::Path) -> Vec<i32> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let agents = agents_in(ws);
        if agents.len() == 1 {
            return agents;
        }
        assert!(
            Instant::now() < deadline,
            "agents under {}: {agents:?}",
            ws.display()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Runs a new session's first task (nothing staged, the default model and mode) to completion.
async fn first_task_completes(exec: &Executor, receiver: &ReceiverServer) {
    let first = task(
        Uuid::new_v4(),
        "[scenario:three_turns] My name is Grace.",
        &receiver.url(),
    );
    exec.execute(&first).await;
    let events = receiver
        .receiver
        .wait_terminal(run_id_of(&first), RUN_TIMEOUT)
        .await;
    assert_eq!(assert_well_formed(&events).last(), Some(&"completed"));
}

/// Whether every process of `pids` has exited (gone, or a zombie not yet reaped).
fn gone(pids: &[i32]) -> bool {
    pids.iter().all(|pid| {
        std::fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |stat| {
            stat.rsplit(')')
                .next()
                .unwrap_or("")
                .trim_start()
                .starts_with('Z')
        })
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pooled_executors_first_task_runs_in_the_cli_started_ahead_with_model_and_mode_applied_late()
 {
    let _slot = cli_slot().await;
    let llm = start_llm().await;
    let receiver = start_receiver().await;
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("ws");
    let exec = Executor::start(cli_settings(&ws, &llm)).await;
    // The pool's guess: a new session, nothing staged, the default model and mode.
    let (status, body) = exec.post("/v1/prestart", &json!({"env": {}})).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let ahead = one_agent_in(&ws).await;

    // The session's first run wants another model and mode, with an empty capabilities snapshot.
    let mut first = task(
        Uuid::new_v4(),
        "[scenario:three_turns] My name is Grace.",
        &receiver.url(),
    );
    first["model"] = json!("claude-haiku-4-5");
    first["permission_mode"] = json!("plan");
    first["capabilities_digest"] = json!("digestofnothing");
    exec.execute(&first).await;
    let events = receiver
        .receiver
        .wait_terminal(run_id_of(&first), RUN_TIMEOUT)
        .await;
    assert_eq!(
        assert_well_formed(&events).last(),
        Some(&"completed"),
        "{:?}",
        events.last()
    );
    assert_eq!(
        exec.tasks.prestart_counts(),
        PrestartUse {
            taken: 1,
            kept: 0,
            replaced: 0
        }
    );
    let request = llm.turn_requests().pop().unwrap();
    assert!(request.body_contains("\"model\":\"claude-haiku-4-5\""));
    assert!(request.body_contains("Plan mode is active"));
    // It ran in the process started ahead (now kept for the follow-up).
    assert_eq!(agents_in(&ws), ahead);

    // Once a task came, nothing more is started ahead.
    let (status, body) = exec.post("/v1/prestart", &json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["code"], "task_running");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cli_started_ahead_that_cannot_serve_the_task_is_replaced() {
    let _slot = cli_slot().await;
    let llm = start_llm().await;
    let receiver = start_receiver().await;
    let dir = tempfile::tempdir().unwrap();

    // Started in the default mode, a CLI refuses `bypassPermissions` later: the task gets a CLI
    // of its own.
    let ws = dir.path().join("refuses");
    let exec = Executor::start(cli_settings(&ws, &llm)).await;
    let (status, body) = exec
        .post("/v1/prestart", &json!({"permission_mode": "default"}))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let ahead = one_agent_in(&ws).await;
    first_task_completes(&exec, &receiver).await;
    assert!(gone(&ahead), "the refusing CLI still runs");
    let now = agents_in(&ws);
    assert_eq!(now.len(), 1);
    assert_ne!(now, ahead);
    exec.shutdown().await;

    // The workspace path now names another directory (a session's workspace moved into the
    // pooled executor's slot): the CLI started in the old one does not take the task.
    let ws = dir.path().join("moved");
    let exec = Executor::start(cli_settings(&ws, &llm)).await;
    let (status, body) = exec.post("/v1/prestart", &json!({})).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let ahead = one_agent_in(&ws).await;
    std::fs::rename(&ws, dir.path().join("pool-own")).unwrap();
    std::fs::create_dir(&ws).unwrap();
    std::fs::write(ws.join("notes.txt"), "the session's").unwrap();
    first_task_completes(&exec, &receiver).await;
    assert_eq!(
        exec.tasks.prestart_counts(),
        PrestartUse {
            taken: 0,
            kept: 0,
            replaced: 1
        }
    );
    assert!(gone(&ahead), "the CLI of the old workspace still runs");
    assert_eq!(
        std::fs::read_to_string(ws.join("notes.txt")).unwrap(),
        "the session's"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follow_up_in_the_same_executor_runs_in_the_cli_kept_from_the_last_run() {
    let _slot = cli_slot().await;
    let llm = start_llm().await;
    let receiver = start_receiver().await;
    let dir = tempfile::tempdir().unwrap();
    let exec = Executor::start(cli_settings(&dir.path().join("ws"), &llm)).await;
    let session = Uuid::new_v4();
    let run_in_session = |prompt: &str, resume: Option<&str>, model: Option<&str>| {
        let mut body = task(Uuid::new_v4(), prompt, &receiver.url());
        body["session_id"] = json!(session);
        if let Some(id) = resume {
            body["resume_agent_session_id"] = json!(id);
        }
        if let Some(model) = model {
            body["model"] = json!(model);
        }
        body
    };
    let agent_session_of = |events: &[protocol::event::RunEvent]| match &events[0].body {
        EventBody::SystemInit {
            agent_session_id, ..
        } => agent_session_id.clone(),
        other => panic!("{other:?}"),
    };

    let first = run_in_session("[scenario:three_turns] My name is Grace.", None, None);
    exec.execute(&first).await;
    let first_id: Uuid = serde_json::from_value(first["run_id"].clone()).unwrap();
    let events = receiver.receiver.wait_terminal(first_id, RUN_TIMEOUT).await;
    assert_eq!(assert_well_formed(&events).last(), Some(&"completed"));
    let agent_session = agent_session_of(&events);
    // The run's own CLI stays, alive in the conversation, for the likely follow-up.
    let ws = dir.path().join("ws");
    let kept = agents_in(&ws);
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert_eq!(exec.tasks.prestart_counts(), PrestartUse::default());

    // The follow-up asks for exactly that CLI: it runs in it (the same process), with the whole
    // conversation.
    let second = run_in_session("What is my name?", Some(&agent_session), None);
    exec.execute(&second).await;
    let second_id: Uuid = serde_json::from_value(second["run_id"].clone()).unwrap();
    let events = receiver
        .receiver
        .wait_terminal(second_id, RUN_TIMEOUT)
        .await;
    assert_eq!(assert_well_formed(&events).last(), Some(&"completed"));
    assert!(events.iter().any(|e| matches!(
        &e.body,
        EventBody::AssistantText { text, .. } if text == "Your name is Grace."
    )));
    assert_eq!(
        exec.tasks.prestart_counts(),
        PrestartUse {
            taken: 0,
            kept: 1,
            replaced: 0
        }
    );
    assert_eq!(
        agents_in(&ws),
        kept,
        "the follow-up ran in the kept process"
    );
    let last = llm.turn_requests().pop().unwrap();
    assert!(last.body_contains("My name is Grace."));
    assert!(last.body_contains("What is my name?"));
    let agent_session = agent_session_of(&events);

    // Another model: the kept CLI is replaced, and the task runs as if there had been none.
    let third = run_in_session("Again?", Some(&agent_session), Some("claude-haiku-4-5"));
    exec.execute(&third).await;
    let third_id: Uuid = serde_json::from_value(third["run_id"].clone()).unwrap();
    let events = receiver.receiver.wait_terminal(third_id, RUN_TIMEOUT).await;
    assert_eq!(assert_well_formed(&events).last(), Some(&"completed"));
    assert!(events.iter().any(|e| matches!(
        &e.body,
        EventBody::AssistantText { text, .. } if text == "Still Grace."
    )));
    assert_eq!(
        exec.tasks.prestart_counts(),
        PrestartUse {
            taken: 0,
            kept: 1,
            replaced: 1
        }
    );
    let last = llm.turn_requests().pop().unwrap();
    assert!(last.body_contains("claude-haiku-4-5"));
    assert!(
        !kept
            .iter()
            .any(|pid| std::path::Path::new(&format!("/proc/{pid}")).exists())
    );

    // A kept CLI that died between runs is noticed: the next run starts another.
    let waiting = agents_in(&ws);
    assert_eq!(waiting.len(), 1);
    // The whole group: the CLI and whatever it runs.
    let group = nix::unistd::getpgid(Some(nix::unistd::Pid::from_raw(waiting[0]))).unwrap();
    nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGKILL).unwrap();
    // Dead (a zombie until the executor reaps it) before the next task comes.
    let deadline = Instant::now() + Duration::from_secs(5);
    while !gone(&waiting) {
        assert!(Instant::now() < deadline, "the killed CLI did not die");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let agent_session = agent_session_of(&events);
    let fourth = run_in_session("And now?", Some(&agent_session), Some("claude-haiku-4-5"));
    exec.execute(&fourth).await;
    let fourth_id: Uuid = serde_json::from_value(fourth["run_id"].clone()).unwrap();
    let events = receiver
        .receiver
        .wait_terminal(fourth_id, RUN_TIMEOUT)
        .await;
    assert_eq!(
        assert_well_formed(&events).last(),
        Some(&"completed"),
        "{:?}",
        events.last()
    );
    assert!(events.iter().any(|e| matches!(
        &e.body,
        EventBody::AssistantText { text, .. } if text == "Grace, as before."
    )));
    assert_eq!(
        exec.tasks.prestart_counts(),
        PrestartUse {
            taken: 0,
            kept: 1,
            replaced: 2
        }
    );

    // Stopping the executor stops the CLI waiting for a fifth task.
    assert_eq!(agents_in(&ws).len(), 1);
    exec.shutdown().await;
    let deadline = Instant::now() + Duration::from_secs(5);
    while !agents_in(&ws).is_empty() {
        assert!(
            Instant::now() < deadline,
            "the waiting CLI outlived the executor"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workspace_git_ignore_entries_are_left_out_of_the_changes() {
    let _slot = cli_slot().await;
    let llm = start_llm().await;
    let receiver = start_receiver().await;
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("ws");
    let mut settings = cli_settings(&ws, &llm);
    settings.workspace_git_ignore = Some("secret.txt\nbuild/".into());
    let exec = Executor::start(settings).await;

    let run_id = Uuid::new_v4();
    exec.execute(&task(
        run_id,
        "[scenario:ignored_files] write files",
        &receiver.url(),
    ))
    .await;
    let events = receiver.receiver.wait_terminal(run_id, RUN_TIMEOUT).await;
    assert_eq!(assert_well_formed(&events).last(), Some(&"completed"));
    assert!(ws.join("secret.txt").exists() && ws.join("build/out.txt").exists());
    let changes = events
        .iter()
        .find_map(|e| match &e.body {
            EventBody::FileChanges { changes } => Some(changes.clone()),
            _ => None,
        })
        .unwrap();
    let paths: Vec<&str> = changes.iter().map(|c| c.path.as_str()).collect();
    assert_eq!(paths, vec!["kept.txt"]);
    assert_eq!(changes[0].lines_added, 2);
    let exclude = std::fs::read_to_string(ws.join(".git/info/exclude")).unwrap();
    assert!(exclude.lines().any(|l| l == "secret.txt"));
    assert!(exclude.lines().any(|l| l == ".claude_data/"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attachments_are_staged_in_inputs_and_not_reported_as_changes() {
    let _slot = cli_slot().await;
    let llm = start_llm().await;
    let receiver = start_receiver().await;
    let (files, _guard) = file_server(vec![("data.csv", "a,b\n1,2\n3,4\n")]).await;
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("ws");
    let exec = Executor::start(cli_settings(&ws, &llm)).await;

    let run_id = Uuid::new_v4();
    let mut body = task(
        run_id,
        "[scenario:count_lines] count the rows",
        &receiver.url(),
    );
    body["input_files"] =
        json!([{"name": "data.csv", "url": format!("{files}/data.csv?X-Amz-Signature=secret")}]);
    exec.execute(&body).await;
    let events = receiver.receiver.wait_terminal(run_id, RUN_TIMEOUT).await;
    assert_eq!(
        assert_well_formed(&events).last(),
        Some(&"completed"),
        "{events:#?}"
    );
    assert_eq!(
        std::fs::read_to_string(ws.join("inputs/data.csv")).unwrap(),
        "a,b\n1,2\n3,4\n"
    );
    assert_eq!(
        std::fs::read_to_string(ws.join("count.txt"))
            .unwrap()
            .trim(),
        "2"
    );
    let paths: Vec<String> = events
        .iter()
        .find_map(|e| match &e.body {
            EventBody::FileChanges { changes } => {
                Some(changes.iter().map(|c| c.path.clone()).collect())
            }
            _ => None,
        })
        .unwrap();
    assert_eq!(paths, vec!["count.txt".to_owned()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutting_down_cancels_the_run_and_delivers_its_end() {
    let _slot = cli_slot().await;
    let llm = start_llm().await;
    let receiver = start_receiver().await;
    let dir = tempfile::tempdir().unwrap();
    let exec = Executor::start(cli_settings(&dir.path().join("ws"), &llm)).await;

    let run_id = Uuid::new_v4();
    exec.execute(&task(run_id, "[scenario:long_tool] wait", &receiver.url()))
        .await;
    receiver
        .receiver
        .wait_for(run_id, RUN_TIMEOUT, |b| {
            matches!(b, EventBody::ToolUse { .. })
        })
        .await;
    let started = Instant::now();
    exec.shutdown().await;
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    // Everything was delivered before the server stopped.
    let events = receiver.receiver.events(run_id);
    assert_well_formed(&events);
    match &events.last().unwrap().body {
        EventBody::Canceled { reason } => {
            assert_eq!(reason.as_deref(), Some("the executor is shutting down"))
        }
        other => panic!("{other:?}"),
    }
}

/// The one test with a fake CLI: a script printing garbage between valid stream-json lines.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_stream_json_lines_are_kept_as_raw_events() {
    let receiver = start_receiver().await;
    let dir = tempfile::tempdir().unwrap();
    let fake = script(
        dir.path(),
        "fake-claude",
        r#"#!/bin/bash
# One line, like the real CLI: stdin stays open after the prompt (for control answers).
IFS= read -r line; printf '%s\n' "$line" > "$HOME/prompt.txt"
printf '%s\n' "$@" > "$HOME/args.txt"
echo 'Welcome! this is not JSON'
echo '{"type":"system","subtype":"init","session_id":"fake-session","model":"m","cwd":"'"$PWD"'","tools":["Bash"]}'
echo '{"type":"assistant","message":{"content":[{"type":"text","text":"half'
echo '{"type":"assistant","message":{"content":[{"type":"text","text":"hello"}]}}'
echo 'plain text between lines'
# The last line has no newline.
printf '%s' '{"type":"result","subtype":"success","is_error":false,"num_turns":1,"duration_ms":5,"total_cost_usd":0.01,"usage":{"input_tokens":3,"output_tokens":4},"result":"hello"}'
"#,
    );
    let ws = dir.path().join("ws");
    let exec = Executor::start(settings(fake.to_str().unwrap(), &ws)).await;
    let run_id = Uuid::new_v4();
    exec.execute(&task(
        run_id,
        "-- a prompt; $(rm -rf /) `x`\nline two",
        &receiver.url(),
    ))
    .await;
    let events = receiver.receiver.wait_terminal(run_id, RUN_TIMEOUT).await;
    let kinds = assert_well_formed(&events);
    assert_eq!(
        kinds,
        vec![
            "raw",
            "system_init",
            "raw",
            "assistant_text",
            "raw",
            "result",
            "file_changes",
            "completed"
        ]
    );
    assert_eq!(
        events[0].body,
        EventBody::Raw {
            line: "Welcome! this is not JSON".into()
        }
    );
    // The prompt reached the CLI verbatim on stdin (one stream-json user message), not through a
    // shell or the command line.
    let input = std::fs::read_to_string(ws.join(".claude_data/prompt.txt")).unwrap();
    assert!(
        input.ends_with('\n') && input.lines().count() == 1,
        "{input:?}"
    );
    let message: serde_json::Value = serde_json::from_str(&input).unwrap();
    assert_eq!(
        message,
        json!({"type": "user", "message": {"role": "user", "content": "-- a prompt; $(rm -rf /) `x`\nline two"}})
    );
    let args = std::fs::read_to_string(ws.join(".claude_data/args.txt")).unwrap();
    assert_eq!(
        args.lines().collect::<Vec<_>>(),
        vec![
            "-p",
            "--input-format",
            "stream-json",
            "--output-format",
            "stream-json",
            "--verbose",
            "--permission-prompt-tool",
            "stdio",
            "--model=claude-sonnet-4-5",
            "--permission-mode=bypassPermissions"
        ]
    );
}
