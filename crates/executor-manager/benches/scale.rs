//! Scale on one host: `BENCH_SESSIONS` (default 50) sessions at once through the real manager,
//! Docker and the real Claude Code CLI against the scripted model server.
//!
//! Real parts (the manager tests' in-process pieces, `tests/common`): the backend in-process over
//! PostgreSQL (`DATABASE_URL`; a fresh database, dropped after), the manager in-process with the
//! docker runtime (`DOCKER_HOST`, image `EXECUTOR_TEST_IMAGE`, default
//! `workcell/executor-test:dev`, made by `tests/docker-env.sh`), executors in containers driving
//! the real CLI against the scripted model. Without `DOCKER_HOST` the benchmark is skipped (it
//! fails instead with `WORKCELL_REQUIRE_DOCKER=1`).
//!
//! ```sh
//! cargo bench -p executor-manager --bench scale
//! BENCH_SESSIONS=20 cargo test -p executor-manager --bench scale -- --bench
//! BENCH_SMOKE=1 cargo test -p executor-manager --bench scale -- --bench   # 4 sessions
//! ```
//!
//! Two rounds:
//! 1. **cold**: one new task per session, all submitted at once (each executor is a new
//!    container). The scripted model answers with a `Bash` tool call, then a short text;
//! 2. **warm**: once every executor is parked warm (`EXECUTOR_WARM_IDLE_SECONDS`) with its CLI
//!    started ahead (`AGENT_PRESTART`, the executor's default), a follow-up in every session, all
//!    at once; the model answers with one short text.
//!
//! Every model answer waits `BENCH_MODEL_DELAY_MS` (default 1000) before it streams, like a model
//! that thinks, so that the runs of a round are in flight together.
//!
//! Printed per round: throughput (completed runs over first POST → last run finished), dispatch
//! latency p50/p95 (POST → first event stored, POST → `runs.started_at`, POST → claimed), memory
//! per running executor, CPU (containers, Docker, the manager, the rest of this process, the
//! host), open file descriptors, the backend pool's use, the load average.
//! Between the rounds: memory and CPU per idle warm executor.
//!
//! How things are measured:
//! - an executor's memory is its container's memory cgroup as the Docker stats API reports it
//!   (bollard `stats`, one-shot): `docker stats`' figure (usage minus inactive file cache) and the
//!   anonymous memory (cgroup v1 `total_rss`, v2 `anon`), the executor, its CLI and their children
//!   together. A running executor's figure is its peak over the samples taken (every second)
//!   while its run was `running`; an idle one's is taken once the memory of all of them settled;
//! - the manager runs in this process on a tokio runtime of its own whose threads (workers and
//!   blocking pool) are named `wc-manager`: its CPU is the sum of those threads' CPU time
//!   (`/proc/self/task/*/stat`); everything else of this process (the backend, the scripted
//!   model, the sampling) is the process's CPU time minus that. Memory cannot be split that way:
//!   the process's RSS (`/proc/self/status`) is printed before the manager started, with it idle
//!   and at its peak, so the growth is the manager's and the backend's together;
//! - Docker's own processes on the host (dockerd, containerd, a `containerd-shim` and a
//!   `docker-proxy` per container) are read from `/proc` (RSS and CPU time);
//! - a cold run's claim → start is split with its container's timestamps (`docker inspect`:
//!   created, started): the manager until the container exists, Docker starting it, the
//!   executor answering and taking the task;
//! - open file descriptors of this process, by owner (TCP sockets told apart by their ports;
//!   the benchmark's own HTTP client connects from 127.0.0.2), sampled every second. The process
//!   raises its open files limit at start as the manager binary does
//!   (`open_files::raise_open_files_limit`);
//! - the host: `/proc/loadavg`, `/proc/stat` (CPU busy), `/proc/meminfo` (MemAvailable). Other
//!   work on the host counts in these.
//!
//! The run aborts when the host's MemAvailable drops under 1.5 GiB (`BENCH_MIN_AVAILABLE_MIB`).
//! Other knobs: `BENCH_DB_CONNECTIONS` (the backend's pool, default 20 as the backend's
//! `DATABASE_MAX_CONNECTIONS`), `BENCH_LOG` (log level of the in-process services on stderr,
//! default `warn`).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use bollard::Docker;
use bollard::query_parameters::{
    ListContainersOptionsBuilder, RemoveContainerOptionsBuilder, StatsOptionsBuilder,
};
use chrono::{DateTime, Utc};
use common::{INTERNAL_TOKEN, InProcessBackend, InProcessManager, LLM_KEY, start_llm};
use executor_manager::Kept;
use executor_manager::runtime::docker::{LABEL_MANAGER, LABEL_SESSION};
use fake_llm::{Block, ScenarioFile, Turn};
use futures::StreamExt;
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use sqlx::PgPool;
use test_support::bench::percentile;
use test_support::net::Reach;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// The in-process backend and manager of the manager's tests.
#[path = "../tests/common/mod.rs"]
mod common;

/// The name of the manager's runtime threads (at most 15 characters: a thread's `comm`).
const MANAGER_THREAD: &str = "wc-manager";
/// How long a round may take.
const ROUND_LIMIT: Duration = Duration::from_secs(900);
/// How often running executors are sampled.
const SAMPLE_EVERY: Duration = Duration::from_secs(1);
/// `/proc` reports CPU times in these (USER_HZ, 100 on Linux).
const TICKS_PER_SECOND: f64 = 100.0;
const MIB: f64 = 1024.0 * 1024.0;

struct Config {
    sessions: usize,
    smoke: bool,
    model_delay_ms: u64,
    db_connections: u32,
    min_available_kib: u64,
    /// What the manager's start-up did to the open files limit.
    open_files: String,
}

fn env_number<T: std::str::FromStr>(name: &str) -> Result<Option<T>> {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => v
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| anyhow::anyhow!("{name} is not a number: {v}")),
        _ => Ok(None),
    }
}

