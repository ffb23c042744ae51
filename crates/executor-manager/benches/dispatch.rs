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
//! **Capabilities** (process runtime whatever `DOCKER_HOST` says: the MCP servers are the
//! stdio fixture on this host; a real S3 server, s3s-fs, holds the skills): a library of 10
//! skills (1 MiB in all), 3 MCP servers and 2 slash commands is created through the API, then
//! 1. staging per run, timed in-process on the real code: the manager's presigning of the claim's
//!    snapshot (`executor_manager::capabilities::prepare`) and the executor's staging
//!    (`executor::staging::stage`), for a snapshot whose digest changed since the last run
//!    (everything staged again), one whose digest did not (kept), and none (target: a changed
//!    digest adds ≤ 30 ms p50, an unchanged one ~0). The skill files come from s3s-fs through the
//!    presigned URLs, and again from a plain HTTP server in this process holding the same bytes:
//!    s3s-fs answers each GET 20–45 ms after it was sent, whatever the object's size (100 bytes
//!    too), so its figure is one or two such waits; the local one is the executor's own work;
//! 2. warm dispatch with the real CLI, three sessions interleaved: no capabilities, the library
//!    with an unchanged digest (the CLI started ahead is taken), and with a digest changed at every
//!    run (staged again, and the CLI started ahead replaced: a cold CLI start connecting 3 MCP
//!    servers).
//!
//! `BENCH_SMOKE=1` measures 3 runs per kind (the test script's check that the benchmark runs).
//! `BENCH_KINDS` picks the kinds (default `cold,warm,pooled`) and `BENCH_CAPABILITIES=0` leaves
//! the capabilities sections out, to interleave one figure with another build's.
//!
//! A pooled executor starts the CLI for a new session's first run ahead (`POST /v1/prestart`);
//! `BENCH_POOL_MODEL` gives the benchmark's sessions another model than the executors' default,
//! so that the CLI started ahead gets it applied late (`set_model`).

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use chrono::{DateTime, Utc};
use common::{
    INTERNAL_TOKEN, InProcessBackend, InProcessManager, LLM_KEY, multipart_file, start_llm,
};
use executor_manager::Kept;
use fake_llm::{FakeLlmHandle, ScenarioFile, Turn};
use protocol::capabilities::CapabilitySnapshot;
use protocol::executor::ExecuteRequest;
use protocol::internal::ClaimedRun;
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use sqlx::PgPool;
use test_support::bench::percentile;
use test_support::net::Reach;
use test_support::s3::{BUCKET, S3Server};
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

impl Kind {
    /// `BENCH_KINDS`, default all.
    fn chosen() -> Result<Vec<Kind>> {
        let Ok(list) = std::env::var("BENCH_KINDS") else {
            return Ok(vec![Kind::Cold, Kind::Warm, Kind::Pooled]);
        };
        list.split(',')
            .map(|k| match k.trim() {
                "cold" => Ok(Kind::Cold),
                "warm" => Ok(Kind::Warm),
                "pooled" => Ok(Kind::Pooled),
                other => bail!("BENCH_KINDS: unknown kind {other:?} (cold, warm, pooled)"),
            })
            .collect()
    }
}

struct Stack {
    backend: String,
    client: Client,
    pool: PgPool,
}

impl Stack {
    /// Creates a task; returns (session, run, when the request was sent).
    async fn task(&self, session: Option<Uuid>) -> Result<(Uuid, Uuid, DateTime<Utc>)> {
        self.task_with(session, json!({})).await
    }

