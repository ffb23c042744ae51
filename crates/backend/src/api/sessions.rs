//! `/sessions`: list (`?project_id=`, `?status=`, `?pinned=` to narrow it), read, rename and
//! pin, delete (with the session's objects), read events, cancel.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use protocol::api::{
    CancelResponse, EventsPage, SessionDetail, SessionList, SessionView, UpdateSessionRequest,
};
use protocol::{ErrorBody, SessionStatus};
use serde::Deserialize;
use uuid::Uuid;

use crate::auth::CurrentUser;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Json, Path, Query};
use crate::sessions::{self, MAX_TITLE_CHARS, SessionRow};
use crate::state::AppState;
use crate::{events, queue, runs};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(detail, rename, remove))
        .routes(routes!(list_events))
        .routes(routes!(cancel))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    /// Sessions per page, 1 to 200.
    #[serde(default = "default_limit")]
    #[param(default = 50, minimum = 1, maximum = 200)]
    limit: i64,
    /// `next_cursor` of the previous page.
    #[serde(default)]
    cursor: Option<String>,
    /// Only the sessions of this project of the caller's (another user's or a missing project
    /// answers 404, like the project's own routes).
    #[serde(default)]
    project_id: Option<Uuid>,
    /// Only the sessions of this status (an unknown name answers 400 `invalid_query`).
    #[serde(default)]
    status: Option<SessionStatus>,
    /// `true`: only pinned sessions; `false`: only the others (a UI lists the pinned ones above
    /// the rest).
    #[serde(default)]
    pinned: Option<bool>,
}

fn default_limit() -> i64 {
    50
}

/// Cursor: `<created_at as unix microseconds>_<id>` of the last session of the previous page.
fn parse_cursor(c: &str) -> ApiResult<(DateTime<Utc>, Uuid)> {
    let bad = || {
        ApiError::bad_request(
            protocol::ErrorCode::InvalidCursor,
            "cursor is not one this API returned",
        )
    };
    let (micros, id) = c.split_once('_').ok_or_else(bad)?;
    let micros: i64 = micros.parse().map_err(|_| bad())?;
    let at = DateTime::from_timestamp_micros(micros).ok_or_else(bad)?;
    Ok((at, id.parse().map_err(|_| bad())?))
}

/// The caller's sessions, newest first, a page at a time (pinned or not, unless `pinned` says).
#[utoipa::path(
    get,
    path = "/api/v1/sessions",
    operation_id = "list_sessions",
    tag = "sessions",
    params(ListQuery),
    responses(
        (status = 200, description = "A page of sessions; `next_cursor` is null on the last.", body = SessionList),
        (status = 400, description = "The cursor is not one this API returned (`invalid_cursor`), or the query does not parse, e.g. an unknown `status` (`invalid_query`).", body = ErrorBody),
        (status = 404, description = "No such project of the caller's (`not_found`).", body = ErrorBody),
        (status = 422, description = "`limit` is out of range (`validation_error`).", body = ErrorBody),
    ),
)]
async fn list(
    State(state): State<AppState>,
    user: CurrentUser,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<SessionList>> {
    if !(1..=200).contains(&q.limit) {
        return Err(ApiError::validation("limit must be between 1 and 200"));
    }
    let (before_at, before_id) = match q.cursor.as_deref() {
        Some(c) => {
            let (a, i) = parse_cursor(c)?;
            (Some(a), Some(i))
        }
        None => (None, None),
    };
    if let Some(project) = q.project_id {
        crate::projects::ensure_owned(&mut *state.pool.acquire().await?, user.id, project).await?;
    }
    let rows: Vec<SessionRow> = sqlx::query_as(concat!(
        "SELECT ",
        sessions::session_columns!(),
        " FROM sessions
          WHERE user_id = $1
            AND ($2::timestamptz IS NULL OR (created_at, id) < ($2, $3))
            AND ($5::uuid IS NULL OR project_id = $5)
            AND ($6::text IS NULL OR status = $6)
            AND ($7::bool IS NULL OR (pinned_at IS NOT NULL) = $7)
          ORDER BY created_at DESC, id DESC
          LIMIT $4"
    ))
    .bind(user.id)
    .bind(before_at)
    .bind(before_id)
    .bind(q.limit + 1)
    .bind(q.project_id)
    .bind(q.status.map(SessionStatus::as_str))
    .bind(q.pinned)
    .fetch_all(&state.pool)
    .await?;
    let has_more = rows.len() as i64 > q.limit;
    let rows: Vec<SessionRow> = rows.into_iter().take(q.limit as usize).collect();
    let next_cursor = if has_more {
        rows.last()
            .map(|r| format!("{}_{}", r.created_at().timestamp_micros(), r.id()))
    } else {
        None
    };
    let sessions = rows
        .into_iter()
        .map(SessionRow::into_view)
        .collect::<ApiResult<Vec<SessionView>>>()?;
    Ok(Json(SessionList {
        sessions,
        next_cursor,
    }))
}

/// A session and its runs.
#[utoipa::path(
    get,
    path = "/api/v1/sessions/{id}",
    operation_id = "get_session",
    tag = "sessions",
    params(("id" = Uuid, Path, description = "The session's id.")),
    responses(
        (status = 200, description = "The session and its runs, oldest first.", body = SessionDetail),
        (status = 404, description = "No such session of the caller's (`not_found`).", body = ErrorBody),
    ),
)]
async fn detail(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<SessionDetail>> {
    let session = sessions::get_owned(&state.pool, user.id, id).await?;
    let runs = runs::list_for_session(&state.pool, &state.catalog, id).await?;
    Ok(Json(SessionDetail { session, runs }))
}

/// Renames a session, pins or unpins it.
#[utoipa::path(
    patch,
    path = "/api/v1/sessions/{id}",
    operation_id = "rename_session",
    tag = "sessions",
    params(("id" = Uuid, Path, description = "The session's id.")),
    request_body = UpdateSessionRequest,
    responses(
        (status = 200, description = "The session.", body = SessionView),
        (status = 404, description = "No such session of the caller's (`not_found`).", body = ErrorBody),
        (status = 422, description = "Neither `title` nor `pinned` given, or the title is empty or too long (`validation_error`).", body = ErrorBody),
    ),
)]
async fn rename(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<Uuid>,
    Json(req): Json<UpdateSessionRequest>,
) -> ApiResult<Json<SessionView>> {
    if req.title.is_none() && req.pinned.is_none() {
        return Err(ApiError::validation("give a title, pinned, or both"));
    }
    let title = req.title.as_deref().map(str::trim);
    if let Some(title) = title
        && (title.is_empty() || title.chars().count() > MAX_TITLE_CHARS)
    {
        return Err(ApiError::validation(format!(
            "title must be 1 to {MAX_TITLE_CHARS} characters"
        )));
    }
    // A pin keeps its first time; only a rename counts as an update of the session.
    let row: Option<SessionRow> = sqlx::query_as(concat!(
        "UPDATE sessions
            SET title = COALESCE($3, title),
                updated_at = CASE WHEN $3::text IS NULL THEN updated_at ELSE now() END,
                pinned_at = CASE WHEN $4::bool IS NULL THEN pinned_at
                                 WHEN $4 THEN COALESCE(pinned_at, now())
                                 ELSE NULL END
          WHERE id = $1 AND user_id = $2
         RETURNING ",
        sessions::session_columns!()
    ))
    .bind(id)
    .bind(user.id)
    .bind(title)
    .bind(req.pinned)
    .fetch_optional(&state.pool)
    .await?;
    Ok(Json(row.ok_or(ApiError::NotFound("session"))?.into_view()?))
}

