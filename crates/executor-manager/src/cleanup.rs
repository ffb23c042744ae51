//! Workspace clean-up: old, inactive workspaces are archived (tar.gz) or deleted, and old
//! archives are purged, every `WORKSPACE_CLEANUP_INTERVAL_HOURS` when
//! `WORKSPACE_CLEANUP_ENABLED` is on.
//!
//! Layout under `WORKSPACE_ROOT` (one directory per session; the executor sees only `workspace/`):
//!
//! ```text
//! active/{user}/{session}/workspace/          the session's files (bind-mounted at /workspace)
//! active/{user}/{session}/.last-run           touched by the manager when a run starts and ends
//! archive/{user}/{session}-{unix_seconds}.tar.gz   an archived session directory
//! ```
//!
//! **Last activity** of a session is the newest modification time of anything in its directory
//! (files and directories, not following symbolic links), the `.last-run` marker included: the
//! marker counts a run that changed no file, the tree counts files changed outside runs (an
//! operator's edit). The walk stops at the first entry newer than the cut-off, so active sessions
//! cost little. A session whose last activity is older than `WORKSPACE_MAX_AGE_HOURS` is archived
//! to `archive/{user}/{session}-{now}.tar.gz` (written to a temporary name and renamed, so a
//! crash never leaves a partial archive under the final name) and then removed, or, with
//! `WORKSPACE_ARCHIVE_ENABLED=false`, removed. Archives whose modification time (when they were
//! written) is older than `WORKSPACE_ARCHIVE_DAYS` days are deleted.
//!
//! **Never touched: a workspace with an active run on this manager.** Runs hold an
//! [`ActiveWorkspaces`] guard for their session from before the workspace is created until their
//! export ended; clean-up takes the session only when no guard is held and marks it as being
//! cleaned, and a run starting meanwhile waits until that session's clean-up finished (it then
//! starts from the archive, see [`restore_if_archived`], or from an empty workspace).
//!
//! A session archived and later continued is restored from its newest archive when its next run
//! starts, so archiving never loses a session's files while the archive exists.

use std::collections::HashMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::config::Settings;

/// The marker the manager touches at each run's start and end, next to `workspace/`.
pub const LAST_RUN_MARKER: &str = ".last-run";

#[derive(Debug, thiserror::Error)]
pub enum CleanupError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

fn io_at(path: &Path) -> impl FnOnce(io::Error) -> CleanupError + '_ {
    move |source| CleanupError::Io {
        path: path.to_owned(),
        source,
    }
}

/// What a session is doing, as far as clean-up is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Use {
    /// This many runs (normally one) hold the workspace.
    Running(usize),
    /// Clean-up is archiving or deleting it.
    Cleaning,
}

/// The sessions whose workspaces are in use on this manager. Cheap to clone (shared).
#[derive(Clone, Default)]
pub struct ActiveWorkspaces {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    sessions: Mutex<HashMap<Uuid, Use>>,
    /// Woken when a session's clean-up ends.
    released: Notify,
}

/// Held by a run while it uses its session's workspace; releases it when dropped.
#[must_use = "the workspace is protected only while the guard is held"]
pub struct WorkspaceGuard {
    set: ActiveWorkspaces,
    session: Uuid,
}

/// Held by clean-up while it archives or deletes a session's workspace.
pub struct CleaningGuard {
    set: ActiveWorkspaces,
    session: Uuid,
}

impl ActiveWorkspaces {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, Use>> {
        // Every update is one insert or remove: a poisoned map is still consistent.
        self.inner
            .sessions
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Marks the session's workspace as in use, waiting while clean-up holds it.
    pub async fn enter(&self, session: Uuid) -> WorkspaceGuard {
        loop {
            let released = self.inner.released.notified();
            tokio::pin!(released);
            // Registered before the check: a release between the check and the wait is not missed.
            released.as_mut().enable();
            {
                let mut map = self.lock();
                match map.get(&session).copied() {
                    Some(Use::Cleaning) => {}
                    Some(Use::Running(n)) => {
                        map.insert(session, Use::Running(n + 1));
                        return self.guard(session);
                    }
                    None => {
                        map.insert(session, Use::Running(1));
                        return self.guard(session);
                    }
                }
            }
            tracing::info!(%session, "waiting for the clean-up of this session's workspace");
            released.await;
        }
    }

    fn guard(&self, session: Uuid) -> WorkspaceGuard {
        WorkspaceGuard {
            set: self.clone(),
            session,
        }
    }

