//! Input requests: their state from the run's events, the owner's answer, its effects on the
//! session and the next claim, and the manager's answer long-poll.

mod common;

use std::time::{Duration, Instant};

use chrono::Utc;
use common::{TestApp, error_code};
use protocol::internal::ClaimedRun;
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

/// An `input_request` event.
fn request_event(seq: i64, id: Uuid, kind: &str, tool: &str, expires_in_secs: i64) -> Value {
    let mut payload = json!({
        "request_id": id, "kind": kind, "tool_name": tool,
        "input": {"command": "echo hi > a.txt"},
        "expires_at": Utc::now() + chrono::Duration::seconds(expires_in_secs),
    });
    if kind == "question" {
        payload["questions"] =
            json!([{"question": "Which color?", "options": [{"label": "Blue"}, {"label": "Red"}]}]);
        payload["input"] = json!({"questions": []});
    }
    if kind == "plan" {
        payload["plan"] = json!("1. write a.txt");
        payload["input"] = json!({});
    }
    json!({"run_seq": seq, "time": Utc::now(), "type": "input_request", "payload": payload})
}

/// An `input_answer` event the executor reports (expiry or cancel).
fn outcome_event(seq: i64, id: Uuid, outcome: &str) -> Value {
    json!({"run_seq": seq, "time": Utc::now(), "type": "input_answer", "payload": {
        "request_id": id, "outcome": outcome, "decision": "deny",
        "message": "nobody answered", "answered_at": Utc::now()}})
}

async fn send(app: &TestApp, run: &ClaimedRun, worker: &str, events: Vec<Value>) {
    let res = app
        .internal(
            &format!("/runs/{}/events", run.run_id),
            json!({"worker_id": worker, "epoch": run.epoch, "events": events}),
        )
        .await;
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "{}",
        res.text().await.unwrap()
    );
}

async fn answer(app: &TestApp, token: &str, id: Uuid, body: Value) -> Response {
    app.post(token, &format!("/api/v1/input-requests/{id}/answer"), body)
        .await
}

