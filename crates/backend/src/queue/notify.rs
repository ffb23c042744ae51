//! Wake-ups for long-polling claimers.
//!
//! The database announces "a run may have become claimable" on the `run_queue` channel (from the
//! `runs_after_change` trigger, so every path that queues or finishes a run is covered, on every
//! backend replica). The backend's wake-up listener (`crate::server`; every reconnection also
//! bumps) turns each notification into a bump of a generation counter; a waiting claim handler records the generation before it looks at the
//! queue and sleeps until the counter moves, so a notification between the look and the sleep is
//! never lost.

use tokio::sync::watch;

/// The PostgreSQL channel the trigger notifies.
pub const CHANNEL: &str = "run_queue";

/// A generation counter bumped whenever a run may have become claimable.
#[derive(Clone)]
pub struct QueueNotifier {
    tx: watch::Sender<u64>,
}

impl Default for QueueNotifier {
    fn default() -> Self {
        Self::new()
    }
}

impl QueueNotifier {
    pub fn new() -> Self {
        let (tx, _) = watch::channel(0);
        Self { tx }
    }

    /// Wakes every waiting claimer.
    pub fn bump(&self) {
        self.tx.send_modify(|g| *g = g.wrapping_add(1));
    }

    /// A receiver whose `changed()` resolves at the next bump after this call.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.tx.subscribe()
    }
}
