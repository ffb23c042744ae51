//! Prometheus metrics: one recorder per process, rendered by each service's `GET /metrics`.
//!
//! Every metric the platform records is defined here, as a function, so names, labels and units
//! are decided in one place and no call site can put user data or an unbounded id into a label.
//! Label values are always drawn from small fixed sets (a run status, an HTTP method, a route
//! *template* such as `/api/v1/runs/{id}`, a status code).
//!
//! | metric | type | labels | recorded by |
//! |---|---|---|---|
//! | `workcell_http_requests_total` | counter | `method`, `route`, `status` | every service's edge |
//! | `workcell_http_request_duration_seconds` | histogram | `method`, `route` | every service's edge |
//! | `workcell_runs` | gauge | `state` (queued, claimed, running, canceling) | backend, refreshed at each scrape |
//! | `workcell_run_queue_wait_seconds` | histogram | | backend, at claim (due → claimed) |
//! | `workcell_run_duration_seconds` | histogram | `status` | backend, when a run finishes (started → finished) |
//! | `workcell_runs_finished_total` | counter | `status` (completed, failed, canceled) | backend |
//! | `workcell_runs_dead_lettered_total` | counter | | backend |
//! | `workcell_runs_retried_total` | counter | | backend (`POST /runs/{id}/retry`) |
//! | `workcell_lease_expiries_total` | counter | | backend's lease reaper |
//! | `workcell_events_ingested_total` | counter | | backend |
//! | `workcell_websocket_connections` | gauge | | backend |
//! | `workcell_rate_limited_total` | counter | `scope` (ip, user, login) | backend |
//! | `workcell_retention_deleted_total` | counter | `kind` (events, sessions, skill_versions) | backend |
//! | `workcell_schedule_fires_total` | counter | | whoever fires a schedule: call [`schedule_fired`] |
//! | `workcell_executors_running` | gauge | | executor manager |
//! | `workcell_manager_runs_total` | counter | `outcome` (completed, canceled, failed, dropped) | executor manager |
//! | `workcell_exports_total` | counter | `status` (ready, failed) | executor manager |
//! | `workcell_export_bytes_total` | counter | | executor manager (bytes uploaded) |
//! | `workcell_export_duration_seconds` | histogram | `status` | executor manager |
//! | `workcell_workspace_restores_total`, `workcell_workspace_restore_bytes_total`, `workcell_workspace_restore_duration_seconds` | counter, counter, histogram | `status` (restored, failed) | executor manager (a session's workspace rebuilt from its last export) |
//! | `workcell_model_tokens_total` | counter | `kind` (input, output, cache_creation, cache_read), `provider` (`anthropic` for the manager's own upstream, else a provider of the backend's model catalog) | executor manager's model proxy |

use std::sync::OnceLock;
use std::time::Duration;

use metrics::{counter, gauge, histogram};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// Histogram buckets, in seconds: from 5 ms (an HTTP answer) to an hour (a long run).
const BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0,
    1800.0, 3600.0,
];

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the process's Prometheus recorder (once; later calls return the same handle).
/// `None` when another recorder was installed first (then metrics go there).
pub fn install() -> Option<PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets(BUCKETS)
                .unwrap_or_else(|_| PrometheusBuilder::new());
            match builder.install_recorder() {
                Ok(handle) => {
                    describe();
                    Some(handle)
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot install the metrics recorder");
                    None
                }
            }
        })
        .clone()
}

/// The Prometheus text exposition of every metric recorded so far.
pub fn render() -> String {
    match install() {
        Some(handle) => {
            handle.run_upkeep();
            handle.render()
        }
        None => String::new(),
    }
}

