//! The manager's HTTP server (health probes, executor callbacks) and its life: pull, serve, and on
//! shutdown stop claiming, let active runs finish up to `SHUTDOWN_TIMEOUT_SECONDS`, then stop
//! their executors and report them `fail` (retryable) so the backend re-queues them.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use serde_json::json;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::backend::{BackendClient, BackendError, Lease};
use crate::callback::{self, Registry};
use crate::cleanup::{self, ActiveWorkspaces, CleanupPolicy};
use crate::config::{RuntimeKind, Settings};
use crate::export::Exporter;
use crate::pull;
use crate::run::RunContext;
use crate::runtime::docker::{DockerConfig, DockerRuntime};
use crate::runtime::process::ProcessRuntime;
use crate::runtime::{ExecutorClient, Runtime};

/// A configured manager, ready to serve.
pub struct App {
    ctx: Arc<RunContext>,
}

#[derive(Clone)]
struct HealthState {
    registry: Registry,
    draining: Arc<AtomicBool>,
}

/// Builds the runtime `EXECUTOR_RUNTIME` names (docker: connects and pings the daemon).
pub async fn runtime_from_settings(settings: &Settings) -> anyhow::Result<Arc<dyn Runtime>> {
    Ok(match settings.executor_runtime {
        RuntimeKind::Process => Arc::new(ProcessRuntime::new(settings.executor_bin.clone())),
        RuntimeKind::Docker => {
            Arc::new(DockerRuntime::connect(DockerConfig::from_settings(settings)).await?)
        }
    })
}

impl App {
    pub fn new(settings: Settings, runtime: Arc<dyn Runtime>) -> anyhow::Result<Self> {
        let backend = BackendClient::new(&settings.backend_url, &settings.internal_api_token)?;
        let exporter = settings
            .s3()?
            .map(|s3| Exporter::new(&s3, settings.workspace_ignore_dot_files));
        if exporter.is_none() {
            tracing::warn!("S3_* not set: workspaces are not exported");
        }
        Ok(Self {
            ctx: Arc::new(RunContext {
                settings: Arc::new(settings),
                backend,
                registry: Registry::default(),
                runtime,
                executor: ExecutorClient::new(),
                exporter,
                workspaces: ActiveWorkspaces::default(),
            }),
        })
    }

    /// The runs this manager holds (tests register runs here directly).
    pub fn registry(&self) -> Registry {
        self.ctx.registry.clone()
    }

    pub fn settings(&self) -> &Settings {
        &self.ctx.settings
    }

    /// The sessions whose workspaces runs use now (clean-up skips them).
    pub fn workspaces(&self) -> ActiveWorkspaces {
        self.ctx.workspaces.clone()
    }

    /// The routes: `/health`, `/health/live`, `/health/ready`, `/api/v1/callbacks/{run_id}`.
    fn router(&self, draining: Arc<AtomicBool>) -> Router {
        let health = Router::new()
            .route("/health", get(health))
            .route("/health/live", get(health))
            .route("/health/ready", get(ready))
            .with_state(HealthState {
                registry: self.ctx.registry.clone(),
                draining,
            });
        health.merge(callback::routes(
            self.ctx.registry.clone(),
            self.ctx.backend.clone(),
        ))
    }

    /// Removes executors an earlier life of this manager left behind and releases their runs
    /// (`fail`, retryable: the backend re-queues them now instead of when their lease expires).
    async fn reconcile(&self) {
        let orphans = match self
            .ctx
            .runtime
            .reconcile(&self.ctx.registry.active())
            .await
        {
            Ok(o) => o,
            Err(e) => {
                tracing::warn!(error = %e, "reconciliation failed");
                return;
            }
        };
        for o in orphans {
            let lease = Lease {
                run_id: o.run_id,
                worker_id: self.ctx.settings.worker_id().to_owned(),
                epoch: o.epoch,
            };
            match self
                .ctx
                .backend
                .fail(
                    &lease,
                    "the executor manager restarted during the run",
                    true,
                )
                .await
            {
                Ok(ack) => {
                    tracing::info!(run_id = %o.run_id, status = %ack.status, "released an orphaned run")
                }
                Err(BackendError::LeaseLost(_)) => {
                    tracing::debug!(run_id = %o.run_id, "orphaned run no longer leased to this manager")
                }
                Err(e) => {
                    tracing::warn!(run_id = %o.run_id, error = %e, "could not release an orphaned run")
                }
            }
        }
    }

    /// Serves on `listener` and pulls runs until `shutdown` completes; then drains (see module doc).
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let settings = self.ctx.settings.clone();
        self.reconcile().await;
        let draining = Arc::new(AtomicBool::new(false));
        let server_stop = CancellationToken::new();
        let app = self.router(draining.clone());
        let stop = server_stop.clone();
        let server = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move { stop.cancelled().await })
                .await
        });

        let stop_claiming = CancellationToken::new();
        let hard_stop = CancellationToken::new();
        let tracker = TaskTracker::new();
        let puller = tokio::spawn(pull::pull_loop(
            self.ctx.clone(),
            stop_claiming.clone(),
            hard_stop.clone(),
            tracker.clone(),
        ));

        let cleanup_stop = CancellationToken::new();
        let cleanup_task = settings.workspace_cleanup_enabled.then(|| {
            tokio::spawn(cleanup::run_loop(
                CleanupPolicy::from_settings(&settings),
                self.ctx.workspaces.clone(),
                cleanup::interval(&settings),
                cleanup_stop.clone(),
            ))
        });

        shutdown.await;
        cleanup_stop.cancel();
        tracing::info!(
            active = self.ctx.registry.active().len(),
            timeout_seconds = settings.shutdown_timeout_seconds,
            "shutting down: no more claims; waiting for active runs"
        );
        draining.store(true, Ordering::SeqCst);
        stop_claiming.cancel();
        let _ = puller.await;
        tracker.close();
        if tokio::time::timeout(settings.shutdown_timeout(), tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!("shutdown timeout passed: stopping executors, re-queuing their runs");
            hard_stop.cancel();
            tracker.wait().await;
        }
        if let Some(task) = cleanup_task {
            let _ = task.await;
        }
        server_stop.cancel();
        server.await??;
        tracing::info!("executor manager stopped");
        Ok(())
    }
}

async fn health(State(s): State<HealthState>) -> impl IntoResponse {
    axum::Json(json!({
        "status": "healthy",
        "service": "executor-manager",
        "active_runs": s.registry.active().len(),
    }))
}

async fn ready(State(s): State<HealthState>) -> impl IntoResponse {
    if s.draining.load(Ordering::SeqCst) {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(json!({"status": "shutting_down", "service": "executor-manager"})),
        )
    } else {
        (
            StatusCode::OK,
            axum::Json(json!({"status": "ready", "service": "executor-manager"})),
        )
    }
}
