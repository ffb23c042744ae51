//! Exports that cannot be tricked: an agent leaves a process running in its warm executor that
//! swaps `report.txt` for a symbolic link to a secret as fast as it can, while the session's
//! runs are exported. The whole path as deployed (the `backend` and `executor-manager` binaries,
//! a real S3 server, the real CLI against the scripted model server):
//!
//! - docker runtime: the link points at `/etc/passwd`; no object in S3 and no entry of any
//!   `archive.zip` may hold `root:x:0:0`;
//! - process runtime: the link points at the manager's own `/proc/<pid>/environ`; no object may
//!   hold the marker variable put in the manager's environment for this test.
//!
//! The swapping loop is checked to be alive before and after the exports (else the test proves
//! nothing). Needs what `end_to_end.rs` needs.

mod common;

use std::path::Path;
use std::time::Duration;

use common::stack::{Runtime, Stack};
use fake_llm::{Block, ScenarioFile, Turn};
use protocol::files::Manifest;
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

const RUN_LIMIT: Duration = Duration::from_secs(180);
const FOLLOW_UPS: usize = 3;

/// The agent's background process: while `keep` exists (the workspace is still there) and for
/// at most three minutes, `report.txt` becomes a link to each of `$TARGETS` in turn, and a
/// regular file again in between.
const SWAP_LOOP: &str = "touch keep; nohup timeout 180 sh -c 'while [ -f keep ]; do \
    for t in \"$@\"; do ln -sf \"$t\" r.tmp && mv -T r.tmp report.txt; \
    echo hi > r2.tmp && mv -T r2.tmp report.txt; done; done' sh $TARGETS >/dev/null 2>&1 &";

/// Run 1 starts the loop (`target_setup` sets `$TARGETS`), every follow-up writes a file.
fn scenarios(target_setup: &str) -> ScenarioFile {
    let mut turns = vec![
        Turn::blocks(vec![Block::tool_use(
            "Bash",
            json!({"command": format!("{target_setup}; {SWAP_LOOP}")}),
        )]),
        Turn::text("Loop started."),
    ];
    for i in 0..FOLLOW_UPS {
        turns.push(Turn::blocks(vec![Block::tool_use(
            "Bash",
            json!({"command": format!("echo run {i} > tick.txt")}),
        )]));
        turns.push(Turn::text("Done."));
    }
    ScenarioFile::default().with_scenario("swap", turns)
}

