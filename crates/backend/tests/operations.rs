//! Operations: metrics, request ids, health, rate limits, login throttling, dead-lettered runs and
//! their retry, retention.

mod common;

use std::time::Duration;

use common::{TestApp, error_code, text_batch};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;
use test_support::s3::S3Server;
use uuid::Uuid;

/// The value of one exact series (`name{labels}`) in a Prometheus text, 0 when absent.
fn series(text: &str, name_and_labels: &str) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| {
            let (k, v) = l.rsplit_once(' ')?;
            (k == name_and_labels).then(|| v.parse().ok())?
        })
        .unwrap_or(0.0)
}

async fn metrics(app: &TestApp) -> String {
    let res = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    res.text().await.unwrap()
}

/// The metrics once `ready` holds for them (run observations are recorded off the response
/// path); the last text after 5 s otherwise, for the caller's assertion to show.
async fn metrics_when(app: &TestApp, ready: impl Fn(&str) -> bool) -> String {
    let mut text = metrics(app).await;
    for _ in 0..100 {
        if ready(&text) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        text = metrics(app).await;
    }
    text
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn metrics_move_during_a_run_and_never_carry_ids(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let token = app.register("m@example.com").await;
    let before = metrics(&app).await;
    let (_session, run) = app.task(&token, "hello", None).await;
    assert_eq!(
        app.get(&token, &format!("/api/v1/runs/{run}"))
            .await
            .status(),
        StatusCode::OK
    );

    let queued = metrics(&app).await;
    assert!(
        series(&queued, r#"workcell_runs{state="queued"}"#) >= 1.0,
        "{queued}"
    );

    let claimed = app.claim("w-metrics", 5).await.expect("a run");
    let lease = json!({"worker_id": "w-metrics", "epoch": claimed.epoch});
    assert_eq!(
        app.internal(&format!("/runs/{run}/start"), lease.clone())
            .await
            .status(),
        StatusCode::OK
    );
    let running = metrics(&app).await;
    assert!(
        series(&running, r#"workcell_runs{state="running"}"#) >= 1.0,
        "{running}"
    );
    let res = app
        .internal(
            &format!("/runs/{run}/events"),
            text_batch("w-metrics", claimed.epoch, 1, 3),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = app.internal(&format!("/runs/{run}/complete"), lease).await;
    assert_eq!(res.status(), StatusCode::OK);

    // A WebSocket is counted while it is open.
    let ws_url = format!("ws://{}/api/v1/ws", app.addr);
    let (ws, _) = tokio_tungstenite::connect_async(ws_url.as_str())
        .await
        .expect("ws");
    let mut counted = false;
    for _ in 0..40 {
        if series(&metrics(&app).await, "workcell_websocket_connections") >= 1.0 {
            counted = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(counted, "the open WebSocket was not counted");
    drop(ws);

    let done = r#"workcell_run_duration_seconds_count{status="completed"}"#;
    let after = metrics_when(&app, |t| series(t, done) > series(&before, done)).await;
    let moved = |name: &str| series(&after, name) - series(&before, name);
    assert!(moved("workcell_events_ingested_total") >= 3.0, "{after}");
    assert!(
        moved(r#"workcell_runs_finished_total{status="completed"}"#) >= 1.0,
        "{after}"
    );
    assert!(
        moved("workcell_run_queue_wait_seconds_count") >= 1.0,
        "{after}"
    );
    assert!(
        moved(r#"workcell_run_duration_seconds_count{status="completed"}"#) >= 1.0,
        "{after}"
    );
    assert!(
        moved(r#"workcell_http_requests_total{method="POST",route="/api/v1/tasks",status="201"}"#)
            >= 1.0,
        "{after}"
    );
    assert!(
        moved(
            r#"workcell_http_requests_total{method="GET",route="/api/v1/runs/{id}",status="200"}"#
        ) >= 1.0,
        "{after}"
    );
    assert!(
        moved(
            r#"workcell_http_requests_total{method="POST",route="/api/v1/internal/runs/{id}/events",status="200"}"#
        ) >= 1.0,
        "{after}"
    );
    // No label carries an id or a raw path.
    assert!(!after.contains(&run.to_string()), "a run id in the metrics");
    assert!(!after.contains("m@example.com"));
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn metrics_can_require_a_token(pool: PgPool) {
    let app = TestApp::spawn_with(pool, &[("METRICS_TOKEN", "metrics-secret-123")]).await;
    let res = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(res).await, "unauthorized");
    let res = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth("metrics-secret-123")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.text().await.unwrap().contains("workcell_"));
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn request_ids_are_kept_made_and_sanitised(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let res = app
        .client
        .get(app.url("/health"))
        .header("x-request-id", "trace-abc_123")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-request-id"], "trace-abc_123");
    let res = app.client.get(app.url("/health")).send().await.unwrap();
    let made = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert!(made.parse::<Uuid>().is_ok(), "{made}");
    let res = app
        .client
        .get(app.url("/nope"))
        .header("x-request-id", "evil\"}{injected")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let replaced = res.headers()["x-request-id"].to_str().unwrap();
    assert!(replaced.parse::<Uuid>().is_ok(), "{replaced}");
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn ready_names_the_database_when_it_is_gone(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let res = app
        .client
        .get(app.url("/health/ready"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let live = app
        .client
        .get(app.url("/health/live"))
        .send()
        .await
        .unwrap();
    assert_eq!(live.status(), StatusCode::OK);
    // The backend's connections to PostgreSQL go away for good.
    pool.close().await;
    let res = app
        .client
        .get(app.url("/health/ready"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["status"], "not ready");
    assert!(
        body["errors"][0].as_str().unwrap().starts_with("database"),
        "{body}"
    );
    // Liveness does not depend on the database.
    let live = app
        .client
        .get(app.url("/health/live"))
        .send()
        .await
        .unwrap();
    assert_eq!(live.status(), StatusCode::OK);
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn a_burst_gets_429_with_retry_after_per_user_and_per_ip(pool: PgPool) {
    let app = TestApp::spawn_with(
        pool,
        &[
            ("RATE_LIMIT_PER_MINUTE", "60"),
            ("RATE_LIMIT_BURST", "5"),
            ("RATE_LIMIT_IP_PER_MINUTE", "600"),
            ("RATE_LIMIT_IP_BURST", "12"),
        ],
    )
    .await;
    let token = app.register("burst@example.com").await;
    let mut limited = None;
    for _ in 0..8 {
        let res = app.get(&token, "/api/v1/auth/me").await;
        if res.status() == StatusCode::TOO_MANY_REQUESTS {
            limited = Some(res);
            break;
        }
        assert_eq!(res.status(), StatusCode::OK);
    }
    let res = limited.expect("the user's burst was limited");
    let retry: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    assert_eq!(error_code(res).await, "rate_limited");

    // The per-IP bucket (12, of which 1 register + 6 above are used) stops anonymous requests too.
    let mut ip_limited = false;
    for _ in 0..12 {
        let res = app
            .client
            .get(app.url("/api/v1/auth/me"))
            .send()
            .await
            .unwrap();
        if res.status() == StatusCode::TOO_MANY_REQUESTS {
            assert!(res.headers().contains_key("retry-after"));
            ip_limited = true;
            break;
        }
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    assert!(ip_limited, "the address was never limited");
    // Health and metrics stay reachable for probes.
    let res = app
        .client
        .get(app.url("/health/ready"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn password_guessing_is_locked_out(pool: PgPool) {
    let app = TestApp::spawn_with(
        pool,
        &[
            ("LOGIN_MAX_FAILURES", "3"),
            ("LOGIN_LOCKOUT_SECONDS", "120"),
        ],
    )
    .await;
    app.register("victim@example.com").await;
    app.register("other@example.com").await;
    let login = |email: &'static str, password: &'static str| {
        let app = &app;
        async move {
            app.client
                .post(app.url("/api/v1/auth/login"))
                .json(&json!({"email": email, "password": password}))
                .send()
                .await
                .unwrap()
        }
    };
    for _ in 0..3 {
        assert_eq!(
            login("victim@example.com", "guess-guess").await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    // Locked: even the right password is refused until the lockout ends.
    let res = login("VICTIM@example.com", "password-123").await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((100..=120).contains(&retry), "{retry}");
    assert_eq!(error_code(res).await, "rate_limited");
    // Another account from the same address is not locked by it.
    assert_eq!(
        login("other@example.com", "password-123").await.status(),
        StatusCode::OK
    );
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn a_dead_lettered_run_shows_its_errors_and_is_retried_to_completion(pool: PgPool) {
    let app = TestApp::spawn_with(pool, &[("RUN_MAX_ATTEMPTS", "2")]).await;
    let token = app.register("dl@example.com").await;
    let stranger = app.register("stranger@example.com").await;
    let before = metrics(&app).await;
    let (_, run) = app.task(&token, "flaky", None).await;

    // Not failed yet: no retry.
    let res = app
        .post(&token, &format!("/api/v1/runs/{run}/retry"), json!({}))
        .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert_eq!(error_code(res).await, "not_retryable");

    for attempt in 1..=2 {
        let c = app.claim("w-dl", 5).await.expect("claimable");
        assert_eq!(c.run_id, run);
        let res = app
            .internal(
                &format!("/runs/{run}/fail"),
                json!({"worker_id": "w-dl", "epoch": c.epoch,
                       "error": format!("worker crashed on attempt {attempt}"), "retryable": true}),
            )
            .await;
        assert_eq!(res.status(), StatusCode::OK);
    }
    let view: Value = app
        .get(&token, &format!("/api/v1/runs/{run}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(view["status"], "failed");
    assert!(view["dead_lettered_at"].is_string(), "{view}");
    let errors = view["attempt_errors"].as_array().unwrap();
    assert_eq!(errors.len(), 2, "{view}");
    assert_eq!(errors[0]["attempt"], 1);
    assert_eq!(errors[0]["error"], "worker crashed on attempt 1");
    assert_eq!(errors[1]["attempt"], 2);
    assert!(errors[1]["at"].is_string());

    // Another user's run does not exist for them.
    let res = app
        .post(&stranger, &format!("/api/v1/runs/{run}/retry"), json!({}))
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let res = app
        .post(
            &token,
            &format!("/api/v1/runs/{}/retry", Uuid::new_v4()),
            json!({}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);

    let res = app
        .post(&token, &format!("/api/v1/runs/{run}/retry"), json!({}))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let view: Value = res.json().await.unwrap();
    assert_eq!(view["status"], "queued");
    assert_eq!(view["attempts"], 0);
    assert!(view["dead_lettered_at"].is_null());
    assert_eq!(
        view["attempt_errors"].as_array().unwrap().len(),
        2,
        "history is kept"
    );

    let c = app.claim("w-dl", 5).await.expect("re-queued");
    assert_eq!((c.run_id, c.attempt), (run, 1));
    let lease = json!({"worker_id": "w-dl", "epoch": c.epoch});
    assert_eq!(
        app.internal(&format!("/runs/{run}/start"), lease.clone())
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        app.internal(&format!("/runs/{run}/complete"), lease)
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(app.run_status(run).await, "completed");
    let res = app
        .post(&token, &format!("/api/v1/runs/{run}/retry"), json!({}))
        .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);

    let dl = "workcell_runs_dead_lettered_total";
    let after = metrics_when(&app, |t| series(t, dl) > series(&before, dl)).await;
    let moved = |n: &str| series(&after, n) - series(&before, n);
    assert!(moved(dl) >= 1.0, "{after}");
    assert!(moved("workcell_runs_retried_total") >= 1.0, "{after}");
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn a_lease_expiry_on_the_last_attempt_dead_letters(pool: PgPool) {
    let app = TestApp::spawn_with(pool, &[("RUN_MAX_ATTEMPTS", "1")]).await;
    let token = app.register("exp@example.com").await;
    let (_, run) = app.task(&token, "lost", None).await;
    app.claim_lease("w-gone", 5, 5).await.expect("claimable");
    // The reaper (every second) settles the run once its 5 s lease runs out.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        if app.run_status(run).await == "failed" {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "never reaped");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let view: Value = app
        .get(&token, &format!("/api/v1/runs/{run}"))
        .await
        .json()
        .await
        .unwrap();
    assert!(view["dead_lettered_at"].is_string(), "{view}");
    assert!(
        view["attempt_errors"][0]["error"]
            .as_str()
            .unwrap()
            .contains("lease expired"),
        "{view}"
    );
}

// ---- retention ----

/// A user with sessions in every state retention must tell apart.
struct World {
    old_finished: Uuid,
    old_active: Uuid,
    recent_finished: Uuid,
    old_with_objects: Uuid,
    old_but_recent_run: Uuid,
}

async fn session_with_run(pool: &PgPool, user: Uuid, status: &str, events: i64) -> (Uuid, Uuid) {
    let session = Uuid::new_v4();
    let run = Uuid::new_v4();
    sqlx::query("INSERT INTO sessions (id, user_id, title) VALUES ($1, $2, 't')")
        .bind(session)
        .bind(user)
        .execute(pool)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO runs (id, session_id, prompt, max_attempts, status, finished_at)
         VALUES ($1, $2, 'p', 3, $3, CASE WHEN $3 IN ('completed', 'failed', 'canceled') THEN now() END)",
    )
    .bind(run)
    .bind(session)
    .bind(status)
    .execute(pool)
    .await
    .unwrap();
    for seq in 1..=events {
        sqlx::query(
            "INSERT INTO events (session_id, seq, run_id, epoch, run_seq, type, payload, time)
             VALUES ($1, $2, $3, 1, $2, 'assistant_text', '{}'::jsonb, now())",
        )
        .bind(session)
        .bind(seq)
        .bind(run)
        .execute(pool)
        .await
        .unwrap();
    }
    (session, run)
}

/// Moves a session and its runs and events `days` into the past.
async fn age(pool: &PgPool, session: Uuid, days: i32) {
    for sql in [
        "UPDATE sessions SET created_at = created_at - make_interval(days => $2),
                             updated_at = updated_at - make_interval(days => $2) WHERE id = $1",
        "UPDATE runs SET created_at = created_at - make_interval(days => $2),
                         finished_at = finished_at - make_interval(days => $2) WHERE session_id = $1",
        "UPDATE events SET stored_at = stored_at - make_interval(days => $2) WHERE session_id = $1",
    ] {
        sqlx::query(sql).bind(session).bind(days).execute(pool).await.unwrap();
    }
}

async fn world(pool: &PgPool) -> World {
    let user: Uuid = backend::auth::ensure_local_user(pool).await.unwrap();
    let (old_finished, _) = session_with_run(pool, user, "completed", 3).await;
    age(pool, old_finished, 40).await;
    let (old_active, _) = session_with_run(pool, user, "completed", 2).await;
    age(pool, old_active, 40).await;
    // A follow-up queued now, in a session whose history is old.
    sqlx::query(
        "INSERT INTO runs (id, session_id, prompt, max_attempts, status, created_at)
                 VALUES ($1, $2, 'p', 3, 'queued', now() - interval '40 days')",
    )
    .bind(Uuid::new_v4())
    .bind(old_active)
    .execute(pool)
    .await
    .unwrap();
    let (recent_finished, _) = session_with_run(pool, user, "failed", 4).await;
    age(pool, recent_finished, 5).await;
    let (old_with_objects, run) = session_with_run(pool, user, "completed", 1).await;
    sqlx::query(
        "INSERT INTO run_exports (run_id, epoch, status, manifest_key) VALUES ($1, 1, 'ready', $2)",
    )
    .bind(run)
    .bind(format!(
        "workspaces/{old_with_objects}/runs/{run}/manifest.json"
    ))
    .execute(pool)
    .await
    .unwrap();
    age(pool, old_with_objects, 40).await;
    let (old_but_recent_run, _) = session_with_run(pool, user, "completed", 1).await;
    age(pool, old_but_recent_run, 40).await;
    sqlx::query("UPDATE runs SET finished_at = now() - interval '1 day' WHERE session_id = $1")
        .bind(old_but_recent_run)
        .execute(pool)
        .await
        .unwrap();
    World {
        old_finished,
        old_active,
        recent_finished,
        old_with_objects,
        old_but_recent_run,
    }
}

async fn sessions_left(pool: &PgPool) -> Vec<Uuid> {
    sqlx::query_scalar("SELECT id FROM sessions WHERE title = 't' ORDER BY id")
        .fetch_all(pool)
        .await
        .unwrap()
}

async fn events_of(pool: &PgPool, session: Uuid) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM events WHERE session_id = $1")
        .bind(session)
        .fetch_one(pool)
        .await
        .unwrap()
}

fn policy(events_days: u32, sessions_days: u32, batch: u32) -> backend::retention::Policy {
    backend::retention::Policy {
        events_days,
        sessions_days,
        interval: Duration::from_secs(3600),
        batch,
    }
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn session_retention_deletes_exactly_the_old_inactive_sessions(pool: PgPool) {
    let w = world(&pool).await;
    let stop = tokio_util::sync::CancellationToken::new();
    // Batches of one: the job must loop until nothing is left.
    let d = backend::retention::run_once(&pool, policy(0, 30, 1), None, &stop)
        .await
        .unwrap();
    assert_eq!(d.sessions, 1);
    assert_eq!(d.events, 0);
    let mut expected = vec![
        w.old_active,
        w.recent_finished,
        w.old_with_objects,
        w.old_but_recent_run,
    ];
    expected.sort();
    assert_eq!(sessions_left(&pool).await, expected);
    // Gone with everything in it.
    let runs: i64 = sqlx::query_scalar("SELECT count(*) FROM runs WHERE session_id = $1")
        .bind(w.old_finished)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!((runs, events_of(&pool, w.old_finished).await), (0, 0));
    // Untouched sessions keep their events.
    assert_eq!(events_of(&pool, w.old_active).await, 2);
    assert_eq!(events_of(&pool, w.old_with_objects).await, 1);
    // A second pass finds nothing more.
    let d = backend::retention::run_once(&pool, policy(0, 30, 1), None, &stop)
        .await
        .unwrap();
    assert_eq!(d.sessions, 0);
    // Zero keeps everything.
    let d = backend::retention::run_once(&pool, policy(0, 0, 10), None, &stop)
        .await
        .unwrap();
    assert_eq!(d, backend::retention::Deleted::default());
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn event_retention_deletes_old_events_outside_active_sessions_in_batches(pool: PgPool) {
    let w = world(&pool).await;
    // A recent event in the old finished session stays.
    let run: Uuid = sqlx::query_scalar("SELECT id FROM runs WHERE session_id = $1")
        .bind(w.old_finished)
        .fetch_one(&pool)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO events (session_id, seq, run_id, epoch, run_seq, type, payload, time)
         VALUES ($1, 99, $2, 2, 1, 'assistant_text', '{}'::jsonb, now())",
    )
    .bind(w.old_finished)
    .bind(run)
    .execute(&pool)
    .await
    .unwrap();
    let stop = tokio_util::sync::CancellationToken::new();
    let d = backend::retention::run_once(&pool, policy(30, 0, 2), None, &stop)
        .await
        .unwrap();
    // old_finished: 3 old (deleted) + 1 new; old_with_objects: 1; old_but_recent_run: 1 (events old).
    assert_eq!(d.events, 5);
    assert_eq!(events_of(&pool, w.old_finished).await, 1);
    assert_eq!(events_of(&pool, w.old_with_objects).await, 0);
    assert_eq!(events_of(&pool, w.old_but_recent_run).await, 0);
    assert_eq!(
        events_of(&pool, w.old_active).await,
        2,
        "an active session is never touched"
    );
    assert_eq!(events_of(&pool, w.recent_finished).await, 4);
    assert_eq!(
        sessions_left(&pool).await.len(),
        5,
        "event retention deletes no session"
    );
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn a_public_request_that_takes_too_long_is_abandoned(pool: PgPool) {
    let app = TestApp::spawn_with(pool.clone(), &[("REQUEST_TIMEOUT_SECONDS", "1")]).await;
    let token = app.register("slow@example.com").await;
    let (session, _) = app.task(&token, "first", None).await;
    // Another transaction holds the session's row lock: a follow-up waits for it.
    let mut tx = pool.begin().await.unwrap();
    sqlx::query("SELECT 1 FROM sessions WHERE id = $1 FOR UPDATE")
        .bind(session)
        .execute(&mut *tx)
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let res = app
        .post(
            &token,
            "/api/v1/tasks",
            json!({"prompt": "follow-up", "session_id": session}),
        )
        .await;
    let waited = started.elapsed();
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(error_code(res).await, "timeout");
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_secs(5),
        "{waited:?}"
    );
    tx.rollback().await.unwrap();
    // The WebSocket is not subject to the timeout: past it, it still answers.
    use futures::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{}/api/v1/ws", app.addr))
        .await
        .expect("ws");
    let next_text = async |ws: &mut tokio_tungstenite::WebSocketStream<_>| -> Value {
        loop {
            let msg = tokio::time::timeout(Duration::from_secs(5), ws.next())
                .await
                .expect("an answer")
                .expect("open")
                .expect("a frame");
            if let Message::Text(t) = msg {
                return serde_json::from_str(&t).unwrap();
            }
        }
    };
    ws.send(Message::Text(
        json!({"type": "auth", "token": token}).to_string().into(),
    ))
    .await
    .unwrap();
    assert_eq!(next_text(&mut ws).await["type"], "ready");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    ws.send(Message::Text(
        json!({"type": "subscribe", "session_id": session})
            .to_string()
            .into(),
    ))
    .await
    .unwrap();
    let mut subscribed = false;
    for _ in 0..10 {
        if next_text(&mut ws).await["type"] == "subscribed" {
            subscribed = true;
            break;
        }
    }
    assert!(subscribed);
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn session_retention_deletes_the_sessions_objects_and_nothing_else(pool: PgPool) {
    let s3 = S3Server::start().await;
    let settings = backend::config::Settings::from_vars(
        [
            ("DATABASE_URL", "postgres://unused/db".to_owned()),
            ("SECRET_KEY", "test-secret-key-0123456789abcdef".to_owned()),
            (
                "INTERNAL_API_TOKEN",
                "test-internal-token-0123456789".to_owned(),
            ),
        ]
        .into_iter()
        .chain(s3.vars())
        .map(|(k, v)| (k.to_owned(), v)),
    )
    .unwrap();
    let store = objstore::Bucket::new(&settings.s3());
    let w = world(&pool).await;
    let keys = |s: Uuid| {
        vec![
            format!("workspaces/{s}/latest.json"),
            format!("workspaces/{s}/runs/r1/manifest.json"),
            format!("workspaces/{s}/runs/r1/files/a/b.txt"),
        ]
    };
    for s in [w.old_with_objects, w.old_active] {
        for k in keys(s) {
            store.put(&k, "text/plain", &b"x"[..]).await.unwrap();
        }
    }
    let list =
        async |s: Uuid| -> usize { store.list(&format!("workspaces/{s}/")).await.unwrap().len() };
    assert_eq!(list(w.old_with_objects).await, 3);

    let stop = tokio_util::sync::CancellationToken::new();
    let d = backend::retention::run_once(&pool, policy(0, 30, 10), Some(&store), &stop)
        .await
        .unwrap();
    // The old finished session and, now that its objects can go, the one with an export.
    assert_eq!(d.sessions, 2);
    assert_eq!(list(w.old_with_objects).await, 0);
    assert_eq!(
        list(w.old_active).await,
        3,
        "an active session's objects stay"
    );
    let left = sessions_left(&pool).await;
    assert!(!left.contains(&w.old_with_objects) && left.contains(&w.old_active));

    // When the store fails, the session is kept for the next pass.
    let (kept, run) = session_with_run(
        &pool,
        backend::auth::ensure_local_user(&pool).await.unwrap(),
        "completed",
        0,
    )
    .await;
    sqlx::query("INSERT INTO run_exports (run_id, epoch, status) VALUES ($1, 1, 'ready')")
        .bind(run)
        .execute(&pool)
        .await
        .unwrap();
    age(&pool, kept, 40).await;
    drop(s3);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let d = backend::retention::run_once(&pool, policy(0, 30, 10), Some(&store), &stop)
        .await
        .unwrap();
    assert_eq!(d.sessions, 0);
    assert!(sessions_left(&pool).await.contains(&kept));
}

/// The retention job as the backend runs it, driven by its settings: by default (both ages 0)
/// nothing goes; with `RETENTION_SESSIONS_DAYS` and `RETENTION_EVENTS_DAYS` at 30 the old
/// inactive sessions and the old events of a still active session go, in batches of
/// `RETENTION_BATCH_SIZE` = 1 until none is left; `RETENTION_INTERVAL_SECONDS` = 1 repeats the
/// pass, so a session that became old after the first pass goes too.
#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn the_retention_settings_drive_the_backends_job(pool: PgPool) {
    let user = backend::auth::ensure_local_user(&pool).await.unwrap();
    let (old_a, _) = session_with_run(&pool, user, "completed", 3).await;
    age(&pool, old_a, 40).await;
    let (old_b, _) = session_with_run(&pool, user, "failed", 1).await;
    age(&pool, old_b, 40).await;
    let (recent, _) = session_with_run(&pool, user, "completed", 4).await;
    age(&pool, recent, 5).await;
    // Old events in a session a recent run keeps.
    let (kept, _) = session_with_run(&pool, user, "completed", 2).await;
    age(&pool, kept, 40).await;
    sqlx::query("UPDATE runs SET finished_at = now() - interval '1 day' WHERE session_id = $1")
        .bind(kept)
        .execute(&pool)
        .await
        .unwrap();

    // The defaults keep everything (the job's first pass runs at start-up).
    let app = TestApp::spawn(pool.clone()).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(sessions_left(&pool).await.len(), 4);
    assert_eq!(events_of(&pool, kept).await, 2);
    drop(app);

    let _app = TestApp::spawn_with(
        pool.clone(),
        &[
            ("RETENTION_SESSIONS_DAYS", "30"),
            ("RETENTION_EVENTS_DAYS", "30"),
            ("RETENTION_BATCH_SIZE", "1"),
            ("RETENTION_INTERVAL_SECONDS", "1"),
        ],
    )
    .await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let left = sessions_left(&pool).await;
        if !left.contains(&old_a) && !left.contains(&old_b) && events_of(&pool, kept).await == 0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "retention did not run: {left:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut expected = vec![recent, kept];
    expected.sort();
    assert_eq!(sessions_left(&pool).await, expected);
    assert_eq!(events_of(&pool, recent).await, 4);

    // A later pass, one interval on.
    let (later, _) = session_with_run(&pool, user, "completed", 1).await;
    age(&pool, later, 40).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while sessions_left(&pool).await.contains(&later) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no pass after the first"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
