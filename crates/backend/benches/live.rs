//! WebSocket fan-out benchmark: prints figures (not a timed test).
//!
//!   DATABASE_URL=postgresql://… cargo bench -p backend --bench live
//!
//! Runs the real `backend` binary as its own process on a fresh database, opens WebSocket
//! clients spread over 100 sessions (10 per session at the 1,000-client step), and measures the
//! time from posting an event batch (one event, carrying its send time) to its arrival at every
//! subscribed client, the sessions' batches spread evenly over 100 ms rounds (1,000 events/s
//! in, 10,000 deliveries/s out at 1,000 clients): p50 and p99 (target p99 ≤ 50 ms at 1,000 clients). Then the backend's memory
//! per idle connection (RSS growth / connections), and the number of connections it holds before
//! p99 passes 100 ms (stepping up until then or until the step limit).
//!
//! `BENCH_SMOKE=1` uses 100 clients and one step.

use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use futures::{SinkExt, StreamExt};
use protocol::internal::{ClaimedRun, INTERNAL_TOKEN_HEADER};
use protocol::live::ServerMessage;
use reqwest::Client;
use serde_json::json;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

const INTERNAL: &str = "bench-internal-token-0123456789";
const SESSIONS: usize = 100;

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

struct Bench {
    base: String,
    ws: String,
    client: Client,
    runs: Vec<ClaimedRun>,
    t0: Instant,
}

impl Bench {
    /// Opens `n` clients, each subscribed to session `i % SESSIONS` after event `after` (every
    /// session holds one event per round so far); their latencies (ms) go to `lat`.
    async fn clients(
        &self,
        n: usize,
        after: i64,
        lat: mpsc::UnboundedSender<f64>,
    ) -> Result<Vec<tokio::task::JoinHandle<()>>> {
        let (ready_tx, mut ready_rx) = mpsc::unbounded_channel();
        let mut handles = Vec::with_capacity(n);
        for i in 0..n {
            let session = self.runs[i % SESSIONS].session_id;
            let url = self.ws.clone();
            let lat = lat.clone();
            let ready = ready_tx.clone();
            let t0 = self.t0;
            handles.push(tokio::spawn(async move {
                let Ok((mut ws, _)) = tokio_tungstenite::connect_async(url).await else {
                    let _ = ready.send(false);
                    return;
                };
                let sub =
                    json!({"type": "subscribe", "session_id": session, "after": after}).to_string();
                if ws.send(Message::Text(sub.into())).await.is_err() {
                    let _ = ready.send(false);
                    return;
                }
                while let Some(Ok(msg)) = ws.next().await {
                    let Message::Text(t) = msg else { continue };
                    match serde_json::from_str::<ServerMessage>(&t) {
                        Ok(ServerMessage::Subscribed { .. }) => {
                            let _ = ready.send(true);
                        }
                        Ok(ServerMessage::Event { event, .. }) => {
                            let sent: f64 = event.body.payload()["text"]
                                .as_str()
                                .and_then(|s| s.parse().ok())
                                .unwrap_or(f64::NAN);
                            let now = t0.elapsed().as_secs_f64() * 1000.0;
                            let _ = lat.send(now - sent);
                        }
                        _ => {}
                    }
                }
            }));
        }
        drop(ready_tx);
        let mut ok = 0;
        for _ in 0..n {
            match tokio::time::timeout(Duration::from_secs(60), ready_rx.recv()).await {
                Ok(Some(true)) => ok += 1,
                Ok(Some(false)) | Ok(None) => {}
                Err(_) => break,
            }
        }
        if ok < n {
            bail!("only {ok} of {n} clients subscribed");
        }
        Ok(handles)
    }

