//! The live-updates WebSocket: two backends on one database, resumption, bursts, refusals.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{TestApp, text_batch};
use futures::{SinkExt, StreamExt};
use protocol::ErrorCode;
use protocol::live::{CLOSE_UNAUTHORIZED, ServerMessage};
use serde_json::json;
use sqlx::PgPool;
use tokio_tungstenite::tungstenite::Message;
use uuid::Uuid;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(app: &TestApp) -> Ws {
    let url = format!("ws://{}/api/v1/ws", app.addr);
    tokio_tungstenite::connect_async(url)
        .await
        .expect("websocket")
        .0
}

async fn send(ws: &mut Ws, v: serde_json::Value) {
    ws.send(Message::Text(v.to_string().into())).await.unwrap();
}

/// The next server message (pings skipped); panics after 10 s.
async fn next(ws: &mut Ws) -> ServerMessage {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("a message within 10 s")
            .expect("the socket is open")
            .expect("a frame");
        match msg {
            Message::Text(t) => return serde_json::from_str(&t).expect("a server message"),
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("unexpected frame {other:?}"),
        }
    }
}

/// Authenticated with a token as the first message.
async fn authed(app: &TestApp, token: &str) -> Ws {
    let mut ws = connect(app).await;
    send(&mut ws, json!({"type": "auth", "token": token})).await;
    assert!(matches!(next(&mut ws).await, ServerMessage::Ready { .. }));
    ws
}

/// Collects event seqs for `session` until `n` arrived (other messages are skipped).
async fn events(ws: &mut Ws, session: Uuid, n: usize) -> Vec<i64> {
    let mut seqs = Vec::new();
    while seqs.len() < n {
        if let ServerMessage::Event {
            session_id,
            seq,
            event,
        } = next(ws).await
        {
            assert_eq!(session_id, session);
            assert_eq!(event.seq, seq);
            seqs.push(seq);
        }
    }
    seqs
}

