//! One claimed run, from claim to report: workspace, executor launch and readiness, `start`, the
//! task, heartbeats (lease renewal, cancellation, lease loss), the terminal event, the report to
//! the backend, and stopping the executor.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use protocol::executor::ExecuteRequest;
use protocol::{EventBody, RunOutcome};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::backend::{BackendClient, BackendError, Lease};
use crate::callback::{Registry, RunSignal};
use crate::cleanup::{self, ActiveWorkspaces};
use crate::config::{RuntimeKind, Settings};
use crate::export::restore::RestoreSource;
use crate::export::{ExportTarget, Exporter};
use crate::pool::Pool;
use crate::runtime::{
    Endpoint, ExecutorClient, ExecutorHandle, LaunchSpec, Probe, Runtime, RuntimeError,
};
use crate::warm::{Executor, Origin, WarmSet};
use crate::workspace_sync::{self, Mark, MarkState, Plan};
use protocol::internal::{ClaimedRun, ExportReport, ExportStatus};

/// How long a run waits for its terminal event after the executor exited (it may be in flight).
const EXIT_GRACE: Duration = Duration::from_secs(5);
/// How long an executor asked to cancel gets before it is stopped.
const CANCEL_GRACE: Duration = Duration::from_secs(60);
/// How long a final report is retried while the backend is unreachable.
const REPORT_RETRY: Duration = Duration::from_secs(120);
/// How long an executor may take to turn its finished task terminal before it is parked warm
/// (it does so right after its last callback was answered).
const SETTLE_LIMIT: Duration = Duration::from_secs(5);

/// What every run shares.
pub struct RunContext {
    pub settings: Arc<Settings>,
    pub backend: BackendClient,
    pub registry: Registry,
    pub runtime: Arc<dyn Runtime>,
    pub executor: ExecutorClient,
    /// `None` when S3 is not configured.
    pub exporter: Option<Exporter>,
    /// Executors kept up after their run for the session's next one.
    pub warm: WarmSet,
    /// The runs held, on disk (released by a restarted manager).
    pub ledger: crate::ledger::Ledger,
    /// Pre-started executors for new sessions (target 0 when `EXECUTOR_POOL_TARGETS` is unset).
    pub pool: Arc<Pool>,
    /// Sessions whose workspaces runs use (clean-up leaves them alone).
    pub workspaces: ActiveWorkspaces,
    /// Where the model proxy sends agents' requests, with the provider credential.
    pub model_upstream: crate::model_proxy::Upstream,
    /// The runs' heartbeats, for the backend's nudges (`crate::nudge`).
    pub nudges: crate::nudge::Nudges,
}

/// How a run ends, as reported to the backend.
#[derive(Debug, Clone, PartialEq)]
enum Report {
    Complete(RunOutcome),
    Fail {
        error: String,
        retryable: bool,
    },
    /// The lease is gone: report nothing.
    Drop,
    /// The lease could not be renewed in time (self-fenced): the executor is killed at once and
    /// nothing more is reported for the run.
    Fenced,
}

/// What the heartbeat task saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LeaseEvent {
    CancelRequested,
    Lost,
    /// No heartbeat was confirmed for [`fence_after`] of the lease: the backend may re-queue the
    /// run for another manager at any moment, so this manager stops the executor itself.
    Fenced,
}

/// How long after the last confirmed heartbeat a run fences itself off: the lease minus a margin
/// (a quarter of the lease, between 2 and 30 seconds) that covers the round trip of the
/// confirmation, clock rates and killing the executor. The backend cannot re-queue the run
/// before the lease expired, counted from a heartbeat it answered after this manager sent it.
pub fn fence_after(lease: Duration) -> Duration {
    let margin = (lease / 4).clamp(Duration::from_secs(2), Duration::from_secs(30));
    lease.saturating_sub(margin)
}

