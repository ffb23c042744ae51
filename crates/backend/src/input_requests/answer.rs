//! `POST /input-requests/{id}/answer`: the owner's answer, decided by one conditional update.
//!
//! The update sets the answer only while the request is `pending` and `expires_at` is still
//! ahead, so of two answers at once exactly one wins (the other finds it answered: `409
//! already_answered`), and an answer after the expiry or the run's end is refused (`410
//! request_expired`; a request found past its time is marked `expired`). The answer's effects on
//! the session — a tool allowed for good (`always`), the mode a plan's approval switches to (also
//! for follow-ups already queued that named no mode) —
//! commit in the same transaction, and so does the wake-up of the manager's long-poll
//! ([`super::notify`]).

use chrono::{DateTime, Utc};
use protocol::ErrorCode;
use protocol::PermissionMode;
use protocol::input::{
    AnswerInputRequest, InputAnswer, InputDecision, InputKind, InputOutcome, InputRequest,
    InputRequestView,
};
use sqlx::PgPool;
use sqlx::types::Json;
use uuid::Uuid;

use super::{COLUMNS, Row};
use crate::error::{ApiError, ApiResult};

/// The longest message, and the longest answer to one question, in characters.
pub const MAX_TEXT_CHARS: usize = 10_000;

/// Why `body` cannot answer a request of `kind` asking `req`, if it cannot.
pub fn problem(req: &InputRequest, body: &AnswerInputRequest) -> Option<String> {
    let kind = req.kind;
    if body
        .message
        .as_ref()
        .is_some_and(|m| m.chars().count() > MAX_TEXT_CHARS)
    {
        return Some(format!(
            "message must be at most {MAX_TEXT_CHARS} characters"
        ));
    }
    if !body.answers.is_empty() {
        if kind != InputKind::Question {
            return Some(format!(
                "answers are for question requests; this one is a {} request",
                kind.as_str()
            ));
        }
        for (question, answer) in &body.answers {
            if !req.questions.iter().any(|q| &q.question == question) {
                return Some(format!("answers names `{question}`, which was not asked"));
            }
            if answer.chars().count() > MAX_TEXT_CHARS {
                return Some(format!(
                    "the answer to `{question}` must be at most {MAX_TEXT_CHARS} characters"
                ));
            }
        }
    }
    if let Some(input) = &body.updated_input {
        if kind != InputKind::Permission {
            return Some(format!(
                "updated_input is for permission requests; this one is a {} request",
                kind.as_str()
            ));
        }
        if !input.is_object() {
            return Some("updated_input must be a JSON object (the tool's input)".into());
        }
    }
    if let Some(mode) = body.mode {
        if kind != InputKind::Plan {
            return Some(format!(
                "mode is for plan requests; this one is a {} request",
                kind.as_str()
            ));
        }
        if mode == PermissionMode::Plan {
            return Some(
                "mode must be acceptEdits, bypassPermissions or default (approving a plan leaves plan mode)"
                    .into(),
            );
        }
    }
    if body.always && kind != InputKind::Permission {
        return Some(format!(
            "always is for permission requests; this one is a {} request",
            kind.as_str()
        ));
    }
    None
}

/// The stored answer: the body as given, by `email`, now.
pub fn answer_of(
    request_id: Uuid,
    body: &AnswerInputRequest,
    email: &str,
    at: DateTime<Utc>,
) -> InputAnswer {
    let allow = body.decision == InputDecision::Allow;
    InputAnswer {
        request_id,
        outcome: InputOutcome::Answered,
        decision: body.decision,
        message: body.message.clone(),
        updated_input: body.updated_input.clone(),
        answers: body.answers.clone(),
        always: body.always && allow,
        mode: body.mode,
        answered_by: Some(email.to_owned()),
        answered_at: at,
    }
}

#[derive(sqlx::FromRow)]
struct Found {
    run_id: Uuid,
    session_id: Uuid,
    request: Json<InputRequest>,
}

