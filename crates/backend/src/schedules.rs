//! Scheduled tasks: a user's prompts that run on a cron schedule in their time zone, and the fire
//! that turns due ones into runs.
//!
//! # Firing exactly once
//! Every executor manager calls [`fire`] every few seconds. One transaction locks the enabled
//! rows with `next_fire_at <= now()` (`FOR UPDATE SKIP LOCKED`, so concurrent callers never wait
//! on each other and never see the same row), queues one run each through [`crate::tasks::queue`],
//! and moves `next_fire_at` to the first occurrence strictly after `now()`. A caller that reads a
//! row after that commit re-checks it under the lock and finds it no longer due. So a due task
//! fires once however many managers call, and fires missed while no manager ran collapse into
//! one. Times follow [`protocol::cron`] (daylight-saving rules there).

use chrono::{DateTime, Utc};
use protocol::ErrorCode;
use protocol::PermissionMode;
use protocol::cron::{CronError, CronSchedule};
use protocol::schedule::{FiredTask, RunKind, ScheduledTaskView, SessionMode};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};
use crate::tasks::{self, NewTask, Queued};

/// The longest name kept.
pub const MAX_NAME_CHARS: usize = 200;
/// Fire times shown with a task and in a preview.
pub const UPCOMING: usize = 5;
/// Tasks fired per call when the caller names no limit, and the most it may name.
pub const DEFAULT_FIRE_LIMIT: u32 = 100;
pub const MAX_FIRE_LIMIT: u32 = 1000;

pub const COLUMNS: &str =
    "id, user_id, name, prompt, cron, timezone, enabled, session_mode, session_id,
     model, permission_mode, next_fire_at, last_fired_at, created_at, updated_at";

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TaskRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub name: String,
    pub prompt: String,
    pub cron: String,
    pub timezone: String,
    pub enabled: bool,
    pub session_mode: String,
    pub session_id: Option<Uuid>,
    pub model: Option<String>,
    pub permission_mode: String,
    pub next_fire_at: Option<DateTime<Utc>>,
    pub last_fired_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

pub fn permission_mode_name(m: PermissionMode) -> &'static str {
    m.as_cli_flag()
}

fn parse_permission_mode(s: &str) -> ApiResult<PermissionMode> {
    serde_json::from_value(serde_json::Value::String(s.to_owned()))
        .map_err(|e| ApiError::Internal(format!("stored permission mode: {e}")))
}

impl TaskRow {
    pub fn session_mode(&self) -> ApiResult<SessionMode> {
        self.session_mode
            .parse()
            .map_err(|e| ApiError::Internal(format!("stored session mode: {e}")))
    }

    pub fn into_view(self) -> ApiResult<ScheduledTaskView> {
        let upcoming = match (self.enabled, self.next_fire_at) {
            (true, Some(next)) => {
                let mut list = vec![next];
                if let Ok(s) = CronSchedule::parse(&self.cron, &self.timezone) {
                    list.extend(s.upcoming(next, UPCOMING - 1));
                }
                list
            }
            _ => Vec::new(),
        };
        Ok(ScheduledTaskView {
            session_mode: self.session_mode()?,
            permission_mode: parse_permission_mode(&self.permission_mode)?,
            id: self.id,
            name: self.name,
            prompt: self.prompt,
            cron: self.cron,
            timezone: self.timezone,
            enabled: self.enabled,
            session_id: self.session_id,
            model: self.model,
            next_fire_at: self.next_fire_at,
            last_fired_at: self.last_fired_at,
            upcoming,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

/// A cron expression and time zone as the API checks them: `400 invalid_cron` or
/// `400 invalid_timezone` saying what is wrong.
pub fn parse_schedule(cron: &str, timezone: &str) -> ApiResult<CronSchedule> {
    CronSchedule::parse(cron, timezone).map_err(|e| match e {
        CronError::Cron(m) => ApiError::bad_request(ErrorCode::InvalidCron, m),
        CronError::TimeZone(m) => ApiError::bad_request(ErrorCode::InvalidTimezone, m),
    })
}

/// Name, prompt and model as the API checks them (`400`).
pub fn check_fields(name: &str, prompt: &str, model: Option<&str>) -> ApiResult<()> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        return Err(ApiError::bad_request(
            ErrorCode::InvalidName,
            format!("name must be 1 to {MAX_NAME_CHARS} characters"),
        ));
    }
    if let Some(problem) = tasks::prompt_problem(prompt) {
        return Err(ApiError::bad_request(ErrorCode::InvalidPrompt, problem));
    }
    if let Some(problem) = model.and_then(tasks::model_problem) {
        return Err(ApiError::bad_request(ErrorCode::InvalidModel, problem));
    }
    Ok(())
}

/// The first fire strictly after `now`, or 400 when the schedule no longer fires.
pub fn next_fire(schedule: &CronSchedule, now: DateTime<Utc>) -> ApiResult<DateTime<Utc>> {
    schedule.next_after(now).ok_or_else(|| {
        ApiError::bad_request(ErrorCode::InvalidCron, "the cron expression never fires")
    })
}

/// A task of `user`, or 404 (also when it belongs to someone else).
pub async fn get_owned(pool: &PgPool, user: Uuid, id: Uuid) -> ApiResult<TaskRow> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM scheduled_tasks WHERE id = $1 AND user_id = $2"
    ));
    let row: Option<TaskRow> = sqlx::query_as(sql)
        .bind(id)
        .bind(user)
        .fetch_optional(pool)
        .await?;
    row.ok_or(ApiError::NotFound("scheduled task"))
}

