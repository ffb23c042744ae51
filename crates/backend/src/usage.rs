//! Usage analytics: tokens, cost, runs, failures and run durations over a range of days, grouped
//! by day, model or project, for one user (`GET /usage`) or every user (`GET /admin/usage`).
//!
//! - A run counts on the day it was queued (`runs.created_at`), in the report's time zone; its
//!   tokens and cost are what the agent reported (`run_usage`, none until it reports).
//! - The range is `from` (inclusive) to `to` (exclusive), both dates whose midnights are taken in
//!   `tz`; by default the 30 days ending today (`to` = tomorrow). At most [`MAX_RANGE_DAYS`].
//! - Durations are wall-clock, `started_at` → `finished_at` (queue waits excluded, the agent's
//!   tool time included), over the runs that have both; `run_usage.duration_ms` is the agent's
//!   own figure and absent for runs that failed before reporting, so it is not used.
//! - Groups and totals come from one statement (`GROUPING SETS`), so they always agree; the
//!   totals' percentiles are over all the range's runs.
//! - Runs of deleted sessions are gone with them and count nowhere.

use chrono::{Days, NaiveDate, Utc};
use protocol::ErrorCode;
use protocol::usage::{UsageGroup, UsageGroupBy, UsageReport, UsageStats};
use sqlx::PgPool;
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};

/// The longest range one report covers, in days.
pub const MAX_RANGE_DAYS: u64 = 366;
/// The range when `from` is not given: this many days up to `to`.
pub const DEFAULT_RANGE_DAYS: u64 = 30;

/// What a report was asked for (the query string, parsed).
#[derive(Debug, Clone, Default)]
pub struct UsageParams {
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub group_by: UsageGroupBy,
    /// An IANA time zone name; UTC when absent.
    pub tz: Option<String>,
}

/// The resolved range and zone.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Range {
    from: NaiveDate,
    to: NaiveDate,
    tz: String,
}

fn invalid_timezone(name: &str) -> ApiError {
    ApiError::bad_request(
        ErrorCode::InvalidTimezone,
        format!("tz `{name}` is not an IANA time zone name such as `Europe/Berlin` or `UTC`"),
    )
}

/// Checks the zone and fills in the defaults; `today` is today's date in that zone.
fn resolve(params: &UsageParams) -> ApiResult<Range> {
    let name = params.tz.as_deref().unwrap_or("UTC");
    let tz = protocol::cron::parse_timezone(name).map_err(|_| invalid_timezone(name))?;
    let today = Utc::now().with_timezone(&tz).date_naive();
    let to = match params.to {
        Some(to) => to,
        None => today
            .checked_add_days(Days::new(1))
            .ok_or_else(|| ApiError::validation("today has no tomorrow"))?,
    };
    let from = match params.from {
        Some(from) => from,
        None => to
            .checked_sub_days(Days::new(DEFAULT_RANGE_DAYS))
            .ok_or_else(|| ApiError::validation("`to` is too early for the default range"))?,
    };
    if from >= to {
        return Err(ApiError::validation(format!(
            "`from` ({from}) must be before `to` ({to}); `to` is exclusive"
        )));
    }
    let days = (to - from).num_days();
    if days > MAX_RANGE_DAYS as i64 {
        return Err(ApiError::validation(format!(
            "the range is {days} days; at most {MAX_RANGE_DAYS} are reported at once"
        )));
    }
    Ok(Range {
        from,
        to,
        tz: tz.name().to_owned(),
    })
}

#[derive(sqlx::FromRow)]
struct Row {
    is_total: bool,
    key: Option<String>,
    label: Option<String>,
    runs: i64,
    failed_runs: i64,
    input_tokens: i64,
    output_tokens: i64,
    cache_creation_input_tokens: i64,
    cache_read_input_tokens: i64,
    cost_usd: f64,
    duration_p50_ms: Option<i64>,
    duration_p95_ms: Option<i64>,
}

impl Row {
    fn stats(&self) -> UsageStats {
        UsageStats {
            runs: self.runs,
            failed_runs: self.failed_runs,
            input_tokens: self.input_tokens,
            output_tokens: self.output_tokens,
            cache_creation_input_tokens: self.cache_creation_input_tokens,
            cache_read_input_tokens: self.cache_read_input_tokens,
            cost_usd: self.cost_usd,
            duration_p50_ms: self.duration_p50_ms,
            duration_p95_ms: self.duration_p95_ms,
        }
    }
}

/// The runs of the range: `$1` the user (`NULL`: everyone), `$2`/`$3` the dates, `$4` the zone.
const RUNS: &str = "WITH r AS (
    SELECT r.id, r.status, r.options->>'model' AS model, s.project_id,
           (r.created_at AT TIME ZONE $4)::date AS day,
           (EXTRACT(EPOCH FROM (r.finished_at - r.started_at)) * 1000)::float8 AS duration_ms,
           g.input_tokens, g.output_tokens, g.cache_creation_input_tokens,
           g.cache_read_input_tokens, g.total_cost_usd
      FROM runs r
      JOIN sessions s ON s.id = r.session_id
      LEFT JOIN run_usage g ON g.run_id = r.id
     WHERE ($1::uuid IS NULL OR s.user_id = $1)
       AND r.created_at >= ($2::date::timestamp AT TIME ZONE $4)
       AND r.created_at < ($3::date::timestamp AT TIME ZONE $4)
)";

