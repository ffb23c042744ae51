//! Cancel latency: from the owner's `POST /sessions/{id}/cancel` to the run `canceled` in the
//! database, while the agent waits on a model answer that never comes in time. With the backend's
//! nudge (`EXECUTOR_MANAGER_URL` set: the manager heartbeats the run at once) and without it (the
//! cancel waits for the run's next heartbeat, a third of `TASK_CLAIM_LEASE_SECONDS`).
//!
//! Real parts (the manager tests' in-process pieces, `tests/common`): the backend in-process over
//! PostgreSQL (`DATABASE_URL`; a fresh database, dropped after), the manager in-process with the
//! process runtime, the real executor and Claude Code CLI against the scripted model server.
//!
//! ```sh
//! cargo bench -p executor-manager --bench cancel
//! BENCH_SMOKE=1 cargo test -p executor-manager --bench cancel -- --bench   # 2 + 1 runs
//! ```
//!
//! The lease is 30 s (heartbeat every 10 s) in both cases, so without the nudge a cancel waits
//! 0–10 s, 5 s on average. Target: with the nudge, p50 under 1 s (the executor's cancel and the
//! CLI's exit included).

use std::time::{Duration, Instant};

use anyhow::Result;
use common::Harness;
use fake_llm::{ScenarioFile, Turn};
use sqlx::PgPool;
use test_support::bench::percentile;

#[path = "../tests/common/mod.rs"]
mod common;

fn scenarios() -> ScenarioFile {
    let mut slow = Turn::text("This answer never arrives in time.");
    slow.delay_ms = 600_000;
    ScenarioFile::default().with_scenario("slow", vec![slow])
}

#[tokio::main]
async fn main() -> Result<()> {
    // `cargo test --benches` runs bench binaries without `--bench`: nothing to do then.
    if !std::env::args().any(|a| a == "--bench") {
        return Ok(());
    }
    let smoke = test_support::bench::smoke();
    test_support::postgres::with_fresh_database(|url| async move {
        let pool = backend::db::connect(&url, 8, false).await?;
        backend::db::MIGRATOR.run(&pool).await?;
        let (with, without) = if smoke { (2, 1) } else { (20, 6) };
        println!("cancel latency (process runtime, lease 30 s: a heartbeat every 10 s)");
        measure(&pool, true, with).await?;
        measure(&pool, false, without).await?;
        Ok(())
    })
    .await
}

async fn measure(pool: &PgPool, nudge: bool, runs: usize) -> Result<()> {
    let mut backend: Vec<(&str, &str)> = vec![
        ("RATE_LIMIT_PER_MINUTE", "0"),
        ("RATE_LIMIT_IP_PER_MINUTE", "0"),
    ];
    if !nudge {
        backend.push(("EXECUTOR_MANAGER_URL", ""));
    }
    let manager = [
        ("TASK_CLAIM_LEASE_SECONDS", "30"),
        ("LOG_LEVEL", "warn"),
        ("TASK_CLAIM_WAIT_SECONDS", "20"),
    ];
    let h = Harness::start_full(pool.clone(), scenarios(), &manager, &backend, None).await;
    let mut took = Vec::with_capacity(runs);
    for _ in 0..runs {
        let before = h.llm.turn_requests().len();
        let (session, run) = h.task("[scenario:slow] take your time").await;
        h.wait_status(run, &["running"], Duration::from_secs(60))
            .await;
        // The agent is waiting on the model (its request arrived).
        let waiting = Instant::now();
        while h.llm.turn_requests().len() <= before {
            anyhow::ensure!(
                waiting.elapsed() < Duration::from_secs(30),
                "the agent never asked the model"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        let asked = Instant::now();
        let res = h
            .client
            .post(format!("{}/api/v1/sessions/{session}/cancel", h.backend))
            .send()
            .await?;
        anyhow::ensure!(
            res.status().is_success(),
            "cancel answered {}",
            res.status()
        );
        loop {
            let status = h.run_status(run).await;
            if status == "canceled" {
                break;
            }
            anyhow::ensure!(
                !["completed", "failed"].contains(&status.as_str()),
                "the run ended {status}"
            );
            anyhow::ensure!(
                asked.elapsed() < Duration::from_secs(60),
                "not canceled within 60 s"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        took.push(asked.elapsed().as_secs_f64() * 1000.0);
    }
    took.sort_by(f64::total_cmp);
    println!(
        "{:<28} {runs:>3} runs  p50 {:8.1} ms  p95 {:8.1} ms  (min {:.1}, max {:.1})",
        if nudge {
            "with the nudge"
        } else {
            "without (next heartbeat)"
        },
        percentile(&took, 0.5),
        percentile(&took, 0.95),
        took[0],
        took[took.len() - 1],
    );
    Ok(())
}
