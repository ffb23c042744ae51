//! Sessions: a conversation with the agent, owned by one user, holding its runs and events.

use chrono::{DateTime, Utc};
use protocol::SessionStatus;
use protocol::api::SessionView;
use serde_json::Value;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use objstore::Bucket;

use crate::error::{ApiError, ApiResult};

/// The longest title kept.
pub const MAX_TITLE_CHARS: usize = 200;

#[derive(sqlx::FromRow)]
pub struct SessionRow {
    id: Uuid,
    title: String,
    status: String,
    config: Value,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    pending_inputs: i64,
    queued_runs: i64,
    project_id: Option<Uuid>,
    pinned: bool,
    running_since: Option<DateTime<Utc>>,
}

/// The columns [`SessionRow`] reads, from `sessions` (unaliased): the counts come from the
/// partial indexes `input_requests_pending` and `runs_unfinished_by_session`, one probe per
/// session in the same statement. Every unfinished run of a session but the first is a queued
/// follow-up (a session runs one at a time). `running_since` is the start of the run on a
/// worker (the same index; looked up only for a session shown as running or canceling).
macro_rules! session_columns {
    () => {
        concat!(
            "id, title, status, config, created_at, updated_at, project_id,
             pinned_at IS NOT NULL AS pinned,
             (SELECT count(*) FROM input_requests i
               WHERE i.session_id = sessions.id AND i.status = 'pending') AS pending_inputs,
             (SELECT GREATEST(count(*) - 1, 0) FROM runs r
               WHERE r.session_id = sessions.id AND r.status IN ",
            crate::queue::status::active_sql!(),
            ") AS queued_runs,
             CASE WHEN status IN ('running', 'canceling') THEN
               (SELECT r.started_at FROM runs r
                 WHERE r.session_id = sessions.id AND r.status IN ",
            crate::queue::status::active_sql!(),
            " ORDER BY r.queue_pos LIMIT 1) END AS running_since"
        )
    };
}
pub(crate) use session_columns;

pub const SESSION_COLUMNS: &str = session_columns!();

impl SessionRow {
    pub fn into_view(self) -> ApiResult<SessionView> {
        let status: SessionStatus = self
            .status
            .parse()
            .map_err(|e| ApiError::Internal(format!("stored session status: {e}")))?;
        Ok(SessionView {
            id: self.id,
            title: self.title,
            status,
            config: self.config,
            created_at: self.created_at,
            updated_at: self.updated_at,
            pending_inputs: self.pending_inputs,
            queued_runs: self.queued_runs,
            project_id: self.project_id,
            pinned: self.pinned,
            running_since: self.running_since,
        })
    }

    pub fn created_at(&self) -> DateTime<Utc> {
        self.created_at
    }

    pub fn id(&self) -> Uuid {
        self.id
    }
}

/// A session of `user`, or 404 (also when it belongs to someone else).
pub async fn get_owned(pool: &PgPool, user: Uuid, id: Uuid) -> ApiResult<SessionView> {
    let row: Option<SessionRow> = sqlx::query_as(concat!(
        "SELECT ",
        session_columns!(),
        " FROM sessions WHERE id = $1 AND user_id = $2"
    ))
    .bind(id)
    .bind(user)
    .fetch_optional(pool)
    .await?;
    row.ok_or(ApiError::NotFound("session"))?.into_view()
}

/// Checks that `user` owns session `id` (404 otherwise).
pub async fn ensure_owned(pool: &PgPool, user: Uuid, id: Uuid) -> ApiResult<()> {
    let found: Option<i32> =
        sqlx::query_scalar("SELECT 1 FROM sessions WHERE id = $1 AND user_id = $2")
            .bind(id)
            .bind(user)
            .fetch_optional(pool)
            .await?;
    found.map(|_| ()).ok_or(ApiError::NotFound("session"))
}

/// Deletes sessions the caller's transaction holds locked (`FOR UPDATE`), for
/// `DELETE /sessions/{id}` and a project's `?cascade=true`. Refused (409 `session_active`)
/// while one of them has a run on a worker. Like retention, the objects go first (everything
/// under `workspaces/{id}/` of each session that exported any), then the rows (runs, events,
/// exports and the rest cascade): an object-store failure fails the request and keeps the
/// sessions, so no object is left without its session.
pub async fn delete_locked(
    conn: &mut PgConnection,
    storage: &Bucket,
    ids: &[Uuid],
) -> ApiResult<()> {
    let active: bool = sqlx::query_scalar(concat!(
        "SELECT EXISTS (SELECT 1 FROM runs WHERE session_id = ANY($1) AND status IN ",
        crate::queue::status::leased_sql!(),
        ")"
    ))
    .bind(ids)
    .fetch_one(&mut *conn)
    .await?;
    if active {
        return Err(ApiError::conflict(
            protocol::ErrorCode::SessionActive,
            "a session has a run in progress; cancel it first",
        ));
    }
    let exported: Vec<Uuid> = sqlx::query_scalar(
        "SELECT DISTINCT r.session_id FROM run_exports x JOIN runs r ON r.id = x.run_id
          WHERE r.session_id = ANY($1)",
    )
    .bind(ids)
    .fetch_all(&mut *conn)
    .await?;
    for session in exported {
        let n = storage
            .delete_prefix(&objstore::keys::workspace_prefix(session))
            .await?;
        tracing::info!(session_id = %session, objects = n, "deleted a session's objects");
    }
    sqlx::query("DELETE FROM sessions WHERE id = ANY($1)")
        .bind(ids)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// A title from the first line of a prompt, cut at a word boundary.
pub fn title_from_prompt(prompt: &str) -> String {
    const MAX: usize = 80;
    let line = prompt
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("Untitled task");
    if line.chars().count() <= MAX {
        return line.to_owned();
    }
    let cut: String = line.chars().take(MAX).collect();
    let cut = match cut.rfind(' ') {
        Some(i) if i > MAX / 2 => &cut[..i],
        _ => &cut[..],
    };
    format!("{}…", cut.trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_come_from_the_first_line() {
        assert_eq!(title_from_prompt("\n  Fix the bug \nmore"), "Fix the bug");
        assert_eq!(title_from_prompt("   "), "Untitled task");
        let long = "word ".repeat(40);
        let t = title_from_prompt(&long);
        assert!(t.ends_with('…') && t.chars().count() <= 81, "{t}");
    }
}
