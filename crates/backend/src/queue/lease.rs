//! What a worker does with a run it holds: start, heartbeat, complete, fail (which also finishes a
//! cancel: a `canceling` run ends `canceled` either way). Every call is fenced by
//! `(worker_id, epoch)` ([`super::fence`]); a stale one gets `409 lease_lost` and changes nothing.

use chrono::{DateTime, Utc};
use protocol::internal::{Completion, LeaseStatus, RunAck};
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
    let done = [Completion {
        run_id,
        epoch,
        outcome,
    }];
    let mut results = complete_many(pool, worker, &done).await?;
    results.pop().unwrap_or(Err(ApiError::NotFound("run")))
}

fn final_status(outcome: RunOutcome) -> RunStatus {
    match outcome {
        RunOutcome::Completed => RunStatus::Completed,
        RunOutcome::Canceled => RunStatus::Canceled,
    }
}

/// Ends every run of `done` the worker holds (as [`complete`] does each) in one statement (and,
/// for several, their sessions' bookkeeping in two more, [`keep_sessions`], all in one
/// transaction); one answer per run, in `done`'s order: its status now, or why nothing changed
/// (`not_found`, `lease_lost`). Each run may appear once.
pub async fn complete_many(
    pool: &PgPool,
    worker: &str,
    done: &[Completion],
) -> ApiResult<Vec<ApiResult<RunAck>>> {
    let mut seen = std::collections::HashSet::with_capacity(done.len());
    if let Some(twice) = done.iter().find(|c| !seen.insert(c.run_id)) {
        return Err(ApiError::validation(format!(
            "run {} appears twice in the completions",
            twice.run_id
        )));
    }
    let ids: Vec<Uuid> = done.iter().map(|c| c.run_id).collect();
    let epochs: Vec<i64> = done.iter().map(|c| c.epoch).collect();
    let statuses: Vec<&str> = done
        .iter()
        .map(|c| final_status(c.outcome).as_str())
        .collect();
    // One run (what a manager sends as each run ends) is one statement, its session kept by the
    // row trigger; several are one transaction whose bookkeeping is set-based ([`keep_sessions`]),
    // the trigger skipping them. Measured both ways (docs/benchmarks.md): the transaction's four
    // more round trips halve the throughput of single completions, and repay them from 16 runs.
    let rows = if done.len() == 1 {
        end_runs(pool, &ids, &epochs, &statuses, worker).await?
    } else {
        let mut tx = pool.begin().await?;
        sqlx::query("SELECT set_config('workcell.run_bookkeeping', 'statement', true)")
            .execute(&mut *tx)
            .await?;
        let rows = end_runs(&mut *tx, &ids, &epochs, &statuses, worker).await?;
        if !rows.is_empty() {
            keep_sessions(&mut tx, &rows).await?;
        }
        tx.commit().await?;
        rows
    };
    let mut ended: std::collections::HashMap<Uuid, String> =
        std::collections::HashMap::with_capacity(rows.len());
    for row in rows {
        crate::metrics::record_final(&row.status, row.ran, row.dead);
        ended.insert(row.id, row.status);
    }
    // Why the others changed nothing: unknown (404) or not leased to the caller (409).
    let missing: Vec<Uuid> = ids
        .iter()
        .copied()
        .filter(|id| !ended.contains_key(id))
        .collect();
    let mut refused: std::collections::HashMap<Uuid, (String, i64)> = if missing.is_empty() {
        Default::default()
    } else {
        sqlx::query_as::<_, (Uuid, String, i64)>(
            "SELECT id, status, lease_epoch FROM runs WHERE id = ANY($1)",
        )
        .bind(&missing)
        .fetch_all(pool)
        .await?
        .into_iter()
        .map(|(id, status, epoch)| (id, (status, epoch)))
        .collect()
    };
    Ok(ids
        .into_iter()
        .map(|run_id| match ended.remove(&run_id) {
            Some(s) => Ok(RunAck {
                run_id,
                status: parse_status(&s)?,
            }),
            None => match refused.remove(&run_id) {
                Some((status, epoch)) => Err(super::fence::lease_lost(&status, epoch)),
                None => Err(ApiError::NotFound("run")),
            },
        })
        .collect())
}

/// A run [`complete_many`] ended, with what its session's bookkeeping needs.
#[derive(sqlx::FromRow)]
struct EndedRow {
    id: Uuid,
    status: String,
    ran: Option<f64>,
    dead: bool,
    session_id: Uuid,
    started: bool,
    lease_holder: Option<String>,
}