async fn requests(app: &TestApp, token: &str, session: Uuid, query: &str) -> Vec<Value> {
    let res = app
        .get(
            token,
            &format!("/api/v1/sessions/{session}/input-requests{query}"),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let v: Value = res.json().await.unwrap();
    v["requests"].as_array().unwrap().clone()
}

async fn status_of(app: &TestApp, id: Uuid) -> String {
    sqlx::query_scalar("SELECT status FROM input_requests WHERE id = $1")
        .bind(id)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

async fn session_view(app: &TestApp, token: &str, session: Uuid) -> Value {
    let v: Value = app
        .get(token, &format!("/api/v1/sessions/{session}"))
        .await
        .json()
        .await
        .unwrap();
    v
}

async fn poll(
    app: &TestApp,
    run: &ClaimedRun,
    worker: &str,
    epoch: i64,
    wait: u32,
    delivered: &[Uuid],
) -> Response {
    app.internal(
        &format!("/runs/{}/input-answers", run.run_id),
        json!({"worker_id": worker, "epoch": epoch, "wait_seconds": wait, "delivered": delivered}),
    )
    .await
}

/// A user with a claimed run: (token, session, run).
async fn running(app: &TestApp, email: &str) -> (String, Uuid, ClaimedRun) {
    let token = app.register(email).await;
    let (session, _) = app.task(&token, "work", None).await;
    let run = app.claim("w", 0).await.expect("a run");
    (token, session, run)
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn the_state_follows_the_events(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (token, session, run) = running(&app, "a@example.com").await;
    let [a, b, c, d] = [(); 4].map(|_| Uuid::new_v4());

    let first = vec![request_event(1, a, "permission", "Bash", 300)];
    send(&app, &run, "w", first.clone()).await;
    // Delivered again, and the same request id in a later event: stored once.
    send(&app, &run, "w", first).await;
    send(
        &app,
        &run,
        "w",
        vec![request_event(2, a, "permission", "Bash", 300)],
    )
    .await;
    let pending = requests(&app, &token, session, "?status=pending").await;
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0]["id"], json!(a));
    assert_eq!(pending[0]["run_id"], json!(run.run_id));
    assert_eq!(pending[0]["request"]["tool_name"], "Bash");
    assert_eq!(pending[0]["answer"], Value::Null);
    assert_eq!(
        session_view(&app, &token, session).await["pending_inputs"],
        1
    );

    send(
        &app,
        &run,
        "w",
        vec![
            request_event(3, b, "question", "AskUserQuestion", 300),
            request_event(4, c, "plan", "ExitPlanMode", 300),
            outcome_event(5, a, "expired"),
            outcome_event(6, b, "canceled"),
        ],
    )
    .await;
    assert_eq!(status_of(&app, a).await, "expired");
    assert_eq!(status_of(&app, b).await, "canceled");
    let res = answer(&app, &token, c, json!({"decision": "allow"})).await;
    assert_eq!(res.status(), StatusCode::OK);
    // An expiry reported after the answer leaves it answered.
    send(&app, &run, "w", vec![outcome_event(7, c, "expired")]).await;
    assert_eq!(status_of(&app, c).await, "answered");

    // The terminal event cancels what is still pending.
    send(
        &app,
        &run,
        "w",
        vec![
            request_event(8, d, "permission", "Write", 300),
            json!({"run_seq": 9, "time": Utc::now(), "type": "completed", "payload": {}}),
        ],
    )
    .await;
    assert_eq!(status_of(&app, d).await, "canceled");
    let all = requests(&app, &token, session, "").await;
    let ids: Vec<&Value> = all.iter().map(|r| &r["id"]).collect();
    assert_eq!(
        ids,
        [&json!(a), &json!(b), &json!(c), &json!(d)],
        "oldest first"
    );
    assert_eq!(all[3]["answer"]["outcome"], "canceled");
    assert_eq!(all[3]["answer"]["request_id"], json!(d));
    assert_eq!(
        requests(&app, &token, session, "?status=answered")
            .await
            .len(),
        1
    );
    assert_eq!(
        session_view(&app, &token, session).await["pending_inputs"],
        0
    );
    let bad = app
        .get(
            &token,
            &format!("/api/v1/sessions/{session}/input-requests?status=maybe"),
        )
        .await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn a_request_id_of_another_run_is_ignored(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (_, _, run1) = running(&app, "a@example.com").await;
    let (_, _, run2) = running(&app, "b@example.com").await;
    let id = Uuid::new_v4();
    send(
        &app,
        &run1,
        "w",
        vec![request_event(1, id, "permission", "Bash", 300)],
    )
    .await;
    send(
        &app,
        &run2,
        "w",
        vec![request_event(1, id, "permission", "Bash", 300)],
    )
    .await;
    let owner: Uuid = sqlx::query_scalar("SELECT run_id FROM input_requests WHERE id = $1")
        .bind(id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(owner, run1.run_id);
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn answers_are_checked_decided_once_and_refused_when_over(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (token, _, run) = running(&app, "a@example.com").await;
    let other = app.register("b@example.com").await;
    let [p, q, plan, late] = [(); 4].map(|_| Uuid::new_v4());
    send(
        &app,
        &run,
        "w",
        vec![
            request_event(1, p, "permission", "Bash", 300),
            request_event(2, q, "question", "AskUserQuestion", 300),
            request_event(3, plan, "plan", "ExitPlanMode", 300),
            request_event(4, late, "permission", "Bash", -1),
        ],
    )
    .await;

    // Another user's request does not exist for them.
    let res = answer(&app, &other, p, json!({"decision": "allow"})).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let res = answer(&app, &token, Uuid::new_v4(), json!({"decision": "allow"})).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);

    let long = "x".repeat(10_001);
    for (id, body, says) in [
        (p, json!({"decision": "deny", "message": long}), "message"),
        (
            p,
            json!({"decision": "allow", "answers": {"Which color?": "Blue"}}),
            "answers",
        ),
        (
            q,
            json!({"decision": "allow", "answers": {"Which size?": "L"}}),
            "Which size?",
        ),
        (
            q,
            json!({"decision": "allow", "answers": {"Which color?": long}}),
            "Which color?",
        ),
        (
            p,
            json!({"decision": "allow", "updated_input": "rm -rf /"}),
            "updated_input",
        ),
        (
            q,
            json!({"decision": "allow", "updated_input": {}}),
            "updated_input",
        ),
        (
            p,
            json!({"decision": "allow", "mode": "acceptEdits"}),
            "mode",
        ),
        (plan, json!({"decision": "allow", "mode": "plan"}), "mode"),
        (q, json!({"decision": "allow", "always": true}), "always"),
    ] {
        let res = answer(&app, &token, id, body.clone()).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        let v: Value = res.json().await.unwrap();
        assert_eq!(v["error"]["code"], "validation_error");
        assert!(
            v["error"]["message"].as_str().unwrap().contains(says),
            "{body}: {v}"
        );
    }
    assert_eq!(status_of(&app, p).await, "pending");

    let res = answer(
        &app,
        &token,
        q,
        json!({"decision": "allow", "answers": {"Which color?": "Blue"}}),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let view: Value = res.json().await.unwrap();
    assert_eq!(view["status"], "answered");
    assert_eq!(view["answer"]["outcome"], "answered");
    assert_eq!(view["answer"]["decision"], "allow");
    assert_eq!(view["answer"]["answers"]["Which color?"], "Blue");
    assert_eq!(view["answer"]["answered_by"], "a@example.com");
    let again = answer(&app, &token, q, json!({"decision": "deny"})).await;
    assert_eq!(again.status(), StatusCode::CONFLICT);
    assert_eq!(error_code(again).await, "already_answered");

    // Past its time: 410, and marked expired.
    let res = answer(&app, &token, late, json!({"decision": "allow"})).await;
    assert_eq!(res.status(), StatusCode::GONE);
    assert_eq!(error_code(res).await, "request_expired");
    assert_eq!(status_of(&app, late).await, "expired");

    // The run ends: its pending requests are canceled, an answer is too late.
    let res = app
        .internal(
            &format!("/runs/{}/complete", run.run_id),
            json!({"worker_id": "w", "epoch": run.epoch}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(status_of(&app, p).await, "canceled");
    let res = answer(&app, &token, p, json!({"decision": "allow"})).await;
    assert_eq!(res.status(), StatusCode::GONE);
    assert_eq!(error_code(res).await, "request_expired");
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn a_lost_lease_cancels_pending_requests(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (token, session, run) = running(&app, "a@example.com").await;
    let id = Uuid::new_v4();
    send(
        &app,
        &run,
        "w",
        vec![request_event(1, id, "permission", "Bash", 300)],
    )
    .await;
    let res = app
        .internal(
            &format!("/runs/{}/fail", run.run_id),
            json!({"worker_id": "w", "epoch": run.epoch, "error": "manager restarting", "retryable": true}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(app.run_status(run.run_id).await, "queued");
    assert_eq!(status_of(&app, id).await, "canceled");
    // The trigger's answer reads back as the protocol's InputAnswer.
    let listed = requests(&app, &token, session, "?status=canceled").await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["answer"]["outcome"], "canceled");
    assert_eq!(listed[0]["answer"]["decision"], "deny");
    assert_eq!(listed[0]["answer"]["request_id"], json!(id));
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn two_answers_at_once_one_wins(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (token, _, run) = running(&app, "a@example.com").await;
    for round in 0..5 {
        let id = Uuid::new_v4();
        send(
            &app,
            &run,
            "w",
            vec![request_event(round + 1, id, "permission", "Bash", 300)],
        )
        .await;
        let (x, y) = tokio::join!(
            answer(&app, &token, id, json!({"decision": "allow"})),
            answer(
                &app,
                &token,
                id,
                json!({"decision": "deny", "message": "no"})
            ),
        );
        let mut statuses = [x.status(), y.status()];
        statuses.sort();
        assert_eq!(
            statuses,
            [StatusCode::OK, StatusCode::CONFLICT],
            "round {round}"
        );
    }
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn answers_change_the_session_and_the_next_claim(pool: PgPool) {
    let app = TestApp::spawn_with(pool, &[("INPUT_REQUEST_TIMEOUT_SECONDS", "45")]).await;
    let token = app.register("a@example.com").await;
    let res = app
        .post(
            &token,
            "/api/v1/tasks",
            json!({"prompt": "plan it", "permission_mode": "plan"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let v: Value = res.json().await.unwrap();
    let session: Uuid = v["session_id"].as_str().unwrap().parse().unwrap();
    let run = app.claim("w", 0).await.unwrap();
    assert!(run.allowed_tools.is_empty());
    assert_eq!(run.input_timeout_seconds, Some(45));
    let [bash, bash2, plan] = [(); 3].map(|_| Uuid::new_v4());
    send(
        &app,
        &run,
        "w",
        vec![
            request_event(1, bash, "permission", "Bash", 300),
            request_event(2, bash2, "permission", "Bash", 300),
            request_event(3, plan, "plan", "ExitPlanMode", 300),
        ],
    )
    .await;
    for id in [bash, bash2] {
        let res = answer(
            &app,
            &token,
            id,
            json!({"decision": "allow", "always": true}),
        )
        .await;
        assert_eq!(res.status(), StatusCode::OK);
    }
    let res = answer(
        &app,
        &token,
        plan,
        json!({"decision": "allow", "mode": "bypassPermissions"}),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["answer"]["mode"], "bypassPermissions");
    let (tools, mode): (Vec<String>, Option<String>) =
        sqlx::query_as("SELECT allowed_tools, permission_mode FROM sessions WHERE id = $1")
            .bind(session)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(tools, ["Bash"], "allowed once, however often");
    assert_eq!(mode.as_deref(), Some("bypassPermissions"));

    app.internal(
        &format!("/runs/{}/complete", run.run_id),
        json!({"worker_id": "w", "epoch": run.epoch}),
    )
    .await;
    // A follow-up runs with the tool allowed and in the approved mode.
    app.task(&token, "go on", Some(session)).await;
    let next = app.claim("w", 0).await.unwrap();
    assert_eq!(next.allowed_tools, ["Bash"]);
    assert_eq!(
        next.permission_mode,
        protocol::PermissionMode::BypassPermissions
    );
    // A task naming a mode keeps it.
    app.internal(
        &format!("/runs/{}/complete", next.run_id),
        json!({"worker_id": "w", "epoch": next.epoch}),
    )
    .await;
    let res = app
        .post(
            &token,
            "/api/v1/tasks",
            json!({"prompt": "careful", "session_id": session, "permission_mode": "default"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let third = app.claim("w", 0).await.unwrap();
    assert_eq!(third.permission_mode, protocol::PermissionMode::Default);

    // A plan approved without a mode switches to acceptEdits.
    let p2 = Uuid::new_v4();
    send(
        &app,
        &third,
        "w",
        vec![request_event(1, p2, "plan", "ExitPlanMode", 300)],
    )
    .await;
    let res = answer(&app, &token, p2, json!({"decision": "allow"})).await;
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["answer"]["mode"], "acceptEdits");
    let mode: Option<String> =
        sqlx::query_scalar("SELECT permission_mode FROM sessions WHERE id = $1")
            .bind(session)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(mode.as_deref(), Some("acceptEdits"));
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn the_long_poll_wakes_on_an_answer_and_is_fenced(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (token, _, run) = running(&app, "a@example.com").await;

    // Nothing pending: answered at once.
    let started = Instant::now();
    let res = poll(&app, &run, "w", run.epoch, 20, &[]).await;
    assert_eq!(res.status(), StatusCode::OK);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v, json!({"answers": [], "pending": 0}));
    assert!(started.elapsed() < Duration::from_secs(2));

    let [a, b] = [(); 2].map(|_| Uuid::new_v4());
    send(
        &app,
        &run,
        "w",
        vec![
            request_event(1, a, "permission", "Bash", 300),
            request_event(2, b, "permission", "Bash", 300),
        ],
    )
    .await;
    // Fenced: another worker or epoch.
    let res = poll(&app, &run, "other", run.epoch, 0, &[]).await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert_eq!(error_code(res).await, "lease_lost");
    let res = poll(&app, &run, "w", run.epoch + 1, 0, &[]).await;
    assert_eq!(res.status(), StatusCode::CONFLICT);

    // A waiting poll wakes when the answer commits.
    let waiting = {
        let url = app.url(&format!(
            "/api/v1/internal/runs/{}/input-answers",
            run.run_id
        ));
        let client = app.client.clone();
        let body = json!({"worker_id": "w", "epoch": run.epoch, "wait_seconds": 25});
        tokio::spawn(async move {
            let res = client
                .post(url)
                .header(
                    protocol::internal::INTERNAL_TOKEN_HEADER,
                    common::INTERNAL_TOKEN,
                )
                .json(&body)
                .send()
                .await
                .unwrap();
            (Instant::now(), res.json::<Value>().await.unwrap())
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !waiting.is_finished(),
        "the poll waits while nothing is answered"
    );
    let res = answer(
        &app,
        &token,
        a,
        json!({"decision": "allow", "updated_input": {"command": "echo hi"}}),
    )
    .await;
    let answered_at = Instant::now();
    assert_eq!(res.status(), StatusCode::OK);
    let (woke_at, v) = waiting.await.unwrap();
    let latency = woke_at.saturating_duration_since(answered_at);
    assert!(
        latency < Duration::from_millis(500),
        "woke {latency:?} after the answer"
    );
    assert_eq!(v["pending"], 1);
    assert_eq!(v["answers"].as_array().unwrap().len(), 1);
    assert_eq!(v["answers"][0]["request_id"], json!(a));
    assert_eq!(v["answers"][0]["updated_input"]["command"], "echo hi");

    // Delivered answers are not handed over again; with b pending the poll waits its time.
    let started = Instant::now();
    let res = poll(&app, &run, "w", run.epoch, 1, &[a]).await;
    let v: Value = res.json().await.unwrap();
    assert_eq!(v, json!({"answers": [], "pending": 1}));
    assert!(started.elapsed() >= Duration::from_millis(900));
    // Not naming it: handed over again (at-least-once).
    let v: Value = poll(&app, &run, "w", run.epoch, 0, &[])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["answers"].as_array().unwrap().len(), 1);

    // The run's end wakes a waiting poll too: nothing pending any more, or the lease is gone.
    let waiting = {
        let url = app.url(&format!(
            "/api/v1/internal/runs/{}/input-answers",
            run.run_id
        ));
        let client = app.client.clone();
        let body =
            json!({"worker_id": "w", "epoch": run.epoch, "wait_seconds": 25, "delivered": [a]});
        tokio::spawn(async move {
            let res = client
                .post(url)
                .header(
                    protocol::internal::INTERNAL_TOKEN_HEADER,
                    common::INTERNAL_TOKEN,
                )
                .json(&body)
                .send()
                .await
                .unwrap();
            (Instant::now(), res.status())
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let res = app
        .post(
            &token,
            &format!("/api/v1/sessions/{}/cancel", run.session_id),
            json!({}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let ended_at = Instant::now();
    let (woke_at, status) = waiting.await.unwrap();
    assert_eq!(status, StatusCode::OK);
    assert!(woke_at.saturating_duration_since(ended_at) < Duration::from_millis(500));
    assert_eq!(status_of(&app, b).await, "canceled");
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn follow_ups_queued_before_a_plan_approval_take_its_mode_unless_they_named_one(
    pool: PgPool,
) {
    let app = TestApp::spawn(pool).await;
    let token = app.register("a@example.com").await;
    let res = app
        .post(
            &token,
            "/api/v1/tasks",
            json!({"prompt": "plan it", "permission_mode": "plan"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let v: Value = res.json().await.unwrap();
    let session: Uuid = v["session_id"].as_str().unwrap().parse().unwrap();
    let run = app.claim("w", 0).await.unwrap();
    // Two follow-ups wait behind the planning run: one names no mode, one names its own.
    let (_, inherits) = app.task(&token, "then this", Some(session)).await;
    let res = app
        .post(
            &token,
            "/api/v1/tasks",
            json!({"prompt": "careful", "session_id": session, "permission_mode": "default"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let plan = Uuid::new_v4();
    send(
        &app,
        &run,
        "w",
        vec![request_event(1, plan, "plan", "ExitPlanMode", 300)],
    )
    .await;
    let res = answer(
        &app,
        &token,
        plan,
        json!({"decision": "allow", "mode": "acceptEdits"}),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    app.internal(
        &format!("/runs/{}/complete", run.run_id),
        json!({"worker_id": "w", "epoch": run.epoch}),
    )
    .await;
    let next = app.claim("w", 0).await.unwrap();
    assert_eq!(next.run_id, inherits);
    assert_eq!(next.permission_mode, protocol::PermissionMode::AcceptEdits);
    app.internal(
        &format!("/runs/{}/complete", next.run_id),
        json!({"worker_id": "w", "epoch": next.epoch}),
    )
    .await;
    let third = app.claim("w", 0).await.unwrap();
    assert_eq!(third.permission_mode, protocol::PermissionMode::Default);
}
