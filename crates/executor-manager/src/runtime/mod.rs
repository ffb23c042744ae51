//! How executors are launched: one [`Runtime`] trait, one implementation per `EXECUTOR_RUNTIME`.
//!
//! A runtime starts an executor for one run and hands back where its API is reached plus a
//! [`ExecutorHandle`] to watch it exit and to stop it. Everything else (readiness, the task,
//! cancellation) goes through the executor's HTTP API ([`ExecutorClient`]) and is the same for
//! every runtime.

pub mod docker;
pub mod process;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use futures::future::BoxFuture;
use protocol::executor::{ExecuteRequest, TaskStatus};
use uuid::Uuid;

/// Why an executor could not be launched or driven.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("could not launch the executor: {0}")]
    Launch(String),
    #[error("the Docker daemon is unavailable (DOCKER_HOST): {0}")]
    Daemon(String),
    #[error("the executor did not become ready within {0:?}")]
    NotReady(Duration),
    #[error("the executor exited before it became ready: {0}")]
    ExitedEarly(String),
    #[error("the executor refused the task ({status}): {body}")]
    Refused { status: u16, body: String },
    #[error("the executor is unreachable: {0}")]
    Unreachable(String),
    #[error("could not pause or resume the executor: {0}")]
    Freeze(String),
}

/// What a runtime needs to start the executor of one run.
#[derive(Clone)]
pub struct LaunchSpec {
    pub run_id: Uuid,
    pub session_id: Uuid,
    pub user_id: Uuid,
    /// The lease epoch (a label, so a restarted manager can release the run).
    pub epoch: i64,
    /// The host directory of the run's workspace (created by the caller).
    pub workspace: PathBuf,
    /// Environment for the executor. May hold secrets: never logged.
    pub env: BTreeMap<String, String>,
}

/// What a runtime needs to pre-start a pooled executor, before any run is known.
///
/// The executor's workspace is `slot_dir/workspace` (in a container: `/slot/workspace` with
/// `slot_dir` bind-mounted at `/slot`); it does not exist until a run's workspace is renamed
/// there (see [`crate::pool`]).
#[derive(Clone)]
pub struct PoolSpec {
    /// Unique per pooled executor (names the container and the slot directory).
    pub slot_id: Uuid,
    pub slot_dir: PathBuf,
    /// Environment for the executor; no run's secret is in it.
    pub env: BTreeMap<String, String>,
}

/// An executor left by an earlier life of this manager, removed at start-up; its run is released.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Orphan {
    pub run_id: Uuid,
    pub epoch: i64,
}

/// How an executor ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExitInfo {
    /// Meant for the run's error: "exited with status 3", "out of memory", ...
    pub reason: String,
}

/// A launched executor.
pub struct Launched {
    /// The executor API's base URL as this manager reaches it.
    pub base_url: String,
    pub handle: Box<dyn ExecutorHandle>,
}

/// Watches and stops one launched executor.
pub trait ExecutorHandle: Send {
    /// Completes when the executor has exited (or vanished). Cancel-safe: may be polled again.
    fn exited(&mut self) -> BoxFuture<'_, ExitInfo>;
    /// Stops the executor (gracefully first, then forcibly) and releases what it held.
    fn stop(&mut self) -> BoxFuture<'_, ()>;
    /// Something the runtime knows about a failure that the executor cannot (e.g. an OOM kill
    /// inside the container), to put in front of the run's error.
    fn diagnose(&mut self) -> BoxFuture<'_, Option<String>> {
        Box::pin(async { None })
    }
    /// Pauses every process of the executor until [`ExecutorHandle::thaw`], so that nothing it
    /// left running changes the workspace while it is exported (docker: the cgroup freezer;
    /// process: SIGSTOP to its process group). Only a convenience: the export never follows a
    /// link, frozen or not. The default does nothing.
    fn freeze(&mut self) -> BoxFuture<'_, Result<(), RuntimeError>> {
        Box::pin(async { Ok(()) })
    }
    /// Resumes what [`ExecutorHandle::freeze`] paused. The default does nothing.
    fn thaw(&mut self) -> BoxFuture<'_, Result<(), RuntimeError>> {
        Box::pin(async { Ok(()) })
    }
}

/// Launches executors.
pub trait Runtime: Send + Sync + 'static {
    fn name(&self) -> &'static str;
    fn launch<'a>(&'a self, spec: &'a LaunchSpec) -> BoxFuture<'a, Result<Launched, RuntimeError>>;
    /// Starts an executor that waits for its first run in a pool slot.
    fn launch_pooled<'a>(
        &'a self,
        spec: &'a PoolSpec,
    ) -> BoxFuture<'a, Result<Launched, RuntimeError>>;
    /// Makes a workspace usable by the executor's user before it is moved into a pooled
    /// executor's slot (docker: hands it to `EXECUTOR_USER`). The default has nothing to do.
    fn prepare_workspace<'a>(
        &'a self,
        _workspace: &'a std::path::Path,
    ) -> BoxFuture<'a, Result<(), RuntimeError>> {
        Box::pin(async { Ok(()) })
    }
    /// Removes executors of `session_id` that this manager does not hold (left by a dead manager
    /// or idling warm in another manager): the backend runs one run of a session at a time, so
    /// they are stale, and a new run must never run beside them. The default has none.
    fn evict_session(&self, _session_id: Uuid) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }
    /// At start-up: removes executors left by an earlier life of this manager whose runs are not
    /// in `keep`, and names their runs. The default has nothing to reconcile (child processes die
    /// with the manager).
    /// Whether the runtime can launch executors now (the Docker engine answers a ping). The
    /// default has no dependency to check.
    fn ping(&self) -> BoxFuture<'_, Result<(), RuntimeError>> {
        Box::pin(async { Ok(()) })
    }
    fn reconcile<'a>(
        &'a self,
        _keep: &'a [Uuid],
    ) -> BoxFuture<'a, Result<Vec<Orphan>, RuntimeError>> {
        Box::pin(async { Ok(Vec::new()) })
    }
}

