//! Dispatch latency: from `POST /api/v1/tasks` to the run's first event stored by the backend,
//! for a cold executor (started for the run), a warm one (kept up after the session's previous
//! run) and a pooled one (pre-started), p50 and p95 over 20 runs each (targets on the 2-core test
//! machine: cold p50 ≤ 700 ms, warm p50 ≤ 100 ms).
//!
//! Real parts: the backend in-process over PostgreSQL (`DATABASE_URL`; a fresh database, dropped
//! after), the manager in-process, executors in Docker (`DOCKER_HOST`, image
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
use executor_manager::{App, Kept, Settings, server};
use fake_llm::{Config, FakeLlm, ScenarioFile, Turn};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use sqlx::{Connection, PgConnection, PgPool};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

const INTERNAL: &str = "bench-internal-token-0123456789";
const LLM_KEY: &str = "sk-bench";

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

fn vars(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
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

async fn with_fresh_database<F, Fut>(bench: F) -> Result<()>
where
    F: FnOnce(String) -> Fut,
    Fut: std::future::Future<Output = Result<()>>,
{
    let admin_url =
        std::env::var("DATABASE_URL").context("set DATABASE_URL to a PostgreSQL server")?;
    let db = format!("bench_{}", Uuid::new_v4().simple());
    let mut admin = PgConnection::connect(&admin_url).await?;
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {db}")))
        .execute(&mut admin)
        .await?;
    let url = match admin_url.rfind('/') {
        Some(i) => format!("{}/{db}", &admin_url[..i]),
        None => bail!("DATABASE_URL has no database part"),
    };
    let result = bench(url).await;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE {db} WITH (FORCE)"
    )))
    .execute(&mut admin)
    .await?;
    result
}

#[tokio::main]
async fn main() -> Result<()> {
    let smoke = std::env::var("BENCH_SMOKE").is_ok_and(|v| v == "1");
    with_fresh_database(|url| async move { run(&url, smoke).await }).await
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
    let settings = backend::config::Settings::from_vars(vars(&[
        ("DATABASE_URL", url),
        ("SECRET_KEY", "bench-secret-key-0123456789abcdef"),
        ("INTERNAL_API_TOKEN", INTERNAL),
        ("S3_ENDPOINT", "http://127.0.0.1:9"),
        ("S3_ACCESS_KEY", "ak"),
        ("S3_SECRET_KEY", "sk"),
        ("S3_BUCKET", "bucket"),
        ("AUTH_MODE", "single_user"),
        // The benchmark polls the public API; it measures dispatch, not the rate limits.
        ("RATE_LIMIT_PER_MINUTE", "0"),
        ("RATE_LIMIT_IP_PER_MINUTE", "0"),
    ]))?;
    let shutdown = CancellationToken::new();
    let state = backend::server::start_state(settings, pool.clone(), shutdown.clone()).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let backend = format!("http://{}", listener.local_addr()?);
    tokio::spawn(backend::server::serve(listener, state));

    let docker = std::env::var("DOCKER_HOST").is_ok_and(|h| !h.is_empty());
    let gateway = std::env::var("DOCKER_GATEWAY").unwrap_or_else(|_| "172.17.0.1".into());
    let (bind, announced) = if docker {
        ("0.0.0.0", gateway.as_str())
    } else {
        ("127.0.0.1", "127.0.0.1")
    };
    let mut llm_config = Config::new(
        LLM_KEY,
        ScenarioFile::single(vec![Turn::text("Something short.")]),
    );
    llm_config.listen = format!("{bind}:0").parse()?;
    let llm = FakeLlm::start(llm_config).await?;
    let llm_url = format!("http://{announced}:{}", llm.addr().port());
    let stack = Stack {
        backend: backend.clone(),
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
        let listener = tokio::net::TcpListener::bind(format!("{bind}:0")).await?;
        let callback = format!("http://{announced}:{}", listener.local_addr()?.port());
        let image = std::env::var("EXECUTOR_TEST_IMAGE")
            .unwrap_or_else(|_| "workcell/executor-test:dev".into());
        let exe = std::env::var("EXECUTOR_BIN").unwrap_or_else(|_| {
            let t = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
            format!("{t}/debug/executor")
        });
        let claude = std::env::var("CLAUDE_BIN")
            .unwrap_or_else(|_| "/root/.cache/workcell-tools/node_modules/.bin/claude".into());
        let mut mv = vec![
            ("BACKEND_URL", backend.clone()),
            ("INTERNAL_API_TOKEN", INTERNAL.into()),
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
            mv.push(("EXECUTOR_IMAGE", image));
            // The scripted model listens on the host: let executors through to it.
            mv.push(("EXECUTOR_EGRESS_HOST_PORTS", llm.addr().port().to_string()));
        } else {
            mv.push(("EXECUTOR_RUNTIME", "process".into()));
            mv.push(("EXECUTOR_BIN", exe));
            mv.push(("CLAUDE_BIN", claude));
        }
        let settings = Settings::from_vars(mv.into_iter().map(|(k, v)| (k.to_owned(), v)))?;
        let runtime = server::runtime_from_settings(&settings).await?;
        let app = App::new(settings, runtime)?;
        let kept: Kept = app.kept();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let manager = tokio::spawn(app.serve(listener, async move {
            let _ = stop_rx.await;
        }));

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
        let _ = stop_tx.send(());
        manager.await??;
    }
    shutdown.cancel();
    Ok(())
}
