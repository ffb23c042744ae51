//! The backend's metrics that need the database; the definitions live in `telemetry::metrics`.
//!
//! Other modules record through `telemetry::metrics::*` directly; [`schedule_fired`] is re-exported
//! here so the scheduler calls `crate::metrics::schedule_fired()` once per fire.

use sqlx::PgPool;
use uuid::Uuid;

use crate::queue;

pub use telemetry::metrics::{schedule_fired, sign_in};

/// Sets the `workcell_runs{state}` gauges, one per unfinished status
/// ([`queue::status::ACTIVE`]), from the database (an indexed count of unfinished runs).
pub async fn refresh_run_gauges(pool: &PgPool) {
    let rows: Result<Vec<(String, i64)>, _> = sqlx::query_as(concat!(
        "SELECT status, count(*) FROM runs
          WHERE status IN ",
        queue::status::active_sql!(),
        " GROUP BY status"
    ))
    .fetch_all(pool)
    .await;
    match rows {
        Ok(rows) => {
            for state in queue::status::ACTIVE.iter().map(|s| s.as_str()) {
                let n = rows.iter().find(|(s, _)| s == state).map_or(0, |(_, n)| *n);
                telemetry::metrics::runs_in_state(state, n);
            }
        }
        Err(e) => tracing::warn!(error = %e, "cannot count runs for the metrics"),
    }
}

/// Records a run that reached a final status (counted once, by whoever settled it).
pub async fn observe_finished(pool: PgPool, run_id: Uuid) {
    let row: Result<Option<(String, Option<f64>, bool)>, _> = sqlx::query_as(
        "SELECT status, EXTRACT(EPOCH FROM (finished_at - started_at))::float8,
                dead_lettered_at IS NOT NULL
           FROM runs WHERE id = $1",
    )
    .bind(run_id)
    .fetch_optional(&pool)
    .await;
    if let Ok(Some((status, ran, dead))) = row {
        record_final(&status, ran, dead);
    }
}

/// Counts a final status ([`queue::status::FINAL`]); ignores unfinished ones.
pub fn record_final(status: &str, ran_seconds: Option<f64>, dead_lettered: bool) {
    let Some(status) = queue::status::FINAL.iter().find(|s| s.as_str() == status) else {
        return;
    };
    telemetry::metrics::run_finished(status.as_str(), ran_seconds);
    if dead_lettered {
        telemetry::metrics::run_dead_lettered();
    }
}
