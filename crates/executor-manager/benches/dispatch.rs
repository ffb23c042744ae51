//! Dispatch latency: from `POST /api/v1/tasks` to the run's first event stored by the backend,
//! for a cold executor (started for the run), a warm one (kept up after the session's previous
//! run) and a pooled one (pre-started), p50 and p95 over 20 runs each (targets on the 2-core test
//! machine: cold p50 ≤ 700 ms, warm p50 ≤ 100 ms).
//!
//! Real parts (the manager tests' in-process pieces, `tests/common`): the backend in-process over
//! PostgreSQL (`DATABASE_URL`; a fresh database, dropped after), the manager in-process, executors in Docker (`DOCKER_HOST`, image
//! `EXECUTOR_TEST_IMAGE`, default `workcell/executor-test:dev`) or, without `DOCKER_HOST`, as
//! child processes (`EXECUTOR_BIN`, `CLAUDE_BIN`), the real Claude Code CLI against the scripted
//! model server. Runs go one at a time.
//!
//! Also printed: POST → `runs.started_at` (the manager has an executor that answers and told the
//! backend the run started), the part of the latency the manager controls; the rest is the CLI
//! starting up until it prints its `system/init` line.
//!
//! Runs are spaced like a person's follow-ups: each waits for the previous run's executor to be
//! parked (warm, pooled) and then `BENCH_PAUSE_MS` (default 1000; 0 submits at once), the time
//! an executor has to start the session's next CLI ahead (`AGENT_PRESTART`).
//!
//! `BENCH_SMOKE=1` measures 3 runs per kind (the test script's check that the benchmark runs).

use std::time::Duration;

use anyhow::{Context, Result, bail};
use chrono::{DateTime, Utc};
use common::{INTERNAL_TOKEN, InProcessBackend, InProcessManager, LLM_KEY, start_llm};
use executor_manager::Kept;
use fake_llm::{ScenarioFile, Turn};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use sqlx::PgPool;
use test_support::net::Reach;
use uuid::Uuid;

/// The in-process backend and manager of the manager's tests.
#[path = "../tests/common/mod.rs"]
mod common;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Cold,
    Warm,
    Pooled,
}

struct Stack {
    backend: String,
    client: Client,
    pool: PgPool,
}

impl Stack {
    /// Creates a task; returns (session, run, when the request was sent).
    async fn task(&self, session: Option<Uuid>) -> Result<(Uuid, Uuid, DateTime<Utc>)> {
        let mut body = json!({"prompt": "Say something short."});
        if let Some(s) = session {
            body["session_id"] = json!(s);
        }
        let sent = Utc::now();
        let res = self
            .client
            .post(format!("{}/api/v1/tasks", self.backend))
            .json(&body)
            .send()
            .await?;
        if res.status() != StatusCode::CREATED {
            bail!("task answered {}", res.status());
        }
        let v: Value = res.json().await?;
        let id = |k: &str| -> Result<Uuid> {
            v[k].as_str()
                .and_then(|s| s.parse().ok())
                .with_context(|| format!("no {k}"))
        };
        Ok((id("session_id")?, id("run_id")?, sent))
    }

