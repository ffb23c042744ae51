//! The whole path as deployed: the `backend` and `executor-manager` binaries as their own
//! processes (PostgreSQL, a real S3 server), the docker runtime with the executor test image, the
//! real Claude Code CLI inside the container against the scripted model server.
//!
//! `POST /api/v1/tasks` → a container starts → the agent writes files with its tools → the events
//! are in the backend, in order → the files, `manifest.json` and `archive.zip` are in S3 → a
//! follow-up in the same session sees the earlier files, and its manifest marks unchanged files.
//!
//! (A callback with another run's token → 401, nothing stored: `process_runtime.rs`.)
//!
//! Needs `DOCKER_HOST` (else skipped with a message, or failed with `WORKCELL_REQUIRE_DOCKER=1`),
//! the backend binary (`cargo build -p backend`), `S3S_FS_BIN`, `DATABASE_URL`.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use bollard::query_parameters::ListContainersOptionsBuilder;
use common::stack::{Runtime, Stack};
use executor_manager::runtime::docker::LABEL_SESSION;
use fake_llm::{Block, ScenarioFile, Turn};
use protocol::files::{Manifest, ManifestChange as Change};
use serde_json::{Value, json};
use sqlx::PgPool;

const RUN_LIMIT: Duration = Duration::from_secs(180);
const DATA_BYTES: usize = 20_000;

/// One conversation over two runs: the scenario is chosen by the first prompt and the turn by the
/// number of earlier answers, so the resumed follow-up plays turns 3 and 4.
fn scenarios() -> ScenarioFile {
    ScenarioFile::default().with_scenario(
        "project",
        vec![
            // Run 1: the Write tool, then Bash.
            Turn::blocks(vec![
                Block::text("I'll start with a README."),
                Block::tool_use(
                    "Write",
                    json!({"file_path": "/workspace/README.md", "content": "# Demo\n"}),
                ),
            ]),
            Turn::blocks(vec![Block::tool_use(
                "Bash",
                json!({"command": format!(
                    "mkdir -p src && printf 'fn main() {{}}\\n' > src/main.rs && head -c {DATA_BYTES} /dev/urandom > data.bin"
                )}),
            )]),
            Turn::text("Run one done."),
            // Run 2 (resumed): reads what run 1 left, changes one file, adds one.
            Turn::blocks(vec![Block::tool_use(
                "Bash",
                json!({"command": "cat README.md src/main.rs | tee seen.txt && printf '# Demo, revised\\n' > README.md"}),
            )]),
            Turn::text("Run two done."),
        ],
    )
}

fn kinds(events: &[Value]) -> Vec<&str> {
    events.iter().map(|e| e["type"].as_str().unwrap()).collect()
}

