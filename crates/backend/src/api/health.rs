//! `GET /health`, `/health/live`, `/health/ready` (also under `/api/v1`).

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use protocol::api::{HealthResponse, ReadyResponse};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::extract::Json;
use crate::state::AppState;

const SERVICE: &str = "backend";

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(health))
        .routes(routes!(live))
        .routes(routes!(ready))
        .routes(routes!(health_v1))
        .routes(routes!(live_v1))
        .routes(routes!(ready_v1))
}

/// The service answers.
#[utoipa::path(
    get,
    path = "/health",
    operation_id = "health",
    tag = "health",
    security(()),
    responses((status = 200, description = "`status: healthy`.", body = HealthResponse)),
)]
async fn health() -> Json<HealthResponse> {
    Json(HealthResponse {
        status: "healthy".into(),
        service: SERVICE.into(),
    })
}

/// The process is alive (for a liveness probe).
#[utoipa::path(
    get,
    path = "/health/live",
    operation_id = "health_live",
    tag = "health",
    security(()),
    responses((status = 200, description = "`status: alive`.", body = HealthResponse)),
)]
async fn live() -> Json<HealthResponse> {
    Json(HealthResponse {
        status: "alive".into(),
        service: SERVICE.into(),
    })
}

/// Ready when the database answers within two seconds (for a readiness probe).
#[utoipa::path(
    get,
    path = "/health/ready",
    operation_id = "health_ready",
    tag = "health",
    security(()),
    responses(
        (status = 200, description = "`status: ready`.", body = ReadyResponse),
        (status = 503, description = "`status: not ready`, with the reasons in `errors`.", body = ReadyResponse),
    ),
)]
async fn ready(State(state): State<AppState>) -> (StatusCode, Json<ReadyResponse>) {
    let probe = sqlx::query_scalar::<_, i32>("SELECT 1").fetch_one(&state.pool);
    let errors = match tokio::time::timeout(Duration::from_secs(2), probe).await {
        Ok(Ok(_)) => vec![],
        Ok(Err(e)) => vec![format!("database: {e}")],
        Err(_) => vec!["database: no answer within 2 s".to_owned()],
    };
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(ReadyResponse {
            status: if errors.is_empty() {
                "ready"
            } else {
                "not ready"
            }
            .into(),
            service: SERVICE.into(),
            errors,
        }),
    )
}

/// [`health`] under `/api/v1` (reachable through the web UI's proxy).
#[utoipa::path(
    get,
    path = "/api/v1/health",
    operation_id = "health_v1",
    tag = "health",
    security(()),
    responses((status = 200, description = "`status: healthy`.", body = HealthResponse)),
)]
async fn health_v1() -> Json<HealthResponse> {
    health().await
}

/// [`live`] under `/api/v1`.
#[utoipa::path(
    get,
    path = "/api/v1/health/live",
    operation_id = "health_live_v1",
    tag = "health",
    security(()),
    responses((status = 200, description = "`status: alive`.", body = HealthResponse)),
)]
async fn live_v1() -> Json<HealthResponse> {
    live().await
}

/// [`ready`] under `/api/v1`.
#[utoipa::path(
    get,
    path = "/api/v1/health/ready",
    operation_id = "health_ready_v1",
    tag = "health",
    security(()),
    responses(
        (status = 200, description = "`status: ready`.", body = ReadyResponse),
        (status = 503, description = "`status: not ready`, with the reasons in `errors`.", body = ReadyResponse),
    ),
)]
async fn ready_v1(state: State<AppState>) -> (StatusCode, Json<ReadyResponse>) {
    ready(state).await
}