    /// Takes the session for clean-up, or `None` when a run uses it.
    pub fn try_clean(&self, session: Uuid) -> Option<CleaningGuard> {
        let mut map = self.lock();
        if map.contains_key(&session) {
            return None;
        }
        map.insert(session, Use::Cleaning);
        Some(CleaningGuard {
            set: self.clone(),
            session,
        })
    }

    /// Sessions with a run now.
    pub fn in_use(&self) -> Vec<Uuid> {
        self.lock()
            .iter()
            .filter(|(_, u)| matches!(u, Use::Running(_)))
            .map(|(s, _)| *s)
            .collect()
    }
}

impl Drop for WorkspaceGuard {
    fn drop(&mut self) {
        let mut map = self.set.lock();
        match map.get(&self.session).copied() {
            Some(Use::Running(n)) if n > 1 => {
                map.insert(self.session, Use::Running(n - 1));
            }
            _ => {
                map.remove(&self.session);
            }
        }
    }
}

impl Drop for CleaningGuard {
    fn drop(&mut self) {
        self.set.lock().remove(&self.session);
        self.set.inner.released.notify_waiters();
    }
}

/// The clean-up policy, from the settings.
#[derive(Debug, Clone)]
pub struct CleanupPolicy {
    pub root: PathBuf,
    /// Sessions inactive for longer are archived or deleted.
    pub max_age: Duration,
    /// Archive (tar.gz) before removing; `false`: just remove.
    pub archive: bool,
    /// Archives older than this are purged.
    pub archive_max_age: Duration,
}

impl CleanupPolicy {
    pub fn from_settings(s: &Settings) -> Self {
        Self {
            root: s.workspace_root.clone(),
            max_age: hours(s.workspace_max_age_hours),
            archive: s.workspace_archive_enabled,
            archive_max_age: hours(s.workspace_archive_days.saturating_mul(24)),
        }
    }
}

fn hours(h: u64) -> Duration {
    Duration::from_secs(h.saturating_mul(3600))
}

/// The pause between clean-up passes (`WORKSPACE_CLEANUP_INTERVAL_HOURS`).
pub fn interval(s: &Settings) -> Duration {
    hours(s.workspace_cleanup_interval_hours)
}

/// What one pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CleanupReport {
    pub archived: usize,
    pub deleted: usize,
    /// Recently active sessions left alone.
    pub kept: usize,
    /// Sessions with a run on this manager, left alone.
    pub in_use: usize,
    pub archives_purged: usize,
    /// Sessions or archives that could not be handled (logged; retried next pass).
    pub errors: usize,
}

/// One clean-up pass at time `now`; stops early (between sessions) when `cancel` fires.
/// Blocking: call it from `spawn_blocking`.
pub fn clean(
    policy: &CleanupPolicy,
    active: &ActiveWorkspaces,
    now: SystemTime,
    cancel: &CancellationToken,
) -> CleanupReport {
    let mut report = CleanupReport::default();
    purge_archives(policy, now, cancel, &mut report);
    let active_root = policy.root.join("active");
    let cutoff = now
        .checked_sub(policy.max_age)
        .unwrap_or(SystemTime::UNIX_EPOCH);
    for (user, user_dir) in uuid_dirs(&active_root) {
        for (session, dir) in uuid_dirs(&user_dir) {
            if cancel.is_cancelled() {
                return report;
            }
            let Some(_cleaning) = active.try_clean(session) else {
                report.in_use += 1;
                continue;
            };
            match active_since(&dir, cutoff) {
                Ok(true) => report.kept += 1,
                Ok(false) => match retire(policy, user, session, &dir, now) {
                    Ok(Some(archive)) => {
                        tracing::info!(%session, archive = %archive.display(), "inactive workspace archived");
                        report.archived += 1;
                    }
                    Ok(None) => {
                        tracing::info!(%session, "inactive workspace deleted");
                        report.deleted += 1;
                    }
                    Err(e) => {
                        tracing::warn!(%session, error = %e, "workspace clean-up failed");
                        report.errors += 1;
                    }
                },
                Err(e) => {
                    tracing::warn!(%session, error = %e, "could not read the workspace's activity");
                    report.errors += 1;
                }
            }
        }
        remove_if_empty(&user_dir);
    }
    report
}

/// Directories under `dir` whose names are UUIDs (anything else is not ours and is left alone).
fn uuid_dirs(dir: &Path) -> Vec<(Uuid, PathBuf)> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<(Uuid, PathBuf)> = entries
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| {
            let id = e.file_name().to_str()?.parse().ok()?;
            Some((id, e.path()))
        })
        .collect();
    out.sort();
    out
}

fn remove_if_empty(dir: &Path) {
    // Fails (and is meant to) when the directory is not empty.
    let _ = fs::remove_dir(dir);
}