    /// Posts `rounds` rounds of one event per session; collects the latencies.
    async fn measure(
        &self,
        clients: usize,
        rounds: usize,
        seq: &mut i64,
        lat: &mut mpsc::UnboundedReceiver<f64>,
    ) -> Result<Vec<f64>> {
        // A steady stream: the sessions' batches are spread evenly over each 100 ms round, as
        // independent runs would send them.
        let gap = Duration::from_millis(100) / SESSIONS as u32;
        let mut posts = Vec::new();
        for _ in 0..rounds {
            *seq += 1;
            for run in &self.runs {
                let sent = self.t0.elapsed().as_secs_f64() * 1000.0;
                let body = json!({"worker_id": "bench", "epoch": run.epoch, "events": [
                    {"run_seq": *seq, "time": "2026-01-01T00:00:00Z", "type": "assistant_text", "payload": {"text": format!("{sent}")}}
                ]});
                let req = self
                    .client
                    .post(format!(
                        "{}/api/v1/internal/runs/{}/events",
                        self.base, run.run_id
                    ))
                    .header(INTERNAL_TOKEN_HEADER, INTERNAL)
                    .json(&body)
                    .send();
                posts.push(tokio::spawn(req));
                tokio::time::sleep(gap).await;
            }
        }
        for p in posts {
            if !p.await??.status().is_success() {
                bail!("ingestion failed");
            }
        }
        let expected = clients * rounds;
        let mut out = Vec::with_capacity(expected);
        let deadline = Instant::now() + Duration::from_secs(60);
        while out.len() < expected && Instant::now() < deadline {
            match tokio::time::timeout(Duration::from_secs(5), lat.recv()).await {
                Ok(Some(v)) => out.push(v),
                _ => break,
            }
        }
        if out.len() < expected {
            bail!("{} of {expected} deliveries arrived", out.len());
        }
        out.sort_by(|a, b| a.total_cmp(b));
        Ok(out)
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    let smoke = test_support::bench::smoke();
    test_support::postgres::with_fresh_database(|url| async move { run(&url, smoke).await }).await
}

async fn run(url: &str, smoke: bool) -> Result<()> {
    let port = test_support::net::free_port();
    let mut backend = tokio::process::Command::new(env!("CARGO_BIN_EXE_backend"))
        .env_clear()
        .env("DATABASE_URL", url)
        .env("SECRET_KEY", "bench-secret-key-0123456789abcdef")
        .env("INTERNAL_API_TOKEN", INTERNAL)
        .env("S3_ENDPOINT", "http://127.0.0.1:9")
        .env("S3_ACCESS_KEY", "ak")
        .env("S3_SECRET_KEY", "sk")
        .env("S3_BUCKET", "bucket")
        .env("AUTH_MODE", "single_user")
        // A thousand clients from one address: the per-IP limit would refuse them by design.
        .env("RATE_LIMIT_PER_MINUTE", "0")
        .env("RATE_LIMIT_IP_PER_MINUTE", "0")
        .env("HOST", "127.0.0.1")
        .env("PORT", port.to_string())
        .env("LOG_LEVEL", "warn")
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .context("starting the backend binary")?;
    let pid = backend.id().context("backend pid")?;
    let base = format!("http://127.0.0.1:{port}");
    let client = Client::builder().pool_max_idle_per_host(256).build()?;
    let started = Instant::now();
    while client
        .get(format!("{base}/health/ready"))
        .send()
        .await
        .map(|r| r.status().is_success())
        .ok()
        != Some(true)
    {
        if started.elapsed() > Duration::from_secs(30) {
            bail!("the backend did not become ready");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let mut runs = Vec::with_capacity(SESSIONS);
    for i in 0..SESSIONS {
        let res = client
            .post(format!("{base}/api/v1/tasks"))
            .json(&json!({"prompt": format!("live {i}")}))
            .send()
            .await?;
        if !res.status().is_success() {
            bail!("task answered {}", res.status());
        }
        let run: ClaimedRun = client
            .post(format!("{base}/api/v1/internal/runs/claim"))
            .header(INTERNAL_TOKEN_HEADER, INTERNAL)
            .json(&json!({"worker_id": "bench", "lease_seconds": 3600, "wait_seconds": 5}))
            .send()
            .await?
            .json()
            .await?;
        runs.push(run);
    }
    let bench = Arc::new(Bench {
        ws: format!("ws://127.0.0.1:{port}/api/v1/ws"),
        base,
        client,
        runs,
        t0: Instant::now(),
    });
    println!(
        "machine: {} cores; backend as its own process; PostgreSQL on loopback",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0)
    );

    let (lat_tx, mut lat_rx) = mpsc::unbounded_channel();
    let mut seq = 0i64;
    let first = if smoke { 100 } else { 1000 };
    let rss_before = rss_kib(pid);
    let mut handles = bench.clients(first, seq, lat_tx.clone()).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_after = rss_kib(pid);
    println!(
        "memory per idle connection: {:.1} KiB (backend RSS {} → {} KiB with {first} subscribed clients)",
        (rss_after.saturating_sub(rss_before)) as f64 / first as f64,
        rss_before,
        rss_after
    );
    let lat = bench
        .measure(first, if smoke { 3 } else { 10 }, &mut seq, &mut lat_rx)
        .await?;
    println!(
        "ingest → WebSocket arrival, {first} clients over {SESSIONS} sessions, {} deliveries: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms (target p99 ≤ 50 ms)",
        lat.len(),
        pct(&lat, 0.5),
        pct(&lat, 0.99),
        lat.last().copied().unwrap_or(f64::NAN)
    );
    if !smoke {
        let mut total = first;
        for step in [
            1250usize, 1500, 1750, 2000, 3000, 4000, 6000, 8000, 12000, 16000,
        ] {
            let more = step - total;
            match bench.clients(more, seq, lat_tx.clone()).await {
                Ok(h) => handles.extend(h),
                Err(e) => {
                    println!("stopped at {total} connections: {e}");
                    break;
                }
            }
            total = step;
            let lat = bench.measure(total, 5, &mut seq, &mut lat_rx).await?;
            let p99 = pct(&lat, 0.99);
            println!(
                "{total} clients: p50 {:.2} ms, p99 {p99:.2} ms; backend RSS {} KiB",
                pct(&lat, 0.5),
                rss_kib(pid)
            );
            if p99 > 100.0 {
                println!("p99 passed 100 ms at {total} connections");
                break;
            }
        }
    }
    for h in handles {
        h.abort();
    }
    backend.kill().await.ok();
    Ok(())
}
