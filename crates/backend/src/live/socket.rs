//! One browser's WebSocket: authentication, subscriptions, session-list changes, keep-alive.
//!
//! Each subscription is a task that first reads the session's events from the table after its
//! cursor, then takes new ones from the session's feed in the hub (reading from the table again
//! after a gap or when it fell behind), and queues them for the socket on a bounded channel. The socket writer is the only place that can be slow: a write
//! that does not finish within [`SEND_TIMEOUT`] closes the connection with
//! [`CLOSE_TOO_SLOW`](protocol::live::CLOSE_TOO_SLOW), telling the client to resume from its last
//! sequence number. Nothing is ever dropped to make room.

use std::collections::HashMap;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use futures::{SinkExt, StreamExt};
use protocol::ErrorCode;
use protocol::event::Event;
use protocol::live::{
    CLOSE_BAD_MESSAGE, CLOSE_TOO_SLOW, CLOSE_UNAUTHORIZED, ClientMessage, ServerMessage,
};
use tokio::sync::{broadcast, mpsc};
use tokio::task::JoinHandle;
use uuid::Uuid;

use crate::error::ApiError;
use crate::live::FeedEvent;
use crate::state::AppState;

/// How long a client has to authenticate when no cookie did.
pub const AUTH_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest a single write to the client may take before it counts as too slow.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// Pings keep idle connections alive through proxies.
pub const PING_INTERVAL: Duration = Duration::from_secs(20);
/// Events read from the table per query.
const PAGE: i64 = 500;
/// Messages queued for the socket writer.
const OUTBOX: usize = 256;

type Sink = futures::stream::SplitSink<WebSocket, Message>;

/// What subscriptions queue for the socket writer.
enum Outgoing {
    /// Boxed: a message (an event with its body) is much larger than a frame.
    Message(Box<ServerMessage>),
    /// An event frame serialized once by the session's feed.
    Frame(Utf8Bytes),
}
type Stream = futures::stream::SplitStream<WebSocket>;

/// Who a connection acts for, and the token that proved it (checked again whenever the user's
/// access changes: disabled, a token revoked, the password changed); `None` in single-user mode.
pub struct Authed {
    pub user: Uuid,
    pub token: Option<String>,
}

/// Serves one connection. `authed` is set when the upgrade request was already authenticated (a
/// cookie or an `Authorization` header, or single-user mode).
pub async fn serve(socket: WebSocket, state: AppState, authed: Option<Authed>) {
    // Counted in `workcell_websocket_connections` for as long as the connection lives.
    let _open = telemetry::metrics::websocket_opened();
    let (mut sink, mut stream) = socket.split();
    let authed = match authed {
        Some(a) => a,
        None => match authenticate(&state, &mut stream).await {
            Ok(a) => a,
            Err(reason) => {
                close(&mut sink, CLOSE_UNAUTHORIZED, &reason).await;
                return;
            }
        },
    };
    let user = authed.user;
    if send(&mut sink, &ServerMessage::Ready { user_id: user })
        .await
        .is_err()
    {
        return;
    }
    let mut conn = Connection {
        state,
        user,
        token: authed.token,
        subscriptions: HashMap::new(),
    };
    let reason = conn.run(&mut sink, &mut stream).await;
    conn.stop_all();
    if let Some((code, text)) = reason {
        close(&mut sink, code, &text).await;
    }
}

/// Checks a token for the WebSocket: a valid credential holding `sessions:read`.
pub async fn check_token(state: &AppState, token: &str) -> Result<Uuid, String> {
    let user = crate::auth::authenticate(state, token)
        .await
        .map_err(|e| e.to_string())?;
    user.require(crate::auth::scope::Requirement::Scope(
        protocol::accounts::Scope::SessionsRead,
    ))
    .map_err(|e| e.to_string())?;
    Ok(user.id)
}

