//! Executor benchmark: resident memory and the latency to the first event.
//!
//! ```text
//! CLAUDE_BIN=/root/.cache/workcell-tools/node_modules/.bin/claude \
//!   cargo bench -p executor --bench executor
//! ```
//!
//! Starts the release `executor` binary (the process measured; the CLI is a child and not
//! counted), the scripted model server and a callback receiver in this process, then measures:
//!
//! 1. VmRSS of the executor idle, and its peak while runs are going on;
//! 2. the time from `POST /v1/tasks/execute` to the first callback arriving, with the real CLI
//!    (the model's own time is not in it: the first event is the CLI's `init` line, printed
//!    before any model request), next to the CLI's own start-up time (spawn to first stdout
//!    line, measured on the CLI alone);
//! 3. the same with a fake CLI that prints its lines at once: the executor's own latency
//!    (workspace preparation, git snapshot, spawn, parse, callback);
//! 4. a flood of output lines from a fake CLI: throughput and peak memory under load;
//! 5. follow-ups in one session (`--resume`, 1 s apart, like a person's next message), with the
//!    CLI started ahead while the executor waits (`AGENT_PRESTART=true`, the default) and
//!    without: POST → first callback. Sections 1–4 run with `AGENT_PRESTART=false`, so no CLI
//!    started ahead competes with what they measure.
//!
//! Without the CLI (`CLAUDE_BIN`, else `$WORKCELL_TOOLS/node_modules/.bin/claude`), the real-CLI
//! figures are skipped (and said so). `BENCH_SMOKE=1` runs
//! small sizes only (a quick check that the benchmark works).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::post;
use fake_llm::{Config, FakeLlm, ScenarioFile, Turn};
use protocol::event::EventBody;
use protocol::executor::CallbackBatch;
use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};
use uuid::Uuid;

const REAL_RUNS: usize = 10;
const FAKE_RUNS: usize = 20;
const FLOOD_LINES: usize = 20_000;

/// Arrival times of callback batches, per run.
#[derive(Clone, Default)]
struct Arrivals {
    first: Arc<Mutex<Vec<(Uuid, Instant)>>>,
    ended: Arc<Mutex<Vec<(Uuid, Instant, usize)>>>,
    /// The agent session of each run (from its `system_init`).
    agent_sessions: Arc<Mutex<Vec<(Uuid, String)>>>,
}