async fn subscribe(ws: &mut Ws, session: Uuid, after: i64) {
    send(
        ws,
        json!({"type": "subscribe", "session_id": session, "after": after}),
    )
    .await;
    loop {
        match next(ws).await {
            ServerMessage::Subscribed {
                session_id,
                after: a,
            } => {
                assert_eq!((session_id, a), (session, after));
                return;
            }
            ServerMessage::SessionUpdated { .. } => continue,
            other => panic!("expected subscribed, got {other:?}"),
        }
    }
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn events_ingested_through_one_backend_reach_a_client_of_another_in_order(pool: PgPool) {
    let a = Arc::new(TestApp::spawn(pool.clone()).await);
    let b = TestApp::spawn(pool).await;
    let token = a.register("a@example.com").await;
    let (session, run_id) = a.task(&token, "work", None).await;
    let run = a.claim("w", 0).await.unwrap();

    let mut ws = authed(&b, &token).await;
    subscribe(&mut ws, session, 0).await;
    let writer = {
        let a = a.clone();
        tokio::spawn(async move {
            for i in 0..10 {
                let res = a
                    .internal(
                        &format!("/runs/{run_id}/events"),
                        text_batch("w", run.epoch, 1 + i * 5, 5),
                    )
                    .await;
                assert_eq!(res.status(), 200);
            }
        })
    };
    let seqs = events(&mut ws, session, 50).await;
    writer.await.unwrap();
    assert_eq!(seqs, (1..=50).collect::<Vec<_>>());
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn a_client_that_reconnects_with_after_gets_exactly_what_it_missed(pool: PgPool) {
    let app = Arc::new(TestApp::spawn(pool).await);
    let token = app.register("a@example.com").await;
    let (session, run_id) = app.task(&token, "work", None).await;
    let run = app.claim("w", 0).await.unwrap();
    let writer = {
        let app = app.clone();
        tokio::spawn(async move {
            for i in 0..40 {
                app.internal(
                    &format!("/runs/{run_id}/events"),
                    text_batch("w", run.epoch, 1 + i * 10, 10),
                )
                .await;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };
    let mut ws = authed(&app, &token).await;
    subscribe(&mut ws, session, 0).await;
    let mut seen = events(&mut ws, session, 37).await;
    // Drop the connection in the middle of the burst, then resume.
    drop(ws);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let last = *seen.last().unwrap();
    let mut ws = authed(&app, &token).await;
    subscribe(&mut ws, session, last).await;
    writer.await.unwrap();
    seen.extend(events(&mut ws, session, 400 - seen.len()).await);
    assert_eq!(seen, (1..=400).collect::<Vec<_>>());
    // And nothing more.
    let extra = tokio::time::timeout(Duration::from_millis(300), ws.next()).await;
    assert!(
        extra.is_err() || matches!(extra, Ok(Some(Ok(Message::Ping(_))))),
        "unexpected {extra:?}"
    );
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn a_burst_of_1000_events_arrives_complete_and_in_order(pool: PgPool) {
    let app = Arc::new(TestApp::spawn(pool).await);
    let token = app.register("a@example.com").await;
    let (session, run_id) = app.task(&token, "work", None).await;
    let run = app.claim("w", 0).await.unwrap();
    let mut ws = authed(&app, &token).await;
    subscribe(&mut ws, session, 0).await;
    let mut writers = Vec::new();
    for w in 0..5 {
        let app = app.clone();
        writers.push(tokio::spawn(async move {
            for b in 0..10 {
                let from = 1 + (w * 10 + b) * 20;
                let res = app
                    .internal(
                        &format!("/runs/{run_id}/events"),
                        text_batch("w", run.epoch, from, 20),
                    )
                    .await;
                assert_eq!(res.status(), 200);
            }
        }));
    }
    let seqs = events(&mut ws, session, 1000).await;
    for w in writers {
        w.await.unwrap();
    }
    assert_eq!(seqs, (1..=1000).collect::<Vec<_>>());
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn unauthenticated_or_foreign_subscriptions_are_refused(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let alice = app.register("alice@example.com").await;
    let bob = app.register("bob@example.com").await;
    let (session, _) = app.task(&alice, "alice's", None).await;

    // No auth: the first message is a subscribe.
    let mut ws = connect(&app).await;
    send(
        &mut ws,
        json!({"type": "subscribe", "session_id": session, "after": 0}),
    )
    .await;
    assert_closed_with(&mut ws, CLOSE_UNAUTHORIZED).await;
    // A bad token.
    let mut ws = connect(&app).await;
    send(&mut ws, json!({"type": "auth", "token": "not-a-token"})).await;
    assert_closed_with(&mut ws, CLOSE_UNAUTHORIZED).await;
    // Another user's session: refused like a missing one, and the connection stays usable.
    let mut ws = authed(&app, &bob).await;
    send(
        &mut ws,
        json!({"type": "subscribe", "session_id": session, "after": 0}),
    )
    .await;
    match next(&mut ws).await {
        ServerMessage::Error {
            code, session_id, ..
        } => {
            assert_eq!(code, ErrorCode::NotFound);
            assert_eq!(session_id, Some(session));
        }
        other => panic!("expected an error, got {other:?}"),
    }
    send(
        &mut ws,
        json!({"type": "subscribe", "session_id": Uuid::new_v4(), "after": 0}),
    )
    .await;
    assert!(
        matches!(next(&mut ws).await, ServerMessage::Error { code, .. } if code == ErrorCode::NotFound)
    );
    // A plain GET is not a WebSocket.
    let res = app.client.get(app.url("/api/v1/ws")).send().await.unwrap();
    assert_eq!(res.status(), 400);
}

async fn assert_closed_with(ws: &mut Ws, code: u16) {
    loop {
        match tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("closed in time")
        {
            Some(Ok(Message::Close(Some(frame)))) => {
                assert_eq!(u16::from(frame.code), code, "{}", frame.reason);
                return;
            }
            Some(Ok(Message::Ping(_))) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    }
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn session_list_changes_are_pushed_to_the_owner_only(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let alice = app.register("alice@example.com").await;
    let bob = app.register("bob@example.com").await;
    let mut alice_ws = authed(&app, &alice).await;
    let mut bob_ws = authed(&app, &bob).await;
    let (session, _) = app.task(&alice, "watch me", None).await;
    match next(&mut alice_ws).await {
        ServerMessage::SessionUpdated { session: s } => {
            assert_eq!(s.id, session);
            assert_eq!(s.title, "watch me");
        }
        other => panic!("expected a session update, got {other:?}"),
    }
    app.claim("w", 0).await.unwrap();
    match next(&mut alice_ws).await {
        ServerMessage::SessionUpdated { session: s } => {
            assert_eq!(s.status, protocol::SessionStatus::Running)
        }
        other => panic!("expected a session update, got {other:?}"),
    }
    let res = app
        .client
        .patch(app.url(&format!("/api/v1/sessions/{session}")))
        .bearer_auth(&alice)
        .json(&json!({"title": "renamed"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    match next(&mut alice_ws).await {
        ServerMessage::SessionUpdated { session: s } => assert_eq!(s.title, "renamed"),
        other => panic!("expected a session update, got {other:?}"),
    }
    // Bob heard nothing.
    let quiet = tokio::time::timeout(Duration::from_millis(300), bob_ws.next()).await;
    assert!(
        quiet.is_err() || matches!(quiet, Ok(Some(Ok(Message::Ping(_))))),
        "bob got {quiet:?}"
    );
}

/// The next `session_updated` for `session` whose `pending_inputs` is `count` (others skipped).
async fn pending_update(ws: &mut Ws, session: Uuid, count: i64) {
    loop {
        if let ServerMessage::SessionUpdated { session: s } = next(ws).await
            && s.id == session
            && s.pending_inputs == count
        {
            return;
        }
    }
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn a_request_waiting_for_an_answer_marks_the_session_in_the_list(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let alice = app.register("alice@example.com").await;
    let mut ws = authed(&app, &alice).await;
    let (session, _) = app.task(&alice, "ask me", None).await;
    let run = app.claim("w", 0).await.unwrap();
    let request = Uuid::new_v4();
    let res = app
        .internal(
            &format!("/runs/{}/events", run.run_id),
            json!({"worker_id": "w", "epoch": run.epoch, "events": [{
                "run_seq": 1, "time": chrono::Utc::now(), "type": "input_request",
                "payload": {"request_id": request, "kind": "permission", "tool_name": "Bash",
                    "input": {"command": "ls"},
                    "expires_at": chrono::Utc::now() + chrono::Duration::minutes(5)}}]}),
        )
        .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    // The session's status did not change, yet its list entry is pushed with the mark…
    pending_update(&mut ws, session, 1).await;
    let res = app
        .post(
            &alice,
            &format!("/api/v1/input-requests/{request}/answer"),
            json!({"decision": "allow"}),
        )
        .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    // … and again without it once answered.
    pending_update(&mut ws, session, 0).await;
}
