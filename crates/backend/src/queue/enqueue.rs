//! Enqueuing: the one statement that creates runs. Callers (`crate::tasks::queue`, shared by
//! `POST /tasks`, scheduled fires and "run now") own the session and the transaction.

use protocol::schedule::RunKind;
use sqlx::PgConnection;
use uuid::Uuid;

use super::status::active_sql;
use crate::error::ApiResult;

/// A run to create, queued in its session's line.
#[derive(Debug, Clone)]
pub struct NewRun<'a> {
    pub session_id: Uuid,
    pub prompt: &'a str,
    /// `runs.options` (a serialised [`crate::runs::RunOptions`]).
    pub options: &'a serde_json::Value,
    /// `runs.capabilities` (a serialised `protocol::capabilities::CapabilitySnapshot`).
    pub capabilities: &'a serde_json::Value,
    pub max_attempts: i32,
    pub kind: RunKind,
    pub scheduled_task_id: Option<Uuid>,
}

/// Inserts a `queued` run and returns its id. The run is reserved (`runs.affinity`) for the
/// manager that ran the session's latest started run, from `ready_at` for
/// `SESSION_AFFINITY_SECONDS` (a follow-up queued behind an active run gets both anew from the
/// `runs_after_change` trigger when it becomes ready).
///
/// The caller must hold the session's row lock (or have created the session in this
/// transaction): the run is ready (claimable) only when no earlier run of its session is
/// active, and the trigger decides the readiness of the next run under the same lock, so a
/// follow-up and the end of the run before it can never both miss each other. The caller
/// commits, then wakes claimers (`state.queue.bump()`); the trigger notifies other replicas.
pub async fn enqueue(tx: &mut PgConnection, run: &NewRun<'_>) -> ApiResult<Uuid> {
    let run_id = Uuid::now_v7();
    sqlx::query(concat!(
        "INSERT INTO runs (id, session_id, prompt, options, capabilities, max_attempts, kind,
                           scheduled_task_id, ready, ready_at, affinity)
         VALUES ($1, $2, $3, $4, $8, $5, $6, $7, NOT EXISTS (
             SELECT 1 FROM runs WHERE session_id = $2
                AND status IN ",
        active_sql!(),
        "), now(), (SELECT lease_holder FROM runs WHERE session_id = $2 AND started_at IS NOT NULL
                     ORDER BY started_at DESC LIMIT 1))"
    ))
    .bind(run_id)
    .bind(run.session_id)
    .bind(run.prompt)
    .bind(run.options)
    .bind(run.max_attempts)
    .bind(run.kind.as_str())
    .bind(run.scheduled_task_id)
    .bind(run.capabilities)
    .execute(&mut *tx)
    .await?;
    Ok(run_id)
}
