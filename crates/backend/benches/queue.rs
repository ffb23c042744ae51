//! Queue and ingestion benchmark: prints figures (not a timed test).
//!
//!   DATABASE_URL=postgresql://… cargo bench -p backend --bench queue
//!
//! Starts a backend in-process (the tests' `TestApp`) on a fresh database of the given server and
//! measures, over real HTTP on loopback:
//! 1. claim → start → complete throughput with 8 workers (target ≥ 1,000 runs/s);
//! 2. long-poll wake latency: a parked claim, then a task is created (target p99 ≤ 20 ms);
//! 3. event ingestion in batches of 20 from 8 concurrent runs (target ≥ 20,000 events/s);
//! 4. claim latency of runs carrying a capability snapshot (10 skills of 1 MiB of files in all,
//!    uploaded through the API into s3s-fs, and 3 MCP servers) against runs carrying none,
//!    interleaved (one of each in turn, one queued run at a time), p50/p95 of each;
//! 5. claim latency of runs that need secrets (an MCP server whose environment names 5 of the
//!    user's secrets, opened at the claim) and a provider's model (its key resolved into the
//!    run's route) against runs that need neither, interleaved the same way.
//!
//! `BENCH_SMOKE=1` shrinks every size so the test script can check the benchmark still runs.

use std::sync::Arc;
use std::time::{Duration, Instant};
use test_support::bench::{ms, percentile};

use anyhow::{Context, Result, bail};
use common::s3::S3Server;
use common::{INTERNAL_TOKEN, TestApp};
use protocol::internal::{ClaimedRun, ClaimedRuns, INTERNAL_TOKEN_HEADER};
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

    /// `POST /runs/claims` for up to `max` runs, without waiting.
    async fn claims(&self, worker: &str, max: u32, start: bool) -> Result<Vec<ClaimedRun>> {
        let res = self
            .internal(
                "/runs/claims",
                json!({"worker_id": worker, "lease_seconds": 60, "wait_seconds": 0,
                       "max_runs": max, "start": start}),
            )
            .await?;
        if res.status() != StatusCode::OK {
            bail!("claims answered {}", res.status());
        }
        let v: ClaimedRuns = res.json().await?;
        Ok(v.runs)
    }

    async fn task(&self, prompt: &str) -> Result<Value> {
        self.task_with(json!({"prompt": prompt})).await
    }

    async fn task_with(&self, body: Value) -> Result<Value> {
        self.public(reqwest::Method::POST, "/tasks", body).await
    }

    /// A public JSON call that must answer 201.
    async fn public(&self, method: reqwest::Method, path: &str, body: Value) -> Result<Value> {
        let res = self
            .client
            .request(method, format!("{}/api/v1{path}", self.base))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await?;
        if res.status() != StatusCode::CREATED {
            bail!("{path} answered {}", res.status());
        }
        Ok(res.json().await?)
    }

    /// Queues `with` and `none` tasks in turn, `rounds` of each, one at a time, and times the claim
    /// of each as `worker`; `check` sees every claimed run (and whether it was a `with` one)
    /// before it is completed. Returns the claim latencies of each kind, sorted.
    async fn interleaved_claims(
        &self,
        worker: &str,
        rounds: usize,
        with: &Value,
        none: &Value,
        mut check: impl FnMut(&ClaimedRun, bool) -> Result<()>,
    ) -> Result<(Vec<Duration>, Vec<Duration>)> {
        let (mut lat_with, mut lat_none) = (Vec::new(), Vec::new());
        for i in 0..rounds * 2 {
            let carries = i % 2 == 0;
            let mut body = if carries { with.clone() } else { none.clone() };
            body["prompt"] = json!(format!("{worker} {i}"));
            let queued = self.task_with(body).await?;
            let started = Instant::now();
            let run = self.claim(worker, 0).await?.context("a claimable run")?;
            let took = started.elapsed();
            if run.run_id.to_string() != queued["run_id"].as_str().unwrap_or_default() {
                bail!("claimed another run than the one queued");
            }
            check(&run, carries)?;
            if carries {
                lat_with.push(took);
            } else {
                lat_none.push(took);
            }
            let r = self
                .internal(
                    &format!("/runs/{}/complete", run.run_id),
                    json!({"worker_id": worker, "epoch": run.epoch}),
                )
                .await?;
            if !r.status().is_success() {
                bail!("complete answered {}", r.status());
            }
        }
        lat_with.sort();
        lat_none.sort();
        Ok((lat_with, lat_none))
    }

    /// Uploads a skill (a zip) and returns its id.
    async fn skill(&self, zip: Vec<u8>) -> Result<String> {
        let boundary = "bench-boundary-3f9a";
        let mut body = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"s.zip\"\r\nContent-Type: application/zip\r\n\r\n"
        )
        .into_bytes();
        body.extend_from_slice(&zip);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let res = self
            .client
            .post(format!("{}/api/v1/skills", self.base))
            .bearer_auth(&self.token)
            .header(
                "content-type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(body)
            .send()
            .await?;
        if res.status() != StatusCode::CREATED {
            bail!(
                "skill upload answered {}: {}",
                res.status(),
                res.text().await?
            );
        }
        let v: Value = res.json().await?;
        Ok(v["id"].as_str().context("skill id")?.to_owned())
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    let smoke = test_support::bench::smoke();
    test_support::postgres::with_fresh_database(|url| async move { run(&url, smoke).await }).await
}

