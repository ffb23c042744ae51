//! `/api/v1/internal/*`: the executor managers' side of the queue. Every route requires
//! `X-Internal-Token` ([`InternalCaller`]).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use protocol::ErrorBody;
use protocol::input::{InputAnswers, InputAnswersPoll};
use protocol::internal::{
    ClaimRequest, ClaimedRun, ClaimedRuns, CompleteRequest, CompletionResult, CompletionsRequest,
    CompletionsResponse, DeletedSessions, EventBatch, ExportReport, FailRequest, HeartbeatRequest,
    IngestResponse, LeaseRef, LeaseStatus, MAX_COMPLETIONS, RunAck,
};
use protocol::schedule::{FireRequest, FireResponse};
use uuid::Uuid;

use crate::auth::InternalCaller;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Json, Path, Query};
use crate::queue::{claim, lease};
use crate::schedules;
use crate::state::AppState;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(claim_run))
        .routes(routes!(claim_runs))
        .routes(routes!(heartbeat))
        .routes(routes!(start))
        .routes(routes!(events))
        .routes(routes!(complete))
        .routes(routes!(complete_runs))
        .routes(routes!(fail))
        .routes(routes!(export))
        .routes(routes!(input_answers))
        .routes(routes!(fire_schedules))
        .routes(routes!(deleted_sessions))
}

#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct FeedQuery {
    /// The `next` of the previous answer (0 at first).
    #[serde(default)]
    #[param(default = 0, minimum = 0)]
    after: i64,
    /// Entries per answer, 1 to 1000.
    #[serde(default = "default_feed_limit")]
    #[param(default = 500, minimum = 1, maximum = 1000)]
    limit: i64,
}

fn default_feed_limit() -> i64 {
    500
}

/// The sessions deleted since `after` ([`crate::deleted_sessions`]), for managers to delete
/// their workspace copies.
#[utoipa::path(
    get,
    path = "/api/v1/internal/deleted-sessions",
    operation_id = "internal_deleted_sessions",
    tag = "internal",
    params(FeedQuery),
    responses(
        (status = 200, description = "The feed's entries after `after`.", body = DeletedSessions),
        (status = 422, description = "`after` or `limit` is out of range (`validation_error`).", body = ErrorBody),
    ),
)]
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
#[utoipa::path(
    post,
    path = "/api/v1/internal/schedules/fire",
    operation_id = "internal_fire_schedules",
    tag = "internal",
    request_body = FireRequest,
    responses((status = 200, description = "The runs queued now.", body = FireResponse)),
)]
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

/// Claims the oldest claimable run under a lease, waiting up to `wait_seconds` for one.
#[utoipa::path(
    post,
    path = "/api/v1/internal/runs/claim",
    operation_id = "internal_claim_run",
    tag = "internal",
    request_body = ClaimRequest,
    responses(
        (status = 200, description = "The claimed run, with its lease epoch, inputs, capabilities and secrets.", body = ClaimedRun),
        (status = 204, description = "No run became claimable within `wait_seconds`."),
        (status = 422, description = "A number out of range (`validation_error`), `max_runs` other than 1 included.", body = ErrorBody),
    ),
)]
async fn claim_run(
    State(state): State<AppState>,
    _: InternalCaller,
    Json(req): Json<ClaimRequest>,
) -> ApiResult<Response> {
    Ok(match claim::claim(&state, &req).await? {
        Some(run) => Json(run).into_response(),
        None => StatusCode::NO_CONTENT.into_response(),
    })
}

/// Claims up to `max_runs` runs at once (a manager with that many free slots), oldest first,
/// waiting up to `wait_seconds` until at least one is claimable. With `start`, they are
/// `running` at once (no `POST /runs/{id}/start`).
#[utoipa::path(
    post,
    path = "/api/v1/internal/runs/claims",
    operation_id = "internal_claim_runs",
    tag = "internal",
    request_body = ClaimRequest,
    responses(
        (status = 200, description = "The claimed runs, oldest first; none when no run became claimable within `wait_seconds`.", body = ClaimedRuns),
        (status = 422, description = "A number out of range (`validation_error`).", body = ErrorBody),
    ),
)]
async fn claim_runs(
    State(state): State<AppState>,
    _: InternalCaller,
    Json(req): Json<ClaimRequest>,
) -> ApiResult<Json<ClaimedRuns>> {
    Ok(Json(ClaimedRuns {
        runs: claim::claim_many(&state, &req).await?,
    }))
}

/// Extends the lease and says whether the owner asked to cancel.
#[utoipa::path(
    post,
    path = "/api/v1/internal/runs/{id}/heartbeat",
    operation_id = "internal_heartbeat",
    tag = "internal",
    params(("id" = Uuid, Path, description = "The run's id.")),
    request_body = HeartbeatRequest,
    responses(
        (status = 200, description = "The lease.", body = LeaseStatus),
        (status = 404, description = "No such run (`not_found`).", body = ErrorBody),
        (status = 409, description = "The lease moved on: another claim or an expiry (`lease_lost`); nothing changed.", body = ErrorBody),
    ),
)]
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

/// Marks the claimed run as running.
#[utoipa::path(
    post,
    path = "/api/v1/internal/runs/{id}/start",
    operation_id = "internal_start_run",
    tag = "internal",
    params(("id" = Uuid, Path, description = "The run's id.")),
    request_body = LeaseRef,
    responses(
        (status = 200, description = "The lease.", body = LeaseStatus),
        (status = 404, description = "No such run (`not_found`).", body = ErrorBody),
        (status = 409, description = "The lease moved on: another claim or an expiry (`lease_lost`); nothing changed.", body = ErrorBody),
    ),
)]
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

