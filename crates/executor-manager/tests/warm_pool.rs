//! Warm and pooled executors with the `process` runtime (the same code paths as docker: only the
//! launch differs): reuse within a session only, idle expiry, the pool slot hand-over of the
//! workspace, refill, and everything stopped on shutdown.

mod common;

use std::time::Duration;

use common::Harness;
use fake_llm::{Block, ScenarioFile, Turn};
use serde_json::json;
use sqlx::PgPool;

const RUN_LIMIT: Duration = Duration::from_secs(120);
const END: &[&str] = &["completed", "failed", "canceled"];

/// A session's runs resume one conversation, so a scenario spans the session: each run plays
/// the next tool call and final text.
fn scenarios() -> ScenarioFile {
    let write = || {
        Turn::blocks(vec![Block::tool_use(
            "Bash",
            json!({"command": "printf hello > out.txt"}),
        )])
    };
    // Waits a little so the test can look at the manager while the run runs.
    let look = || {
        let mut t = Turn::blocks(vec![Block::tool_use(
            "Bash",
            json!({"command": "cat out.txt > copy.txt; ls -A > listing.txt"}),
        )]);
        t.delay_ms = 1500;
        t
    };
    let done = || Turn::text("Done.");
    ScenarioFile::default()
        .with_scenario("write_then_look", vec![write(), done(), look(), done()])
        .with_scenario(
            "look_write_look",
            vec![look(), done(), write(), done(), look(), done()],
        )
        .with_scenario("look", vec![look(), done()])
}

async fn wait_until(what: &str, limit: Duration, mut ok: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + limit;
    while !ok() {
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn completed(h: &Harness, run: uuid::Uuid) {
    let status = h.wait_status(run, END, RUN_LIMIT).await;
    assert_eq!(
        status,
        "completed",
        "error: {:?}; events: {:?}",
        h.run_error(run).await,
        h.events(run).await
    );
}

fn read(path: std::path::PathBuf) -> String {
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn a_warm_executor_serves_its_session_only_and_stops_when_idle(pool: PgPool) {
    let mut h = Harness::start(pool, scenarios(), &[("EXECUTOR_WARM_IDLE_SECONDS", "10")]).await;
    let warm = h.kept.warm.clone();
    let (session, first) = h.task("[scenario:write_then_look] write").await;
    completed(&h, first).await;
    wait_until("parked", Duration::from_secs(10), || warm.len() == 1).await;

    // Another session's run does not take it: it stays parked during that run.
    let (other, run) = h.task("[scenario:look] look").await;
    h.wait_status(run, &["running"], RUN_LIMIT).await;
    assert_eq!(warm.len(), 1);
    completed(&h, run).await;
    let user = h.user_of(other).await;
    assert!(!read(h.workspace(user, other).join("listing.txt")).contains("out.txt"));
    wait_until("two parked", Duration::from_secs(10), || warm.len() == 2).await;

    // The session's follow-up takes its own executor (taken out while it runs) and sees the
    // session's files.
    let next = h.task_in(session, "look again").await;
    h.wait_status(next, &["running"], RUN_LIMIT).await;
    assert_eq!(
        warm.len(),
        1,
        "the follow-up did not take its warm executor"
    );
    completed(&h, next).await;
    let user = h.user_of(session).await;
    let copy = h.workspace(user, session).join("copy.txt");
    assert!(copy.exists(), "{:?}", h.events(next).await);
    assert_eq!(read(copy), "hello");
    wait_until("parked again", Duration::from_secs(10), || warm.len() == 2).await;

    // Idle for 10 s: stopped.
    wait_until("idle expiry", Duration::from_secs(30), || warm.is_empty()).await;
    h.stop_manager(Duration::from_secs(30)).await;
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn pooled_executors_take_new_sessions_and_hand_workspaces_back(pool: PgPool) {
    let mut h = Harness::start(
        pool,
        scenarios(),
        &[
            ("EXECUTOR_WARM_IDLE_SECONDS", "60"),
            ("EXECUTOR_POOL_TARGETS", "default:1"),
            ("EXECUTOR_POOL_REFILL_CONCURRENCY", "1"),
        ],
    )
    .await;
    let (warm, pooled) = (h.kept.warm.clone(), h.kept.pool.clone());
    wait_until("pool filled", Duration::from_secs(30), || pooled.len() == 1).await;
    let slots = h.workspace_root.path().join("pool");

    // A new session's first run takes the pooled executor; its workspace moved into the slot.
    let (session, run) = h.task("[scenario:look_write_look] look").await;
    h.wait_status(run, &["running"], RUN_LIMIT).await;
    let user = h.user_of(session).await;
    let ws = h.workspace(user, session);
    assert!(
        !ws.exists(),
        "the workspace is in the slot while the run runs"
    );
    completed(&h, run).await;
    // Back home after the run (exports and the next runs find it there).
    assert!(read(ws.join("listing.txt")).contains("listing.txt"));
    // The pool refilled; the used executor is now this session's warm one.
    wait_until("refilled", Duration::from_secs(30), || pooled.len() == 1).await;
    wait_until("parked", Duration::from_secs(10), || warm.len() == 1).await;

    // The session continues on the same slot executor and sees its files.
    let write = h.task_in(session, "write").await;
    completed(&h, write).await;
    let look = h.task_in(session, "look").await;
    completed(&h, look).await;
    assert_eq!(read(ws.join("copy.txt")), "hello");
    assert_eq!(warm.len(), 1);

    // Another session gets the fresh pooled executor and none of the first session's files.
    let (other, run) = h.task("[scenario:look] look").await;
    completed(&h, run).await;
    let other_ws = h.workspace(h.user_of(other).await, other);
    let listing = read(other_ws.join("listing.txt"));
    assert!(!listing.contains("out.txt"), "{listing}");
    assert_eq!(
        read(other_ws.join("copy.txt")),
        "",
        "it read another session's file"
    );

    // Shutdown stops warm and pooled executors and removes every slot; workspaces stay.
    h.stop_manager(Duration::from_secs(30)).await;
    assert!(warm.is_empty() && pooled.is_empty());
    let left: Vec<_> = std::fs::read_dir(slots.join(&h.manager_id))
        .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "slots left: {left:?}");
    assert_eq!(read(ws.join("copy.txt")), "hello");
}