/// Renews the lease every `every` until aborted; tells the run about cancellation and loss, and
/// fences it when no renewal was confirmed for [`fence_after`] of the lease (self-fencing: a
/// manager cut off from the backend stops the executor before the reaper can hand the run to
/// another manager, so a run never executes twice).
fn spawn_heartbeat(
    backend: BackendClient,
    lease: Lease,
    every: Duration,
    lease_seconds: u32,
    nudged: Arc<tokio::sync::Notify>,
) -> (
    tokio::task::JoinHandle<()>,
    mpsc::UnboundedReceiver<LeaseEvent>,
) {
    let (tx, rx) = mpsc::unbounded_channel();
    let fence = fence_after(Duration::from_secs(lease_seconds.into()));
    // After a failed renewal, the next try comes sooner than the regular interval.
    let retry = (every / 4).max(Duration::from_millis(500));
    let task = telemetry::request_id::spawn(
        async move {
            let mut told_cancel = false;
            // The claim granted the lease just before the run started.
            let mut confirmed = tokio::time::Instant::now();
            let mut next = confirmed + every;
            loop {
                let fence_at = confirmed + fence;
                // A nudge (the owner canceled) sends the heartbeat now.
                tokio::select! {
                    () = tokio::time::sleep_until(next.min(fence_at)) => {}
                    () = nudged.notified() => {}
                }
                let sent = tokio::time::Instant::now();
                if sent >= fence_at {
                    tracing::error!(
                        unconfirmed_ms = (sent - confirmed).as_millis() as u64,
                        "no heartbeat confirmed for most of the lease: fencing the run off"
                    );
                    let _ = tx.send(LeaseEvent::Fenced);
                    return;
                }
                let call = backend.heartbeat(&lease, lease_seconds);
                match tokio::time::timeout(fence_at - sent, call).await {
                    Ok(Ok(st)) => {
                        confirmed = sent;
                        next = sent + every;
                        if st.cancel_requested && !told_cancel {
                            told_cancel = true;
                            let _ = tx.send(LeaseEvent::CancelRequested);
                        }
                    }
                    Ok(Err(BackendError::LeaseLost(msg))) => {
                        tracing::warn!(message = %msg, "lease lost on heartbeat");
                        let _ = tx.send(LeaseEvent::Lost);
                        return;
                    }
                    Ok(Err(e)) => {
                        tracing::warn!(error = %e, "heartbeat failed; retrying");
                        next = tokio::time::Instant::now() + retry;
                    }
                    // The fence deadline passed while waiting: the next turn fences.
                    Err(_) => tracing::warn!("heartbeat unanswered"),
                }
            }
        }
        .in_current_span(),
    );
    (task, rx)
}

/// Aborts the heartbeat when the run ends, however it ends.
struct AbortOnDrop(tokio::task::JoinHandle<()>);
impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The environment every executor gets, whatever the runtime. Holds no secret: the model API is
/// this manager's model proxy, and the agent's proxy token travels in the task
/// (`ExecuteRequest.env`); the provider credential never leaves the manager.
pub fn executor_env(settings: &Settings) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    env.insert("DEFAULT_MODEL".into(), settings.default_model.clone());
    env.insert(
        "ANTHROPIC_BASE_URL".into(),
        crate::model_proxy::base_url(&settings.callback_base_url),
    );
    if let Some(level) = &settings.log.log_level {
        env.insert("LOG_LEVEL".into(), level.clone());
    }
    if settings.executor_runtime == RuntimeKind::Process
        && let Some(claude) = &settings.claude_bin
    {
        env.insert("CLAUDE_BIN".into(), claude.clone());
    }
    if settings.log.debug {
        env.insert("DEBUG".into(), "true".into());
    }
    if let Some(rules) = settings
        .workspace_git_ignore
        .as_deref()
        .filter(|r| !r.trim().is_empty())
    {
        env.insert("WORKSPACE_GIT_IGNORE".into(), rules.to_owned());
    }
    // A child process writes its rotated files beside the manager's (`executor.*.log`); in a
    // container a file would go with the container, so there its logs are the container's output.
    if settings.log.log_to_file && settings.executor_runtime == RuntimeKind::Process {
        let dir = std::path::absolute(&settings.log.log_dir)
            .unwrap_or_else(|_| std::path::PathBuf::from(&settings.log.log_dir));
        env.insert("LOG_TO_FILE".into(), "true".into());
        env.insert("LOG_DIR".into(), dir.display().to_string());
        env.insert(
            "LOG_BACKUP_COUNT".into(),
            settings.log.log_backup_count.to_string(),
        );
    }
    env
}

/// The task's environment for the agent: its executor's model proxy token (the CLI sends it as
/// `Authorization: Bearer`), the same for every run of a warm executor. Never logged.
pub(crate) fn task_env(model_token: &str) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    env.insert("ANTHROPIC_AUTH_TOKEN".into(), model_token.to_owned());
    env
}

