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
use crate::pool::{Pool, PoolConfig, manager_dir_name};
use crate::pull;
use crate::run::{RunContext, executor_env};
use crate::runtime::docker::{DockerConfig, DockerRuntime};
use crate::runtime::process::ProcessRuntime;
use crate::runtime::{ExecutorClient, Runtime};
use crate::warm::WarmSet;

/// How often start-up reconciliation tries to list leftover executors and to release each run.
const RECONCILE_ATTEMPTS: u32 = 5;

/// The wait after a failed reconciliation step: 0.2 s, 0.4 s, … 3.2 s.
fn reconcile_backoff(attempt: u32) -> std::time::Duration {
    std::time::Duration::from_millis(200 << attempt.min(4))
}

/// What a test or benchmark can see of the kept executors.
#[derive(Clone)]
pub struct Kept {
    pub warm: WarmSet,
    pub pool: Arc<Pool>,
}

/// Stops the pool's refill if `serve` is dropped without draining (an aborted task).
struct AbandonPool(Arc<Pool>);
impl Drop for AbandonPool {
    fn drop(&mut self) {
        self.0.abandon();
    }
}

/// A configured manager, ready to serve.
pub struct App {
    ctx: Arc<RunContext>,
}

#[derive(Clone)]
struct HealthState {
    ctx: Arc<RunContext>,
    draining: Arc<AtomicBool>,
}

/// Builds the runtime `EXECUTOR_RUNTIME` names (docker: connects and pings the daemon).
pub async fn runtime_from_settings(settings: &Settings) -> anyhow::Result<Arc<dyn Runtime>> {
    Ok(match settings.executor_runtime {
        RuntimeKind::Process => {
            if settings.environment == service_config::Environment::Production {
                tracing::error!(
                    "EXECUTOR_RUNTIME=process with ENVIRONMENT=production: the process runtime is \
                     a development runtime; executors get no network isolation (they reach each \
                     other and every port of this host)"
                );
            }
            Arc::new(ProcessRuntime::new(settings.executor_bin.clone()))
        }
        RuntimeKind::Docker => {
            Arc::new(DockerRuntime::connect(DockerConfig::from_settings(settings)).await?)
        }
    })
}

impl App {
    pub fn new(settings: Settings, runtime: Arc<dyn Runtime>) -> anyhow::Result<Self> {
        let backend =
            BackendClient::new(&settings.backend_url, settings.internal_api_token.expose())?
                .with_pull_policy(settings.schedule.pull.clone());
        let exporter = settings
            .s3()?
            .map(|s3| Exporter::new(&s3, settings.workspace_ignore_dot_files));
        if exporter.is_none() {
            tracing::warn!("S3_* not set: workspaces are not exported");
        }
        let target = settings
            .executor_pool_targets
            .iter()
            .map(|(_, n)| n)
            .sum::<usize>();
        let model_upstream = crate::model_proxy::Upstream::from_settings(&settings)?;
        let pool = Pool::new(
            PoolConfig {
                dir: settings
                    .workspace_root
                    .join("pool")
                    .join(manager_dir_name(settings.worker_id())),
                workspace_root: settings.workspace_root.clone(),
                target,
                concurrency: settings.executor_pool_refill_concurrency,
                env: executor_env(&settings),
                ready_timeout: settings.ready_timeout(),
                retry_pause: settings.pull_interval(),
            },
            runtime.clone(),
        );
        Ok(Self {
            ctx: Arc::new(RunContext {
                ledger: crate::ledger::Ledger::new(&settings.workspace_root, settings.worker_id()),
                warm: WarmSet::new(settings.warm_idle()),
                pool,
                settings: Arc::new(settings),
                backend,
                registry: Registry::default(),
                runtime,
                executor: ExecutorClient::new(),
                exporter,
                workspaces: ActiveWorkspaces::default(),
                model_upstream,
                nudges: crate::nudge::Nudges::default(),
            }),
        })
    }

