//! The manager as a real process (its binary) with the docker runtime, a real backend over
//! PostgreSQL and the real CLI against the scripted model: `kill -9` in the middle of a run, and
//! two managers sharing one queue. Needs `DOCKER_HOST` like `docker_runtime.rs` (skipped without
//! it unless `WORKCELL_REQUIRE_DOCKER=1`).

mod common;

use std::collections::HashMap;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bollard::Docker;
use bollard::query_parameters::ListContainersOptionsBuilder;
use common::{Harness, INTERNAL_TOKEN, LLM_KEY};
use executor_manager::runtime::docker::{LABEL_MANAGER, LABEL_RUN, LABEL_SESSION};
use fake_llm::{ScenarioFile, Turn};
use sqlx::PgPool;
use test_support::docker::docker_env;
use tokio::process::{Child, Command};
use uuid::Uuid;

const RUN_LIMIT: Duration = Duration::from_secs(240);
const END: &[&str] = &["completed", "failed", "canceled"];

fn scenarios() -> ScenarioFile {
    // Long enough to kill the manager in the middle, short enough for the second attempt.
    let mut slowish = Turn::text("Finished after a while.");
    slowish.delay_ms = 6_000;
    ScenarioFile::default()
        .with_scenario("slowish", vec![slowish])
        .with_scenario("quick", vec![Turn::text("Quick.")])
        .with_scenario(
            "quick_then_slowish",
            vec![Turn::text("Quick."), {
                let mut t = Turn::text("Finished after a while.");
                t.delay_ms = 6_000;
                t
            }],
        )
}

/// A manager process.
struct Manager {
    child: Child,
    id: String,
}