    /// [`Stack::task`] with more fields (capability lists).
    async fn task_with(
        &self,
        session: Option<Uuid>,
        extra: Value,
    ) -> Result<(Uuid, Uuid, DateTime<Utc>)> {
        let mut body = json!({"prompt": "Say something short."});
        if let Some(s) = session {
            body["session_id"] = json!(s);
        }
        if let Some(fields) = extra.as_object() {
            for (k, v) in fields {
                body[k] = v.clone();
            }
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
    // Skills live in S3; the other sections' manager has no S3 settings (no export).
    let s3 = S3Server::start().await;
    let s3_vars = s3_vars(&s3);
    let mut backend_vars: Vec<(&str, &str)> = vec![
        // The benchmark polls the public API; it measures dispatch, not the rate limits.
        ("RATE_LIMIT_PER_MINUTE", "0"),
        ("RATE_LIMIT_IP_PER_MINUTE", "0"),
        // The service's defaults, not the tests' quick ones.
        ("RUN_RETRY_BACKOFF_SECONDS", "10"),
        ("LEASE_REAPER_INTERVAL_SECONDS", "5"),
    ];
    backend_vars.extend(s3_vars.iter().map(|(k, v)| (*k, v.as_str())));
    let backend = InProcessBackend::start(pool.clone(), &backend_vars).await;

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

    for kind in Kind::chosen()? {
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
            let (_, run, sent) = match std::env::var("BENCH_POOL_MODEL") {
                Ok(model) if kind == Kind::Pooled => {
                    stack.task_with(session, json!({"model": model})).await?
                }
                _ => stack.task(session).await?,
            };
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
    if std::env::var("BENCH_CAPABILITIES").is_ok_and(|v| v == "0") {
        return Ok(());
    }
    capabilities(&stack, &s3, &llm, runs, pause, smoke).await
}

fn s3_vars(s3: &S3Server) -> Vec<(&'static str, String)> {
    vec![
        ("S3_ENDPOINT", s3.endpoint.clone()),
        ("S3_ACCESS_KEY", s3.access_key.clone()),
        ("S3_SECRET_KEY", s3.secret_key.clone()),
        ("S3_BUCKET", BUCKET.to_owned()),
    ]
}

/// Skills in the staging section's library, and their bytes in all.
const SKILLS: usize = 10;
const SKILLS_BYTES: usize = 1024 * 1024;

/// The staging section's library, by id.
struct Library {
    skills: Vec<Value>,
    mcp_servers: Vec<Value>,
    alpha: Value,
    beta: Value,
}

impl Library {
    /// A task's capability lists: everything, with one of the two commands.
    fn choice(&self, command: &Value) -> Value {
        json!({
            "skill_ids": self.skills,
            "mcp_server_ids": self.mcp_servers,
            "slash_command_ids": [command],
            "subagent_ids": [],
        })
    }
}

fn none_choice() -> Value {
    json!({"skill_ids": [], "mcp_server_ids": [], "slash_command_ids": [], "subagent_ids": []})
}

impl Stack {
    async fn post(&self, path: &str, body: Value) -> Result<Value> {
        let res = self
            .client
            .post(format!("{}/api/v1/{path}", self.backend))
            .json(&body)
            .send()
            .await?;
        let status = res.status();
        let text = res.text().await?;
        if status != StatusCode::CREATED {
            bail!("POST {path} answered {status}: {text}");
        }
        Ok(serde_json::from_str(&text)?)
    }

    /// 10 skills (a SKILL.md and a data file each, 1 MiB in all), 3 MCP servers (the stdio
    /// fixture), 2 slash commands.
    async fn library(&self) -> Result<Library> {
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        let mut skills = Vec::new();
        for i in 0..SKILLS {
            let name = format!("skill-{i}");
            let md = format!(
                "---\nname: {name}\ndescription: Benchmark skill {i}.\n---\nRead data.bin.\n"
            );
            // Incompressible, so the archive is the size it says.
            let data: Vec<u8> = (0..SKILLS_BYTES / SKILLS - md.len())
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    seed as u8
                })
                .collect();
            let zip = test_support::zip::folder(
                &name,
                &[("SKILL.md", md.as_bytes()), ("data.bin", &data)],
            );
            let (content_type, body) = multipart_file(&format!("{name}.zip"), &zip);
            let res = self
                .client
                .post(format!("{}/api/v1/skills", self.backend))
                .header("content-type", content_type)
                .body(body)
                .send()
                .await?;
            let status = res.status();
            let text = res.text().await?;
            if status != StatusCode::CREATED {
                bail!("POST /skills answered {status}: {text}");
            }
            let v: Value = serde_json::from_str(&text)?;
            skills.push(v["id"].clone());
        }
        let (program, args) = test_support::mcp::echo_server_command();
        let mut mcp_servers = Vec::new();
        for i in 0..3 {
            let v = self
                .post(
                    "mcp-servers",
                    json!({"name": format!("echo-{i}"), "config": {"command": program, "args": args}}),
                )
                .await?;
            mcp_servers.push(v["id"].clone());
        }
        let mut commands = Vec::new();
        for name in ["alpha", "beta"] {
            let v = self
                .post(
                    "slash-commands",
                    json!({"name": name, "body": format!("Say {name}: $ARGUMENTS")}),
                )
                .await?;
            commands.push(v["id"].clone());
        }
        Ok(Library {
            skills,
            mcp_servers,
            alpha: commands[0].clone(),
            beta: commands[1].clone(),
        })
    }

    /// The snapshot a run was queued with.
    async fn snapshot(&self, run: Uuid) -> Result<(Uuid, CapabilitySnapshot)> {
        let (user, snapshot): (Uuid, sqlx::types::Json<CapabilitySnapshot>) = sqlx::query_as(
            "SELECT s.user_id, r.capabilities FROM runs r JOIN sessions s ON s.id = r.session_id
              WHERE r.id = $1",
        )
        .bind(run)
        .fetch_one(&self.pool)
        .await?;
        Ok((user, snapshot.0))
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Caps {
    None,
    Unchanged,
    Changed,
}

const CAPS: [Caps; 3] = [Caps::None, Caps::Unchanged, Caps::Changed];

/// The capabilities section (see the crate documentation).
async fn capabilities(
    stack: &Stack,
    s3: &S3Server,
    llm: &FakeLlmHandle,
    runs: usize,
    pause: Duration,
    smoke: bool,
) -> Result<()> {
    let library = stack.library().await?;
    let root = tempfile::tempdir()?;
    let listener = tokio::net::TcpListener::bind(Reach::Loopback.listen()).await?;
    let callback = Reach::Loopback.url(listener.local_addr()?.port());
    let mut mv: Vec<(String, String)> = vec![
        ("BACKEND_URL", stack.backend.clone()),
        ("INTERNAL_API_TOKEN", INTERNAL_TOKEN.into()),
        ("CALLBACK_BASE_URL", callback),
        ("WORKSPACE_ROOT", root.path().display().to_string()),
        ("ANTHROPIC_BASE_URL", Reach::Loopback.url(llm.addr().port())),
        ("ANTHROPIC_AUTH_TOKEN", LLM_KEY.into()),
        (
            "MANAGER_ID",
            format!("bench-capabilities-{}", Uuid::new_v4().simple()),
        ),
        ("TASK_CLAIM_WAIT_SECONDS", "20".into()),
        ("LOG_LEVEL", "warn".into()),
        ("EXECUTOR_WARM_IDLE_SECONDS", "600".into()),
        ("EXECUTOR_RUNTIME", "process".into()),
        ("EXECUTOR_BIN", common::executor_bin().display().to_string()),
        (
            "CLAUDE_BIN",
            test_support::tools::claude_bin().display().to_string(),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    mv.extend(s3_vars(s3).into_iter().map(|(k, v)| (k.to_owned(), v)));
    let mut manager = InProcessManager::start(mv, listener).await;
    let kept: Kept = manager.kept.clone();

    // One session per kind, each with its first run (not counted): it starts the session's
    // executor, which stays warm.
    let mut sessions = Vec::new();
    for caps in CAPS {
        let choice = match caps {
            Caps::None => none_choice(),
            _ => library.choice(&library.alpha),
        };
        let (session, run, _) = stack.task_with(None, choice).await?;
        stack.finish(run).await?;
        sessions.push(session);
    }
    println!(
        "capabilities: {SKILLS} skills ({} KiB in all), 3 MCP servers, warm executors, runtime process",
        SKILLS_BYTES / 1024
    );
    let mut to_event: Vec<Vec<f64>> = vec![Vec::new(); CAPS.len()];
    let mut changed_runs = Vec::new();
    let mut none_run = None;
    for i in 0..runs {
        for (k, caps) in CAPS.into_iter().enumerate() {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
            while kept.warm.len() < CAPS.len() {
                if tokio::time::Instant::now() > deadline {
                    bail!("the sessions' executors were not all parked");
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            tokio::time::sleep(pause).await;
            let extra = match caps {
                // A follow-up that names nothing keeps its session's snapshot.
                Caps::None | Caps::Unchanged => json!({}),
                Caps::Changed => {
                    let command = if i % 2 == 0 {
                        &library.beta
                    } else {
                        &library.alpha
                    };
                    library.choice(command)
                }
            };
            let (_, run, sent) = stack.task_with(Some(sessions[k]), extra).await?;
            let (_, first) = stack.finish(run).await?;
            to_event[k].push((first - sent).num_microseconds().unwrap_or(0) as f64 / 1000.0);
            match caps {
                Caps::Changed => changed_runs.push(run),
                Caps::None => none_run = Some(run),
                Caps::Unchanged => {}
            }
        }
    }
    println!("  warm dispatch, POST → first event stored (real CLI):");
    for (k, caps) in CAPS.into_iter().enumerate() {
        println!(
            "    {:<28} {}",
            match caps {
                Caps::None => "no capabilities",
                Caps::Unchanged => "unchanged digest",
                Caps::Changed => "changed digest (CLI restart)",
            },
            summary(std::mem::take(&mut to_event[k]))
        );
    }
    manager.stop(Duration::from_secs(60)).await;

    // Staging alone, on the real code, with the snapshots those runs were queued with.
    let a = stack.snapshot(changed_runs[0]).await?;
    let b = stack
        .snapshot(*changed_runs.get(1).context("fewer than two runs")?)
        .await?;
    if a.1.digest == b.1.digest {
        bail!("the changed session's snapshots have one digest");
    }
    let none = stack
        .snapshot(none_run.context("no run without capabilities")?)
        .await?;
    let exporter = executor_manager::export::Exporter::new(
        &objstore::S3Settings {
            endpoint: s3.endpoint.clone(),
            public_endpoint: None,
            region: "us-east-1".into(),
            bucket: BUCKET.into(),
            access_key: s3.access_key.clone().into(),
            secret_key: s3.secret_key.clone().into(),
            force_path_style: true,
        },
        true,
    );
    let http = Client::new();
    let local = LocalStore::serve(exporter.bucket(), &[&a.1, &b.1]).await?;
    let rounds = if smoke { 5 } else { 50 };
    for store in [None, Some(&local)] {
        let dirs = tempfile::tempdir()?;
        let mut records = [None, None, None];
        let mut took: Vec<Vec<f64>> = vec![Vec::new(); CAPS.len()];
        let mut presigning: Vec<Vec<f64>> = vec![Vec::new(); CAPS.len()];
        for i in 0..=rounds {
            for (k, caps) in CAPS.into_iter().enumerate() {
                let (user, snapshot) = match caps {
                    Caps::None => &none,
                    Caps::Unchanged => &a,
                    Caps::Changed if i % 2 == 0 => &a,
                    Caps::Changed => &b,
                };
                let data = dirs.path().join(format!("{caps:?}/.claude_data"));
                std::fs::create_dir_all(&data)?;
                let started = Instant::now();
                let (staged, presigned) = stage_once(
                    &exporter,
                    store,
                    &http,
                    &data,
                    *user,
                    snapshot,
                    records[k].take(),
                )
                .await?;
                // The first round fills the directories and records (not counted).
                if i > 0 {
                    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
                    took[k].push(ms(started.elapsed()));
                    presigning[k].push(ms(presigned));
                    let expect_restaged = caps == Caps::Changed;
                    if staged.restaged != expect_restaged {
                        bail!("{caps:?}: restaged = {}", staged.restaged);
                    }
                }
                records[k] = Some(staged.record);
            }
        }
        println!(
            "  staging per run, skill files from {} ({rounds} runs per kind; the manager presigns, the executor stages):",
            if store.is_some() {
                "a local HTTP server"
            } else {
                "s3s-fs"
            }
        );
        for (k, caps) in CAPS.into_iter().enumerate() {
            println!(
                "    {:<28} {}",
                match caps {
                    Caps::None => "no capabilities",
                    Caps::Unchanged => "unchanged digest (kept)",
                    Caps::Changed => "changed digest (staged)",
                },
                summary(std::mem::take(&mut took[k]))
            );
            println!(
                "      of which presigning    {}",
                summary(std::mem::take(&mut presigning[k]))
            );
        }
    }
    Ok(())
}

/// The skill files of some snapshots, read once from the bucket and served by key from this
/// process (`GET {url}/{key}`): the staging measured without s3s-fs's latency.
struct LocalStore {
    url: String,
}

impl LocalStore {
    async fn serve(bucket: &objstore::Bucket, snapshots: &[&CapabilitySnapshot]) -> Result<Self> {
        use axum::extract::Path as AxPath;
        let mut files = std::collections::HashMap::new();
        for snapshot in snapshots {
            for file in snapshot.skills.iter().flat_map(|s| &s.files) {
                let body = bucket
                    .get(&file.key, 1 << 30)
                    .await?
                    .context("a skill file is missing")?;
                files.insert(file.key.clone(), body);
            }
        }
        let files = std::sync::Arc::new(files);
        let app = axum::Router::new().route(
            "/{*key}",
            axum::routing::get(move |AxPath(key): AxPath<String>| {
                let files = files.clone();
                async move {
                    match files.get(&key) {
                        Some(body) => Ok(body.clone()),
                        None => Err(StatusCode::NOT_FOUND),
                    }
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { url })
    }
}

/// One run's staging as a warm executor does it: the manager presigns the claim's snapshot, the
/// executor stages it with what it staged last.
async fn stage_once(
    exporter: &executor_manager::export::Exporter,
    local: Option<&LocalStore>,
    http: &Client,
    data_dir: &std::path::Path,
    user: Uuid,
    snapshot: &CapabilitySnapshot,
    last: Option<executor::staging::StagedRecord>,
) -> Result<(executor::staging::StageOutcome, Duration)> {
    let run = ClaimedRun {
        run_id: Uuid::new_v4(),
        session_id: Uuid::new_v4(),
        user_id: user,
        epoch: 1,
        attempt: 1,
        max_attempts: 1,
        prompt: "p".into(),
        model: None,
        permission_mode: Default::default(),
        agent_session_id: None,
        lease_expires_at: Utc::now(),
        kind: Default::default(),
        attachments: Vec::new(),
        git: None,
        capabilities: Some(snapshot.clone()),
        append_system_prompt: None,
        allowed_tools: Vec::new(),
        input_timeout_seconds: None,
        secrets: Default::default(),
        model_route: None,
        project_id: None,
        workspace_source: None,
    };
    let started = Instant::now();
    let mut caps = executor_manager::capabilities::prepare(Some(exporter), &run).await?;
    let presigned = started.elapsed();
    if let Some(local) = local {
        // The same files, in the same order, from the local server.
        let keys = snapshot
            .skills
            .iter()
            .flat_map(|s| &s.files)
            .map(|f| &f.key);
        for (file, key) in caps.skills.iter_mut().zip(keys) {
            file.url = format!("{}/{key}", local.url);
        }
    }
    let req = ExecuteRequest {
        run_id: run.run_id,
        session_id: run.session_id,
        prompt: run.prompt,
        model: None,
        permission_mode: Default::default(),
        resume_agent_session_id: None,
        callback_url: "http://127.0.0.1:9/".into(),
        callback_token: "t".into(),
        env: Default::default(),
        mcp_config: caps.mcp_config,
        append_system_prompt: None,
        allowed_tools: Vec::new(),
        disallowed_tools: Vec::new(),
        skills: caps.skills,
        slash_commands: caps.slash_commands,
        subagents: caps.subagents,
        instructions: caps.instructions,
        capabilities_digest: caps.digest,
        input_timeout_seconds: None,
        git: None,
        input_files: Vec::new(),
    };
    let staged = executor::staging::stage(data_dir, http, &req, last).await?;
    Ok((staged, presigned))
}