/// Waits for `{"type":"auth","token":...}` as the first message.
async fn authenticate(state: &AppState, stream: &mut Stream) -> Result<Authed, String> {
    let first = tokio::time::timeout(AUTH_TIMEOUT, async {
        loop {
            match stream.next().await {
                Some(Ok(Message::Text(t))) => return Some(t),
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                _ => return None,
            }
        }
    })
    .await
    .map_err(|_| {
        "no credentials within 10 s: send {\"type\":\"auth\",\"token\":...} first".to_owned()
    })?
    .ok_or_else(|| "the connection closed before authenticating".to_owned())?;
    let token = match serde_json::from_str::<ClientMessage>(&first) {
        Ok(ClientMessage::Auth { token }) => token,
        _ => return Err("the first message must be {\"type\":\"auth\",\"token\":...}".to_owned()),
    };
    let user = check_token(state, &token).await?;
    Ok(Authed {
        user,
        token: Some(token),
    })
}

struct Connection {
    state: AppState,
    user: Uuid,
    token: Option<String>,
    subscriptions: HashMap<Uuid, JoinHandle<()>>,
}

impl Connection {
    /// Runs until the client leaves (`None`) or must be closed (code and reason).
    async fn run(&mut self, sink: &mut Sink, stream: &mut Stream) -> Option<(u16, String)> {
        let (out_tx, mut out_rx) = mpsc::channel::<Outgoing>(OUTBOX);
        let mut changes = self.state.live.session_changes();
        let mut access = self.state.live.access_changes();
        let mut ping = tokio::time::interval(PING_INTERVAL);
        ping.tick().await;
        let shutdown = self.state.shutdown.clone();
        loop {
            tokio::select! {
                incoming = stream.next() => {
                    let text = match incoming {
                        Some(Ok(Message::Text(t))) => t,
                        Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                        Some(Ok(Message::Binary(_))) => {
                            return Some((CLOSE_BAD_MESSAGE, "binary messages are not supported".into()));
                        }
                        Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return None,
                    };
                    match serde_json::from_str::<ClientMessage>(&text) {
                        Ok(msg) => {
                            if let Some(reply) = self.handle(msg, &out_tx).await
                                && timed_send(sink, &reply).await.is_err()
                            {
                                return Some(too_slow());
                            }
                        }
                        Err(e) => {
                            return Some((CLOSE_BAD_MESSAGE, format!("not a valid message: {e}")));
                        }
                    }
                }
                Some(out) = out_rx.recv() => {
                    let sent = match out {
                        Outgoing::Message(msg) => timed_send(sink, &msg).await,
                        Outgoing::Frame(frame) => timed_send_frame(sink, frame).await,
                    };
                    if sent.is_err() {
                        return Some(too_slow());
                    }
                }
                change = changes.recv() => {
                    let change = match change {
                        Ok(c) => c,
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                            tracing::warn!(missed = n, "websocket missed session changes");
                            continue;
                        }
                        Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
                    };
                    if change.user_id != self.user {
                        continue;
                    }
                    let msg = match crate::sessions::get_owned(&self.state.pool, self.user, change.session_id).await {
                        Ok(session) => ServerMessage::SessionUpdated { session },
                        Err(ApiError::NotFound(_)) => ServerMessage::SessionDeleted { session_id: change.session_id },
                        Err(e) => {
                            tracing::warn!(error = %e, "cannot read a changed session");
                            continue;
                        }
                    };
                    if timed_send(sink, &msg).await.is_err() {
                        return Some(too_slow());
                    }
                }
                changed = access.recv() => {
                    // On a lag, some user's access changed unseen: check ours too.
                    let ours = match changed {
                        Ok(user) => user == self.user,
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => true,
                        Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
                    };
                    if ours && let Some(token) = &self.token
                        && let Err(reason) = check_token(&self.state, token).await
                    {
                        tracing::info!(user_id = %self.user, "websocket closed: its credential no longer works");
                        return Some((CLOSE_UNAUTHORIZED, reason));
                    }
                }
                _ = ping.tick() => {
                    let ping = tokio::time::timeout(SEND_TIMEOUT, sink.send(Message::Ping(Default::default())));
                    if !matches!(ping.await, Ok(Ok(()))) {
                        return Some(too_slow());
                    }
                }
                _ = shutdown.cancelled() => {
                    return Some((1001, "the server is shutting down; reconnect and resume with `after`".into()));
                }
            }
        }
    }

    /// Acts on a client message; returns an answer to send at once, if any.
    async fn handle(
        &mut self,
        msg: ClientMessage,
        out: &mpsc::Sender<Outgoing>,
    ) -> Option<ServerMessage> {
        match msg {
            ClientMessage::Auth { .. } => None,
            ClientMessage::Unsubscribe { session_id } => {
                self.stop(session_id);
                None
            }
            ClientMessage::Subscribe { session_id, after } => {
                if after < 0 {
                    return Some(error(
                        session_id,
                        ErrorCode::ValidationError,
                        "after must be 0 or more",
                    ));
                }
                match crate::sessions::ensure_owned(&self.state.pool, self.user, session_id).await {
                    Ok(()) => {}
                    Err(ApiError::NotFound(_)) => {
                        return Some(error(session_id, ErrorCode::NotFound, "session not found"));
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "subscribe failed");
                        return Some(error(
                            session_id,
                            ErrorCode::Internal,
                            "could not subscribe; try again",
                        ));
                    }
                }
                self.stop(session_id);
                let task = tokio::spawn(follow(self.state.clone(), out.clone(), session_id, after));
                self.subscriptions.insert(session_id, task);
                None
            }
        }
    }

    /// Ends a subscription; its task's `Following` guard lets the hub stop the feed once the
    /// aborted task is dropped.
    fn stop(&mut self, session: Uuid) {
        if let Some(task) = self.subscriptions.remove(&session) {
            task.abort();
        }
    }

    fn stop_all(&mut self) {
        let sessions: Vec<Uuid> = self.subscriptions.keys().copied().collect();
        for s in sessions {
            self.stop(s);
        }
    }
}

