//! `GET /usage` (the caller's runs) and `GET /admin/usage` (every user's; the `admin` scope, as
//! every `/admin/…` route, [`crate::auth::scope`]). See [`crate::usage`].

use axum::extract::State;
use chrono::NaiveDate;
use protocol::ErrorBody;
use protocol::usage::{UsageGroupBy, UsageReport};
use serde::Deserialize;

use crate::auth::CurrentUser;
use crate::error::ApiResult;
use crate::extract::{Json, Query};
use crate::state::AppState;
use crate::usage::{self, UsageParams};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(my_usage))
        .routes(routes!(all_usage))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct UsageQuery {
    /// The first day counted (inclusive), `YYYY-MM-DD`; by default 30 days before `to`.
    #[serde(default)]
    #[param(example = "2025-01-01")]
    from: Option<NaiveDate>,
    /// The day after the last one counted (exclusive), `YYYY-MM-DD`; by default tomorrow (in
    /// `tz`). At most 366 days after `from`.
    #[serde(default)]
    #[param(example = "2025-02-01")]
    to: Option<NaiveDate>,
    /// `day` (the default: every day of the range, zeros included), `model` or `project`.
    #[serde(default)]
    #[param(inline)]
    group_by: UsageGroupBy,
    /// The IANA time zone whose midnights bound the days; `UTC` by default.
    #[serde(default)]
    #[param(example = "Europe/Paris")]
    tz: Option<String>,
}

impl From<UsageQuery> for UsageParams {
    fn from(q: UsageQuery) -> Self {
        UsageParams {
            from: q.from,
            to: q.to,
            group_by: q.group_by,
            tz: q.tz,
        }
    }
}

/// The caller's usage: tokens, cost, runs, failures and run durations per day, model or project,
/// with totals. A run counts on the day it was queued.
#[utoipa::path(
    get,
    path = "/api/v1/usage",
    operation_id = "get_usage",
    tag = "usage",
    params(UsageQuery),
    responses(
        (status = 200, description = "The report.", body = UsageReport),
        (status = 400, description = "`tz` is not an IANA time zone (`invalid_timezone`), or the query does not parse (`invalid_query`).", body = ErrorBody),
        (status = 422, description = "`from` is not before `to`, or the range is longer than 366 days (`validation_error`).", body = ErrorBody),
    ),
)]
async fn my_usage(
    State(state): State<AppState>,
    user: CurrentUser,
    Query(q): Query<UsageQuery>,
) -> ApiResult<Json<UsageReport>> {
    Ok(Json(
        usage::report(&state.pool, Some(user.id), &q.into()).await?,
    ))
}

/// Every user's usage, as `GET /usage` reports the caller's (admins only).
#[utoipa::path(
    get,
    path = "/api/v1/admin/usage",
    operation_id = "admin_get_usage",
    tag = "admin",
    params(UsageQuery),
    responses(
        (status = 200, description = "The report, `all_users: true`.", body = UsageReport),
        (status = 400, description = "`tz` is not an IANA time zone (`invalid_timezone`), or the query does not parse (`invalid_query`).", body = ErrorBody),
        (status = 422, description = "`from` is not before `to`, or the range is longer than 366 days (`validation_error`).", body = ErrorBody),
    ),
)]
async fn all_usage(
    State(state): State<AppState>,
    _admin: CurrentUser,
    Query(q): Query<UsageQuery>,
) -> ApiResult<Json<UsageReport>> {
    Ok(Json(usage::report(&state.pool, None, &q.into()).await?))
}
