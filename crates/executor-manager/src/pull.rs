//! The pull loop: claim runs whenever slots are free (at most `MAX_CONCURRENT_TASKS` at once),
//! as many as are free in one long poll, and hand each to its own task.

use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use protocol::internal::{ClaimedRun, MAX_CLAIM_RUNS};

use crate::backend::Lease;
use crate::run::{self, RunContext};

/// Claims runs until `stop_claiming` fires. Runs are spawned on `tracker`; `hard_stop` is what they
/// obey when the shutdown timeout passed.
pub async fn pull_loop(
    ctx: Arc<RunContext>,
    stop_claiming: CancellationToken,
    hard_stop: CancellationToken,
    tracker: TaskTracker,
) {
    let settings = ctx.settings.clone();
    if !settings.task_pull_enabled {
        tracing::warn!("TASK_PULL_ENABLED=false: this manager claims no runs");
        stop_claiming.cancelled().await;
        return;
    }
    let slots = Arc::new(Semaphore::new(settings.max_concurrent_tasks));
    let worker_id = settings.worker_id().to_owned();
    tracing::info!(
        worker_id = %worker_id,
        max_concurrent = settings.max_concurrent_tasks,
        "pulling runs"
    );
    loop {
        let first = tokio::select! {
            _ = stop_claiming.cancelled() => break,
            p = slots.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
        };
        // Every free slot asks in the same claim: a burst of queued runs (a schedule's fan-out)
        // reaches this manager in one round trip instead of one per slot.
        let mut permits = vec![first];
        while permits.len() < MAX_CLAIM_RUNS as usize {
            match slots.clone().try_acquire_owned() {
                Ok(p) => permits.push(p),
                Err(_) => break,
            }
        }
        // A shutdown does not abandon a pending long poll (the backend may be handing out runs
        // right then): it waits for the answer (at most TASK_CLAIM_WAIT_SECONDS) and gives back
        // the runs that arrive, so they are re-queued now rather than when their leases expire.
        // Each claim gets a request id; a run it brings keeps it as its trace id (the first run;
        // the others get their own), so the backend's claim, every later call about the run,
        // the executor and its callbacks all log the same id.
        let request_id = telemetry::request_id::generate();
        let claim = telemetry::request_id::scope(
            request_id.clone(),
            ctx.backend.claim_many(
                &worker_id,
                settings.task_claim_lease_seconds,
                settings.task_claim_wait_seconds,
                u32::try_from(permits.len()).unwrap_or(1),
            ),
        );
        tokio::pin!(claim);
        let claimed = tokio::select! {
            r = &mut claim => r,
            _ = stop_claiming.cancelled() => {
                if let Ok(runs) = claim.await {
                    for run in &runs {
                        release(&ctx, &worker_id, run).await;
                    }
                }
                break;
            }
        };
        match claimed {
            Ok(runs) => {
                for (i, claimed) in runs.into_iter().enumerate() {
                    let Some(permit) = permits.pop() else {
                        // More than asked for: the backend broke its word; not run here.
                        release(&ctx, &worker_id, &claimed).await;
                        continue;
                    };
                    let ctx = ctx.clone();
                    let hard_stop = hard_stop.clone();
                    let id = if i == 0 {
                        request_id.clone()
                    } else {
                        telemetry::request_id::generate()
                    };
                    tracker.spawn(telemetry::request_id::scope(id, async move {
                        run::execute(ctx, claimed, hard_stop).await;
                        drop(permit);
                    }));
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "claim failed; pausing");
                tokio::select! {
                    _ = stop_claiming.cancelled() => break,
                    _ = tokio::time::sleep(settings.pull_interval()) => {}
                }
            }
        }
    }
    tracing::info!("stopped claiming runs");
}

/// Gives a run claimed during shutdown back to the queue.
async fn release(ctx: &RunContext, worker_id: &str, run: &ClaimedRun) {
    let lease = Lease {
        run_id: run.run_id,
        worker_id: worker_id.to_owned(),
        epoch: run.epoch,
    };
    match ctx
        .backend
        .fail(&lease, "the executor manager is shutting down", true)
        .await
    {
        Ok(ack) => {
            tracing::info!(run_id = %run.run_id, status = %ack.status, "released a run claimed during shutdown")
        }
        Err(e) => {
            tracing::warn!(run_id = %run.run_id, error = %e, "could not release a run claimed during shutdown")
        }
    }
}