/// The request id to send on: the current one (the run's), else a fresh one.
fn request_id() -> String {
    telemetry::request_id::current().unwrap_or_else(telemetry::request_id::generate)
}

/// The executor's HTTP API (`/health`, `/v1/tasks/*`).
#[derive(Clone)]
pub struct ExecutorClient {
    http: reqwest::Client,
}

impl Default for ExecutorClient {
    fn default() -> Self {
        Self::new()
    }
}

impl ExecutorClient {
    pub fn new() -> Self {
        Self {
            http: reqwest::Client::builder()
                .connect_timeout(Duration::from_secs(5))
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap_or_default(),
        }
    }

    /// One `/health` probe (2 s at most).
    pub async fn healthy(&self, base_url: &str) -> bool {
        match self
            .http
            .get(format!("{base_url}/health"))
            .timeout(Duration::from_secs(2))
            .send()
            .await
        {
            Ok(r) => r.status().is_success(),
            Err(_) => false,
        }
    }

    /// Polls `/health` with a growing pause (50 ms doubling to 1 s) until it answers 2xx, the
    /// executor exits, or `timeout` passes.
    pub async fn wait_ready(
        &self,
        base_url: &str,
        handle: &mut dyn ExecutorHandle,
        timeout: Duration,
    ) -> Result<(), RuntimeError> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut pause = Duration::from_millis(50);
        loop {
            if self.healthy(base_url).await {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(RuntimeError::NotReady(timeout));
            }
            tokio::select! {
                exit = handle.exited() => return Err(RuntimeError::ExitedEarly(exit.reason)),
                _ = tokio::time::sleep(pause) => {}
            }
            pause = (pause * 2).min(Duration::from_secs(1));
        }
    }

    /// Waits (up to `limit`) until the executor reports `run_id` finished, so its next task is
    /// accepted (it turns terminal just after its last callback was answered). False when it did
    /// not, or could not be asked.
    pub async fn settled(&self, base_url: &str, run_id: Uuid, limit: Duration) -> bool {
        use protocol::executor::TaskState;
        let deadline = tokio::time::Instant::now() + limit;
        let mut pause = Duration::from_millis(5);
        loop {
            match self.status(base_url, run_id).await {
                Ok(s)
                    if matches!(
                        s.state,
                        TaskState::Completed | TaskState::Failed | TaskState::Canceled
                    ) =>
                {
                    return true;
                }
                Ok(_) => {}
                Err(_) => return false,
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(200));
        }
    }

    /// `POST /v1/tasks/execute`.
    pub async fn execute(&self, base_url: &str, req: &ExecuteRequest) -> Result<(), RuntimeError> {
        let res = self
            .http
            .post(format!("{base_url}/v1/tasks/execute"))
            .header(telemetry::request_id::HEADER, request_id())
            .json(req)
            .send()
            .await
            .map_err(|e| RuntimeError::Unreachable(e.to_string()))?;
        if res.status().is_success() {
            return Ok(());
        }
        let status = res.status().as_u16();
        let body: String = res
            .text()
            .await
            .unwrap_or_default()
            .chars()
            .take(1000)
            .collect();
        Err(RuntimeError::Refused { status, body })
    }

    /// `POST /v1/tasks/{run_id}/cancel`.
    pub async fn cancel(&self, base_url: &str, run_id: Uuid) -> Result<(), RuntimeError> {
        let res = self
            .http
            .post(format!("{base_url}/v1/tasks/{run_id}/cancel"))
            .header(telemetry::request_id::HEADER, request_id())
            .send()
            .await
            .map_err(|e| RuntimeError::Unreachable(e.to_string()))?;
        if res.status().is_success() {
            Ok(())
        } else {
            Err(RuntimeError::Refused {
                status: res.status().as_u16(),
                body: res.text().await.unwrap_or_default(),
            })
        }
    }

    /// `GET /v1/tasks/{run_id}`.
    pub async fn status(&self, base_url: &str, run_id: Uuid) -> Result<TaskStatus, RuntimeError> {
        let res = self
            .http
            .get(format!("{base_url}/v1/tasks/{run_id}"))
            .header(telemetry::request_id::HEADER, request_id())
            .send()
            .await
            .map_err(|e| RuntimeError::Unreachable(e.to_string()))?;
        if !res.status().is_success() {
            return Err(RuntimeError::Refused {
                status: res.status().as_u16(),
                body: res.text().await.unwrap_or_default(),
            });
        }
        res.json()
            .await
            .map_err(|e| RuntimeError::Unreachable(e.to_string()))
    }
}
