//! Schedules end to end: one backend (real, over PostgreSQL), two `executor-manager` processes
//! (the real binary, process runtime, the real executor and Claude Code CLI against the scripted
//! model), both firing schedules. A scheduled task that comes due runs exactly once. A file in
//! the previous platform's format pulls like its equivalent in the current one. Also: a bad
//! `SCHEDULE_CONFIG_PATH` stops the binary with one line naming it.

mod common;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use chrono::{DateTime, Utc};
use common::{INTERNAL_TOKEN, InProcessBackend, LLM_KEY, executor_bin, start_llm};
use fake_llm::{ScenarioFile, Turn};
use serde_json::{Value, json};
use sqlx::PgPool;
use test_support::net::{Reach, free_port};
use tokio::process::{Child, Command};
use uuid::Uuid;

const BIN: &str = env!("CARGO_BIN_EXE_executor-manager");

async fn wait_health(port: u16) {
    let client = reqwest::Client::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(r) = client
            .get(format!("http://127.0.0.1:{port}/health"))
            .send()
            .await
            && r.status().is_success()
        {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "manager on {port} never answered /health"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A running `executor-manager` binary.
struct Manager {
    child: Child,
    log: PathBuf,
    id: String,
    port: u16,
}

/// Starts the binary (process runtime) with `schedule` as its `SCHEDULE_CONFIG_PATH`; its
/// workspaces and log (`manager-<name>.log`) are in `dir`.
fn spawn_manager(dir: &Path, name: &str, backend: &str, llm_url: &str, schedule: &Path) -> Manager {
    let port = free_port();
    let id = format!("schedules-test-{name}-{}", Uuid::new_v4().simple());
    let root = dir.join(format!("workspaces-{name}"));
    std::fs::create_dir_all(&root).unwrap();
    let log = dir.join(format!("manager-{name}.log"));
    let child = Command::new(BIN)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", dir)
        .env("BACKEND_URL", backend)
        .env("INTERNAL_API_TOKEN", INTERNAL_TOKEN)
        .env("HOST", "127.0.0.1")
        .env("PORT", port.to_string())
        .env("CALLBACK_BASE_URL", format!("http://127.0.0.1:{port}"))
        .env("WORKSPACE_ROOT", &root)
        .env("EXECUTOR_RUNTIME", "process")
        .env("EXECUTOR_BIN", executor_bin())
        .env("CLAUDE_BIN", test_support::tools::claude_bin())
        .env("ANTHROPIC_BASE_URL", llm_url)
        .env("ANTHROPIC_AUTH_TOKEN", LLM_KEY)
        .env("MANAGER_ID", &id)
        .env("TASK_CLAIM_WAIT_SECONDS", "2")
        .env("TASK_CLAIM_LEASE_SECONDS", "30")
        // No executor kept warm after its run: none outlives a test that fails.
        .env("EXECUTOR_WARM_IDLE_SECONDS", "0")
        .env("SCHEDULE_CONFIG_PATH", schedule)
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("executor-manager binary");
    Manager {
        child,
        log,
        id,
        port,
    }
}

/// SIGTERM, and up to 20 s to drain.
async fn stop(manager: &mut Manager) {
    if let Some(pid) = manager.child.id() {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
    }
    let _ = tokio::time::timeout(Duration::from_secs(20), manager.child.wait()).await;
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn a_scheduled_task_due_while_two_managers_run_runs_once(pool: PgPool) {
    // The backend, single-user mode.
    let backend_proc = InProcessBackend::start(pool.clone(), &[]).await;
    let backend = backend_proc.url.clone();

    let scenarios =
        ScenarioFile::default().with_scenario("report", vec![Turn::text("Nightly report done.")]);
    let llm = start_llm(scenarios, Reach::Loopback).await;

    // Both managers fire every second and pull every kind.
    let dir = tempfile::tempdir().unwrap();
    let schedule = dir.path().join("schedule.toml");
    std::fs::write(
        &schedule,
        "fire_schedules = true\nfire_interval_seconds = 1\n\n[[pull]]\nkind = \"interactive\"\n\n[[pull]]\nkind = \"scheduled\"\ninterval_seconds = 0\n",
    )
    .unwrap();
    let mut managers: Vec<Manager> = (0..2)
        .map(|i| {
            spawn_manager(
                dir.path(),
                &i.to_string(),
                &backend,
                &llm.base_url(),
                &schedule,
            )
        })
        .collect();
    for m in &managers {
        wait_health(m.port).await;
    }

    let client = reqwest::Client::new();
    let res = client
        .post(format!("{backend}/api/v1/scheduled-tasks"))
        .json(
            &json!({"name": "nightly report", "prompt": "[scenario:report] write the report",
                      "cron": "0 3 * * *", "timezone": "Europe/Berlin", "session_mode": "new"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let task: Value = res.json().await.unwrap();
    let id: Uuid = task["id"].as_str().unwrap().parse().unwrap();
    // It comes due two seconds from now (rather than waiting for 03:00).
    sqlx::query(
        "UPDATE scheduled_tasks SET next_fire_at = now() + interval '2 seconds' WHERE id = $1",
    )
    .bind(id)
    .execute(&pool)
    .await
    .unwrap();

    // Its run is executed to completion by one of the managers.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    let (run, holder) = loop {
        let row: Option<(Uuid, String, Option<String>)> = sqlx::query_as(
            "SELECT id, status, lease_holder FROM runs WHERE scheduled_task_id = $1",
        )
        .bind(id)
        .fetch_optional(&pool)
        .await
        .unwrap();
        if let Some((run, status, holder)) = row {
            if status == "completed" {
                break (run, holder.unwrap_or_default());
            }
            assert!(
                !["failed", "canceled"].contains(&status.as_str()),
                "run {run} ended {status}"
            );
        }
        assert!(tokio::time::Instant::now() < deadline, "no completed run");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    // Both managers keep firing for a while longer: still exactly one run.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let runs: Vec<(Uuid, String, i32)> =
        sqlx::query_as("SELECT id, kind, attempts FROM runs WHERE scheduled_task_id = $1")
            .bind(id)
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(runs, vec![(run, "scheduled".to_owned(), 1)]);
    let (next, last): (DateTime<Utc>, Option<DateTime<Utc>>) =
        sqlx::query_as("SELECT next_fire_at, last_fired_at FROM scheduled_tasks WHERE id = $1")
            .bind(id)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(last.is_some());
    // The next fire is the cron's next 03:00 in Berlin, strictly after now (not "an hour from
    // now": within the hour before 03:00 Berlin time it is minutes away).
    let berlin = next.with_timezone(&chrono_tz::Europe::Berlin);
    assert_eq!(
        (berlin.format("%H:%M").to_string(), next > Utc::now()),
        ("03:00".to_owned(), true),
        "{next}"
    );
    assert!(next <= Utc::now() + chrono::Duration::hours(25), "{next}");
    let events: Vec<String> =
        sqlx::query_scalar("SELECT type FROM events WHERE run_id = $1 ORDER BY seq")
            .bind(run)
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(
        events.last().map(String::as_str),
        Some("completed"),
        "{events:?}"
    );
    assert!(managers.iter().any(|m| m.id == holder), "{holder}");

    // Both managers were firing all along (each logged its fire loop).
    for m in &mut managers {
        assert!(m.child.try_wait().unwrap().is_none(), "a manager exited");
        let text = std::fs::read_to_string(&m.log).unwrap();
        assert!(text.contains("firing scheduled tasks"), "{text}");
    }
    for m in &mut managers {
        stop(m).await;
    }
}

/// A manager given the previous platform's schedule file pulls what one given the equivalent
/// current file pulls: with interactive runs "never" neither claims a waiting interactive run
/// (nor does a disabled one, which fires nothing either), while one whose window rule is open
/// now claims it and runs it to completion.
#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn a_schedule_file_of_the_previous_platform_pulls_like_its_current_equivalent(pool: PgPool) {
    let backend_proc = InProcessBackend::start(pool.clone(), &[]).await;
    let backend = backend_proc.url.clone();
    let scenarios =
        ScenarioFile::default().with_scenario("hello", vec![Turn::text("Hello from the window.")]);
    let llm = start_llm(scenarios, Reach::Loopback).await;
    let dir = tempfile::tempdir().unwrap();
    let file = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    let legacy_never = file(
        "legacy-never.toml",
        "enabled = true\n\n[schedule_modes]\ninteractive = \"never\"\nscheduled = \"always\"\n",
    );
    let current_never = file(
        "current-never.toml",
        "fire_schedules = true\n\n[[pull]]\nkind = \"scheduled\"\n",
    );
    let legacy_disabled = file("legacy-disabled.json", r#"{"enabled": false}"#);
    // A window from an hour ago to an hour from now (wrapping past midnight if need be).
    let now = Utc::now();
    let hm = |t: DateTime<Utc>| t.format("%H:%M").to_string();
    let legacy_window = file(
        "legacy-window.toml",
        &format!(
            r#"[schedule_modes]
interactive = "rules"
scheduled = "never"

[[rules]]
kind = "window"
start = "{start}"
end = "{end}"
timezone = "UTC"
applies_to = ["interactive"]
"#,
            start = hm(now - chrono::Duration::hours(1)),
            end = hm(now + chrono::Duration::hours(1)),
        ),
    );

    // An interactive run waits in the queue.
    let res = reqwest::Client::new()
        .post(format!("{backend}/api/v1/tasks"))
        .json(&json!({"prompt": "[scenario:hello] say hello"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let v: Value = res.json().await.unwrap();
    let run: Uuid = v["run_id"].as_str().unwrap().parse().unwrap();

    let llm_url = llm.base_url();
    let mut idle: Vec<Manager> = [
        ("legacy-never", &legacy_never),
        ("current-never", &current_never),
        ("legacy-disabled", &legacy_disabled),
    ]
    .into_iter()
    .map(|(name, path)| spawn_manager(dir.path(), name, &backend, &llm_url, path))
    .collect();
    for m in &idle {
        wait_health(m.port).await;
    }
    // Claims end every 2 s (TASK_CLAIM_WAIT_SECONDS): each manager has asked a few times.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let (status, holder): (String, Option<String>) =
        sqlx::query_as("SELECT status, lease_holder FROM runs WHERE id = $1")
            .bind(run)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!((status.as_str(), holder), ("queued", None));
    for m in &mut idle {
        assert!(m.child.try_wait().unwrap().is_none(), "{} exited", m.id);
    }
    // Both formats fire schedules by default; `enabled = false` does not.
    let fires = |m: &Manager| {
        std::fs::read_to_string(&m.log)
            .unwrap()
            .contains("firing scheduled tasks")
    };
    assert_eq!(
        idle.iter().map(fires).collect::<Vec<_>>(),
        [true, true, false]
    );

    // A manager whose window is open now takes it and runs it.
    let mut window = spawn_manager(
        dir.path(),
        "legacy-window",
        &backend,
        &llm_url,
        &legacy_window,
    );
    wait_health(window.port).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let holder = loop {
        let (status, holder): (String, Option<String>) =
            sqlx::query_as("SELECT status, lease_holder FROM runs WHERE id = $1")
                .bind(run)
                .fetch_one(&pool)
                .await
                .unwrap();
        if status == "completed" {
            break holder.unwrap_or_default();
        }
        assert!(
            !["failed", "canceled"].contains(&status.as_str()),
            "run {run} ended {status}"
        );
        assert!(tokio::time::Instant::now() < deadline, "no completed run");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(holder, window.id);

    stop(&mut window).await;
    for m in &mut idle {
        stop(m).await;
    }
}

#[test]
fn a_bad_schedule_file_stops_the_manager_with_one_line_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("schedule.toml");
    std::fs::write(&bad, "[[pull]]\nkind = \"nightly\"\n").unwrap();
    let out = std::process::Command::new(BIN)
        .env_clear()
        .env("BACKEND_URL", "http://127.0.0.1:9")
        .env("INTERNAL_API_TOKEN", INTERNAL_TOKEN)
        .env("CALLBACK_BASE_URL", "http://127.0.0.1:9")
        .env("WORKSPACE_ROOT", dir.path())
        .env("EXECUTOR_RUNTIME", "process")
        .env("SCHEDULE_CONFIG_PATH", &bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("SCHEDULE_CONFIG_PATH is invalid"), "{err}");
    assert!(err.contains("nightly"), "{err}");
}