/// The `Content-Type` of [`render`]'s text.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        "workcell_sign_ins_total",
        "Sign-ins through an identity provider, by provider and outcome (ok, refused)"
    );
    describe_counter!(
        "workcell_http_requests_total",
        "HTTP requests answered, by method, route template and status"
    );
    describe_histogram!(
        "workcell_http_request_duration_seconds",
        metrics::Unit::Seconds,
        "HTTP request latency by method and route template"
    );
    describe_gauge!("workcell_runs", "runs in each unfinished state");
    describe_histogram!(
        "workcell_run_queue_wait_seconds",
        metrics::Unit::Seconds,
        "time from a run becoming due to its claim"
    );
    describe_histogram!(
        "workcell_run_duration_seconds",
        metrics::Unit::Seconds,
        "time from a run's start to its end, by final status"
    );
    describe_counter!(
        "workcell_runs_finished_total",
        "runs finished, by final status"
    );
    describe_counter!(
        "workcell_runs_dead_lettered_total",
        "runs failed for good after using every attempt"
    );
    describe_counter!(
        "workcell_runs_retried_total",
        "failed runs re-queued by their owner"
    );
    describe_counter!(
        "workcell_lease_expiries_total",
        "leases that ran out (worker lost)"
    );
    describe_counter!("workcell_events_ingested_total", "run events stored");
    describe_gauge!(
        "workcell_websocket_connections",
        "open live-update WebSockets"
    );
    describe_counter!(
        "workcell_rate_limited_total",
        "requests refused with 429, by limit"
    );
    describe_counter!(
        "workcell_retention_deleted_total",
        "rows deleted by the retention job, by kind"
    );
    describe_counter!("workcell_schedule_fires_total", "scheduled tasks fired");
    describe_gauge!(
        "workcell_executors_running",
        "executors (containers or processes) this manager runs"
    );
    describe_counter!(
        "workcell_manager_runs_total",
        "runs this manager drove to an end, by report"
    );
    describe_counter!("workcell_exports_total", "workspace exports, by result");
    describe_counter!(
        "workcell_export_bytes_total",
        "bytes uploaded by workspace exports"
    );
    describe_histogram!(
        "workcell_export_duration_seconds",
        metrics::Unit::Seconds,
        "workspace export duration, by result"
    );
    describe_counter!(
        "workcell_workspace_restores_total",
        "session workspaces restored from the object store before a run, by result"
    );
    describe_counter!(
        "workcell_workspace_restore_bytes_total",
        "bytes downloaded by workspace restores"
    );
    describe_histogram!(
        "workcell_workspace_restore_duration_seconds",
        metrics::Unit::Seconds,
        "workspace restore duration, by result"
    );
    describe_counter!(
        "workcell_model_tokens_total",
        "model tokens used by agents through the model proxy, by kind and provider"
    );
}

/// One HTTP request answered. `route` must be a route template (or `unmatched`), never a path.
pub fn http_request(method: &str, route: &str, status: u16, elapsed: Duration) {
    let method = match method {
        "GET" | "POST" | "PUT" | "PATCH" | "DELETE" | "HEAD" | "OPTIONS" => method,
        _ => "other",
    };
    counter!("workcell_http_requests_total",
        "method" => method.to_owned(), "route" => route.to_owned(), "status" => status.to_string())
    .increment(1);
    histogram!("workcell_http_request_duration_seconds",
        "method" => method.to_owned(), "route" => route.to_owned())
    .record(elapsed.as_secs_f64());
}

/// The number of runs in an unfinished `state` (queued, claimed, running, canceling).
pub fn runs_in_state(state: &'static str, count: i64) {
    gauge!("workcell_runs", "state" => state).set(count as f64);
}

/// A run was claimed after waiting `seconds` since it became due.
pub fn run_claimed(waited_seconds: f64) {
    histogram!("workcell_run_queue_wait_seconds").record(waited_seconds.max(0.0));
}

/// A run reached a final status (`completed`, `failed`, `canceled`); `ran_seconds` from its start
/// when it started.
pub fn run_finished(status: &'static str, ran_seconds: Option<f64>) {
    counter!("workcell_runs_finished_total", "status" => status).increment(1);
    if let Some(s) = ran_seconds {
        histogram!("workcell_run_duration_seconds", "status" => status).record(s.max(0.0));
    }
}

/// A run used its last attempt and was dead-lettered.
pub fn run_dead_lettered() {
    counter!("workcell_runs_dead_lettered_total").increment(1);
}

/// A failed run was re-queued by its owner.
pub fn run_retried() {
    counter!("workcell_runs_retried_total").increment(1);
}

/// `n` leases ran out.
pub fn leases_expired(n: u64) {
    counter!("workcell_lease_expiries_total").increment(n);
}

/// `n` run events were stored.
pub fn events_ingested(n: u64) {
    counter!("workcell_events_ingested_total").increment(n);
}

/// Counts an open WebSocket for as long as the returned guard lives.
pub fn websocket_opened() -> GaugeGuard {
    GaugeGuard::new("workcell_websocket_connections")
}

