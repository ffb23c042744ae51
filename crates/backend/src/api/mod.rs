//! The HTTP surface: public routes under `/api/v1`, internal routes under `/api/v1/internal`,
//! health at the root. Routing and cross-cutting layers live here; handlers are thin and call the
//! modules that own the behaviour (`queue`, `events`, `sessions`, `runs`, `auth`).
//!
//! Every route is registered with its documentation in one act: handlers carry
//! `#[utoipa::path]` and are added with `utoipa_axum::routes!` to an `OpenApiRouter`, which
//! yields the axum router and the OpenAPI document together ([`openapi`]). No plain `.route(`
//! exists in this crate (`tests/openapi.rs` fails on one).

mod admin;
mod attachments;
mod auth;
mod capabilities;
mod files;
mod followups;
mod health;
mod input_requests;
mod internal;
mod metrics;
mod models;
pub mod openapi;
mod projects;
mod runs;
mod schedules;
mod search;
mod secrets;
mod sessions;
mod sign_in;
mod tasks;
mod tokens;
mod usage;
mod ws;

use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Router};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use utoipa_axum::router::OpenApiRouter;

use crate::error::ApiError;
use crate::state::AppState;

/// The largest JSON body a public route accepts.
pub const PUBLIC_BODY_LIMIT: usize = 1024 * 1024;
/// The largest body an internal route accepts (event batches carry tool output).
pub const INTERNAL_BODY_LIMIT: usize = 32 * 1024 * 1024;

/// The whole application.
pub fn router(state: AppState) -> Router {
    let request_id = HeaderName::from_static("x-request-id");
    let cors = cors_layer(&state);

    // Request timeouts apply to the public API but not to the WebSocket (long-lived).
    let public = OpenApiRouter::new()
        .merge(auth::routes())
        .merge(tokens::routes())
        .merge(sign_in::routes())
        .merge(admin::routes())
        .merge(tasks::routes())
        .merge(sessions::routes())
        .merge(search::routes())
        .merge(input_requests::routes())
        .merge(followups::routes())
        .merge(runs::routes())
        .merge(schedules::routes())
        .merge(files::routes())
        .merge(projects::routes())
        .merge(capabilities::routes())
        .merge(secrets::routes())
        .merge(models::routes())
        .merge(usage::routes())
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::protection::timeout,
        ))
        .merge(ws::routes())
        .layer(DefaultBodyLimit::max(PUBLIC_BODY_LIMIT))
        // Uploads have their own limit (merged after the JSON limit, so it does not apply) and no
        // request timeout (a large upload on a slow link takes its time).
        .merge(
            attachments::routes().layer(DefaultBodyLimit::max(attachments::body_limit(
                state.settings.max_upload_size_mb,
            ))),
        )
        .merge(
            projects::upload_routes().layer(DefaultBodyLimit::max(attachments::body_limit(
                state.settings.max_upload_size_mb,
            ))),
        )
        .merge(
            capabilities::skill_upload_routes().layer(DefaultBodyLimit::max(
                capabilities::skill_upload_body_limit(),
            )),
        )
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::protection::rate_limit,
        ));

    let internal = internal::routes().layer(DefaultBodyLimit::max(INTERNAL_BODY_LIMIT));

    let (routes, document) = OpenApiRouter::with_openapi(openapi::base())
        .merge(internal)
        .merge(public)
        .merge(health::routes())
        .merge(metrics::routes())
        .merge(openapi::routes())
        .split_for_parts();
    let document = openapi::Document::new(openapi::finish(document));

    routes
        .layer(Extension(document))
        .route_layer(axum::middleware::from_fn(telemetry::http::route))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
        .layer(cors)
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &axum::http::Request<_>| {
                let id = req
                    .headers()
                    .get("x-request-id")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                tracing::info_span!(target: telemetry::ACCESS_LOG_TARGET, "http", method = %req.method(), path = %req.uri().path(), request_id = %id)
            })
            .on_response(|res: &Response, latency: std::time::Duration, _span: &tracing::Span| {
                tracing::info!(target: telemetry::ACCESS_LOG_TARGET, status = res.status().as_u16(), latency_ms = latency.as_millis() as u64, "request");
            }),
        )
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        // Outermost: accepts or makes the request id (so the layers above keep it), opens the
        // request span and counts the request by route template.
        .layer(axum::middleware::from_fn(telemetry::http::edge))
}

fn cors_layer(state: &AppState) -> CorsLayer {
    let origins: Vec<HeaderValue> = state
        .settings
        .cors_origins
        .iter()
        .filter_map(|o| o.parse().ok())
        .collect();
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_credentials(true)
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PATCH,
            Method::DELETE,
            Method::PUT,
        ])
        .allow_headers([
            axum::http::header::CONTENT_TYPE,
            axum::http::header::AUTHORIZATION,
            HeaderName::from_static("x-request-id"),
        ])
}

async fn not_found() -> ApiError {
    ApiError::NoRoute
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a request handler panicked");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        axum::Json(protocol::ErrorBody::new(
            protocol::ErrorCode::Internal,
            "internal server error",
        )),
    )
        .into_response()
}