/// Deletes a session with its runs, events and stored files.
#[utoipa::path(
    delete,
    path = "/api/v1/sessions/{id}",
    operation_id = "delete_session",
    tag = "sessions",
    params(("id" = Uuid, Path, description = "The session's id.")),
    responses(
        (status = 204, description = "Deleted."),
        (status = 404, description = "No such session of the caller's (`not_found`).", body = ErrorBody),
        (status = 409, description = "A run of the session is in progress; cancel it first (`session_active`).", body = ErrorBody),
    ),
)]
async fn remove(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    let mut tx = state.pool.begin().await?;
    let found: Option<i32> =
        sqlx::query_scalar("SELECT 1 FROM sessions WHERE id = $1 AND user_id = $2 FOR UPDATE")
            .bind(id)
            .bind(user.id)
            .fetch_optional(&mut *tx)
            .await?;
    found.ok_or(ApiError::NotFound("session"))?;
    sessions::delete_locked(&mut tx, &state.storage, &[id]).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct EventsQuery {
    /// The last `seq` the client has (0 for the first page).
    #[serde(default)]
    #[param(default = 0, minimum = 0)]
    after: i64,
    /// Events per page, 1 to 1000.
    #[serde(default = "default_event_limit")]
    #[param(default = 500, minimum = 1, maximum = 1000)]
    limit: i64,
}

fn default_event_limit() -> i64 {
    500
}

/// A session's events after `after`, in order.
#[utoipa::path(
    get,
    path = "/api/v1/sessions/{id}/events",
    operation_id = "list_session_events",
    tag = "sessions",
    params(("id" = Uuid, Path, description = "The session's id."), EventsQuery),
    responses(
        (status = 200, description = "A page of events; resume with `after = next_after`.", body = EventsPage),
        (status = 404, description = "No such session of the caller's (`not_found`).", body = ErrorBody),
        (status = 422, description = "`after` or `limit` is out of range (`validation_error`).", body = ErrorBody),
    ),
)]
async fn list_events(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<Uuid>,
    Query(q): Query<EventsQuery>,
) -> ApiResult<Json<EventsPage>> {
    if q.after < 0 {
        return Err(ApiError::validation("after must be 0 or more"));
    }
    if !(1..=events::MAX_PAGE).contains(&q.limit) {
        return Err(ApiError::validation(format!(
            "limit must be between 1 and {}",
            events::MAX_PAGE
        )));
    }
    sessions::ensure_owned(&state.pool, user.id, id).await?;
    Ok(Json(events::page(&state.pool, id, q.after, q.limit).await?))
}

/// Cancels a session's queued and running runs.
#[utoipa::path(
    post,
    path = "/api/v1/sessions/{id}/cancel",
    operation_id = "cancel_session",
    tag = "sessions",
    params(("id" = Uuid, Path, description = "The session's id.")),
    responses(
        (status = 200, description = "How many runs were canceled at once (queued) and how many are being stopped (running).", body = CancelResponse),
        (status = 404, description = "No such session of the caller's (`not_found`).", body = ErrorBody),
    ),
)]
async fn cancel(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<CancelResponse>> {
    sessions::ensure_owned(&state.pool, user.id, id).await?;
    Ok(Json(
        queue::cancel::cancel_session(&state.pool, &state.nudger, id).await?,
    ))
}