impl Drop for Manager {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

/// Starts the manager binary against the harness's backend and model server.
fn spawn_manager(
    h: &Harness,
    image: &str,
    gateway: &str,
    id: &str,
    extra: &[(&str, &str)],
) -> Manager {
    let port = std::net::TcpListener::bind("0.0.0.0:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let llm = format!("http://{gateway}:{}", h.llm.addr().port());
    // `EXECUTOR_MANAGER_BIN` overrides the binary cargo built (e.g. a copy taken right after the
    // build when several checkouts share one target directory).
    let bin = std::env::var("EXECUTOR_MANAGER_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_executor-manager").to_owned());
    let mut cmd = Command::new(bin);
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env(
            "DOCKER_HOST",
            std::env::var("DOCKER_HOST").unwrap_or_default(),
        )
        .env("BACKEND_URL", &h.backend)
        .env("INTERNAL_API_TOKEN", INTERNAL_TOKEN)
        .env("CALLBACK_BASE_URL", format!("http://{gateway}:{port}"))
        .env("HOST", "0.0.0.0")
        .env("PORT", port.to_string())
        .env("WORKSPACE_ROOT", h.workspace_root.path())
        .env("EXECUTOR_RUNTIME", "docker")
        .env("EXECUTOR_IMAGE", image)
        .env("ANTHROPIC_BASE_URL", llm)
        .env(
            "EXECUTOR_EGRESS_HOST_PORTS",
            h.llm.addr().port().to_string(),
        )
        .env("ANTHROPIC_AUTH_TOKEN", LLM_KEY)
        .env("MANAGER_ID", id)
        .env("TASK_CLAIM_LEASE_SECONDS", "15")
        .env("TASK_CLAIM_WAIT_SECONDS", "2")
        .env("TASK_PULL_INTERVAL_SECONDS", "1")
        .env("EXECUTOR_WARM_IDLE_SECONDS", "0")
        .env("LOG_LEVEL", "warn")
        .envs(extra.iter().copied())
        .stdin(Stdio::null())
        .kill_on_drop(true);
    Manager {
        child: cmd.spawn().expect("executor-manager binary"),
        id: id.to_owned(),
    }
}

async fn containers(docker: &Docker, label: String) -> usize {
    let filters = HashMap::from([("label", vec![label])]);
    docker
        .list_containers(Some(
            ListContainersOptionsBuilder::new()
                .all(true)
                .filters(&filters)
                .build(),
        ))
        .await
        .map(|l| l.len())
        .unwrap_or(0)
}

/// Counts, every 100 ms, the most containers one session had at once.
fn watch_session(docker: Docker, session: Uuid) -> (Arc<AtomicUsize>, tokio::task::JoinHandle<()>) {
    let most = Arc::new(AtomicUsize::new(0));
    let m = most.clone();
    let task = tokio::spawn(async move {
        loop {
            let n = containers(&docker, format!("{LABEL_SESSION}={session}")).await;
            m.fetch_max(n, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    (most, task)
}

async fn inert_harness(pool: PgPool, gateway: &str) -> Harness {
    // The in-process manager claims nothing; the backend and the model server are what we use.
    Harness::start_with(
        pool,
        scenarios(),
        &[("TASK_PULL_ENABLED", "false")],
        Some(gateway),
    )
    .await
}

/// `warm`: the killed run is the session's second, in the container kept warm after the first
/// (labelled with the first run: only the manager's run ledger knows the second).
async fn kill_mid_run_then_new_manager(pool: PgPool, same_id: bool, warm: bool) {
    let Some((docker, image, gateway)) = docker_env() else {
        return;
    };
    let h = inert_harness(pool, &gateway).await;
    let id_a = format!("robust-a-{}", Uuid::new_v4().simple());
    let idle = if warm { "300" } else { "0" };
    let mut a = spawn_manager(
        &h,
        &image,
        &gateway,
        &id_a,
        &[("EXECUTOR_WARM_IDLE_SECONDS", idle)],
    );
    let (session, run) = if warm {
        let (session, first) = h.task("[scenario:quick_then_slowish] first").await;
        assert_eq!(h.wait_status(first, END, RUN_LIMIT).await, "completed");
        (session, h.task_in(session, "second").await)
    } else {
        h.task("[scenario:slowish] take a while").await
    };
    let (most, watcher) = watch_session(docker.clone(), session);
    h.wait_status(run, &["running"], RUN_LIMIT).await;
    assert_eq!(
        containers(&docker, format!("{LABEL_MANAGER}={id_a}")).await,
        1
    );
    if warm {
        // It runs in the first run's container: none is labelled with it.
        assert_eq!(containers(&docker, format!("{LABEL_RUN}={run}")).await, 0);
    }

    // kill -9: no drain, the container is left running.
    a.child.start_kill().unwrap();
    a.child.wait().await.unwrap();
    assert_eq!(
        containers(&docker, format!("{LABEL_MANAGER}={id_a}")).await,
        1
    );

    // A new manager: the same id reconciles at once; another id finds the run after the lease
    // expired and removes the session's stale container before its own starts.
    let id_b = if same_id {
        id_a.clone()
    } else {
        format!("robust-b-{}", Uuid::new_v4().simple())
    };
    let mut b = spawn_manager(&h, &image, &gateway, &id_b, &[]);
    let status = h.wait_status(run, END, RUN_LIMIT).await;
    assert_eq!(
        status,
        "completed",
        "error: {:?}; events: {:?}",
        h.run_error(run).await,
        h.events(run).await
    );
    let (attempts, holder): (i32, String) =
        sqlx::query_as("SELECT attempts, lease_holder FROM runs WHERE id = $1")
            .bind(run)
            .fetch_one(&h.pool)
            .await
            .unwrap();
    assert_eq!(attempts, 2);
    assert_eq!(holder, id_b);
    // Released at once by the restarted manager, or by lease expiry for another manager.
    let first_error: String =
        sqlx::query_scalar("SELECT attempt_errors->0->>'error' FROM runs WHERE id = $1")
            .bind(run)
            .fetch_one(&h.pool)
            .await
            .unwrap();
    let expected = if same_id {
        "restarted"
    } else {
        "lease expired"
    };
    assert!(first_error.contains(expected), "{first_error}");
    // Exactly one terminal event; never two executors of the session at once.
    let kinds: Vec<String> = h.events(run).await.into_iter().map(|e| e.2).collect();
    assert_eq!(
        kinds.iter().filter(|k| END.contains(&k.as_str())).count(),
        1,
        "{kinds:?}"
    );
    watcher.abort();
    assert_eq!(
        most.load(Ordering::SeqCst),
        1,
        "two containers of the session at once"
    );

    // SIGTERM: B drains; no container of either manager is left.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(b.child.id().unwrap() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let exit = tokio::time::timeout(Duration::from_secs(60), b.child.wait())
        .await
        .expect("manager stopped on SIGTERM")
        .unwrap();
    assert!(exit.success(), "{exit:?}");
    for id in [&id_a, &b.id] {
        assert_eq!(
            containers(&docker, format!("{LABEL_MANAGER}={id}")).await,
            0
        );
    }
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn kill_9_mid_run_then_restart_under_the_same_id(pool: PgPool) {
    kill_mid_run_then_new_manager(pool, true, false).await;
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn kill_9_mid_run_in_a_warm_container_then_restart(pool: PgPool) {
    kill_mid_run_then_new_manager(pool, true, true).await;
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn kill_9_mid_run_then_another_manager_takes_over(pool: PgPool) {
    kill_mid_run_then_new_manager(pool, false, false).await;
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn two_managers_execute_twenty_runs_exactly_once(pool: PgPool) {
    let Some((docker, image, gateway)) = docker_env() else {
        return;
    };
    let h = inert_harness(pool, &gateway).await;
    let mut runs = Vec::new();
    for i in 0..20 {
        runs.push(h.task(&format!("[scenario:quick] run {i}")).await.1);
    }
    let ids = [
        format!("robust-1-{}", Uuid::new_v4().simple()),
        format!("robust-2-{}", Uuid::new_v4().simple()),
    ];
    let managers: Vec<Manager> = ids
        .iter()
        .map(|id| spawn_manager(&h, &image, &gateway, id, &[("MAX_CONCURRENT_TASKS", "2")]))
        .collect();
    for run in &runs {
        let status = h.wait_status(*run, END, RUN_LIMIT).await;
        assert_eq!(status, "completed", "{run}: {:?}", h.run_error(*run).await);
    }
    let rows: Vec<(Uuid, i32, String)> =
        sqlx::query_as("SELECT id, attempts, lease_holder FROM runs WHERE id = ANY($1)")
            .bind(&runs)
            .fetch_all(&h.pool)
            .await
            .unwrap();
    assert_eq!(rows.len(), 20);
    let mut per_manager = HashMap::new();
    for (run, attempts, holder) in &rows {
        assert_eq!(*attempts, 1, "run {run} was claimed {attempts} times");
        *per_manager.entry(holder.clone()).or_insert(0) += 1;
        let events = h.events(*run).await;
        let seqs: Vec<i64> = events.iter().map(|e| e.1).collect();
        assert_eq!(seqs, (1..=events.len() as i64).collect::<Vec<_>>(), "{run}");
        let inits = events.iter().filter(|e| e.2 == "system_init").count();
        let ends = events
            .iter()
            .filter(|e| END.contains(&e.2.as_str()))
            .count();
        assert_eq!(
            (inits, ends),
            (1, 1),
            "run {run} executed more than once: {events:?}"
        );
    }
    assert_eq!(
        per_manager.len(),
        2,
        "one manager did everything: {per_manager:?}"
    );
    drop(managers);
    // kill_on_drop is SIGKILL: clean up what they may have left (nothing is running now).
    for id in &ids {
        let filters = HashMap::from([("label", vec![format!("{LABEL_MANAGER}={id}")])]);
        let list = docker
            .list_containers(Some(
                ListContainersOptionsBuilder::new()
                    .all(true)
                    .filters(&filters)
                    .build(),
            ))
            .await
            .unwrap();
        assert!(
            list.is_empty(),
            "containers left after completed runs: {}",
            list.len()
        );
    }
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn sigterm_requeues_a_run_past_the_timeout_and_removes_every_container(pool: PgPool) {
    let Some((docker, image, gateway)) = docker_env() else {
        return;
    };
    let h = inert_harness(pool, &gateway).await;
    let id = format!("robust-term-{}", Uuid::new_v4().simple());
    let mut m = spawn_manager(
        &h,
        &image,
        &gateway,
        &id,
        &[
            ("SHUTDOWN_TIMEOUT_SECONDS", "1"),
            ("EXECUTOR_WARM_IDLE_SECONDS", "300"),
            ("EXECUTOR_POOL_TARGETS", "default:1"),
        ],
    );
    // One finished run leaves a warm container; the pool holds another; a third run is active.
    let (_, quick) = h.task("[scenario:quick] quick").await;
    assert_eq!(h.wait_status(quick, END, RUN_LIMIT).await, "completed");
    let (_, run) = h.task("[scenario:slowish] take a while").await;
    h.wait_status(run, &["running"], RUN_LIMIT).await;
    let deadline = tokio::time::Instant::now() + RUN_LIMIT;
    while containers(&docker, format!("{LABEL_MANAGER}={id}")).await < 3 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "expected warm + pooled + running"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(m.child.id().unwrap() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let exit = tokio::time::timeout(Duration::from_secs(60), m.child.wait())
        .await
        .expect("manager stopped on SIGTERM")
        .unwrap();
    assert!(exit.success(), "{exit:?}");
    // Reported retryable: back in the queue for another manager (attempts remain).
    assert_eq!(
        h.run_status(run).await,
        "queued",
        "{:?}",
        h.run_error(run).await
    );
    assert_eq!(
        containers(&docker, format!("{LABEL_MANAGER}={id}")).await,
        0
    );
}

/// A TCP relay between the manager and the backend that can be cut like a network partition:
/// while cut, bytes are read but not passed on, so requests hang until their timeouts.
struct Relay {
    url: String,
    cut: Arc<std::sync::atomic::AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Relay {
    async fn start(upstream: &str) -> Self {
        use std::sync::atomic::AtomicBool;
        let upstream = upstream
            .strip_prefix("http://")
            .expect("http upstream")
            .to_owned();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let cut = Arc::new(AtomicBool::new(false));
        let c = cut.clone();
        let task = tokio::spawn(async move {
            while let Ok((down, _)) = listener.accept().await {
                let (upstream, cut) = (upstream.clone(), c.clone());
                tokio::spawn(async move {
                    let Ok(up) = tokio::net::TcpStream::connect(&upstream).await else {
                        return;
                    };
                    let (dr, dw) = down.into_split();
                    let (ur, uw) = up.into_split();
                    tokio::join!(pipe(dr, uw, cut.clone()), pipe(ur, dw, cut));
                });
            }
        });
        Relay { url, cut, task }
    }

    fn set_cut(&self, cut: bool) {
        self.cut.store(cut, Ordering::SeqCst);
    }
}

/// Copies `from` → `to`, holding every chunk while the relay is cut.
async fn pipe(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    cut: Arc<std::sync::atomic::AtomicBool>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        while cut.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
    let _ = to.shutdown().await;
}

/// The backend cut off from the manager for longer than the lease: the manager fences the run
/// off (kills its executor, reports nothing) before the lease expires, so when the reaper
/// re-queues the run with a new epoch no executor of the first attempt is left; the run then
/// executes once more, and never in two executors at once.
#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn a_manager_cut_off_from_the_backend_fences_its_run_before_the_lease_expires(pool: PgPool) {
    let Some((docker, image, gateway)) = docker_env() else {
        return;
    };
    const LEASE: Duration = Duration::from_secs(9);
    let mut slow = Turn::text("Finished after a while.");
    slow.delay_ms = 20_000;
    let h = Harness::start_with(
        pool,
        ScenarioFile::default().with_scenario("slow", vec![slow]),
        &[("TASK_PULL_ENABLED", "false")],
        Some(&gateway),
    )
    .await;
    let relay = Relay::start(&h.backend).await;
    let id = format!("robust-fence-{}", Uuid::new_v4().simple());
    let lease_secs = LEASE.as_secs().to_string();
    // The manager reaches the backend only through the relay (later variables win).
    let _m = spawn_manager(
        &h,
        &image,
        &gateway,
        &id,
        &[
            ("BACKEND_URL", relay.url.as_str()),
            ("TASK_CLAIM_LEASE_SECONDS", lease_secs.as_str()),
        ],
    );
    let (session, run) = h.task("[scenario:slow] take a while").await;
    let (most, watcher) = watch_session(docker.clone(), session);
    h.wait_status(run, &["running"], RUN_LIMIT).await;
    let ledger = h
        .workspace_root
        .path()
        .join("managers")
        .join(&id)
        .join("runs")
        .join(run.to_string());
    assert!(ledger.exists(), "the run is in the manager's ledger");
    let epoch: i64 = sqlx::query_scalar("SELECT lease_epoch FROM runs WHERE id = $1")
        .bind(run)
        .fetch_one(&h.pool)
        .await
        .unwrap();

    // The partition: the lease can no longer be renewed.
    relay.set_cut(true);
    let cut_at = tokio::time::Instant::now();
    while containers(&docker, format!("{LABEL_SESSION}={session}")).await > 0 {
        assert!(
            cut_at.elapsed() < LEASE,
            "the executor still runs a whole lease after the partition began"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let fenced_after = cut_at.elapsed();
    // Killed before the lease could expire: the backend has not moved the run on yet.
    let (status, epoch_now): (String, i64) =
        sqlx::query_as("SELECT status, lease_epoch FROM runs WHERE id = $1")
            .bind(run)
            .fetch_one(&h.pool)
            .await
            .unwrap();
    assert_eq!(
        epoch_now, epoch,
        "the lease moved on before the executor was stopped"
    );
    assert_eq!(status, "running");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while ledger.exists() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "a fenced run stays in the ledger"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!("fenced {fenced_after:?} after the partition began (lease {LEASE:?})");

    // The lease expires; the reaper re-queues the run; the partition heals and it runs again.
    h.wait_status(run, &["queued"], Duration::from_secs(30))
        .await;
    relay.set_cut(false);
    let status = h.wait_status(run, END, RUN_LIMIT).await;
    assert_eq!(status, "completed", "{:?}", h.run_error(run).await);
    let (attempts, first_error): (i32, String) =
        sqlx::query_as("SELECT attempts, attempt_errors->0->>'error' FROM runs WHERE id = $1")
            .bind(run)
            .fetch_one(&h.pool)
            .await
            .unwrap();
    assert_eq!(attempts, 2);
    assert!(first_error.contains("lease expired"), "{first_error}");
    let kinds: Vec<String> = h.events(run).await.into_iter().map(|e| e.2).collect();
    assert_eq!(
        kinds.iter().filter(|k| END.contains(&k.as_str())).count(),
        1,
        "{kinds:?}"
    );
    watcher.abort();
    assert_eq!(
        most.load(Ordering::SeqCst),
        1,
        "two containers of the session at once"
    );
}