impl Arrivals {
    async fn wait_end(&self, run_id: Uuid, timeout: Duration) -> (Instant, Instant, usize) {
        let deadline = Instant::now() + timeout;
        loop {
            let first = self
                .first
                .lock()
                .unwrap()
                .iter()
                .find(|(id, _)| *id == run_id)
                .map(|(_, t)| *t);
            let end = self
                .ended
                .lock()
                .unwrap()
                .iter()
                .find(|(id, _, _)| *id == run_id)
                .map(|(_, t, n)| (*t, *n));
            if let (Some(first), Some((end, n))) = (first, end) {
                return (first, end, n);
            }
            assert!(Instant::now() < deadline, "run {run_id} did not end");
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
}

async fn receiver(arrivals: Arrivals) -> String {
    let app = Router::new().route(
        "/cb",
        post(move |axum::Json(batch): axum::Json<CallbackBatch>| {
            let arrivals = arrivals.clone();
            async move {
                let now = Instant::now();
                {
                    let mut first = arrivals.first.lock().unwrap();
                    if !first.iter().any(|(id, _)| *id == batch.run_id) {
                        first.push((batch.run_id, now));
                    }
                }
                for event in &batch.events {
                    if let EventBody::SystemInit {
                        agent_session_id, ..
                    } = &event.body
                    {
                        arrivals
                            .agent_sessions
                            .lock()
                            .unwrap()
                            .push((batch.run_id, agent_session_id.clone()));
                    }
                }
                if let Some(last) = batch.events.last()
                    && last.body.is_terminal()
                {
                    arrivals
                        .ended
                        .lock()
                        .unwrap()
                        .push((batch.run_id, now, last.run_seq as usize));
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

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

/// Samples the peak RSS of `pid` until stopped.
struct RssSampler {
    peak: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
}

impl RssSampler {
    fn start(pid: u32) -> Self {
        let peak = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (p, s) = (peak.clone(), stop.clone());
        std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                p.fetch_max(rss_kib(pid), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(2));
            }
        });
        Self { peak, stop }
    }

    fn finish(self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        self.peak.load(Ordering::Relaxed)
    }
}

struct ExecutorProcess {
    child: std::process::Child,
    url: String,
    /// `EXECUTOR_API_SECRET`, sent on every task call.
    secret: String,
}

impl ExecutorProcess {
    async fn start(
        workspace: &Path,
        claude_bin: &str,
        llm: &fake_llm::FakeLlmHandle,
        prestart: bool,
    ) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let secret = format!("{}{}", Uuid::new_v4().simple(), Uuid::new_v4().simple());
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_executor"))
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOST", "127.0.0.1")
            .env("PORT", port.to_string())
            .env("DEFAULT_MODEL", "claude-sonnet-4-5")
            .env("WORKSPACE_PATH", workspace)
            .env("CLAUDE_BIN", claude_bin)
            .env("ANTHROPIC_BASE_URL", llm.base_url())
            .env("ANTHROPIC_API_KEY", llm.api_key())
            .env("LOG_LEVEL", "warn")
            .env("AGENT_PRESTART", prestart.to_string())
            .env("EXECUTOR_API_SECRET", &secret)
            .stdout(Stdio::null())
            .spawn()
            .expect("executor binary");
        let url = format!("http://127.0.0.1:{port}");
        for _ in 0..200 {
            if let Ok(r) = reqwest::get(format!("{url}/health")).await
                && r.status().is_success()
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Self { child, url, secret }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Posts a task; returns when the POST was sent and the run's first/last callback arrived.
    async fn run(
        &self,
        client: &reqwest::Client,
        arrivals: &Arrivals,
        callback: &str,
        prompt: &str,
    ) -> (Duration, Duration, usize) {
        let (first, end, events, _) = self
            .run_in(client, arrivals, callback, prompt, Uuid::new_v4(), None)
            .await;
        (first, end, events)
    }

    /// [`ExecutorProcess::run`] in a given session, resuming `resume`; also returns the run's
    /// agent session.
    async fn run_in(
        &self,
        client: &reqwest::Client,
        arrivals: &Arrivals,
        callback: &str,
        prompt: &str,
        session_id: Uuid,
        resume: Option<&str>,
    ) -> (Duration, Duration, usize, Option<String>) {
        let run_id = Uuid::new_v4();
        let body = json!({
            "run_id": run_id,
            "session_id": session_id,
            "prompt": prompt,
            "callback_url": callback,
            "callback_token": "bench",
            "resume_agent_session_id": resume,
        });
        let posted = Instant::now();
        let r = client
            .post(format!("{}/v1/tasks/execute", self.url))
            .bearer_auth(&self.secret)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 202);
        let (first, end, events) = arrivals.wait_end(run_id, Duration::from_secs(120)).await;
        // The status turns terminal right after the last delivery.
        loop {
            let s: serde_json::Value = client
                .get(format!("{}/v1/tasks/{run_id}", self.url))
                .bearer_auth(&self.secret)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            if matches!(
                s["state"].as_str(),
                Some("completed" | "failed" | "canceled")
            ) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let agent_session = arrivals
            .agent_sessions
            .lock()
            .unwrap()
            .iter()
            .find(|(id, _)| *id == run_id)
            .map(|(_, s)| s.clone());
        (first - posted, end - posted, events, agent_session)
    }
}

impl Drop for ExecutorProcess {
    fn drop(&mut self) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
        let _ = self.child.wait();
    }
}

/// The CLI alone: spawn to its first stdout line (the `init` line).
async fn cli_startup(claude_bin: &str, llm: &fake_llm::FakeLlmHandle, dir: &Path) -> Duration {
    let home = dir.join(".claude_data");
    std::fs::create_dir_all(&home).unwrap();
    let started = Instant::now();
    let mut child = tokio::process::Command::new(claude_bin)
        .args([
            "-p",
            "--output-format",
            "stream-json",
            "--verbose",
            "--model=claude-sonnet-4-5",
            "--permission-mode=bypassPermissions",
        ])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", &home)
        .env("CLAUDE_CONFIG_DIR", &home)
        .env("ANTHROPIC_BASE_URL", llm.base_url())
        .env("ANTHROPIC_API_KEY", llm.api_key())
        .env("DISABLE_TELEMETRY", "1")
        .env("DISABLE_AUTOUPDATER", "1")
        .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
        .env("IS_SANDBOX", "1")
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    {
        use tokio::io::AsyncWriteExt;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(b"[scenario:bench] hi").await.unwrap();
    }
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let _ = lines.next_line().await;
    let first = started.elapsed();
    while let Ok(Some(_)) = lines.next_line().await {}
    let _ = child.wait().await;
    first
}

fn fake_cli(dir: &Path, lines: usize) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(format!("fake-claude-{lines}"));
    let flood = if lines > 0 {
        format!(
            "i=0; while [ $i -lt {lines} ]; do echo '{{\"type\":\"assistant\",\"message\":{{\"content\":[{{\"type\":\"text\",\"text\":\"line of output from the agent, about a hundred bytes long ........\"}}]}}}}'; i=$((i+1)); done\n"
        )
    } else {
        String::new()
    };
    let script = format!(
        "#!/bin/sh\n\
         echo '{{\"type\":\"system\",\"subtype\":\"init\",\"session_id\":\"s\",\"model\":\"m\",\"tools\":[]}}'\n\
         {flood}\
         echo '{{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":false,\"num_turns\":1,\"duration_ms\":1,\"total_cost_usd\":0,\"usage\":{{\"input_tokens\":1,\"output_tokens\":1}}}}'\n"
    );
    std::fs::write(&path, script).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn summary(mut v: Vec<f64>) -> String {
    v.sort_by(|a, b| a.total_cmp(b));
    let median = v[v.len() / 2];
    let p95 = v[((v.len() as f64 * 0.95).ceil() as usize).clamp(1, v.len()) - 1];
    format!(
        "median {median:.1} ms, min {:.1}, p95 {p95:.1} (n={})",
        v[0],
        v.len()
    )
}

#[tokio::main]
async fn main() {
    // `cargo bench` passes `--bench`; `cargo test --all-targets` and test runners listing tests
    // (`--list`) do not get a benchmark.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let smoke = test_support::bench::smoke();
    let (fake_runs, real_runs, flood_lines) = if smoke {
        (3, 2, 2_000)
    } else {
        (FAKE_RUNS, REAL_RUNS, FLOOD_LINES)
    };
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!("executor benchmark — {cores} cores, release build");
    let llm = FakeLlm::start(Config::new(
        "sk-ant-bench",
        ScenarioFile::default().with_scenario("bench", vec![Turn::text("ok")]),
    ))
    .await
    .unwrap();
    let arrivals = Arrivals::default();
    let callback = receiver(arrivals.clone()).await;
    let client = reqwest::Client::new();
    let tmp = tempfile::tempdir().unwrap();

    // Fake CLI: the executor's own latency.
    let instant_cli = fake_cli(tmp.path(), 0);
    let exec = ExecutorProcess::start(
        &tmp.path().join("ws-fake"),
        instant_cli.to_str().unwrap(),
        &llm,
        false,
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let idle = rss_kib(exec.pid());
    let sampler = RssSampler::start(exec.pid());
    let mut first = Vec::new();
    let mut total = Vec::new();
    for _ in 0..fake_runs {
        let (f, t, _) = exec.run(&client, &arrivals, &callback, "hi").await;
        first.push(ms(f));
        total.push(ms(t));
    }
    let peak_fake = sampler.finish();
    println!("\n## Executor alone (fake CLI printing its lines at once)");
    println!(
        "idle RSS:                          {:.1} MiB",
        idle as f64 / 1024.0
    );
    println!("POST → first callback:             {}", summary(first));
    println!("POST → terminal callback:          {}", summary(total));
    println!(
        "peak RSS during runs:              {:.1} MiB",
        peak_fake as f64 / 1024.0
    );

    // Flood: throughput and memory under load.
    drop(exec);
    let flood_cli = fake_cli(tmp.path(), flood_lines);
    let exec = ExecutorProcess::start(
        &tmp.path().join("ws-flood"),
        flood_cli.to_str().unwrap(),
        &llm,
        false,
    )
    .await;
    let sampler = RssSampler::start(exec.pid());
    let (_, t, events) = exec.run(&client, &arrivals, &callback, "hi").await;
    let peak_flood = sampler.finish();
    println!("\n## Output flood ({flood_lines} assistant lines from a fake CLI)");
    println!(
        "{events} events delivered in {:.0} ms ({:.0} events/s), peak RSS {:.1} MiB",
        ms(t),
        events as f64 / t.as_secs_f64(),
        peak_flood as f64 / 1024.0
    );
    drop(exec);

    // Real CLI.
    let Some(claude) = test_support::tools::claude_bin_if_installed() else {
        println!("\nthe Claude Code CLI is not installed: real-CLI figures skipped");
        return;
    };
    let claude = claude.display().to_string();
    let exec = ExecutorProcess::start(&tmp.path().join("ws-real"), &claude, &llm, false).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let idle = rss_kib(exec.pid());
    let sampler = RssSampler::start(exec.pid());
    // Interleaved, so both see the same machine load.
    let mut startup = Vec::new();
    let mut first = Vec::new();
    let mut total = Vec::new();
    let mut overhead = Vec::new();
    for i in 0..real_runs {
        let dir = tmp.path().join(format!("cli-alone-{i}"));
        std::fs::create_dir_all(&dir).unwrap();
        let alone = ms(cli_startup(&claude, &llm, &dir).await);
        let (f, t, _) = exec
            .run(&client, &arrivals, &callback, "[scenario:bench] hi")
            .await;
        startup.push(alone);
        first.push(ms(f));
        total.push(ms(t));
        overhead.push(ms(f) - alone);
    }
    let peak_real = sampler.finish();
    println!("\n## Real Claude Code CLI against the scripted model server");
    println!(
        "idle RSS:                          {:.1} MiB",
        idle as f64 / 1024.0
    );
    println!(
        "peak RSS during runs (CLI not counted): {:.1} MiB",
        peak_real as f64 / 1024.0
    );
    println!("CLI alone, spawn → first line:     {}", summary(startup));
    println!("POST → first callback:             {}", summary(first));
    println!(
        "  minus the CLI's start-up, pairwise: {} (noisy: the CLI's start-up varies by ±100 ms)",
        summary(overhead)
    );
    println!("POST → terminal callback:          {}", summary(total));
    drop(exec);

    // Follow-ups in one session, with and without the CLI started ahead, interleaved.
    let ahead = ExecutorProcess::start(&tmp.path().join("ws-ahead"), &claude, &llm, true).await;
    let afresh = ExecutorProcess::start(&tmp.path().join("ws-afresh"), &claude, &llm, false).await;
    let mut sessions: Vec<(Uuid, Option<String>)> = vec![(Uuid::new_v4(), None); 2];
    let mut first_ahead = Vec::new();
    let mut first_afresh = Vec::new();
    for i in 0..=real_runs {
        for (k, exec) in [&ahead, &afresh].into_iter().enumerate() {
            tokio::time::sleep(Duration::from_secs(1)).await;
            let (session, resume) = sessions[k].clone();
            let prompt = if i == 0 {
                "[scenario:bench] hi"
            } else {
                "and again"
            };
            let (f, _, _, agent_session) = exec
                .run_in(
                    &client,
                    &arrivals,
                    &callback,
                    prompt,
                    session,
                    resume.as_deref(),
                )
                .await;
            sessions[k].1 = agent_session.or(resume);
            // The first run of each session opens the conversation: not a follow-up.
            if i > 0 {
                if k == 0 {
                    first_ahead.push(ms(f));
                } else {
                    first_afresh.push(ms(f));
                }
            }
        }
    }
    println!("\n## Follow-ups in one session (--resume, 1 s after the previous run)");
    println!(
        "POST → first callback, CLI started ahead: {}",
        summary(first_ahead)
    );
    println!(
        "POST → first callback, CLI started then:  {}",
        summary(first_afresh)
    );
}
