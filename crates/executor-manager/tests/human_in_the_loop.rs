//! The human in the loop end to end: the real backend (its public API), the manager (in-process,
//! process runtime), the real executor and the real Claude Code CLI driven by the scripted model.
//! A tool call that needs permission, a question and a plan wait for an answer posted to
//! `POST /api/v1/input-requests/{id}/answer`; the answer reaches the CLI through the manager's
//! long-poll and the executor's control protocol.

mod common;

use std::time::{Duration, Instant};

use common::Harness;
use fake_llm::{Block, ScenarioFile, Turn};
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

const RUN_LIMIT: Duration = Duration::from_secs(120);
const ASK_LIMIT: Duration = Duration::from_secs(60);

fn bash(command: &str) -> Block {
    Block::tool_use(
        "Bash",
        json!({"command": command, "description": "write a file"}),
    )
}

fn scenarios() -> ScenarioFile {
    ScenarioFile::default()
        .with_scenario(
            "always",
            vec![
                Turn::blocks(vec![bash("echo one > a.txt")]),
                Turn::blocks(vec![bash("echo two > b.txt")]),
                Turn::text("First done."),
                // The follow-up in the same session resumes here.
                Turn::blocks(vec![bash("echo three > c.txt")]),
                Turn::text("Second done."),
            ],
        )
        .with_scenario(
            "deny",
            vec![
                Turn::blocks(vec![bash("echo no > denied.txt")]),
                Turn::text("Understood."),
            ],
        )
        .with_scenario(
            "question",
            vec![
                Turn::blocks(vec![Block::tool_use(
                    "AskUserQuestion",
                    json!({"questions": [{
                        "question": "Which color?",
                        "header": "Color",
                        "multiSelect": false,
                        "options": [
                            {"label": "Red", "description": "warm"},
                            {"label": "Blue", "description": "cool"}
                        ]
                    }]}),
                )]),
                Turn::text("Blue it is."),
            ],
        )
        .with_scenario(
            "plan",
            vec![
                Turn::blocks(vec![Block::tool_use(
                    "ExitPlanMode",
                    json!({"plan": "# Plan\n\n1. Write `plan.txt`."}),
                )]),
                Turn::blocks(vec![bash("echo planned > plan.txt")]),
                Turn::text("Plan carried out."),
            ],
        )
        .with_scenario(
            "wait",
            vec![
                Turn::blocks(vec![bash("echo late > late.txt")]),
                Turn::text("Went on."),
            ],
        )
}

async fn create(h: &Harness, body: Value) -> (Uuid, Uuid) {
    let res = h
        .client
        .post(format!("{}/api/v1/tasks", h.backend))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = res.status();
    let v: Value = serde_json::from_str(&res.text().await.unwrap()).unwrap();
    assert_eq!(status, 201, "{v}");
    (
        v["session_id"].as_str().unwrap().parse().unwrap(),
        v["run_id"].as_str().unwrap().parse().unwrap(),
    )
}

