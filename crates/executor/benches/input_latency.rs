//! Input latency benchmark: an answer posted to the executor → the tool running in the CLI.
//!
//! ```text
//! CLAUDE_BIN=/root/.cache/workcell-tools/node_modules/.bin/claude \
//!   cargo bench -p executor --bench input_latency
//! ```
//!
//! The executor's share of the human-in-the-loop target (answer posted → tool running, p50
//! ≤ 100 ms): an executor served in this process (built with the bench profile), the real CLI in
//! `default` permission mode and the scripted model server. One run makes N Bash calls, each
//! `date +%s%N >> started.txt`, each asking for permission; for each, once its `input_request`
//! event reached the callback receiver, the clock is read and the allow is posted to
//! `POST /v1/tasks/{run_id}/input-answers`. Two figures per call:
//!
//! - POST → `202`: the executor taking the answer (the `control_response` is queued to the CLI's
//!   stdin before it answers);
//! - POST → the Bash command running: the time `date` printed (same wall clock) minus the time
//!   before the POST — the executor, the CLI reading its stdin and starting the tool.
//!
//! Without the CLI the benchmark says so and stops. `BENCH_SMOKE=1` runs 2 calls only.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::routing::post;
use executor::{Settings, TaskManager};
use fake_llm::{Block, Config, FakeLlm, ScenarioFile, Turn};
use protocol::event::EventBody;
use protocol::executor::CallbackBatch;
use protocol::input::{InputAnswer, InputDecision, InputOutcome};
use serde_json::json;
use tokio::sync::mpsc;
use uuid::Uuid;

const ROUNDS: usize = 30;
const STARTED: &str = "started.txt";

/// Serves a callback receiver that passes on the ids of `input_request` events and the end.
async fn receiver(tx: mpsc::UnboundedSender<Option<Uuid>>) -> String {
    let app = Router::new().route(
        "/cb",
        post(move |axum::Json(batch): axum::Json<CallbackBatch>| {
            let tx = tx.clone();
            async move {
                for event in batch.events {
                    match event.body {
                        EventBody::InputRequest(r) => {
                            let _ = tx.send(Some(r.request_id));
                        }
                        body if body.is_terminal() => {
                            let _ = tx.send(None);
                        }
                        _ => {}
                    }
                }
                axum::http::StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/cb", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

fn epoch_ns() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

/// Waits until `started.txt` holds `n` lines; returns the last one (ns since the epoch).
async fn started(ws: &Path, n: usize) -> u128 {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(text) = std::fs::read_to_string(ws.join(STARTED)) {
            let lines: Vec<&str> = text.lines().collect();
            if lines.len() >= n
                && let Ok(ns) = lines[n - 1].trim().parse::<u128>()
            {
                return ns;
            }
        }
        assert!(Instant::now() < deadline, "call {n} did not run");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * (sorted.len() as f64 - 1.0)).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn report(name: &str, mut ms: Vec<f64>) {
    ms.sort_by(|a, b| a.total_cmp(b));
    println!(
        "{name:<34} n={:<3} p50 {:>7.2} ms   p95 {:>7.2} ms   min {:>7.2} ms   max {:>7.2} ms",
        ms.len(),
        percentile(&ms, 50.0),
        percentile(&ms, 95.0),
        ms.first().copied().unwrap_or(f64::NAN),
        ms.last().copied().unwrap_or(f64::NAN),
    );
}

#[tokio::main]
async fn main() {
    // `cargo bench` passes `--bench`; `cargo test --all-targets` and test runners listing tests
    // (`--list`) do not get a benchmark.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let rounds = if test_support::bench::smoke() {
        2
    } else {
        ROUNDS
    };
    let Some(claude) = test_support::tools::claude_bin_if_installed() else {
        println!("input latency benchmark skipped: no Claude Code CLI (set CLAUDE_BIN)");
        return;
    };
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!("input latency benchmark — {cores} cores, {rounds} calls, real CLI");

    let mut turns: Vec<Turn> = (0..rounds)
        .map(|i| {
            Turn::blocks(vec![Block::tool_use(
                "Bash",
                json!({"command": format!("date +%s%N >> {STARTED}"), "description": format!("Call {i}")}),
            )])
        })
        .collect();
    turns.push(Turn::text("done"));
    let llm = FakeLlm::start(Config::new(
        "sk-ant-bench",
        ScenarioFile::default().with_scenario("calls", turns),
    ))
    .await
    .unwrap();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let callback = receiver(tx).await;

    let tmp = tempfile::tempdir().unwrap();
    let ws = tmp.path().join("ws");
    let mut settings = Settings::with_defaults("claude-sonnet-4-5", &ws);
    settings.claude_bin = claude.display().to_string();
    settings.anthropic_base_url = llm.base_url();
    settings.anthropic_api_key = Some(llm.api_key().into());
    settings.agent_prestart = false;
    let secret = settings.executor_api_secret.expose().clone();
    let tasks = TaskManager::new(Arc::new(settings)).unwrap();
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let served = tasks.clone();
    tokio::spawn(async move {
        let _ = executor::serve_with(listener, served, std::future::pending()).await;
    });

    let client = reqwest::Client::new();
    let run_id = Uuid::new_v4();
    let accepted = client
        .post(format!("{url}/v1/tasks/execute"))
        .bearer_auth(&secret)
        .json(&json!({
            "run_id": run_id,
            "session_id": Uuid::new_v4(),
            "prompt": "[scenario:calls] run the calls",
            "callback_url": callback,
            "callback_token": "cb-token",
            "permission_mode": "default",
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(accepted.status().as_u16(), 202);

    // Warm the connection: the first answer should not pay for the TCP handshake.
    let _ = client.get(format!("{url}/health")).send().await.unwrap();
    let mut to_accepted = Vec::new();
    let mut to_running = Vec::new();
    for n in 1..=rounds {
        let request_id = tokio::time::timeout(Duration::from_secs(60), rx.recv())
            .await
            .expect("an input request")
            .flatten()
            .expect("the run ended before asking");
        let answer = InputAnswer {
            request_id,
            outcome: InputOutcome::Answered,
            decision: InputDecision::Allow,
            message: None,
            updated_input: None,
            answers: Default::default(),
            always: false,
            mode: None,
            answered_by: Some("bench@example.com".into()),
            answered_at: chrono::Utc::now(),
        };
        let body = serde_json::to_vec(&answer).unwrap();
        let posted_ns = epoch_ns();
        let posted = Instant::now();
        let response = client
            .post(format!("{url}/v1/tasks/{run_id}/input-answers"))
            .bearer_auth(&secret)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        to_accepted.push(posted.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(response.status().as_u16(), 202);
        let ran_ns = started(&ws, n).await;
        to_running.push(ran_ns.saturating_sub(posted_ns) as f64 / 1e6);
    }
    let end = tokio::time::timeout(Duration::from_secs(60), rx.recv())
        .await
        .expect("the run's end");
    assert_eq!(end, Some(None), "the run asked more than expected");
    let status = tasks.wait(run_id).await.unwrap();
    assert_eq!(status.state, protocol::executor::TaskState::Completed);

    report("answer POST → 202", to_accepted);
    report("answer POST → tool running", to_running);
}
