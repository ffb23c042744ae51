//! Queued follow-ups (`/sessions/{id}/queue`) and idempotent submits (`client_request_id`).

mod common;

use common::{TestApp, error_code};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

async fn queue(app: &TestApp, token: &str, session: Uuid) -> Vec<(Uuid, String, i64)> {
    let res = app
        .get(token, &format!("/api/v1/sessions/{session}/queue"))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let v: Value = res.json().await.unwrap();
    v["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["run_id"].as_str().unwrap().parse().unwrap(),
                r["prompt"].as_str().unwrap().to_owned(),
                r["position"].as_i64().unwrap(),
            )
        })
        .collect()
}

async fn complete(app: &TestApp, run: &protocol::internal::ClaimedRun, outcome: &str) {
    let res = app
        .internal(
            &format!("/runs/{}/complete", run.run_id),
            json!({"worker_id": "w", "epoch": run.epoch, "outcome": outcome}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
}

async fn patch(app: &TestApp, token: &str, path: &str, body: Value) -> reqwest::Response {
    app.client
        .patch(app.url(path))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn delete(app: &TestApp, token: &str, path: &str) -> reqwest::Response {
    app.client
        .delete(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn the_queue_lists_edits_and_removes_follow_ups(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let token = app.register("a@example.com").await;
    let other = app.register("b@example.com").await;
    let (session, first) = app.task(&token, "first", None).await;
    // Nothing behind the first run yet (it is the head of the line, not a follow-up).
    assert!(queue(&app, &token, session).await.is_empty());
    let (_, b) = app.task(&token, "second", Some(session)).await;
    let (_, c) = app.task(&token, "third", Some(session)).await;
    let (_, d) = app.task(&token, "fourth", Some(session)).await;
    assert_eq!(
        queue(&app, &token, session).await,
        [
            (b, "second".into(), 1),
            (c, "third".into(), 2),
            (d, "fourth".into(), 3)
        ]
    );
    let detail: Value = app
        .get(&token, &format!("/api/v1/sessions/{session}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(detail["queued_runs"], 3);
    let list: Value = app
        .get(&token, "/api/v1/sessions")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["sessions"][0]["queued_runs"], 3);
    assert_eq!(list["sessions"][0]["pending_inputs"], 0);

    // Another user's session, or a run not in it: 404.
    let res = app
        .get(&other, &format!("/api/v1/sessions/{session}/queue"))
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let path = format!("/api/v1/sessions/{session}/queue/{b}");
    let res = patch(&app, &other, &path, json!({"prompt": "mine"})).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let res = delete(&app, &other, &path).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let res = patch(
        &app,
        &token,
        &format!("/api/v1/sessions/{session}/queue/{}", Uuid::new_v4()),
        json!({"prompt": "x"}),
    )
    .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);

    // Edit: validated like a task's prompt.
    let res = patch(&app, &token, &path, json!({"prompt": "  "})).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let res = patch(&app, &token, &path, json!({"prompt": "second, edited"})).await;
    assert_eq!(res.status(), StatusCode::OK);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["prompt"], "second, edited");
    assert_eq!(v["position"], 1);

    // Remove: canceled, never runs.
    let res = delete(
        &app,
        &token,
        &format!("/api/v1/sessions/{session}/queue/{c}"),
    )
    .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.run_status(c).await, "canceled");
    assert_eq!(
        queue(&app, &token, session).await,
        [(b, "second, edited".into(), 1), (d, "fourth".into(), 2)]
    );

    // The first run, then the edited follow-up, then the fourth.
    let run = app.claim("w", 0).await.unwrap();
    assert_eq!(run.run_id, first);
    // A started run is no longer queued.
    let res = patch(
        &app,
        &token,
        &format!("/api/v1/sessions/{session}/queue/{first}"),
        json!({"prompt": "too late"}),
    )
    .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert_eq!(error_code(res).await, "not_queued");
    complete(&app, &run, "completed").await;
    let run = app.claim("w", 0).await.unwrap();
    assert_eq!(run.run_id, b);
    assert_eq!(run.prompt, "second, edited");
    let res = delete(&app, &token, &path).await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert_eq!(error_code(res).await, "not_queued");
    complete(&app, &run, "completed").await;
    assert_eq!(app.claim("w", 0).await.unwrap().run_id, d);
    assert_eq!(app.claim("w", 0).await, None, "the removed run never runs");
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn send_now_stops_the_active_run_and_runs_next(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let token = app.register("a@example.com").await;
    let (session, first) = app.task(&token, "first", None).await;
    let (_, b) = app.task(&token, "second", Some(session)).await;
    let (_, c) = app.task(&token, "third", Some(session)).await;
    let run = app.claim("w", 0).await.unwrap();
    assert_eq!(run.run_id, first);

    let res = app
        .post(
            &token,
            &format!("/api/v1/sessions/{session}/queue/{c}/send-now"),
            json!({}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let v: Value = res.json().await.unwrap();
    let order: Vec<&str> = v["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["prompt"].as_str().unwrap())
        .collect();
    assert_eq!(order, ["third", "second"]);
    assert_eq!(app.run_status(first).await, "canceling");
    // Nothing claimable until the active run has stopped.
    assert_eq!(app.claim("w2", 0).await, None);
    complete(&app, &run, "canceled").await;
    let next = app.claim("w", 0).await.unwrap();
    assert_eq!(next.run_id, c);
    assert_eq!(app.run_status(b).await, "queued");
    // A run that started cannot be sent again.
    let res = app
        .post(
            &token,
            &format!("/api/v1/sessions/{session}/queue/{c}/send-now"),
            json!({}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert_eq!(error_code(res).await, "not_queued");
    // …and the refused send-now canceled nothing.
    assert_eq!(app.run_status(c).await, "claimed");
    complete(&app, &next, "completed").await;
    assert_eq!(app.claim("w", 0).await.unwrap().run_id, b);
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn send_now_without_an_active_run_jumps_the_line(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let token = app.register("a@example.com").await;
    let (session, first) = app.task(&token, "first", None).await;
    let (_, b) = app.task(&token, "second", Some(session)).await;
    let res = app
        .post(
            &token,
            &format!("/api/v1/sessions/{session}/queue/{b}/send-now"),
            json!({}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(app.claim("w", 0).await.unwrap().run_id, b);
    assert_eq!(app.run_status(first).await, "queued");
    let session_status: String = sqlx::query_scalar("SELECT status FROM sessions WHERE id = $1")
        .bind(session)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(session_status, "running");
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn a_retried_submit_queues_once(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let token = app.register("a@example.com").await;
    let other = app.register("b@example.com").await;
    let body = json!({"prompt": "once", "client_request_id": "submit-1"});
    let res = app.post(&token, "/api/v1/tasks", body.clone()).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let first: Value = res.json().await.unwrap();
    let res = app.post(&token, "/api/v1/tasks", body.clone()).await;
    assert_eq!(res.status(), StatusCode::OK);
    let again: Value = res.json().await.unwrap();
    assert_eq!(again, first);
    // Another user's id space is their own.
    let res = app.post(&other, "/api/v1/tasks", body).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let runs: i64 = sqlx::query_scalar("SELECT count(*) FROM runs")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(runs, 2);

    for bad in [String::new(), "x".repeat(201)] {
        let res = app
            .post(
                &token,
                "/api/v1/tasks",
                json!({"prompt": "p", "client_request_id": bad}),
            )
            .await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(error_code(res).await, "validation_error");
    }

    // Concurrent submits with one id: one run.
    let sends = (0..8).map(|_| {
        app.post(
            &token,
            "/api/v1/tasks",
            json!({"prompt": "race", "client_request_id": "submit-2"}),
        )
    });
    let answers = futures::future::join_all(sends).await;
    let mut runs = Vec::new();
    let mut created = 0;
    for res in answers {
        match res.status() {
            StatusCode::CREATED => created += 1,
            StatusCode::OK => {}
            s => panic!("answered {s}"),
        }
        let v: Value = res.json().await.unwrap();
        runs.push(v["run_id"].clone());
    }
    assert_eq!(created, 1);
    runs.dedup();
    assert_eq!(runs.len(), 1);
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM runs WHERE prompt = 'race'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(count, 1);

    // Retention forgets ids older than a day; the next submit with it queues anew.
    sqlx::query("UPDATE task_requests SET created_at = now() - interval '25 hours'")
        .execute(&app.pool)
        .await
        .unwrap();
    let n = backend::retention::delete_task_requests_batch(&app.pool, 100)
        .await
        .unwrap();
    assert_eq!(n, 3);
    let res = app
        .post(
            &token,
            "/api/v1/tasks",
            json!({"prompt": "once", "client_request_id": "submit-1"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
}