/// Whether anything under `dir` (itself included) was modified after `cutoff`.
fn active_since(dir: &Path, cutoff: SystemTime) -> Result<bool, CleanupError> {
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        let meta = fs::symlink_metadata(&d).map_err(io_at(&d))?;
        if meta.modified().map_err(io_at(&d))? > cutoff {
            return Ok(true);
        }
        for entry in fs::read_dir(&d).map_err(io_at(&d))? {
            let entry = entry.map_err(io_at(&d))?;
            let path = entry.path();
            let meta = entry.metadata().map_err(io_at(&path))?;
            if meta.is_dir() {
                stack.push(path);
            } else if meta.modified().map_err(io_at(&path))? > cutoff {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

/// Archives (when the policy says so) and removes a session directory. Returns the archive.
fn retire(
    policy: &CleanupPolicy,
    user: Uuid,
    session: Uuid,
    dir: &Path,
    now: SystemTime,
) -> Result<Option<PathBuf>, CleanupError> {
    let archive = if policy.archive {
        let stamp = now
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let user_dir = policy.root.join("archive").join(user.to_string());
        fs::create_dir_all(&user_dir).map_err(io_at(&user_dir))?;
        let path = user_dir.join(format!("{session}-{stamp}.tar.gz"));
        write_archive(dir, &path)?;
        Some(path)
    } else {
        None
    };
    fs::remove_dir_all(dir).map_err(io_at(dir))?;
    Ok(archive)
}

/// Writes `dir`'s content as a gzip-compressed tar at `dest`, atomically (temporary file + rename).
fn write_archive(dir: &Path, dest: &Path) -> Result<(), CleanupError> {
    let parent = dest.parent().unwrap_or(Path::new("."));
    let tmp = tempfile::NamedTempFile::new_in(parent).map_err(io_at(parent))?;
    let gz = flate2::write::GzEncoder::new(tmp, flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    tar.follow_symlinks(false);
    tar.append_dir_all(".", dir).map_err(io_at(dir))?;
    let gz = tar.into_inner().map_err(io_at(dest))?;
    let tmp = gz.finish().map_err(io_at(dest))?;
    tmp.as_file().sync_all().map_err(io_at(dest))?;
    tmp.persist(dest).map_err(|e| CleanupError::Io {
        path: dest.to_owned(),
        source: e.error,
    })?;
    Ok(())
}

/// Deletes archives written longer than `archive_max_age` ago.
fn purge_archives(
    policy: &CleanupPolicy,
    now: SystemTime,
    cancel: &CancellationToken,
    report: &mut CleanupReport,
) {
    let cutoff = now
        .checked_sub(policy.archive_max_age)
        .unwrap_or(SystemTime::UNIX_EPOCH);
    let root = policy.root.join("archive");
    for (_, user_dir) in uuid_dirs(&root) {
        let Ok(entries) = fs::read_dir(&user_dir) else {
            continue;
        };
        for entry in entries.filter_map(Result::ok) {
            if cancel.is_cancelled() {
                return;
            }
            let path = entry.path();
            let is_archive = path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.ends_with(".tar.gz"));
            let old = entry
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|t| t < cutoff);
            if is_archive && old {
                match fs::remove_file(&path) {
                    Ok(()) => {
                        tracing::info!(archive = %path.display(), "old workspace archive purged");
                        report.archives_purged += 1;
                    }
                    Err(e) => {
                        tracing::warn!(archive = %path.display(), error = %e, "could not purge an archive");
                        report.errors += 1;
                    }
                }
            }
        }
        remove_if_empty(&user_dir);
    }
}

/// The archives of a session, `archive/{user}/{session}-{unix_seconds}.tar.gz`, with their stamps.
fn session_archives(root: &Path, user: Uuid, session: Uuid) -> Vec<(u64, PathBuf)> {
    let dir = root.join("archive").join(user.to_string());
    let prefix = format!("{session}-");
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let stamp: u64 = name
                .strip_prefix(&prefix)?
                .strip_suffix(".tar.gz")?
                .parse()
                .ok()?;
            Some((stamp, e.path()))
        })
        .collect()
}

/// The newest archive of a session, if any.
fn newest_archive(root: &Path, user: Uuid, session: Uuid) -> Option<PathBuf> {
    session_archives(root, user, session)
        .into_iter()
        .max()
        .map(|(_, p)| p)
}

/// Removes everything of a deleted session under `root`: its directory `active/{user}/{session}`
/// and its archives. Returns how many of them there were. Blocking.
pub fn remove_session(root: &Path, user: Uuid, session: Uuid) -> Result<usize, CleanupError> {
    let mut n = 0;
    let dir = root
        .join("active")
        .join(user.to_string())
        .join(session.to_string());
    match fs::remove_dir_all(&dir) {
        Ok(()) => n += 1,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_at(&dir)(e)),
    }
    for (_, archive) in session_archives(root, user, session) {
        fs::remove_file(&archive).map_err(io_at(&archive))?;
        n += 1;
    }
    Ok(n)
}