/// Runs one claimed run to its end. Never panics on peer data; every outcome is logged.
pub async fn execute(ctx: Arc<RunContext>, run: ClaimedRun, hard_stop: CancellationToken) {
    let span = tracing::info_span!(
        "run",
        run_id = %run.run_id,
        session_id = %run.session_id,
        attempt = run.attempt,
        request_id = telemetry::request_id::current().unwrap_or_default(),
    );
    async move {
        let lease = Lease {
            run_id: run.run_id,
            worker_id: ctx.settings.worker_id().to_owned(),
            epoch: run.epoch,
        };
        tracing::info!(epoch = run.epoch, "run claimed");
        let _held = ctx.ledger.record(run.run_id, run.epoch).await;
        let report = drive(&ctx, &run, &lease, &hard_stop).await;
        tracing::info!(report = ?ReportLog(&report), "run finished");
        telemetry::metrics::manager_run_finished(match &report {
            Report::Complete(RunOutcome::Completed) => "completed",
            Report::Complete(RunOutcome::Canceled) => "canceled",
            Report::Fail { .. } => "failed",
            Report::Drop => "dropped",
            Report::Fenced => "fenced",
        });
        send_report(&ctx.backend, &lease, report).await;
    }
    .instrument(span)
    .await
}

/// `Debug` of a report without the error text's full length.
struct ReportLog<'a>(&'a Report);
impl std::fmt::Debug for ReportLog<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Report::Complete(o) => write!(f, "complete({o:?})"),
            Report::Fail { error, retryable } => {
                let short: String = error.chars().take(200).collect();
                write!(f, "fail(retryable={retryable}, {short})")
            }
            Report::Drop => write!(f, "dropped (lease lost)"),
            Report::Fenced => write!(f, "fenced (lease not renewed in time)"),
        }
    }
}

