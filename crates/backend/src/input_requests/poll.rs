//! `POST /internal/runs/{id}/input-answers`: the manager's long-poll for the answers its run
//! waits on.
//!
//! Fenced like a heartbeat (the worker and epoch must hold the run's lease, else `409
//! lease_lost`). Answers the run's answered requests the manager has not delivered yet and how
//! many are still pending; when there is nothing to hand over but something is pending, waits up
//! to `wait_seconds` for a wake-up of this run ([`super::notify`]), subscribing before each look
//! so none is lost between the look and the sleep.

use std::time::Duration;

use protocol::input::{InputAnswer, InputAnswers, InputAnswersPoll};
use sqlx::PgPool;
use sqlx::types::Json;
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};
use crate::queue::fence::{self, Fence};
use crate::state::AppState;

/// The longest wait, whatever the manager asks.
pub const MAX_WAIT_SECONDS: u32 = 30;
/// The most delivered ids a poll may name.
const MAX_DELIVERED: usize = 10_000;

#[derive(sqlx::FromRow)]
struct Look {
    status: String,
    lease_holder: Option<String>,
    lease_epoch: i64,
    pending: i64,
    answers: Option<Json<Vec<InputAnswer>>>,
}

/// One look: the fence, the undelivered answers and the pending count.
async fn look(pool: &PgPool, run_id: Uuid, req: &InputAnswersPoll) -> ApiResult<InputAnswers> {
    let row: Option<Look> = sqlx::query_as(
        "SELECT r.status, r.lease_holder, r.lease_epoch,
                (SELECT count(*) FROM input_requests i
                  WHERE i.run_id = r.id AND i.status = 'pending') AS pending,
                (SELECT jsonb_agg(i.answer ORDER BY i.answered_at, i.id) FROM input_requests i
                  WHERE i.run_id = r.id AND i.status = 'answered'
                    AND NOT (i.id = ANY ($2))) AS answers
           FROM runs r WHERE r.id = $1",
    )
    .bind(run_id)
    .bind(&req.delivered)
    .fetch_optional(pool)
    .await?;
    let row = row.ok_or(ApiError::NotFound("run"))?;
    let fence = Fence {
        worker: &req.worker_id,
        epoch: req.epoch,
    };
    if !fence.holds_lease(row.lease_holder.as_deref(), row.lease_epoch, &row.status) {
        return Err(fence::lease_lost(&row.status, row.lease_epoch));
    }
    Ok(InputAnswers {
        answers: row.answers.map(|a| a.0).unwrap_or_default(),
        pending: u32::try_from(row.pending).unwrap_or(u32::MAX),
    })
}

/// Answers the poll, waiting when nothing is ready yet but a request is pending.
pub async fn poll(
    state: &AppState,
    run_id: Uuid,
    req: &InputAnswersPoll,
) -> ApiResult<InputAnswers> {
    if req.worker_id.trim().is_empty() || req.worker_id.len() > 200 {
        return Err(ApiError::validation(
            "worker_id must be 1 to 200 characters",
        ));
    }
    if req.delivered.len() > MAX_DELIVERED {
        return Err(ApiError::validation(format!(
            "delivered may name at most {MAX_DELIVERED} requests"
        )));
    }
    let wait = Duration::from_secs(u64::from(req.wait_seconds.min(MAX_WAIT_SECONDS)));
    let deadline = tokio::time::Instant::now() + wait;
    let mut waiter = state.inputs.subscribe(run_id);
    loop {
        waiter.mark_seen();
        let found = look(&state.pool, run_id, req).await?;
        if !found.answers.is_empty()
            || found.pending == 0
            || tokio::time::Instant::now() >= deadline
        {
            return Ok(found);
        }
        tokio::select! {
            _ = waiter.changed() => {}
            _ = tokio::time::sleep_until(deadline) => {}
            _ = state.shutdown.cancelled() => return Ok(found),
        }
    }
}