/// Before a run: when the session has no workspace directory but an archive, unpacks its newest
/// archive (and removes it), so a session continued after clean-up finds its files again.
/// Blocking. Returns whether it restored anything.
pub fn restore_if_archived(root: &Path, user: Uuid, session: Uuid) -> Result<bool, CleanupError> {
    let dir = root
        .join("active")
        .join(user.to_string())
        .join(session.to_string());
    if dir.exists() {
        return Ok(false);
    }
    let Some(archive) = newest_archive(root, user, session) else {
        return Ok(false);
    };
    let parent = dir.parent().unwrap_or(root);
    fs::create_dir_all(parent).map_err(io_at(parent))?;
    // Unpacked next to the final place, then renamed: a failed unpack leaves no half workspace.
    let staging = tempfile::Builder::new()
        .prefix(".restore-")
        .tempdir_in(parent)
        .map_err(io_at(parent))?;
    let file = fs::File::open(&archive).map_err(io_at(&archive))?;
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(file));
    tar.set_preserve_permissions(true);
    tar.set_preserve_ownerships(true);
    tar.set_preserve_mtime(true);
    tar.unpack(staging.path()).map_err(io_at(&archive))?;
    let staged = staging.keep();
    fs::rename(&staged, &dir).map_err(io_at(&dir))?;
    fs::remove_file(&archive).map_err(io_at(&archive))?;
    tracing::info!(%session, archive = %archive.display(), "workspace restored from its archive");
    Ok(true)
}

/// Touches the session's `.last-run` marker (its last activity for clean-up). Errors are logged.
pub async fn touch_marker(session_dir: &Path) {
    let path = session_dir.join(LAST_RUN_MARKER);
    let result = async {
        let f = tokio::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .await?
            .into_std()
            .await;
        tokio::task::spawn_blocking(move || f.set_modified(SystemTime::now()))
            .await
            .map_err(io::Error::other)?
    }
    .await;
    if let Err(e) = result {
        tracing::warn!(path = %path.display(), error = %e, "could not touch the workspace marker");
    }
}

/// Runs a pass at once and then every `every` until `cancel` fires (a pass in progress stops
/// between sessions).
pub async fn run_loop(
    policy: CleanupPolicy,
    active: ActiveWorkspaces,
    every: Duration,
    cancel: CancellationToken,
) {
    tracing::info!(
        root = %policy.root.display(),
        every_hours = every.as_secs_f64() / 3600.0,
        max_age_hours = policy.max_age.as_secs_f64() / 3600.0,
        archive = policy.archive,
        "workspace clean-up enabled"
    );
    loop {
        let (p, a, c) = (policy.clone(), active.clone(), cancel.clone());
        match tokio::task::spawn_blocking(move || clean(&p, &a, SystemTime::now(), &c)).await {
            Ok(report) => tracing::info!(?report, "workspace clean-up pass done"),
            Err(e) => tracing::error!(error = %e, "workspace clean-up pass panicked"),
        }
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = tokio::time::sleep(every) => {}
        }
    }
    tracing::info!("workspace clean-up stopped");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn cleaning_blocks_entering_until_released() {
        let set = ActiveWorkspaces::default();
        let s = Uuid::new_v4();
        let cleaning = set.try_clean(s).expect("idle session");
        assert!(set.try_clean(s).is_none());
        let entered = {
            let set = set.clone();
            tokio::spawn(async move { set.enter(s).await })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!entered.is_finished(), "a run must wait for the clean-up");
        drop(cleaning);
        let guard = tokio::time::timeout(Duration::from_secs(5), entered)
            .await
            .expect("entered after the clean-up")
            .unwrap();
        assert_eq!(set.in_use(), vec![s]);
        assert!(set.try_clean(s).is_none(), "in use: not cleanable");
        let second = set.enter(s).await;
        drop(guard);
        assert!(set.try_clean(s).is_none(), "still one run");
        drop(second);
        assert!(set.try_clean(s).is_some());
    }

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

        assert_eq!(remove_session(root.path(), user, session).unwrap(), 2);
        assert!(!ws(session).exists());
        assert!(ws(other).join("a.txt").exists());
        assert!(archives.join(format!("{other}-100.tar.gz")).exists());
        // Again: nothing left to remove, no error.
        assert_eq!(remove_session(root.path(), user, session).unwrap(), 0);
    }
}
