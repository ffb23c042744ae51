//! The executor's HTTP API (called by the executor manager).
//!
//! | route | answer |
//! |---|---|
//! | `GET /health`, `/health/live`, `/health/ready` | `{"status":"healthy","service":"executor"}` (ready: 503 while shutting down) |
//! | `POST /v1/tasks/execute` | `202 {"run_id"}`; `409` while a task runs or for a run already executed |
//! | `POST /v1/tasks/{run_id}/cancel` | `202` with the status; `200` if already finished; `404` unknown |
//! | `GET /v1/tasks/{run_id}` | `200` [`TaskStatus`]; `404` unknown |
//!
//! Every error answers `{"error":{"code","message"}}`; [`ApiError`] is the one place that maps
//! errors to HTTP statuses.

use std::time::Instant;

use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use protocol::ErrorBody;
use protocol::executor::{ExecuteAccepted, ExecuteRequest, TaskStatus};
use serde_json::json;
use tracing::instrument;
use uuid::Uuid;

use crate::task::{TaskError, TaskManager};

/// Largest accepted request body (prompts, skills and MCP configuration included).
pub const MAX_BODY: usize = 16 * 1024 * 1024;

/// An error answer. `Display` is the message; [`ApiError::status`] and [`ApiError::code`] the rest.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    #[error(transparent)]
    Task(#[from] TaskError),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unprocessable(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("request body too large (limit {MAX_BODY} bytes)")]
    PayloadTooLarge,
    #[error("no route for {0}")]
    NoRoute(String),
    #[error("method not allowed")]
    MethodNotAllowed,
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Task(TaskError::Busy(_) | TaskError::Duplicate(_)) => StatusCode::CONFLICT,
            ApiError::Task(TaskError::NotFound(_)) | ApiError::NoRoute(_) => StatusCode::NOT_FOUND,
            ApiError::Task(TaskError::Invalid(_)) | ApiError::Unprocessable(_) => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            ApiError::Task(TaskError::ShuttingDown) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Task(TaskError::Busy(_)) => "task_running",
            ApiError::Task(TaskError::Duplicate(_)) => "duplicate_run",
            ApiError::Task(TaskError::NotFound(_)) => "not_found",
            ApiError::Task(TaskError::Invalid(_)) | ApiError::Unprocessable(_) => "invalid_request",
            ApiError::Task(TaskError::ShuttingDown) => "shutting_down",
            ApiError::BadRequest(_) => "bad_request",
            ApiError::UnsupportedMediaType(_) => "unsupported_media_type",
            ApiError::PayloadTooLarge => "payload_too_large",
            ApiError::NoRoute(_) => "not_found",
            ApiError::MethodNotAllowed => "method_not_allowed",
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody::new(self.code(), self.to_string());
        (self.status(), Json(body)).into_response()
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::JsonDataError(e) => ApiError::Unprocessable(e.body_text()),
            JsonRejection::JsonSyntaxError(e) => ApiError::BadRequest(e.body_text()),
            JsonRejection::MissingJsonContentType(e) => {
                ApiError::UnsupportedMediaType(e.body_text())
            }
            JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                ApiError::PayloadTooLarge
            }
            other => ApiError::BadRequest(other.body_text()),
        }
    }
}

impl From<PathRejection> for ApiError {
    fn from(_: PathRejection) -> Self {
        ApiError::BadRequest("the run id must be a UUID".into())
    }
}

/// The executor's routes.
pub fn router(tasks: TaskManager) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/health/live", get(health))
        .route("/health/ready", get(ready))
        .route("/v1/tasks/execute", post(execute))
        .route("/v1/tasks/{run_id}/cancel", post(cancel))
        .route("/v1/tasks/{run_id}", get(status))
        .fallback(no_route)
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .route_layer(middleware::from_fn(telemetry::http::route))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(middleware::from_fn(access_log))
        .with_state(tasks)
        .layer(middleware::from_fn(telemetry::http::edge))
}

async fn health() -> Json<serde_json::Value> {
    Json(json!({"status": "healthy", "service": "executor"}))
}

async fn ready(State(tasks): State<TaskManager>) -> Response {
    if tasks.is_ready() {
        health().await.into_response()
    } else {
        ApiError::Task(TaskError::ShuttingDown).into_response()
    }
}

#[instrument(skip_all, fields(run_id))]
async fn execute(
    State(tasks): State<TaskManager>,
    body: Result<Json<ExecuteRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<ExecuteAccepted>), ApiError> {
    let Json(req) = body?;
    tracing::Span::current().record("run_id", tracing::field::display(req.run_id));
    let run_id = tasks.execute(req)?;
    Ok((StatusCode::ACCEPTED, Json(ExecuteAccepted { run_id })))
}

#[instrument(skip_all, fields(run_id))]
async fn cancel(
    State(tasks): State<TaskManager>,
    run_id: Result<Path<Uuid>, PathRejection>,
) -> Result<(StatusCode, Json<TaskStatus>), ApiError> {
    let Path(run_id) = run_id?;
    tracing::Span::current().record("run_id", tracing::field::display(run_id));
    let status = tasks.cancel(run_id)?;
    let code = match status.state {
        protocol::executor::TaskState::Completed
        | protocol::executor::TaskState::Failed
        | protocol::executor::TaskState::Canceled => StatusCode::OK,
        _ => StatusCode::ACCEPTED,
    };
    Ok((code, Json(status)))
}

#[instrument(skip_all, fields(run_id))]
async fn status(
    State(tasks): State<TaskManager>,
    run_id: Result<Path<Uuid>, PathRejection>,
) -> Result<Json<TaskStatus>, ApiError> {
    let Path(run_id) = run_id?;
    tracing::Span::current().record("run_id", tracing::field::display(run_id));
    Ok(Json(tasks.status(run_id)?))
}

async fn no_route(method: Method, uri: axum::http::Uri) -> ApiError {
    ApiError::NoRoute(format!("{method} {}", uri.path()))
}

/// One line per request on the access-log target (enabled by `UVICORN_ACCESS_LOG`). The path
/// only: no query, no body.
async fn access_log(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    tracing::info!(
        target: telemetry::ACCESS_LOG_TARGET,
        %method,
        path,
        status = response.status().as_u16(),
        elapsed_ms = started.elapsed().as_secs_f64() * 1000.0,
        "request"
    );
    response
}
