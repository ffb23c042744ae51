//! Workspace clean-up, one test per variable group: `WORKSPACE_CLEANUP_ENABLED`,
//! `WORKSPACE_CLEANUP_INTERVAL_HOURS`, `WORKSPACE_MAX_AGE_HOURS`, `WORKSPACE_ARCHIVE_ENABLED`,
//! `WORKSPACE_ARCHIVE_DAYS`, and the guard for workspaces with an active run. Ages come from the
//! settings; files' modification times are set in the past instead of waiting.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use executor_manager::cleanup::{
    self, ActiveWorkspaces, CleanupPolicy, CleanupReport, LAST_RUN_MARKER,
};
use executor_manager::runtime::process::ProcessRuntime;
use executor_manager::{App, Settings};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

const HOUR: Duration = Duration::from_secs(3600);

fn settings(root: &Path, extra: &[(&str, &str)]) -> Settings {
    let mut vars: Vec<(String, String)> = [
        // Nothing answers here: these tests never claim (TASK_PULL_ENABLED=false).
        ("BACKEND_URL", "http://127.0.0.1:9"),
        ("INTERNAL_API_TOKEN", "cleanup-test-token-0123456789"),
        ("CALLBACK_BASE_URL", "http://127.0.0.1:9"),
        ("WORKSPACE_ROOT", root.to_str().unwrap()),
        ("EXECUTOR_RUNTIME", "process"),
        ("TASK_PULL_ENABLED", "false"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    vars.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    Settings::from_vars(vars).expect("settings")
}

fn set_mtime(path: &Path, t: SystemTime) {
    fs::File::open(path)
        .and_then(|f| f.set_modified(t))
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

/// Sets the modification time of everything under `dir` (itself included) to `age` ago.
fn age_tree(dir: &Path, age: Duration) {
    let t = SystemTime::now() - age;
    let mut stack = vec![dir.to_owned()];
    let mut dirs = Vec::new();
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                set_mtime(&p, t);
            }
        }
        dirs.push(d);
    }
    // Directories last: setting a file's time does not change its directory's, but be safe.
    for d in dirs.iter().rev() {
        set_mtime(d, t);
    }
}

/// A session directory with a workspace holding `a.txt` and `src/b.rs`, all `age` old.
fn session(root: &Path, age: Duration) -> (Uuid, Uuid, PathBuf) {
    let (user, session) = (Uuid::new_v4(), Uuid::new_v4());
    let dir = root
        .join("active")
        .join(user.to_string())
        .join(session.to_string());
    fs::create_dir_all(dir.join("workspace/src")).unwrap();
    fs::write(dir.join("workspace/a.txt"), "alpha").unwrap();
    fs::write(dir.join("workspace/src/b.rs"), "fn b() {}").unwrap();
    fs::write(dir.join(LAST_RUN_MARKER), "").unwrap();
    age_tree(&dir, age);
    // The user directory is touched by creating the session: age it too (it does not count).
    set_mtime(dir.parent().unwrap(), SystemTime::now() - age);
    (user, session, dir)
}

