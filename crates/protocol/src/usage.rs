//! Usage analytics: what runs cost and how they went over a range of days, grouped by day, model
//! or project (`GET /usage` for the caller, `GET /admin/usage` over every user).

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// How a usage report groups runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum UsageGroupBy {
    /// One group per day of the range (in the report's time zone), days without runs included.
    #[default]
    Day,
    /// One group per model (`runs.options.model`).
    Model,
    /// One group per project; runs of sessions without a project form the `key: null` group.
    Project,
}

/// What a set of runs used. A run counts once, in the group of the day it was queued
/// (`created_at`, in the report's time zone); runs still queued or running count with the usage
/// reported so far (none, usually).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UsageStats {
    /// Runs queued in the group, whatever their outcome.
    #[ts(type = "number")]
    pub runs: i64,
    /// Of those, the runs that ended `failed`.
    #[ts(type = "number")]
    pub failed_runs: i64,
    #[ts(type = "number")]
    pub input_tokens: i64,
    #[ts(type = "number")]
    pub output_tokens: i64,
    #[ts(type = "number")]
    pub cache_creation_input_tokens: i64,
    #[ts(type = "number")]
    pub cache_read_input_tokens: i64,
    /// The agent's reported cost (`run_usage.total_cost_usd`), summed.
    pub cost_usd: f64,
    /// Median wall-clock duration (`started_at` → `finished_at`) of the group's finished runs, in
    /// milliseconds; `null` when none finished.
    #[ts(type = "number | null")]
    pub duration_p50_ms: Option<i64>,
    /// 95th percentile of the same durations (continuous percentile, rounded).
    #[ts(type = "number | null")]
    pub duration_p95_ms: Option<i64>,
}

/// One group of a usage report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UsageGroup {
    /// `day`: the date, `YYYY-MM-DD`; `model`: the model's id; `project`: the project's id.
    /// `null` for runs without a model or without a project.
    pub key: Option<String>,
    /// `project`: the project's name; otherwise `null`.
    pub label: Option<String>,
    pub usage: UsageStats,
}

/// `GET /usage`, `GET /admin/usage`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UsageReport {
    /// The first day counted (inclusive).
    pub from: NaiveDate,
    /// The day after the last one counted (exclusive).
    pub to: NaiveDate,
    /// The IANA time zone whose midnights bound the days.
    pub tz: String,
    pub group_by: UsageGroupBy,
    /// Whether every user's runs are counted (`/admin/usage`) or only the caller's.
    pub all_users: bool,
    /// `day`: every day of the range in order, with zeros where nothing ran; `model` and
    /// `project`: the groups that have runs, by cost (highest first), then key.
    pub groups: Vec<UsageGroup>,
    /// The whole range (its percentiles are over all its runs, not combined from the groups').
    pub totals: UsageStats,
}
