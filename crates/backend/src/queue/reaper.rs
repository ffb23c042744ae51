//! The lease reaper: settles runs whose worker stopped renewing its lease.

use std::time::Duration;

use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use super::settle_set;
use super::status::leased_sql;

/// Runs settled per statement; the reaper repeats until none are left.
const BATCH: i64 = 500;

/// Settles up to one batch of expired leases; returns how many were settled.
pub async fn reap_once(pool: &PgPool, backoff_seconds: u64) -> Result<u64, sqlx::Error> {
    let rows: Vec<(uuid::Uuid, String, Option<f64>, bool)> = sqlx::query_as(concat!(
        "UPDATE runs r SET ",
        settle_set!("$1"),
        " FROM (SELECT id,
                   CASE WHEN status = 'canceling' THEN 'canceled'
                        WHEN attempts >= max_attempts THEN 'failed'
                        ELSE 'queued' END AS next,
                   CASE WHEN attempts >= max_attempts AND status <> 'canceling'
                        THEN 'the worker running this run stopped answering (lease expired) on its last attempt ('
                             || attempts || ' of ' || max_attempts || ')'
                        ELSE 'the worker running this run stopped answering (lease expired) on attempt '
                             || attempts || ' of ' || max_attempts END AS msg
              FROM runs
             WHERE status IN ",
        leased_sql!(),
        " AND lease_expires_at < now()
             ORDER BY lease_expires_at
             LIMIT $2
               FOR UPDATE SKIP LOCKED) d
          WHERE r.id = d.id
      RETURNING r.id, r.status, EXTRACT(EPOCH FROM (r.finished_at - r.started_at))::float8,
                r.dead_lettered_at IS NOT NULL"
    ))
    .bind(i64::try_from(backoff_seconds).unwrap_or(i64::MAX))
    .bind(BATCH)
    .fetch_all(pool)
    .await?;
    for (id, status, ran, dead) in &rows {
        tracing::warn!(run_id = %id, %status, dead_lettered = dead, "lease expired");
        crate::metrics::record_final(status, *ran, *dead);
    }
    telemetry::metrics::leases_expired(rows.len() as u64);
    Ok(rows.len() as u64)
}

/// Reaps every `interval` until `shutdown`.
pub fn spawn(
    pool: PgPool,
    interval: Duration,
    backoff_seconds: u64,
    shutdown: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tick.tick() => {}
            }
            loop {
                match reap_once(&pool, backoff_seconds).await {
                    Ok(n) if n as i64 == BATCH => continue,
                    Ok(_) => break,
                    Err(e) => {
                        tracing::warn!(error = %e, "lease reaper failed; retrying at the next tick");
                        break;
                    }
                }
            }
        }
    })
}
