//! Dead-lettered runs: what their owner sees, and re-queuing a failed run
//! (`POST /runs/{id}/retry`).
//!
//! A run is dead-lettered when it fails on its last allowed attempt (`settle_set!` in
//! [`crate::queue`], for worker failures and lease expiries alike). Every failed attempt appended `{"attempt", "error", "at"}` to
//! `runs.attempt_errors`; the run view shows them as [`AttemptError`]s. A retry re-queues a failed
//! run (dead-lettered or failed outright) with fresh attempts; the attempt history is kept, so the
//! owner still sees why earlier attempts failed. Its capability snapshot is kept, except that a
//! skill version the retention sweep deleted meanwhile is brought up to date
//! (`capabilities::snapshot::refresh`).

use chrono::{DateTime, Utc};
use protocol::api::AttemptError;
use serde::Deserialize;
use sqlx::PgPool;
use uuid::Uuid;

use super::status::active_sql;
use crate::error::{ApiError, ApiResult};

/// One entry of `runs.attempt_errors` as the queue writes it. Lenient: a malformed entry is shown
/// with what it has rather than failing the whole run view.
#[derive(Debug, Deserialize)]
pub struct StoredAttemptError {
    #[serde(default)]
    attempt: Option<i64>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    at: Option<DateTime<Utc>>,
}

/// The attempt errors of a run, oldest first.
pub fn attempt_errors(stored: Vec<StoredAttemptError>) -> Vec<AttemptError> {
    stored
        .into_iter()
        .map(|e| AttemptError {
            attempt: e
                .attempt
                .and_then(|a| i32::try_from(a).ok())
                .unwrap_or_default(),
            error: e.error.unwrap_or_default(),
            at: e.at.unwrap_or(DateTime::<Utc>::UNIX_EPOCH),
        })
        .collect()
}

/// Re-queues a failed run of `user`: 404 when it is not theirs, 409 when it has not failed.
///
/// The run keeps its place in its session's line: it is claimable at once when no other run of
/// the session is unfinished, else it runs when the active one ends (it is the earliest queued).
/// Decided under the session's row lock, like `POST /tasks`. The caller wakes claimers
/// (`state.queue.bump()`) and shows the run.
pub async fn retry(pool: &PgPool, user: Uuid, run_id: Uuid) -> ApiResult<()> {
    let mut tx = pool.begin().await?;
    let found: Option<(Uuid, String)> = sqlx::query_as(
        "SELECT s.id, r.status FROM runs r JOIN sessions s ON s.id = r.session_id
          WHERE r.id = $1 AND s.user_id = $2",
    )
    .bind(run_id)
    .bind(user)
    .fetch_optional(&mut *tx)
    .await?;
    let (session_id, status) = found.ok_or(ApiError::NotFound("run"))?;
    sqlx::query("SELECT 1 FROM sessions WHERE id = $1 FOR UPDATE")
        .bind(session_id)
        .execute(&mut *tx)
        .await?;
    // Skill versions its snapshot names may have been swept while it was failed.
    let snapshot: Option<sqlx::types::Json<protocol::capabilities::CapabilitySnapshot>> =
        sqlx::query_scalar("SELECT capabilities FROM runs WHERE id = $1 AND status = 'failed'")
            .bind(run_id)
            .fetch_optional(&mut *tx)
            .await?
            .flatten();
    if let Some(sqlx::types::Json(mut snapshot)) = snapshot
        && crate::capabilities::snapshot::refresh(&mut tx, user, &mut snapshot).await?
    {
        sqlx::query("UPDATE runs SET capabilities = $2 WHERE id = $1")
            .bind(run_id)
            .bind(sqlx::types::Json(&snapshot))
            .execute(&mut *tx)
            .await?;
    }
    let updated = sqlx::query(concat!(
        "UPDATE runs r
            SET status = 'queued', attempts = 0, error = NULL, dead_lettered_at = NULL,
                finished_at = NULL, started_at = NULL, claimed_at = NULL, scheduled_at = now(),
                lease_holder = NULL, lease_expires_at = NULL, lease_epoch = r.lease_epoch + 1,
                ready = NOT EXISTS (SELECT 1 FROM runs o
                                     WHERE o.session_id = r.session_id AND o.id <> r.id
                                       AND o.status IN ",
        active_sql!(),
        ")
          WHERE r.id = $1 AND r.status = 'failed'"
    ))
    .bind(run_id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if updated == 0 {
        return Err(ApiError::conflict(
            protocol::ErrorCode::NotRetryable,
            format!("only a failed run can be retried; this one is {status}"),
        ));
    }
    tx.commit().await?;
    telemetry::metrics::run_retried();
    tracing::info!(%run_id, %session_id, "failed run re-queued by its owner");
    Ok(())
}