fn archives(root: &Path, user: Uuid) -> Vec<PathBuf> {
    let dir = root.join("archive").join(user.to_string());
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .map(|r| r.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

/// The names inside a tar.gz, listed by the system's `tar` (an independent reader).
fn tar_names(archive: &Path) -> Vec<String> {
    let out = std::process::Command::new("tar")
        .arg("-tzf")
        .arg(archive)
        .output()
        .expect("tar");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut names: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| l.trim_start_matches("./").trim_end_matches('/').to_owned())
        .filter(|l| !l.is_empty() && l != ".")
        .collect();
    names.sort();
    names
}

fn pass(s: &Settings, active: &ActiveWorkspaces) -> CleanupReport {
    cleanup::clean(
        &CleanupPolicy::from_settings(s),
        active,
        SystemTime::now(),
        &CancellationToken::new(),
    )
}

#[test]
fn max_age_decides_by_the_newest_activity_in_the_session() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let s = settings(r, &[("WORKSPACE_MAX_AGE_HOURS", "24")]);
    let (_, _, old) = session(r, 30 * HOUR);
    let (_, _, recent) = session(r, 20 * HOUR);
    // Old files, but one nested file changed an hour ago.
    let (_, _, nested) = session(r, 30 * HOUR);
    set_mtime(&nested.join("workspace/src/b.rs"), SystemTime::now() - HOUR);
    // Old files, but a run ended an hour ago (the marker).
    let (_, _, marked) = session(r, 30 * HOUR);
    set_mtime(&marked.join(LAST_RUN_MARKER), SystemTime::now() - HOUR);

    let report = pass(&s, &ActiveWorkspaces::default());
    assert_eq!((report.archived, report.kept, report.errors), (1, 3, 0));
    assert!(!old.exists());
    assert!(recent.exists() && nested.exists() && marked.exists());

    // A longer max age keeps even the 30-hour-old one.
    let s = settings(r, &[("WORKSPACE_MAX_AGE_HOURS", "48")]);
    let (_, _, old2) = session(r, 30 * HOUR);
    let report = pass(&s, &ActiveWorkspaces::default());
    assert_eq!((report.archived, report.deleted), (0, 0));
    assert!(old2.exists());
}

#[test]
fn archive_enabled_writes_a_tar_gz_and_restores_it_for_the_next_run() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let s = settings(r, &[]); // defaults: archive on, 24 h
    assert!(s.workspace_archive_enabled);
    let (user, session_id, dir) = session(r, 25 * HOUR);
    let report = pass(&s, &ActiveWorkspaces::default());
    assert_eq!(report.archived, 1, "{report:?}");
    assert!(!dir.exists());
    // The now empty user directory went too.
    assert!(!dir.parent().unwrap().exists());
    let list = archives(r, user);
    assert_eq!(list.len(), 1);
    let name = list[0].file_name().unwrap().to_str().unwrap().to_owned();
    assert!(
        name.starts_with(&format!("{session_id}-")) && name.ends_with(".tar.gz"),
        "{name}"
    );
    assert_eq!(
        tar_names(&list[0]),
        vec![
            LAST_RUN_MARKER,
            "workspace",
            "workspace/a.txt",
            "workspace/src",
            "workspace/src/b.rs"
        ]
    );

    // The session is continued: its next run finds the files again.
    assert!(cleanup::restore_if_archived(r, user, session_id).unwrap());
    assert_eq!(
        fs::read_to_string(dir.join("workspace/src/b.rs")).unwrap(),
        "fn b() {}"
    );
    assert!(archives(r, user).is_empty(), "the archive was consumed");
    // Nothing to restore when the workspace exists.
    assert!(!cleanup::restore_if_archived(r, user, session_id).unwrap());
}

#[test]
fn archive_disabled_deletes_without_an_archive() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let s = settings(r, &[("WORKSPACE_ARCHIVE_ENABLED", "false")]);
    let (user, session_id, dir) = session(r, 25 * HOUR);
    let report = pass(&s, &ActiveWorkspaces::default());
    assert_eq!((report.deleted, report.archived), (1, 0), "{report:?}");
    assert!(!dir.exists());
    assert!(archives(r, user).is_empty());
    assert!(!cleanup::restore_if_archived(r, user, session_id).unwrap());
}

