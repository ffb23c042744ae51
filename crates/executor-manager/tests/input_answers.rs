//! The answer relay against the real backend (served in-process over a fresh database): an
//! `input_request` stored, the owner's answer, the long-poll waking, the answer handed to the
//! executor's `POST /v1/tasks/{run_id}/input-answers` (retried after a failure), and the loop
//! ending once nothing is pending or the lease is gone.
//!
//! The executor's side of the route is a small stand-in here that records what it is handed
//! (its first answer to each request fails with 503, to exercise the retry); the executor's own
//! tests cover the real route.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use chrono::Utc;
use common::{INTERNAL_TOKEN, InProcessBackend};
use executor_manager::backend::{BackendClient, Lease};
use executor_manager::input_answers::Relay;
use executor_manager::runtime::{Credentials, Endpoint, ExecutorClient};
use protocol::input::{InputAnswer, InputKind, InputRequest};
use protocol::{EventBody, RunEvent};
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

#[derive(Clone, Default)]
struct Received {
    /// (when, run id in the path, the answer) of every accepted call.
    taken: Arc<Mutex<Vec<(Instant, Uuid, InputAnswer)>>>,
    /// Calls per request id, refused ones included.
    calls: Arc<Mutex<Vec<Uuid>>>,
    secret: String,
}

async fn take(
    State(r): State<Received>,
    Path(run_id): Path<Uuid>,
    headers: HeaderMap,
    axum::Json(answer): axum::Json<InputAnswer>,
) -> StatusCode {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if auth != format!("Bearer {}", r.secret) {
        return StatusCode::UNAUTHORIZED;
    }
    let calls = {
        let mut calls = r.calls.lock().unwrap();
        calls.push(answer.request_id);
        calls.iter().filter(|id| **id == answer.request_id).count()
    };
    match calls {
        1 => StatusCode::SERVICE_UNAVAILABLE,
        2 => {
            r.taken
                .lock()
                .unwrap()
                .push((Instant::now(), run_id, answer));
            StatusCode::ACCEPTED
        }
        _ => StatusCode::CONFLICT,
    }
}

/// The stand-in executor: (its endpoint, what it received).
async fn executor() -> (Endpoint, Received) {
    let received = Received {
        secret: "executor-secret-0123".into(),
        ..Default::default()
    };
    let app = Router::new()
        .route("/v1/tasks/{run_id}/input-answers", post(take))
        .with_state(received.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base_url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let endpoint = Endpoint {
        base_url,
        credentials: Credentials {
            secret: received.secret.clone(),
            instance: "instance".into(),
        },
    };
    (endpoint, received)
}

fn request(id: Uuid) -> EventBody {
    EventBody::InputRequest(Box::new(InputRequest {
        request_id: id,
        kind: InputKind::Permission,
        tool_name: "Bash".into(),
        tool_use_id: Some("toolu_1".into()),
        input: json!({"command": "echo hi > a.txt"}),
        description: None,
        blocked_path: None,
        questions: vec![],
        plan: None,
        expires_at: Utc::now() + chrono::Duration::seconds(300),
    }))
}

async fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if done() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    done()
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn answers_reach_the_executor_and_the_relay_stops_when_nothing_is_pending(pool: PgPool) {
    let backend = InProcessBackend::start(pool, &[]).await;
    let http = reqwest::Client::new();
    let res = http
        .post(format!("{}/api/v1/tasks", backend.url))
        .json(&json!({"prompt": "work"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), reqwest::StatusCode::CREATED);
    let client = BackendClient::new(&backend.url, INTERNAL_TOKEN).unwrap();
    let run = client.claim("w", 60, 0).await.unwrap().expect("a run");
    let lease = Lease {
        run_id: run.run_id,
        worker_id: "w".into(),
        epoch: run.epoch,
    };
    let (endpoint, received) = executor().await;
    let mut relay = Relay::new(
        client.clone(),
        ExecutorClient::new(),
        endpoint,
        lease.clone(),
    );

    // Kicked with nothing pending: the loop looks once and ends.
    relay.kick();
    assert!(wait_until(Duration::from_secs(5), || !relay.is_running()).await);

    let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
    let events = vec![
        RunEvent {
            run_seq: 1,
            time: Utc::now(),
            body: request(a),
        },
        RunEvent {
            run_seq: 2,
            time: Utc::now(),
            body: request(b),
        },
    ];
    client.events(&lease, events).await.unwrap();
    relay.kick();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(relay.is_running(), "waits while requests are pending");
    assert!(received.taken.lock().unwrap().is_empty());

    let answer = |id: Uuid, body: Value| {
        let http = http.clone();
        let url = format!("{}/api/v1/input-requests/{id}/answer", backend.url);
        async move {
            let res = http.post(url).json(&body).send().await.unwrap();
            assert_eq!(res.status(), reqwest::StatusCode::OK);
            Instant::now()
        }
    };
    let answered_at = answer(a, json!({"decision": "allow", "always": true})).await;
    assert!(
        wait_until(Duration::from_secs(5), || received
            .taken
            .lock()
            .unwrap()
            .len()
            == 1)
        .await,
        "the answer reached the executor"
    );
    let (at, run_id, given) = received.taken.lock().unwrap()[0].clone();
    assert_eq!(run_id, run.run_id);
    assert_eq!(given.request_id, a);
    assert!(given.always);
    assert_eq!(given.answered_by.as_deref(), Some("local@localhost"));
    // One refused attempt (50 ms back-off) included.
    let latency = at.saturating_duration_since(answered_at);
    assert!(
        latency < Duration::from_secs(1),
        "delivered {latency:?} after the answer"
    );
    assert!(relay.is_running(), "b is still pending");

    answer(b, json!({"decision": "deny", "message": "no"})).await;
    assert!(
        wait_until(Duration::from_secs(5), || !relay.is_running()).await,
        "nothing pending, nothing to deliver: the relay stops"
    );
    let taken: Vec<Uuid> = received
        .taken
        .lock()
        .unwrap()
        .iter()
        .map(|(_, _, a)| a.request_id)
        .collect();
    assert_eq!(taken, [a, b], "each answer handed over once");
    assert_eq!(
        received.calls.lock().unwrap().len(),
        4,
        "one retry each, no repeats"
    );
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn the_relay_stops_when_the_run_ends(pool: PgPool) {
    let backend = InProcessBackend::start(pool, &[]).await;
    let http = reqwest::Client::new();
    http.post(format!("{}/api/v1/tasks", backend.url))
        .json(&json!({"prompt": "work"}))
        .send()
        .await
        .unwrap();
    let client = BackendClient::new(&backend.url, INTERNAL_TOKEN).unwrap();
    let run = client.claim("w", 60, 0).await.unwrap().expect("a run");
    let lease = Lease {
        run_id: run.run_id,
        worker_id: "w".into(),
        epoch: run.epoch,
    };
    let (endpoint, received) = executor().await;
    let mut relay = Relay::new(
        client.clone(),
        ExecutorClient::new(),
        endpoint,
        lease.clone(),
    );
    let id = Uuid::new_v4();
    client
        .events(
            &lease,
            vec![RunEvent {
                run_seq: 1,
                time: Utc::now(),
                body: request(id),
            }],
        )
        .await
        .unwrap();
    relay.kick();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(relay.is_running());
    client
        .complete(&lease, protocol::RunOutcome::Canceled)
        .await
        .unwrap();
    assert!(
        wait_until(Duration::from_secs(5), || !relay.is_running()).await,
        "the run's end wakes the poll and ends the loop"
    );
    assert!(received.calls.lock().unwrap().is_empty());
}