/// Checks one run's events (as the public API returns them): numbered 1..n within the run,
/// session order strictly increasing, `system_init` first and `completed` last.
fn assert_run_events(events: &[Value], run: uuid::Uuid) -> Vec<Value> {
    let mine: Vec<Value> = events
        .iter()
        .filter(|e| e["run_id"] == run.to_string())
        .cloned()
        .collect();
    let run_seqs: Vec<i64> = mine
        .iter()
        .map(|e| e["run_seq"].as_i64().unwrap())
        .collect();
    assert_eq!(
        run_seqs,
        (1..=mine.len() as i64).collect::<Vec<_>>(),
        "{mine:?}"
    );
    let k = kinds(&mine);
    assert_eq!(k.first(), Some(&"system_init"), "{k:?}");
    assert_eq!(k.last(), Some(&"completed"), "{k:?}");
    mine
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn task_to_files_in_s3_and_a_follow_up_that_sees_them(pool: PgPool) {
    let Some((docker, image, gateway)) = test_support::docker::docker_env() else {
        return;
    };
    let stack = Stack::start(
        pool,
        scenarios(),
        Runtime::Docker {
            image: &image,
            gateway: &gateway,
        },
        &[],
    )
    .await;

    // ---- Run 1 ----
    let (session, run1) = stack
        .task("[scenario:project] Start a small project.", None)
        .await;
    // A container is started for it, labelled with its session.
    let filters = HashMap::from([("label", vec![format!("{LABEL_SESSION}={session}")])]);
    let deadline = tokio::time::Instant::now() + RUN_LIMIT;
    let mut saw_container = false;
    while tokio::time::Instant::now() < deadline {
        let list = docker
            .list_containers(Some(
                ListContainersOptionsBuilder::new()
                    .all(true)
                    .filters(&filters)
                    .build(),
            ))
            .await
            .unwrap();
        if !list.is_empty() {
            saw_container = true;
            break;
        }
        let status = stack.get(&format!("runs/{run1}")).await["status"].clone();
        if ["completed", "failed", "canceled"].contains(&status.as_str().unwrap_or_default()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        saw_container,
        "no container for the session\n{}",
        stack.logs()
    );

    let view = stack.wait_finished(run1, RUN_LIMIT).await;
    assert_eq!(view["status"], "completed", "{view}\n{}", stack.logs());
    let events = stack.events(session).await;
    let seqs: Vec<i64> = events.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    let e1 = assert_run_events(&events, run1);
    let k1 = kinds(&e1);
    for k in ["assistant_text", "tool_use", "tool_result", "result"] {
        assert!(k1.contains(&k), "no {k} in {k1:?}");
    }
    let tools: Vec<&str> = e1
        .iter()
        .filter(|e| e["type"] == "tool_use")
        .map(|e| e["payload"]["name"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(tools, vec!["Write", "Bash"], "{e1:?}");
    // Results come after their tool uses, without errors.
    for r in e1.iter().filter(|e| e["type"] == "tool_result") {
        assert_ne!(r["payload"]["is_error"], true, "{r}");
    }

    // The files really are in the session's workspace on the host.
    let user = stack.user_of(session).await;
    let ws = stack.workspace(user, session);
    assert_eq!(
        std::fs::read_to_string(ws.join("README.md")).unwrap(),
        "# Demo\n"
    );
    let data = std::fs::read(ws.join("data.bin")).unwrap();
    assert_eq!(data.len(), DATA_BYTES);

    // The export: reported to the backend, and in S3.
    let export = &view["export"];
    assert_eq!(export["status"], "ready", "{view}");
    assert_eq!(
        (export["files"].as_i64(), export["added"].as_i64()),
        (Some(3), Some(3))
    );
    let prefix1 = format!("workspaces/{session}/runs/{run1}");
    let m1: Manifest = serde_json::from_slice(
        &stack
            .object(&format!("{prefix1}/manifest.json"))
            .expect("manifest of run 1"),
    )
    .unwrap();
    assert_eq!(m1.run_id, run1);
    assert_eq!(m1.user_id, user);
    let paths: Vec<&str> = m1.files.iter().map(|f| f.path.as_str()).collect();
    // Nothing of .git or the CLI's .claude_data.
    assert_eq!(paths, vec!["README.md", "data.bin", "src/main.rs"]);
    assert!(m1.files.iter().all(|f| f.change == Change::Added));
    for f in &m1.files {
        let bytes = stack
            .object(&f.key)
            .unwrap_or_else(|| panic!("{} in S3", f.key));
        assert_eq!(
            bytes,
            std::fs::read(ws.join(&f.path)).unwrap(),
            "{}",
            f.path
        );
    }
    let zip = stack
        .object(&format!("{prefix1}/archive.zip"))
        .expect("archive.zip of run 1");
    assert_eq!(
        test_support::zip::names(&zip),
        vec!["README.md", "data.bin", "src/main.rs"]
    );

    // ---- Run 2: a follow-up in the same session ----
    let (same, run2) = stack.task("Now revise the README.", Some(session)).await;
    assert_eq!(same, session);
    let view = stack.wait_finished(run2, RUN_LIMIT).await;
    assert_eq!(view["status"], "completed", "{view}\n{}", stack.logs());
    let events = stack.events(session).await;
    let e2 = assert_run_events(&events, run2);
    // Run 2's events come after all of run 1's in the session.
    let last1 = e1.last().unwrap()["seq"].as_i64().unwrap();
    assert!(e2.iter().all(|e| e["seq"].as_i64().unwrap() > last1));
    // It saw run 1's files: its tool printed them.
    let output: String = e2
        .iter()
        .filter(|e| e["type"] == "tool_result")
        .map(|e| e["payload"].to_string())
        .collect();
    assert!(
        output.contains("# Demo") && output.contains("fn main"),
        "{e2:?}"
    );
    assert!(
        e2.iter()
            .any(|e| e["type"] == "assistant_text" && e["payload"]["text"] == "Run two done."),
        "{e2:?}"
    );
    assert_eq!(
        std::fs::read_to_string(ws.join("seen.txt")).unwrap(),
        "# Demo\nfn main() {}\n"
    );

    let export = &view["export"];
    assert_eq!(export["status"], "ready", "{view}");
    let counts = ["files", "added", "modified", "unchanged", "deleted"]
        .map(|k| export[k].as_i64().unwrap_or(-1));
    assert_eq!(counts, [4, 1, 1, 2, 0], "{export}");
    let prefix2 = format!("workspaces/{session}/runs/{run2}");
    let m2: Manifest = serde_json::from_slice(
        &stack
            .object(&format!("{prefix2}/manifest.json"))
            .expect("manifest of run 2"),
    )
    .unwrap();
    assert_eq!(m2.previous_run_id, Some(run1));
    let changes: BTreeMap<&str, Change> = m2
        .files
        .iter()
        .map(|f| (f.path.as_str(), f.change))
        .collect();
    assert_eq!(
        changes,
        BTreeMap::from([
            ("README.md", Change::Modified),
            ("data.bin", Change::Unchanged),
            ("seen.txt", Change::Added),
            ("src/main.rs", Change::Unchanged),
        ])
    );
    // Unchanged files keep run 1's objects and were not uploaded again.
    let old_key = |p: &str| m1.files.iter().find(|f| f.path == p).unwrap().key.clone();
    for f in m2.files.iter().filter(|f| f.change == Change::Unchanged) {
        assert_eq!(f.key, old_key(&f.path));
    }
    assert_eq!(
        stack.keys(&format!("{prefix2}/files")),
        vec![
            format!("{prefix2}/files/README.md"),
            format!("{prefix2}/files/seen.txt")
        ]
    );
    assert_eq!(
        stack.object(&format!("{prefix2}/files/README.md")).unwrap(),
        b"# Demo, revised\n"
    );
    let zip = stack
        .object(&format!("{prefix2}/archive.zip"))
        .expect("archive.zip of run 2");
    assert_eq!(
        test_support::zip::names(&zip),
        vec!["README.md", "data.bin", "seen.txt", "src/main.rs"]
    );

    // What went up: the two changed files and the archive (which holds everything), not data.bin.
    let changed: usize = ["README.md", "seen.txt"]
        .iter()
        .map(|p| std::fs::read(ws.join(p)).unwrap().len())
        .sum();
    assert_eq!(
        export["uploaded_bytes"].as_i64(),
        Some((changed + zip.len()) as i64),
        "{export}"
    );

    // Both services stop cleanly on SIGTERM, and no container is left for the session.
    stack.stop().await;
    let list = docker
        .list_containers(Some(
            ListContainersOptionsBuilder::new()
                .all(true)
                .filters(&filters)
                .build(),
        ))
        .await
        .unwrap();
    assert!(list.is_empty(), "containers left: {list:?}");
}
