//! The manager's test stacks, built from test-support's pieces: a real backend served in-process
//! over a fresh database (from `#[sqlx::test]`), the scripted model server, and an executor
//! manager in-process, by default with the `process` runtime driving the real executor binary and
//! the real Claude Code CLI ([`Harness`]); the same as separate processes in [`stack`].
//!
//! Needs: `DATABASE_URL` (a PostgreSQL the tests may create databases in), the executor binary
//! (`EXECUTOR_BIN`, default: `executor` next to this test's target directory, built by
//! `cargo build -p executor`), the Claude Code CLI (`CLAUDE_BIN`, default
//! `$WORKCELL_TOOLS/node_modules/.bin/claude`; see `test_support::tools`). The dispatch benchmark
//! includes this module too.
#![allow(dead_code)]

pub mod stack;

use std::path::PathBuf;
use std::time::Duration;

use backend::config::Settings as BackendSettings;
use executor_manager::callback::Registry;
use executor_manager::{App, Kept, Settings, server};
use fake_llm::{Config, FakeLlm, FakeLlmHandle, ScenarioFile};
use reqwest::Client;
use serde_json::{Value, json};
use sqlx::PgPool;
use test_support::net::Reach;
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

pub const INTERNAL_TOKEN: &str = "test-internal-token-0123456789";
pub const LLM_KEY: &str = "sk-test-manager";

