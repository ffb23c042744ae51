//! Following a session over the WebSocket (`/api/v1/ws`), resuming after every drop.
//!
//! A background task connects, authenticates with `{"type":"auth","token":…}` when it has a
//! token (single-user servers and cookies need none), subscribes with `after` = the last
//! sequence number it passed on, and forwards the session's events on a channel. When the
//! connection drops (network, server restart, `4408` too slow, `1001` going away) it reconnects
//! with a back-off and subscribes again from that same number: the server sends every stored
//! event after it, so nothing is lost, and anything at or below it is dropped, so nothing is
//! seen twice. Only a refused credential (`4401`), a session that is not there, or too many
//! failed attempts in a row end it with an error.
//!
//! The channel makes [`Follow::next`] cancel-safe: the caller can `select!` it against a
//! spinner's ticks or Ctrl-C without ever interrupting a connect half-way.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use protocol::ErrorCode;
use protocol::api::SessionView;
use protocol::event::Event;
use protocol::live::{CLOSE_BAD_MESSAGE, CLOSE_UNAUTHORIZED, ClientMessage, ServerMessage};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use uuid::Uuid;

use crate::error::{Error, Result};

/// Failed connection attempts in a row before giving up (about a minute of back-off).
const MAX_FAILURES: u32 = 10;
/// How long the server may stay silent (it pings every 20 s) before the connection counts as
/// dead.
const SILENCE: Duration = Duration::from_secs(60);
/// How long connecting and authenticating may take.
const HANDSHAKE: Duration = Duration::from_secs(15);

/// What the follower passes on.
#[derive(Debug)]
pub enum Update {
    /// The next event of the session (strictly increasing `seq`, no gap, no repeat).
    Event(Box<Event>),
    /// The session changed (status, title).
    Session(Box<SessionView>),
    /// Subscribed (again): events after the last one passed on follow.
    Subscribed,
    /// The connection dropped; trying again.
    Reconnecting { attempt: u32, reason: String },
}

/// A running follower; dropping it closes the connection.
pub struct Follow {
    rx: mpsc::Receiver<Result<Update>>,
    task: JoinHandle<()>,
}

impl Follow {
    /// Follows `session` from after `after` (0: from its first event).
    pub fn start(server: &str, token: Option<String>, session: Uuid, after: i64) -> Follow {
        let (tx, rx) = mpsc::channel(256);
        let url = ws_url(server);
        let task = tokio::spawn(run(url, token, session, after, tx));
        Follow { rx, task }
    }

    /// The next update; `None` once the follower stopped (after an error it reported).
    /// Cancel-safe.
    pub async fn next(&mut self) -> Option<Result<Update>> {
        self.rx.recv().await
    }
}

