//! What a worker does with a run it holds: start, heartbeat, complete, fail (which also finishes a
//! cancel: a `canceling` run ends `canceled` either way). Every call is fenced by
//! `(worker_id, epoch)` ([`super::fence`]); a stale one gets `409 lease_lost` and changes nothing.

use chrono::{DateTime, Utc};
use protocol::internal::{LeaseStatus, RunAck};
use protocol::{RunOutcome, RunStatus};
use sqlx::PgPool;
use uuid::Uuid;

use super::fence::{held_by_sql, refusal};
use super::status::parse as parse_status;
use super::{MAX_LEASE_SECONDS, MIN_LEASE_SECONDS, settle_set};
use crate::error::{ApiError, ApiResult};

/// The most text of a worker's error kept on the run.
const MAX_ERROR_LEN: usize = 8 * 1024;

#[derive(sqlx::FromRow)]
struct LeaseRow {
    status: String,
    lease_expires_at: Option<DateTime<Utc>>,
}

fn lease_status(run_id: Uuid, row: LeaseRow) -> ApiResult<LeaseStatus> {
    let status = parse_status(&row.status)?;
    Ok(LeaseStatus {
        run_id,
        status,
        cancel_requested: status == RunStatus::Canceling,
        lease_expires_at: row.lease_expires_at.unwrap_or_else(Utc::now),
    })
}

/// The worker started executing: `claimed` → `running`.
///
/// The only lease call committed without waiting for the WAL flush (`synchronous_commit = off`,
/// set for this statement's own transaction): should the database crash right after, the run is
/// merely `claimed` again, still leased to the same worker, which completes it as usual. Claims,
/// heartbeats, completions and failures stay durable, since losing any of them could let a run
/// execute twice.
pub async fn start(
    pool: &PgPool,
    run_id: Uuid,
    worker: &str,
    epoch: i64,
) -> ApiResult<LeaseStatus> {
    let row: Option<LeaseRow> = sqlx::query_as(concat!(
        "UPDATE runs SET status = CASE WHEN status = 'claimed' THEN 'running' ELSE status END,
                         started_at = COALESCE(started_at, now())
          WHERE (SELECT set_config('synchronous_commit', 'off', true)) IS NOT NULL AND ",
        held_by_sql!(),
        " RETURNING status, lease_expires_at"
    ))
    .bind(run_id)
    .bind(worker)
    .bind(epoch)
    .fetch_optional(pool)
    .await?;
    match row {
        Some(row) => lease_status(run_id, row),
        None => Err(refusal(pool, run_id).await),
    }
}

/// Extends the lease; the answer says whether cancellation was asked for.
pub async fn heartbeat(
    pool: &PgPool,
    run_id: Uuid,
    worker: &str,
    epoch: i64,
    lease_seconds: Option<u32>,
) -> ApiResult<LeaseStatus> {
    if let Some(s) = lease_seconds
        && !(MIN_LEASE_SECONDS..=MAX_LEASE_SECONDS).contains(&s)
    {
        return Err(ApiError::validation(format!(
            "lease_seconds must be between {MIN_LEASE_SECONDS} and {MAX_LEASE_SECONDS}"
        )));
    }
    let row: Option<LeaseRow> = sqlx::query_as(concat!(
        "UPDATE runs SET lease_expires_at = now() + COALESCE($4, lease_seconds) * interval '1 second'
          WHERE ",
        held_by_sql!(),
        " RETURNING status, lease_expires_at"
    ))
    .bind(run_id)
    .bind(worker)
    .bind(epoch)
    .bind(lease_seconds.map(|s| i32::try_from(s).unwrap_or(i32::MAX)))
    .fetch_optional(pool)
    .await?;
    match row {
        Some(row) => lease_status(run_id, row),
        None => Err(refusal(pool, run_id).await),
    }
}

/// The worker finished the run (normally, or by canceling it).
pub async fn complete(
    pool: &PgPool,
    run_id: Uuid,
    worker: &str,
    epoch: i64,
    outcome: RunOutcome,
) -> ApiResult<RunAck> {
    let status = match outcome {
        RunOutcome::Completed => RunStatus::Completed,
        RunOutcome::Canceled => RunStatus::Canceled,
    };
    let row: Option<String> = sqlx::query_scalar(concat!(
        "UPDATE runs SET status = $4, finished_at = now(), lease_expires_at = NULL,
                         error = CASE WHEN $4 = 'canceled' THEN 'canceled by its owner' ELSE NULL END
          WHERE ",
        held_by_sql!(),
        " RETURNING status"
    ))
    .bind(run_id)
    .bind(worker)
    .bind(epoch)
    .bind(status.as_str())
    .fetch_optional(pool)
    .await?;
    match row {
        Some(s) => Ok(RunAck {
            run_id,
            status: parse_status(&s)?,
        }),
        None => Err(refusal(pool, run_id).await),
    }
}

/// The worker could not finish the run. A retryable failure re-queues it while attempts remain.
pub async fn fail(
    pool: &PgPool,
    run_id: Uuid,
    worker: &str,
    epoch: i64,
    error: &str,
    retryable: bool,
    backoff_seconds: u64,
) -> ApiResult<RunAck> {
    let mut error = error.trim().to_owned();
    if error.is_empty() {
        error = "the worker reported a failure without a message".to_owned();
    }
    if error.len() > MAX_ERROR_LEN {
        let mut cut = MAX_ERROR_LEN;
        while !error.is_char_boundary(cut) {
            cut -= 1;
        }
        error.truncate(cut);
    }
    let row: Option<String> = sqlx::query_scalar(concat!(
        "UPDATE runs r SET ",
        settle_set!("$6"),
        " FROM (SELECT id,
                   CASE WHEN status = 'canceling' THEN 'canceled'
                        WHEN $5 AND attempts < max_attempts THEN 'queued'
                        ELSE 'failed' END AS next,
                   $4::text AS msg
              FROM runs WHERE ",
        held_by_sql!(),
        " FOR UPDATE) d
          WHERE r.id = d.id
      RETURNING r.status"
    ))
    .bind(run_id)
    .bind(worker)
    .bind(epoch)
    .bind(&error)
    .bind(retryable)
    .bind(i64::try_from(backoff_seconds).unwrap_or(i64::MAX))
    .fetch_optional(pool)
    .await?;
    match row {
        Some(s) => {
            let status = parse_status(&s)?;
            tracing::info!(%run_id, %status, retryable, "run failure reported");
            Ok(RunAck { run_id, status })
        }
        None => Err(refusal(pool, run_id).await),
    }
}