async fn drive(
    ctx: &RunContext,
    run: &ClaimedRun,
    lease: &Lease,
    hard_stop: &CancellationToken,
) -> Report {
    let settings = &ctx.settings;
    let mut registration = ctx.registry.register(lease.clone());
    let nudged = ctx.nudges.register(run.run_id);
    let (hb, mut lease_events) = spawn_heartbeat(
        ctx.backend.clone(),
        lease.clone(),
        settings.heartbeat_interval(),
        settings.task_claim_lease_seconds,
        nudged.notify(),
    );
    let _hb = AbortOnDrop(hb);
    if let Some(route) = &run.model_route
        && let Err(e) = crate::model_proxy::check_route(route)
    {
        return Report::Fail {
            error: e.to_string(),
            retryable: false,
        };
    }

    // Held until the export ended: clean-up never touches a workspace a run uses.
    let _in_use = ctx.workspaces.enter(run.session_id).await;
    let workspace = settings.workspace_dir(run.user_id, run.session_id);
    let (root, user, session) = (settings.workspace_root.clone(), run.user_id, run.session_id);
    match tokio::task::spawn_blocking(move || cleanup::restore_if_archived(&root, user, session))
        .await
    {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => tracing::warn!(error = %e, "could not restore the archived workspace"),
        Err(e) => tracing::warn!(error = %e, "restoring the archived workspace panicked"),
    }
    // The session's latest workspace, restored from the object store when this host does not
    // hold it.
    let before = match sync_workspace(ctx, run, &workspace).await {
        Ok(mark) => mark,
        Err(report) => return report,
    };
    if let Err(e) = tokio::fs::create_dir_all(&workspace).await {
        return Report::Fail {
            error: format!("could not create the workspace: {e}"),
            retryable: true,
        };
    }
    let session_dir = workspace.parent().map(ToOwned::to_owned);
    if let Some(dir) = &session_dir {
        cleanup::touch_marker(dir).await;
    }
    let spec = LaunchSpec {
        run_id: run.run_id,
        session_id: run.session_id,
        user_id: run.user_id,
        epoch: run.epoch,
        workspace,
        env: executor_env(settings),
    };
    let mut executor = match acquire(ctx, run, &spec).await {
        Ok(e) => e,
        Err(e) => {
            tracing::error!(error = %e, "launch failed");
            return Report::Fail {
                error: e.to_string(),
                retryable: true,
            };
        }
    };
    tracing::info!(
        executor = executor.origin.as_str(),
        url = %executor.endpoint.base_url,
        "executor acquired"
    );
    let base = executor.endpoint.clone();
    // The executor's proxy token opens the model API for this run only, at the run's provider.
    let model_token = executor
        .model_token
        .get_or_insert_with(crate::model_proxy::new_token)
        .clone();
    let model_run = ctx.registry.models().bind_route(
        crate::model_proxy::Caller {
            user_id: run.user_id,
            run_id: run.run_id,
        },
        &model_token,
        run.model_route.clone(),
    );
    let running = telemetry::metrics::executor_started();
    // From here the workspace may change: until the run's end state is final here, it is not the
    // state of any run (a crash leaves it so, and the next run here restores).
    mark_workspace(session_dir.as_deref(), Some(running_mark(run.run_id))).await;
    let mut started = false;
    let mut report = supervise(
        ctx,
        run,
        lease,
        hard_stop,
        &base,
        executor.handle.as_mut(),
        &mut registration.signals,
        &registration.token,
        &mut lease_events,
        &model_token,
        &mut started,
    )
    .await;
    if report == Report::Fenced {
        executor.handle.kill().await;
        tracing::warn!("executor killed: the run fenced itself off and reports nothing more");
    }
    let usage = model_run.finish();
    tracing::info!(
        run_id = %run.run_id,
        provider = run
            .model_route
            .as_ref()
            .map_or(crate::model_proxy::UPSTREAM_PROVIDER, |r| r.provider.as_str()),
        model_requests = usage.requests,
        input_tokens = usage.input_tokens,
        output_tokens = usage.output_tokens,
        cache_creation_input_tokens = usage.cache_creation_input_tokens,
        cache_read_input_tokens = usage.cache_read_input_tokens,
        "model usage"
    );
    if let Report::Fail {
        error,
        retryable: false,
    } = &mut report
        && let Some(diagnosis) = executor.handle.diagnose().await
        && !error.contains(&diagnosis)
    {
        *error = format!("{diagnosis}; {error}");
    }
    // Only a healthy executor whose task it reports finished serves the session again.
    let reuse = matches!(report, Report::Complete(_))
        && ctx.warm.enabled()
        && !hard_stop.is_cancelled()
        && ctx.executor.settled(&base, run.run_id, SETTLE_LIMIT).await;
    let released = match &executor.slot {
        Some(slot) if reuse => slot.release(&spec.workspace).await,
        _ => Ok(()),
    };
    // An executor that stays warm is parked once its workspace was exported (frozen meanwhile).
    let mut keep = None;
    match released {
        Ok(()) if reuse => keep = Some(executor),
        Ok(()) => executor.stop().await,
        Err(e) => {
            tracing::error!(error = %e, "cannot move the workspace out of the pool slot");
            executor.stop().await;
        }
    }
    drop(running);
    if !matches!(report, Report::Drop | Report::Fenced) {
        keep = export_frozen(ctx, run, lease, &spec.workspace, keep).await;
    }
    if let Some(executor) = keep {
        ctx.warm.park(run.user_id, run.session_id, executor).await;
    }
    if let Some(dir) = &session_dir {
        cleanup::touch_marker(dir).await;
    }
    if !started {
        // The task never reached the agent: the workspace is what it was.
        mark_workspace(session_dir.as_deref(), before).await;
    } else if !matches!(report, Report::Drop | Report::Fenced) {
        mark_workspace(
            session_dir.as_deref(),
            Some(Mark {
                run_id: run.run_id,
                state: MarkState::Done,
            }),
        )
        .await;
    }
    report
}

fn running_mark(run_id: uuid::Uuid) -> Mark {
    Mark {
        run_id,
        state: MarkState::Running,
    }
}

/// Writes (or, for `None`, removes) the session's `.workspace-run`; a failure is logged (the
/// next run then restores from the export, or fails saying why).
async fn mark_workspace(session_dir: Option<&std::path::Path>, mark: Option<Mark>) {
    let Some(dir) = session_dir else {
        return;
    };
    let result = match mark {
        Some(m) => workspace_sync::write(dir, m).await,
        None => match tokio::fs::remove_file(dir.join(workspace_sync::MARKER)).await {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            other => other,
        },
    };
    if let Err(e) = result {
        tracing::warn!(error = %e, "cannot record which run the workspace reflects");
    }
}

