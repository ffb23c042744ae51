//! Queued follow-ups: the runs of a session waiting behind an earlier unfinished run of it, and
//! what their owner may do with them before they start — read them in order, change a prompt,
//! remove one, or send one now (stop the active run and put this one at the head of the line).
//!
//! Every change applies only while the run is still `queued`, in one statement or under the
//! run's row lock: a claim (`FOR UPDATE SKIP LOCKED`) either took the run first — the change then
//! finds it `claimed` and answers `409 not_queued` — or comes after the change committed and
//! reads the new prompt. A removed run is `canceled` (the same end as a queued run canceled with
//! its session), so the `runs_after_change` trigger keeps the session's status and line.

use chrono::{DateTime, Utc};
use protocol::ErrorCode;
use protocol::input::{QueuedRunView, SessionQueue};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::status::active_sql;
use crate::error::{ApiError, ApiResult};

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    prompt: String,
    created_at: DateTime<Utc>,
    position: i64,
}

impl Row {
    fn into_view(self) -> QueuedRunView {
        QueuedRunView {
            run_id: self.id,
            prompt: self.prompt,
            position: i32::try_from(self.position).unwrap_or(i32::MAX),
            created_at: self.created_at,
        }
    }
}

/// The queued runs of `session_id` behind an earlier unfinished run of it, next first. A run's
/// position is the number of unfinished runs before it (1: it runs next).
pub async fn list(conn: &mut PgConnection, session_id: Uuid) -> ApiResult<SessionQueue> {
    let rows: Vec<Row> = sqlx::query_as(concat!(
        "SELECT id, prompt, created_at, position FROM (
             SELECT id, prompt, created_at, status,
                    row_number() OVER (ORDER BY queue_pos) - 1 AS position
               FROM runs WHERE session_id = $1 AND status IN ",
        active_sql!(),
        ") a WHERE status = 'queued' AND position > 0 ORDER BY position"
    ))
    .bind(session_id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(SessionQueue {
        runs: rows.into_iter().map(Row::into_view).collect(),
    })
}

/// The error for a change that matched no queued run: 404 when the session has no such run,
/// `409 not_queued` when it has one that started or ended.
async fn not_queued(conn: &mut PgConnection, session_id: Uuid, run_id: Uuid) -> ApiError {
    let found: Result<Option<String>, sqlx::Error> =
        sqlx::query_scalar("SELECT status FROM runs WHERE id = $1 AND session_id = $2")
            .bind(run_id)
            .bind(session_id)
            .fetch_optional(&mut *conn)
            .await;
    match found {
        Ok(Some(status)) => ApiError::conflict(
            ErrorCode::NotQueued,
            format!("the run is no longer queued (it is {status})"),
        ),
        Ok(None) => ApiError::NotFound("queued run"),
        Err(e) => e.into(),
    }
}

/// Replaces the prompt of queued run `run_id` of `session_id`.
pub async fn update_prompt(
    pool: &PgPool,
    session_id: Uuid,
    run_id: Uuid,
    prompt: &str,
) -> ApiResult<QueuedRunView> {
    let mut conn = pool.acquire().await?;
    let row: Option<Row> = sqlx::query_as(concat!(
        "UPDATE runs r SET prompt = $3
          WHERE r.id = $1 AND r.session_id = $2 AND r.status = 'queued'
      RETURNING r.id, r.prompt, r.created_at,
                (SELECT count(*) FROM runs e WHERE e.session_id = r.session_id
                    AND e.queue_pos < r.queue_pos AND e.status IN ",
        active_sql!(),
        ") AS position"
    ))
    .bind(run_id)
    .bind(session_id)
    .bind(prompt)
    .fetch_optional(&mut *conn)
    .await?;
    match row {
        Some(r) => {
            tracing::info!(%session_id, %run_id, "queued prompt changed");
            Ok(r.into_view())
        }
        None => Err(not_queued(&mut conn, session_id, run_id).await),
    }
}

/// Removes queued run `run_id` of `session_id`: it is canceled and never runs.
pub async fn remove(pool: &PgPool, session_id: Uuid, run_id: Uuid) -> ApiResult<()> {
    let mut conn = pool.acquire().await?;
    let done = sqlx::query(
        "UPDATE runs SET status = 'canceled', finished_at = now(),
                         error = 'removed from the queue by its owner'
          WHERE id = $1 AND session_id = $2 AND status = 'queued'",
    )
    .bind(run_id)
    .bind(session_id)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if done == 0 {
        return Err(not_queued(&mut conn, session_id, run_id).await);
    }
    crate::metrics::record_final("canceled", None, false);
    tracing::info!(%session_id, %run_id, "queued run removed");
    Ok(())
}

/// Sends queued run `run_id` of `session_id` now: asks the session's working run to stop (as
/// `POST /sessions/{id}/cancel` does, leaving the other queued runs) and puts `run_id` at the
/// head of the session's line, in one transaction, so it is the next of the session to run.
/// Returns the queue after the move and whether claimers should be woken; after the commit, the
/// manager is nudged about the run asked to stop.
pub async fn send_now(
    pool: &PgPool,
    nudger: &crate::nudge::Nudger,
    session_id: Uuid,
    run_id: Uuid,
) -> ApiResult<(SessionQueue, bool)> {
    let mut tx = pool.begin().await?;
    // Leased runs' locks (and the session's, in the trigger) before the queued runs': the order
    // a run's end takes them in when it readies the next one.
    let stopping = super::cancel::stop_working(&mut tx, session_id).await?;
    let line: Vec<(Uuid, i64, bool)> = sqlx::query_as(
        "SELECT id, queue_pos, ready FROM runs
          WHERE session_id = $1 AND status = 'queued'
          ORDER BY queue_pos FOR UPDATE",
    )
    .bind(session_id)
    .fetch_all(&mut *tx)
    .await?;
    if !line.iter().any(|(id, _, _)| *id == run_id) {
        let e = not_queued(&mut tx, session_id, run_id).await;
        tx.rollback().await?;
        return Err(e);
    }
    let ready_head = line.iter().any(|(_, _, ready)| *ready);
    let mut order: Vec<Uuid> = vec![run_id];
    order.extend(line.iter().map(|(id, _, _)| *id).filter(|id| *id != run_id));
    let positions: Vec<i64> = line.iter().map(|(_, pos, _)| *pos).collect();
    // Two steps, so no two rows ever share a queue_pos (its unique index is not deferrable).
    sqlx::query("UPDATE runs SET queue_pos = -queue_pos WHERE id = ANY ($1)")
        .bind(&order)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "UPDATE runs r SET queue_pos = x.pos, ready = (r.id = $3 AND $4)
           FROM UNNEST($1::uuid[], $2::bigint[]) AS x(id, pos)
          WHERE r.id = x.id",
    )
    .bind(&order)
    .bind(&positions)
    .bind(run_id)
    .bind(ready_head)
    .execute(&mut *tx)
    .await?;
    if ready_head {
        sqlx::query("SELECT pg_notify('run_queue', '')")
            .execute(&mut *tx)
            .await?;
    }
    let queue = list(&mut tx, session_id).await?;
    tx.commit().await?;
    nudger.runs(&stopping);
    tracing::info!(%session_id, %run_id, canceling = stopping.len(), "queued run sent now");
    Ok((queue, ready_head))
}
