//! Live updates for browsers: the WebSocket ([`socket`]) and the hub that tells connections when
//! something changed.
//!
//! Fan-out goes through PostgreSQL, so any replica can serve any browser: the ingestion
//! transaction sends one small `session_events` notification per session it wrote, and a trigger on
//! `sessions` sends `session_changes`. Notifications only say *that* something changed; events are
//! read from the table (once per session by its feed, and by each subscriber whenever it has to
//! catch up), and every subscriber sends exactly the sequence numbers after the last one it sent.
//! That is why a subscriber can never skip or repeat an event, whatever the notifications do.

pub mod socket;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::ws::Utf8Bytes;
use protocol::event::Event;
use protocol::live::ServerMessage;
use sqlx::PgPool;
use tokio::sync::{broadcast, watch};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// Channel: a session has new events (payload: its id).
pub const EVENTS_CHANNEL: &str = "session_events";
/// Channel: a session was created, changed or deleted (payload: `<user id> <session id>`).
pub const CHANGES_CHANNEL: &str = "session_changes";

/// A change of one of a user's sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionChange {
    pub user_id: Uuid,
    pub session_id: Uuid,
}

/// Tells connections of this replica what changed. Cheap to clone.
///
/// For every session somebody follows there is one **feed**: a task that reads the session's new
/// events once per notification and broadcasts them to every follower on this replica, so a
/// thousand followers cost one query, not a thousand. Followers catch up from the table on their
/// own (from their `after`, after a gap, or after lagging behind the broadcast) and skip what they
/// already sent, so the broadcast is only a fast path, never the source of truth.
#[derive(Clone)]
pub struct Hub {
    inner: Arc<Inner>,
}

struct Inner {
    feeds: Mutex<HashMap<Uuid, Feed>>,
    changes: broadcast::Sender<SessionChange>,
    /// Users whose credentials may have stopped working ([`crate::auth::access_changed`]).
    access: broadcast::Sender<Uuid>,
}

struct Feed {
    events: broadcast::Sender<Arc<[FeedEvent]>>,
    wake: watch::Sender<u64>,
}

/// One event of a feed, serialized once as the WebSocket frame every follower sends.
pub struct FeedEvent {
    pub seq: i64,
    pub frame: Utf8Bytes,
}

impl FeedEvent {
    fn new(session_id: Uuid, event: Event) -> Option<Self> {
        let seq = event.seq;
        let msg = ServerMessage::Event {
            session_id,
            seq,
            event,
        };
        match serde_json::to_string(&msg) {
            Ok(text) => Some(FeedEvent {
                seq,
                frame: Utf8Bytes::from(text),
            }),
            Err(e) => {
                tracing::error!(error = %e, %session_id, seq, "cannot serialize an event");
                None
            }
        }
    }
}

/// Broadcast batches a follower may fall behind by before it reads from the table instead.
const FEED_CAPACITY: usize = 256;

impl Default for Hub {
    fn default() -> Self {
        Self::new()
    }
}

impl Hub {
    pub fn new() -> Self {
        let (changes, _) = broadcast::channel(1024);
        let (access, _) = broadcast::channel(256);
        Self {
            inner: Arc::new(Inner {
                feeds: Mutex::new(HashMap::new()),
                changes,
                access,
            }),
        }
    }

