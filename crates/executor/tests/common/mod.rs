//! Shared pieces of the executor's integration tests: an in-process executor, a callback receiver
//! that records batches and fails on demand, fake CLI scripts, and helpers.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU16, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use executor::{Settings, TaskManager};
use protocol::event::{EventBody, RunEvent};
use protocol::executor::CallbackBatch;
use serde_json::{Value, json};
use tokio::sync::oneshot;
use uuid::Uuid;

pub const CALLBACK_TOKEN: &str = "cb-token-do-not-leak";

/// A callback receiver: records every batch, checks the bearer token, and answers `fail_with`
/// (when non-zero) instead of 200.
#[derive(Clone, Default)]
pub struct Receiver {
    pub batches: Arc<Mutex<Vec<CallbackBatch>>>,
    pub fail_with: Arc<AtomicU16>,
    /// Fail only this many more requests (when `fail_with` is set); 0 = every request.
    pub fail_times: Arc<AtomicUsize>,
    pub requests: Arc<AtomicUsize>,
    pub unauthorized: Arc<AtomicUsize>,
}

pub struct ReceiverServer {
    pub receiver: Receiver,
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl ReceiverServer {
    pub fn url(&self) -> String {
        format!("http://{}/callback", self.addr)
    }

    /// Stops listening (connections are refused from now on).
    pub async fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for ReceiverServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

async fn receive(
    State(r): State<Receiver>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> StatusCode {
    r.requests.fetch_add(1, Ordering::SeqCst);
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if auth != format!("Bearer {CALLBACK_TOKEN}") {
        r.unauthorized.fetch_add(1, Ordering::SeqCst);
        return StatusCode::UNAUTHORIZED;
    }
    let fail = r.fail_with.load(Ordering::SeqCst);
    if fail != 0 {
        let left = r.fail_times.load(Ordering::SeqCst);
        if left == 1 {
            r.fail_with.store(0, Ordering::SeqCst);
        }
        if left > 0 {
            r.fail_times.fetch_sub(1, Ordering::SeqCst);
        }
        return StatusCode::from_u16(fail).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    }
    match serde_json::from_slice::<CallbackBatch>(&body) {
        Ok(batch) => {
            r.batches.lock().unwrap().push(batch);
            StatusCode::OK
        }
        Err(_) => StatusCode::UNPROCESSABLE_ENTITY,
    }
}

impl Receiver {
    /// Serves this receiver on `addr` (port 0 for any).
    pub async fn serve(&self, addr: SocketAddr) -> ReceiverServer {
        let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = Router::new()
            .route("/callback", post(receive))
            .with_state(self.clone());
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = rx.await;
                })
                .await;
        });
        ReceiverServer {
            receiver: self.clone(),
            addr,
            stop: Some(tx),
            task: Some(task),
        }
    }

    /// All events received for a run, in arrival order (duplicates kept).
    pub fn events(&self, run_id: Uuid) -> Vec<RunEvent> {
        self.batches
            .lock()
            .unwrap()
            .iter()
            .filter(|b| b.run_id == run_id)
            .flat_map(|b| b.events.clone())
            .collect()
    }

    /// Waits until the run's terminal event arrived; returns the run's events.
    pub async fn wait_terminal(&self, run_id: Uuid, timeout: Duration) -> Vec<RunEvent> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let events = self.events(run_id);
            if events.iter().any(|e| e.body.is_terminal()) {
                return events;
            }
            if tokio::time::Instant::now() > deadline {
                panic!(
                    "run {run_id} did not end within {timeout:?}; events so far: {:#?}",
                    events.iter().map(|e| e.body.kind()).collect::<Vec<_>>()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until an event matching `pred` arrived.
    pub async fn wait_for(
        &self,
        run_id: Uuid,
        timeout: Duration,
        pred: impl Fn(&EventBody) -> bool,
    ) -> RunEvent {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(e) = self.events(run_id).into_iter().find(|e| pred(&e.body)) {
                return e;
            }
            if tokio::time::Instant::now() > deadline {
                panic!("expected event did not arrive within {timeout:?}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Checks the invariants every run's stream must satisfy; returns the kinds in order.
pub fn assert_well_formed(events: &[RunEvent]) -> Vec<&'static str> {
    let seqs: Vec<i64> = events.iter().map(|e| e.run_seq).collect();
    let expected: Vec<i64> = (1..=events.len() as i64).collect();
    assert_eq!(
        seqs, expected,
        "run_seq must be 1..n, in order, without duplicates"
    );
    let terminal: Vec<usize> = events
        .iter()
        .enumerate()
        .filter(|(_, e)| e.body.is_terminal())
        .map(|(i, _)| i)
        .collect();
    assert_eq!(
        terminal,
        vec![events.len() - 1],
        "exactly one terminal event, last"
    );
    events.iter().map(|e| e.body.kind()).collect()
}

/// An executor served in-process on 127.0.0.1:0.
pub struct Executor {
    pub url: String,
    /// `EXECUTOR_API_SECRET`: sent by [`Executor::get`] and [`Executor::post`].
    pub secret: String,
    /// `EXECUTOR_INSTANCE_ID`, answered by `/health`.
    pub instance: String,
    pub tasks: TaskManager,
    pub workspace: PathBuf,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Executor {
    pub async fn start(settings: Settings) -> Self {
        let workspace = settings.workspace_path.clone();
        let secret = settings.executor_api_secret.expose().clone();
        let instance = settings.instance_id().to_owned();
        let tasks = TaskManager::new(Arc::new(settings)).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = oneshot::channel::<()>();
        let served = tasks.clone();
        let task = tokio::spawn(async move {
            let _ = executor::serve_with(listener, served, async move {
                let _ = rx.await;
            })
            .await;
        });
        Self {
            url,
            secret,
            instance,
            tasks,
            workspace,
            stop: Some(tx),
            task: Some(task),
        }
    }

    /// Stops like SIGTERM would: cancels the running task and waits for the server to end.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }

    /// `POST` with the API secret.
    pub async fn post(&self, path: &str, body: &Value) -> (StatusCode, Value) {
        self.post_as(Some(&self.secret), path, body).await
    }

    /// `GET` with the API secret.
    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.get_as(Some(&self.secret), path).await
    }

    /// `POST` with `bearer` as the secret (none: no `Authorization` header).
    pub async fn post_as(
        &self,
        bearer: Option<&str>,
        path: &str,
        body: &Value,
    ) -> (StatusCode, Value) {
        let mut req = reqwest::Client::new()
            .post(format!("{}{path}", self.url))
            .json(body);
        if let Some(b) = bearer {
            req = req.bearer_auth(b);
        }
        let response = req.send().await.unwrap();
        let status = StatusCode::from_u16(response.status().as_u16()).unwrap();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// `GET` with `bearer` as the secret (none: no `Authorization` header).
    pub async fn get_as(&self, bearer: Option<&str>, path: &str) -> (StatusCode, Value) {
        let mut req = reqwest::Client::new().get(format!("{}{path}", self.url));
        if let Some(b) = bearer {
            req = req.bearer_auth(b);
        }
        let response = req.send().await.unwrap();
        let status = StatusCode::from_u16(response.status().as_u16()).unwrap();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Posts a task; panics unless it is accepted.
    pub async fn execute(&self, body: &Value) {
        let (status, answer) = self.post("/v1/tasks/execute", body).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    }
}

impl Drop for Executor {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Settings for a test: the given CLI and workspace, quick retries.
pub fn settings(claude_bin: &str, workspace: &Path) -> Settings {
    let mut s = Settings::with_defaults("claude-sonnet-4-5", workspace);
    s.claude_bin = claude_bin.to_owned();
    s.callback_backoff_max_ms = 300;
    s.cancel_grace_ms = 2000;
    // A fake CLI's script has side effects when it starts (it writes files the tests read).
    s.agent_prestart = false;
    s
}

/// Settings pointing the real CLI at a fake model server (with `AGENT_PRESTART`'s default).
pub fn cli_settings(workspace: &Path, llm: &fake_llm::FakeLlmHandle) -> Settings {
    // Required: a run without the CLI must fail, not pass silently.
    let claude = test_support::tools::claude_bin();
    let mut s = settings(&claude.display().to_string(), workspace);
    s.anthropic_base_url = llm.base_url();
    s.anthropic_api_key = Some(llm.api_key().into());
    s.agent_prestart = true;
    s
}

/// An execute request body.
pub fn task(run_id: Uuid, prompt: &str, callback_url: &str) -> Value {
    json!({
        "run_id": run_id,
        "session_id": Uuid::new_v4(),
        "prompt": prompt,
        "callback_url": callback_url,
        "callback_token": CALLBACK_TOKEN,
    })
}

/// Writes an executable script (a fake CLI) and returns its path.
pub fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    let mut f = std::fs::File::create(&path).unwrap();
    f.write_all(body.as_bytes()).unwrap();
    f.sync_all().unwrap();
    drop(f);
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// Pids of processes whose command line is exactly `argv`.
pub fn processes_with_argv(argv: &[&str]) -> Vec<i32> {
    let wanted: Vec<u8> = argv
        .iter()
        .flat_map(|a| [a.as_bytes(), b"\0"].concat())
        .collect();
    processes_where(|cmdline| cmdline == wanted)
}

/// Pids of the processes whose argument list is exactly `argv` and whose working directory lies
/// under `dir`: this test's own, not another test's running at the same time.
pub fn processes_with_argv_in(argv: &[&str], dir: &Path) -> Vec<i32> {
    processes_with_argv(argv)
        .into_iter()
        .filter(|pid| {
            std::fs::read_link(format!("/proc/{pid}/cwd")).is_ok_and(|cwd| cwd.starts_with(dir))
        })
        .collect()
}

/// Pids of the agent CLIs (started with the executor's `--permission-prompt-tool stdio`) whose
/// working directory lies under `dir`: this test's own.
pub fn agents_in(dir: &Path) -> Vec<i32> {
    processes_where(|cmdline| {
        cmdline
            .split(|b| *b == 0)
            .any(|a| a == b"--permission-prompt-tool")
    })
    .into_iter()
    .filter(|pid| {
        std::fs::read_link(format!("/proc/{pid}/cwd")).is_ok_and(|cwd| cwd.starts_with(dir))
    })
    .collect()
}

/// Pids of the processes with `arg` among their arguments.
pub fn processes_with_arg(arg: &str) -> Vec<i32> {
    processes_where(|cmdline| cmdline.split(|b| *b == 0).any(|a| a == arg.as_bytes()))
}

/// Pids of the processes whose raw `/proc/{pid}/cmdline` satisfies `matches`.
fn processes_where(matches: impl Fn(&[u8]) -> bool) -> Vec<i32> {
    let mut out = Vec::new();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for entry in dir.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<i32>().ok())
            else {
                continue;
            };
            if let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline"))
                && matches(&cmdline)
            {
                out.push(pid);
            }
        }
    }
    out
}

/// Serializes the tests that start the real CLI: each start takes a core for about a second,
/// and timing assertions (cancel within 5 s) should not depend on how many run at once.
pub async fn cli_slot() -> tokio::sync::SemaphorePermit<'static> {
    static SLOTS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);
    SLOTS.acquire().await.unwrap()
}

/// Serves `/files/{name}` from a fixed map (attachments' presigned URLs stand-in); unknown → 404.
pub async fn file_server(
    files: Vec<(&'static str, &'static str)>,
) -> (String, ReceiverServerGuard) {
    use axum::extract::Path as AxPath;
    use axum::routing::get;
    let files: Arc<Vec<(&'static str, &'static str)>> = Arc::new(files);
    let app = Router::new().route(
        "/files/{name}",
        get(move |AxPath(name): AxPath<String>| {
            let files = files.clone();
            async move {
                match files.iter().find(|(n, _)| *n == name) {
                    Some((_, body)) => (StatusCode::OK, body.to_string()),
                    None => (StatusCode::NOT_FOUND, String::new()),
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/files", listener.local_addr().unwrap());
    let (tx, rx) = oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = rx.await;
            })
            .await;
    });
    (url, ReceiverServerGuard(Some(tx)))
}

/// Stops a helper server when dropped.
pub struct ReceiverServerGuard(Option<oneshot::Sender<()>>);

impl Drop for ReceiverServerGuard {
    fn drop(&mut self) {
        if let Some(tx) = self.0.take() {
            let _ = tx.send(());
        }
    }
}