/// A request was refused by a rate limit (`ip`, `user` or `login`).
pub fn rate_limited(scope: &'static str) {
    counter!("workcell_rate_limited_total", "scope" => scope).increment(1);
}

/// A sign-in through an identity provider (`oidc`, `github`) ended: `ok` or `refused`.
pub fn sign_in(provider: &'static str, outcome: &'static str) {
    counter!("workcell_sign_ins_total", "provider" => provider, "outcome" => outcome).increment(1);
}

/// The retention job deleted `n` rows of `kind` (`events`, `sessions`).
pub fn retention_deleted(kind: &'static str, n: u64) {
    counter!("workcell_retention_deleted_total", "kind" => kind).increment(n);
}

/// A scheduled task fired (its run was queued). The scheduler calls this once per fire.
pub fn schedule_fired() {
    counter!("workcell_schedule_fires_total").increment(1);
}

/// Counts a running executor for as long as the returned guard lives.
pub fn executor_started() -> GaugeGuard {
    GaugeGuard::new("workcell_executors_running")
}

/// The manager finished driving a run; `outcome` is completed, canceled, failed or dropped.
pub fn manager_run_finished(outcome: &'static str) {
    counter!("workcell_manager_runs_total", "outcome" => outcome).increment(1);
}

/// A workspace export ended (`ready` or `failed`) after `elapsed`, having uploaded `bytes`.
pub fn export_finished(status: &'static str, bytes: u64, elapsed: Duration) {
    counter!("workcell_exports_total", "status" => status).increment(1);
    counter!("workcell_export_bytes_total").increment(bytes);
    histogram!("workcell_export_duration_seconds", "status" => status)
        .record(elapsed.as_secs_f64());
}

/// A session's workspace restored from the object store before a run (`status`: `restored` or
/// `failed`).
pub fn workspace_restored(status: &'static str, bytes: u64, elapsed: Duration) {
    counter!("workcell_workspace_restores_total", "status" => status).increment(1);
    counter!("workcell_workspace_restore_bytes_total").increment(bytes);
    histogram!("workcell_workspace_restore_duration_seconds", "status" => status)
        .record(elapsed.as_secs_f64());
}

/// One model answer's tokens, as the model proxy read them from its `usage`. `provider` is a
/// name from the backend's model catalog (a bounded set the operator configures) or `anthropic`.
pub fn model_tokens(provider: &str, input: u64, output: u64, cache_creation: u64, cache_read: u64) {
    for (kind, n) in [
        ("input", input),
        ("output", output),
        ("cache_creation", cache_creation),
        ("cache_read", cache_read),
    ] {
        counter!("workcell_model_tokens_total", "kind" => kind, "provider" => provider.to_owned())
            .increment(n);
    }
}

/// Increments a gauge now and decrements it when dropped, however the holder ends.
#[must_use = "the gauge goes down when this guard is dropped"]
pub struct GaugeGuard {
    name: &'static str,
}

impl GaugeGuard {
    fn new(name: &'static str) -> Self {
        gauge!(name).increment(1.0);
        Self { name }
    }
}

impl Drop for GaugeGuard {
    fn drop(&mut self) {
        gauge!(self.name).decrement(1.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorded_metrics_render_with_templates_only() {
        install();
        http_request("GET", "/api/v1/runs/{id}", 200, Duration::from_millis(3));
        http_request("BREW", "/x", 418, Duration::from_millis(3));
        schedule_fired();
        model_tokens("anthropic", 3, 4, 0, 5);
        {
            let _g = executor_started();
            assert!(render().contains("workcell_executors_running 1"));
        }
        let text = render();
        assert!(text.contains("workcell_executors_running 0"), "{text}");
        assert!(
            text.contains(r#"workcell_http_requests_total{method="GET",route="/api/v1/runs/{id}",status="200"} 1"#),
            "{text}"
        );
        assert!(text.contains(r#"method="other""#), "{text}");
        assert!(text.contains("workcell_schedule_fires_total 1"), "{text}");
        assert!(
            text.contains(r#"workcell_model_tokens_total{kind="output",provider="anthropic"} 4"#),
            "{text}"
        );
        assert!(
            text.contains("workcell_http_request_duration_seconds_bucket"),
            "{text}"
        );
    }
}
