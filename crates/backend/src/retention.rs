//! Retention: old events and inactive sessions are deleted by a periodic job, in small batches.
//!
//! * `RETENTION_EVENTS_DAYS`: events stored longer ago than this are deleted, except those of a
//!   session with an *active* run (queued, claimed, running or canceling).
//! * `RETENTION_SESSIONS_DAYS`: a session whose last change and every run's creation and end are
//!   older than this, and that has no active run, is deleted with its runs, events, usage and
//!   export records; its S3 objects (everything under `workspaces/{session_id}/`) are deleted
//!   first through an [`ObjectStore`]. When the deletion of objects fails the session is kept
//!   and retried at the next pass, so no object is ever orphaned.
//!
//! * Retired skill versions (`skill_versions_retired`: replaced or deleted skills): their objects
//!   are deleted once no active run's snapshot names the version, then the row
//!   ([`crate::capabilities::skills::sweep_retired`]). This part runs whenever there is an object
//!   store, whatever the day settings.
//!
//! * Submit ids (`task_requests`, what a `client_request_id` queued) older than a day
//!   ([`TASK_REQUEST_DAYS`]): a retry after that queues anew. Swept at every pass.
//!
//! Zero keeps everything. Each statement handles at most `RETENTION_BATCH_SIZE` rows (events) or
//! sessions and the job repeats until a pass finds nothing, so it never holds long locks. Sessions
//! are deleted under their row lock, re-checking inactivity in the same statement: a follow-up
//! task (`POST /tasks` takes the same lock) either comes first and keeps the session, or waits
//! and finds it gone.
//!
//! # Objects
//! The job needs only "delete everything under a prefix", the [`ObjectStore`] trait; the process
//! passes the `S3_*` bucket ([`objstore::Bucket`], which lists and batch-deletes). Without a store, sessions
//! that have export records (and therefore objects) are never deleted; sessions without any are.

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::config::Settings;

/// The statuses of an active run; a session with one is never touched.
const ACTIVE: &str = crate::queue::status::ACTIVE_SQL;

/// Deletes objects; implemented by [`objstore::Bucket`].
pub trait ObjectStore: Send + Sync + 'static {
    /// Deletes every object whose key starts with `prefix`; returns how many were deleted.
    fn delete_prefix<'a>(&'a self, prefix: &'a str) -> BoxFuture<'a, Result<u64, String>>;
}

impl ObjectStore for objstore::Bucket {
    fn delete_prefix<'a>(&'a self, prefix: &'a str) -> BoxFuture<'a, Result<u64, String>> {
        Box::pin(async move {
            objstore::Bucket::delete_prefix(self, prefix)
                .await
                .map_err(|e| e.to_string())
        })
    }
}

/// What the job keeps and how it works.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    pub events_days: u32,
    pub sessions_days: u32,
    pub interval: Duration,
    pub batch: u32,
}

impl Policy {
    pub fn from_settings(s: &Settings) -> Self {
        Self {
            events_days: s.retention_events_days,
            sessions_days: s.retention_sessions_days,
            interval: Duration::from_secs(s.retention_interval_seconds),
            batch: s.retention_batch_size,
        }
    }
}

/// What one pass deleted.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Deleted {
    pub events: u64,
    pub sessions: u64,
    /// Retired skill versions whose objects were deleted.
    pub skill_versions: u64,
    /// Forgotten submit ids.
    pub task_requests: u64,
}

/// How long a submit's `client_request_id` is remembered.
pub const TASK_REQUEST_DAYS: i32 = 1;

/// Deletes one batch of submit ids older than [`TASK_REQUEST_DAYS`].
pub async fn delete_task_requests_batch(pool: &PgPool, batch: u32) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query(
        "DELETE FROM task_requests t USING (
             SELECT user_id, client_request_id FROM task_requests
              WHERE created_at < now() - make_interval(days => $1)
              LIMIT $2) d
          WHERE t.user_id = d.user_id AND t.client_request_id = d.client_request_id",
    )
    .bind(TASK_REQUEST_DAYS)
    .bind(i64::from(batch))
    .execute(pool)
    .await?
    .rows_affected())
}

/// Deletes one batch of old events outside active sessions.
pub async fn delete_events_batch(pool: &PgPool, days: u32, batch: u32) -> Result<u64, sqlx::Error> {
    let sql = sqlx::AssertSqlSafe(format!(
        "DELETE FROM events e USING (
             SELECT ev.session_id, ev.seq FROM events ev
              WHERE ev.stored_at < now() - make_interval(days => $1)
                AND NOT EXISTS (SELECT 1 FROM runs r
                                 WHERE r.session_id = ev.session_id AND r.status IN {ACTIVE})
              LIMIT $2) d
          WHERE e.session_id = d.session_id AND e.seq = d.seq"
    ));
    Ok(sqlx::query(sql)
        .bind(i32::try_from(days).unwrap_or(i32::MAX))
        .bind(i64::from(batch))
        .execute(pool)
        .await?
        .rows_affected())
}