/// Brings the session's workspace to the state of the claim's `workspace_source`
/// ([`workspace_sync::plan`]): nothing when this host holds it, a restore from the export when
/// it does not, a failed run when that state exists only on another host. Returns the marker
/// that describes the workspace now.
async fn sync_workspace(
    ctx: &RunContext,
    run: &ClaimedRun,
    workspace: &std::path::Path,
) -> Result<Option<Mark>, Report> {
    let Some(dir) = workspace.parent() else {
        return Ok(None);
    };
    let mark = workspace_sync::read(dir).await;
    let exists = tokio::fs::try_exists(workspace).await.unwrap_or(false);
    let plan = workspace_sync::plan(
        run.workspace_source.as_ref(),
        mark,
        exists,
        ctx.exporter.is_some(),
        ctx.settings.worker_id(),
    );
    let (source_run, manifest_key) = match plan {
        Plan::Local => return Ok(mark),
        Plan::Unavailable { reason } => {
            tracing::error!(%reason, "the session's workspace is not available here");
            return Err(Report::Fail {
                error: reason,
                retryable: false,
            });
        }
        Plan::Restore {
            run_id,
            manifest_key,
        } => (run_id, manifest_key),
    };
    let Some(exporter) = &ctx.exporter else {
        return Ok(mark);
    };
    // Whatever runs for the session here works on the old copy.
    if let Some(executor) = ctx.warm.take(run.user_id, run.session_id) {
        executor.stop().await;
    }
    ctx.runtime.evict_session(run.session_id).await;
    let started = std::time::Instant::now();
    let source = RestoreSource {
        session_id: run.session_id,
        run_id: source_run,
        manifest_key: &manifest_key,
        needs_agent_state: run.agent_session_id.is_some(),
    };
    match exporter.restore(workspace, source).await {
        Ok(r) => {
            tracing::info!(
                from_run = %source_run,
                files = r.files,
                bytes = r.bytes,
                agent_files = r.agent_files,
                elapsed_ms = started.elapsed().as_millis() as u64,
                "workspace restored from the object store"
            );
            telemetry::metrics::workspace_restored("restored", r.bytes, started.elapsed());
            let done = Mark {
                run_id: source_run,
                state: MarkState::Done,
            };
            if let Err(e) = workspace_sync::write(dir, done).await {
                tracing::warn!(error = %e, "cannot record the restored workspace's run");
            }
            Ok(Some(done))
        }
        Err(e) => {
            tracing::error!(from_run = %source_run, error = %e, "workspace restore failed");
            telemetry::metrics::workspace_restored("failed", 0, started.elapsed());
            Err(Report::Fail {
                error: format!("could not restore the session's workspace: {e}"),
                retryable: e.is_transient(),
            })
        }
    }
}

/// The run's executor: the session's warm one if it is alive, else a pooled one (the workspace
/// moved into its slot), else a new one. Makes room first so that running + warm executors stay
/// within `MAX_CONCURRENT_TASKS`.
async fn acquire(
    ctx: &RunContext,
    run: &ClaimedRun,
    spec: &LaunchSpec,
) -> Result<Executor, RuntimeError> {
    if let Some(executor) = ctx.warm.take(run.user_id, run.session_id)
        && let Some(e) = ready(ctx, run, spec, executor).await
    {
        return Ok(e);
    }
    // Whatever else runs for this session is stale (one run per session at a time).
    ctx.runtime.evict_session(run.session_id).await;
    while ctx.registry.active().len() + ctx.warm.len() > ctx.settings.max_concurrent_tasks
        && ctx.warm.evict_oldest().await
    {}
    while let Some(executor) = ctx.pool.take() {
        ctx.runtime.prepare_workspace(&spec.workspace).await?;
        if let Some(e) = ready(ctx, run, spec, executor).await {
            return Ok(e);
        }
    }
    let launched = ctx.runtime.launch(spec).await?;
    Ok(Executor {
        endpoint: launched.endpoint,
        handle: launched.handle,
        slot: None,
        origin: Origin::Cold,
        model_token: None,
    })
}