/// Answers request `id` of `user` (whose email is `email`).
pub async fn answer(
    pool: &PgPool,
    user: Uuid,
    email: &str,
    id: Uuid,
    body: &AnswerInputRequest,
) -> ApiResult<InputRequestView> {
    let found: Option<Found> = sqlx::query_as(
        "SELECT run_id, session_id, request FROM input_requests WHERE id = $1 AND user_id = $2",
    )
    .bind(id)
    .bind(user)
    .fetch_optional(pool)
    .await?;
    let found = found.ok_or(ApiError::NotFound("input request"))?;
    let req = &found.request.0;
    if let Some(problem) = problem(req, body) {
        return Err(ApiError::validation(problem));
    }
    let allow = body.decision == InputDecision::Allow;
    let mut answer = answer_of(id, body, email, Utc::now());
    // A plan approved without a mode switches to acceptEdits; the executor gets the mode named.
    let plan_mode = (allow && req.kind == InputKind::Plan)
        .then(|| body.mode.unwrap_or(PermissionMode::AcceptEdits));
    if plan_mode.is_some() {
        answer.mode = plan_mode;
    }
    let always_tool =
        (answer.always && req.kind == InputKind::Permission).then_some(&req.tool_name);

    let mut tx = pool.begin().await?;
    if plan_mode.is_some() || always_tool.is_some() {
        // The session before the request, the order event ingestion locks them in.
        sqlx::query("SELECT 1 FROM sessions WHERE id = $1 FOR UPDATE")
            .bind(found.session_id)
            .execute(&mut *tx)
            .await?;
    }
    let sql = sqlx::AssertSqlSafe(format!(
        "UPDATE input_requests i
            SET status = 'answered', answer = $2, answered_by = $3, answered_at = $4
          WHERE i.id = $1 AND i.status = 'pending' AND i.expires_at > now()
            AND EXISTS (SELECT 1 FROM runs r WHERE r.id = i.run_id
                          AND r.status IN ('claimed', 'running'))
      RETURNING {COLUMNS}"
    ));
    let row: Option<Row> = sqlx::query_as(sql)
        .bind(id)
        .bind(Json(&answer))
        .bind(user)
        .bind(answer.answered_at)
        .fetch_optional(&mut *tx)
        .await?;
    let Some(row) = row else {
        tx.rollback().await?;
        return Err(refusal(pool, id, found.run_id).await);
    };
    if let Some(tool) = always_tool {
        sqlx::query(
            "UPDATE sessions SET allowed_tools = array_append(allowed_tools, $2)
              WHERE id = $1 AND NOT ($2 = ANY (allowed_tools))",
        )
        .bind(found.session_id)
        .bind(tool)
        .execute(&mut *tx)
        .await?;
    }
    if let Some(mode) = plan_mode {
        sqlx::query("UPDATE sessions SET permission_mode = $2 WHERE id = $1")
            .bind(found.session_id)
            .bind(mode.as_cli_flag())
            .execute(&mut *tx)
            .await?;
        // Follow-ups already queued that named no mode take the approved one too (a follow-up
        // queued with a mode of its own keeps it). Only their options change, not their state.
        sqlx::query(
            "UPDATE runs SET options = jsonb_set(options, '{permission_mode}', to_jsonb($2::text))
              WHERE session_id = $1 AND status = 'queued'
                AND (options->>'permission_mode_inherited')::boolean IS TRUE",
        )
        .bind(found.session_id)
        .bind(mode.as_cli_flag())
        .execute(&mut *tx)
        .await?;
    }
    sqlx::query("SELECT pg_notify('input_answers', $1)")
        .bind(found.run_id.to_string())
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    tracing::info!(request_id = %id, run_id = %found.run_id, decision = ?body.decision, "input request answered");
    row.into_view()
}

/// Why the answer's update matched nothing: answered already (409), or over (410; a request
/// still pending past its time is marked expired on the way).
async fn refusal(pool: &PgPool, id: Uuid, run_id: Uuid) -> ApiError {
    let now = Utc::now();
    let expired =
        InputAnswer::unanswered(id, InputOutcome::Expired, "nobody answered in time", now);
    let marked: Result<Option<String>, sqlx::Error> = sqlx::query_scalar(
        "WITH e AS (
             UPDATE input_requests SET status = 'expired', answer = $2, answered_at = $3
              WHERE id = $1 AND status = 'pending' AND expires_at <= now()
          RETURNING status, pg_notify('input_answers', $4))
         SELECT COALESCE((SELECT status FROM e), (SELECT status FROM input_requests WHERE id = $1))",
    )
    .bind(id)
    .bind(Json(&expired))
    .bind(now)
    .bind(run_id.to_string())
    .fetch_optional(pool)
    .await;
    match marked {
        Ok(Some(s)) if s == "answered" => ApiError::conflict(
            ErrorCode::AlreadyAnswered,
            "this request was already answered",
        ),
        Ok(Some(s)) if s == "canceled" => gone("the run ended before this answer"),
        Ok(Some(s)) if s == "pending" => gone("the run is no longer running"),
        Ok(_) => gone("the request expired before this answer"),
        Err(e) => e.into(),
    }
}

fn gone(message: &str) -> ApiError {
    ApiError::Gone {
        code: ErrorCode::RequestExpired,
        message: message.to_owned(),
    }
}