    /// Waits for the run's end; returns (started_at, first event stored_at).
    async fn finish(&self, run: Uuid) -> Result<(DateTime<Utc>, DateTime<Utc>)> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(180);
        loop {
            let (status, error): (String, Option<String>) =
                sqlx::query_as("SELECT status, error FROM runs WHERE id = $1")
                    .bind(run)
                    .fetch_one(&self.pool)
                    .await?;
            match status.as_str() {
                "completed" => break,
                "failed" | "canceled" => bail!("run {run} {status}: {error:?}"),
                _ if tokio::time::Instant::now() > deadline => bail!("run {run} still {status}"),
                _ => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
        let (started, first): (Option<DateTime<Utc>>, Option<DateTime<Utc>>) = sqlx::query_as(
            "SELECT r.started_at, (SELECT min(stored_at) FROM events e WHERE e.run_id = r.id)
               FROM runs r WHERE r.id = $1",
        )
        .bind(run)
        .fetch_one(&self.pool)
        .await?;
        Ok((
            started.context("no started_at")?,
            first.context("no event")?,
        ))
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn summary(mut v: Vec<f64>) -> String {
    v.sort_by(f64::total_cmp);
    format!(
        "p50 {:7.1} ms  p95 {:7.1} ms  (min {:.1}, max {:.1})",
        percentile(&v, 0.5),
        percentile(&v, 0.95),
        v[0],
        v[v.len() - 1]
    )
}

#[tokio::main]
async fn main() -> Result<()> {
    let smoke = test_support::bench::smoke();
    test_support::postgres::with_fresh_database(|url| async move { run(&url, smoke).await }).await
}

async fn run(url: &str, smoke: bool) -> Result<()> {
    let runs = if smoke { 3 } else { 20 };
    let pause = Duration::from_millis(
        std::env::var("BENCH_PAUSE_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(1000),
    );
    let pool = backend::db::connect(url, 8, false).await?;
    backend::db::MIGRATOR.run(&pool).await?;
    let backend = InProcessBackend::start(
        pool.clone(),
        &[
            // The benchmark polls the public API; it measures dispatch, not the rate limits.
            ("RATE_LIMIT_PER_MINUTE", "0"),
            ("RATE_LIMIT_IP_PER_MINUTE", "0"),
            // The service's defaults, not the tests' quick ones.
            ("RUN_RETRY_BACKOFF_SECONDS", "10"),
            ("LEASE_REAPER_INTERVAL_SECONDS", "5"),
        ],
    )
    .await;

    let docker = test_support::docker::configured();
    let gateway = test_support::docker::gateway();
    let reach = if docker {
        Reach::Gateway(&gateway)
    } else {
        Reach::Loopback
    };
    let llm = start_llm(
        ScenarioFile::single(vec![Turn::text("Something short.")]),
        reach,
    )
    .await;
    let llm_url = reach.url(llm.addr().port());
    let stack = Stack {
        backend: backend.url.clone(),
        client: Client::builder().tcp_nodelay(true).build()?,
        pool: pool.clone(),
    };
    println!(
        "dispatch latency, {runs} runs per kind, {} ms between runs, runtime {}",
        pause.as_millis(),
        if docker { "docker" } else { "process" }
    );

    for kind in [Kind::Cold, Kind::Warm, Kind::Pooled] {
        let root = tempfile::tempdir()?;
        let listener = tokio::net::TcpListener::bind(reach.listen()).await?;
        let callback = reach.url(listener.local_addr()?.port());
        let mut mv = vec![
            ("BACKEND_URL", backend.url.clone()),
            ("INTERNAL_API_TOKEN", INTERNAL_TOKEN.into()),
            ("CALLBACK_BASE_URL", callback),
            ("WORKSPACE_ROOT", root.path().display().to_string()),
            ("ANTHROPIC_BASE_URL", llm_url.clone()),
            ("ANTHROPIC_AUTH_TOKEN", LLM_KEY.into()),
            (
                "MANAGER_ID",
                format!("bench-dispatch-{}", Uuid::new_v4().simple()),
            ),
            ("TASK_CLAIM_WAIT_SECONDS", "20".into()),
            ("LOG_LEVEL", "warn".into()),
            (
                "EXECUTOR_WARM_IDLE_SECONDS",
                if kind == Kind::Warm { "600" } else { "0" }.into(),
            ),
        ];
        if kind == Kind::Pooled {
            mv.push(("EXECUTOR_POOL_TARGETS", "default:1".into()));
        }
        if docker {
            mv.push(("EXECUTOR_RUNTIME", "docker".into()));
            mv.push(("EXECUTOR_IMAGE", test_support::docker::executor_image()));
            // The scripted model listens on the host: let executors through to it.
            mv.push(("EXECUTOR_EGRESS_HOST_PORTS", llm.addr().port().to_string()));
        } else {
            mv.push(("EXECUTOR_RUNTIME", "process".into()));
            mv.push(("EXECUTOR_BIN", common::executor_bin().display().to_string()));
            mv.push((
                "CLAUDE_BIN",
                test_support::tools::claude_bin().display().to_string(),
            ));
        }
        let mut manager = InProcessManager::start(
            mv.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
            listener,
        )
        .await;
        let kept: Kept = manager.kept.clone();

        let mut to_event = Vec::new();
        let mut to_start = Vec::new();
        // One run first, not counted: it warms the claim path and, for `Warm`, starts the
        // session's executor.
        let mut session = None;
        let (s, run, _) = stack.task(None).await?;
        stack.finish(run).await?;
        if kind == Kind::Warm {
            session = Some(s);
        }
        for _ in 0..runs {
            match kind {
                Kind::Warm => {
                    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
                    while kept.warm.is_empty() {
                        if tokio::time::Instant::now() > deadline {
                            bail!("no warm executor parked");
                        }
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                }
                Kind::Pooled => {
                    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
                    while kept.pool.is_empty() {
                        if tokio::time::Instant::now() > deadline {
                            bail!("the pool did not refill");
                        }
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
                Kind::Cold => {}
            }
            tokio::time::sleep(pause).await;
            let (_, run, sent) = stack.task(session).await?;
            let (started, first) = stack.finish(run).await?;
            let ms = |t: DateTime<Utc>| (t - sent).num_microseconds().unwrap_or(0) as f64 / 1000.0;
            to_start.push(ms(started));
            to_event.push(ms(first));
        }
        println!("{kind:?}:");
        println!("  POST → first event stored    {}", summary(to_event));
        println!("  POST → run started (manager) {}", summary(to_start));
        manager.stop(Duration::from_secs(60)).await;
    }
    Ok(())
}