/// A kept executor, checked alive and with the run's workspace in its slot; `None` (stopped)
/// when it cannot serve.
async fn ready(
    ctx: &RunContext,
    run: &ClaimedRun,
    spec: &LaunchSpec,
    executor: Executor,
) -> Option<Executor> {
    // Another instance id behind the port: the kept executor died and the port went to another
    // executor, which must never get this run's prompt and callback token.
    match ctx.executor.probe(&executor.endpoint).await {
        Probe::Ours => {}
        probe => {
            tracing::warn!(
                executor = executor.origin.as_str(),
                ?probe,
                "a kept executor does not answer as itself; stopping it"
            );
            executor.stop().await;
            return None;
        }
    }
    if let Some(slot) = &executor.slot
        && let Err(e) = slot
            .assign(run.user_id, run.session_id, &spec.workspace)
            .await
    {
        tracing::error!(error = %e, "cannot move the workspace into the pool slot");
        executor.stop().await;
        return None;
    }
    Some(executor)
}

/// Exports the workspace and reports the outcome to the backend; a failed export is logged and
/// reported, and does not change the run's outcome.
async fn export_workspace(
    ctx: &RunContext,
    run: &ClaimedRun,
    lease: &Lease,
    workspace: &std::path::Path,
) {
    let Some(exporter) = &ctx.exporter else {
        return;
    };
    let target = ExportTarget {
        user_id: run.user_id,
        session_id: run.session_id,
        run_id: run.run_id,
    };
    let count = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
    let started = std::time::Instant::now();
    let report = match exporter.export(workspace, target).await {
        Ok(s) => {
            telemetry::metrics::export_finished(
                "ready",
                s.uploaded_bytes + s.agent_bytes,
                started.elapsed(),
            );
            tracing::info!(
                manifest = %s.manifest_key,
                files = s.files,
                added = s.added,
                modified = s.modified,
                unchanged = s.unchanged,
                deleted = s.deleted,
                uploaded_bytes = s.uploaded_bytes,
                agent_bytes = s.agent_bytes,
                "workspace exported"
            );
            ExportReport {
                worker_id: lease.worker_id.clone(),
                epoch: lease.epoch,
                status: ExportStatus::Ready,
                manifest_key: Some(s.manifest_key),
                archive_key: Some(s.archive_key),
                files: count(s.files),
                added: count(s.added),
                modified: count(s.modified),
                unchanged: count(s.unchanged),
                deleted: count(s.deleted),
                uploaded_bytes: i64::try_from(s.uploaded_bytes).unwrap_or(i64::MAX),
                error: None,
            }
        }
        Err(e) => {
            telemetry::metrics::export_finished("failed", 0, started.elapsed());
            tracing::error!(error = %e, "workspace export failed");
            ExportReport {
                worker_id: lease.worker_id.clone(),
                epoch: lease.epoch,
                status: ExportStatus::Failed,
                manifest_key: None,
                archive_key: None,
                files: 0,
                added: 0,
                modified: 0,
                unchanged: 0,
                deleted: 0,
                uploaded_bytes: 0,
                error: Some(e.to_string()),
            }
        }
    };
    if let Err(e) = ctx.backend.export(run.run_id, &report).await {
        tracing::warn!(error = %e, "reporting the workspace export failed");
    }
}