/// Sends the session's events after `cursor`, then live ones, until the connection drops it.
async fn follow(state: AppState, out: mpsc::Sender<Outgoing>, session_id: Uuid, cursor: i64) {
    if let Err(e) = follow_inner(&state, &out, session_id, cursor).await {
        tracing::warn!(error = %e, %session_id, "following a session failed");
        let _ = out
            .send(Outgoing::Message(Box::new(error(
                session_id,
                ErrorCode::Internal,
                "reading events failed; resubscribe with `after`",
            ))))
            .await;
    }
}

/// The connection went away; nothing to report.
struct Gone;

/// A follower's place on the session's feed; leaving it (also by the task being aborted) lets the
/// hub stop the feed once nobody follows the session.
struct Following {
    hub: crate::live::Hub,
    session: Uuid,
    rx: Option<broadcast::Receiver<std::sync::Arc<[FeedEvent]>>>,
}

impl Following {
    async fn recv(&mut self) -> Result<std::sync::Arc<[FeedEvent]>, broadcast::error::RecvError> {
        match self.rx.as_mut() {
            Some(rx) => rx.recv().await,
            None => Err(broadcast::error::RecvError::Closed),
        }
    }
}

impl Drop for Following {
    fn drop(&mut self) {
        self.rx = None;
        self.hub.release_session(self.session);
    }
}

