//! Event ingestion and reading: idempotent batches, a gap-free per-session sequence, readers that
//! never miss an event.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{TestApp, text_batch};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn a_redelivered_batch_is_stored_once(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let token = app.register("a@example.com").await;
    let (session, run_id) = app.task(&token, "work", None).await;
    let run = app.claim("w", 0).await.unwrap();
    let batch = text_batch("w", run.epoch, 1, 5);
    let first: Value = app
        .internal(&format!("/runs/{run_id}/events"), batch.clone())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(first, json!({"stored": 5, "duplicates": 0, "last_seq": 5}));
    let again: Value = app
        .internal(&format!("/runs/{run_id}/events"), batch.clone())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again, json!({"stored": 0, "duplicates": 5, "last_seq": 5}));
    // Overlapping: 4..8 stores only 6..8.
    let overlap: Value = app
        .internal(
            &format!("/runs/{run_id}/events"),
            text_batch("w", run.epoch, 4, 5),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        overlap,
        json!({"stored": 3, "duplicates": 2, "last_seq": 8})
    );
    // After the run completes, a late re-delivery is still answered idempotently.
    app.internal(
        &format!("/runs/{run_id}/complete"),
        json!({"worker_id": "w", "epoch": run.epoch}),
    )
    .await;
    let late = app.internal(&format!("/runs/{run_id}/events"), batch).await;
    assert_eq!(late.status(), StatusCode::OK);

    let page: Value = app
        .get(
            &token,
            &format!("/api/v1/sessions/{session}/events?after=0"),
        )
        .await
        .json()
        .await
        .unwrap();
    let seqs: Vec<i64> = page["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(seqs, (1..=8).collect::<Vec<_>>());
    let texts: Vec<&str> = page["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["payload"]["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts[5], "event 6");
    assert_eq!(page["next_after"], 8);
    assert_eq!(page["has_more"], false);
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn concurrent_ingestion_keeps_the_sequence_gap_free_and_readers_miss_nothing(pool: PgPool) {
    let app = Arc::new(TestApp::spawn(pool).await);
    let token = app.register("a@example.com").await;
    let (session, run_id) = app.task(&token, "work", None).await;
    let run = app.claim("w", 0).await.unwrap();
    const WRITERS: i64 = 8;
    const BATCHES: i64 = 25;
    const SIZE: i64 = 10;
    let total = WRITERS * BATCHES * SIZE;

    // A reader that pages with `after` while the writers write.
    let reader = {
        let app = app.clone();
        let token = token.clone();
        tokio::spawn(async move {
            let mut after = 0;
            let mut seen = Vec::new();
            while (seen.len() as i64) < total {
                let page: Value = app
                    .get(
                        &token,
                        &format!("/api/v1/sessions/{session}/events?after={after}&limit=37"),
                    )
                    .await
                    .json()
                    .await
                    .unwrap();
                for e in page["events"].as_array().unwrap() {
                    seen.push((e["seq"].as_i64().unwrap(), e["run_seq"].as_i64().unwrap()));
                }
                after = page["next_after"].as_i64().unwrap();
                if page["events"].as_array().unwrap().is_empty() {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
            seen
        })
    };
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let app = app.clone();
        let epoch = run.epoch;
        writers.push(tokio::spawn(async move {
            for b in 0..BATCHES {
                // Each writer owns a disjoint range of run_seq; batches also get sent twice.
                let from = 1 + (w * BATCHES + b) * SIZE;
                let batch = text_batch("w", epoch, from, SIZE);
                for _ in 0..2 {
                    let res = app
                        .internal(&format!("/runs/{run_id}/events"), batch.clone())
                        .await;
                    assert_eq!(res.status(), StatusCode::OK);
                }
            }
        }));
    }
    for w in writers {
        w.await.unwrap();
    }
    let seen = tokio::time::timeout(Duration::from_secs(30), reader)
        .await
        .expect("reader done")
        .unwrap();
    let seqs: Vec<i64> = seen.iter().map(|(s, _)| *s).collect();
    assert_eq!(
        seqs,
        (1..=total).collect::<Vec<_>>(),
        "the reader saw a gap, a duplicate or disorder"
    );
    let mut run_seqs: Vec<i64> = seen.iter().map(|(_, r)| *r).collect();
    run_seqs.sort_unstable();
    assert_eq!(run_seqs, (1..=total).collect::<Vec<_>>());
    let last: i64 = sqlx::query_scalar("SELECT last_seq FROM sessions WHERE id = $1")
        .bind(session)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(last, total);
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn typed_events_fill_tool_executions_usage_and_the_agent_session(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let token = app.register("a@example.com").await;
    let (session, run_id) = app.task(&token, "work", None).await;
    let run = app.claim("w", 0).await.unwrap();
    let batch = json!({"worker_id": "w", "epoch": run.epoch, "events": [
        {"run_seq": 1, "time": "2026-01-01T00:00:00Z", "type": "system_init", "payload": {"agent_session_id": "agent-123", "tools": ["Bash"]}},
        {"run_seq": 2, "time": "2026-01-01T00:00:01Z", "type": "tool_use", "payload": {"tool_use_id": "t1", "name": "Bash", "input": {"command": "ls"}}},
        {"run_seq": 3, "time": "2026-01-01T00:00:03Z", "type": "tool_result", "payload": {"tool_use_id": "t1", "content": "a.txt", "is_error": false}},
        {"run_seq": 4, "time": "2026-01-01T00:00:04Z", "type": "result", "payload": {"num_turns": 2, "duration_ms": 4000, "total_cost_usd": 0.01, "usage": {"input_tokens": 100, "output_tokens": 20}}},
        {"run_seq": 5, "time": "2026-01-01T00:00:04Z", "type": "completed", "payload": {}}
    ]});
    let res = app.internal(&format!("/runs/{run_id}/events"), batch).await;
    assert_eq!(res.status(), StatusCode::OK);
    let tool: (String, Option<i64>, Option<bool>) =
        sqlx::query_as("SELECT name, duration_ms, is_error FROM tool_executions WHERE run_id = $1")
            .bind(run_id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(tool, ("Bash".to_owned(), Some(2000), Some(false)));
    app.internal(
        &format!("/runs/{run_id}/complete"),
        json!({"worker_id": "w", "epoch": run.epoch}),
    )
    .await;
    let view: Value = app
        .get(&token, &format!("/api/v1/runs/{run_id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(view["usage"]["input_tokens"], 100);
    assert_eq!(view["usage"]["num_turns"], 2);
    // A follow-up is claimed with the agent session to resume.
    app.task(&token, "follow-up", Some(session)).await;
    let next = app.claim("w", 0).await.unwrap();
    assert_eq!(next.agent_session_id.as_deref(), Some("agent-123"));
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn bad_batches_are_refused(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let token = app.register("a@example.com").await;
    let (_, run_id) = app.task(&token, "work", None).await;
    let run = app.claim("w", 0).await.unwrap();
    let unknown_type = json!({"worker_id": "w", "epoch": run.epoch, "events": [
        {"run_seq": 1, "time": "2026-01-01T00:00:00Z", "type": "no_such_type", "payload": {}}]});
    let twice = json!({"worker_id": "w", "epoch": run.epoch, "events": [
        {"run_seq": 1, "time": "2026-01-01T00:00:00Z", "type": "thinking", "payload": {"text": "a"}},
        {"run_seq": 1, "time": "2026-01-01T00:00:00Z", "type": "thinking", "payload": {"text": "b"}}]});
    let zero = text_batch("w", run.epoch, 0, 1);
    for body in [unknown_type, twice, zero] {
        let res = app.internal(&format!("/runs/{run_id}/events"), body).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }
    let unknown_run = app
        .internal(
            &format!("/runs/{}/events", uuid::Uuid::new_v4()),
            text_batch("w", 1, 1, 1),
        )
        .await;
    assert_eq!(unknown_run.status(), StatusCode::NOT_FOUND);
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn an_agents_nul_characters_are_stored_as_replacement_characters(pool: PgPool) {
    // PostgreSQL keeps no U+0000 in text or jsonb; a tool's output may hold one (a binary file
    // printed). The batch goes in, each NUL stored as U+FFFD; a user's own text with one is 422.
    let app = TestApp::spawn(pool).await;
    let token = app.register("a@example.com").await;
    let (session, run_id) = app.task(&token, "work", None).await;
    let run = app.claim("w", 0).await.unwrap();
    let batch = json!({"worker_id": "w", "epoch": run.epoch, "events": [
        {"run_seq": 1, "time": "2026-01-01T00:00:00Z", "type": "assistant_text",
         "payload": {"text": "bin\u{0}ary"}}
    ]});
    let res = app.internal(&format!("/runs/{run_id}/events"), batch).await;
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "{}",
        res.text().await.unwrap()
    );
    let page: Value = app
        .get(
            &token,
            &format!("/api/v1/sessions/{session}/events?after=0"),
        )
        .await
        .json()
        .await
        .unwrap();
    let texts: Vec<&str> = page["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["payload"]["text"].as_str())
        .collect();
    assert!(texts.contains(&"bin\u{fffd}ary"), "{page}");
    let res = app
        .post(&token, "/api/v1/tasks", json!({"prompt": "a\u{0}b"}))
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
}