#[allow(clippy::too_many_arguments)]
async fn supervise(
    ctx: &RunContext,
    run: &ClaimedRun,
    lease: &Lease,
    hard_stop: &CancellationToken,
    base: &Endpoint,
    handle: &mut dyn ExecutorHandle,
    signals: &mut mpsc::UnboundedReceiver<RunSignal>,
    token: &str,
    lease_events: &mut mpsc::UnboundedReceiver<LeaseEvent>,
    model_token: &str,
    started: &mut bool,
) -> Report {
    if let Err(e) = ctx
        .executor
        .wait_ready(base, handle, ctx.settings.ready_timeout())
        .await
    {
        tracing::error!(error = %e, "executor not ready");
        return Report::Fail {
            error: e.to_string(),
            retryable: !matches!(e, RuntimeError::ExitedEarly(_)),
        };
    }
    tracing::debug!(executor = %base.base_url, "executor ready");

    let mut cancel_requested = match ctx.backend.start(lease).await {
        Ok(st) => {
            // The backend counts the run as started (the session's next run starts from it).
            *started = true;
            st.cancel_requested
        }
        Err(BackendError::LeaseLost(msg)) => {
            tracing::warn!(message = %msg, "lease lost before start");
            return Report::Drop;
        }
        Err(e) => {
            return Report::Fail {
                error: format!("could not start the run: {e}"),
                retryable: true,
            };
        }
    };
    // A cancellation or loss the heartbeat saw while the executor was starting.
    while let Ok(ev) = lease_events.try_recv() {
        match ev {
            LeaseEvent::Lost => return Report::Drop,
            LeaseEvent::Fenced => return Report::Fenced,
            LeaseEvent::CancelRequested => cancel_requested = true,
        }
    }
    if cancel_requested {
        tracing::info!("canceled before the task started");
        return Report::Complete(RunOutcome::Canceled);
    }

    let inputs = match crate::inputs::prepare(ctx.exporter.as_ref(), run).await {
        Ok(i) => i,
        Err(e) => {
            return Report::Fail {
                error: e.to_string(),
                retryable: false,
            };
        }
    };
    let capabilities = match crate::capabilities::prepare(ctx.exporter.as_ref(), run).await {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "the run's capabilities were refused");
            return Report::Fail {
                error: format!("could not stage the run's capabilities: {e}"),
                retryable: false,
            };
        }
    };
    let req = ExecuteRequest {
        run_id: run.run_id,
        session_id: run.session_id,
        prompt: run.prompt.clone(),
        model: run.model.clone(),
        permission_mode: run.permission_mode,
        resume_agent_session_id: run.agent_session_id.clone(),
        callback_url: format!(
            "{}/api/v1/callbacks/{}",
            ctx.settings.callback_base_url, run.run_id
        ),
        callback_token: token.to_owned(),
        env: task_env(model_token),
        mcp_config: capabilities.mcp_config,
        append_system_prompt: run.append_system_prompt.clone(),
        allowed_tools: run.allowed_tools.clone(),
        disallowed_tools: Vec::new(),
        skills: capabilities.skills,
        slash_commands: capabilities.slash_commands,
        subagents: capabilities.subagents,
        instructions: capabilities.instructions,
        capabilities_digest: capabilities.digest,
        input_timeout_seconds: run.input_timeout_seconds,
        git: inputs.git,
        input_files: inputs.input_files,
    };
    if let Err(e) = ctx.executor.execute(base, &req).await {
        tracing::error!(error = %e, "task not accepted");
        let retryable =
            !matches!(e, RuntimeError::Refused { status, .. } if (400..500).contains(&status));
        return Report::Fail {
            error: e.to_string(),
            retryable,
        };
    }
    tracing::info!("task running");

    // Answers to the run's input requests, relayed while any is pending.
    let mut answers = crate::input_answers::Relay::new(
        ctx.backend.clone(),
        ctx.executor.clone(),
        base.clone(),
        lease.clone(),
    );
    let mut cancel_deadline: Option<tokio::time::Instant> = None;
    loop {
        let deadline = cancel_deadline;
        tokio::select! {
            signal = signals.recv() => match signal {
                Some(RunSignal::Terminal(body)) => return terminal_report(body),
                Some(RunSignal::InputRequested) => answers.kick(),
                Some(RunSignal::LeaseLost) | None => return Report::Drop,
            },
            ev = lease_events.recv() => match ev {
                Some(LeaseEvent::CancelRequested) => {
                    tracing::info!("cancel requested; asking the executor to stop");
                    if let Err(e) = ctx.executor.cancel(base, run.run_id).await {
                        tracing::warn!(error = %e, "executor cancel failed");
                    }
                    cancel_requested = true;
                    cancel_deadline = Some(tokio::time::Instant::now() + CANCEL_GRACE);
                }
                Some(LeaseEvent::Lost) => {
                    tracing::warn!("lease lost: stopping the executor without reporting");
                    return Report::Drop;
                }
                Some(LeaseEvent::Fenced) => return Report::Fenced,
                None => {}
            },
            exit = handle.exited() => {
                // Its last callback may still be in flight.
                if let Ok(Some(body)) = tokio::time::timeout(EXIT_GRACE, terminal(signals)).await {
                    return terminal_report(body);
                }
                tracing::error!(reason = %exit.reason, "executor exited before the terminal event");
                if cancel_requested {
                    return Report::Complete(RunOutcome::Canceled);
                }
                return Report::Fail { error: exit.reason, retryable: false };
            },
            _ = async move {
                match deadline {
                    Some(d) => tokio::time::sleep_until(d).await,
                    None => std::future::pending().await,
                }
            } => {
                tracing::warn!("executor ignored the cancel; stopping it");
                return Report::Complete(RunOutcome::Canceled);
            },
            _ = hard_stop.cancelled() => {
                tracing::warn!("shutdown timeout: stopping the executor and re-queuing the run");
                return Report::Fail {
                    error: "the executor manager shut down before the run finished".into(),
                    retryable: true,
                };
            },
        }
    }
}

