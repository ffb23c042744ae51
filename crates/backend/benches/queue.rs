//! Queue and ingestion benchmark: prints figures (not a timed test).
//!
//!   DATABASE_URL=postgresql://… cargo bench -p backend --bench queue
//!
//! Starts a backend in-process (the tests' `TestApp`) on a fresh database of the given server and
//! measures, over real HTTP on loopback:
//! 1. claim → start → complete throughput with 8 workers (target ≥ 1,000 runs/s);
//! 2. long-poll wake latency: a parked claim, then a task is created (target p99 ≤ 20 ms);
//! 3. event ingestion in batches of 20 from 8 concurrent runs (target ≥ 20,000 events/s).
//!
//! `BENCH_SMOKE=1` shrinks every size so the test script can check the benchmark still runs.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use common::{INTERNAL_TOKEN, TestApp};
use protocol::internal::{ClaimedRun, INTERNAL_TOKEN_HEADER};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

/// The backend tests' in-process backend.
#[path = "../tests/common/mod.rs"]
mod common;

const WORKERS: usize = 8;

struct Bench {
    base: String,
    client: Client,
    token: String,
}

impl Bench {
    async fn internal(&self, path: &str, body: Value) -> Result<reqwest::Response> {
        Ok(self
            .client
            .post(format!("{}/api/v1/internal{path}", self.base))
            .header(INTERNAL_TOKEN_HEADER, INTERNAL_TOKEN)
            .json(&body)
            .send()
            .await?)
    }

    async fn claim(&self, worker: &str, wait: u32) -> Result<Option<ClaimedRun>> {
        let res = self
            .internal(
                "/runs/claim",
                json!({"worker_id": worker, "lease_seconds": 60, "wait_seconds": wait}),
            )
            .await?;
        match res.status() {
            StatusCode::OK => Ok(Some(res.json().await?)),
            StatusCode::NO_CONTENT => Ok(None),
            s => bail!("claim answered {s}"),
        }
    }

    async fn task(&self, prompt: &str) -> Result<Value> {
        let res = self
            .client
            .post(format!("{}/api/v1/tasks", self.base))
            .bearer_auth(&self.token)
            .json(&json!({"prompt": prompt}))
            .send()
            .await?;
        if res.status() != StatusCode::CREATED {
            bail!("task answered {}", res.status());
        }
        Ok(res.json().await?)
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() -> Result<()> {
    let smoke = test_support::bench::smoke();
    test_support::postgres::with_fresh_database(|url| async move { run(&url, smoke).await }).await
}

async fn run(url: &str, smoke: bool) -> Result<()> {
    let pool = backend::db::connect(url, 32, false).await?;
    backend::db::MIGRATOR.run(&pool).await?;
    // The tests' in-process backend (rate limits off: the benchmark measures the queue, not the
    // public API's limits), in single-user mode with the service's retry and reaper timing.
    let app = TestApp::spawn_with(
        pool.clone(),
        &[
            ("AUTH_MODE", "single_user"),
            ("DATABASE_MAX_CONNECTIONS", "32"),
            ("RUN_RETRY_BACKOFF_SECONDS", "10"),
            ("LEASE_REAPER_INTERVAL_SECONDS", "5"),
        ],
    )
    .await;
    let base = app.base.clone();
    let bench = Arc::new(Bench {
        base,
        client: Client::builder()
            .pool_max_idle_per_host(64)
            .tcp_nodelay(true)
            .build()?,
        token: String::new(),
    });

    println!(
        "machine: {} cores; PostgreSQL on loopback; backend in-process ({} build)",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0),
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
    );

    // 1. Claim → start → complete throughput.
    let runs = if smoke { 200 } else { 10_000 };
    sqlx::query(
        "WITH s AS (INSERT INTO sessions (id, user_id, title)
                    SELECT gen_random_uuid(), (SELECT id FROM users LIMIT 1), 'bench ' || g
                      FROM generate_series(1, $1) g RETURNING id)
         INSERT INTO runs (id, session_id, prompt, max_attempts) SELECT gen_random_uuid(), id, 'bench', 3 FROM s",
    )
    .bind(runs as i32)
    .execute(&pool)
    .await?;
    let started = Instant::now();
    let mut handles = Vec::new();
    for w in 0..WORKERS {
        let bench = bench.clone();
        handles.push(tokio::spawn(async move {
            let worker = format!("bench-{w}");
            let mut done = 0usize;
            while let Some(run) = bench.claim(&worker, 0).await? {
                let lease = json!({"worker_id": worker, "epoch": run.epoch});
                let r = bench
                    .internal(&format!("/runs/{}/start", run.run_id), lease.clone())
                    .await?;
                if !r.status().is_success() {
                    bail!("start answered {}", r.status());
                }
                let r = bench
                    .internal(&format!("/runs/{}/complete", run.run_id), lease)
                    .await?;
                if !r.status().is_success() {
                    bail!("complete answered {}", r.status());
                }
                done += 1;
            }
            Ok::<usize, anyhow::Error>(done)
        }));
    }
    let mut total = 0;
    for h in handles {
        total += h.await??;
    }
    let secs = started.elapsed().as_secs_f64();
    if total != runs {
        bail!("completed {total} of {runs} runs");
    }
    println!(
        "claim→start→complete, {WORKERS} workers: {total} runs in {secs:.2} s = {:.0} runs/s (target ≥ 1000)",
        total as f64 / secs
    );

