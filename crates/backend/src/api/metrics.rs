//! `GET /metrics`: Prometheus text. The run-state gauges are refreshed from the database at each
//! scrape (one indexed count), so they are exact whichever replica is scraped. Unauthenticated
//! unless `METRICS_TOKEN` is set; see docs/operations.md for how to expose it.

use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(metrics))
}

/// Prometheus metrics (text exposition format).
///
/// Open unless the operator set `METRICS_TOKEN`; then it takes `Authorization: Bearer
/// <METRICS_TOKEN>`.
#[utoipa::path(
    get,
    path = "/metrics",
    operation_id = "metrics",
    tag = "health",
    security((), ("metrics_token" = [])),
    responses(
        (status = 200, description = "The metrics.", content_type = "text/plain", body = String),
        (status = 401, description = "`METRICS_TOKEN` is set and was not sent (`unauthorized`).", body = protocol::ErrorBody),
    ),
)]
async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let token = state
        .settings
        .metrics_token
        .as_ref()
        .map(|t| t.expose().as_str());
    if telemetry::http::metrics_authorized(token, &headers) {
        let refresh = crate::metrics::refresh_run_gauges(&state.pool);
        if tokio::time::timeout(Duration::from_secs(2), refresh)
            .await
            .is_err()
        {
            tracing::warn!("run gauges not refreshed: the database did not answer within 2 s");
        }
    }
    telemetry::http::metrics_answer(token, &headers)
}
