//! `/api/v1/internal/*`: the executor managers' side of the queue. Every route requires
//! `X-Internal-Token` ([`InternalCaller`]).

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use protocol::input::{InputAnswers, InputAnswersPoll};
use protocol::internal::{
    ClaimRequest, CompleteRequest, DeletedSessions, EventBatch, ExportReport, FailRequest,
    HeartbeatRequest, IngestResponse, LeaseRef, LeaseStatus, RunAck,
};
use protocol::schedule::{FireRequest, FireResponse};
use uuid::Uuid;

use crate::auth::InternalCaller;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Json, Path, Query};
use crate::queue::{claim, lease};
use crate::schedules;
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/runs/claim", post(claim_run))
        .route("/runs/{id}/heartbeat", post(heartbeat))
        .route("/runs/{id}/start", post(start))
        .route("/runs/{id}/events", post(events))
        .route("/runs/{id}/complete", post(complete))
        .route("/runs/{id}/fail", post(fail))
        .route("/runs/{id}/export", post(export))
        .route("/runs/{id}/input-answers", post(input_answers))
        .route("/schedules/fire", post(fire_schedules))
        .route("/deleted-sessions", get(deleted_sessions))
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct FeedQuery {
    #[serde(default)]
    after: i64,
    #[serde(default = "default_feed_limit")]
    limit: i64,
}

fn default_feed_limit() -> i64 {
    500
}

/// The sessions deleted since `after` ([`crate::deleted_sessions`]).
async fn deleted_sessions(
    State(state): State<AppState>,
    _: InternalCaller,
    Query(q): Query<FeedQuery>,
) -> ApiResult<Json<DeletedSessions>> {
    if q.after < 0 || !(1..=crate::deleted_sessions::MAX_LIMIT).contains(&q.limit) {
        return Err(ApiError::validation(format!(
            "after must be at least 0 and limit between 1 and {}",
            crate::deleted_sessions::MAX_LIMIT
        )));
    }
    Ok(Json(
        crate::deleted_sessions::feed(&state.pool, q.after, q.limit).await?,
    ))
}

/// Turns due scheduled tasks into runs; safe to call from every manager at once
/// ([`crate::schedules`]).
async fn fire_schedules(
    State(state): State<AppState>,
    _: InternalCaller,
    Json(req): Json<FireRequest>,
) -> ApiResult<Json<FireResponse>> {
    if req.worker_id.trim().is_empty() || req.worker_id.len() > 200 {
        return Err(ApiError::validation(
            "worker_id must be 1 to 200 characters",
        ));
    }
    let limit = req.limit.unwrap_or(schedules::DEFAULT_FIRE_LIMIT);
    if !(1..=schedules::MAX_FIRE_LIMIT).contains(&limit) {
        return Err(ApiError::validation(format!(
            "limit must be between 1 and {}",
            schedules::MAX_FIRE_LIMIT
        )));
    }
    let fired = schedules::fire(
        &state.pool,
        &state.catalog,
        limit,
        state.settings.run_max_attempts,
    )
    .await?;
    if !fired.is_empty() {
        state.queue.bump();
    }
    Ok(Json(FireResponse { fired }))
}

async fn claim_run(
    State(state): State<AppState>,
    _: InternalCaller,
    Json(req): Json<ClaimRequest>,
) -> ApiResult<Response> {
    Ok(match claim::claim(&state, &req).await? {
        Some(run) => {
            // Off the response path: the worker does not wait for a metric.
            tokio::spawn(crate::metrics::observe_claim(
                state.pool.clone(),
                run.run_id,
            ));
            Json(run).into_response()
        }
        None => StatusCode::NO_CONTENT.into_response(),
    })
}

async fn heartbeat(
    State(state): State<AppState>,
    _: InternalCaller,
    Path(id): Path<Uuid>,
    Json(req): Json<HeartbeatRequest>,
) -> ApiResult<Json<LeaseStatus>> {
    Ok(Json(
        lease::heartbeat(
            &state.pool,
            id,
            &req.worker_id,
            req.epoch,
            req.lease_seconds,
        )
        .await?,
    ))
}

async fn start(
    State(state): State<AppState>,
    _: InternalCaller,
    Path(id): Path<Uuid>,
    Json(req): Json<LeaseRef>,
) -> ApiResult<Json<LeaseStatus>> {
    Ok(Json(
        lease::start(&state.pool, id, &req.worker_id, req.epoch).await?,
    ))
}

async fn events(
    State(state): State<AppState>,
    _: InternalCaller,
    Path(id): Path<Uuid>,
    Json(batch): Json<EventBatch>,
) -> ApiResult<Json<IngestResponse>> {
    Ok(Json(state.ingester.ingest(id, batch).await?))
}

async fn complete(
    State(state): State<AppState>,
    _: InternalCaller,
    Path(id): Path<Uuid>,
    Json(req): Json<CompleteRequest>,
) -> ApiResult<Json<RunAck>> {
    let ack = lease::complete(&state.pool, id, &req.worker_id, req.epoch, req.outcome).await?;
    tokio::spawn(crate::metrics::observe_finished(state.pool.clone(), id));
    Ok(Json(ack))
}

async fn fail(
    State(state): State<AppState>,
    _: InternalCaller,
    Path(id): Path<Uuid>,
    Json(req): Json<FailRequest>,
) -> ApiResult<Json<RunAck>> {
    let ack = lease::fail(
        &state.pool,
        id,
        &req.worker_id,
        req.epoch,
        &req.error,
        req.retryable,
        state.settings.run_retry_backoff_seconds,
    )
    .await?;
    if ack.status.is_terminal() {
        tokio::spawn(crate::metrics::observe_finished(state.pool.clone(), id));
    }
    Ok(Json(ack))
}

/// The manager's long-poll for its run's answers ([`crate::input_requests::poll`]).
async fn input_answers(
    State(state): State<AppState>,
    _: InternalCaller,
    Path(id): Path<Uuid>,
    Json(req): Json<InputAnswersPoll>,
) -> ApiResult<Json<InputAnswers>> {
    Ok(Json(
        crate::input_requests::poll::poll(&state, id, &req).await?,
    ))
}

async fn export(
    State(state): State<AppState>,
    _: InternalCaller,
    Path(id): Path<Uuid>,
    Json(report): Json<ExportReport>,
) -> ApiResult<StatusCode> {
    crate::exports::record(&state.pool, id, &report).await?;
    Ok(StatusCode::NO_CONTENT)
}
