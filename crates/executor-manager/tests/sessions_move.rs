//! Sessions that move between hosts: two managers with their own workspace roots (two hosts),
//! one backend, a real S3 server (s3s-fs) and the real CLI. Run 1 on A; A stops; run 2 goes to B
//! once A's reservation (`SESSION_AFFINITY_SECONDS`) ends, and B restores the workspace and the
//! conversation from run 1's export; run 3 back on A restores run 2's changes over A's older
//! copy; deleting the session removes its files from both hosts.
//!
//! `the_session_follows_its_runs_across_managers` uses the process runtime;
//! `…_across_docker_daemons` two private Docker daemons (`DOCKER_HOST` and
//! `WORKCELL_DOCKER_HOST_B`, started by `scripts/test.sh`), skipped with a message without them
//! unless `WORKCELL_REQUIRE_DOCKER=1`.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{Harness, InProcessManager};
use fake_llm::{Block, ScenarioFile, Turn};
use serde_json::json;
use sqlx::PgPool;
use test_support::net::Reach;
use test_support::s3::{BUCKET, S3Server};
use uuid::Uuid;

const RUN_LIMIT: Duration = Duration::from_secs(180);
const AFFINITY_SECONDS: u64 = 3;

/// One conversation over three runs: the model plays turn N of the scenario when the request
/// carries N assistant messages, so a run that did not resume its session's conversation would
/// replay the first run's command instead of its own.
fn scenarios() -> ScenarioFile {
    let run = |command: &str| {
        [
            Turn::blocks(vec![Block::tool_use("Bash", json!({ "command": command }))]),
            Turn::text("Done."),
        ]
    };
    let mut turns = Vec::new();
    turns.extend(run(
        "printf one > notes.txt && mkdir -p src && printf 'fn a() {}' > src/a.rs",
    ));
    turns.extend(run(
        "cat notes.txt > seen-by-2.txt && printf two >> notes.txt",
    ));
    turns.extend(run(
        "cat notes.txt > seen-by-3.txt && cat seen-by-2.txt >> seen-by-3.txt",
    ));
    ScenarioFile::default().with_scenario("journey", turns)
}

fn s3_vars(s3: &S3Server) -> Vec<(&str, &str)> {
    vec![
        ("S3_ENDPOINT", s3.endpoint.as_str()),
        ("S3_ACCESS_KEY", s3.access_key.as_str()),
        ("S3_SECRET_KEY", s3.secret_key.as_str()),
        ("S3_BUCKET", BUCKET),
    ]
}