async fn run(url: &str, smoke: bool) -> Result<()> {
    let pool = backend::db::connect(url, 32, false).await?;
    backend::db::MIGRATOR.run(&pool).await?;
    // Skills are stored in the bucket (part 4).
    let s3 = S3Server::start().await;
    let s3_vars = s3.vars();
    // The tests' in-process backend (rate limits off: the benchmark measures the queue, not the
    // public API's limits), in single-user mode with the service's retry and reaper timing.
    // A catalog with one provider, for part 5's routed model.
    let catalog_dir = tempfile::tempdir()?;
    let catalog = catalog_dir.path().join("models.toml");
    std::fs::write(
        &catalog,
        "[providers.bench]\nbase_url = \"http://127.0.0.1:9\"\nkey_secret = \"BENCH_PROVIDER_KEY\"\nprefixes = [\"bench-\"]\n",
    )?;
    let catalog = catalog.display().to_string();
    let mut vars: Vec<(&str, &str)> = vec![
        ("MODELS_CONFIG_PATH", catalog.as_str()),
        ("AUTH_MODE", "single_user"),
        ("DATABASE_MAX_CONNECTIONS", "32"),
        ("RUN_RETRY_BACKOFF_SECONDS", "10"),
        ("LEASE_REAPER_INTERVAL_SECONDS", "5"),
    ];
    vars.extend(s3_vars.iter().map(|(k, v)| (*k, v.as_str())));
    let app = TestApp::spawn_with(pool.clone(), &vars).await;
    let base = app.base.clone();
    let bench = Arc::new(Bench {
        base,
        client: Client::builder()
            .pool_max_idle_per_host(64)
            .tcp_nodelay(true)
            .build()?,
        token: String::new(),
    });

    println!("{}", test_support::bench::in_process_backend_line());

    // 1. Claim → start → complete throughput, one run per call and then with the batched calls
    //    (several runs per claim, start folded into the claim, completions batched).
    let parts = parts();
    // BENCH_QUEUE_RUNS and BENCH_SHAPES=4 (1-based indexes into QUEUE_SHAPES) narrow part 1.
    let runs = std::env::var("BENCH_QUEUE_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if smoke { 200 } else { 10_000 });
    let shapes: Vec<usize> = std::env::var("BENCH_SHAPES")
        .ok()
        .map(|v| v.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .unwrap_or_else(|| (1..=QUEUE_SHAPES.len()).collect());
    if parts.contains(&1) {
        for (i, shape) in QUEUE_SHAPES.into_iter().enumerate() {
            if shapes.contains(&(i + 1)) {
                queue_throughput(&bench, &pool, runs, shape).await?;
            }
        }
    }

    // 2. Long-poll wake latency.
    if parts.contains(&2) {
        wake_latency(&bench, smoke).await?;
    }
    // 3. Event ingestion.
    if parts.contains(&3) {
        ingestion(&bench, &pool, smoke).await?;
    }
    if parts.contains(&4) {
        claim_with_capabilities(&bench, &pool, smoke).await?;
    }
    if parts.contains(&5) {
        claim_with_secrets(&bench, smoke).await?;
    }
    drop(app);
    drop(s3);
    pool.close().await;
    Ok(())
}

/// 2. Long-poll wake latency: a parked claim, then a task is created.
async fn wake_latency(bench: &Arc<Bench>, smoke: bool) -> Result<()> {
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
    Ok(())
}

/// 3. Event ingestion, batches of 20, one run per worker: every event an assistant text (the
///    worst case for search indexing), then a mix like the CLI's stream of a coding task (one
///    event in ten an assistant text, the others tool calls and their results in pairs).
async fn ingestion(bench: &Arc<Bench>, pool: &sqlx::PgPool, smoke: bool) -> Result<()> {
    for mix in [Mix::AllText, Mix::Cli] {
        ingest_mix(bench, pool, smoke, mix).await?;
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mix {
    AllText,
    Cli,
}

/// Event `i` (0-based) of batch `b` in `mix`.
fn bench_event(mix: Mix, b: usize, i: usize) -> Value {
    let run_seq = b * 20 + i + 1;
    let text = json!({"run_seq": run_seq, "time": "2026-01-01T00:00:00Z", "type": "assistant_text",
                      "payload": {"text": "The quick brown fox jumps over the lazy dog, repeatedly and with feeling."}});
    match (mix, i % 10) {
        (Mix::AllText, _) | (Mix::Cli, 0) => text,
        // A call (odd) and its result (even, the next event).
        (Mix::Cli, k) if k % 2 == 1 => {
            json!({"run_seq": run_seq, "time": "2026-01-01T00:00:00Z", "type": "tool_use",
                   "payload": {"tool_use_id": format!("toolu_{b}_{i}"), "name": "Bash",
                               "input": {"command": "cargo test -p backend --test queue", "description": "Run the queue tests"}}})
        }
        (Mix::Cli, _) => {
            json!({"run_seq": run_seq, "time": "2026-01-01T00:00:01Z", "type": "tool_result",
                   "payload": {"tool_use_id": format!("toolu_{b}_{}", i - 1), "is_error": false,
                               "content": "running 20 tests\ntest result: ok. 20 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 22.71s\n"}})
        }
    }
}

async fn ingest_mix(bench: &Arc<Bench>, pool: &sqlx::PgPool, smoke: bool, mix: Mix) -> Result<()> {
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
    let before: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(pool)
        .await?;
    let started = Instant::now();
    let mut handles = Vec::new();
    for run in claimed.iter().cloned() {
        let bench = bench.clone();
        handles.push(tokio::spawn(async move {
            for b in 0..batches_per_run {
                let events: Vec<Value> = (0..20).map(|i| bench_event(mix, b, i)).collect();
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
        .fetch_one(pool)
        .await?;
    if stored - before != events as i64 {
        bail!("stored {} of {events} events", stored - before);
    }
    if mix == Mix::Cli {
        let ids: Vec<uuid::Uuid> = claimed.iter().map(|r| r.run_id).collect();
        let finished: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM tool_executions WHERE run_id = ANY($1) AND finished_at IS NOT NULL",
        )
        .bind(&ids)
        .fetch_one(pool)
        .await?;
        if finished != (events * 2 / 5) as i64 {
            bail!("{finished} tool executions finished of {}", events * 2 / 5);
        }
    }
    let name = match mix {
        Mix::AllText => "every event an assistant text",
        Mix::Cli => "1 in 10 an assistant text, the rest tool calls and results",
    };
    println!(
        "event ingestion, batches of 20, {WORKERS} concurrent runs, {name}: {events} events in {secs:.2} s = {:.0} events/s (target ≥ 50000)",
        events as f64 / secs
    );
    for run in claimed {
        bench
            .internal(
                &format!("/runs/{}/complete", run.run_id),
                json!({"worker_id": "ingest", "epoch": run.epoch}),
            )
            .await?;
    }
    Ok(())
}

/// Which parts run: `BENCH_PARTS=1,3` (all when unset).
fn parts() -> Vec<u32> {
    match std::env::var("BENCH_PARTS") {
        Ok(v) if !v.trim().is_empty() => {
            v.split(',').filter_map(|p| p.trim().parse().ok()).collect()
        }
        _ => vec![1, 2, 3, 4, 5],
    }
}

/// How part 1's workers talk to the queue.
#[derive(Debug, Clone, Copy)]
struct QueueShape {
    name: &'static str,
    /// Runs asked for per claim (`POST /runs/claims` when more than 1).
    batch: u32,
    /// `start` in the claim instead of `POST /runs/{id}/start`.
    start_in_claim: bool,
    /// One `POST /runs/completions` for the claim's runs instead of one call each.
    batch_complete: bool,
}

const QUEUE_SHAPES: [QueueShape; 5] = [
    QueueShape {
        name: "one run per call (claim, start, complete)",
        batch: 1,
        start_in_claim: false,
        batch_complete: false,
    },
    QueueShape {
        name: "claims of 16, start and complete per run",
        batch: 16,
        start_in_claim: false,
        batch_complete: false,
    },
    QueueShape {
        name: "claims of 16 with start, complete per run",
        batch: 16,
        start_in_claim: true,
        batch_complete: false,
    },
    QueueShape {
        name: "claims of 16 with start, completions of 16",
        batch: 16,
        start_in_claim: true,
        batch_complete: true,
    },
    QueueShape {
        name: "claims of 64 with start, completions of 64",
        batch: 64,
        start_in_claim: true,
        batch_complete: true,
    },
];

/// 1. Queues `runs` runs (one session each) and drains them with 8 workers of the given shape.
async fn queue_throughput(
    bench: &Arc<Bench>,
    pool: &sqlx::PgPool,
    runs: usize,
    shape: QueueShape,
) -> Result<()> {
    sqlx::query(
        "WITH s AS (INSERT INTO sessions (id, user_id, title)
                    SELECT gen_random_uuid(), (SELECT id FROM users LIMIT 1), 'bench ' || g
                      FROM generate_series(1, $1) g RETURNING id)
         INSERT INTO runs (id, session_id, prompt, max_attempts) SELECT gen_random_uuid(), id, 'bench', 3 FROM s",
    )
    .bind(runs as i32)
    .execute(pool)
    .await?;
    let before = finished(pool).await?;
    let started = Instant::now();
    let mut handles = Vec::new();
    for w in 0..WORKERS {
        let bench = bench.clone();
        handles.push(tokio::spawn(async move {
            let worker = format!("bench-{w}");
            let mut done = 0usize;
            loop {
                let claimed = if shape.batch == 1 && !shape.start_in_claim {
                    bench.claim(&worker, 0).await?.into_iter().collect()
                } else {
                    bench
                        .claims(&worker, shape.batch, shape.start_in_claim)
                        .await?
                };
                if claimed.is_empty() {
                    break;
                }
                if !shape.start_in_claim {
                    for run in &claimed {
                        let lease = json!({"worker_id": worker, "epoch": run.epoch});
                        let r = bench
                            .internal(&format!("/runs/{}/start", run.run_id), lease)
                            .await?;
                        if !r.status().is_success() {
                            bail!("start answered {}", r.status());
                        }
                    }
                }
                if shape.batch_complete {
                    let list: Vec<Value> = claimed
                        .iter()
                        .map(|r| json!({"run_id": r.run_id, "epoch": r.epoch}))
                        .collect();
                    let r = bench
                        .internal(
                            "/runs/completions",
                            json!({"worker_id": worker, "runs": list}),
                        )
                        .await?;
                    if !r.status().is_success() {
                        bail!("completions answered {}", r.status());
                    }
                    let v: Value = r.json().await?;
                    let ok = v["results"]
                        .as_array()
                        .map(|a| a.iter().filter(|x| x["status"] == "completed").count())
                        .unwrap_or(0);
                    if ok != claimed.len() {
                        bail!("completions ended {ok} of {} runs: {v}", claimed.len());
                    }
                } else {
                    for run in &claimed {
                        let lease = json!({"worker_id": worker, "epoch": run.epoch});
                        let r = bench
                            .internal(&format!("/runs/{}/complete", run.run_id), lease)
                            .await?;
                        if !r.status().is_success() {
                            bail!("complete answered {}", r.status());
                        }
                    }
                }
                done += claimed.len();
            }
            Ok::<usize, anyhow::Error>(done)
        }));
    }
    let mut total = 0;
    for h in handles {
        total += h.await??;
    }
    let secs = started.elapsed().as_secs_f64();
    let ended = finished(pool).await? - before;
    if total != runs || ended != runs as i64 {
        bail!("completed {total} ({ended} in the database) of {runs} runs");
    }
    println!(
        "claim→start→complete, {WORKERS} workers, {}: {total} runs in {secs:.2} s = {:.0} runs/s (target ≥ 5000)",
        shape.name,
        total as f64 / secs
    );
    Ok(())
}

/// Runs completed so far.
async fn finished(pool: &sqlx::PgPool) -> Result<i64> {
    Ok(
        sqlx::query_scalar("SELECT count(*) FROM runs WHERE status = 'completed'")
            .fetch_one(pool)
            .await?,
    )
}

/// Skills in part 4, and the bytes of files they hold in all.
const BENCH_SKILLS: usize = 10;
const BENCH_SKILL_BYTES: usize = 1024 * 1024;
/// Files per skill besides its `SKILL.md`.
const BENCH_FILES_PER_SKILL: usize = 9;

/// A skill's zip: a `SKILL.md` and files of pseudo-random bytes, `total` bytes in all.
fn bench_skill_zip(n: usize, total: usize) -> Result<Vec<u8>> {
    use std::io::Write;
    let skill_md = format!(
        "---\nname: bench-skill-{n}\ndescription: Benchmark skill number {n}, with scripts and references.\n---\n# Bench skill {n}\n"
    );
    let each = (total - skill_md.len()) / BENCH_FILES_PER_SKILL;
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let o =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    let mut put = |name: &str, body: &[u8]| -> Result<()> {
        w.start_file(format!("bench-skill-{n}/{name}"), o)?;
        w.write_all(body)?;
        Ok(())
    };
    put("SKILL.md", skill_md.as_bytes())?;
    let mut seed = n as u64 + 1;
    for f in 0..BENCH_FILES_PER_SKILL {
        let size = if f + 1 == BENCH_FILES_PER_SKILL {
            total - skill_md.len() - each * (BENCH_FILES_PER_SKILL - 1)
        } else {
            each
        };
        let body: Vec<u8> = (0..size)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed as u8
            })
            .collect();
        put(&format!("scripts/part_{f}.py"), &body)?;
    }
    Ok(w.finish()?.into_inner())
}

/// 4. Claim latency with a capability snapshot against none, interleaved.
async fn claim_with_capabilities(bench: &Bench, pool: &sqlx::PgPool, smoke: bool) -> Result<()> {
    let mut skill_ids = Vec::new();
    for n in 0..BENCH_SKILLS {
        skill_ids.push(
            bench
                .skill(bench_skill_zip(n, BENCH_SKILL_BYTES / BENCH_SKILLS)?)
                .await?,
        );
    }
    let mut mcp_ids = Vec::new();
    for (name, config) in [
        (
            "files",
            json!({"command": "python3", "args": ["-m", "mcp_files", "--root", "/workspace"], "env": {"LOG": "warn"}}),
        ),
        (
            "docs",
            json!({"type": "http", "url": "https://mcp.example.com/docs", "headers": {"X-Team": "bench"}}),
        ),
        (
            "events",
            json!({"type": "sse", "url": "https://mcp.example.com/events"}),
        ),
    ] {
        let v = bench
            .public(
                reqwest::Method::POST,
                "/mcp-servers",
                json!({"name": name, "config": config}),
            )
            .await?;
        mcp_ids.push(v["id"].as_str().context("mcp id")?.to_owned());
    }
    let with = json!({"skill_ids": skill_ids, "mcp_server_ids": mcp_ids,
                      "slash_command_ids": [], "subagent_ids": []});
    let none =
        json!({"skill_ids": [], "mcp_server_ids": [], "slash_command_ids": [], "subagent_ids": []});

    let rounds = if smoke { 10 } else { 300 };
    let mut keys = 0usize;
    let mut first = None;
    let (lat_with, lat_none) = bench
        .interleaved_claims("caps", rounds, &with, &none, |run, carries| {
            first.get_or_insert(run.run_id);
            let snapshot = run.capabilities.as_ref().context("a snapshot")?;
            if carries {
                if snapshot.skills.len() != BENCH_SKILLS || snapshot.mcp_servers.len() != 3 {
                    bail!("the snapshot lacks skills or MCP servers");
                }
                keys = snapshot.skills.iter().map(|s| s.files.len()).sum();
            } else if !snapshot.skills.is_empty() || !snapshot.mcp_servers.is_empty() {
                bail!("an empty choice staged something");
            }
            Ok(())
        })
        .await?;
    let snapshot_bytes: i64 =
        sqlx::query_scalar("SELECT octet_length(capabilities::text)::int8 FROM runs WHERE id = $1")
            .bind(first.context("no run claimed")?)
            .fetch_one(pool)
            .await?;
    println!(
        "claim with a snapshot ({BENCH_SKILLS} skills, {} MiB of files as {keys} keys, 3 MCP servers; {snapshot_bytes} bytes of JSON) vs none, {rounds} of each interleaved: with p50 {:.2} ms, p95 {:.2} ms; none p50 {:.2} ms, p95 {:.2} ms",
        BENCH_SKILL_BYTES / (1024 * 1024),
        ms(percentile(&lat_with, 0.5)),
        ms(percentile(&lat_with, 0.95)),
        ms(percentile(&lat_none, 0.5)),
        ms(percentile(&lat_none, 0.95)),
    );
    Ok(())
}

/// Secrets a run of part 5 needs, besides its provider's key.
const BENCH_SECRETS: usize = 5;

/// Part 5: the claim's share of secrets and model routes (see the module documentation).
async fn claim_with_secrets(bench: &Bench, smoke: bool) -> Result<()> {
    let put = |name: String, value: String| async move {
        let res = bench
            .client
            .put(format!("{}/api/v1/secrets/{name}", bench.base))
            .bearer_auth(&bench.token)
            .json(&json!({"value": value}))
            .send()
            .await?;
        if !res.status().is_success() {
            bail!("PUT /secrets/{name} answered {}", res.status());
        }
        anyhow::Ok(())
    };
    let mut env = serde_json::Map::new();
    for i in 1..=BENCH_SECRETS {
        put(
            format!("BENCH_SECRET_{i}"),
            format!("bench-secret-value-{i}-0123456789"),
        )
        .await?;
        env.insert(
            format!("TOKEN_{i}"),
            json!(format!("${{BENCH_SECRET_{i}}}")),
        );
    }
    put(
        "BENCH_PROVIDER_KEY".to_owned(),
        "bench-provider-key-0123456789".to_owned(),
    )
    .await?;
    let mcp = bench
        .public(
            reqwest::Method::POST,
            "/mcp-servers",
            json!({"name": "secretive", "config": {"command": "python3", "args": ["-m", "tool"], "env": env}}),
        )
        .await?;
    let lists = json!({"skill_ids": [], "slash_command_ids": [], "subagent_ids": []});
    let mut with = lists.clone();
    with["mcp_server_ids"] = json!([mcp["id"]]);
    with["model"] = json!("bench-model");
    let mut none = lists;
    none["mcp_server_ids"] = json!([]);

    let rounds = if smoke { 10 } else { 300 };
    let (lat_with, lat_none) = bench
        .interleaved_claims("secrets", rounds, &with, &none, |run, needs| {
            if needs && (run.secrets.len() != BENCH_SECRETS || run.model_route.is_none()) {
                bail!("the claim lacks the run's secrets or its route");
            }
            if !needs && (!run.secrets.is_empty() || run.model_route.is_some()) {
                bail!("a run that needs nothing got secrets or a route");
            }
            Ok(())
        })
        .await?;
    println!(
        "claim with {BENCH_SECRETS} secrets and a provider's key opened (XChaCha20-Poly1305) vs none, {rounds} of each interleaved: with p50 {:.2} ms, p95 {:.2} ms; none p50 {:.2} ms, p95 {:.2} ms",
        ms(percentile(&lat_with, 0.5)),
        ms(percentile(&lat_with, 0.95)),
        ms(percentile(&lat_none, 0.5)),
        ms(percentile(&lat_none, 0.95)),
    );
    Ok(())
}