/// The condition "session `s` has been inactive for `$1` days".
fn inactive_sql() -> String {
    format!(
        "s.updated_at < now() - make_interval(days => $1)
         AND s.created_at < now() - make_interval(days => $1)
         AND NOT EXISTS (SELECT 1 FROM runs r WHERE r.session_id = s.id
                           AND (r.status IN {ACTIVE}
                                OR r.created_at >= now() - make_interval(days => $1)
                                OR r.finished_at >= now() - make_interval(days => $1)))"
    )
}

/// Deletes one batch of inactive sessions (objects first). Returns how many sessions were deleted.
pub async fn delete_sessions_batch(
    pool: &PgPool,
    days: u32,
    batch: u32,
    store: Option<&dyn ObjectStore>,
) -> Result<u64, sqlx::Error> {
    let days = i32::try_from(days).unwrap_or(i32::MAX);
    let mut tx = pool.begin().await?;
    // Lock a batch of candidates; sessions another transaction holds are skipped this pass.
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT s.id, EXISTS (SELECT 1 FROM run_exports x JOIN runs r ON r.id = x.run_id
                               WHERE r.session_id = s.id) AS has_objects
           FROM sessions s
          WHERE {}
          ORDER BY s.updated_at
          LIMIT $2
            FOR UPDATE OF s SKIP LOCKED",
        inactive_sql()
    ));
    let candidates: Vec<(Uuid, bool)> = sqlx::query_as(sql)
        .bind(days)
        .bind(i64::from(batch))
        .fetch_all(&mut *tx)
        .await?;
    let mut doomed = Vec::with_capacity(candidates.len());
    for (session, has_objects) in candidates {
        if !has_objects {
            doomed.push(session);
            continue;
        }
        let Some(store) = store else {
            tracing::debug!(session_id = %session, "kept: it has objects and no object store is configured");
            continue;
        };
        match store
            .delete_prefix(&objstore::keys::workspace_prefix(session))
            .await
        {
            Ok(n) => {
                tracing::info!(session_id = %session, objects = n, "retention deleted a session's objects");
                doomed.push(session);
            }
            Err(e) => {
                tracing::warn!(session_id = %session, error = %e, "retention could not delete a session's objects; kept for the next pass");
            }
        }
    }
    if doomed.is_empty() {
        tx.commit().await?;
        return Ok(0);
    }
    let sql = sqlx::AssertSqlSafe(format!(
        "DELETE FROM sessions s WHERE s.id = ANY($2) AND {}",
        inactive_sql()
    ));
    let n = sqlx::query(sql)
        .bind(days)
        .bind(&doomed)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    tx.commit().await?;
    Ok(n)
}

/// One full pass: batches until nothing is left (or `shutdown`).
pub async fn run_once(
    pool: &PgPool,
    policy: Policy,
    store: Option<&dyn ObjectStore>,
    shutdown: &CancellationToken,
) -> Result<Deleted, sqlx::Error> {
    let mut total = Deleted::default();
    loop {
        let n = delete_task_requests_batch(pool, policy.batch).await?;
        total.task_requests += n;
        if n < u64::from(policy.batch) || shutdown.is_cancelled() {
            break;
        }
    }
    loop {
        let n = crate::deleted_sessions::prune_batch(pool, policy.batch).await?;
        if n < u64::from(policy.batch) || shutdown.is_cancelled() {
            break;
        }
    }
    if let Some(store) = store {
        loop {
            let n = crate::capabilities::skills::sweep_retired(pool, store, policy.batch).await?;
            total.skill_versions += n;
            telemetry::metrics::retention_deleted("skill_versions", n);
            if n < u64::from(policy.batch) || shutdown.is_cancelled() {
                break;
            }
        }
    }
    if policy.sessions_days > 0 {
        loop {
            let n = delete_sessions_batch(pool, policy.sessions_days, policy.batch, store).await?;
            total.sessions += n;
            telemetry::metrics::retention_deleted("sessions", n);
            if n < u64::from(policy.batch) || shutdown.is_cancelled() {
                break;
            }
        }
    }
    if policy.events_days > 0 {
        loop {
            let n = delete_events_batch(pool, policy.events_days, policy.batch).await?;
            total.events += n;
            telemetry::metrics::retention_deleted("events", n);
            if n < u64::from(policy.batch) || shutdown.is_cancelled() {
                break;
            }
            // Leave room for the live traffic between batches.
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    Ok(total)
}

/// Runs the job every `policy.interval` until `shutdown` (always: submit ids are forgotten after
/// a day whatever the policy).
pub fn spawn(
    pool: PgPool,
    policy: Policy,
    store: Option<Arc<dyn ObjectStore>>,
    shutdown: CancellationToken,
) -> Option<tokio::task::JoinHandle<()>> {
    // Submit ids are swept at every pass, whatever the policy.
    Some(tokio::spawn(async move {
        let mut tick = tokio::time::interval(policy.interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tick.tick() => {}
            }
            match run_once(&pool, policy, store.as_deref(), &shutdown).await {
                Ok(d) if d != Deleted::default() => {
                    tracing::info!(
                        events = d.events,
                        sessions = d.sessions,
                        skill_versions = d.skill_versions,
                        task_requests = d.task_requests,
                        "retention pass done"
                    )
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "retention pass failed; retrying at the next tick")
                }
            }
        }
    }))
}
