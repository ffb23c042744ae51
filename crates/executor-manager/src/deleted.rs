//! Deleted sessions leave no copy here. The backend deletes a session's objects with the session
//! (its owner's delete, a project's cascade, retention) and lists the deletion in a feed
//! (`GET /internal/deleted-sessions`); every `DELETED_SESSIONS_POLL_SECONDS` this manager reads the feed from
//! its cursor and, for each session, stops its warm executor and any container left for it, and
//! removes its workspace directory and local archives — whichever hosts its runs went to.
//!
//! The cursor starts at 0 when the manager starts: the feed keeps 30 days, and an entry for a
//! session this host never held costs a failed `stat`.

use std::path::Path;
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
    let removed = tokio::task::spawn_blocking(move || remove_local(&root, user, session)).await;
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

/// Removes `active/{user}/{session}` and `archive/{user}/{session}-*.tar.gz` under `root`;
/// returns how many of them there were. Blocking.
pub fn remove_local(root: &Path, user: Uuid, session: Uuid) -> std::io::Result<usize> {
    let mut n = 0;
    let dir = root
        .join("active")
        .join(user.to_string())
        .join(session.to_string());
    match std::fs::remove_dir_all(&dir) {
        Ok(()) => n += 1,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let archives = root.join("archive").join(user.to_string());
    let prefix = format!("{session}-");
    let entries = match std::fs::read_dir(&archives) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(n),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with(&prefix) && name.ends_with(".tar.gz") {
            std::fs::remove_file(entry.path())?;
            n += 1;
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deleted_sessions_directory_and_archives_go_and_nothing_else() {
        let root = tempfile::tempdir().unwrap();
        let (user, session, other) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        let ws = |s: Uuid| {
            root.path()
                .join("active")
                .join(user.to_string())
                .join(s.to_string())
                .join("workspace")
        };
        for s in [session, other] {
            std::fs::create_dir_all(ws(s)).unwrap();
            std::fs::write(ws(s).join("a.txt"), "x").unwrap();
        }
        let archives = root.path().join("archive").join(user.to_string());
        std::fs::create_dir_all(&archives).unwrap();
        std::fs::write(archives.join(format!("{session}-100.tar.gz")), "x").unwrap();
        std::fs::write(archives.join(format!("{other}-100.tar.gz")), "x").unwrap();

        assert_eq!(remove_local(root.path(), user, session).unwrap(), 2);
        assert!(!ws(session).exists());
        assert!(ws(other).join("a.txt").exists());
        assert!(archives.join(format!("{other}-100.tar.gz")).exists());
        // Again: nothing left to remove, no error.
        assert_eq!(remove_local(root.path(), user, session).unwrap(), 0);
    }
}