/// Stores a batch of the run's events (each `(run, epoch, run_seq)` once).
#[utoipa::path(
    post,
    path = "/api/v1/internal/runs/{id}/events",
    operation_id = "internal_ingest_events",
    tag = "internal",
    params(("id" = Uuid, Path, description = "The run's id.")),
    request_body = EventBatch,
    responses(
        (status = 200, description = "Stored (after the commit).", body = IngestResponse),
        (status = 404, description = "No such run (`not_found`).", body = ErrorBody),
        (status = 409, description = "The lease moved on: another claim or an expiry (`lease_lost`); nothing changed.", body = ErrorBody),
    ),
)]
async fn events(
    State(state): State<AppState>,
    _: InternalCaller,
    Path(id): Path<Uuid>,
    Json(batch): Json<EventBatch>,
) -> ApiResult<Json<IngestResponse>> {
    Ok(Json(state.ingester.ingest(id, batch).await?))
}

/// Ends the run as completed (or canceled).
#[utoipa::path(
    post,
    path = "/api/v1/internal/runs/{id}/complete",
    operation_id = "internal_complete_run",
    tag = "internal",
    params(("id" = Uuid, Path, description = "The run's id.")),
    request_body = CompleteRequest,
    responses(
        (status = 200, description = "The run's status now.", body = RunAck),
        (status = 404, description = "No such run (`not_found`).", body = ErrorBody),
        (status = 409, description = "The lease moved on: another claim or an expiry (`lease_lost`); nothing changed.", body = ErrorBody),
    ),
)]
async fn complete(
    State(state): State<AppState>,
    _: InternalCaller,
    Path(id): Path<Uuid>,
    Json(req): Json<CompleteRequest>,
) -> ApiResult<Json<RunAck>> {
    Ok(Json(
        lease::complete(&state.pool, id, &req.worker_id, req.epoch, req.outcome).await?,
    ))
}

/// Ends several runs the worker holds in one transaction, each as `POST /runs/{id}/complete`
/// would; answers per run, in the request's order.
#[utoipa::path(
    post,
    path = "/api/v1/internal/runs/completions",
    operation_id = "internal_complete_runs",
    tag = "internal",
    request_body = CompletionsRequest,
    responses(
        (status = 200, description = "Each run's status now, or why it did not change (`not_found`, `lease_lost`).", body = CompletionsResponse),
        (status = 422, description = "No runs, more than the limit, or a run named twice (`validation_error`).", body = ErrorBody),
    ),
)]
async fn complete_runs(
    State(state): State<AppState>,
    _: InternalCaller,
    Json(req): Json<CompletionsRequest>,
) -> ApiResult<Json<CompletionsResponse>> {
    if req.runs.is_empty() || req.runs.len() > MAX_COMPLETIONS {
        return Err(ApiError::validation(format!(
            "runs must name 1 to {MAX_COMPLETIONS} runs"
        )));
    }
    let results = lease::complete_many(&state.pool, &req.worker_id, &req.runs).await?;
    Ok(Json(CompletionsResponse {
        results: req
            .runs
            .iter()
            .zip(results)
            .map(|(c, r)| match r {
                Ok(ack) => CompletionResult {
                    run_id: c.run_id,
                    status: Some(ack.status),
                    error: None,
                },
                Err(e) => CompletionResult {
                    run_id: c.run_id,
                    status: None,
                    error: Some(e.detail()),
                },
            })
            .collect(),
    }))
}

/// Fails the run's attempt: re-queued with a back-off when `retryable` and attempts remain,
/// else failed.
#[utoipa::path(
    post,
    path = "/api/v1/internal/runs/{id}/fail",
    operation_id = "internal_fail_run",
    tag = "internal",
    params(("id" = Uuid, Path, description = "The run's id.")),
    request_body = FailRequest,
    responses(
        (status = 200, description = "The run's status now.", body = RunAck),
        (status = 404, description = "No such run (`not_found`).", body = ErrorBody),
        (status = 409, description = "The lease moved on: another claim or an expiry (`lease_lost`); nothing changed.", body = ErrorBody),
    ),
)]
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
#[utoipa::path(
    post,
    path = "/api/v1/internal/runs/{id}/input-answers",
    operation_id = "internal_poll_input_answers",
    tag = "internal",
    params(("id" = Uuid, Path, description = "The run's id.")),
    request_body = InputAnswersPoll,
    responses(
        (status = 200, description = "The answers not yet delivered (possibly none after `wait_seconds`), and how many requests are still pending.", body = InputAnswers),
        (status = 404, description = "No such run (`not_found`).", body = ErrorBody),
        (status = 409, description = "The lease moved on: another claim or an expiry (`lease_lost`); nothing changed.", body = ErrorBody),
    ),
)]
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

/// Records the run's workspace export (its keys checked against the run's prefix).
#[utoipa::path(
    post,
    path = "/api/v1/internal/runs/{id}/export",
    operation_id = "internal_report_export",
    tag = "internal",
    params(("id" = Uuid, Path, description = "The run's id.")),
    request_body = ExportReport,
    responses(
        (status = 204, description = "Recorded."),
        (status = 404, description = "No such run (`not_found`).", body = ErrorBody),
        (status = 409, description = "The lease moved on: another claim or an expiry (`lease_lost`); nothing changed.", body = ErrorBody),
    ),
)]
async fn export(
    State(state): State<AppState>,
    _: InternalCaller,
    Path(id): Path<Uuid>,
    Json(report): Json<ExportReport>,
) -> ApiResult<StatusCode> {
    crate::exports::record(&state.pool, id, &report).await?;
    Ok(StatusCode::NO_CONTENT)
}
