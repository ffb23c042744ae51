//! `GET /health`, `/health/live`, `/health/ready` (also under `/api/v1`).

use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use protocol::api::{HealthResponse, ReadyResponse};

use crate::extract::Json;
use crate::state::AppState;

const SERVICE: &str = "backend";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/health", get(health))
        .route("/health/live", get(live))
        .route("/health/ready", get(ready))
        .route("/api/v1/health", get(health))
        .route("/api/v1/health/live", get(live))
        .route("/api/v1/health/ready", get(ready))
}

async fn health() -> Json<HealthResponse> {
    Json(HealthResponse {
        status: "healthy".into(),
        service: SERVICE.into(),
    })
}

async fn live() -> Json<HealthResponse> {
    Json(HealthResponse {
        status: "alive".into(),
        service: SERVICE.into(),
    })
}

/// Ready when the database answers within two seconds.
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