#[test]
fn archive_days_purges_older_archives_only() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let user = Uuid::new_v4();
    let dir = r.join("archive").join(user.to_string());
    fs::create_dir_all(&dir).unwrap();
    let day = 24 * HOUR;
    let old = dir.join(format!("{}-1.tar.gz", Uuid::new_v4()));
    let young = dir.join(format!("{}-2.tar.gz", Uuid::new_v4()));
    let foreign = dir.join("notes.txt");
    for (p, age) in [(&old, 8 * day), (&young, 6 * day), (&foreign, 30 * day)] {
        fs::write(p, "x").unwrap();
        set_mtime(p, SystemTime::now() - age);
    }
    let report = pass(&settings(r, &[]), &ActiveWorkspaces::default()); // 7 days
    assert_eq!(report.archives_purged, 1);
    assert!(!old.exists() && young.exists() && foreign.exists());

    let report = pass(
        &settings(r, &[("WORKSPACE_ARCHIVE_DAYS", "5")]),
        &ActiveWorkspaces::default(),
    );
    assert_eq!(report.archives_purged, 1);
    assert!(!young.exists() && foreign.exists());
}

#[tokio::test]
async fn a_workspace_with_an_active_run_is_never_touched() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path().to_owned();
    let s = settings(&r, &[("WORKSPACE_ARCHIVE_ENABLED", "false")]);
    let active = ActiveWorkspaces::default();
    let (_, busy, busy_dir) = session(&r, 100 * HOUR);
    let guard = active.enter(busy).await;
    let report = pass(&s, &active);
    assert_eq!((report.in_use, report.deleted), (1, 0));
    assert!(busy_dir.join("workspace/a.txt").exists());
    drop(guard);
    let report = pass(&s, &active);
    assert_eq!(report.deleted, 1);
    assert!(!busy_dir.exists());
}

#[test]
fn interval_comes_from_the_settings() {
    let root = tempfile::tempdir().unwrap();
    assert_eq!(cleanup::interval(&settings(root.path(), &[])), 24 * HOUR);
    assert_eq!(
        cleanup::interval(&settings(
            root.path(),
            &[("WORKSPACE_CLEANUP_INTERVAL_HOURS", "6")]
        )),
        6 * HOUR
    );
}

#[tokio::test]
async fn the_loop_repeats_at_its_interval_and_stops_when_cancelled() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path().to_owned();
    let policy = CleanupPolicy::from_settings(&settings(&r, &[]));
    let (_, _, first) = session(&r, 30 * HOUR);
    let stop = CancellationToken::new();
    let task = tokio::spawn(cleanup::run_loop(
        policy,
        ActiveWorkspaces::default(),
        Duration::from_millis(300),
        stop.clone(),
    ));
    wait_until(|| !first.exists(), "the first pass runs at once").await;
    // Made old after the first pass: the next pass, one interval later, takes it.
    let (_, _, second) = session(&r, 30 * HOUR);
    wait_until(|| !second.exists(), "a later pass runs").await;
    stop.cancel();
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("the loop stops when cancelled")
        .unwrap();
}

async fn wait_until(cond: impl Fn() -> bool, what: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !cond() {
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The manager itself: `WORKSPACE_CLEANUP_ENABLED` starts the loop with the server (a pass at
/// start-up), and a shutdown ends it at once even with a 24-hour interval.
#[tokio::test]
async fn the_manager_cleans_only_when_enabled_and_stops_promptly() {
    for enabled in [true, false] {
        let root = tempfile::tempdir().unwrap();
        let r = root.path().to_owned();
        let flag = enabled.to_string();
        let s = settings(&r, &[("WORKSPACE_CLEANUP_ENABLED", flag.as_str())]);
        let (user, _, dir) = session(&r, 30 * HOUR);
        let app = App::new(s, std::sync::Arc::new(ProcessRuntime::new("executor"))).expect("app");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let serving = tokio::spawn(app.serve(listener, async move {
            let _ = rx.await;
        }));
        if enabled {
            wait_until(|| !dir.exists(), "the start-up pass").await;
            assert_eq!(archives(&r, user).len(), 1);
        } else {
            // The enabled manager above cleaned within this time; this one must not.
            tokio::time::sleep(Duration::from_millis(1500)).await;
            assert!(dir.join("workspace/a.txt").exists());
        }
        let _ = tx.send(());
        tokio::time::timeout(Duration::from_secs(10), serving)
            .await
            .expect("shutdown is prompt")
            .unwrap()
            .unwrap();
    }
}