async fn follow_inner(
    state: &AppState,
    out: &mpsc::Sender<Outgoing>,
    session_id: Uuid,
    mut cursor: i64,
) -> Result<(), ApiError> {
    // Listen first, then catch up: anything committed after the catch-up's read is broadcast.
    let mut live = Following {
        hub: state.live.clone(),
        session: session_id,
        rx: Some(state.live.follow(&state.pool, session_id).await?),
    };
    if out
        .send(Outgoing::Message(Box::new(ServerMessage::Subscribed {
            session_id,
            after: cursor,
        })))
        .await
        .is_err()
    {
        return Ok(());
    }
    if catch_up(state, out, session_id, &mut cursor)
        .await?
        .is_err()
    {
        return Ok(());
    }
    loop {
        match live.recv().await {
            Ok(batch) => {
                for event in batch.iter() {
                    if event.seq <= cursor {
                        continue;
                    }
                    if event.seq > cursor + 1 {
                        // A gap (the feed started later than this follower): fill it from the table.
                        if catch_up(state, out, session_id, &mut cursor)
                            .await?
                            .is_err()
                        {
                            return Ok(());
                        }
                        if event.seq <= cursor {
                            continue;
                        }
                    }
                    if out
                        .send(Outgoing::Frame(event.frame.clone()))
                        .await
                        .is_err()
                    {
                        return Ok(());
                    }
                    cursor = event.seq;
                }
            }
            Err(broadcast::error::RecvError::Lagged(_)) => {
                if catch_up(state, out, session_id, &mut cursor)
                    .await?
                    .is_err()
                {
                    return Ok(());
                }
            }
            Err(broadcast::error::RecvError::Closed) => return Ok(()),
        }
    }
}

/// Sends everything stored after `cursor`.
async fn catch_up(
    state: &AppState,
    out: &mpsc::Sender<Outgoing>,
    session_id: Uuid,
    cursor: &mut i64,
) -> Result<Result<(), Gone>, ApiError> {
    loop {
        let page = crate::events::page(&state.pool, session_id, *cursor, PAGE).await?;
        for event in page.events {
            let seq = event.seq;
            if deliver(out, session_id, event).await.is_err() {
                return Ok(Err(Gone));
            }
            *cursor = seq;
        }
        if !page.has_more {
            return Ok(Ok(()));
        }
    }
}

async fn deliver(out: &mpsc::Sender<Outgoing>, session_id: Uuid, event: Event) -> Result<(), Gone> {
    out.send(Outgoing::Message(Box::new(ServerMessage::Event {
        session_id,
        seq: event.seq,
        event,
    })))
    .await
    .map_err(|_| Gone)
}

fn error(session_id: Uuid, code: ErrorCode, message: &str) -> ServerMessage {
    ServerMessage::Error {
        code,
        message: message.to_owned(),
        session_id: Some(session_id),
    }
}

fn too_slow() -> (u16, String) {
    (
        CLOSE_TOO_SLOW,
        "too slow to keep up: reconnect and resubscribe with `after` = the last seq you received"
            .into(),
    )
}

async fn send(sink: &mut Sink, msg: &ServerMessage) -> Result<(), ()> {
    let text = serde_json::to_string(msg).map_err(|_| ())?;
    sink.send(Message::Text(Utf8Bytes::from(text)))
        .await
        .map_err(|_| ())
}

async fn timed_send_frame(sink: &mut Sink, frame: Utf8Bytes) -> Result<(), ()> {
    match tokio::time::timeout(SEND_TIMEOUT, sink.send(Message::Text(frame))).await {
        Ok(Ok(())) => Ok(()),
        _ => Err(()),
    }
}

async fn timed_send(sink: &mut Sink, msg: &ServerMessage) -> Result<(), ()> {
    match tokio::time::timeout(SEND_TIMEOUT, send(sink, msg)).await {
        Ok(r) => r,
        Err(_) => Err(()),
    }
}

async fn close(sink: &mut Sink, code: u16, reason: &str) {
    // Close reasons are limited to 123 bytes.
    let mut reason = reason.to_owned();
    while reason.len() > 123 {
        reason.pop();
    }
    let frame = CloseFrame {
        code,
        reason: Utf8Bytes::from(reason),
    };
    let _ = tokio::time::timeout(
        Duration::from_secs(2),
        sink.send(Message::Close(Some(frame))),
    )
    .await;
}