/// A task of `user`, locked for the rest of the caller's transaction (an edit, a run now), or 404.
pub async fn lock_owned(tx: &mut PgConnection, user: Uuid, id: Uuid) -> ApiResult<TaskRow> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM scheduled_tasks WHERE id = $1 AND user_id = $2 FOR UPDATE"
    ));
    let row: Option<TaskRow> = sqlx::query_as(sql)
        .bind(id)
        .bind(user)
        .fetch_optional(&mut *tx)
        .await?;
    row.ok_or(ApiError::NotFound("scheduled task"))
}

/// Queues a run of `task` (locked by the caller). `reuse` continues the task's session, or
/// starts one when it has none yet or its owner deleted it; the session is remembered.
pub async fn queue_run(
    tx: &mut PgConnection,
    catalog: &crate::models::Catalog,
    task: &TaskRow,
    kind: RunKind,
    max_attempts: i32,
) -> ApiResult<Queued> {
    let reuse = task.session_mode()? == SessionMode::Reuse;
    let permission_mode = parse_permission_mode(&task.permission_mode)?;
    let new_task = |session_id| NewTask {
        user_id: task.user_id,
        prompt: &task.prompt,
        session_id,
        title: Some(&task.name),
        model: task.model.clone(),
        permission_mode: Some(permission_mode),
        capabilities: Default::default(),
        kind,
        scheduled_task_id: Some(task.id),
        max_attempts,
        git: None,
        // Scheduled tasks have no project yet.
        project_id: None,
        catalog,
    };
    let session = if reuse { task.session_id } else { None };
    let queued = match tasks::queue(tx, &new_task(session)).await {
        // Deleted since the row was read: start a new one.
        Err(ApiError::NotFound(_)) if session.is_some() => {
            tasks::queue(tx, &new_task(None)).await?
        }
        other => other?,
    };
    if reuse && task.session_id != Some(queued.session_id) {
        sqlx::query("UPDATE scheduled_tasks SET session_id = $2 WHERE id = $1")
            .bind(task.id)
            .bind(queued.session_id)
            .execute(&mut *tx)
            .await?;
    }
    Ok(queued)
}

/// Fires every due task (at most `limit`): see the module documentation. A fire is not checked
/// for its model or secrets (`tasks::queue` checks those for interactive tasks only): a task
/// whose model the catalog no longer knows, or whose key or secret is gone, queues its run all
/// the same, and the claim fails that run with the reason, where its owner sees it.
pub async fn fire(
    pool: &PgPool,
    catalog: &crate::models::Catalog,
    limit: u32,
    max_attempts: i32,
) -> ApiResult<Vec<FiredTask>> {
    let mut tx = pool.begin().await?;
    let now: DateTime<Utc> = sqlx::query_scalar("SELECT now()")
        .fetch_one(&mut *tx)
        .await?;
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM scheduled_tasks
          WHERE enabled AND next_fire_at <= now()
            -- A disabled account's tasks wait (once enabled again, a missed firing runs once).
            AND NOT EXISTS (SELECT 1 FROM users u
                             WHERE u.id = scheduled_tasks.user_id AND u.disabled_at IS NOT NULL)
          ORDER BY next_fire_at
          LIMIT $1
          FOR UPDATE SKIP LOCKED"
    ));
    let due: Vec<TaskRow> = sqlx::query_as(sql)
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await?;
    let mut fired = Vec::with_capacity(due.len());
    for task in due {
        // A row whose expression no longer parses (it was valid when stored) is disabled rather
        // than fired forever.
        let next = CronSchedule::parse(&task.cron, &task.timezone)
            .ok()
            .and_then(|s| s.next_after(now));
        let queued = queue_run(&mut tx, catalog, &task, RunKind::Scheduled, max_attempts).await?;
        sqlx::query(
            "UPDATE scheduled_tasks
                SET last_fired_at = now(), next_fire_at = $2, enabled = $3
              WHERE id = $1",
        )
        .bind(task.id)
        .bind(next)
        .bind(next.is_some())
        .execute(&mut *tx)
        .await?;
        tracing::info!(scheduled_task_id = %task.id, run_id = %queued.run_id, next_fire_at = ?next, "scheduled task fired");
        fired.push(FiredTask {
            scheduled_task_id: task.id,
            run_id: queued.run_id,
            session_id: queued.session_id,
        });
    }
    tx.commit().await?;
    // Counted after the commit: a rolled-back fire did not happen.
    for _ in &fired {
        crate::metrics::schedule_fired();
    }
    Ok(fired)
}
