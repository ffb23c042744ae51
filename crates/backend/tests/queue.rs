//! The leased run queue, through the internal HTTP API against a real PostgreSQL.

mod common;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{TestApp, error_code, text_batch};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;
use tokio::sync::Mutex;
use uuid::Uuid;

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn eight_concurrent_claimers_claim_each_of_200_runs_exactly_once(pool: PgPool) {
    let app = Arc::new(TestApp::spawn(pool).await);
    let token = app.register("a@example.com").await;
    let mut created = HashSet::new();
    for i in 0..200 {
        let (_, run) = app.task(&token, &format!("task {i}"), None).await;
        created.insert(run);
    }
    let claimed = Arc::new(Mutex::new(Vec::new()));
    let mut workers = Vec::new();
    for w in 0..8 {
        let app = app.clone();
        let claimed = claimed.clone();
        workers.push(tokio::spawn(async move {
            let worker = format!("worker-{w}");
            while let Some(run) = app.claim(&worker, 0).await {
                claimed.lock().await.push(run.run_id);
                let res = app
                    .internal(
                        &format!("/runs/{}/complete", run.run_id),
                        json!({"worker_id": worker, "epoch": run.epoch}),
                    )
                    .await;
                assert_eq!(res.status(), StatusCode::OK);
            }
        }));
    }
    for w in workers {
        w.await.unwrap();
    }
    let claimed = claimed.lock().await;
    let unique: HashSet<Uuid> = claimed.iter().copied().collect();
    assert_eq!(
        claimed.len(),
        200,
        "some run was claimed twice or not at all"
    );
    assert_eq!(unique, created);
    let done: i64 =
        sqlx::query_scalar("SELECT count(*) FROM runs WHERE status = 'completed' AND attempts = 1")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(done, 200);
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn a_parked_claim_returns_within_100ms_of_a_new_task(pool: PgPool) {
    let app = Arc::new(TestApp::spawn(pool).await);
    let token = app.register("a@example.com").await;
    for round in 0..5 {
        let waiter = {
            let app = app.clone();
            tokio::spawn(async move {
                let run = app.claim("parked", 20).await;
                (run, Instant::now())
            })
        };
        // Let the claim park in its long poll.
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(
            !waiter.is_finished(),
            "claim returned with nothing to claim"
        );
        let (_, run_id) = app.task(&token, &format!("wake {round}"), None).await;
        // The task exists once its POST has answered; the claim must return within 100 ms of that
        // (it usually returns before the answer even arrives).
        let created = Instant::now();
        let (run, woke) = waiter.await.unwrap();
        assert_eq!(run.expect("claimed").run_id, run_id);
        let latency = woke.saturating_duration_since(created);
        assert!(
            latency < Duration::from_millis(100),
            "woke {latency:?} after the task was created"
        );
    }
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn an_empty_long_poll_answers_204_after_its_wait(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let t = Instant::now();
    assert!(app.claim("w", 1).await.is_none());
    let waited = t.elapsed();
    assert!(
        waited >= Duration::from_millis(950) && waited < Duration::from_secs(3),
        "{waited:?}"
    );
}

async fn expire_lease(pool: &PgPool, run: Uuid) {
    sqlx::query("UPDATE runs SET lease_expires_at = now() - interval '1 second' WHERE id = $1")
        .bind(run)
        .execute(pool)
        .await
        .unwrap();
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn an_expired_lease_requeues_and_fences_off_the_old_worker(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let token = app.register("a@example.com").await;
    let (_, run_id) = app.task(&token, "work", None).await;
    let first = app.claim("worker-a", 0).await.unwrap();
    assert_eq!(first.attempt, 1);
    let res = app
        .internal(
            &format!("/runs/{run_id}/start"),
            json!({"worker_id": "worker-a", "epoch": first.epoch}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);

    // The worker dies: its lease runs out and the reaper (every second here) re-queues the run.
    expire_lease(&app.pool, run_id).await;
    let second = app
        .claim("worker-b", 5)
        .await
        .expect("re-queued run claimed again");
    assert_eq!(second.run_id, run_id);
    assert_eq!(second.attempt, 2);
    assert!(second.epoch > first.epoch);

    let before: (String, i64, Option<String>) =
        sqlx::query_as("SELECT status, lease_epoch, lease_holder FROM runs WHERE id = $1")
            .bind(run_id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    // Every call of the old worker is refused and changes nothing.
    for (path, body) in [
        (
            "heartbeat",
            json!({"worker_id": "worker-a", "epoch": first.epoch}),
        ),
        (
            "start",
            json!({"worker_id": "worker-a", "epoch": first.epoch}),
        ),
        (
            "complete",
            json!({"worker_id": "worker-a", "epoch": first.epoch}),
        ),
        (
            "fail",
            json!({"worker_id": "worker-a", "epoch": first.epoch, "error": "x"}),
        ),
        ("events", text_batch("worker-a", first.epoch, 1, 3)),
        // Right epoch, wrong worker.
        (
            "complete",
            json!({"worker_id": "worker-a", "epoch": second.epoch}),
        ),
    ] {
        let res = app.internal(&format!("/runs/{run_id}/{path}"), body).await;
        assert_eq!(res.status(), StatusCode::CONFLICT, "{path}");
        assert_eq!(error_code(res).await, "lease_lost");
    }
    let after: (String, i64, Option<String>) =
        sqlx::query_as("SELECT status, lease_epoch, lease_holder FROM runs WHERE id = $1")
            .bind(run_id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(before, after);
    let events: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(events, 0);

    // The new holder finishes normally.
    let res = app
        .internal(
            &format!("/runs/{run_id}/complete"),
            json!({"worker_id": "worker-b", "epoch": second.epoch}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(app.run_status(run_id).await, "completed");
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn a_run_whose_attempts_are_used_up_fails_with_a_clear_error(pool: PgPool) {
    let app = TestApp::spawn_with(pool, &[("RUN_MAX_ATTEMPTS", "2")]).await;
    let token = app.register("a@example.com").await;
    let (_, run_id) = app.task(&token, "work", None).await;
    for attempt in 1..=2 {
        let run = app.claim("w", 5).await.expect("claimable");
        assert_eq!(run.attempt, attempt);
        assert_eq!(run.max_attempts, 2);
        expire_lease(&app.pool, run_id).await;
        backend::queue::reaper::reap_once(&app.pool, 0)
            .await
            .unwrap();
    }
    assert_eq!(app.run_status(run_id).await, "failed");
    assert!(app.claim("w", 0).await.is_none());
    let res = app.get(&token, &format!("/api/v1/runs/{run_id}")).await;
    let run: Value = res.json().await.unwrap();
    assert_eq!(run["status"], "failed");
    assert_eq!(run["attempts"], 2);
    let error = run["error"].as_str().unwrap();
    assert!(
        error.contains("lease expired") && error.contains("2 of 2"),
        "{error}"
    );
    let history: Value = sqlx::query_scalar("SELECT attempt_errors FROM runs WHERE id = $1")
        .bind(run_id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(history.as_array().unwrap().len(), 2);
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn retryable_failures_requeue_with_backoff_and_others_fail(pool: PgPool) {
    let app = TestApp::spawn_with(pool, &[("RUN_RETRY_BACKOFF_SECONDS", "30")]).await;
    let token = app.register("a@example.com").await;
    let (_, run_id) = app.task(&token, "work", None).await;
    let run = app.claim("w", 0).await.unwrap();
    let res = app
        .internal(
            &format!("/runs/{run_id}/fail"),
            json!({"worker_id": "w", "epoch": run.epoch, "error": "worker shutting down", "retryable": true}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let ack: Value = res.json().await.unwrap();
    assert_eq!(ack["status"], "queued");
    // In back-off: not claimable now.
    assert!(app.claim("w", 0).await.is_none());
    let delay: f64 = sqlx::query_scalar(
        "SELECT EXTRACT(EPOCH FROM scheduled_at - now())::float8 FROM runs WHERE id = $1",
    )
    .bind(run_id)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert!((25.0..=31.0).contains(&delay), "back-off {delay}");
    sqlx::query("UPDATE runs SET scheduled_at = now() WHERE id = $1")
        .bind(run_id)
        .execute(&app.pool)
        .await
        .unwrap();
    let run = app.claim("w", 0).await.unwrap();
    let res = app
        .internal(
            &format!("/runs/{run_id}/fail"),
            json!({"worker_id": "w", "epoch": run.epoch, "error": "the agent exited with status 1"}),
        )
        .await;
    let ack: Value = res.json().await.unwrap();
    assert_eq!(ack["status"], "failed");
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn a_delayed_run_wakes_a_parked_claim_when_it_becomes_due(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let token = app.register("a@example.com").await;
    let (_, run_id) = app.task(&token, "later", None).await;
    sqlx::query("UPDATE runs SET scheduled_at = now() + interval '700 milliseconds' WHERE id = $1")
        .bind(run_id)
        .execute(&app.pool)
        .await
        .unwrap();
    let t = Instant::now();
    let run = app.claim("w", 10).await.expect("claimed once due");
    assert_eq!(run.run_id, run_id);
    let waited = t.elapsed();
    assert!(
        waited >= Duration::from_millis(500) && waited < Duration::from_secs(3),
        "{waited:?}"
    );
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn a_session_has_one_active_run_and_its_follow_up_starts_after_it(pool: PgPool) {
    let app = Arc::new(TestApp::spawn(pool).await);
    let token = app.register("a@example.com").await;
    let (session, first) = app.task(&token, "first", None).await;
    let (_, second) = app.task(&token, "second", Some(session)).await;
    let (_, other) = app.task(&token, "another session", None).await;

    let a = app.claim("w1", 0).await.unwrap();
    assert_eq!(a.run_id, first);
    // The follow-up waits; another session's run does not.
    let b = app.claim("w2", 0).await.unwrap();
    assert_eq!(b.run_id, other);
    assert!(app.claim("w2", 0).await.is_none());

    let detail: Value = app
        .get(&token, &format!("/api/v1/sessions/{session}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(detail["status"], "running");
    assert_eq!(detail["runs"][1]["status"], "queued");

    // A parked claim is woken when the first run completes.
    let waiter = {
        let app = app.clone();
        tokio::spawn(async move { app.claim("w3", 10).await })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let res = app
        .internal(
            &format!("/runs/{first}/complete"),
            json!({"worker_id": "w1", "epoch": a.epoch}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let c = tokio::time::timeout(Duration::from_secs(2), waiter)
        .await
        .expect("woken")
        .unwrap()
        .unwrap();
    assert_eq!(c.run_id, second);
    assert_eq!(c.agent_session_id, None);
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn cancel_stops_queued_runs_at_once_and_flags_active_ones(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let token = app.register("a@example.com").await;
    let (session, first) = app.task(&token, "first", None).await;
    let (_, second) = app.task(&token, "second", Some(session)).await;
    let run = app.claim("w", 0).await.unwrap();
    let res = app
        .internal(
            &format!("/runs/{first}/heartbeat"),
            json!({"worker_id": "w", "epoch": run.epoch}),
        )
        .await;
    let hb: Value = res.json().await.unwrap();
    assert_eq!(hb["cancel_requested"], false);

    let res = app
        .post(
            &token,
            &format!("/api/v1/sessions/{session}/cancel"),
            json!({}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body, json!({"canceled": 1, "canceling": 1}));
    assert_eq!(app.run_status(second).await, "canceled");
    assert_eq!(app.run_status(first).await, "canceling");

    let res = app
        .internal(
            &format!("/runs/{first}/heartbeat"),
            json!({"worker_id": "w", "epoch": run.epoch}),
        )
        .await;
    let hb: Value = res.json().await.unwrap();
    assert_eq!(hb["cancel_requested"], true);
    let res = app
        .internal(
            &format!("/runs/{first}/complete"),
            json!({"worker_id": "w", "epoch": run.epoch, "outcome": "canceled"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(app.run_status(first).await, "canceled");
    let detail: Value = app
        .get(&token, &format!("/api/v1/sessions/{session}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(detail["status"], "canceled");
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn heartbeats_extend_the_lease(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let token = app.register("a@example.com").await;
    let (_, run_id) = app.task(&token, "work", None).await;
    let run = app.claim_lease("w", 0, 10).await.unwrap();
    let res = app
        .internal(
            &format!("/runs/{run_id}/heartbeat"),
            json!({"worker_id": "w", "epoch": run.epoch, "lease_seconds": 600}),
        )
        .await;
    let hb: protocol::internal::LeaseStatus = res.json().await.unwrap();
    let extended = hb.lease_expires_at - run.lease_expires_at;
    assert!(extended > chrono::Duration::seconds(500), "{extended}");
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn follow_ups_wait_in_order_even_when_one_in_the_middle_ends_early(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let token = app.register("a@example.com").await;
    let (session, first) = app.task(&token, "first", None).await;
    let (_, second) = app.task(&token, "second", Some(session)).await;
    let (_, third) = app.task(&token, "third", Some(session)).await;
    let a = app.claim("w", 0).await.unwrap();
    assert_eq!(a.run_id, first);
    // The second run ends before it starts (as a per-run cancel or a dead-letter would do it):
    // the third must still wait for the first.
    sqlx::query("UPDATE runs SET status = 'canceled', finished_at = now() WHERE id = $1")
        .bind(second)
        .execute(&app.pool)
        .await
        .unwrap();
    assert!(
        app.claim("w", 0).await.is_none(),
        "a follow-up ran beside the active run"
    );
    let res = app
        .internal(
            &format!("/runs/{first}/fail"),
            json!({"worker_id": "w", "epoch": a.epoch, "error": "boom"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(app.claim("w", 0).await.unwrap().run_id, third);
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn a_follow_up_added_while_its_predecessor_finishes_is_never_stranded(pool: PgPool) {
    let app = Arc::new(TestApp::spawn(pool).await);
    let token = app.register("a@example.com").await;
    for round in 0..20 {
        let (session, run_id) = app.task(&token, &format!("head {round}"), None).await;
        let run = app.claim("w", 0).await.unwrap();
        assert_eq!(run.run_id, run_id);
        // Race the follow-up's creation against the head's completion.
        let add = {
            let app = app.clone();
            let token = token.clone();
            tokio::spawn(async move { app.task(&token, "follow-up", Some(session)).await.1 })
        };
        let res = app
            .internal(
                &format!("/runs/{run_id}/complete"),
                json!({"worker_id": "w", "epoch": run.epoch}),
            )
            .await;
        assert_eq!(res.status(), StatusCode::OK);
        let follow_up = add.await.unwrap();
        let next = app.claim("w", 2).await.expect("the follow-up is claimable");
        assert_eq!(next.run_id, follow_up);
        app.internal(
            &format!("/runs/{follow_up}/complete"),
            json!({"worker_id": "w", "epoch": next.epoch}),
        )
        .await;
    }
}

/// The fence's SQL form (used by start, heartbeat, complete and fail) and its Rust form (used by
/// event ingestion) admit exactly the same rows.
#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn the_fence_in_sql_and_in_rust_agree(pool: PgPool) {
    use backend::queue::fence::{Fence, HELD_BY_SQL};
    let sql = format!(
        "SELECT EXISTS (SELECT 1 FROM (VALUES ($4::uuid, $5::text, $6::bigint, $7::text))
                           AS runs (id, lease_holder, lease_epoch, status)
                         WHERE {HELD_BY_SQL})"
    );
    let run = Uuid::now_v7();
    let fence = Fence {
        worker: "w",
        epoch: 7,
    };
    let mut admitted = 0;
    for status in protocol::RunStatus::ALL {
        for holder in [Some("w"), Some("x"), None] {
            for epoch in [6, 7, 8] {
                for id in [run, Uuid::now_v7()] {
                    let in_sql: bool = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.clone()))
                        .bind(run)
                        .bind(fence.worker)
                        .bind(fence.epoch)
                        .bind(id)
                        .bind(holder)
                        .bind(epoch)
                        .bind(status.as_str())
                        .fetch_one(&pool)
                        .await
                        .unwrap();
                    let in_rust = id == run && fence.holds_lease(holder, epoch, status.as_str());
                    assert_eq!(in_sql, in_rust, "{status} {holder:?} {epoch} {}", id == run);
                    admitted += usize::from(in_sql);
                }
            }
        }
    }
    // Claimed, running, canceling: the worker's own epoch only.
    assert_eq!(admitted, 3);
}

/// Runs `run` on `worker` from claim to completion, with an export when `manifest` is given.
async fn run_to_end(
    app: &TestApp,
    run: &protocol::internal::ClaimedRun,
    worker: &str,
    manifest: Option<&str>,
) {
    let lease = json!({"worker_id": worker, "epoch": run.epoch});
    let res = app
        .internal(&format!("/runs/{}/start", run.run_id), lease.clone())
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    if let Some(key) = manifest {
        let res = app
            .internal(
                &format!("/runs/{}/export", run.run_id),
                json!({"worker_id": worker, "epoch": run.epoch, "status": "ready",
                       "manifest_key": key, "archive_key": key.replace("manifest.json", "archive.zip"),
                       "files": 1, "added": 1, "modified": 0, "unchanged": 0, "deleted": 0,
                       "uploaded_bytes": 3}),
            )
            .await;
        assert!(res.status().is_success(), "{}", res.status());
    }
    let res = app
        .internal(&format!("/runs/{}/complete", run.run_id), lease)
        .await;
    assert_eq!(res.status(), StatusCode::OK);
}

/// A session's next run is reserved for the manager that ran it last for
/// `SESSION_AFFINITY_SECONDS`, then any manager may take it; either way the claim says which run
/// the workspace must reflect and where that run's export is.
#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn a_follow_up_is_reserved_for_the_sessions_manager_then_open_to_all(pool: PgPool) {
    let app = TestApp::spawn_with(pool, &[("SESSION_AFFINITY_SECONDS", "2")]).await;
    let token = app.register("a@example.com").await;
    let (session, first) = app.task(&token, "first", None).await;
    let a = app.claim("manager-a", 0).await.unwrap();
    assert_eq!((a.run_id, a.workspace_source.clone()), (first, None));
    let key = format!("workspaces/{session}/runs/{first}/manifest.json");
    run_to_end(&app, &a, "manager-a", Some(&key)).await;

    // Queued after the session went idle: reserved for manager-a from now.
    let (_, second) = app.task(&token, "second", Some(session)).await;
    let queued = Instant::now();
    assert!(
        app.claim("manager-b", 0).await.is_none(),
        "reserved for manager-a"
    );
    // manager-b's long poll wakes when the reservation ends, not at the end of its wait.
    let b = app
        .claim("manager-b", 10)
        .await
        .expect("open to all after 2 s");
    let waited = queued.elapsed();
    assert!(
        waited >= Duration::from_millis(1800) && waited < Duration::from_secs(5),
        "{waited:?}"
    );
    assert_eq!(b.run_id, second);
    let source = b
        .workspace_source
        .clone()
        .expect("the first run is the source");
    assert_eq!(source.run_id, first);
    assert_eq!(source.worker_id.as_deref(), Some("manager-a"));
    assert_eq!(source.manifest_key.as_deref(), Some(key.as_str()));
    // Its export failed: the next run's source names the run, without a manifest.
    let res = app
        .internal(
            &format!("/runs/{second}/start"),
            json!({"worker_id": "manager-b", "epoch": b.epoch}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = app
        .internal(
            &format!("/runs/{second}/export"),
            json!({"worker_id": "manager-b", "epoch": b.epoch, "status": "failed",
                   "files": 0, "added": 0, "modified": 0, "unchanged": 0, "deleted": 0,
                   "uploaded_bytes": 0, "error": "store down"}),
        )
        .await;
    assert!(res.status().is_success());

    // Queued behind the active run: reserved for manager-b when it ends, and taken by it at once.
    let (_, third) = app.task(&token, "third", Some(session)).await;
    let res = app
        .internal(
            &format!("/runs/{second}/complete"),
            json!({"worker_id": "manager-b", "epoch": b.epoch}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        app.claim("manager-a", 0).await.is_none(),
        "reserved for manager-b"
    );
    let c = app
        .claim("manager-b", 0)
        .await
        .expect("the session's manager claims at once");
    assert_eq!(c.run_id, third);
    let source = c.workspace_source.expect("source");
    assert_eq!((source.run_id, source.manifest_key), (second, None));

    // Other sessions are never held back.
    let (_, other) = app.task(&token, "elsewhere", None).await;
    assert_eq!(app.claim("manager-a", 0).await.unwrap().run_id, other);
}

/// Deleting a session lists it in the managers' feed, from a cursor, with bad input refused.
#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn deleted_sessions_reach_the_managers_feed(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let token = app.register("a@example.com").await;
    let user = app.user_id("a@example.com").await;
    let mut sessions = Vec::new();
    for p in ["one", "two", "three"] {
        let (s, run) = app.task(&token, p, None).await;
        let c = app.claim("w", 0).await.unwrap();
        assert_eq!(c.run_id, run);
        run_to_end(&app, &c, "w", None).await;
        sessions.push(s);
    }
    let feed = |after: i64, limit: i64| {
        let url = app.url(&format!(
            "/api/v1/internal/deleted-sessions?after={after}&limit={limit}"
        ));
        async move {
            reqwest::Client::new()
                .get(url)
                .header(
                    protocol::internal::INTERNAL_TOKEN_HEADER,
                    common::INTERNAL_TOKEN,
                )
                .send()
                .await
                .unwrap()
        }
    };
    let empty: protocol::internal::DeletedSessions = feed(0, 10).await.json().await.unwrap();
    assert_eq!((empty.sessions.len(), empty.next), (0, 0));
    for s in &sessions[..2] {
        let res = app
            .send(
                &token,
                reqwest::Method::DELETE,
                &format!("/api/v1/sessions/{s}"),
                None,
            )
            .await;
        assert!(res.status().is_success(), "{}", res.status());
    }
    let page: protocol::internal::DeletedSessions = feed(0, 1).await.json().await.unwrap();
    assert_eq!(page.sessions.len(), 1);
    assert_eq!(
        (page.sessions[0].session_id, page.sessions[0].user_id),
        (sessions[0], user)
    );
    let rest: protocol::internal::DeletedSessions = feed(page.next, 10).await.json().await.unwrap();
    assert_eq!(rest.sessions.len(), 1);
    assert_eq!(rest.sessions[0].session_id, sessions[1]);
    let after: protocol::internal::DeletedSessions =
        feed(rest.next, 10).await.json().await.unwrap();
    assert_eq!((after.sessions.len(), after.next), (0, rest.next));
    for bad in ["after=-1", "limit=0", "limit=5000", "after=x", "cursor=3"] {
        let res = reqwest::Client::new()
            .get(app.url(&format!("/api/v1/internal/deleted-sessions?{bad}")))
            .header(
                protocol::internal::INTERNAL_TOKEN_HEADER,
                common::INTERNAL_TOKEN,
            )
            .send()
            .await
            .unwrap();
        // A malformed query is 400, a well-formed one out of range 422; both say why.
        let status = res.status();
        assert!(
            status == StatusCode::BAD_REQUEST || status == StatusCode::UNPROCESSABLE_ENTITY,
            "{bad}: {status}"
        );
        let body: Value = res.json().await.unwrap();
        assert!(body["error"]["message"].is_string(), "{bad}: {body}");
    }
    let res = reqwest::Client::new()
        .get(app.url("/api/v1/internal/deleted-sessions"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

/// `EXECUTOR_MANAGER_URL`: when the owner cancels a claimed run, the backend asks that manager at
/// once to heartbeat it (`POST …/api/v1/internal/runs/{id}/nudge` with the internal token).
#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn a_cancel_nudges_the_manager_named_by_executor_manager_url(pool: PgPool) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    // A stand-in manager: hands each request's head to the test and answers 202.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let manager = format!("http://{}", listener.local_addr().unwrap());
    let (tx, mut heads) = tokio::sync::mpsc::unbounded_channel::<String>();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match conn.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = tx.send(String::from_utf8_lossy(&head).into_owned());
                let _ = conn
                    .write_all(
                        b"HTTP/1.1 202 Accepted\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                    )
                    .await;
            });
        }
    });
    let app = TestApp::spawn_with(pool, &[("EXECUTOR_MANAGER_URL", &manager)]).await;
    let token = app.register("a@example.com").await;
    let (session, run) = app.task(&token, "work", None).await;
    app.claim("manager-1", 0).await.expect("claimable");
    assert!(heads.try_recv().is_err(), "nudged before any cancel");

    let asked = Instant::now();
    let res = app
        .post(
            &token,
            &format!("/api/v1/sessions/{session}/cancel"),
            json!({}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let head = tokio::time::timeout(Duration::from_secs(5), heads.recv())
        .await
        .expect("the manager was nudged")
        .unwrap();
    assert!(asked.elapsed() < Duration::from_secs(5));
    assert_eq!(
        head.lines().next().unwrap_or_default(),
        format!("POST /api/v1/internal/runs/{run}/nudge HTTP/1.1"),
        "{head}"
    );
    assert!(
        head.to_ascii_lowercase()
            .contains(&format!("x-internal-token: {}", common::INTERNAL_TOKEN)),
        "{head}"
    );
    assert_eq!(app.run_status(run).await, "canceling");
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn a_claim_of_several_runs_hands_out_the_oldest_each_once(pool: PgPool) {
    let app = Arc::new(TestApp::spawn(pool).await);
    let token = app.register("a@example.com").await;
    let mut created = Vec::new();
    for i in 0..40 {
        created.push(app.task(&token, &format!("task {i}"), None).await.1);
    }
    // A follow-up of the first session: not claimable while that session's run is active.
    let (first_session, _) = app.task(&token, "own session", None).await;
    let follow_up = app.task(&token, "follow-up", Some(first_session)).await.1;

    let claims = |max: u32| {
        let app = app.clone();
        async move {
            let res = app
                .internal(
                    "/runs/claims",
                    json!({"worker_id": "many", "lease_seconds": 60, "max_runs": max}),
                )
                .await;
            assert_eq!(res.status(), StatusCode::OK);
            let v: Value = res.json().await.unwrap();
            v["runs"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["run_id"].as_str().unwrap().parse::<Uuid>().unwrap())
                .collect::<Vec<_>>()
        }
    };
    let first = claims(16).await;
    assert_eq!(first, created[..16], "the 16 oldest, in queue order");
    // Two claimers at once split the rest without overlap.
    let (a, b) = tokio::join!(claims(16), claims(16));
    let mut rest: Vec<Uuid> = a.iter().chain(&b).copied().collect();
    assert_eq!(
        rest.len(),
        25,
        "24 of the first sessions and the own session's run"
    );
    assert!(
        !rest.contains(&follow_up),
        "a blocked follow-up was handed out"
    );
    rest.sort();
    rest.dedup();
    assert_eq!(rest.len(), 25, "a run was handed out twice");
    assert!(claims(16).await.is_empty(), "nothing is claimable now");
    let statuses: Vec<String> =
        sqlx::query_scalar("SELECT DISTINCT status FROM runs WHERE id <> $1")
            .bind(follow_up)
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(statuses, ["claimed"]);
    // The claim kept the sessions' status (it shows `claimed` as `running`).
    let statuses: Vec<String> = sqlx::query_scalar("SELECT DISTINCT status FROM sessions")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert_eq!(statuses, ["running"]);
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn a_claim_with_start_hands_out_running_runs(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let token = app.register("a@example.com").await;
    let (session, run) = app.task(&token, "go", None).await;
    let res = app
        .internal(
            "/runs/claims",
            json!({"worker_id": "w", "lease_seconds": 60, "max_runs": 4, "start": true}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["runs"].as_array().unwrap().len(), 1);
    let epoch = v["runs"][0]["epoch"].as_i64().unwrap();
    assert_eq!(app.run_status(run).await, "running");
    let (started, session_status): (Option<chrono::DateTime<chrono::Utc>>, String) =
        sqlx::query_as(
            "SELECT r.started_at, s.status FROM runs r JOIN sessions s ON s.id = r.session_id
              WHERE r.id = $1",
        )
        .bind(run)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(started.is_some(), "started_at is set by the claim");
    assert_eq!(session_status, "running");
    assert_eq!(
        session,
        v["runs"][0]["session_id"]
            .as_str()
            .unwrap()
            .parse::<Uuid>()
            .unwrap()
    );
    // A later start is harmless, as for a worker that calls it anyway.
    let res = app
        .internal(
            &format!("/runs/{run}/start"),
            json!({"worker_id": "w", "epoch": epoch}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(app.run_status(run).await, "running");
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn claims_refuse_numbers_out_of_range(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    for (path, max) in [
        ("/runs/claims", json!(0)),
        ("/runs/claims", json!(257)),
        ("/runs/claim", json!(2)),
    ] {
        let res = app
            .internal(
                path,
                json!({"worker_id": "w", "lease_seconds": 60, "max_runs": max}),
            )
            .await;
        assert_eq!(
            res.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{path} {max}"
        );
        assert_eq!(error_code(res).await, "validation_error");
    }
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn completions_end_the_held_runs_and_say_why_the_others_did_not(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let token = app.register("a@example.com").await;
    let mut runs = Vec::new();
    for i in 0..3 {
        let (_, run) = app.task(&token, &format!("t{i}"), None).await;
        runs.push(run);
    }
    let a = app.claim("w", 0).await.unwrap();
    let b = app.claim("w", 0).await.unwrap();
    let other = app.claim("other", 0).await.unwrap();
    let unknown = Uuid::new_v4();
    let res = app
        .internal(
            "/runs/completions",
            json!({"worker_id": "w", "runs": [
                {"run_id": a.run_id, "epoch": a.epoch},
                {"run_id": other.run_id, "epoch": other.epoch},
                {"run_id": unknown, "epoch": 1},
                {"run_id": b.run_id, "epoch": b.epoch, "outcome": "canceled"},
            ]}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let v: Value = res.json().await.unwrap();
    let r = v["results"].as_array().unwrap();
    assert_eq!(r.len(), 4);
    assert_eq!(r[0]["run_id"], json!(a.run_id));
    assert_eq!(r[0]["status"], "completed");
    assert_eq!(r[1]["error"]["code"], "lease_lost");
    assert!(r[1]["status"].is_null());
    assert_eq!(r[2]["error"]["code"], "not_found");
    assert_eq!(r[3]["status"], "canceled");
    assert_eq!(app.run_status(a.run_id).await, "completed");
    assert_eq!(app.run_status(other.run_id).await, "claimed");
    assert_eq!(app.run_status(b.run_id).await, "canceled");
    // The same again: nothing is held any more, so every one is refused, and nothing changes.
    let res = app
        .internal(
            "/runs/completions",
            json!({"worker_id": "w", "runs": [{"run_id": a.run_id, "epoch": a.epoch}]}),
        )
        .await;
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["results"][0]["error"]["code"], "lease_lost");

    for body in [
        json!({"worker_id": "w", "runs": []}),
        json!({"worker_id": "w", "runs": [
            {"run_id": other.run_id, "epoch": other.epoch},
            {"run_id": other.run_id, "epoch": other.epoch}]}),
    ] {
        let res = app.internal("/runs/completions", body).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(error_code(res).await, "validation_error");
    }
    assert_eq!(app.run_status(other.run_id).await, "claimed");
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn completions_ready_each_sessions_follow_up_for_its_manager_and_keep_the_sessions_status(
    pool: PgPool,
) {
    let app = TestApp::spawn_with(pool, &[("SESSION_AFFINITY_SECONDS", "60")]).await;
    let token = app.register("a@example.com").await;
    let mut sessions = Vec::new();
    for i in 0..3 {
        sessions.push(app.task(&token, &format!("t{i}"), None).await.0);
    }
    let mut held = Vec::new();
    for _ in 0..3 {
        let c = app.claim("w", 0).await.unwrap();
        let res = app
            .internal(
                &format!("/runs/{}/start", c.run_id),
                json!({"worker_id": "w", "epoch": c.epoch}),
            )
            .await;
        assert_eq!(res.status(), StatusCode::OK);
        held.push(c);
    }
    // Follow-ups behind two of the active runs: not claimable yet.
    let mut follow_ups = Vec::new();
    for &session in &sessions[..2] {
        follow_ups.push(app.task(&token, "next", Some(session)).await.1);
    }
    assert!(app.claim("w", 0).await.is_none());

    let runs: Vec<Value> = held
        .iter()
        .map(|c| json!({"run_id": c.run_id, "epoch": c.epoch}))
        .collect();
    let res = app
        .internal("/runs/completions", json!({"worker_id": "w", "runs": runs}))
        .await;
    assert_eq!(res.status(), StatusCode::OK);

    let status = |session: Uuid| {
        sqlx::query_scalar::<_, String>("SELECT status FROM sessions WHERE id = $1")
            .bind(session)
            .fetch_one(&app.pool)
    };
    assert_eq!(status(sessions[0]).await.unwrap(), "queued");
    assert_eq!(status(sessions[1]).await.unwrap(), "queued");
    assert_eq!(status(sessions[2]).await.unwrap(), "completed");
    // Both follow-ups are ready, reserved for the manager whose runs changed the workspaces.
    assert!(app.claim("other", 0).await.is_none(), "reserved for w");
    let mut next = vec![
        app.claim("w", 0).await.unwrap().run_id,
        app.claim("w", 0).await.unwrap().run_id,
    ];
    next.sort();
    follow_ups.sort();
    assert_eq!(next, follow_ups);
    assert_eq!(status(sessions[0]).await.unwrap(), "running");
}
