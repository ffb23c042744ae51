//! The feed of deleted sessions, for executor managers: each reads it from its cursor and drops
//! its copies of those sessions' workspaces (the objects under `workspaces/{id}/` are deleted by
//! whoever deleted the session: `crate::sessions::delete_locked`, retention). The rows are
//! written by the `sessions_after_delete` trigger, so no way of deleting a session misses it, and
//! pruned after [`FEED_DAYS`] by retention.

use protocol::internal::{DeletedSession, DeletedSessions};
use sqlx::PgPool;
use uuid::Uuid;

/// How long a deletion stays in the feed: a manager down longer than this keeps the workspace
/// until its own clean-up (`WORKSPACE_CLEANUP_*`) removes it.
pub const FEED_DAYS: i32 = 30;
/// The most entries one call returns.
pub const MAX_LIMIT: i64 = 1000;

/// Deletions after `after` (a `seq`), oldest first, at most `limit`.
pub async fn feed(pool: &PgPool, after: i64, limit: i64) -> Result<DeletedSessions, sqlx::Error> {
    let rows: Vec<(i64, Uuid, Uuid)> = sqlx::query_as(
        "SELECT seq, session_id, user_id FROM deleted_sessions
          WHERE seq > $1 ORDER BY seq LIMIT $2",
    )
    .bind(after)
    .bind(limit.clamp(1, MAX_LIMIT))
    .fetch_all(pool)
    .await?;
    let next = rows.last().map_or(after, |r| r.0);
    Ok(DeletedSessions {
        sessions: rows
            .into_iter()
            .map(|(seq, session_id, user_id)| DeletedSession {
                seq,
                session_id,
                user_id,
            })
            .collect(),
        next,
    })
}

/// Deletes one batch of entries older than [`FEED_DAYS`].
pub async fn prune_batch(pool: &PgPool, batch: u32) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query(
        "DELETE FROM deleted_sessions WHERE seq IN (
             SELECT seq FROM deleted_sessions
              WHERE deleted_at < now() - make_interval(days => $1)
              ORDER BY seq LIMIT $2)",
    )
    .bind(FEED_DAYS)
    .bind(i64::from(batch))
    .execute(pool)
    .await?
    .rows_affected())
}