    fn feeds(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, Feed>> {
        // A poisoned map is still a valid map of feeds.
        self.inner
            .feeds
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A receiver of `session`'s events committed from now on (and possibly a few earlier ones:
    /// followers skip sequence numbers they already sent). Starts the session's feed if needed.
    pub async fn follow(
        &self,
        pool: &PgPool,
        session: Uuid,
    ) -> Result<broadcast::Receiver<Arc<[FeedEvent]>>, sqlx::Error> {
        if let Some(feed) = self.feeds().get(&session) {
            return Ok(feed.events.subscribe());
        }
        // The feed starts after the last event numbered *before* it exists; the follower's own
        // catch-up, which reads after this point in time, covers everything up to there.
        let start: i64 = sqlx::query_scalar("SELECT last_seq FROM sessions WHERE id = $1")
            .bind(session)
            .fetch_optional(pool)
            .await?
            .unwrap_or(0);
        let mut feeds = self.feeds();
        if let Some(feed) = feeds.get(&session) {
            return Ok(feed.events.subscribe());
        }
        let (events, rx) = broadcast::channel(FEED_CAPACITY);
        let (wake, wake_rx) = watch::channel(0);
        tokio::spawn(read_feed(
            pool.clone(),
            session,
            start,
            events.clone(),
            wake_rx,
        ));
        feeds.insert(session, Feed { events, wake });
        Ok(rx)
    }

    /// Stops `session`'s feed once nobody on this replica follows it.
    pub fn release_session(&self, session: Uuid) {
        let mut feeds = self.feeds();
        if feeds
            .get(&session)
            .is_some_and(|f| f.events.receiver_count() == 0)
        {
            // Dropping the wake sender ends the feed's task.
            feeds.remove(&session);
        }
    }

    /// Every change of every user's sessions on this replica; connections keep their own user's.
    pub fn session_changes(&self) -> broadcast::Receiver<SessionChange> {
        self.inner.changes.subscribe()
    }

    /// Users whose credentials may have stopped working: their connections check theirs again.
    pub fn access_changes(&self) -> broadcast::Receiver<Uuid> {
        self.inner.access.subscribe()
    }

    /// Wakes the feed of `session`, if anybody follows it here.
    pub fn bump_session(&self, session: Uuid) {
        if let Some(feed) = self.feeds().get(&session) {
            feed.wake.send_modify(|g| *g = g.wrapping_add(1));
        }
    }

    fn bump_all(&self) {
        for feed in self.feeds().values() {
            feed.wake.send_modify(|g| *g = g.wrapping_add(1));
        }
    }

    fn dispatch(&self, channel: &str, payload: &str) {
        match channel {
            EVENTS_CHANNEL => match payload.parse() {
                Ok(session) => self.bump_session(session),
                Err(_) => tracing::warn!(payload, "bad session_events payload"),
            },
            CHANGES_CHANNEL => {
                let parsed = payload
                    .split_once(' ')
                    .and_then(|(u, s)| Some((u.parse().ok()?, s.parse().ok()?)));
                match parsed {
                    Some((user_id, session_id)) => {
                        let _ = self.inner.changes.send(SessionChange {
                            user_id,
                            session_id,
                        });
                    }
                    None => tracing::warn!(payload, "bad session_changes payload"),
                }
            }
            crate::auth::ACCESS_CHANNEL => match payload.parse() {
                Ok(user) => {
                    let _ = self.inner.access.send(user);
                }
                Err(_) => tracing::warn!(payload, "bad user_access payload"),
            },
            _ => {}
        }
    }

    /// Listens for notifications until `shutdown`. After a (re)connection every follower re-reads,
    /// since notifications sent meanwhile are lost.
    pub fn spawn_listener(
        &self,
        pool: PgPool,
        shutdown: CancellationToken,
    ) -> tokio::task::JoinHandle<()> {
        let on_notify = self.clone();
        let on_connect = self.clone();
        crate::db::spawn_listener(
            pool,
            &[EVENTS_CHANNEL, CHANGES_CHANNEL, crate::auth::ACCESS_CHANNEL],
            shutdown,
            move |channel, payload| on_notify.dispatch(channel, payload),
            move || on_connect.bump_all(),
        )
    }
}

/// One session's feed: reads what is new after each wake-up and broadcasts it.
async fn read_feed(
    pool: PgPool,
    session: Uuid,
    mut cursor: i64,
    events: broadcast::Sender<Arc<[FeedEvent]>>,
    mut wake: watch::Receiver<u64>,
) {
    loop {
        // Mark before reading, so a commit that lands while we read wakes the wait below.
        wake.borrow_and_update();
        loop {
            match crate::events::page(&pool, session, cursor, FEED_PAGE).await {
                Ok(page) => {
                    let Some(last) = page.events.last().map(|e| e.seq) else {
                        break;
                    };
                    cursor = last;
                    let frames: Vec<FeedEvent> = page
                        .events
                        .into_iter()
                        .filter_map(|event| FeedEvent::new(session, event))
                        .collect();
                    let _ = events.send(Arc::from(frames));
                    if !page.has_more {
                        break;
                    }
                }
                Err(e) => {
                    // Followers notice nothing wrong: they fill any gap from the table.
                    tracing::warn!(error = %e, %session, "reading a session feed failed");
                    break;
                }
            }
        }
        if wake.changed().await.is_err() {
            return;
        }
    }
}

/// Events read per feed query.
const FEED_PAGE: i64 = 500;
