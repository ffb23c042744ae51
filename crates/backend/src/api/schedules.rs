//! `/scheduled-tasks`: a user's scheduled tasks (CRUD), "run now", their run history, and a
//! preview of an expression's next fires. Firing lives in [`crate::schedules`].

use axum::extract::State;
use axum::http::StatusCode;
use chrono::Utc;
use protocol::api::CreateTaskResponse;
use protocol::schedule::{
    CreateScheduledTaskRequest, CronPreview, RunKind, ScheduledRunList, ScheduledTaskList,
    ScheduledTaskView, SessionMode, UpdateScheduledTaskRequest,
};
use protocol::{ErrorBody, RunStatus};
use serde::Deserialize;
use uuid::Uuid;

use crate::auth::CurrentUser;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Json, Path, Query};
use crate::runs::{RUN_VIEW_COLUMNS, RunRow};
use crate::schedules::{
    self, COLUMNS, TaskRow, UPCOMING, check_fields, next_fire, parse_schedule, permission_mode_name,
};
use crate::state::AppState;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(preview))
        .routes(routes!(detail, update, remove))
        .routes(routes!(run_now))
        .routes(routes!(history))
}

/// The caller's scheduled tasks, by name.
#[utoipa::path(
    get,
    path = "/api/v1/scheduled-tasks",
    operation_id = "list_scheduled_tasks",
    tag = "scheduled-tasks",
    responses((status = 200, description = "The scheduled tasks.", body = ScheduledTaskList)),
)]
async fn list(
    State(state): State<AppState>,
    user: CurrentUser,
) -> ApiResult<Json<ScheduledTaskList>> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM scheduled_tasks WHERE user_id = $1 ORDER BY name, id"
    ));
    let rows: Vec<TaskRow> = sqlx::query_as(sql)
        .bind(user.id)
        .fetch_all(&state.pool)
        .await?;
    Ok(Json(ScheduledTaskList {
        scheduled_tasks: rows
            .into_iter()
            .map(TaskRow::into_view)
            .collect::<ApiResult<_>>()?,
    }))
}

/// Creates a scheduled task: a prompt that runs on a five-field cron schedule in an IANA time
/// zone.
#[utoipa::path(
    post,
    path = "/api/v1/scheduled-tasks",
    operation_id = "create_scheduled_task",
    tag = "scheduled-tasks",
    request_body = CreateScheduledTaskRequest,
    responses(
        (status = 201, description = "Created.", body = ScheduledTaskView),
        (status = 400, description = "The cron expression (`invalid_cron`), time zone (`invalid_timezone`), name (`invalid_name`), prompt (`invalid_prompt`) or model name (`invalid_model`) is not acceptable.", body = ErrorBody),
        (status = 422, description = "The model is not offered (`unknown_model`) or its provider's key is missing (`unknown_secret`).", body = ErrorBody),
    ),
)]
async fn create(
    State(state): State<AppState>,
    user: CurrentUser,
    Json(req): Json<CreateScheduledTaskRequest>,
) -> ApiResult<(StatusCode, Json<ScheduledTaskView>)> {
    check_fields(&req.name, &req.prompt, req.model.as_deref())?;
    let schedule = parse_schedule(&req.cron, &req.timezone)?;
    let mut conn = state.pool.acquire().await?;
    crate::models::check(&mut conn, &state.catalog, user.id, req.model.as_deref()).await?;
    drop(conn);
    let next = if req.enabled {
        Some(next_fire(&schedule, Utc::now())?)
    } else {
        None
    };
    let sql = sqlx::AssertSqlSafe(format!(
        "INSERT INTO scheduled_tasks (id, user_id, name, prompt, cron, timezone, enabled,
                                      session_mode, model, permission_mode, next_fire_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
         RETURNING {COLUMNS}"
    ));
    let row: TaskRow = sqlx::query_as(sql)
        .bind(Uuid::now_v7())
        .bind(user.id)
        .bind(req.name.trim())
        .bind(&req.prompt)
        .bind(req.cron.split_whitespace().collect::<Vec<_>>().join(" "))
        .bind(schedule.timezone().name())
        .bind(req.enabled)
        .bind(req.session_mode.as_str())
        .bind(&req.model)
        .bind(permission_mode_name(
            req.permission_mode.unwrap_or_default(),
        ))
        .bind(next)
        .fetch_one(&state.pool)
        .await?;
    tracing::info!(scheduled_task_id = %row.id, user_id = %user.id, "scheduled task created");
    Ok((StatusCode::CREATED, Json(row.into_view()?)))
}

