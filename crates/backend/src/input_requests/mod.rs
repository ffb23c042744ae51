//! Input requests: what a run waits on from a person (a permission, a question, a plan), kept
//! as rows of `input_requests` whose state follows the run's events and its owner's answers.
//!
//! # States
//! `pending` → `answered` (the owner, [`answer`]) | `expired` (the executor's `input_answer`
//! event of outcome `expired`, or an answer that came after `expires_at`) | `canceled` (the run
//! left its worker: the `runs_cancel_input_requests` trigger, or a terminal event). Only a
//! pending row changes, so the first of these wins and the others find it decided.
//!
//! # Delivery
//! Answers reach the run through the manager's long-poll ([`poll`]), woken through
//! [`notify`]. The manager names the requests it delivered; the executor ignores a second
//! answer to a request, so delivery is at-least-once.

pub mod answer;
pub mod notify;
pub mod poll;

use chrono::{DateTime, Utc};
use protocol::input::{
    InputAnswer, InputOutcome, InputRequest, InputRequestStatus, InputRequestView,
};
use sqlx::types::Json;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};

/// Stores an `input_request` event of `run_id` as a pending request (its run's session and
/// user). `created_at` is the clock's, not the transaction's: requests stored by one event group
/// keep their order. A request id already stored — the same event delivered again, or an id another run
/// used — is left as it is.
pub async fn record_request(
    tx: &mut PgConnection,
    run_id: Uuid,
    req: &InputRequest,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO input_requests (id, run_id, session_id, user_id, kind, tool_name, request,
                                     expires_at, created_at)
         SELECT $1, r.id, r.session_id, s.user_id, $3, $4, $5, $6, clock_timestamp()
           FROM runs r JOIN sessions s ON s.id = r.session_id
          WHERE r.id = $2
         ON CONFLICT (id) DO NOTHING",
    )
    .bind(req.request_id)
    .bind(run_id)
    .bind(req.kind.as_str())
    .bind(&req.tool_name)
    .bind(Json(req))
    .bind(req.expires_at)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Applies an `input_answer` event of `run_id`: an expiry or a cancel the executor reports
/// settles a still-pending request (an answered one stays answered); the owner's answers were
/// stored when they were given.
pub async fn record_outcome(
    tx: &mut PgConnection,
    run_id: Uuid,
    answer: &InputAnswer,
) -> Result<(), sqlx::Error> {
    let status = match answer.outcome {
        InputOutcome::Answered => return Ok(()),
        InputOutcome::Expired => InputRequestStatus::Expired,
        InputOutcome::Canceled => InputRequestStatus::Canceled,
    };
    sqlx::query(
        "WITH s AS (
             UPDATE input_requests SET status = $3, answer = $4, answered_at = $5
              WHERE id = $1 AND run_id = $2 AND status = 'pending'
          RETURNING run_id)
         SELECT pg_notify('input_answers', run_id::text) FROM s",
    )
    .bind(answer.request_id)
    .bind(run_id)
    .bind(status.as_str())
    .bind(Json(answer))
    .bind(answer.answered_at)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Cancels every pending request of `run_id` (its terminal event arrived).
pub async fn cancel_pending(tx: &mut PgConnection, run_id: Uuid) -> Result<(), sqlx::Error> {
    let now = Utc::now();
    let ids: Vec<Uuid> = sqlx::query_scalar(
        "SELECT id FROM input_requests WHERE run_id = $1 AND status = 'pending' FOR UPDATE",
    )
    .bind(run_id)
    .fetch_all(&mut *tx)
    .await?;
    for id in ids {
        let answer = InputAnswer::unanswered(
            id,
            InputOutcome::Canceled,
            "the run ended before an answer",
            now,
        );
        record_outcome(tx, run_id, &answer).await?;
    }
    Ok(())
}

/// The columns [`Row`] reads.
const COLUMNS: &str = "id, run_id, session_id, status, request, answer, created_at";

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    run_id: Uuid,
    session_id: Uuid,
    status: String,
    request: Json<InputRequest>,
    answer: Option<Json<InputAnswer>>,
    created_at: DateTime<Utc>,
}

impl Row {
    fn into_view(self) -> ApiResult<InputRequestView> {
        let status = InputRequestStatus::parse(&self.status).ok_or_else(|| {
            ApiError::Internal(format!("stored input request status `{}`", self.status))
        })?;
        Ok(InputRequestView {
            id: self.id,
            run_id: self.run_id,
            session_id: self.session_id,
            status,
            request: self.request.0,
            answer: self.answer.map(|a| a.0),
            created_at: self.created_at,
        })
    }
}

/// The requests of a session (the caller checked its owner), oldest first, optionally of one
/// status.
pub async fn list(
    pool: &PgPool,
    session_id: Uuid,
    status: Option<InputRequestStatus>,
) -> ApiResult<Vec<InputRequestView>> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM input_requests
          WHERE session_id = $1 AND ($2::text IS NULL OR status = $2)
          ORDER BY created_at, id"
    ));
    let rows: Vec<Row> = sqlx::query_as(sql)
        .bind(session_id)
        .bind(status.map(InputRequestStatus::as_str))
        .fetch_all(pool)
        .await?;
    rows.into_iter().map(Row::into_view).collect()
}