/// A multipart body with one file field `file`: (content type, body).
pub fn multipart_file(filename: &str, data: &[u8]) -> (String, Vec<u8>) {
    let boundary = "workcell-test-boundary-7c1f";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(data);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// The executor binary: `EXECUTOR_BIN`, else `executor` in this test's target directory.
pub fn executor_bin() -> PathBuf {
    test_support::tools::target_bin("executor", "EXECUTOR_BIN")
}

fn vars(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A backend served in-process over `pool`, single-user mode (no sign-in), on a loopback port;
/// stops when dropped.
pub struct InProcessBackend {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    shutdown: CancellationToken,
}

impl InProcessBackend {
    /// `extra` adds or overrides backend variables (later ones win).
    pub async fn start(pool: PgPool, extra: &[(&str, &str)]) -> Self {
        let db = test_support::postgres::database_url(&pool);
        let mut bv = vars(&[
            ("DATABASE_URL", db.as_str()),
            ("SECRET_KEY", "test-secret-key-0123456789abcdef"),
            ("INTERNAL_API_TOKEN", INTERNAL_TOKEN),
            ("S3_ENDPOINT", "http://127.0.0.1:9"),
            ("S3_ACCESS_KEY", "ak"),
            ("S3_SECRET_KEY", "sk"),
            ("S3_BUCKET", "bucket"),
            ("AUTH_MODE", "single_user"),
            ("RUN_RETRY_BACKOFF_SECONDS", "0"),
            ("LEASE_REAPER_INTERVAL_SECONDS", "1"),
        ]);
        bv.extend(vars(extra));
        let settings = BackendSettings::from_vars(bv).expect("backend settings");
        let shutdown = CancellationToken::new();
        let state = backend::server::start_state(settings, pool, shutdown.clone())
            .await
            .expect("backend state");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(backend::server::serve(listener, state));
        InProcessBackend { url, shutdown }
    }
}

impl Drop for InProcessBackend {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// The scripted model server, listening where executors reach it.
pub async fn start_llm(scenarios: ScenarioFile, reach: Reach<'_>) -> FakeLlmHandle {
    let mut config = Config::new(LLM_KEY, scenarios);
    config.listen = reach.listen();
    FakeLlm::start(config).await.expect("fake llm")
}

/// An executor manager served in-process on `listener`; aborted when dropped.
pub struct InProcessManager {
    pub registry: Registry,
    /// The manager's warm set and pool.
    pub kept: Kept,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl InProcessManager {
    /// Starts a manager with exactly `vars` (its settings) on `listener`, and waits until it
    /// answers `/health/live`: past its start-up (firewall, reconciliation of an earlier life's
    /// executors), so a test's next step cannot race that start-up.
    pub async fn start(vars: Vec<(String, String)>, listener: tokio::net::TcpListener) -> Self {
        let port = listener.local_addr().expect("listener address").port();
        let settings = Settings::from_vars(vars).expect("manager settings");
        let runtime = server::runtime_from_settings(&settings)
            .await
            .expect("runtime");
        let app = App::new(settings, runtime).expect("app");
        let registry = app.registry();
        let kept = app.kept();
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let task = tokio::spawn(app.serve(listener, async move {
            let _ = stop_rx.await;
        }));
        let live = format!("http://127.0.0.1:{port}/health/live");
        let client = Client::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            let answered = client
                .get(&live)
                .timeout(Duration::from_secs(5))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if answered {
                break;
            }
            assert!(
                !task.is_finished(),
                "the manager stopped during its start-up"
            );
            assert!(
                tokio::time::Instant::now() < deadline,
                "the manager did not answer {live} within 60 s"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        InProcessManager {
            registry,
            kept,
            stop: Some(stop_tx),
            task: Some(task),
        }
    }

    /// Like SIGTERM: asks the manager to drain and waits for it (up to `limit`).
    pub async fn stop(&mut self, limit: Duration) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            tokio::time::timeout(limit, task)
                .await
                .expect("manager drained in time")
                .expect("manager task")
                .expect("manager result");
        }
    }
}

impl Drop for InProcessManager {
    fn drop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}

pub struct Harness {
    pub backend: String,
    pub manager: String,
    pub client: Client,
    pub pool: PgPool,
    pub llm: FakeLlmHandle,
    pub registry: Registry,
    /// The manager's warm set and pool.
    pub kept: Kept,
    /// Unique per harness unless `MANAGER_ID` is given (concurrent tests must not reconcile
    /// each other's containers away).
    pub manager_id: String,
    pub workspace_root: tempfile::TempDir,
    /// The manager's settings, for [`Harness::restart_manager`].
    manager_vars: Vec<(String, String)>,
    // Dropped in this order: the manager first, then the backend it talks to.
    manager_proc: InProcessManager,
    _backend: InProcessBackend,
}

impl Harness {
    /// Backend + fake model + manager (process runtime). `extra` overrides manager variables.
    pub async fn start(pool: PgPool, scenarios: ScenarioFile, extra: &[(&str, &str)]) -> Self {
        Self::start_with(pool, scenarios, extra, None).await
    }

    /// With `container_gateway` (the host as containers see it, e.g. 172.17.0.1), the manager and
    /// the model server listen on every interface and are announced at that address, for the
    /// docker runtime.
    pub async fn start_with(
        pool: PgPool,
        scenarios: ScenarioFile,
        extra: &[(&str, &str)],
        container_gateway: Option<&str>,
    ) -> Self {
        Self::start_full(pool, scenarios, extra, &[], container_gateway).await
    }

    /// Like [`Harness::start_with`], with `backend_extra` overriding backend variables (the S3
    /// settings, for tests that use a real S3 server).
    pub async fn start_full(
        pool: PgPool,
        scenarios: ScenarioFile,
        extra: &[(&str, &str)],
        backend_extra: &[(&str, &str)],
        container_gateway: Option<&str>,
    ) -> Self {
        // The manager's port first: the backend nudges it on cancel (`EXECUTOR_MANAGER_URL`),
        // as a deployment's does, unless the test sets that itself.
        let reach = container_gateway.map_or(Reach::Loopback, Reach::Gateway);
        let listener = tokio::net::TcpListener::bind(reach.listen()).await.unwrap();
        let manager_port = listener.local_addr().unwrap().port();
        let manager = format!("http://127.0.0.1:{manager_port}");
        let mut backend_vars: Vec<(&str, &str)> = backend_extra.to_vec();
        if !backend_vars
            .iter()
            .any(|(k, _)| *k == "EXECUTOR_MANAGER_URL")
        {
            backend_vars.push(("EXECUTOR_MANAGER_URL", manager.as_str()));
        }
        let backend_proc = InProcessBackend::start(pool.clone(), &backend_vars).await;
        let backend = backend_proc.url.clone();
        let llm = start_llm(scenarios, reach).await;

        let workspace_root = tempfile::tempdir().unwrap();
        let callback = reach.url(manager_port);
        let (exe, claude) = if container_gateway.is_some() {
            (String::new(), String::new())
        } else {
            (
                executor_bin().display().to_string(),
                test_support::tools::claude_bin().display().to_string(),
            )
        };
        let llm_url = reach.url(llm.addr().port());
        let root = workspace_root.path().display().to_string();
        let mut mv = vars(&[
            ("BACKEND_URL", backend.as_str()),
            ("INTERNAL_API_TOKEN", INTERNAL_TOKEN),
            ("CALLBACK_BASE_URL", callback.as_str()),
            ("WORKSPACE_ROOT", root.as_str()),
            ("EXECUTOR_RUNTIME", "process"),
            ("EXECUTOR_BIN", exe.as_str()),
            ("CLAUDE_BIN", claude.as_str()),
            ("ANTHROPIC_BASE_URL", llm_url.as_str()),
            ("ANTHROPIC_AUTH_TOKEN", LLM_KEY),
            ("TASK_CLAIM_LEASE_SECONDS", "15"),
            ("TASK_CLAIM_WAIT_SECONDS", "2"),
            ("TASK_PULL_INTERVAL_SECONDS", "1"),
            ("SHUTDOWN_TIMEOUT_SECONDS", "20"),
            // Off unless a test turns it on: most tests expect the executor gone after a run.
            ("EXECUTOR_WARM_IDLE_SECONDS", "0"),
        ]);
        if container_gateway.is_some() {
            // The model server listens on the host: the executors' firewall lets them through,
            // with the ports the test names itself.
            let mut ports = llm.addr().port().to_string();
            if let Some((_, more)) = extra
                .iter()
                .find(|(k, _)| *k == "EXECUTOR_EGRESS_HOST_PORTS")
            {
                ports = format!("{ports},{more}");
            }
            mv.push(("EXECUTOR_EGRESS_HOST_PORTS".into(), ports));
        }
        let manager_id = extra
            .iter()
            .find(|(k, _)| *k == "MANAGER_ID")
            .map(|(_, v)| v.to_string())
            .unwrap_or_else(|| format!("test-manager-{}", Uuid::new_v4().simple()));
        mv.push(("MANAGER_ID".into(), manager_id.clone()));
        mv.extend(
            vars(extra).into_iter().filter(|(k, _)| {
                !(container_gateway.is_some() && k == "EXECUTOR_EGRESS_HOST_PORTS")
            }),
        );
        let manager_proc = InProcessManager::start(mv.clone(), listener).await;

        Harness {
            backend,
            manager,
            client: Client::new(),
            pool,
            llm,
            registry: manager_proc.registry.clone(),
            kept: manager_proc.kept.clone(),
            manager_id,
            workspace_root,
            manager_vars: mv,
            manager_proc,
            _backend: backend_proc,
        }
    }

    /// Starts a new manager with the same settings and id on a new loopback port (after
    /// [`Harness::stop_manager`]: a restart). Process runtime only.
    pub async fn restart_manager(&mut self) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let url = format!("http://127.0.0.1:{port}");
        for (k, v) in self.manager_vars.iter_mut() {
            if k == "CALLBACK_BASE_URL" {
                *v = url.clone();
            }
        }
        self.manager_proc = InProcessManager::start(self.manager_vars.clone(), listener).await;
        self.registry = self.manager_proc.registry.clone();
        self.kept = self.manager_proc.kept.clone();
        self.manager = url;
    }

    /// Another manager beside this harness's, as on another host: the same backend, model
    /// server and settings, with its own `MANAGER_ID`, `WORKSPACE_ROOT` and callback port
    /// (listening and announced as `reach` says), `extra` overriding the rest.
    pub async fn another_manager(
        &self,
        id: &str,
        root: &std::path::Path,
        reach: Reach<'_>,
        extra: &[(&str, &str)],
    ) -> InProcessManager {
        let listener = tokio::net::TcpListener::bind(reach.listen()).await.unwrap();
        let callback = reach.url(listener.local_addr().unwrap().port());
        let mut mv: Vec<(String, String)> = self
            .manager_vars
            .iter()
            .filter(|(k, _)| {
                !["MANAGER_ID", "WORKSPACE_ROOT", "CALLBACK_BASE_URL"].contains(&k.as_str())
            })
            .cloned()
            .collect();
        mv.extend(vars(&[
            ("MANAGER_ID", id),
            ("WORKSPACE_ROOT", &root.display().to_string()),
            ("CALLBACK_BASE_URL", &callback),
        ]));
        mv.extend(vars(extra));
        InProcessManager::start(mv, listener).await
    }

    /// Like SIGTERM: asks the manager to drain and waits for it (up to `limit`).
    pub async fn stop_manager(&mut self, limit: Duration) {
        self.manager_proc.stop(limit).await;
    }

    /// `POST /api/v1/tasks` (single-user mode: no sign-in); returns (session_id, run_id).
    pub async fn task(&self, prompt: &str) -> (Uuid, Uuid) {
        let res = self
            .client
            .post(format!("{}/api/v1/tasks", self.backend))
            .json(&json!({"prompt": prompt}))
            .send()
            .await
            .unwrap();
        assert_eq!(
            res.status(),
            201,
            "{}",
            res.text().await.unwrap_or_default()
        );
        let v: Value = res.json().await.unwrap();
        (
            v["session_id"].as_str().unwrap().parse().unwrap(),
            v["run_id"].as_str().unwrap().parse().unwrap(),
        )
    }

    /// A follow-up task in `session`; returns its run id.
    pub async fn task_in(&self, session: Uuid, prompt: &str) -> Uuid {
        let res = self
            .client
            .post(format!("{}/api/v1/tasks", self.backend))
            .json(&json!({"prompt": prompt, "session_id": session}))
            .send()
            .await
            .unwrap();
        assert_eq!(
            res.status(),
            201,
            "{}",
            res.text().await.unwrap_or_default()
        );
        let v: Value = res.json().await.unwrap();
        v["run_id"].as_str().unwrap().parse().unwrap()
    }

    pub async fn run_status(&self, run: Uuid) -> String {
        sqlx::query_scalar("SELECT status FROM runs WHERE id = $1")
            .bind(run)
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }

    pub async fn run_error(&self, run: Uuid) -> Option<String> {
        sqlx::query_scalar("SELECT error FROM runs WHERE id = $1")
            .bind(run)
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }

    /// Waits until the run's status is one of `wanted`; panics with the last status on timeout.
    pub async fn wait_status(&self, run: Uuid, wanted: &[&str], limit: Duration) -> String {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let s = self.run_status(run).await;
            if wanted.contains(&s.as_str()) {
                return s;
            }
            let terminal = ["completed", "failed", "canceled"].contains(&s.as_str());
            if terminal || tokio::time::Instant::now() > deadline {
                let error = self.run_error(run).await;
                let events = self.events(run).await;
                panic!(
                    "run {run} is {s} (waited for {wanted:?}, up to {limit:?}); error: {error:?}; events: {events:?}"
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The run's stored events: (seq, run_seq, type, payload), in session order.
    pub async fn events(&self, run: Uuid) -> Vec<(i64, i64, String, Value)> {
        sqlx::query_as(
            "SELECT seq, run_seq, type, payload FROM events WHERE run_id = $1 ORDER BY seq",
        )
        .bind(run)
        .fetch_all(&self.pool)
        .await
        .unwrap()
    }

    pub async fn user_of(&self, session: Uuid) -> Uuid {
        sqlx::query_scalar("SELECT user_id FROM sessions WHERE id = $1")
            .bind(session)
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }

    pub fn workspace(&self, user: Uuid, session: Uuid) -> PathBuf {
        self.workspace_root
            .path()
            .join("active")
            .join(user.to_string())
            .join(session.to_string())
            .join("workspace")
    }
}