    /// Parked warm executors right now (tests, benchmarks).
    pub fn warm_count(&self) -> usize {
        self.ctx.warm.len()
    }

    /// Handles on the kept executors (tests and benchmarks watch them).
    pub fn kept(&self) -> Kept {
        Kept {
            warm: self.ctx.warm.clone(),
            pool: self.ctx.pool.clone(),
        }
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

    /// The routes: `/health`, `/health/live`, `/health/ready`, `/metrics`,
    /// `/api/v1/callbacks/{run_id}`, `/api/v1/model-proxy/{*path}`,
    /// `/api/v1/internal/runs/{run_id}/nudge`; every request goes through the telemetry edge (request id,
    /// span, HTTP metrics).
    fn router(&self, draining: Arc<AtomicBool>) -> Router {
        let health = Router::new()
            .route("/health", get(health))
            .route("/health/live", get(live))
            .route("/health/ready", get(ready))
            .with_state(HealthState {
                ctx: self.ctx.clone(),
                draining,
            });
        health
            .merge(callback::routes(
                self.ctx.registry.clone(),
                self.ctx.backend.clone(),
            ))
            .merge(crate::model_proxy::routes(
                self.ctx.registry.models().clone(),
                self.ctx.model_upstream.clone(),
            ))
            .merge(crate::nudge::routes(
                self.ctx.nudges.clone(),
                self.ctx.settings.internal_api_token.expose().clone(),
            ))
            .merge(telemetry::http::metrics_router(
                self.ctx
                    .settings
                    .metrics_token
                    .as_ref()
                    .map(|t| t.expose().clone()),
            ))
            .route_layer(axum::middleware::from_fn(telemetry::http::route))
            .layer(axum::middleware::from_fn(telemetry::http::edge))
    }

    /// Removes executors an earlier life of this manager left behind and releases their runs
    /// (`fail`, retryable: the backend re-queues them now instead of when their lease expires).
    ///
    /// A failure to list the executors or to reach the backend is retried a few times with a
    /// back-off (a busy Docker engine or backend at start-up), so a run is not left leased until
    /// its lease expires because of one slow answer.
    async fn reconcile(&self) {
        let mut orphans = Vec::new();
        for attempt in 0..RECONCILE_ATTEMPTS {
            match self
                .ctx
                .runtime
                .reconcile(&self.ctx.registry.active())
                .await
            {
                Ok(o) => {
                    orphans = o;
                    break;
                }
                Err(e) => {
                    tracing::warn!(error = %e, attempt, "reconciliation failed");
                    tokio::time::sleep(reconcile_backoff(attempt)).await;
                }
            }
        }
        // Runs of warm/pooled containers (labelled with another run) and of child processes.
        for (run_id, epoch) in self.ctx.ledger.take_all().await {
            let orphan = crate::runtime::Orphan { run_id, epoch };
            if !orphans.contains(&orphan) {
                orphans.push(orphan);
            }
        }
        for o in orphans {
            let lease = Lease {
                run_id: o.run_id,
                worker_id: self.ctx.settings.worker_id().to_owned(),
                epoch: o.epoch,
            };
            for attempt in 0..RECONCILE_ATTEMPTS {
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
                        tracing::info!(run_id = %o.run_id, status = %ack.status, "released an orphaned run");
                        break;
                    }
                    Err(BackendError::LeaseLost(_)) => {
                        tracing::debug!(run_id = %o.run_id, "orphaned run no longer leased to this manager");
                        break;
                    }
                    Err(e) => {
                        tracing::warn!(run_id = %o.run_id, error = %e, attempt, "could not release an orphaned run");
                        tokio::time::sleep(reconcile_backoff(attempt)).await;
                    }
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
        // Before any executor starts: the firewall letting executors reach this port (and
        // nothing else of the host); removed from it when `serve` ends.
        let manager_port = listener.local_addr()?.port();
        let _isolation = self.ctx.runtime.isolate(manager_port).await?;
        self.reconcile().await;
        // After the containers went: give back workspaces left in slots of an earlier life.
        self.ctx.pool.recover().await;
        let _abandon = AbandonPool(self.ctx.pool.clone());
        tokio::spawn(self.ctx.pool.clone().refill());
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

        let firer = settings.schedule.fire_schedules.then(|| {
            tokio::spawn(crate::schedule::fire_loop(
                self.ctx.backend.clone(),
                settings.worker_id().to_owned(),
                settings.schedule.fire_interval,
                stop_claiming.clone(),
            ))
        });

        let cleanup_stop = CancellationToken::new();
        let cleanup_task = settings.workspace_cleanup_enabled.then(|| {
            tokio::spawn(cleanup::run_loop(
                CleanupPolicy::from_settings(&settings),
                self.ctx.workspaces.clone(),
                cleanup::interval(&settings),
                cleanup_stop.clone(),
            ))
        });

        let forgetter = tokio::spawn(crate::deleted::run_loop(
            self.ctx.clone(),
            cleanup_stop.clone(),
        ));

        shutdown.await;
        cleanup_stop.cancel();
        let _ = forgetter.await;
        tracing::info!(
            active = self.ctx.registry.active().len(),
            timeout_seconds = settings.shutdown_timeout_seconds,
            "shutting down: no more claims; waiting for active runs"
        );
        draining.store(true, Ordering::SeqCst);
        stop_claiming.cancel();
        self.ctx.pool.abandon();
        let _ = puller.await;
        if let Some(firer) = firer {
            let _ = firer.await;
        }
        tracker.close();
        if tokio::time::timeout(settings.shutdown_timeout(), tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!("shutdown timeout passed: stopping executors, re-queuing their runs");
            hard_stop.cancel();
            tracker.wait().await;
        }
        // No run is left: stop what was kept for later ones.
        self.ctx.warm.drain().await;
        self.ctx.pool.drain().await;
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
        "active_runs": s.ctx.registry.active().len(),
    }))
}