async fn requests(h: &Harness, session: Uuid, status: Option<&str>) -> Vec<Value> {
    let query = status.map(|s| format!("?status={s}")).unwrap_or_default();
    let res = h
        .client
        .get(format!(
            "{}/api/v1/sessions/{session}/input-requests{query}",
            h.backend
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let v: Value = res.json().await.unwrap();
    v["requests"].as_array().cloned().unwrap_or_default()
}

/// Waits for the session's `n`th request (counting every status) and returns it while pending.
async fn wait_request(h: &Harness, session: Uuid, n: usize, run: Uuid) -> Value {
    let deadline = Instant::now() + ASK_LIMIT;
    loop {
        let all = requests(h, session, None).await;
        if all.len() >= n {
            let r = all[n - 1].clone();
            assert_eq!(r["status"], "pending", "{r}");
            return r;
        }
        let status = h.run_status(run).await;
        assert!(
            Instant::now() < deadline && !["completed", "failed", "canceled"].contains(&&*status),
            "no input request {n} (run {status}); events: {:?}",
            h.events(run).await
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn answer(h: &Harness, id: &Value, body: Value) -> (u16, Value) {
    let id = id.as_str().unwrap();
    let res = h
        .client
        .post(format!("{}/api/v1/input-requests/{id}/answer", h.backend))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let text = res.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(json!(text)))
}

fn kinds(events: &[(i64, i64, String, Value)], kind: &str) -> Vec<Value> {
    events
        .iter()
        .filter(|e| e.2 == kind)
        .map(|e| e.3.clone())
        .collect()
}

async fn completed(h: &Harness, run: Uuid) {
    let status = h
        .wait_status(run, &["completed", "failed", "canceled"], RUN_LIMIT)
        .await;
    assert_eq!(
        status,
        "completed",
        "error: {:?}; events: {:?}",
        h.run_error(run).await,
        h.events(run).await
    );
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn a_tool_allowed_always_runs_and_is_not_asked_about_again_in_the_session(pool: PgPool) {
    let h = Harness::start(pool, scenarios(), &[]).await;
    let (session, run) = create(
        &h,
        json!({"prompt": "[scenario:always] Write two files.", "permission_mode": "default"}),
    )
    .await;
    let request = wait_request(&h, session, 1, run).await;
    assert_eq!(request["request"]["kind"], "permission", "{request}");
    assert_eq!(request["request"]["tool_name"], "Bash");
    assert_eq!(request["request"]["input"]["command"], "echo one > a.txt");
    let ws = h.workspace(h.user_of(session).await, session);
    assert!(!ws.join("a.txt").exists(), "ran before it was allowed");

    let (status, view) = answer(
        &h,
        &request["id"],
        json!({"decision": "allow", "always": true}),
    )
    .await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["status"], "answered");
    completed(&h, run).await;
    assert_eq!(std::fs::read_to_string(ws.join("a.txt")).unwrap(), "one\n");
    // The second Bash call asked nothing.
    assert_eq!(std::fs::read_to_string(ws.join("b.txt")).unwrap(), "two\n");
    let events = h.events(run).await;
    assert_eq!(kinds(&events, "input_request").len(), 1, "{events:?}");
    let answers = kinds(&events, "input_answer");
    assert_eq!(answers.len(), 1, "{events:?}");
    assert_eq!(answers[0]["outcome"], "answered");
    assert_eq!(answers[0]["decision"], "allow");
    assert!(answers[0]["answered_by"].is_string(), "{}", answers[0]);
    // The request came after its tool call, the answer before the tool's result.
    let order: Vec<&str> = events.iter().map(|e| e.2.as_str()).collect();
    let asked = order.iter().position(|k| *k == "input_request").unwrap();
    let answered = order.iter().position(|k| *k == "input_answer").unwrap();
    let first_result = order.iter().position(|k| *k == "tool_result").unwrap();
    assert!(
        order[..asked].contains(&"tool_use") && answered < first_result,
        "{order:?}"
    );

    // A follow-up in the session runs Bash without asking (--allowedTools from the session).
    let next = h.task_in(session, "And a third.").await;
    completed(&h, next).await;
    assert_eq!(
        std::fs::read_to_string(ws.join("c.txt")).unwrap(),
        "three\n"
    );
    assert!(kinds(&h.events(next).await, "input_request").is_empty());
    assert!(requests(&h, session, Some("pending")).await.is_empty());
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn a_denial_reaches_the_model_and_the_tool_never_runs(pool: PgPool) {
    let h = Harness::start(pool, scenarios(), &[]).await;
    let (session, run) = create(
        &h,
        json!({"prompt": "[scenario:deny] Write it.", "permission_mode": "default"}),
    )
    .await;
    let request = wait_request(&h, session, 1, run).await;
    let (status, _) = answer(
        &h,
        &request["id"],
        json!({"decision": "deny", "message": "Not in this repository, please."}),
    )
    .await;
    assert_eq!(status, 200);
    completed(&h, run).await;
    let ws = h.workspace(h.user_of(session).await, session);
    assert!(!ws.join("denied.txt").exists());
    let turns = h.llm.turn_requests();
    let last = turns.last().unwrap();
    assert!(
        last.body_contains("Not in this repository, please."),
        "the model never saw the denial"
    );
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn a_question_is_answered_with_the_chosen_option(pool: PgPool) {
    let h = Harness::start(pool, scenarios(), &[]).await;
    // Questions are asked in every mode, the platform's default (bypassPermissions) included.
    let (session, run) = create(&h, json!({"prompt": "[scenario:question] Pick a color."})).await;
    let request = wait_request(&h, session, 1, run).await;
    assert_eq!(request["request"]["kind"], "question", "{request}");
    let questions = &request["request"]["questions"];
    assert_eq!(questions[0]["question"], "Which color?");
    assert_eq!(questions[0]["options"][1]["label"], "Blue");
    let (status, view) = answer(
        &h,
        &request["id"],
        json!({"decision": "allow", "answers": {"Which color?": "Blue"}}),
    )
    .await;
    assert_eq!(status, 200, "{view}");
    completed(&h, run).await;
    let turns = h.llm.turn_requests();
    assert!(
        turns
            .last()
            .unwrap()
            .body_contains(r#"\"Which color?\"=\"Blue\""#),
        "the model never got the answer"
    );
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn an_approved_plan_switches_the_run_and_the_session_to_the_chosen_mode(pool: PgPool) {
    let h = Harness::start(pool, scenarios(), &[]).await;
    let (session, run) = create(
        &h,
        json!({"prompt": "[scenario:plan] Plan, then write plan.txt.", "permission_mode": "plan"}),
    )
    .await;
    let request = wait_request(&h, session, 1, run).await;
    assert_eq!(request["request"]["kind"], "plan", "{request}");
    assert!(
        request["request"]["plan"]
            .as_str()
            .is_some_and(|p| p.contains("Write `plan.txt`")),
        "{request}"
    );
    let (status, view) = answer(
        &h,
        &request["id"],
        json!({"decision": "allow", "mode": "acceptEdits"}),
    )
    .await;
    assert_eq!(status, 200, "{view}");
    completed(&h, run).await;
    // The Bash write after the approval ran without a second request.
    let ws = h.workspace(h.user_of(session).await, session);
    assert_eq!(
        std::fs::read_to_string(ws.join("plan.txt")).unwrap(),
        "planned\n"
    );
    assert_eq!(requests(&h, session, None).await.len(), 1);
    let mode: Option<String> =
        sqlx::query_scalar("SELECT permission_mode FROM sessions WHERE id = $1")
            .bind(session)
            .fetch_one(&h.pool)
            .await
            .unwrap();
    assert_eq!(mode.as_deref(), Some("acceptEdits"));
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn two_answers_at_once_one_wins_and_a_canceled_run_ends_its_requests(pool: PgPool) {
    let h = Harness::start(pool, scenarios(), &[]).await;
    let (session, run) = create(
        &h,
        json!({"prompt": "[scenario:wait] Write it.", "permission_mode": "default"}),
    )
    .await;
    let request = wait_request(&h, session, 1, run).await;
    let (a, b) = tokio::join!(
        answer(&h, &request["id"], json!({"decision": "allow"})),
        answer(&h, &request["id"], json!({"decision": "deny"})),
    );
    let mut statuses = [a.0, b.0];
    statuses.sort();
    assert_eq!(statuses, [200, 409], "{a:?} {b:?}");
    let loser = if a.0 == 409 { &a.1 } else { &b.1 };
    assert_eq!(loser["error"]["code"], "already_answered", "{loser}");
    completed(&h, run).await;

    // Canceling a run that waits for an answer ends it promptly and its request with it.
    let (session, run) = create(
        &h,
        json!({"prompt": "[scenario:wait] Again.", "permission_mode": "default"}),
    )
    .await;
    let request = wait_request(&h, session, 1, run).await;
    let started = Instant::now();
    let res = h
        .client
        .post(format!("{}/api/v1/sessions/{session}/cancel", h.backend))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}", res.status());
    let status = h
        .wait_status(
            run,
            &["canceled", "completed", "failed"],
            Duration::from_secs(30),
        )
        .await;
    assert_eq!(status, "canceled");
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
    let all = requests(&h, session, None).await;
    assert_eq!(all[0]["status"], "canceled", "{all:?}");
    let (status, body) = answer(&h, &request["id"], json!({"decision": "allow"})).await;
    assert_eq!(status, 410, "{body}");
    assert_eq!(body["error"]["code"], "request_expired");
    let ws = h.workspace(h.user_of(session).await, session);
    assert!(!ws.join("late.txt").exists());
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn a_manager_restarted_while_a_request_waits_never_leaves_the_run_hanging(pool: PgPool) {
    // The test polls the public API for up to a minute: no rate limit.
    let mut h = Harness::start_full(
        pool,
        scenarios(),
        &[("SHUTDOWN_TIMEOUT_SECONDS", "3")],
        &[("RATE_LIMIT_PER_MINUTE", "0")],
        None,
    )
    .await;
    let (session, run) = create(
        &h,
        json!({"prompt": "[scenario:wait] Write it.", "permission_mode": "default"}),
    )
    .await;
    let first = wait_request(&h, session, 1, run).await;
    // Like SIGTERM: the manager drains; the waiting run cannot finish in the grace period.
    h.stop_manager(Duration::from_secs(60)).await;
    h.restart_manager().await;
    // The run is stopped and re-queued; on the new manager it either asks again (answered here)
    // or ends; its first request is over either way, and nothing waits forever.
    let deadline = Instant::now() + ASK_LIMIT;
    loop {
        let all = requests(&h, session, None).await;
        let status = h.run_status(run).await;
        if ["completed", "failed", "canceled"].contains(&status.as_str()) {
            // The re-queued attempt resumed the conversation, in which the canceled request's
            // denial is recorded, and went on without it (or the run failed): no hang, and the
            // first request is over.
            assert_eq!(all[0]["status"], "canceled", "{all:?}");
            assert!(all.iter().all(|r| r["status"] != "pending"), "{all:?}");
            let (code, _) = answer(&h, &first["id"], json!({"decision": "allow"})).await;
            assert_eq!(code, 410);
            return;
        }
        if all.len() >= 2 && all[1]["status"] == "pending" {
            assert_ne!(all[0]["status"], "pending", "{all:?}");
            let (code, _) = answer(&h, &first["id"], json!({"decision": "allow"})).await;
            assert_eq!(code, 410);
            let (code, body) = answer(&h, &all[1]["id"], json!({"decision": "allow"})).await;
            assert_eq!(code, 200, "{body}");
            completed(&h, run).await;
            let ws = h.workspace(h.user_of(session).await, session);
            assert_eq!(
                std::fs::read_to_string(ws.join("late.txt")).unwrap(),
                "late\n"
            );
            return;
        }
        assert!(
            Instant::now() < deadline,
            "run {status}, requests {all:?}; events {:?}",
            h.events(run).await
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
