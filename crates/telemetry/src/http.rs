//! The edge of every service's HTTP server: request ids, the request span and HTTP metrics.
//!
//! Apply [`edge`] as the outermost layer (`Router::layer(axum::middleware::from_fn(edge))`) and
//! [`route`] as a route layer (`Router::route_layer(axum::middleware::from_fn(route))`): the
//! first accepts or makes the `X-Request-ID`, opens the `request` span (fields `request_id`,
//! `method`, `route`, `run_id`), returns the id in the response and counts the request; the
//! second, which runs after routing, names the route *template* (never the raw path, which carries
//! ids) and the run the request is about.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tracing::Instrument;

use crate::request_id;

/// Where [`route`] leaves the matched route template for [`edge`], and the request span it
/// records the route and run on (inner layers may have opened spans of their own since).
#[derive(Clone)]
struct RouteSlot {
    route: Arc<Mutex<Option<String>>>,
    span: tracing::Span,
}

/// The outermost middleware of every service (see the module doc).
pub async fn edge(mut req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get(request_id::HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(request_id::accept)
        .unwrap_or_else(request_id::generate);
    let value = HeaderValue::from_str(&id).ok();
    if let Some(v) = &value {
        req.headers_mut().insert(request_id::HEADER, v.clone());
    }
    let method = req.method().clone();
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method = %method,
        route = tracing::field::Empty,
        run_id = tracing::field::Empty,
    );
    let slot = RouteSlot {
        route: Arc::default(),
        span: span.clone(),
    };
    req.extensions_mut().insert(slot.clone());
    let started = Instant::now();
    let mut res = request_id::scope(id, next.run(req)).instrument(span).await;
    let route = slot
        .route
        .lock()
        .ok()
        .and_then(|r| r.clone())
        .unwrap_or_else(|| "unmatched".to_owned());
    crate::metrics::http_request(
        method.as_str(),
        &route,
        res.status().as_u16(),
        started.elapsed(),
    );
    if let Some(v) = value {
        res.headers_mut().insert(request_id::HEADER, v);
    }
    res
}

/// The route layer of every service (see the module doc).
pub async fn route(req: Request, next: Next) -> Response {
    if let Some(matched) = req.extensions().get::<MatchedPath>()
        && let Some(slot) = req.extensions().get::<RouteSlot>()
    {
        let template = matched.as_str();
        slot.span.record("route", template);
        if let Some(run) = run_id_in(template, req.uri().path()) {
            slot.span.record("run_id", tracing::field::display(run));
        }
        if let Ok(mut s) = slot.route.lock() {
            *s = Some(template.to_owned());
        }
    }
    next.run(req).await
}

/// The run a path is about: the segment matching `{id}` or `{run_id}` right after `runs`,
/// `callbacks` or `tasks` in the template, when it is a UUID.
fn run_id_in(template: &str, path: &str) -> Option<uuid::Uuid> {
    let mut prev = "";
    for (t, p) in template.split('/').zip(path.split('/')) {
        if matches!(prev, "runs" | "callbacks" | "tasks") && (t == "{id}" || t == "{run_id}") {
            return p.parse().ok();
        }
        prev = t;
    }
    None
}

/// `GET /metrics`: the Prometheus text, behind `Authorization: Bearer <token>` when a token is
/// configured (`METRICS_TOKEN`).
pub fn metrics_router<S: Clone + Send + Sync + 'static>(token: Option<String>) -> axum::Router<S> {
    let token = token.filter(|t| !t.is_empty()).map(Arc::new);
    crate::metrics::install();
    axum::Router::new().route(
        "/metrics",
        axum::routing::get(move |headers: axum::http::HeaderMap| {
            let token = token.clone();
            async move { metrics_answer(token.as_deref().map(String::as_str), &headers) }
        }),
    )
}

/// Whether `headers` carry the metrics token (always, when none is configured).
pub fn metrics_authorized(token: Option<&str>, headers: &axum::http::HeaderMap) -> bool {
    match token.filter(|t| !t.is_empty()) {
        None => true,
        Some(expected) => {
            let sent = headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .unwrap_or("");
            constant_time_eq(sent.as_bytes(), expected.as_bytes())
        }
    }
}

/// The answer of `GET /metrics`: the text, or 401 without the configured token.
pub fn metrics_answer(token: Option<&str>, headers: &axum::http::HeaderMap) -> Response {
    {
        if !metrics_authorized(token, headers) {
            return (
                StatusCode::UNAUTHORIZED,
                axum::Json(protocol::ErrorBody::new(
                    protocol::ErrorCode::Unauthorized,
                    "GET /metrics needs Authorization: Bearer <METRICS_TOKEN>",
                )),
            )
                .into_response();
        }
    }
    (
        [(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)],
        crate::metrics::render(),
    )
        .into_response()
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_run_is_found_only_where_the_template_names_it() {
        let id = uuid::Uuid::new_v4();
        assert_eq!(
            run_id_in(
                "/api/v1/internal/runs/{id}/events",
                &format!("/api/v1/internal/runs/{id}/events")
            ),
            Some(id)
        );
        assert_eq!(
            run_id_in(
                "/api/v1/callbacks/{run_id}",
                &format!("/api/v1/callbacks/{id}")
            ),
            Some(id)
        );
        assert_eq!(
            run_id_in("/v1/tasks/{run_id}", &format!("/v1/tasks/{id}")),
            Some(id)
        );
        assert_eq!(
            run_id_in("/api/v1/sessions/{id}", &format!("/api/v1/sessions/{id}")),
            None
        );
        assert_eq!(
            run_id_in("/api/v1/runs/{id}", "/api/v1/runs/not-a-uuid"),
            None
        );
    }
}
