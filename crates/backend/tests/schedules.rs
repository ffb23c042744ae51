//! Scheduled tasks through the public and internal HTTP API against a real PostgreSQL: CRUD,
//! validation, ownership, run now, history, preview, the exactly-once fire, and claims by kind.

mod common;

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use common::{INTERNAL_TOKEN, TestApp, error_code};
use protocol::internal::{ClaimRequest, ClaimedRun, INTERNAL_TOKEN_HEADER};
use protocol::schedule::{FireResponse, RunKind};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

fn task_body(name: &str) -> Value {
    json!({"name": name, "prompt": "summarise the news", "cron": "0 9 * * *", "timezone": "Europe/Berlin"})
}

async fn create(app: &TestApp, token: &str, body: Value) -> Value {
    let res = app.post(token, "/api/v1/scheduled-tasks", body).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    res.json().await.unwrap()
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

fn id_of(v: &Value) -> Uuid {
    v["id"].as_str().unwrap().parse().unwrap()
}

fn time(v: &Value) -> DateTime<Utc> {
    v.as_str().unwrap().parse().unwrap()
}

async fn fire(app: &TestApp, worker: &str) -> FireResponse {
    let res = app
        .internal("/schedules/fire", json!({"worker_id": worker}))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    res.json().await.unwrap()
}

async fn make_due(pool: &PgPool, id: Uuid, ago: &str) {
    sqlx::query("UPDATE scheduled_tasks SET next_fire_at = now() - $2::interval WHERE id = $1")
        .bind(id)
        .bind(ago)
        .execute(pool)
        .await
        .unwrap();
}

async fn claim_kinds(
    app: &TestApp,
    worker: &str,
    wait: u32,
    kinds: Option<Vec<RunKind>>,
) -> Option<ClaimedRun> {
    let res = app
        .client
        .post(app.url("/api/v1/internal/runs/claim"))
        .header(INTERNAL_TOKEN_HEADER, INTERNAL_TOKEN)
        .json(&ClaimRequest {
            worker_id: worker.into(),
            lease_seconds: 60,
            wait_seconds: wait,
            kinds,
            max_runs: 1,
            start: false,
        })
        .send()
        .await
        .unwrap();
    match res.status() {
        StatusCode::OK => Some(res.json().await.unwrap()),
        StatusCode::NO_CONTENT => None,
        s => panic!("claim answered {s}"),
    }
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn crud_validation_and_other_users_tasks(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let alice = app.register("alice@example.com").await;
    let bob = app.register("bob@example.com").await;

    let t = create(&app, &alice, task_body("morning news")).await;
    let id = id_of(&t);
    assert_eq!(t["enabled"], true);
    assert_eq!(t["session_mode"], "reuse");
    assert_eq!(t["permission_mode"], "bypassPermissions");
    assert_eq!(t["timezone"], "Europe/Berlin");
    let next = time(&t["next_fire_at"]);
    assert!(next > Utc::now());
    // 09:00 in Berlin is 07:00 or 08:00 UTC.
    assert!(
        ["07:00:00", "08:00:00"].contains(&next.format("%H:%M:%S").to_string().as_str()),
        "{next}"
    );
    let upcoming: Vec<DateTime<Utc>> = t["upcoming"].as_array().unwrap().iter().map(time).collect();
    assert_eq!(upcoming.len(), 5);
    assert_eq!(upcoming[0], next);
    assert!(upcoming.windows(2).all(|w| w[0] < w[1]));

    // Read, list (by name).
    create(&app, &alice, task_body("a first one")).await;
    let res = app
        .get(&alice, &format!("/api/v1/scheduled-tasks/{id}"))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let list: Value = app
        .get(&alice, "/api/v1/scheduled-tasks")
        .await
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = list["scheduled_tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["a first one", "morning news"]);

    // Validation: 400 with a message saying what is wrong.
    for (patch_fields, code, says) in [
        (json!({"cron": "0 9 * *"}), "invalid_cron", "five fields"),
        (json!({"cron": "0 25 * * *"}), "invalid_cron", "invalid"),
        (json!({"cron": "0 0 30 2 *"}), "invalid_cron", "never fires"),
        (
            json!({"timezone": "Europe/Atlantis"}),
            "invalid_timezone",
            "IANA",
        ),
        (json!({"name": "   "}), "invalid_name", "name"),
        (json!({"prompt": ""}), "invalid_prompt", "prompt"),
        (json!({"model": "bad model!"}), "invalid_model", "model"),
    ] {
        let mut body = task_body("x");
        for (k, v) in patch_fields.as_object().unwrap() {
            body[k] = v.clone();
        }
        let res = app.post(&alice, "/api/v1/scheduled-tasks", body).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{patch_fields}");
        let b: Value = res.json().await.unwrap();
        assert_eq!(b["error"]["code"], code, "{b}");
        assert!(
            b["error"]["message"].as_str().unwrap().contains(says),
            "{b}"
        );
        // The same through PATCH.
        let res = patch(
            &app,
            &alice,
            &format!("/api/v1/scheduled-tasks/{id}"),
            patch_fields.clone(),
        )
        .await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{patch_fields}");
        assert_eq!(error_code(res).await, code);
    }
    // Unknown fields and wrong types: 4xx JSON errors.
    let res = app
        .post(&alice, "/api/v1/scheduled-tasks", json!({"name": "x", "prompt": "p", "cron": "* * * * *", "timezone": "UTC", "owner": "bob"}))
        .await;
    assert!(res.status().is_client_error());
    error_code(res).await;

    // PATCH: rename, disable (no next fire), enable again (from now), change the schedule.
    let res = patch(
        &app,
        &alice,
        &format!("/api/v1/scheduled-tasks/{id}"),
        json!({"name": "news", "enabled": false}),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["name"], "news");
    assert!(v["next_fire_at"].is_null());
    assert_eq!(v["upcoming"], json!([]));
    let res = patch(
        &app,
        &alice,
        &format!("/api/v1/scheduled-tasks/{id}"),
        json!({"enabled": true, "cron": "*/5 * * * *", "timezone": "UTC"}),
    )
    .await;
    let v: Value = res.json().await.unwrap();
    let next = time(&v["next_fire_at"]);
    assert!(next > Utc::now() && next <= Utc::now() + chrono::Duration::minutes(5));
    assert_eq!(v["cron"], "*/5 * * * *");

    // Another user's task is 404 everywhere, exactly like a missing one.
    let other = format!("/api/v1/scheduled-tasks/{id}");
    assert_eq!(app.get(&bob, &other).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        patch(&app, &bob, &other, json!({"name": "mine"}))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        delete(&app, &bob, &other).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.post(&bob, &format!("{other}/run"), json!({}))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get(&bob, &format!("{other}/runs")).await.status(),
        StatusCode::NOT_FOUND
    );
    let bobs: Value = app
        .get(&bob, "/api/v1/scheduled-tasks")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(bobs["scheduled_tasks"], json!([]));
    assert_eq!(
        app.get(&alice, "/api/v1/scheduled-tasks/not-a-uuid")
            .await
            .status(),
        StatusCode::BAD_REQUEST
    );
    // No sign-in: 401.
    let res = app
        .client
        .get(app.url("/api/v1/scheduled-tasks"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);

    // DELETE: 204, then 404.
    assert_eq!(
        delete(&app, &alice, &other).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.get(&alice, &other).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        delete(&app, &alice, &other).await.status(),
        StatusCode::NOT_FOUND
    );
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn preview_shows_the_next_fires_or_says_what_is_wrong(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let token = app.register("a@example.com").await;
    let res = app
        .get(
            &token,
            "/api/v1/scheduled-tasks/preview?cron=30%202%20*%20*%20*&timezone=America/New_York",
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let v: Value = res.json().await.unwrap();
    let fires: Vec<DateTime<Utc>> = v["upcoming"].as_array().unwrap().iter().map(time).collect();
    assert_eq!(fires.len(), 5);
    assert!(fires.windows(2).all(|w| w[0] < w[1]));
    let res = app
        .get(
            &token,
            "/api/v1/scheduled-tasks/preview?cron=nonsense&timezone=UTC",
        )
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(res).await, "invalid_cron");
    let res = app
        .get(
            &token,
            "/api/v1/scheduled-tasks/preview?cron=*%20*%20*%20*%20*&timezone=Nowhere",
        )
        .await;
    assert_eq!(error_code(res).await, "invalid_timezone");
    let res = app.get(&token, "/api/v1/scheduled-tasks/preview").await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn run_now_history_and_session_reuse(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let token = app.register("a@example.com").await;
    let t = create(&app, &token, task_body("reused")).await;
    let id = id_of(&t);
    let path = format!("/api/v1/scheduled-tasks/{id}");

    let res = app.post(&token, &format!("{path}/run"), json!({})).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let first: Value = res.json().await.unwrap();
    assert_eq!(first["status"], "queued");
    let session: Uuid = first["session_id"].as_str().unwrap().parse().unwrap();
    // The session is remembered and titled after the task.
    let v: Value = app.get(&token, &path).await.json().await.unwrap();
    assert_eq!(v["session_id"], json!(session));
    let s: Value = app
        .get(&token, &format!("/api/v1/sessions/{session}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(s["title"], "reused");

    // A fire while that run is still queued: a follow-up in the same session, not ready yet.
    make_due(&app.pool, id, "1 minute").await;
    let fired = fire(&app, "w").await.fired;
    assert_eq!(fired.len(), 1);
    assert_eq!(fired[0].session_id, session);
    let ready: bool = sqlx::query_scalar("SELECT ready FROM runs WHERE id = $1")
        .bind(fired[0].run_id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(!ready, "a follow-up must wait for the run before it");

    // The run views name their kind and task.
    let run: Value = app
        .get(&token, &format!("/api/v1/runs/{}", fired[0].run_id))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(run["kind"], "scheduled");
    assert_eq!(run["scheduled_task_id"], json!(id));
    let manual: Value = app
        .get(
            &token,
            &format!("/api/v1/runs/{}", first["run_id"].as_str().unwrap()),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(manual["kind"], "interactive");
    assert_eq!(manual["scheduled_task_id"], json!(id));
    let (_, plain) = app.task(&token, "not scheduled", None).await;
    let plain: Value = app
        .get(&token, &format!("/api/v1/runs/{plain}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(plain["kind"], "interactive");
    assert!(plain["scheduled_task_id"].is_null());

    // History: newest first, only this task's runs.
    let h: Value = app
        .get(&token, &format!("{path}/runs"))
        .await
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = h["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        vec![
            fired[0].run_id.to_string().as_str(),
            first["run_id"].as_str().unwrap()
        ]
    );
    let res = app.get(&token, &format!("{path}/runs?limit=0")).await;
    assert!(res.status().is_client_error());

    // The user deletes the session (after canceling its runs): the next fire starts a new one.
    let res = app
        .post(
            &token,
            &format!("/api/v1/sessions/{session}/cancel"),
            json!({}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        delete(&app, &token, &format!("/api/v1/sessions/{session}"))
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    let v: Value = app.get(&token, &path).await.json().await.unwrap();
    assert!(v["session_id"].is_null());
    make_due(&app.pool, id, "1 minute").await;
    let fired = fire(&app, "w").await.fired;
    assert_eq!(fired.len(), 1);
    assert_ne!(fired[0].session_id, session);
    let v: Value = app.get(&token, &path).await.json().await.unwrap();
    assert_eq!(v["session_id"], json!(fired[0].session_id));

    // `new` mode: every run in its own session.
    let res = patch(&app, &token, &path, json!({"session_mode": "new"})).await;
    assert_eq!(res.status(), StatusCode::OK);
    let a: Value = app
        .post(&token, &format!("{path}/run"), json!({}))
        .await
        .json()
        .await
        .unwrap();
    let b: Value = app
        .post(&token, &format!("{path}/run"), json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_ne!(a["session_id"], b["session_id"]);
    assert_ne!(a["session_id"], json!(fired[0].session_id));
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn missed_fires_collapse_into_one_and_the_next_fire_is_after_now(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let token = app.register("a@example.com").await;
    let mut body = task_body("every minute");
    body["cron"] = json!("* * * * *");
    body["session_mode"] = json!("new");
    let id = id_of(&create(&app, &token, body).await);
    // Not due yet: nothing fires.
    assert!(fire(&app, "w").await.fired.is_empty());
    // Every manager was down for three days: 4,320 fires were missed.
    make_due(&app.pool, id, "3 days").await;
    let fired = fire(&app, "w").await.fired;
    assert_eq!(fired.len(), 1);
    assert!(fire(&app, "w").await.fired.is_empty());
    let (next, last): (DateTime<Utc>, Option<DateTime<Utc>>) =
        sqlx::query_as("SELECT next_fire_at, last_fired_at FROM scheduled_tasks WHERE id = $1")
            .bind(id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert!(
        next > Utc::now() - chrono::Duration::seconds(1)
            && next <= Utc::now() + chrono::Duration::minutes(1),
        "{next}"
    );
    assert!(last.is_some());
    let runs: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM runs WHERE scheduled_task_id = $1 AND kind = 'scheduled'",
    )
    .bind(id)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(runs, 1);
    // Disabled tasks never fire, even when due.
    make_due(&app.pool, id, "1 minute").await;
    sqlx::query("UPDATE scheduled_tasks SET enabled = false WHERE id = $1")
        .bind(id)
        .execute(&app.pool)
        .await
        .unwrap();
    assert!(fire(&app, "w").await.fired.is_empty());
    // Enabling recomputes the next fire from now: the old due time is not made up for.
    let res = patch(
        &app,
        &token,
        &format!("/api/v1/scheduled-tasks/{id}"),
        json!({"enabled": true}),
    )
    .await;
    let v: Value = res.json().await.unwrap();
    assert!(time(&v["next_fire_at"]) > Utc::now() - chrono::Duration::seconds(1));
    assert!(fire(&app, "w").await.fired.is_empty());
    // The fire route is internal.
    let res = app
        .client
        .post(app.url("/api/v1/internal/schedules/fire"))
        .json(&json!({"worker_id": "w"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let res = app
        .internal("/schedules/fire", json!({"worker_id": "w", "limit": 0}))
        .await;
    assert!(res.status().is_client_error());
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn concurrent_fire_calls_fire_each_due_task_exactly_once(pool: PgPool) {
    let app = Arc::new(TestApp::spawn(pool).await);
    let token = app.register("a@example.com").await;
    let mut ids = Vec::new();
    for i in 0..30 {
        let mut body = task_body(&format!("task {i}"));
        body["session_mode"] = json!(if i % 2 == 0 { "reuse" } else { "new" });
        let id = id_of(&create(&app, &token, body).await);
        make_due(&app.pool, id, "10 minutes").await;
        ids.push(id);
    }
    // 12 managers call at once, several times each.
    let mut callers = Vec::new();
    for c in 0..12 {
        let app = app.clone();
        callers.push(tokio::spawn(async move {
            let mut got = Vec::new();
            for _ in 0..3 {
                let res = app
                    .internal(
                        "/schedules/fire",
                        json!({"worker_id": format!("m{c}"), "limit": 7}),
                    )
                    .await;
                assert_eq!(res.status(), StatusCode::OK);
                let r: FireResponse = res.json().await.unwrap();
                got.extend(r.fired);
            }
            got
        }));
    }
    let mut fired = Vec::new();
    for c in callers {
        fired.extend(c.await.unwrap());
    }
    // Anything left (callers that found everything locked) is fired by one more call.
    fired.extend(fire(&app, "last").await.fired);
    let mut per_task: HashMap<Uuid, usize> = HashMap::new();
    for f in &fired {
        *per_task.entry(f.scheduled_task_id).or_default() += 1;
    }
    assert_eq!(per_task.len(), 30, "every due task fired");
    assert!(per_task.values().all(|n| *n == 1), "{per_task:?}");
    let runs: i64 = sqlx::query_scalar("SELECT count(*) FROM runs WHERE kind = 'scheduled'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(runs, 30);
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn claims_take_only_the_kinds_asked_for(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let token = app.register("a@example.com").await;
    let (_, interactive) = app.task(&token, "by hand", None).await;
    let id = id_of(&create(&app, &token, task_body("nightly")).await);
    make_due(&app.pool, id, "1 minute").await;
    let scheduled = fire(&app, "w").await.fired[0].run_id;

    // Nothing allowed: nothing claimed, and the long poll waits its time.
    let started = std::time::Instant::now();
    assert!(claim_kinds(&app, "w", 1, Some(vec![])).await.is_none());
    assert!(started.elapsed() >= std::time::Duration::from_millis(900));
    // Only scheduled: the scheduled run, though the interactive one is older.
    let c = claim_kinds(&app, "w", 0, Some(vec![RunKind::Scheduled]))
        .await
        .unwrap();
    assert_eq!(c.run_id, scheduled);
    assert_eq!(c.kind, RunKind::Scheduled);
    assert!(
        claim_kinds(&app, "w", 0, Some(vec![RunKind::Scheduled]))
            .await
            .is_none()
    );
    // Only interactive.
    let c = claim_kinds(&app, "w", 0, Some(vec![RunKind::Interactive]))
        .await
        .unwrap();
    assert_eq!(c.run_id, interactive);
    assert_eq!(c.kind, RunKind::Interactive);
    // A parked claim for scheduled runs is woken by a fire, not by an interactive task.
    let (_, later) = app.task(&token, "another by hand", None).await;
    make_due(&app.pool, id, "1 minute").await;
    let app = Arc::new(app);
    let waiter = {
        let app = app.clone();
        tokio::spawn(
            async move { claim_kinds(&app, "night", 10, Some(vec![RunKind::Scheduled])).await },
        )
    };
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    // The reuse session still has a claimed run, so the fired follow-up waits; finish that one.
    let fired = fire(&app, "w").await.fired;
    assert_eq!(fired.len(), 1);
    sqlx::query("UPDATE runs SET status = 'completed', finished_at = now() WHERE id = $1")
        .bind(scheduled)
        .execute(&app.pool)
        .await
        .unwrap();
    let got = waiter.await.unwrap().expect("woken by the scheduled run");
    assert_eq!(got.run_id, fired[0].run_id);
    // Both kinds listed is every kind.
    let c = claim_kinds(
        &app,
        "w",
        0,
        Some(vec![RunKind::Interactive, RunKind::Scheduled]),
    )
    .await
    .unwrap();
    assert_eq!(c.run_id, later);
    // An unknown kind is refused.
    let res = app
        .internal(
            "/runs/claim",
            json!({"worker_id": "w", "lease_seconds": 60, "kinds": ["batch"]}),
        )
        .await;
    assert!(res.status().is_client_error());
}
