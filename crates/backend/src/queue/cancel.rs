//! Canceling a session's runs at its owner's request.
//!
//! A leased run is only *asked* to stop (`canceling`); its worker sees that on its next heartbeat
//! and finishes the cancel with `complete` (outcome `canceled`) or `fail` ([`super::lease`]), or
//! the reaper cancels it when the lease runs out. The caller nudges the manager
//! ([`crate::nudge`]) with the runs asked to stop, so it heartbeats them at once. A queued run
//! never reached a worker and is canceled at once.

use protocol::api::CancelResponse;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::status::working_sql;
use crate::error::ApiResult;

/// Asks every working run of `session_id` to stop and cancels its queued ones, then nudges the
/// manager about the runs asked to stop. The caller checks that the session is the requester's.
pub async fn cancel_session(
    pool: &PgPool,
    nudger: &crate::nudge::Nudger,
    session_id: Uuid,
) -> ApiResult<CancelResponse> {
    // Active runs first (no session lock needed), then queued ones (whose end takes the session
    // lock in the trigger): the same lock order as event ingestion, so the two never deadlock.
    let stopping = stop_working(&mut *pool.acquire().await?, session_id).await?;
    nudger.runs(&stopping);
    let canceling = stopping.len() as i64;
    let canceled: i64 = sqlx::query_scalar(
        "WITH c AS (UPDATE runs SET status = 'canceled', finished_at = now(),
                           error = 'canceled before it started'
                     WHERE session_id = $1 AND status = 'queued' RETURNING 1)
         SELECT count(*) FROM c",
    )
    .bind(session_id)
    .fetch_one(pool)
    .await?;
    for _ in 0..canceled {
        crate::metrics::record_final("canceled", None, false);
    }
    tracing::info!(%session_id, canceled, canceling, "cancel requested");
    Ok(CancelResponse {
        canceled,
        canceling,
    })
}

/// Asks the working runs of `session_id` to stop (`claimed`/`running` → `canceling`), leaving
/// its queued ones; returns their ids. Takes the runs' row locks before the session's (through
/// the trigger), the order event ingestion takes them in.
pub async fn stop_working(conn: &mut PgConnection, session_id: Uuid) -> ApiResult<Vec<Uuid>> {
    Ok(sqlx::query_scalar(concat!(
        "UPDATE runs SET status = 'canceling'
          WHERE session_id = $1 AND status IN ",
        working_sql!(),
        " RETURNING id"
    ))
    .bind(session_id)
    .fetch_all(&mut *conn)
    .await?)
}