async fn live() -> impl IntoResponse {
    axum::Json(json!({"status": "alive", "service": "executor-manager"}))
}

/// Ready when not draining and every dependency answers within a few seconds: the Docker engine
/// (docker runtime), S3 (when configured) and the backend. A 503 names each failing one, e.g.
/// `"docker: ..."`, `"s3: ..."`, `"backend: ..."`.
async fn ready(State(s): State<HealthState>) -> impl IntoResponse {
    if s.draining.load(Ordering::SeqCst) {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(
                json!({"status": "shutting_down", "service": "executor-manager",
                              "errors": ["shutting down"]}),
            ),
        );
    }
    let limit = std::time::Duration::from_secs(3);
    let timed =
        |what: &'static str, r: Result<Result<(), String>, tokio::time::error::Elapsed>| match r {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(format!("{what}: {e}")),
            Err(_) => Some(format!("{what}: no answer within 3 s")),
        };
    let runtime = async {
        tokio::time::timeout(limit, async {
            s.ctx.runtime.ping().await.map_err(|e| e.to_string())
        })
        .await
    };
    let s3 = async {
        match &s.ctx.exporter {
            Some(exporter) => tokio::time::timeout(limit, exporter.check()).await,
            None => Ok(Ok(())),
        }
    };
    let backend = async { tokio::time::timeout(limit, s.ctx.backend.ready()).await };
    let (runtime, s3, backend) = tokio::join!(runtime, s3, backend);
    let errors: Vec<String> = [
        timed(s.ctx.runtime.name(), runtime),
        timed("s3", s3),
        timed("backend", backend),
    ]
    .into_iter()
    .flatten()
    .collect();
    if errors.is_empty() {
        (
            StatusCode::OK,
            axum::Json(json!({"status": "ready", "service": "executor-manager", "errors": []})),
        )
    } else {
        tracing::warn!(?errors, "not ready");
        (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(
                json!({"status": "not ready", "service": "executor-manager", "errors": errors}),
            ),
        )
    }
}
