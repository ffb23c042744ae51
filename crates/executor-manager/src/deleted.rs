//! Deleted sessions leave no copy here. The backend deletes a session's objects with the session
//! (its owner's delete, a project's cascade, retention) and lists the deletion in a feed
//! (`GET /internal/deleted-sessions`); every `DELETED_SESSIONS_POLL_SECONDS` this manager reads the feed from
//! its cursor and, for each session, stops its warm executor and any container left for it, and
//! removes its workspace directory and local archives — whichever hosts its runs went to.
//!
//! The cursor starts at 0 when the manager starts: the feed keeps 30 days, and an entry for a
//! session this host never held costs a failed `stat`.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::run::RunContext;

/// Entries asked for per call; a full answer is followed by another call at once.
const BATCH: u32 = 500;

/// Reads the feed until `stop`.
pub async fn run_loop(ctx: Arc<RunContext>, stop: CancellationToken) {
    let mut cursor = 0i64;
    let every = Duration::from_secs(ctx.settings.deleted_sessions_poll_seconds);
    loop {
        cursor = drain(&ctx, cursor).await;
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(every) => {}
        }
    }
}

/// Reads the feed from `cursor` to its end, dropping each session; returns the new cursor.
pub async fn drain(ctx: &RunContext, mut cursor: i64) -> i64 {
    loop {
        let page = match ctx.backend.deleted_sessions(cursor, BATCH).await {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the deleted sessions feed");
                return cursor;
            }
        };
        let full = page.sessions.len() >= BATCH as usize;
        for s in &page.sessions {
            forget(ctx, s.user_id, s.session_id).await;
        }
        cursor = page.next;
        if !full {
            return cursor;
        }
    }
}

/// Stops what runs for the session here and removes its files on this host.
pub async fn forget(ctx: &RunContext, user: Uuid, session: Uuid) {
    if let Some(executor) = ctx.warm.take(user, session) {
        executor.stop().await;
    }
    ctx.runtime.evict_session(session).await;
    // No run of a deleted session can start (the backend refuses to delete one with a run on a
    // worker); clean-up may be working on it, so wait for that to finish.
    let _held = ctx.workspaces.enter(session).await;
    let root = ctx.settings.workspace_root.clone();
    let removed =
        tokio::task::spawn_blocking(move || crate::cleanup::remove_session(&root, user, session))
            .await;
    match removed {
        Ok(Ok(0)) => {}
        Ok(Ok(n)) => tracing::info!(%session, entries = n, "deleted session's files removed"),
        Ok(Err(e)) => {
            tracing::warn!(%session, error = %e, "cannot remove a deleted session's files")
        }
        Err(e) => {
            tracing::warn!(%session, error = %e, "removing a deleted session's files panicked")
        }
    }
}
