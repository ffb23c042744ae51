//! End to end with the `process` runtime: backend (real, over PostgreSQL) → manager → executor
//! binary → Claude Code CLI → scripted model, and back.

mod common;

use std::time::Duration;

use common::{Harness, INTERNAL_TOKEN};
use executor_manager::backend::Lease;
use fake_llm::{Block, ScenarioFile, Turn};
use protocol::internal::{ClaimRequest, ClaimedRun, INTERNAL_TOKEN_HEADER};
use serde_json::{Value, json};
use sqlx::PgPool;
use test_support::s3::{BUCKET, S3Server};

const RUN_LIMIT: Duration = Duration::from_secs(120);

fn scenarios() -> ScenarioFile {
    let mut slow = Turn::text("This answer never arrives in time.");
    slow.delay_ms = 120_000;
    ScenarioFile::default()
        .with_scenario(
            "write_file",
            vec![
                Turn::blocks(vec![
                    Block::text("Writing the file."),
                    Block::tool_use("Bash", json!({"command": "printf hello > out.txt"})),
                ]),
                Turn::text("Done."),
            ],
        )
        .with_scenario("slow", vec![slow])
        .with_scenario(
            "write_two",
            vec![
                Turn::blocks(vec![Block::tool_use(
                    "Bash",
                    json!({"command": "printf kept > kept.txt && mkdir -p dist && printf built > dist/app.js && printf mine > notes-1.txt"}),
                )]),
                Turn::text("Done."),
            ],
        )
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn task_runs_through_the_manager_and_events_are_stored_in_order(pool: PgPool) {
    let h = Harness::start(pool, scenarios(), &[]).await;
    let (session, run) = h.task("[scenario:write_file] write hello to out.txt").await;

    let status = h
        .wait_status(run, &["completed", "failed", "canceled"], RUN_LIMIT)
        .await;
    let events = h.events(run).await;
    assert_eq!(
        status,
        "completed",
        "error: {:?}; events: {events:?}",
        h.run_error(run).await
    );

    // Every event once, in order: run_seq 1..=n and seq strictly increasing.
    let run_seqs: Vec<i64> = events.iter().map(|e| e.1).collect();
    assert_eq!(run_seqs, (1..=events.len() as i64).collect::<Vec<_>>());
    assert!(events.windows(2).all(|w| w[0].0 < w[1].0));
    let kinds: Vec<&str> = events.iter().map(|e| e.2.as_str()).collect();
    assert_eq!(kinds.first(), Some(&"system_init"), "{kinds:?}");
    assert_eq!(kinds.last(), Some(&"completed"), "{kinds:?}");
    for k in ["tool_use", "tool_result", "result", "file_changes"] {
        assert!(kinds.contains(&k), "no {k} in {kinds:?}");
    }
    assert!(
        events
            .iter()
            .any(|e| e.2 == "assistant_text" && e.3["text"] == "Done."),
        "{events:?}"
    );

    // The agent really worked in the run's workspace.
    let user = h.user_of(session).await;
    let out = std::fs::read_to_string(h.workspace(user, session).join("out.txt")).unwrap();
    assert_eq!(out, "hello");
    // The model was reached with the manager's token.
    assert!(h.llm.turn_requests().len() >= 2);
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn cancel_through_the_backend_cancels_the_run(pool: PgPool) {
    let h = Harness::start(pool, scenarios(), &[]).await;
    let (session, run) = h.task("[scenario:slow] take your time").await;
    h.wait_status(run, &["running"], RUN_LIMIT).await;

    let res = h
        .client
        .post(format!("{}/api/v1/sessions/{session}/cancel", h.backend))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    // Heartbeats come every lease/3 = 5 s in this harness.
    let status = h
        .wait_status(
            run,
            &["completed", "failed", "canceled"],
            Duration::from_secs(60),
        )
        .await;
    assert_eq!(status, "canceled", "error: {:?}", h.run_error(run).await);
    let events = h.events(run).await;
    assert_eq!(
        events.last().map(|e| e.2.as_str()),
        Some("canceled"),
        "{events:?}"
    );
}

/// With `EXECUTOR_MANAGER_URL` (the harness sets it), the backend nudges the manager when the
/// owner cancels: the run's heartbeat goes out at once and the run ends in well under the
/// heartbeat interval (30 s with this 90 s lease). The nudge route wants the internal token and
/// knows only the runs this manager holds.
#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn a_cancel_reaches_the_run_at_once_through_the_managers_nudge(pool: PgPool) {
    let h = Harness::start(pool, scenarios(), &[("TASK_CLAIM_LEASE_SECONDS", "90")]).await;
    let (session, run) = h.task("[scenario:slow] take your time").await;
    h.wait_status(run, &["running"], RUN_LIMIT).await;

    let nudge = format!("{}/api/v1/internal/runs/{run}/nudge", h.manager);
    let res = h.client.post(&nudge).send().await.unwrap();
    assert_eq!(res.status(), 401);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unauthorized");
    let res = h
        .client
        .post(format!(
            "{}/api/v1/internal/runs/{}/nudge",
            h.manager,
            uuid::Uuid::new_v4()
        ))
        .header(INTERNAL_TOKEN_HEADER, INTERNAL_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    // A nudge alone changes nothing: the run goes on (the heartbeat finds no cancel).
    let res = h
        .client
        .post(&nudge)
        .header(INTERNAL_TOKEN_HEADER, INTERNAL_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(h.run_status(run).await, "running");

    let asked = std::time::Instant::now();
    let res = h
        .client
        .post(format!("{}/api/v1/sessions/{session}/cancel", h.backend))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let status = h
        .wait_status(
            run,
            &["completed", "failed", "canceled"],
            Duration::from_secs(60),
        )
        .await;
    let took = asked.elapsed();
    assert_eq!(status, "canceled", "error: {:?}", h.run_error(run).await);
    assert!(
        took < Duration::from_secs(10),
        "the cancel took {took:?}: it waited for the heartbeat (every 30 s), not the nudge"
    );
}

/// The manager's `WORKSPACE_GIT_IGNORE` reaches its executors (the run's changes leave the
/// ignored files out), and so do `LOG_TO_FILE`/`LOG_DIR`/`LOG_BACKUP_COUNT` with the process
/// runtime (the executor writes its rotated file in the manager's log directory).
#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn workspace_ignore_rules_and_log_files_reach_the_executor(pool: PgPool) {
    let logs = tempfile::tempdir().unwrap();
    let log_dir = logs.path().display().to_string();
    let h = Harness::start(
        pool,
        scenarios(),
        &[
            ("WORKSPACE_GIT_IGNORE", "dist/\nnotes-*.txt"),
            ("LOG_TO_FILE", "true"),
            ("LOG_DIR", log_dir.as_str()),
            ("LOG_BACKUP_COUNT", "3"),
        ],
    )
    .await;
    let (session, run) = h.task("[scenario:write_two] write three files").await;
    let status = h
        .wait_status(run, &["completed", "failed", "canceled"], RUN_LIMIT)
        .await;
    assert_eq!(status, "completed", "error: {:?}", h.run_error(run).await);
    let events = h.events(run).await;
    let changed: Vec<String> = events
        .iter()
        .filter(|e| e.2 == "file_changes")
        .flat_map(|e| e.3["changes"].as_array().cloned().unwrap_or_default())
        .filter_map(|c| c["path"].as_str().map(str::to_owned))
        .collect();
    assert!(changed.contains(&"kept.txt".to_owned()), "{changed:?}");
    assert!(
        !changed
            .iter()
            .any(|p| p.starts_with("dist/") || p.starts_with("notes-")),
        "ignored files counted: {changed:?}"
    );
    let user = h.user_of(session).await;
    let exclude =
        std::fs::read_to_string(h.workspace(user, session).join(".git/info/exclude")).unwrap();
    assert!(
        exclude.contains("dist/") && exclude.contains("notes-*.txt"),
        "{exclude}"
    );

    let files: Vec<String> = std::fs::read_dir(logs.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    let executor_log = files
        .iter()
        .find(|f| f.starts_with("executor") && f.ends_with("log"))
        .unwrap_or_else(|| panic!("no executor log file in {files:?}"));
    let text = std::fs::read_to_string(logs.path().join(executor_log)).unwrap();
    assert!(
        text.contains(&run.to_string()),
        "the executor's log names its run"
    );
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn executor_that_exits_early_fails_the_run(pool: PgPool) {
    let h = Harness::start(pool, scenarios(), &[("EXECUTOR_BIN", "/bin/false")]).await;
    let (_, run) = h.task("anything").await;
    let status = h
        .wait_status(run, &["completed", "failed", "canceled"], RUN_LIMIT)
        .await;
    assert_eq!(status, "failed");
    let error = h.run_error(run).await.unwrap_or_default();
    assert!(error.contains("exited with status 1"), "{error}");
}

async fn claim(h: &Harness) -> ClaimedRun {
    let res = h
        .client
        .post(format!("{}/api/v1/internal/runs/claim", h.backend))
        .header(INTERNAL_TOKEN_HEADER, INTERNAL_TOKEN)
        .json(&ClaimRequest {
            worker_id: h.manager_id.clone(),
            lease_seconds: 60,
            wait_seconds: 5,
            kinds: None,
            max_runs: 1,
            start: false,
        })
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

fn batch(run: uuid::Uuid, text: &str) -> Value {
    json!({"run_id": run, "events": [
        {"run_seq": 1, "time": "2026-01-01T00:00:00Z", "type": "assistant_text", "payload": {"text": text}}
    ]})
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn a_run_token_cannot_post_events_for_another_run(pool: PgPool) {
    let h = Harness::start(pool, scenarios(), &[("TASK_PULL_ENABLED", "false")]).await;
    let (_, a) = h.task("first").await;
    let (_, b) = h.task("second").await;
    let (ca, cb) = (claim(&h).await, claim(&h).await);
    let lease = |c: &ClaimedRun| Lease {
        run_id: c.run_id,
        worker_id: h.manager_id.clone(),
        epoch: c.epoch,
    };
    let ra = h.registry.register(lease(&ca));
    let rb = h.registry.register(lease(&cb));
    let post = |run: uuid::Uuid, token: String, body: Value| {
        let req = h
            .client
            .post(format!("{}/api/v1/callbacks/{run}", h.manager))
            .bearer_auth(token)
            .json(&body);
        async move { req.send().await.unwrap() }
    };

    // A's token on B's route: 401 and nothing stored.
    let res = post(b, ra.token.clone(), batch(b, "forged")).await;
    assert_eq!(res.status(), 401);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unauthorized");
    // No token, a made-up token, an unknown run: 401.
    let res = h
        .client
        .post(format!("{}/api/v1/callbacks/{b}", h.manager))
        .json(&batch(b, "x"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(post(b, "0".repeat(64), batch(b, "x")).await.status(), 401);
    let other = uuid::Uuid::new_v4();
    assert_eq!(
        post(other, ra.token.clone(), batch(other, "x"))
            .await
            .status(),
        401
    );
    // A's token on A's route but B's run in the body: refused.
    assert_eq!(post(a, ra.token.clone(), batch(b, "x")).await.status(), 422);
    assert!(h.events(b).await.is_empty());
    assert!(h.events(a).await.is_empty());

    // B's own token works, and a re-delivery is stored once.
    for _ in 0..2 {
        let res = post(b, rb.token.clone(), batch(b, "real")).await;
        assert_eq!(res.status(), 200);
    }
    let events = h.events(b).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].3["text"], "real");
    assert!(h.events(a).await.is_empty());
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn shutdown_timeout_requeues_active_runs(pool: PgPool) {
    let mut h = Harness::start(pool, scenarios(), &[("SHUTDOWN_TIMEOUT_SECONDS", "1")]).await;
    let (_, run) = h.task("[scenario:slow] take your time").await;
    h.wait_status(run, &["running"], RUN_LIMIT).await;
    h.stop_manager(Duration::from_secs(60)).await;
    // `fail` with retryable: back to the queue (attempts remain).
    assert_eq!(h.run_status(run).await, "queued");
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn workspace_is_exported_to_s3_at_the_end_of_the_run(pool: PgPool) {
    let s3 = S3Server::start().await;
    let h = Harness::start(
        pool,
        scenarios(),
        &[
            ("S3_ENDPOINT", s3.endpoint.as_str()),
            ("S3_ACCESS_KEY", s3.access_key.as_str()),
            ("S3_SECRET_KEY", s3.secret_key.as_str()),
            ("S3_BUCKET", BUCKET),
        ],
    )
    .await;
    let (session, run) = h.task("[scenario:write_file] write hello to out.txt").await;
    let status = h
        .wait_status(run, &["completed", "failed", "canceled"], RUN_LIMIT)
        .await;
    assert_eq!(status, "completed");
    // The export happens before the report: the manifest is there now.
    let manifest_path = s3
        .root()
        .join(BUCKET)
        .join(format!("workspaces/{session}/runs/{run}/manifest.json"));
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(&manifest_path).expect("manifest.json")).unwrap();
    let paths: Vec<&str> = manifest["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    // The agent's file, nothing from .git or the CLI's .claude_data.
    assert_eq!(paths, vec!["out.txt"], "{manifest}");
    assert_eq!(manifest["files"][0]["size"], 5);
    assert!(
        s3.root()
            .join(BUCKET)
            .join(format!("workspaces/{session}/runs/{run}/archive.zip"))
            .exists()
    );
    // The backend knows: the report arrived with the run's own keys.
    let (status, key, files): (String, Option<String>, i64) =
        sqlx::query_as("SELECT status, manifest_key, files FROM run_exports WHERE run_id = $1")
            .bind(run)
            .fetch_one(&h.pool)
            .await
            .expect("an export report");
    assert_eq!(status, "ready");
    assert_eq!(
        key.as_deref(),
        Some(format!("workspaces/{session}/runs/{run}/manifest.json").as_str())
    );
    assert_eq!(files, 1);
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn lost_lease_stops_the_executor_without_reporting(pool: PgPool) {
    let h = Harness::start(pool, scenarios(), &[]).await;
    let (_, run) = h.task("[scenario:slow] take your time").await;
    h.wait_status(run, &["running"], RUN_LIMIT).await;
    assert_eq!(h.registry.active(), vec![run]);
    // Another worker took the run over (as after a lease expiry and a new claim).
    sqlx::query(
        "UPDATE runs SET lease_holder = 'someone-else', lease_epoch = lease_epoch + 1 WHERE id = $1",
    )
    .bind(run)
    .execute(&h.pool)
    .await
    .unwrap();
    // The next heartbeat (every 5 s here) gets 409: the run is dropped, nothing is reported.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !h.registry.active().is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "run not dropped");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(h.run_status(run).await, "running");
    let holder: String = sqlx::query_scalar("SELECT lease_holder FROM runs WHERE id = $1")
        .bind(run)
        .fetch_one(&h.pool)
        .await
        .unwrap();
    assert_eq!(holder, "someone-else");
    // No terminal event was stored by the fenced-off worker.
    assert!(
        h.events(run)
            .await
            .iter()
            .all(|e| !["completed", "failed", "canceled"].contains(&e.2.as_str()))
    );
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn health_probes_answer_and_shutdown_is_prompt_when_idle(pool: PgPool) {
    let mut h = Harness::start(pool, scenarios(), &[]).await;
    for path in ["/health", "/health/live", "/health/ready"] {
        let res = h
            .client
            .get(format!("{}{path}", h.manager))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{path}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["service"], "executor-manager");
    }
    // Idle: the pending long poll (2 s here) ends and the manager stops.
    let started = std::time::Instant::now();
    h.stop_manager(Duration::from_secs(20)).await;
    assert!(started.elapsed() < Duration::from_secs(10));
    // A task created now stays queued: nobody claims it.
    let (_, run) = h.task("after shutdown").await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(h.run_status(run).await, "queued");
}
