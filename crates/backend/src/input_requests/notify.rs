//! Wake-ups for the managers' answer long-polls, per run.
//!
//! Whatever changes what a long-poll for run R would answer (an answer stored, a request expired
//! or canceled, the run ended with requests pending) notifies the `input_answers` channel with
//! R's id inside its transaction, so the wake-up is delivered at commit on every backend
//! replica. The backend's wake-up listener (`crate::server`, one connection for this channel and
//! the queue's) turns each notification into a bump of R's generation counter; a waiting poll subscribes before it looks at the database and sleeps until its
//! counter moves, so a notification between the look and the sleep is never lost. A
//! reconnection of the listener bumps every run (notifications sent meanwhile are lost).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::watch;
use uuid::Uuid;

/// The PostgreSQL channel; the payload is the run id.
pub const CHANNEL: &str = "input_answers";

type Runs = Arc<Mutex<HashMap<Uuid, watch::Sender<u64>>>>;

/// The runs being long-polled on this backend, each with its generation counter.
#[derive(Clone, Default)]
pub struct InputNotifier {
    runs: Runs,
}

/// A subscription to one run's wake-ups; leaves the registry when dropped.
pub struct Waiter {
    runs: Runs,
    run_id: Uuid,
    rx: Option<watch::Receiver<u64>>,
}

impl Waiter {
    /// Marks the current generation seen: the next [`Waiter::changed`] waits for a later bump.
    pub fn mark_seen(&mut self) {
        if let Some(rx) = self.rx.as_mut() {
            rx.borrow_and_update();
        }
    }

    /// Resolves at the next bump after the last [`Waiter::mark_seen`] (or the subscription).
    pub async fn changed(&mut self) {
        match self.rx.as_mut() {
            Some(rx) => {
                if rx.changed().await.is_err() {
                    std::future::pending::<()>().await;
                }
            }
            None => std::future::pending().await,
        }
    }
}

impl Drop for Waiter {
    fn drop(&mut self) {
        let mut runs = lock(&self.runs);
        drop(self.rx.take());
        if runs
            .get(&self.run_id)
            .is_some_and(|tx| tx.receiver_count() == 0)
        {
            runs.remove(&self.run_id);
        }
    }
}

fn lock(runs: &Runs) -> std::sync::MutexGuard<'_, HashMap<Uuid, watch::Sender<u64>>> {
    // A poisoned map is still consistent (every change is one insert or remove).
    runs.lock().unwrap_or_else(|p| p.into_inner())
}

impl InputNotifier {
    pub fn new() -> Self {
        Self::default()
    }

    /// Subscribes to `run_id`'s wake-ups, before looking at the database.
    pub fn subscribe(&self, run_id: Uuid) -> Waiter {
        let rx = lock(&self.runs)
            .entry(run_id)
            .or_insert_with(|| watch::channel(0).0)
            .subscribe();
        Waiter {
            runs: self.runs.clone(),
            run_id,
            rx: Some(rx),
        }
    }

    /// Wakes the polls of `run_id` on this backend.
    pub fn bump(&self, run_id: Uuid) {
        if let Some(tx) = lock(&self.runs).get(&run_id) {
            tx.send_modify(|g| *g = g.wrapping_add(1));
        }
    }

    /// Wakes every poll on this backend.
    pub fn bump_all(&self) {
        for tx in lock(&self.runs).values() {
            tx.send_modify(|g| *g = g.wrapping_add(1));
        }
    }

    /// A notification on [`CHANNEL`] (the payload a run id; anything else wakes every poll).
    pub fn on_notify(&self, payload: &str) {
        match payload.parse::<Uuid>() {
            Ok(run_id) => self.bump(run_id),
            Err(_) => self.bump_all(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_bump_between_subscribe_and_wait_is_not_lost_and_waiters_leave() {
        let n = InputNotifier::new();
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let mut w = n.subscribe(a);
        w.mark_seen();
        n.bump(b);
        n.bump(a);
        tokio::time::timeout(std::time::Duration::from_secs(1), w.changed())
            .await
            .expect("the bump before the wait wakes it");
        w.mark_seen();
        let idle = tokio::time::timeout(std::time::Duration::from_millis(50), w.changed()).await;
        assert!(idle.is_err(), "no bump, no wake-up");
        drop(w);
        assert!(lock(&n.runs).is_empty());
    }
}
