//! Live updates for browsers: the WebSocket ([`socket`]) and the hub that tells connections when
//! something changed.
//!
//! Fan-out goes through PostgreSQL, so any replica can serve any browser: the ingestion
//! transaction sends one small `session_events` notification per session it wrote, and a trigger on
//! `sessions` sends `session_changes`. Notifications only say *that* something changed; the
//! subscribers read the events themselves from the table, after the last sequence number they
//! sent. That is why a subscriber can never skip or repeat an event, whatever the notifications do.

pub mod socket;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

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
#[derive(Clone)]
pub struct Hub {
    inner: Arc<Inner>,
}

struct Inner {
    /// One generation counter per session somebody follows.
    sessions: Mutex<HashMap<Uuid, watch::Sender<u64>>>,
    changes: broadcast::Sender<SessionChange>,
}

impl Default for Hub {
    fn default() -> Self {
        Self::new()
    }
}

impl Hub {
    pub fn new() -> Self {
        let (changes, _) = broadcast::channel(1024);
        Self {
            inner: Arc::new(Inner {
                sessions: Mutex::new(HashMap::new()),
                changes,
            }),
        }
    }

    fn sessions(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, watch::Sender<u64>>> {
        // A poisoned map is still a valid map of counters.
        self.inner
            .sessions
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A receiver that changes whenever `session` has new events.
    pub fn watch_session(&self, session: Uuid) -> watch::Receiver<u64> {
        self.sessions()
            .entry(session)
            .or_insert_with(|| watch::channel(0).0)
            .subscribe()
    }

    /// Forgets `session` once nobody follows it any more.
    pub fn release_session(&self, session: Uuid) {
        let mut map = self.sessions();
        if map.get(&session).is_some_and(|tx| tx.receiver_count() == 0) {
            map.remove(&session);
        }
    }

    /// Every change of every user's sessions on this replica; connections keep their own user's.
    pub fn session_changes(&self) -> broadcast::Receiver<SessionChange> {
        self.inner.changes.subscribe()
    }

    /// Wakes the followers of `session`.
    pub fn bump_session(&self, session: Uuid) {
        if let Some(tx) = self.sessions().get(&session) {
            tx.send_modify(|g| *g = g.wrapping_add(1));
        }
    }

    fn bump_all(&self) {
        for tx in self.sessions().values() {
            tx.send_modify(|g| *g = g.wrapping_add(1));
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
            &[EVENTS_CHANNEL, CHANGES_CHANNEL],
            shutdown,
            move |channel, payload| on_notify.dispatch(channel, payload),
            move || on_connect.bump_all(),
        )
    }
}