/// A scheduled task, with its next fires.
#[utoipa::path(
    get,
    path = "/api/v1/scheduled-tasks/{id}",
    operation_id = "get_scheduled_task",
    tag = "scheduled-tasks",
    params(("id" = Uuid, Path, description = "The scheduled task's id.")),
    responses(
        (status = 200, description = "The scheduled task.", body = ScheduledTaskView),
        (status = 404, description = "No such scheduled task of the caller's (`not_found`).", body = ErrorBody),
    ),
)]
async fn detail(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<ScheduledTaskView>> {
    Ok(Json(
        schedules::get_owned(&state.pool, user.id, id)
            .await?
            .into_view()?,
    ))
}

/// Changes a scheduled task; the fields left out keep their values (an empty `model` clears it).
#[utoipa::path(
    patch,
    path = "/api/v1/scheduled-tasks/{id}",
    operation_id = "update_scheduled_task",
    tag = "scheduled-tasks",
    params(("id" = Uuid, Path, description = "The scheduled task's id.")),
    request_body = UpdateScheduledTaskRequest,
    responses(
        (status = 200, description = "The scheduled task as it is now.", body = ScheduledTaskView),
        (status = 400, description = "A field is not acceptable (`invalid_cron`, `invalid_timezone`, `invalid_name`, `invalid_prompt`, `invalid_model`).", body = ErrorBody),
        (status = 404, description = "No such scheduled task of the caller's (`not_found`).", body = ErrorBody),
        (status = 422, description = "The model is not offered (`unknown_model`) or its provider's key is missing (`unknown_secret`).", body = ErrorBody),
    ),
)]
async fn update(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<Uuid>,
    Json(req): Json<UpdateScheduledTaskRequest>,
) -> ApiResult<Json<ScheduledTaskView>> {
    let mut tx = state.pool.begin().await?;
    let old = schedules::lock_owned(&mut tx, user.id, id).await?;
    let name = req.name.as_deref().map(str::trim).unwrap_or(&old.name);
    let prompt = req.prompt.as_deref().unwrap_or(&old.prompt);
    // An empty model clears it (the default model applies again).
    let model = match req.model.as_deref() {
        Some("") => None,
        Some(m) => Some(m),
        None => old.model.as_deref(),
    };
    check_fields(name, prompt, model)?;
    // A model given now is checked like a task's; one kept is not (the task can still be
    // renamed or disabled after the catalog dropped its model).
    if req.model.is_some() {
        crate::models::check(&mut tx, &state.catalog, user.id, model).await?;
    }
    let cron = req
        .cron
        .as_deref()
        .map(|c| c.split_whitespace().collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| old.cron.clone());
    let timezone = req.timezone.as_deref().unwrap_or(&old.timezone);
    let schedule = parse_schedule(&cron, timezone)?;
    let timezone = schedule.timezone().name();
    let enabled = req.enabled.unwrap_or(old.enabled);
    let changed_schedule = cron != old.cron || timezone != old.timezone;
    // Enabling (or changing the schedule) counts from now: fires missed while disabled are not
    // made up for.
    let next = if !enabled {
        None
    } else if !old.enabled || changed_schedule || old.next_fire_at.is_none() {
        Some(next_fire(&schedule, Utc::now())?)
    } else {
        old.next_fire_at
    };
    let session_mode = req.session_mode.unwrap_or(old.session_mode()?);
    let session_id = match session_mode {
        SessionMode::Reuse => old.session_id,
        SessionMode::New => None,
    };
    let permission_mode = match req.permission_mode {
        Some(m) => permission_mode_name(m).to_owned(),
        None => old.permission_mode.clone(),
    };
    let sql = sqlx::AssertSqlSafe(format!(
        "UPDATE scheduled_tasks
            SET name = $2, prompt = $3, cron = $4, timezone = $5, enabled = $6, session_mode = $7,
                session_id = $8, model = $9, permission_mode = $10, next_fire_at = $11,
                updated_at = now()
          WHERE id = $1
         RETURNING {COLUMNS}"
    ));
    let row: TaskRow = sqlx::query_as(sql)
        .bind(id)
        .bind(name)
        .bind(prompt)
        .bind(&cron)
        .bind(timezone)
        .bind(enabled)
        .bind(session_mode.as_str())
        .bind(session_id)
        .bind(model)
        .bind(&permission_mode)
        .bind(next)
        .fetch_one(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(Json(row.into_view()?))
}

/// Deletes a scheduled task (its runs and sessions stay).
#[utoipa::path(
    delete,
    path = "/api/v1/scheduled-tasks/{id}",
    operation_id = "delete_scheduled_task",
    tag = "scheduled-tasks",
    params(("id" = Uuid, Path, description = "The scheduled task's id.")),
    responses(
        (status = 204, description = "Deleted."),
        (status = 404, description = "No such scheduled task of the caller's (`not_found`).", body = ErrorBody),
    ),
)]
async fn remove(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    let deleted = sqlx::query("DELETE FROM scheduled_tasks WHERE id = $1 AND user_id = $2")
        .bind(id)
        .bind(user.id)
        .execute(&state.pool)
        .await?
        .rows_affected();
    if deleted == 0 {
        return Err(ApiError::NotFound("scheduled task"));
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Runs the task now, whatever its schedule (disabled ones too). The run is `interactive` (a
/// person asked for it, so managers that pull scheduled runs only at night still take it) and
/// names its scheduled task, so it shows in the history. The schedule is left as it is.
#[utoipa::path(
    post,
    path = "/api/v1/scheduled-tasks/{id}/run",
    operation_id = "run_scheduled_task_now",
    tag = "scheduled-tasks",
    params(("id" = Uuid, Path, description = "The scheduled task's id.")),
    responses(
        (status = 201, description = "Queued.", body = CreateTaskResponse),
        (status = 404, description = "No such scheduled task of the caller's (`not_found`).", body = ErrorBody),
        (status = 422, description = "The task's model is no longer offered (`unknown_model`) or a secret it needs is missing (`unknown_secret`).", body = ErrorBody),
    ),
)]
async fn run_now(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<Uuid>,
) -> ApiResult<(StatusCode, Json<CreateTaskResponse>)> {
    let mut tx = state.pool.begin().await?;
    // Locked like a fire, so the two never both start the task's first session.
    let task = schedules::lock_owned(&mut tx, user.id, id).await?;
    let queued = schedules::queue_run(
        &mut tx,
        &state.catalog,
        &task,
        RunKind::Interactive,
        state.settings.run_max_attempts,
    )
    .await?;
    tx.commit().await?;
    state.queue.bump();
    tracing::info!(scheduled_task_id = %id, run_id = %queued.run_id, "scheduled task run now");
    Ok((
        StatusCode::CREATED,
        Json(CreateTaskResponse {
            session_id: queued.session_id,
            run_id: queued.run_id,
            status: RunStatus::Queued,
        }),
    ))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct HistoryQuery {
    /// Runs to list, 1 to 200.
    #[serde(default = "default_limit")]
    #[param(default = 50, minimum = 1, maximum = 200)]
    limit: i64,
}

fn default_limit() -> i64 {
    50
}

/// The scheduled task's runs, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/scheduled-tasks/{id}/runs",
    operation_id = "list_scheduled_task_runs",
    tag = "scheduled-tasks",
    params(("id" = Uuid, Path, description = "The scheduled task's id."), HistoryQuery),
    responses(
        (status = 200, description = "The runs.", body = ScheduledRunList),
        (status = 404, description = "No such scheduled task of the caller's (`not_found`).", body = ErrorBody),
        (status = 422, description = "`limit` is out of range (`validation_error`).", body = ErrorBody),
    ),
)]
async fn history(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<Uuid>,
    Query(q): Query<HistoryQuery>,
) -> ApiResult<Json<ScheduledRunList>> {
    if !(1..=200).contains(&q.limit) {
        return Err(ApiError::validation("limit must be between 1 and 200"));
    }
    schedules::get_owned(&state.pool, user.id, id).await?;
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {RUN_VIEW_COLUMNS} FROM runs r
           JOIN sessions s ON s.id = r.session_id
           LEFT JOIN run_usage u ON u.run_id = r.id
           LEFT JOIN run_exports x ON x.run_id = r.id
          WHERE r.scheduled_task_id = $1 AND s.user_id = $2
          ORDER BY r.queue_pos DESC
          LIMIT $3"
    ));
    let rows: Vec<RunRow> = sqlx::query_as(sql)
        .bind(id)
        .bind(user.id)
        .bind(q.limit)
        .fetch_all(&state.pool)
        .await?;
    Ok(Json(ScheduledRunList {
        runs: rows
            .into_iter()
            .map(|r| r.into_view(&state.catalog))
            .collect::<ApiResult<_>>()?,
    }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct PreviewQuery {
    /// A five-field cron expression.
    #[param(example = "0 9 * * 1-5")]
    cron: String,
    /// An IANA time zone.
    #[serde(default = "default_timezone")]
    #[param(default = "UTC", example = "Europe/Paris")]
    timezone: String,
}

fn default_timezone() -> String {
    "UTC".into()
}

/// The next fires of a cron expression in a time zone (nothing is stored).
#[utoipa::path(
    get,
    path = "/api/v1/scheduled-tasks/preview",
    operation_id = "preview_schedule",
    tag = "scheduled-tasks",
    params(PreviewQuery),
    responses(
        (status = 200, description = "The next fires.", body = CronPreview),
        (status = 400, description = "The expression (`invalid_cron`) or time zone (`invalid_timezone`) is not acceptable, or the query does not parse (`invalid_query`).", body = ErrorBody),
    ),
)]
async fn preview(
    _user: CurrentUser,
    Query(q): Query<PreviewQuery>,
) -> ApiResult<Json<CronPreview>> {
    let schedule = parse_schedule(&q.cron, &q.timezone)?;
    Ok(Json(CronPreview {
        upcoming: schedule.upcoming(Utc::now(), UPCOMING),
    }))
}