fn main() -> Result<()> {
    // `cargo test --benches` runs bench binaries without `--bench`: nothing to do then.
    if !std::env::args().any(|a| a == "--bench") {
        return Ok(());
    }
    if !test_support::docker::configured() {
        if std::env::var("WORKCELL_REQUIRE_DOCKER").as_deref() == Ok("1") {
            bail!(
                "WORKCELL_REQUIRE_DOCKER=1 but DOCKER_HOST is unset: run \
                 `eval \"$(crates/executor-manager/tests/docker-env.sh)\"` first"
            );
        }
        println!("scale: SKIPPED: DOCKER_HOST is unset (the benchmark needs the docker runtime)");
        return Ok(());
    }
    let smoke = test_support::bench::smoke();
    // As the manager binary does at start-up (this process holds the backend and the model
    // server too).
    let open_files = match executor_manager::open_files::raise_open_files_limit()? {
        Some((from, to)) => format!("{to} (raised from {from} at start-up, as the manager does)"),
        None => format!("{} (left as it was)", nofile_limit()),
    };
    let config = Config {
        sessions: env_number("BENCH_SESSIONS")?.unwrap_or(if smoke { 4 } else { 50 }),
        smoke,
        model_delay_ms: env_number("BENCH_MODEL_DELAY_MS")?.unwrap_or(1000),
        db_connections: env_number("BENCH_DB_CONNECTIONS")?.unwrap_or(20),
        min_available_kib: env_number::<u64>("BENCH_MIN_AVAILABLE_MIB")?.unwrap_or(1536) * 1024,
        open_files,
    };
    if config.sessions == 0 {
        bail!("BENCH_SESSIONS must be at least 1");
    }
    let level = std::env::var("BENCH_LOG").unwrap_or_else(|_| "warn".into());
    let _log = telemetry::LogSettings {
        log_level: Some(level),
        // Readable lines rather than JSON.
        debug: true,
        to_stderr: true,
        ..Default::default()
    }
    .init("scale-bench")?;

    // The backend, the scripted model and the measurements run on this runtime; the manager on
    // its own (see the crate documentation). Blocking threads are kept, so that no manager
    // thread's CPU time leaves the per-thread sums when it exits.
    let main_rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("bench-rt")
        .build()?;
    let manager_rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name(MANAGER_THREAD)
        .thread_keep_alive(Duration::from_secs(24 * 3600))
        .build()?;
    let handle = manager_rt.handle().clone();
    let result = main_rt.block_on(test_support::postgres::with_fresh_database(
        |url| async move { run(&url, &config, handle).await },
    ));
    manager_rt.shutdown_background();
    main_rt.shutdown_background();
    result
}

/// The scripted conversation of every session: a tool call and a text in the first run, a text
/// in the follow-up (the turn is picked by the number of assistant messages in the request).
fn scenarios(delay_ms: u64) -> ScenarioFile {
    let mut turns = vec![
        Turn::blocks(vec![Block::tool_use(
            "Bash",
            json!({"command": "printf ok > out.txt"}),
        )]),
        Turn::text("Done."),
        Turn::text("Follow-up done."),
    ];
    for t in &mut turns {
        t.delay_ms = delay_ms;
    }
    ScenarioFile::single(turns)
}

struct Stack {
    ports: Ports,
    backend: String,
    client: Client,
    /// The benchmark's own connections (the backend has its pool).
    pool: PgPool,
    backend_pool: PgPool,
    backend_pool_size: u32,
    docker: Docker,
    manager_id: String,
    kept: Kept,
    dockerd: Option<i32>,
    min_available_kib: u64,
}