impl Drop for Follow {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// `http(s)://host/base` → `ws(s)://host/base/api/v1/ws`.
pub fn ws_url(server: &str) -> String {
    let rest = server
        .strip_prefix("https://")
        .map(|r| format!("wss://{r}"))
        .or_else(|| server.strip_prefix("http://").map(|r| format!("ws://{r}")))
        .unwrap_or_else(|| server.to_owned());
    format!("{}/api/v1/ws", rest.trim_end_matches('/'))
}

/// Why one connection ended.
enum End {
    /// Try again from the last sequence number.
    Retry(String),
    /// Stop and report.
    Fatal(Error),
    /// Nobody listens any more.
    Gone,
}

async fn run(
    url: String,
    token: Option<String>,
    session: Uuid,
    after: i64,
    tx: mpsc::Sender<Result<Update>>,
) {
    let mut last = after;
    let mut failures = 0u32;
    loop {
        let end = connection(
            &url,
            token.as_deref(),
            session,
            &mut last,
            &mut failures,
            &tx,
        )
        .await;
        match end {
            End::Gone => return,
            End::Fatal(e) => {
                let _ = tx.send(Err(e)).await;
                return;
            }
            End::Retry(reason) => {
                failures += 1;
                if failures > MAX_FAILURES {
                    let _ = tx
                        .send(Err(Error::Live(format!(
                            "gave up after {MAX_FAILURES} attempts: {reason}"
                        ))))
                        .await;
                    return;
                }
                let update = Update::Reconnecting {
                    attempt: failures,
                    reason,
                };
                if tx.send(Ok(update)).await.is_err() {
                    return;
                }
                tokio::time::sleep(backoff(failures)).await;
            }
        }
    }
}

/// 0.2 s, 0.4 s, 0.8 s, … at most 8 s.
fn backoff(failures: u32) -> Duration {
    Duration::from_millis(200u64.saturating_mul(1 << failures.saturating_sub(1).min(6)))
        .min(Duration::from_secs(8))
}

/// One connection: connect, authenticate, subscribe from `last`, forward until it ends.
async fn connection(
    url: &str,
    token: Option<&str>,
    session: Uuid,
    last: &mut i64,
    failures: &mut u32,
    tx: &mpsc::Sender<Result<Update>>,
) -> End {
    let ws = match tokio::time::timeout(HANDSHAKE, tokio_tungstenite::connect_async(url)).await {
        Err(_) => return End::Retry("connecting timed out".into()),
        Ok(Err(e)) => return handshake_error(e),
        Ok(Ok((ws, _))) => ws,
    };
    let (mut sink, mut stream) = ws.split();
    if let Some(token) = token {
        let auth = ClientMessage::Auth {
            token: token.to_owned(),
        };
        if let Err(e) = send(&mut sink, &auth).await {
            return End::Retry(e);
        }
    }
    let mut subscribed = false;
    loop {
        let timeout = if subscribed { SILENCE } else { HANDSHAKE };
        let msg = match tokio::time::timeout(timeout, stream.next()).await {
            Err(_) => return End::Retry(format!("no word from the server in {timeout:?}")),
            Ok(None) => return End::Retry("the connection closed".into()),
            Ok(Some(Err(e))) => return End::Retry(e.to_string()),
            Ok(Some(Ok(m))) => m,
        };
        let text = match msg {
            Message::Text(t) => t,
            Message::Close(frame) => return closed(frame),
            // Pings are answered by the library; binary frames are not part of the protocol.
            _ => continue,
        };
        // A message type this client does not know (a newer server) is skipped.
        let Ok(msg) = serde_json::from_str::<ServerMessage>(&text) else {
            continue;
        };
        let update = match msg {
            ServerMessage::Ready { .. } => {
                let sub = ClientMessage::Subscribe {
                    session_id: session,
                    after: *last,
                };
                if let Err(e) = send(&mut sink, &sub).await {
                    return End::Retry(e);
                }
                None
            }
            ServerMessage::Subscribed { session_id, .. } if session_id == session => {
                subscribed = true;
                *failures = 0;
                Some(Update::Subscribed)
            }
            // At or below the last one passed on: a repeat after a resume.
            ServerMessage::Event {
                session_id, event, ..
            } if session_id == session && event.seq > *last => {
                *last = event.seq;
                Some(Update::Event(Box::new(event)))
            }
            ServerMessage::SessionUpdated { session: view } if view.id == session => {
                Some(Update::Session(Box::new(view)))
            }
            ServerMessage::SessionDeleted { session_id } if session_id == session => {
                return End::Fatal(Error::Api {
                    status: 404,
                    code: ErrorCode::NotFound,
                    message: "the session was deleted".into(),
                });
            }
            ServerMessage::Error {
                code,
                message,
                session_id,
            } if session_id.is_none() || session_id == Some(session) => {
                return match code {
                    // The server lost its place reading events: resubscribe from ours.
                    ErrorCode::Internal | ErrorCode::Unknown => End::Retry(message),
                    ErrorCode::NotFound => End::Fatal(Error::Api {
                        status: 404,
                        code,
                        message,
                    }),
                    _ => End::Fatal(Error::Live(format!("{message} ({code})"))),
                };
            }
            _ => None,
        };
        if let Some(update) = update
            && tx.send(Ok(update)).await.is_err()
        {
            return End::Gone;
        }
    }
}

async fn send<S>(sink: &mut S, msg: &ClientMessage) -> std::result::Result<(), String>
where
    S: SinkExt<Message> + Unpin,
    S::Error: std::fmt::Display,
{
    let text = serde_json::to_string(msg).map_err(|e| e.to_string())?;
    sink.send(Message::text(text))
        .await
        .map_err(|e| e.to_string())
}

/// The server closed the connection: a refused credential or message ends it, anything else
/// (too slow, shutting down) is resumed.
fn closed(frame: Option<tokio_tungstenite::tungstenite::protocol::CloseFrame>) -> End {
    let Some(frame) = frame else {
        return End::Retry("the server closed the connection".into());
    };
    let reason = frame.reason.to_string();
    match u16::from(frame.code) {
        CLOSE_UNAUTHORIZED => End::Fatal(Error::Auth(format!(
            "the server refused the credential for live updates: {reason}; sign in with `workcell login`"
        ))),
        CLOSE_BAD_MESSAGE => End::Fatal(Error::Live(format!(
            "the server refused a message: {reason}"
        ))),
        _ if frame.code == CloseCode::Normal && reason.is_empty() => {
            End::Retry("the server closed the connection".into())
        }
        code => End::Retry(format!("closed ({code}): {reason}")),
    }
}

/// An upgrade the server answered with an HTTP error: its error body says why.
fn handshake_error(e: tokio_tungstenite::tungstenite::Error) -> End {
    use tokio_tungstenite::tungstenite::Error as WsError;
    match e {
        WsError::Http(res) => {
            let status = res.status();
            let body = res
                .body()
                .as_ref()
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default();
            let err = crate::client::api_error(status, &body);
            if status.is_server_error() || status.as_u16() == 429 {
                End::Retry(err.to_string())
            } else {
                End::Fatal(err)
            }
        }
        WsError::Url(u) => End::Fatal(Error::Usage(format!("WebSocket URL: {u}"))),
        other => End::Retry(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::event::EventBody;
    use tokio::net::TcpListener;
    use tokio_tungstenite::tungstenite::protocol::CloseFrame;

    fn event(session: Uuid, seq: i64) -> ServerMessage {
        ServerMessage::Event {
            session_id: session,
            seq,
            event: Event {
                session_id: session,
                seq,
                run_id: Uuid::nil(),
                run_seq: seq,
                time: chrono::DateTime::from_timestamp(0, 0).unwrap(),
                body: EventBody::AssistantText {
                    text: format!("event {seq}"),
                    parent_tool_use_id: None,
                },
            },
        }
    }

    type Ws = tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>;

    async fn say(ws: &mut Ws, msg: &ServerMessage) {
        ws.send(Message::text(serde_json::to_string(msg).unwrap()))
            .await
            .unwrap();
    }

    /// Reads client messages until a subscription; returns its `after`.
    async fn subscription(ws: &mut Ws) -> i64 {
        loop {
            let Some(Ok(Message::Text(t))) = ws.next().await else {
                panic!("no subscription")
            };
            if let ClientMessage::Subscribe { after, .. } = serde_json::from_str(&t).unwrap() {
                return after;
            }
        }
    }

    /// A server that drops the first connection, closes the second as too slow after
    /// repeating an event, and finishes on the third: the client sees every event once and
    /// resumes each time from the last one it saw.
    #[tokio::test]
    async fn resumes_after_drops_without_losing_or_repeating_events() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let server = format!("http://{}", listener.local_addr().unwrap());
        let session = Uuid::from_u128(9);
        let user = Uuid::from_u128(1);
        let server_task = tokio::spawn(async move {
            let mut afters = Vec::new();
            // 1: events 1 and 2, then the connection just vanishes.
            let (tcp, _) = listener.accept().await.unwrap();
            let mut ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
            say(&mut ws, &ServerMessage::Ready { user_id: user }).await;
            afters.push(subscription(&mut ws).await);
            say(
                &mut ws,
                &ServerMessage::Subscribed {
                    session_id: session,
                    after: 0,
                },
            )
            .await;
            say(&mut ws, &event(session, 1)).await;
            say(&mut ws, &event(session, 2)).await;
            drop(ws);
            // 2: a repeat of 2, then 3, then "too slow".
            let (tcp, _) = listener.accept().await.unwrap();
            let mut ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
            say(&mut ws, &ServerMessage::Ready { user_id: user }).await;
            afters.push(subscription(&mut ws).await);
            say(
                &mut ws,
                &ServerMessage::Subscribed {
                    session_id: session,
                    after: 2,
                },
            )
            .await;
            say(&mut ws, &event(session, 2)).await;
            say(&mut ws, &event(Uuid::from_u128(5), 7)).await; // another session's: ignored
            say(&mut ws, &event(session, 3)).await;
            let _ = ws
                .close(Some(CloseFrame {
                    code: CloseCode::from(protocol::live::CLOSE_TOO_SLOW),
                    reason: "too slow".into(),
                }))
                .await;
            // 3: the rest.
            let (tcp, _) = listener.accept().await.unwrap();
            let mut ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
            say(&mut ws, &ServerMessage::Ready { user_id: user }).await;
            afters.push(subscription(&mut ws).await);
            say(
                &mut ws,
                &ServerMessage::Subscribed {
                    session_id: session,
                    after: 3,
                },
            )
            .await;
            say(&mut ws, &event(session, 4)).await;
            let _ = ws.next().await; // until the client leaves
            afters
        });

        let mut follow = Follow::start(&server, None, session, 0);
        let mut seen = Vec::new();
        let mut reconnects = 0;
        while seen.last() != Some(&4) {
            match tokio::time::timeout(Duration::from_secs(20), follow.next())
                .await
                .expect("an update in time")
                .expect("the follower runs")
                .expect("no error")
            {
                Update::Event(e) => seen.push(e.seq),
                Update::Reconnecting { .. } => reconnects += 1,
                _ => {}
            }
        }
        drop(follow);
        assert_eq!(seen, vec![1, 2, 3, 4]);
        assert_eq!(reconnects, 2);
        assert_eq!(server_task.await.unwrap(), vec![0, 2, 3]);
    }

    #[tokio::test]
    async fn a_refused_token_ends_with_an_auth_error() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let server = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
            let Some(Ok(Message::Text(t))) = ws.next().await else {
                panic!("no auth")
            };
            assert!(matches!(
                serde_json::from_str(&t).unwrap(),
                ClientMessage::Auth { token } if token == "wc_bad"
            ));
            let _ = ws
                .close(Some(CloseFrame {
                    code: CloseCode::from(CLOSE_UNAUTHORIZED),
                    reason: "invalid token".into(),
                }))
                .await;
        });
        let mut follow = Follow::start(&server, Some("wc_bad".into()), Uuid::nil(), 0);
        let err = follow.next().await.unwrap().unwrap_err();
        assert!(matches!(err, Error::Auth(_)), "{err:?}");
        assert_eq!(err.exit_code(), 2);
        assert!(follow.next().await.is_none());
    }

    /// `wss://` goes through rustls (with the provider `main` installs): a peer that does not
    /// speak TLS is a connection failure to retry, not a panic.
    #[tokio::test]
    async fn a_failed_tls_handshake_is_retried() {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let server = format!("https://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            loop {
                let Ok((mut tcp, _)) = listener.accept().await else {
                    return;
                };
                use tokio::io::AsyncWriteExt;
                let _ = tcp.write_all(b"HTTP/1.1 400 not tls\r\n\r\n").await;
            }
        });
        let mut follow = Follow::start(&server, None, Uuid::nil(), 0);
        match follow.next().await.unwrap() {
            Ok(Update::Reconnecting { attempt: 1, .. }) => {}
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn websocket_urls() {
        assert_eq!(
            ws_url("http://127.0.0.1:8000"),
            "ws://127.0.0.1:8000/api/v1/ws"
        );
        assert_eq!(
            ws_url("https://wc.example/sub"),
            "wss://wc.example/sub/api/v1/ws"
        );
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        assert_eq!(backoff(1), Duration::from_millis(200));
        assert_eq!(backoff(2), Duration::from_millis(400));
        assert_eq!(backoff(6), Duration::from_millis(6400));
        assert_eq!(backoff(10), Duration::from_secs(8));
    }
}