/// The next terminal event signalled, skipping other signals; `None` once the run's lease is
/// lost or the registration is gone.
async fn terminal(signals: &mut mpsc::UnboundedReceiver<RunSignal>) -> Option<EventBody> {
    loop {
        match signals.recv().await? {
            RunSignal::Terminal(body) => return Some(body),
            RunSignal::InputRequested => {}
            RunSignal::LeaseLost => return None,
        }
    }
}

fn terminal_report(body: EventBody) -> Report {
    match body {
        EventBody::Completed {} => Report::Complete(RunOutcome::Completed),
        EventBody::Canceled { .. } => Report::Complete(RunOutcome::Canceled),
        EventBody::Failed { error } => Report::Fail {
            error,
            retryable: false,
        },
        other => Report::Fail {
            error: format!("unexpected terminal event `{}`", other.kind()),
            retryable: false,
        },
    }
}

/// Sends the final report, retrying while the backend is unreachable.
async fn send_report(backend: &BackendClient, lease: &Lease, report: Report) {
    let deadline = tokio::time::Instant::now() + REPORT_RETRY;
    let mut pause = Duration::from_millis(200);
    loop {
        let result = match &report {
            Report::Drop | Report::Fenced => return,
            Report::Complete(outcome) => backend.complete(lease, *outcome).await,
            Report::Fail { error, retryable } => backend.fail(lease, error, *retryable).await,
        };
        match result {
            Ok(ack) => {
                tracing::info!(status = %ack.status, "run reported");
                return;
            }
            Err(e) if e.is_transient() && tokio::time::Instant::now() < deadline => {
                tracing::warn!(error = %e, "report failed; retrying");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(5));
            }
            Err(e) => {
                tracing::error!(error = %e, "could not report the run; its lease will expire");
                return;
            }
        }
    }
}

/// [`export_workspace`] with `kept` (the executor that stays warm for the session, still running
/// what the agent left behind) frozen meanwhile, so nothing changes the workspace under the
/// export. A failure to freeze is logged and the export goes on: the export's walk never follows
/// a link, frozen or not. An executor that cannot be thawed is stopped (`None`), not parked.
async fn export_frozen(
    ctx: &RunContext,
    run: &ClaimedRun,
    lease: &Lease,
    workspace: &std::path::Path,
    kept: Option<Executor>,
) -> Option<Executor> {
    let Some(mut executor) = kept else {
        export_workspace(ctx, run, lease, workspace).await;
        return None;
    };
    if ctx.exporter.is_none() {
        return Some(executor);
    }
    let frozen = match executor.handle.freeze().await {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!(error = %e, "cannot freeze the warm executor; exporting while it runs");
            false
        }
    };
    export_workspace(ctx, run, lease, workspace).await;
    if frozen && let Err(e) = executor.handle.thaw().await {
        tracing::error!(error = %e, "cannot thaw the warm executor after the export; stopping it");
        executor.stop().await;
        return None;
    }
    Some(executor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_fences_itself_off_before_its_lease_can_expire() {
        let s = Duration::from_secs;
        assert_eq!(fence_after(s(180)), s(150));
        assert_eq!(fence_after(s(9)), Duration::from_millis(6_750));
        // The margin is at least 2 s, and a lease shorter than that fences at once.
        assert_eq!(fence_after(s(4)), s(2));
        assert_eq!(fence_after(s(1)), s(0));
        // Never more than 30 s early.
        assert_eq!(fence_after(s(600)), s(570));
    }

    #[test]
    fn terminal_events_map_to_reports() {
        assert_eq!(
            terminal_report(EventBody::Completed {}),
            Report::Complete(RunOutcome::Completed)
        );
        assert_eq!(
            terminal_report(EventBody::Canceled { reason: None }),
            Report::Complete(RunOutcome::Canceled)
        );
        assert_eq!(
            terminal_report(EventBody::Failed {
                error: "boom".into()
            }),
            Report::Fail {
                error: "boom".into(),
                retryable: false
            }
        );
    }
}
