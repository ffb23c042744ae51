//! Answer latency: from `POST /api/v1/input-requests/{id}/answer` (allow) to the tool running in
//! the Claude Code CLI (target on the 2-core test machine: p50 ≤ 100 ms).
//!
//! Real parts (the manager tests' in-process pieces, `tests/common`): the backend in-process over
//! PostgreSQL (`DATABASE_URL`; a fresh database, dropped after), the manager in-process with the
//! process runtime (`EXECUTOR_BIN`, `CLAUDE_BIN`), the real executor and CLI against the scripted
//! model. One run in `default` mode makes `N` Bash calls one after the other; each asks for
//! permission. For each, the bench waits until the request is pending through the public API,
//! notes the wall clock, posts the answer, and reads the time the command itself wrote
//! (`date +%s%N`, the first thing the allowed Bash call does). The path measured: the backend
//! stores the answer and notifies, the manager's long-poll wakes and posts it to the executor,
//! the executor writes the CLI's `control_response`, the CLI spawns the shell.
//!
//! Also printed: answer posted → the `input_answer` event stored (the executor emitted it after
//! writing to the CLI, and it came back through the manager's relay).
//!
//! `BENCH_SMOKE=1` measures 3 answers (the test script's check that the benchmark runs).

use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use common::Harness;
use fake_llm::{Block, ScenarioFile, Turn};
use serde_json::{Value, json};
use test_support::bench::percentile;
use uuid::Uuid;

/// The in-process backend and manager of the manager's tests.
#[path = "../tests/common/mod.rs"]
mod common;

const WAIT: Duration = Duration::from_secs(60);

fn scenario(n: usize) -> ScenarioFile {
    let mut turns: Vec<Turn> = (0..n)
        .map(|i| {
            Turn::blocks(vec![Block::tool_use(
                "Bash",
                json!({"command": format!("date +%s%N > t{i}"), "description": "note the time"}),
            )])
        })
        .collect();
    turns.push(Turn::text("Timed."));
    ScenarioFile::default().with_scenario("timed", turns)
}

fn now_ns() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

async fn pending(h: &Harness, session: Uuid) -> Result<Vec<Value>> {
    let v: Value = h
        .client
        .get(format!(
            "{}/api/v1/sessions/{session}/input-requests?status=pending",
            h.backend
        ))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    Ok(v["requests"].as_array().cloned().unwrap_or_default())
}

async fn wait_file(path: &Path) -> Result<u128> {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Ok(text) = std::fs::read_to_string(path)
            && let Ok(ns) = text.trim().parse::<u128>()
        {
            return Ok(ns);
        }
        if Instant::now() > deadline {
            bail!("{} never written", path.display());
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

async fn answer_event_count(h: &Harness, run: Uuid) -> Result<i64> {
    Ok(sqlx::query_scalar(
        "SELECT count(*) FROM events WHERE run_id = $1 AND type = 'input_answer'",
    )
    .bind(run)
    .fetch_one(&h.pool)
    .await?)
}

#[tokio::main]
async fn main() -> Result<()> {
    let smoke = test_support::bench::smoke();
    test_support::postgres::with_fresh_database(|url| async move { run(&url, smoke).await }).await
}

async fn run(url: &str, smoke: bool) -> Result<()> {
    let n = if smoke { 3 } else { 30 };
    let pool = backend::db::connect(url, 8, false).await?;
    backend::db::MIGRATOR.run(&pool).await?;
    // The bench polls the public API; it measures the answer's path, not the rate limits.
    let h = Harness::start_full(
        pool,
        scenario(n),
        &[],
        &[
            ("RATE_LIMIT_PER_MINUTE", "0"),
            ("RATE_LIMIT_IP_PER_MINUTE", "0"),
        ],
        None,
    )
    .await;
    let created: Value = h
        .client
        .post(format!("{}/api/v1/tasks", h.backend))
        .json(&json!({"prompt": "[scenario:timed] Time it.", "permission_mode": "default"}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let session: Uuid = created["session_id"].as_str().context("session")?.parse()?;
    let run: Uuid = created["run_id"].as_str().context("run")?.parse()?;
    let ws = h.workspace(h.user_of(session).await, session);

    let mut to_tool = Vec::with_capacity(n);
    let mut to_event = Vec::with_capacity(n);
    for i in 0..n {
        let deadline = Instant::now() + WAIT;
        let request = loop {
            if let Some(r) = pending(&h, session).await?.into_iter().next() {
                break r;
            }
            if Instant::now() > deadline {
                bail!("request {i} never came; run is {}", h.run_status(run).await);
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        };
        let id = request["id"].as_str().context("id")?.to_owned();
        let events_before = answer_event_count(&h, run).await?;
        let posted_ns = now_ns();
        let posted = Instant::now();
        h.client
            .post(format!("{}/api/v1/input-requests/{id}/answer", h.backend))
            .json(&json!({"decision": "allow"}))
            .send()
            .await?
            .error_for_status()?;
        let ran_ns = wait_file(&ws.join(format!("t{i}"))).await?;
        to_tool.push(ran_ns.saturating_sub(posted_ns) as f64 / 1e6);
        let deadline = Instant::now() + WAIT;
        while answer_event_count(&h, run).await? <= events_before {
            if Instant::now() > deadline {
                bail!("the input_answer event of request {i} never came");
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        to_event.push(posted.elapsed().as_secs_f64() * 1e3);
    }
    let status = h
        .wait_status(run, &["completed", "failed", "canceled"], WAIT)
        .await;
    if status != "completed" {
        bail!("the timed run ended {status}");
    }
    for (name, mut v) in [
        ("answer posted → tool running in the CLI", to_tool),
        ("answer posted → input_answer event stored", to_event),
    ] {
        v.sort_by(f64::total_cmp);
        println!(
            "{name}: p50 {:.1} ms, p95 {:.1} ms, max {:.1} ms ({} answers)",
            percentile(&v, 0.5),
            percentile(&v, 0.95),
            v[v.len() - 1],
            v.len()
        );
    }
    Ok(())
}