fn workspace(root: &Path, user: Uuid, session: Uuid) -> PathBuf {
    root.join("active")
        .join(user.to_string())
        .join(session.to_string())
        .join("workspace")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Which manager ran the run, and how long after it was queued it was claimed.
async fn claimed_by(h: &Harness, run: Uuid) -> (String, Duration) {
    let (holder, waited): (String, f64) = sqlx::query_as(
        "SELECT lease_holder, EXTRACT(EPOCH FROM (claimed_at - created_at))::float8
           FROM runs WHERE id = $1",
    )
    .bind(run)
    .fetch_one(&h.pool)
    .await
    .unwrap();
    (holder, Duration::from_secs_f64(waited.max(0.0)))
}

/// Whether the model saw `needle` in the conversation of the request that started a run: a
/// resumed conversation carries the earlier runs' messages.
fn model_saw(h: &Harness, prompt_marker: &str, needle: &str) -> bool {
    h.llm.turn_requests().iter().any(|r| {
        let body = r.body.as_ref().map(ToString::to_string).unwrap_or_default();
        body.contains(prompt_marker) && body.contains(needle)
    })
}

async fn wait_gone(path: &Path, limit: Duration) {
    let deadline = tokio::time::Instant::now() + limit;
    while path.exists() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} is still there after {limit:?}",
            path.display()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The whole journey; managers listen and are announced as `reach` says, and `b_extra` makes
/// manager B another host.
async fn journey(mut h: Harness, s3: &S3Server, reach: Reach<'_>, b_extra: &[(&str, &str)]) {
    let root_a = h.workspace_root.path().to_owned();
    let root_b = tempfile::tempdir().unwrap();

    // Run 1 on A.
    let (session, run1) = h.task("[scenario:journey] start the notes").await;
    assert_eq!(
        h.wait_status(run1, &["completed", "failed"], RUN_LIMIT)
            .await,
        "completed",
        "{:?}",
        h.run_error(run1).await
    );
    let user = h.user_of(session).await;
    let ws_a = workspace(&root_a, user, session);
    assert_eq!(read(&ws_a.join("notes.txt")), "one");
    let agent_session: String =
        sqlx::query_scalar("SELECT agent_session_id FROM sessions WHERE id = $1")
            .bind(session)
            .fetch_one(&h.pool)
            .await
            .unwrap();

    // A goes away; run 2 waits out A's reservation, then B takes it and restores.
    h.stop_manager(Duration::from_secs(30)).await;
    let mut b: InProcessManager = h
        .another_manager("manager-b", root_b.path(), reach, b_extra)
        .await;
    let run2 = h
        .task_in(session, "[scenario:second] continue the notes")
        .await;
    assert_eq!(
        h.wait_status(run2, &["completed", "failed"], RUN_LIMIT)
            .await,
        "completed",
        "{:?}",
        h.run_error(run2).await
    );
    let (holder, waited) = claimed_by(&h, run2).await;
    assert_eq!(holder, "manager-b");
    assert!(
        waited >= Duration::from_secs(AFFINITY_SECONDS - 1),
        "run 2 was claimed {waited:?} after it was queued: A's reservation was not kept"
    );
    let ws_b = workspace(root_b.path(), user, session);
    // B saw run 1's files, and the agent resumed run 1's conversation.
    assert_eq!(read(&ws_b.join("seen-by-2.txt")), "one");
    assert_eq!(read(&ws_b.join("src/a.rs")), "fn a() {}");
    assert_eq!(read(&ws_b.join("notes.txt")), "onetwo");
    let conversations: Vec<PathBuf> = std::fs::read_dir(ws_b.join(".claude_data/projects"))
        .unwrap()
        .flat_map(|d| std::fs::read_dir(d.unwrap().path()).unwrap())
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy() == format!("{agent_session}.jsonl"))
        .collect();
    assert_eq!(conversations.len(), 1, "the conversation was restored on B");
    assert!(
        model_saw(&h, "continue the notes", "start the notes"),
        "run 2's model requests carry run 1's conversation"
    );
    // A still has its older copy.
    assert!(!ws_a.join("seen-by-2.txt").exists());

    // Run 3 back on A (B stopped): A restores run 2's changes over its older copy.
    b.stop(Duration::from_secs(30)).await;
    let a_id = h.manager_id.clone();
    let _a = h.another_manager(&a_id, &root_a, reach, &[]).await;
    let run3 = h.task_in(session, "read the notes").await;
    assert_eq!(
        h.wait_status(run3, &["completed", "failed"], RUN_LIMIT)
            .await,
        "completed",
        "{:?}",
        h.run_error(run3).await
    );
    assert_eq!(claimed_by(&h, run3).await.0, a_id);
    assert_eq!(read(&ws_a.join("seen-by-3.txt")), "onetwoone");
    assert!(model_saw(&h, "read the notes", "continue the notes"));

    // Deleting the session removes it everywhere: from the store, from A (its feed, polled every
    // second here) and from B when it comes back.
    let res = h
        .client
        .delete(format!("{}/api/v1/sessions/{session}", h.backend))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}", res.status());
    wait_gone(ws_a.parent().unwrap(), Duration::from_secs(20)).await;
    assert!(ws_b.exists());
    let _b = h
        .another_manager("manager-b", root_b.path(), reach, b_extra)
        .await;
    wait_gone(ws_b.parent().unwrap(), Duration::from_secs(20)).await;
    let left = objstore::Bucket::new(&objstore::S3Settings {
        endpoint: s3.endpoint.clone(),
        public_endpoint: None,
        access_key: s3.access_key.clone().into(),
        secret_key: s3.secret_key.clone().into(),
        bucket: BUCKET.into(),
        region: "us-east-1".into(),
        force_path_style: true,
    })
    .list(&objstore::keys::workspace_prefix(session))
    .await
    .unwrap();
    assert!(left.is_empty(), "{left:?}");
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn the_session_follows_its_runs_across_managers(pool: PgPool) {
    let s3 = S3Server::start().await;
    let affinity = AFFINITY_SECONDS.to_string();
    let mut manager = s3_vars(&s3);
    manager.push(("DELETED_SESSIONS_POLL_SECONDS", "1"));
    let mut backend = s3_vars(&s3);
    backend.push(("SESSION_AFFINITY_SECONDS", affinity.as_str()));
    let h = Harness::start_full(pool, scenarios(), &manager, &backend, None).await;
    journey(h, &s3, Reach::Loopback, &[]).await;
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn the_session_follows_its_runs_across_docker_daemons(pool: PgPool) {
    let Some((_, image, gateway)) = test_support::docker::docker_env() else {
        return;
    };
    let Some(host_b) = std::env::var("WORKCELL_DOCKER_HOST_B")
        .ok()
        .filter(|h| !h.is_empty())
    else {
        assert_ne!(
            std::env::var("WORKCELL_REQUIRE_DOCKER").as_deref(),
            Ok("1"),
            "WORKCELL_REQUIRE_DOCKER=1 but WORKCELL_DOCKER_HOST_B (the second daemon) is unset"
        );
        eprintln!(
            "SKIPPED: WORKCELL_DOCKER_HOST_B is unset (scripts/test.sh starts a second daemon)"
        );
        return;
    };
    let s3 = S3Server::start().await;
    let affinity = AFFINITY_SECONDS.to_string();
    let mut manager = s3_vars(&s3);
    manager.extend([
        ("DELETED_SESSIONS_POLL_SECONDS", "1"),
        ("EXECUTOR_RUNTIME", "docker"),
        ("EXECUTOR_IMAGE", image.as_str()),
        ("EXECUTOR_PUBLISHED_HOST", "127.0.0.1"),
    ]);
    let mut backend = s3_vars(&s3);
    backend.push(("SESSION_AFFINITY_SECONDS", affinity.as_str()));
    let h = Harness::start_full(pool, scenarios(), &manager, &backend, Some(&gateway)).await;
    // B: the other daemon, its own executor network (and so its own bridge interface).
    let b = [
        ("DOCKER_HOST", host_b.as_str()),
        ("EXECUTOR_NETWORK", "workcell-executors-b"),
    ];
    journey(h, &s3, Reach::Gateway(&gateway), &b).await;
}