/// The aggregates of a group (over `r`; outer-joined empty days count nothing).
const AGGREGATES: &str = "count(r.id) AS runs,
       count(r.id) FILTER (WHERE r.status = 'failed') AS failed_runs,
       coalesce(sum(r.input_tokens), 0)::bigint AS input_tokens,
       coalesce(sum(r.output_tokens), 0)::bigint AS output_tokens,
       coalesce(sum(r.cache_creation_input_tokens), 0)::bigint AS cache_creation_input_tokens,
       coalesce(sum(r.cache_read_input_tokens), 0)::bigint AS cache_read_input_tokens,
       coalesce(sum(r.total_cost_usd), 0)::float8 AS cost_usd,
       round(percentile_cont(0.5) WITHIN GROUP (ORDER BY r.duration_ms))::bigint AS duration_p50_ms,
       round(percentile_cont(0.95) WITHIN GROUP (ORDER BY r.duration_ms))::bigint AS duration_p95_ms";

fn statement(group_by: UsageGroupBy) -> String {
    let grouped = match group_by {
        UsageGroupBy::Day => format!(
            "SELECT GROUPING(d.day) <> 0 AS is_total, to_char(d.day, 'YYYY-MM-DD') AS key,
                    NULL::text AS label, {AGGREGATES}
               FROM generate_series($2::date::timestamp, ($3::date - 1)::timestamp,
                                    interval '1 day') AS d(day)
               LEFT JOIN r ON r.day = d.day::date
              GROUP BY GROUPING SETS ((d.day), ())
              ORDER BY is_total, key"
        ),
        UsageGroupBy::Model => format!(
            "SELECT GROUPING(r.model) <> 0 AS is_total, r.model AS key, NULL::text AS label,
                    {AGGREGATES}
               FROM r
              GROUP BY GROUPING SETS ((r.model), ())
              ORDER BY is_total, cost_usd DESC, key NULLS LAST"
        ),
        UsageGroupBy::Project => format!(
            "SELECT GROUPING(r.project_id) <> 0 AS is_total, r.project_id::text AS key,
                    p.name AS label, {AGGREGATES}
               FROM r
               LEFT JOIN projects p ON p.id = r.project_id
              GROUP BY GROUPING SETS ((r.project_id, p.name), ())
              ORDER BY is_total, cost_usd DESC, key NULLS LAST"
        ),
    };
    format!("{RUNS}\n{grouped}")
}

/// The report of `user`'s runs, or of everyone's when `user` is `None` (the caller checked that
/// it may see them).
pub async fn report(
    pool: &PgPool,
    user: Option<Uuid>,
    params: &UsageParams,
) -> ApiResult<UsageReport> {
    let range = resolve(params)?;
    let rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(statement(params.group_by)))
        .bind(user)
        .bind(range.from)
        .bind(range.to)
        .bind(&range.tz)
        .fetch_all(pool)
        .await
        .map_err(|e| match &e {
            // A zone chrono-tz knows and PostgreSQL's database does not (an older tzdata).
            sqlx::Error::Database(d) if d.code().as_deref() == Some("22023") => {
                invalid_timezone(&range.tz)
            }
            _ => ApiError::Database(e),
        })?;
    let mut totals = UsageStats::default();
    let mut groups = Vec::with_capacity(rows.len());
    for row in rows {
        if row.is_total {
            totals = row.stats();
        } else {
            groups.push(UsageGroup {
                usage: row.stats(),
                key: row.key,
                label: row.label,
            });
        }
    }
    Ok(UsageReport {
        from: range.from,
        to: range.to,
        tz: range.tz,
        group_by: params.group_by,
        all_users: user.is_none(),
        groups,
        totals,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> NaiveDate {
        s.parse().expect("a date")
    }

    fn params(from: Option<&str>, to: Option<&str>, tz: Option<&str>) -> UsageParams {
        UsageParams {
            from: from.map(date),
            to: to.map(date),
            group_by: UsageGroupBy::Day,
            tz: tz.map(str::to_owned),
        }
    }

    #[test]
    fn ranges_default_to_the_last_30_days_and_are_bounded() {
        let r = resolve(&params(None, None, None)).expect("default");
        assert_eq!((r.to - r.from).num_days(), 30);
        assert_eq!(r.tz, "UTC");
        assert_eq!(r.to, Utc::now().date_naive() + Days::new(1));

        let r = resolve(&params(None, Some("2024-03-01"), Some("Europe/Paris"))).expect("to");
        assert_eq!(r.from, date("2024-01-31"));
        assert_eq!(r.tz, "Europe/Paris");

        let r = resolve(&params(Some("2024-01-01"), Some("2025-01-01"), None)).expect("366");
        assert_eq!((r.to - r.from).num_days(), 366);
        for (from, to) in [
            ("2024-01-01", "2025-01-02"),
            ("2024-01-02", "2024-01-02"),
            ("2024-01-03", "2024-01-02"),
        ] {
            let e = resolve(&params(Some(from), Some(to), None)).expect_err(from);
            assert!(matches!(e, ApiError::Validation(_)), "{from}..{to}: {e:?}");
        }
    }

    #[test]
    fn time_zones_are_iana_names() {
        for bad in ["Mars/Olympus", "", "UTC+2", "../etc/passwd"] {
            let e = resolve(&params(None, None, Some(bad))).expect_err(bad);
            assert!(
                matches!(
                    e,
                    ApiError::BadRequest {
                        code: ErrorCode::InvalidTimezone,
                        ..
                    }
                ),
                "{bad}: {e:?}"
            );
        }
    }
}