async fn run(url: &str, config: &Config, manager_rt: tokio::runtime::Handle) -> Result<()> {
    let n = config.sessions;
    let rss_start = proc_self_rss()?;
    let backend_pool = backend::db::connect(url, config.db_connections, false).await?;
    backend::db::MIGRATOR.run(&backend_pool).await?;
    let pool = backend::db::connect(url, 4, false).await?;
    let backend = InProcessBackend::start(
        backend_pool.clone(),
        &[
            // The benchmark submits N tasks at once; it measures the manager, not the limits.
            ("RATE_LIMIT_PER_MINUTE", "0"),
            ("RATE_LIMIT_IP_PER_MINUTE", "0"),
            // The service's defaults, not the tests' quick ones: a failed attempt shows.
            ("RUN_RETRY_BACKOFF_SECONDS", "10"),
            ("LEASE_REAPER_INTERVAL_SECONDS", "5"),
        ],
    )
    .await;
    let gateway = test_support::docker::gateway();
    let reach = Reach::Gateway(&gateway);
    let llm = start_llm(scenarios(config.model_delay_ms), reach).await;
    let docker = Docker::connect_with_defaults()?;
    let dockerd = find_dockerd();
    let root = tempfile::tempdir()?;
    let listener = std::net::TcpListener::bind(reach.listen())?;
    listener.set_nonblocking(true)?;
    let manager_port = listener.local_addr()?.port();
    let callback = reach.url(manager_port);
    let manager_id = format!("bench-scale-{}", Uuid::new_v4().simple());
    let max_concurrent = n.max(50);
    let vars: Vec<(String, String)> = [
        ("BACKEND_URL", backend.url.clone()),
        ("INTERNAL_API_TOKEN", INTERNAL_TOKEN.into()),
        ("CALLBACK_BASE_URL", callback),
        ("WORKSPACE_ROOT", root.path().display().to_string()),
        ("ANTHROPIC_BASE_URL", reach.url(llm.addr().port())),
        ("ANTHROPIC_AUTH_TOKEN", LLM_KEY.into()),
        ("MANAGER_ID", manager_id.clone()),
        ("MAX_CONCURRENT_TASKS", max_concurrent.to_string()),
        ("TASK_CLAIM_WAIT_SECONDS", "20".into()),
        ("SHUTDOWN_TIMEOUT_SECONDS", "30".into()),
        ("EXECUTOR_WARM_IDLE_SECONDS", "1800".into()),
        ("EXECUTOR_RUNTIME", "docker".into()),
        ("EXECUTOR_IMAGE", test_support::docker::executor_image()),
        // The scripted model listens on the host: let executors through to it.
        ("EXECUTOR_EGRESS_HOST_PORTS", llm.addr().port().to_string()),
        (
            "LOG_LEVEL",
            std::env::var("BENCH_LOG").unwrap_or_else(|_| "warn".into()),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let rss_before_manager = proc_self_rss()?;
    // Started on the manager's runtime: its listener, its tasks and its clients' connections
    // live there.
    let mut manager = manager_rt
        .spawn(async move {
            let listener = tokio::net::TcpListener::from_std(listener)?;
            anyhow::Ok(InProcessManager::start(vars, listener).await)
        })
        .await
        .context("the manager's start-up panicked")??;
    let port_of = |url: &str| -> Result<u16> {
        url.rsplit_once(':')
            .and_then(|(_, p)| p.trim_end_matches('/').parse().ok())
            .with_context(|| format!("no port in {url}"))
    };
    let postgres = url
        .split_once('@')
        .map_or(url, |(_, rest)| rest)
        .split(['/', '?'])
        .next()
        .and_then(|host| host.rsplit_once(':'))
        .and_then(|(_, p)| p.parse().ok())
        .unwrap_or(5432);
    let stack = Stack {
        ports: Ports {
            manager: manager_port,
            backend: port_of(&backend.url)?,
            model: llm.addr().port(),
            postgres,
        },
        backend: backend.url.clone(),
        // From 127.0.0.2, so that its connections are told apart from the manager's.
        client: Client::builder()
            .tcp_nodelay(true)
            .local_address(std::net::IpAddr::from([127, 0, 0, 2]))
            .build()?,
        pool,
        backend_pool: backend_pool.clone(),
        backend_pool_size: config.db_connections,
        docker,
        manager_id,
        kept: manager.kept.clone(),
        dockerd,
        min_available_kib: config.min_available_kib,
    };
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_manager_idle = proc_self_rss()?;

    println!(
        "scale: {n} concurrent sessions, docker runtime (image {}), the real Claude Code CLI \
         against the scripted model (first run: a Bash tool call + a text; follow-up: a text; \
         {} ms before each model answer){}",
        test_support::docker::executor_image(),
        config.model_delay_ms,
        if config.smoke { " [smoke]" } else { "" }
    );
    println!(
        "host: {} CPUs, {:.1} GiB RAM; {} build; MAX_CONCURRENT_TASKS={max_concurrent}; backend \
         pool {} connections; executor limits: the manager's defaults (2048 MiB, 1 CPU); open \
         files limit {}",
        std::thread::available_parallelism().map_or(0, |p| p.get()),
        meminfo("MemTotal").unwrap_or(0) as f64 / 1024.0 / 1024.0,
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        },
        config.db_connections,
        config.open_files,
    );
    println!(
        "bench process RSS: {:.0} MiB at start, {:.0} MiB with the backend and the model server, \
         {:.0} MiB with the manager started (idle)",
        rss_start.0 as f64 / 1024.0,
        rss_before_manager.0 as f64 / 1024.0,
        rss_manager_idle.0 as f64 / 1024.0
    );

    let result = rounds(&stack, n, config.smoke).await;
    if result.is_err() {
        println!("(aborted; stopping the manager)");
    }
    let stopping = Instant::now();
    manager.stop(Duration::from_secs(300)).await;
    println!(
        "manager stopped (its warm executors with it) in {:.1} s; load average {}",
        stopping.elapsed().as_secs_f64(),
        loadavg()
    );
    remove_leftovers(&stack.docker, &stack.manager_id).await;
    drop(backend);
    result
}

/// Both rounds and the idle measurement between them.
async fn rounds(stack: &Stack, n: usize, smoke: bool) -> Result<()> {
    let load_before = loadavg();
    let available_before = meminfo("MemAvailable").unwrap_or(0);
    println!("load average before: {load_before} (1, 5, 15 min)");
    println!(
        "host MemAvailable before: {:.2} GiB",
        available_before as f64 / 1024.0 / 1024.0
    );

    println!();
    println!("cold round: {n} new sessions submitted at once");
    let cold = round(stack, None, n).await?;
    let sessions: Vec<Uuid> = cold.sessions.clone();

    println!();
    idle(stack, cold.completed, available_before, smoke).await?;

    println!();
    println!("warm round: a follow-up in each of the {n} sessions, submitted at once");
    let warm = round(stack, Some(&sessions), n).await?;

    println!();
    println!(
        "load average: before {load_before}; after the cold round {}; after the warm round {}",
        cold.load_after, warm.load_after
    );
    if cold.failed + warm.failed > 0 {
        bail!(
            "{} runs did not complete (cold {}, warm {})",
            cold.failed + warm.failed,
            cold.failed,
            warm.failed
        );
    }
    Ok(())
}

/// What a round leaves for the next steps.
struct RoundResult {
    sessions: Vec<Uuid>,
    completed: usize,
    failed: usize,
    load_after: String,
}

/// Submits one task per session (new sessions when `sessions` is `None`) at once, samples while
/// they run, waits for all of them and prints the round's figures.
async fn round(stack: &Stack, sessions: Option<&[Uuid]>, n: usize) -> Result<RoundResult> {
    let containers_before: HashSet<String> = containers(&stack.docker, &stack.manager_id, true)
        .await?
        .into_iter()
        .map(|c| c.0)
        .collect();
    let container_cpu_before: HashMap<String, u64> = stats_of(
        &stack.docker,
        containers(&stack.docker, &stack.manager_id, false)
            .await?
            .into_iter()
            .map(|c| c.0)
            .collect(),
    )
    .await
    .into_iter()
    .map(|(id, s)| (id, s.cpu_ns))
    .collect();
    let docker_before = docker_side(stack.dockerd, &containers_before);
    let cpu_before = CpuTimes::now()?;
    let stop = CancellationToken::new();
    let low_memory = Arc::new(AtomicBool::new(false));
    let runs_in_round = Arc::new(std::sync::Mutex::new(Vec::<Uuid>::new()));
    let sampler = tokio::spawn(sample(
        SampleCtx {
            ports: stack.ports.clone(),
            docker: stack.docker.clone(),
            pool: stack.pool.clone(),
            backend_pool: stack.backend_pool.clone(),
            manager_id: stack.manager_id.clone(),
            dockerd: stack.dockerd,
            min_available_kib: stack.min_available_kib,
        },
        runs_in_round.clone(),
        stop.clone(),
        low_memory.clone(),
    ));

    let submitted = futures::future::join_all((0..n).map(|i| {
        let session = sessions.and_then(|s| s.get(i).copied());
        stack.task(session)
    }))
    .await;
    let mut tasks = Vec::with_capacity(n);
    for t in submitted {
        tasks.push(t?);
    }
    let run_ids: Vec<Uuid> = tasks.iter().map(|t| t.1).collect();
    if let Ok(mut r) = runs_in_round.lock() {
        r.clone_from(&run_ids);
    }
    let first_sent = tasks.iter().map(|t| t.2).min().context("no task")?;

    let waited = stack.wait_all(&run_ids, &low_memory).await;
    stop.cancel();
    let samples = sampler.await.context("the sampler panicked")?;
    let rows = waited?;
    let cpu_after = CpuTimes::now()?;
    let load_after = loadavg();
    let ids_after: Vec<String> = containers(&stack.docker, &stack.manager_id, false)
        .await?
        .into_iter()
        .map(|c| c.0)
        .collect();
    let container_cpu_after = stats_of(&stack.docker, ids_after.clone()).await;
    let docker_after = docker_side(stack.dockerd, &ids_after.iter().cloned().collect());

    // Outcomes.
    let completed: Vec<&RunRow> = rows.iter().filter(|r| r.status == "completed").collect();
    let failed = rows.len() - completed.len();
    let retried = rows.iter().filter(|r| r.attempts > 1).count();
    let last_finished = completed.iter().filter_map(|r| r.finished_at).max();
    let batch = last_finished.map_or(0.0, |t| seconds(t - first_sent));
    println!(
        "  completed {}/{n}, failed {failed}, retried {retried}; batch {batch:.1} s (first POST → \
         last run finished)",
        completed.len()
    );
    for r in rows
        .iter()
        .filter(|r| r.status != "completed" || r.attempts > 1)
        .take(5)
    {
        println!(
            "    run {} {} after {} attempt(s): {}; attempt errors {}",
            r.id,
            r.status,
            r.attempts,
            r.error.as_deref().unwrap_or("-"),
            r.attempt_errors
        );
    }
    if batch > 0.0 {
        let per_second = completed.len() as f64 / batch;
        println!(
            "  throughput                    {:7.1} runs/min  ({per_second:.2} runs/s)",
            per_second * 60.0
        );
    }
    let sent: HashMap<Uuid, DateTime<Utc>> = tasks.iter().map(|t| (t.1, t.2)).collect();
    let mut to_event = Vec::new();
    let mut to_start = Vec::new();
    let mut to_claim = Vec::new();
    for r in &completed {
        let Some(s) = sent.get(&r.id) else { continue };
        if let Some(claimed) = r.claimed_at {
            to_claim.push(seconds(claimed - *s) * 1000.0);
        }
        if let Some(first) = r.first_event {
            to_event.push(seconds(first - *s) * 1000.0);
        }
        if let Some(started) = r.started_at {
            to_start.push(seconds(started - *s) * 1000.0);
        }
    }
    if !to_event.is_empty() {
        println!("  POST → first event stored     {}", summary(to_event));
    }
    if !to_start.is_empty() {
        println!("  POST → run started (manager)  {}", summary(to_start));
    }
    if !to_claim.is_empty() {
        println!("    of which POST → claimed     {}", summary(to_claim));
    }
    if sessions.is_none() {
        launch_breakdown(stack, &completed, &ids_after).await;
    }

    // Executors while running.
    let peaks: Vec<Stat> = samples.peak.values().copied().collect();
    println!(
        "  runs in flight at once: up to {} (sampled {} times); executors sampled while running: {}",
        samples.in_flight_max,
        samples.passes,
        peaks.len()
    );
    if !peaks.is_empty() {
        println!(
            "  memory per running executor (container memory cgroup via the Docker stats API, \
             peak while its run was `running`):"
        );
        print_memory("    ", &peaks);
    }

    // CPU.
    let elapsed = cpu_after.wall.duration_since(cpu_before.wall).as_secs_f64();
    let started_now = ids_after
        .iter()
        .filter(|id| !containers_before.contains(*id))
        .count();
    println!(
        "  containers started during the round: {started_now} ({} of the manager's running now)",
        ids_after.len()
    );
    let manager_s = (cpu_after.manager - cpu_before.manager) as f64 / TICKS_PER_SECOND;
    let process_s = (cpu_after.process - cpu_before.process) as f64 / TICKS_PER_SECOND;
    let done = completed.len().max(1) as f64;
    let container_s: f64 = container_cpu_after
        .iter()
        .map(|(id, s)| {
            s.cpu_ns
                .saturating_sub(container_cpu_before.get(id).copied().unwrap_or(0))
                as f64
                / 1e9
        })
        .sum();
    println!(
        "  executor containers' CPU (cgroup cpuacct via the Docker stats API): {container_s:.1} s \
         over the round = {:.2} core-seconds per run",
        container_s / done
    );
    if let (Some(after), Some(before)) = (&docker_after, &docker_before) {
        let s = after.cpu_since(before);
        println!(
            "  Docker's processes' CPU (dockerd, containerd, shims, docker-proxy): {s:.1} s = {:.2} \
             core-seconds per run",
            s / done
        );
    }
    println!(
        "  manager CPU (its runtime's `{MANAGER_THREAD}` threads): {manager_s:.2} s over {elapsed:.1} s \
         = {:.1}% of one core, {:.0} ms per run",
        100.0 * manager_s / elapsed,
        1000.0 * manager_s / done
    );
    println!(
        "  rest of the bench process (backend, scripted model, sampling): {:.2} s = {:.1}% of one \
         core, {:.0} ms per run",
        process_s - manager_s,
        100.0 * (process_s - manager_s) / elapsed,
        1000.0 * (process_s - manager_s) / done
    );
    let host_busy = cpu_after.host_busy.saturating_sub(cpu_before.host_busy) as f64;
    let host_total = cpu_after.host_total.saturating_sub(cpu_before.host_total) as f64;
    if host_total > 0.0 {
        let cores = std::thread::available_parallelism().map_or(1, |p| p.get()) as f64;
        println!(
            "  host CPU busy: {:.0}% of {cores} cores over the round ({:.1} core-seconds; every \
             process on the host)",
            100.0 * host_busy / host_total,
            cores * elapsed * host_busy / host_total
        );
    }
    println!(
        "  bench process RSS peak during the round: {:.0} MiB (VmHWM {:.0} MiB)",
        samples.bench_rss_peak_kib as f64 / 1024.0,
        proc_self_rss()?.1 as f64 / 1024.0
    );
    if let Some(side) = samples.docker_side_peak {
        side.print("  ");
    }
    if let Some(fds) = &samples.fds_peak {
        fds.print("  ", completed.len());
    }
    println!(
        "  backend pool: up to {} of {} connections in use",
        samples.backend_pool_busy_peak, stack.backend_pool_size
    );
    if samples.min_available_kib < u64::MAX {
        println!(
            "  host MemAvailable lowest during the round: {:.2} GiB",
            samples.min_available_kib as f64 / 1024.0 / 1024.0
        );
    }
    println!("  load average after the round: {load_after}");
    let sessions = tasks.iter().map(|t| t.0).collect();
    Ok(RoundResult {
        sessions,
        completed: completed.len(),
        failed,
        load_after,
    })
}

/// Where a cold run's time from its claim to its start goes, from the containers' timestamps:
/// the manager until Docker created the container (the session's stale containers looked for,
/// the workspace handed over, the create call), Docker starting it, and the executor answering
/// and taking the task (the manager's readiness probe, `execute`, the backend's `start`).
async fn launch_breakdown(stack: &Stack, completed: &[&RunRow], ids: &[String]) {
    let by_session: HashMap<Uuid, &RunRow> = completed.iter().map(|r| (r.session, *r)).collect();
    let time = |v: Option<Value>| -> Option<DateTime<Utc>> {
        let text = v?.as_str()?.to_owned();
        DateTime::parse_from_rfc3339(&text)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    };
    let inspected = futures::stream::iter(ids.iter().cloned())
        .map(|id| async move { stack.docker.inspect_container(&id, None).await.ok() })
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await;
    let (mut to_create, mut to_start, mut to_ready) = (Vec::new(), Vec::new(), Vec::new());
    for info in inspected.into_iter().flatten() {
        let session = info
            .config
            .as_ref()
            .and_then(|c| c.labels.as_ref())
            .and_then(|l| l.get(LABEL_SESSION))
            .and_then(|s| s.parse::<Uuid>().ok());
        let Some(run) = session.and_then(|s| by_session.get(&s)) else {
            continue;
        };
        let created = time(serde_json::to_value(&info.created).ok());
        let started = time(info.state.and_then(|s| s.started_at).map(Value::String));
        let ms = |a: DateTime<Utc>, b: DateTime<Utc>| seconds(b - a) * 1000.0;
        if let (Some(claimed), Some(created)) = (run.claimed_at, created) {
            to_create.push(ms(claimed, created));
        }
        if let (Some(created), Some(started)) = (created, started) {
            to_start.push(ms(created, started));
        }
        if let (Some(started), Some(run_started)) = (started, run.started_at) {
            to_ready.push(ms(started, run_started));
        }
    }
    if to_create.is_empty() {
        return;
    }
    println!("    claimed → container created  {}", summary(to_create));
    println!("    created → started (Docker)  {}", summary(to_start));
    println!("    started → run started       {}", summary(to_ready));
}

/// Waits for every executor to be parked warm and its memory to settle (the CLI started ahead),
/// then prints the memory and CPU of the idle executors.
async fn idle(stack: &Stack, parked: usize, available_before: u64, smoke: bool) -> Result<()> {
    let waiting = Instant::now();
    let deadline = waiting + Duration::from_secs(120);
    while stack.kept.warm.len() < parked {
        if Instant::now() > deadline {
            bail!(
                "only {} of {parked} executors were parked warm after 120 s",
                stack.kept.warm.len()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let parked_after = waiting.elapsed();
    // Settled: the containers' memory in all changed by under 1% between two samples 3 s apart,
    // at least 10 s after the last was parked (the CLI started ahead loads meanwhile).
    let min_wait = Duration::from_secs(if smoke { 5 } else { 10 });
    let max_wait = Duration::from_secs(if smoke { 30 } else { 180 });
    let settling = Instant::now();
    let mut last_total = 0u64;
    let stats = loop {
        tokio::time::sleep(Duration::from_secs(3)).await;
        let ids = containers(&stack.docker, &stack.manager_id, false).await?;
        let stats = stats_of(&stack.docker, ids.iter().map(|c| c.0.clone()).collect()).await;
        let total: u64 = stats.values().map(|s| s.mem).sum();
        let change = total.abs_diff(last_total) as f64 / total.max(1) as f64;
        last_total = total;
        if let Some(a) = meminfo("MemAvailable")
            && a < stack.min_available_kib
        {
            bail!("host MemAvailable fell to {} MiB", a / 1024);
        }
        if (settling.elapsed() >= min_wait && change < 0.01) || settling.elapsed() >= max_wait {
            break stats;
        }
    };
    let available = meminfo("MemAvailable").unwrap_or(0);
    println!(
        "idle warm executors: {} parked (all within {:.1} s of the round's end), memory settled \
         after {:.0} s more",
        stack.kept.warm.len(),
        parked_after.as_secs_f64(),
        settling.elapsed().as_secs_f64()
    );
    let list: Vec<Stat> = stats.values().copied().collect();
    if list.is_empty() {
        bail!("no idle executor container found");
    }
    println!(
        "  memory per idle executor (executor + its CLI started ahead; container memory cgroup via \
         the Docker stats API):"
    );
    print_memory("    ", &list);
    let mut pids: Vec<f64> = list.iter().map(|s| s.pids as f64).collect();
    pids.sort_by(f64::total_cmp);
    println!(
        "    processes and threads per container: p50 {:.0} (min {:.0}, max {:.0})",
        percentile(&pids, 0.5),
        pids[0],
        pids[pids.len() - 1]
    );
    // Idle CPU: the containers' CPU time over a quiet window.
    let window = Duration::from_secs(if smoke { 3 } else { 10 });
    let before = stats;
    let cpu_before = CpuTimes::now()?;
    tokio::time::sleep(window).await;
    let after = stats_of(&stack.docker, before.keys().cloned().collect()).await;
    let cpu_after = CpuTimes::now()?;
    let mut used = Vec::new();
    for (id, a) in &after {
        if let Some(b) = before.get(id) {
            used.push(a.cpu_ns.saturating_sub(b.cpu_ns) as f64 / 1e9);
        }
    }
    let secs = window.as_secs_f64();
    let total_used: f64 = used.iter().sum();
    println!(
        "  CPU of the idle executors over {secs:.0} s: {:.2}% of one core each on average ({:.2} \
         core-seconds in all)",
        100.0 * total_used / used.len().max(1) as f64 / secs,
        total_used
    );
    let manager_s = (cpu_after.manager - cpu_before.manager) as f64 / TICKS_PER_SECOND;
    println!(
        "  manager CPU meanwhile: {:.1}% of one core",
        100.0 * manager_s / secs
    );
    if let Some(side) = docker_side(
        stack.dockerd,
        &before.keys().cloned().collect::<HashSet<_>>(),
    ) {
        side.print("  ");
    }
    let rss = proc_self_rss()?;
    println!(
        "  bench process RSS with {} executors parked: {:.0} MiB",
        list.len(),
        rss.0 as f64 / 1024.0
    );
    if available_before > 0 && available > 0 {
        let used_kib = available_before.saturating_sub(available);
        println!(
            "  host MemAvailable: {:.2} GiB, {:.2} GiB less than before the cold round = {:.0} MiB \
             per parked session (everything on the host included: Docker, page cache, other work)",
            available as f64 / 1024.0 / 1024.0,
            used_kib as f64 / 1024.0 / 1024.0,
            used_kib as f64 / 1024.0 / list.len() as f64
        );
    }
    println!("  load average: {}", loadavg());
    Ok(())
}

/// A run as the database has it at its end.
#[derive(sqlx::FromRow)]
struct RunRow {
    id: Uuid,
    session: Uuid,
    status: String,
    error: Option<String>,
    attempts: i32,
    attempt_errors: Value,
    claimed_at: Option<DateTime<Utc>>,
    started_at: Option<DateTime<Utc>>,
    finished_at: Option<DateTime<Utc>>,
    first_event: Option<DateTime<Utc>>,
}

impl Stack {
    /// `POST /api/v1/tasks`; returns (session, run, when the request was sent).
    async fn task(&self, session: Option<Uuid>) -> Result<(Uuid, Uuid, DateTime<Utc>)> {
        let mut body = json!({"prompt": "Write ok to out.txt, then say something short."});
        if let Some(s) = session {
            body = json!({"prompt": "Say something short again.", "session_id": s});
        }
        let sent = Utc::now();
        let res = self
            .client
            .post(format!("{}/api/v1/tasks", self.backend))
            .json(&body)
            .send()
            .await?;
        let status = res.status();
        if status != StatusCode::CREATED {
            bail!("task answered {status}: {}", res.text().await?);
        }
        let v: Value = res.json().await?;
        let id = |k: &str| -> Result<Uuid> {
            v[k].as_str()
                .and_then(|s| s.parse().ok())
                .with_context(|| format!("no {k}"))
        };
        Ok((id("session_id")?, id("run_id")?, sent))
    }

    /// Waits until every run is terminal; returns their rows.
    async fn wait_all(&self, runs: &[Uuid], low_memory: &AtomicBool) -> Result<Vec<RunRow>> {
        let deadline = Instant::now() + ROUND_LIMIT;
        loop {
            let open: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM runs WHERE id = ANY($1)
                   AND status NOT IN ('completed', 'failed', 'canceled')",
            )
            .bind(runs)
            .fetch_one(&self.pool)
            .await?;
            if open == 0 {
                break;
            }
            if low_memory.load(Ordering::Relaxed) {
                bail!(
                    "host MemAvailable fell under {} MiB with {open} runs unfinished",
                    self.min_available_kib / 1024
                );
            }
            if Instant::now() > deadline {
                bail!("{open} runs unfinished after {ROUND_LIMIT:?}");
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        Ok(sqlx::query_as(
            "SELECT r.id, r.session_id AS session, r.status, r.error, r.attempts, r.attempt_errors, r.claimed_at,
                    r.started_at, r.finished_at,
                    (SELECT min(stored_at) FROM events e WHERE e.run_id = r.id) AS first_event
               FROM runs r WHERE r.id = ANY($1)",
        )
        .bind(runs)
        .fetch_all(&self.pool)
        .await?)
    }
}

/// One container's memory and CPU, from the Docker stats API.
#[derive(Clone, Copy, Default, Debug)]
struct Stat {
    /// `docker stats`' figure: usage minus the inactive file cache.
    mem: u64,
    /// Anonymous memory: cgroup v1 `total_rss`, v2 `anon`.
    anon: u64,
    /// CPU time since the container started.
    cpu_ns: u64,
    /// Processes and threads.
    pids: u64,
}

async fn stat(docker: &Docker, id: &str) -> Option<Stat> {
    let opts = StatsOptionsBuilder::new()
        .stream(false)
        .one_shot(true)
        .build();
    let s = docker.stats(id, Some(opts)).next().await?.ok()?;
    let m = s.memory_stats?;
    let usage = m.usage?;
    let stats = m.stats.unwrap_or_default();
    let get = |keys: &[&str]| keys.iter().find_map(|k| stats.get(*k).copied());
    let inactive = get(&["total_inactive_file", "inactive_file"]).unwrap_or(0);
    Some(Stat {
        mem: if inactive < usage {
            usage - inactive
        } else {
            usage
        },
        anon: get(&["total_rss", "anon"]).unwrap_or(0),
        cpu_ns: s
            .cpu_stats
            .and_then(|c| c.cpu_usage)
            .and_then(|u| u.total_usage)
            .unwrap_or(0),
        pids: s.pids_stats.and_then(|p| p.current).unwrap_or(0),
    })
}

/// The stats of `ids`, 16 at a time; containers that vanished are left out.
async fn stats_of(docker: &Docker, ids: Vec<String>) -> HashMap<String, Stat> {
    futures::stream::iter(ids)
        .map(|id| async move {
            let s = stat(docker, &id).await;
            (id, s)
        })
        .buffer_unordered(16)
        .filter_map(|(id, s)| async move { s.map(|s| (id, s)) })
        .collect()
        .await
}

/// The manager's containers (`all`: stopped ones too): (id, session).
async fn containers(
    docker: &Docker,
    manager_id: &str,
    all: bool,
) -> Result<Vec<(String, Option<Uuid>)>> {
    let filters = HashMap::from([("label", vec![format!("{LABEL_MANAGER}={manager_id}")])]);
    let opts = ListContainersOptionsBuilder::new()
        .all(all)
        .filters(&filters)
        .build();
    Ok(docker
        .list_containers(Some(opts))
        .await?
        .into_iter()
        .filter_map(|c| {
            let session = c
                .labels
                .as_ref()
                .and_then(|l| l.get(LABEL_SESSION))
                .and_then(|s| s.parse().ok());
            c.id.map(|id| (id, session))
        })
        .collect())
}

/// Removes whatever container of this manager is left (after an aborted run).
async fn remove_leftovers(docker: &Docker, manager_id: &str) {
    let Ok(list) = containers(docker, manager_id, true).await else {
        return;
    };
    if !list.is_empty() {
        println!("removing {} containers left behind", list.len());
    }
    for (id, _) in list {
        let opts = RemoveContainerOptionsBuilder::new()
            .force(true)
            .v(true)
            .build();
        let _ = docker.remove_container(&id, Some(opts)).await;
    }
}

struct SampleCtx {
    ports: Ports,
    docker: Docker,
    pool: PgPool,
    /// The backend's pool, watched for how many of its connections are in use.
    backend_pool: PgPool,
    manager_id: String,
    dockerd: Option<i32>,
    min_available_kib: u64,
}

#[derive(Default)]
struct Samples {
    /// Per container: the sample with the most memory taken while its session's run was running.
    peak: HashMap<String, Stat>,
    in_flight_max: usize,
    passes: usize,
    min_available_kib: u64,
    bench_rss_peak_kib: u64,
    docker_side_peak: Option<DockerSide>,
    /// Open file descriptors of this process (backend, manager and model server together), by
    /// owner, at the sample with the most.
    fds_peak: Option<Fds>,
    /// The backend pool's connections in use.
    backend_pool_busy_peak: usize,
}

/// Samples the running executors, the host and this process every [`SAMPLE_EVERY`] until `stop`.
async fn sample(
    ctx: SampleCtx,
    runs: Arc<std::sync::Mutex<Vec<Uuid>>>,
    stop: CancellationToken,
    low_memory: Arc<AtomicBool>,
) -> Samples {
    let mut out = Samples {
        min_available_kib: u64::MAX,
        ..Default::default()
    };
    loop {
        tokio::select! {
            () = stop.cancelled() => break,
            () = tokio::time::sleep(SAMPLE_EVERY) => {}
        }
        if let Some(a) = meminfo("MemAvailable") {
            out.min_available_kib = out.min_available_kib.min(a);
            if a < ctx.min_available_kib {
                low_memory.store(true, Ordering::Relaxed);
            }
        }
        if let Ok((rss, _)) = proc_self_rss() {
            out.bench_rss_peak_kib = out.bench_rss_peak_kib.max(rss);
        }
        let fds = Fds::now(&ctx.ports);
        if out.fds_peak.as_ref().is_none_or(|p| fds.total > p.total) {
            out.fds_peak = Some(fds);
        }
        let busy = (ctx.backend_pool.size() as usize).saturating_sub(ctx.backend_pool.num_idle());
        out.backend_pool_busy_peak = out.backend_pool_busy_peak.max(busy);
        let run_ids = runs.lock().map(|r| r.clone()).unwrap_or_default();
        if run_ids.is_empty() {
            continue;
        }
        let running: Vec<Uuid> = match sqlx::query_scalar(
            "SELECT session_id FROM runs WHERE id = ANY($1) AND status = 'running'",
        )
        .bind(&run_ids)
        .fetch_all(&ctx.pool)
        .await
        {
            Ok(r) => r,
            Err(_) => continue,
        };
        out.in_flight_max = out.in_flight_max.max(running.len());
        let Ok(list) = containers(&ctx.docker, &ctx.manager_id, false).await else {
            continue;
        };
        let running: HashSet<Uuid> = running.into_iter().collect();
        let ids: Vec<String> = list
            .iter()
            .filter(|(_, s)| s.is_some_and(|s| running.contains(&s)))
            .map(|(id, _)| id.clone())
            .collect();
        if ids.is_empty() {
            continue;
        }
        out.passes += 1;
        for (id, s) in stats_of(&ctx.docker, ids).await {
            let e = out.peak.entry(id).or_default();
            if s.mem > e.mem {
                *e = s;
            }
        }
        let all: HashSet<String> = list.into_iter().map(|c| c.0).collect();
        if let Some(side) = docker_side(ctx.dockerd, &all)
            && out
                .docker_side_peak
                .as_ref()
                .is_none_or(|p| side.total() > p.total())
        {
            out.docker_side_peak = Some(side);
        }
    }
    out
}

/// Prints p50/mean/max of both memory figures.
fn print_memory(indent: &str, list: &[Stat]) {
    for (label, pick) in [
        (
            "docker stats (usage − inactive file)",
            (|s: &Stat| s.mem) as fn(&Stat) -> u64,
        ),
        ("anonymous (cgroup total_rss / anon) ", |s: &Stat| s.anon),
    ] {
        let mut v: Vec<f64> = list.iter().map(|s| pick(s) as f64 / MIB).collect();
        v.sort_by(f64::total_cmp);
        let mean = v.iter().sum::<f64>() / v.len() as f64;
        println!(
            "{indent}{label}  p50 {:6.1} MiB  mean {mean:6.1}  min {:6.1}  max {:6.1}  (n={})",
            percentile(&v, 0.5),
            v[0],
            v[v.len() - 1],
            v.len()
        );
    }
}

fn summary(mut v: Vec<f64>) -> String {
    v.sort_by(f64::total_cmp);
    format!(
        "p50 {:8.1} ms  p95 {:8.1} ms  (min {:.1}, max {:.1}, n={})",
        percentile(&v, 0.5),
        percentile(&v, 0.95),
        v[0],
        v[v.len() - 1],
        v.len()
    )
}

fn seconds(d: chrono::TimeDelta) -> f64 {
    d.num_microseconds().unwrap_or(0) as f64 / 1e6
}

// ---- the host and this process, from /proc ----

/// This process's soft `RLIMIT_NOFILE` (`/proc/self/limits`).
fn nofile_limit() -> String {
    std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("Max open files"))
                .and_then(|l| l.split_whitespace().nth(3).map(str::to_owned))
        })
        .unwrap_or_else(|| "?".into())
}

/// The in-process services' ports, to tell their sockets apart.
#[derive(Clone, Debug)]
struct Ports {
    manager: u16,
    backend: u16,
    model: u16,
    postgres: u16,
}

/// This process's open file descriptors by owner. TCP sockets are told apart by their ports
/// (`/proc/self/net/tcp{,6}`): the manager's are those on its own port (executors' callbacks and
/// model requests), its connections to the backend (the benchmark's own come from 127.0.0.2),
/// to the model server and to executors (any other remote port); the backend's are those on its
/// port and to PostgreSQL (the benchmark's 4 included).
#[derive(Clone, Debug, Default)]
struct Fds {
    total: usize,
    manager_inbound: usize,
    manager_to_backend: usize,
    manager_to_model: usize,
    manager_to_executors: usize,
    backend: usize,
    model: usize,
    bench: usize,
    unix: usize,
    other: usize,
}

impl Fds {
    fn now(ports: &Ports) -> Self {
        let mut sockets = HashMap::new();
        for file in ["/proc/self/net/tcp", "/proc/self/net/tcp6"] {
            let Ok(text) = std::fs::read_to_string(file) else {
                continue;
            };
            for line in text.lines().skip(1) {
                let f: Vec<&str> = line.split_whitespace().collect();
                let (Some(local), Some(remote), Some(inode)) = (f.get(1), f.get(2), f.get(9))
                else {
                    continue;
                };
                let port = |a: &str| {
                    a.rsplit_once(':')
                        .and_then(|(_, p)| u16::from_str_radix(p, 16).ok())
                        .unwrap_or(0)
                };
                // 127.0.0.2 in /proc's little-endian hex.
                let from_bench = local.starts_with("0200007F:");
                sockets.insert(inode.to_string(), (port(local), port(remote), from_bench));
            }
        }
        let unix: HashSet<String> = std::fs::read_to_string("/proc/self/net/unix")
            .map(|t| {
                t.lines()
                    .skip(1)
                    .filter_map(|l| l.split_whitespace().nth(6).map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        let mut out = Fds::default();
        let Ok(dir) = std::fs::read_dir("/proc/self/fd") else {
            return out;
        };
        for entry in dir.flatten() {
            out.total += 1;
            let target = std::fs::read_link(entry.path())
                .map(|t| t.display().to_string())
                .unwrap_or_default();
            let Some(inode) = target
                .strip_prefix("socket:[")
                .and_then(|t| t.strip_suffix(']'))
            else {
                out.other += 1;
                continue;
            };
            let Some(&(local, remote, from_bench)) = sockets.get(inode) else {
                if unix.contains(inode) {
                    out.unix += 1;
                } else {
                    out.other += 1;
                }
                continue;
            };
            let p = ports;
            let slot = if local == p.manager {
                &mut out.manager_inbound
            } else if local == p.backend || remote == p.postgres {
                &mut out.backend
            } else if local == p.model {
                &mut out.model
            } else if from_bench {
                &mut out.bench
            } else if remote == p.backend {
                &mut out.manager_to_backend
            } else if remote == p.model {
                &mut out.manager_to_model
            } else {
                &mut out.manager_to_executors
            };
            *slot += 1;
        }
        out
    }

    fn manager(&self) -> usize {
        self.manager_inbound
            + self.manager_to_backend
            + self.manager_to_model
            + self.manager_to_executors
    }

    fn print(&self, indent: &str, runs: usize) {
        println!(
            "{indent}open file descriptors of the bench process at their peak: {} (ulimit -n {}): \
             the manager's TCP sockets {} = {:.1} per run (from executors {}, to the backend {}, to \
             the model {}, to executors {}); the backend's {}, the model server's {}, the \
             benchmark's {}; unix sockets {} (Docker API: the manager's and the sampler's); other \
             {} (files, epoll, pipes)",
            self.total,
            nofile_limit(),
            self.manager(),
            self.manager() as f64 / runs.max(1) as f64,
            self.manager_inbound,
            self.manager_to_backend,
            self.manager_to_model,
            self.manager_to_executors,
            self.backend,
            self.model,
            self.bench,
            self.unix,
            self.other
        );
    }
}

/// `/proc/loadavg`'s three averages.
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

/// A `/proc/meminfo` line's value in KiB.
fn meminfo(key: &str) -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    text.lines().find_map(|l| {
        let rest = l.strip_prefix(key)?.strip_prefix(':')?;
        rest.split_whitespace().next()?.parse().ok()
    })
}

/// A `status` file's `VmRSS`-style value in KiB.
fn status_kib(status: &str, key: &str) -> Option<u64> {
    status.lines().find_map(|l| {
        let rest = l.strip_prefix(key)?.strip_prefix(':')?;
        rest.split_whitespace().next()?.parse().ok()
    })
}

/// This process's (VmRSS, VmHWM) in KiB.
fn proc_self_rss() -> Result<(u64, u64)> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    Ok((
        status_kib(&status, "VmRSS").unwrap_or(0),
        status_kib(&status, "VmHWM").unwrap_or(0),
    ))
}

/// The fields of a `stat` file after the command name: `[0]` is the state, `[1]` the parent,
/// `[11]`/`[12]` utime/stime.
fn stat_fields(text: &str) -> Vec<&str> {
    text.rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default()
}

fn cpu_ticks(stat: &str) -> u64 {
    let f = stat_fields(stat);
    let n = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    n(11) + n(12)
}

/// CPU times at one instant: this process, its manager threads (in ticks), the host (jiffies).
struct CpuTimes {
    wall: Instant,
    process: u64,
    manager: u64,
    host_busy: u64,
    host_total: u64,
}

impl CpuTimes {
    fn now() -> Result<Self> {
        let process = cpu_ticks(&std::fs::read_to_string("/proc/self/stat")?);
        let mut manager = 0;
        for entry in std::fs::read_dir("/proc/self/task")? {
            let dir = entry?.path();
            let comm = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
            if comm.trim_end().starts_with(MANAGER_THREAD) {
                manager +=
                    cpu_ticks(&std::fs::read_to_string(dir.join("stat")).unwrap_or_default());
            }
        }
        let stat = std::fs::read_to_string("/proc/stat")?;
        let cpu: Vec<u64> = stat
            .lines()
            .next()
            .unwrap_or_default()
            .split_whitespace()
            .skip(1)
            .take(8)
            .filter_map(|v| v.parse().ok())
            .collect();
        let host_total: u64 = cpu.iter().sum();
        let idle = cpu.get(3).copied().unwrap_or(0) + cpu.get(4).copied().unwrap_or(0);
        Ok(Self {
            wall: Instant::now(),
            process,
            manager,
            host_busy: host_total.saturating_sub(idle),
            host_total,
        })
    }
}

/// A process of the host.
struct Proc {
    pid: i32,
    ppid: i32,
    comm: String,
    cmdline: String,
    rss_kib: u64,
    /// CPU time (utime + stime), ticks.
    ticks: u64,
}

fn processes() -> Vec<Proc> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| {
        let e = e.ok()?;
        let pid: i32 = e.file_name().to_str()?.parse().ok()?;
        let path = e.path();
        let stat = std::fs::read_to_string(path.join("stat")).ok()?;
        let ppid = stat_fields(&stat).get(1)?.parse().ok()?;
        let status = std::fs::read_to_string(path.join("status")).ok()?;
        Some(Proc {
            pid,
            ppid,
            comm: std::fs::read_to_string(path.join("comm"))
                .ok()?
                .trim_end()
                .to_owned(),
            cmdline: std::fs::read(path.join("cmdline"))
                .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
                .unwrap_or_default(),
            rss_kib: status_kib(&status, "VmRSS").unwrap_or(0),
            ticks: cpu_ticks(&stat),
        })
    })
    .collect()
}

/// The dockerd serving `DOCKER_HOST`'s socket, if it runs on this host.
fn find_dockerd() -> Option<i32> {
    let host = std::env::var("DOCKER_HOST").ok()?;
    let socket = host.strip_prefix("unix://")?.to_owned();
    processes()
        .into_iter()
        .find(|p| p.comm == "dockerd" && p.cmdline.contains(&socket))
        .map(|p| p.pid)
}

/// Docker's processes on the host (RSS, KiB).
#[derive(Clone, Debug)]
struct DockerSide {
    dockerd: u64,
    containerd: u64,
    shims: (usize, u64),
    proxies: (usize, u64),
    /// CPU time of each of these processes, ticks.
    ticks: HashMap<i32, u64>,
}

impl DockerSide {
    fn total(&self) -> u64 {
        self.dockerd + self.containerd + self.shims.1 + self.proxies.1
    }

    /// CPU seconds these processes used since `before` (processes new since then: all of theirs).
    fn cpu_since(&self, before: &DockerSide) -> f64 {
        let ticks: u64 = self
            .ticks
            .iter()
            .map(|(pid, t)| t.saturating_sub(before.ticks.get(pid).copied().unwrap_or(0)))
            .sum();
        ticks as f64 / TICKS_PER_SECOND
    }

    fn print(&self, indent: &str) {
        let per = |(n, kib): (usize, u64)| kib as f64 / 1024.0 / n.max(1) as f64;
        println!(
            "{indent}Docker on the host (RSS): dockerd {:.0} MiB, containerd {:.0} MiB, \
             {} containerd-shim ({:.1} MiB each), {} docker-proxy ({:.1} MiB each)",
            self.dockerd as f64 / 1024.0,
            self.containerd as f64 / 1024.0,
            self.shims.0,
            per(self.shims),
            self.proxies.0,
            per(self.proxies)
        );
    }
}

/// Docker's processes serving `containers` (by id) for the daemon `dockerd`.
fn docker_side(dockerd: Option<i32>, containers: &HashSet<String>) -> Option<DockerSide> {
    let dockerd = dockerd?;
    let mut side = DockerSide {
        dockerd: 0,
        containerd: 0,
        shims: (0, 0),
        proxies: (0, 0),
        ticks: HashMap::new(),
    };
    for p in processes() {
        if p.pid == dockerd {
            side.dockerd = p.rss_kib;
        } else if p.ppid == dockerd && p.comm == "containerd" {
            side.containerd += p.rss_kib;
        } else if p.ppid == dockerd && p.comm == "docker-proxy" {
            side.proxies.0 += 1;
            side.proxies.1 += p.rss_kib;
        } else if p.comm.starts_with("containerd-shim")
            && p.cmdline
                .split_whitespace()
                .any(|arg| containers.contains(arg))
        {
            side.shims.0 += 1;
            side.shims.1 += p.rss_kib;
        } else {
            continue;
        }
        side.ticks.insert(p.pid, p.ticks);
    }
    Some(side)
}