/// Whether `report.txt` is seen both as a link and as a regular file within a few seconds.
async fn loop_alive(ws: &Path) -> bool {
    let (mut link, mut file) = (false, false);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while tokio::time::Instant::now() < deadline && !(link && file) {
        match std::fs::symlink_metadata(ws.join("report.txt")) {
            Ok(m) if m.file_type().is_symlink() => link = true,
            Ok(m) if m.is_file() => file = true,
            _ => {}
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    link && file
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Runs the session (loop, then follow-ups) and checks every object the exports wrote.
/// `verify` looks at the workspace once the loop runs.
async fn run_and_check(stack: Stack, needles: &[&[u8]], verify: impl FnOnce(&Path)) {
    let (session, run1) = stack.task("[scenario:swap] start", None).await;
    let view = stack.wait_finished(run1, RUN_LIMIT).await;
    assert_eq!(view["status"], "completed", "{view}\n{}", stack.logs());
    let ws = stack.workspace(stack.user_of(session).await, session);
    assert!(
        loop_alive(&ws).await,
        "the swapping loop is not running\n{}",
        stack.logs()
    );
    verify(&ws);
    let mut runs = vec![run1];
    for i in 0..FOLLOW_UPS {
        let (_, run) = stack.task(&format!("follow-up {i}"), Some(session)).await;
        let view = stack.wait_finished(run, RUN_LIMIT).await;
        assert_eq!(view["status"], "completed", "{view}\n{}", stack.logs());
        assert_eq!(
            view["export"]["status"],
            "ready",
            "{view}\n{}",
            stack.logs()
        );
        runs.push(run);
    }
    // Still swapping after the exports (frozen during them at most).
    assert!(
        loop_alive(&ws).await,
        "the swapping loop died\n{}",
        stack.logs()
    );
    let log = stack.manager.log_tail(usize::MAX);
    assert!(
        !log.contains("cannot freeze") && !log.contains("cannot thaw"),
        "the warm executor was not frozen and thawed:\n{log}"
    );

    // Every object of the session: files, manifests, archives.
    let keys = stack.keys(&format!("workspaces/{session}"));
    let archives: Vec<&String> = keys.iter().filter(|k| k.ends_with("archive.zip")).collect();
    assert_eq!(archives.len(), runs.len(), "{keys:?}");
    for key in &keys {
        let bytes = stack.object(key).unwrap();
        for needle in needles {
            assert!(
                !contains(&bytes, needle),
                "{key} holds {}",
                String::from_utf8_lossy(needle)
            );
        }
    }
    // The archives are whole, and their entries (stored, so also checked above as bytes) read
    // back with an independent reader; `report.txt`, when exported, is only ever the file.
    for run in &runs {
        let prefix = format!("workspaces/{session}/runs/{run}");
        let zip = stack.object(&format!("{prefix}/archive.zip")).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.zip");
        std::fs::write(&path, &zip).unwrap();
        let out = std::process::Command::new("python3")
            .arg("-c")
            .arg("import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); assert z.testzip() is None; \
                  sys.stdout.buffer.write(b''.join(z.read(n) for n in z.namelist()))")
            .arg(&path)
            .output()
            .expect("python3");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        for needle in needles {
            assert!(
                !contains(&out.stdout, needle),
                "an entry of {prefix}/archive.zip"
            );
        }
        let manifest: Manifest =
            serde_json::from_slice(&stack.object(&format!("{prefix}/manifest.json")).unwrap())
                .unwrap();
        for f in manifest.files.iter().filter(|f| f.path == "report.txt") {
            assert_eq!(stack.object(&f.key).unwrap(), b"hi\n", "{}", f.key);
        }
    }
    // The workspace's own file is still the agent's (the loop is stopped by removing `keep`).
    let _ = std::fs::remove_file(ws.join("keep"));
    stack.stop().await;
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn docker_exports_never_carry_a_swapped_in_link_to_etc_passwd(pool: PgPool) {
    let Some((_docker, image, gateway)) = test_support::docker::docker_env() else {
        return;
    };
    let stack = Stack::start(
        pool,
        scenarios("TARGETS=/etc/passwd"),
        Runtime::Docker {
            image: &image,
            gateway: &gateway,
        },
        &[("EXECUTOR_WARM_IDLE_SECONDS", "120")],
    )
    .await;
    run_and_check(stack, &[b"root:x:0:0"], |_| {}).await;
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn process_exports_never_carry_the_managers_environment(pool: PgPool) {
    let marker = format!("export-race-marker-{}", Uuid::new_v4().simple());
    // The manager is the first ancestor of the agent's shell named `executor-manager` (its
    // command name, cut to 15 characters): link to its environment. Its size is 0 to `fstat`
    // (procfs), which the export's exact-length read would also stop; `/etc/passwd`, a regular
    // file outside the workspace with a size, is the second target.
    let find_manager = "p=$$; while [ \"$p\" -gt 1 ] && [ \"$(cat /proc/$p/comm)\" != executor-manage ]; do \
        p=$(awk '/^PPid:/{print $2}' /proc/$p/status); done; TARGETS=\"/proc/$p/environ /etc/passwd\"; echo $p > manager.pid";
    let stack = Stack::start(
        pool,
        scenarios(find_manager),
        Runtime::Process,
        &[
            ("EXECUTOR_WARM_IDLE_SECONDS", "120"),
            ("WORKCELL_EXPORT_RACE_MARKER", marker.as_str()),
        ],
    )
    .await;
    let marker = marker.into_bytes();
    // The link really leads to the manager's environment (else the test proves nothing).
    let leads_to_the_manager = |ws: &Path| {
        let pid = std::fs::read_to_string(ws.join("manager.pid")).unwrap();
        let pid = pid.trim();
        assert_ne!(pid, "1", "the manager is not among the agent's ancestors");
        let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap();
        assert!(contains(&environ, &marker), "pid {pid} is not the manager");
    };
    run_and_check(stack, &[&marker, b"root:x:0:0"], leads_to_the_manager).await;
}