    // 2. Long-poll wake latency.
    let rounds = if smoke { 20 } else { 300 };
    let mut lat = Vec::with_capacity(rounds);
    for i in 0..rounds {
        let waiter = {
            let bench = bench.clone();
            tokio::spawn(async move {
                let run = bench.claim("parked", 10).await;
                (run, Instant::now())
            })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        let sent = Instant::now();
        bench.task(&format!("wake {i}")).await?;
        let (run, woke) = waiter.await?;
        let run = run?.context("parked claim got nothing")?;
        lat.push(woke.saturating_duration_since(sent));
        bench
            .internal(
                &format!("/runs/{}/complete", run.run_id),
                json!({"worker_id": "parked", "epoch": run.epoch}),
            )
            .await?;
    }
    lat.sort();
    println!(
        "long-poll wake (task POST sent → claim answered), {rounds} rounds: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms (target p99 ≤ 20 ms)",
        ms(percentile(&lat, 0.5)),
        ms(percentile(&lat, 0.99)),
        ms(*lat.last().unwrap_or(&Duration::ZERO))
    );

    // 3. Event ingestion, batches of 20, one run per worker.
    let batches_per_run = if smoke { 25 } else { 1_000 };
    let mut claimed = Vec::new();
    for i in 0..WORKERS {
        bench.task(&format!("events {i}")).await?;
        claimed.push(
            bench
                .claim("ingest", 0)
                .await?
                .context("claim for ingestion")?,
        );
    }
    let started = Instant::now();
    let mut handles = Vec::new();
    for run in claimed {
        let bench = bench.clone();
        handles.push(tokio::spawn(async move {
            for b in 0..batches_per_run {
                let events: Vec<Value> = (0..20)
                    .map(|i| {
                        json!({"run_seq": b * 20 + i + 1, "time": "2026-01-01T00:00:00Z",
                               "type": "assistant_text", "payload": {"text": "The quick brown fox jumps over the lazy dog, repeatedly and with feeling."}})
                    })
                    .collect();
                let r = bench
                    .internal(
                        &format!("/runs/{}/events", run.run_id),
                        json!({"worker_id": "ingest", "epoch": run.epoch, "events": events}),
                    )
                    .await?;
                if !r.status().is_success() {
                    bail!("events answered {}", r.status());
                }
            }
            Ok::<(), anyhow::Error>(())
        }));
    }
    for h in handles {
        h.await??;
    }
    let secs = started.elapsed().as_secs_f64();
    let events = WORKERS * batches_per_run * 20;
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(&pool)
        .await?;
    if stored != events as i64 {
        bail!("stored {stored} of {events} events");
    }
    println!(
        "event ingestion, batches of 20, {WORKERS} concurrent runs: {events} events in {secs:.2} s = {:.0} events/s (target ≥ 20000)",
        events as f64 / secs
    );
    drop(app);
    pool.close().await;
    Ok(())
}