/// Ends the runs `ids` (at `epochs`, as `statuses`) that `worker` holds. The run's time running
/// and whether it was dead-lettered come back for the metrics, so counting a finished run costs no
/// further statement; its session, start and holder for [`keep_sessions`].
async fn end_runs<'e>(
    ex: impl sqlx::PgExecutor<'e>,
    ids: &[Uuid],
    epochs: &[i64],
    statuses: &[&str],
    worker: &str,
) -> ApiResult<Vec<EndedRow>> {
    Ok(sqlx::query_as(concat!(
        "UPDATE runs r SET status = x.status, finished_at = now(), lease_expires_at = NULL,
                error = CASE WHEN x.status = 'canceled' THEN 'canceled by its owner' ELSE NULL END
           FROM UNNEST($1::uuid[], $2::bigint[], $3::text[]) AS x(id, epoch, status)
          WHERE r.id = x.id AND r.lease_holder = $4 AND r.lease_epoch = x.epoch
            AND r.status IN ",
        super::status::leased_sql!(),
        " RETURNING r.id, r.status, EXTRACT(EPOCH FROM (r.finished_at - r.started_at))::float8 AS ran,
                    r.dead_lettered_at IS NOT NULL AS dead, r.session_id, r.started_at IS NOT NULL AS started,
                    r.lease_holder"
    ))
    .bind(ids)
    .bind(epochs)
    .bind(statuses)
    .bind(worker)
    .fetch_all(ex)
    .await?)
}

/// What `runs_after_change` does for an ended run, for all the runs a completion ended at once:
/// with their sessions locked (after the runs, the trigger's order, so a cancel racing a
/// completion cannot deadlock with it; in a statement of their own, so that the next one sees
/// what a follow-up enqueued meanwhile committed), a session left with nothing running or ready
/// gets its next queued run readied (reserved for the ended run's manager when that run had
/// started: its workspace changed there), and each session's status follows its runs.
async fn keep_sessions(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    ended: &[EndedRow],
) -> ApiResult<()> {
    let sessions: Vec<Uuid> = ended.iter().map(|r| r.session_id).collect();
    let started: Vec<bool> = ended.iter().map(|r| r.started).collect();
    let holders: Vec<Option<String>> = ended.iter().map(|r| r.lease_holder.clone()).collect();
    sqlx::query("SELECT 1 FROM sessions WHERE id = ANY($1) ORDER BY id FOR UPDATE")
        .bind(&sessions)
        .execute(&mut **tx)
        .await?;
    sqlx::query(
        "WITH ended AS (
             SELECT * FROM UNNEST($1::uuid[], $2::bool[], $3::text[]) AS e(session_id, started, holder)
         ), next AS (
             SELECT DISTINCT ON (r.session_id) r.id, e.started, e.holder
               FROM ended e JOIN runs r ON r.session_id = e.session_id AND r.status = 'queued'
              WHERE NOT EXISTS (
                        SELECT 1 FROM runs a
                         WHERE a.session_id = e.session_id
                           AND (a.status IN ('claimed', 'running', 'canceling')
                                OR (a.status = 'queued' AND a.ready)))
              ORDER BY r.session_id, r.queue_pos
         ), readied AS (
             UPDATE runs r SET ready = true, ready_at = now(),
                               affinity = CASE WHEN n.started THEN n.holder ELSE r.affinity END
               FROM next n
              WHERE r.id = n.id
          RETURNING r.id
         ), statuses AS (
             UPDATE sessions s SET status = x.status, updated_at = now()
               FROM (SELECT e.session_id,
                            COALESCE(
                                (SELECT CASE a.status WHEN 'claimed' THEN 'running' ELSE a.status END
                                   FROM runs a
                                  WHERE a.session_id = e.session_id
                                    AND a.status IN ('queued', 'claimed', 'running', 'canceling')
                                  ORDER BY a.queue_pos LIMIT 1),
                                (SELECT a.status FROM runs a
                                  WHERE a.session_id = e.session_id
                                  ORDER BY a.queue_pos DESC LIMIT 1)) AS status
                       FROM ended e) x
              WHERE s.id = x.session_id AND s.status IS DISTINCT FROM x.status
         )
         SELECT CASE WHEN EXISTS (SELECT 1 FROM readied) THEN pg_notify('run_queue', '') END",
    )
    .bind(&sessions)
    .bind(&started)
    .bind(&holders)
    .execute(&mut **tx)
    .await?;
    Ok(())
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
