//! Warm executors: after a run, its session's executor may stay up for
//! `EXECUTOR_WARM_IDLE_SECONDS` so the session's next run skips the container start.
//!
//! Invariants:
//! - an executor is parked under the `(user, session)` of the run it just served and is only
//!   ever taken for that same pair: a warm executor is never shared between sessions or users;
//! - only an executor whose run completed (or was canceled) and whose task the executor itself
//!   reports finished is parked; failures, lost leases and shutdowns stop it;
//! - a parked executor is stopped after the idle time, when it is displaced by a newer one of
//!   the same session, when room is needed (running + warm ≤ `MAX_CONCURRENT_TASKS`, oldest
//!   first), and on shutdown.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use uuid::Uuid;

use crate::pool::Slot;
use crate::runtime::{Endpoint, ExecutorHandle};

/// How the executor of a run was obtained (logged, and measured by the dispatch benchmark).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Started for this run.
    Cold,
    /// Kept up after the session's previous run.
    Warm,
    /// Pre-started in the pool.
    Pooled,
}

impl Origin {
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::Cold => "cold",
            Origin::Warm => "warm",
            Origin::Pooled => "pooled",
        }
    }
}

/// A live executor this manager holds.
pub struct Executor {
    /// Its URL, API secret and instance id (checked before it serves another run).
    pub endpoint: Endpoint,
    pub handle: Box<dyn ExecutorHandle>,
    /// The pool slot whose directory it mounts (pooled executors and their warm afterlife).
    pub slot: Option<Slot>,
    pub origin: Origin,
    /// Its agent's model proxy token (see [`crate::model_proxy`]): made when it is first
    /// acquired for a run and kept while it stays warm for the session, so a follow-up's task
    /// environment is the same and the CLI started ahead is used. `None` until then (pooled).
    pub model_token: Option<String>,
}

impl Executor {
    /// Stops the executor and, for a slot executor, gives the workspace back and removes the slot.
    pub async fn stop(mut self) {
        self.handle.stop().await;
        if let Some(slot) = self.slot.take() {
            slot.dispose().await;
        }
    }
}

struct Parked {
    executor: Executor,
    generation: u64,
}

#[derive(Default)]
struct Inner {
    parked: HashMap<(Uuid, Uuid), Parked>,
    /// Parking order, oldest first: (generation, key).
    next_generation: u64,
    closed: bool,
}

/// The parked executors, by `(user, session)`.
#[derive(Clone)]
pub struct WarmSet {
    inner: Arc<Mutex<Inner>>,
    idle: Duration,
}

impl WarmSet {
    /// `idle` zero: nothing is ever parked.
    pub fn new(idle: Duration) -> Self {
        Self {
            inner: Arc::new(Mutex::new(Inner::default())),
            idle,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn enabled(&self) -> bool {
        !self.idle.is_zero()
    }

    /// Parked executors right now.
    pub fn len(&self) -> usize {
        self.lock().parked.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The session's parked executor, if any (removed from the set).
    pub fn take(&self, user: Uuid, session: Uuid) -> Option<Executor> {
        self.lock()
            .parked
            .remove(&(user, session))
            .map(|p| p.executor)
    }

    /// Parks `executor` for `(user, session)` until the idle time passes; stops it instead when
    /// warm executors are off or the set is closed (shutdown).
    pub async fn park(&self, user: Uuid, session: Uuid, mut executor: Executor) {
        let parked = {
            let mut inner = self.lock();
            if !self.enabled() || inner.closed {
                Err(executor)
            } else {
                inner.next_generation += 1;
                let generation = inner.next_generation;
                executor.origin = Origin::Warm;
                let displaced = inner.parked.insert(
                    (user, session),
                    Parked {
                        executor,
                        generation,
                    },
                );
                Ok((generation, displaced))
            }
        };
        let (generation, displaced) = match parked {
            Ok(p) => p,
            Err(executor) => {
                executor.stop().await;
                return;
            }
        };
        if let Some(old) = displaced {
            old.executor.stop().await;
        }
        tracing::debug!(%session, idle_seconds = self.idle.as_secs(), "executor parked warm");
        let weak: Weak<Mutex<Inner>> = Arc::downgrade(&self.inner);
        let idle = self.idle;
        tokio::spawn(async move {
            tokio::time::sleep(idle).await;
            let Some(inner) = weak.upgrade() else { return };
            let expired = {
                let mut inner = inner.lock().unwrap_or_else(|p| p.into_inner());
                match inner.parked.get(&(user, session)) {
                    Some(p) if p.generation == generation => inner.parked.remove(&(user, session)),
                    _ => None,
                }
            };
            if let Some(p) = expired {
                tracing::info!(%session, "warm executor idle too long; stopping it");
                p.executor.stop().await;
            }
        });
    }

    /// Stops the executor parked longest; false when none is.
    pub async fn evict_oldest(&self) -> bool {
        let oldest = {
            let mut inner = self.lock();
            let key = inner
                .parked
                .iter()
                .min_by_key(|(_, p)| p.generation)
                .map(|(k, _)| *k);
            key.and_then(|k| inner.parked.remove(&k))
        };
        match oldest {
            Some(p) => {
                tracing::info!("stopping the oldest warm executor to make room");
                p.executor.stop().await;
                true
            }
            None => false,
        }
    }

    /// Closes the set (later parks stop their executor) and stops every parked executor.
    pub async fn drain(&self) {
        let all: Vec<Parked> = {
            let mut inner = self.lock();
            inner.closed = true;
            inner.parked.drain().map(|(_, p)| p).collect()
        };
        if !all.is_empty() {
            tracing::info!(count = all.len(), "stopping warm executors");
        }
        futures::future::join_all(all.into_iter().map(|p| p.executor.stop())).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::ExitInfo;
    use futures::future::BoxFuture;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Counts stops; never exits on its own.
    struct Counted(Arc<AtomicUsize>);
    impl ExecutorHandle for Counted {
        fn exited(&mut self) -> BoxFuture<'_, ExitInfo> {
            Box::pin(std::future::pending())
        }
        fn stop(&mut self) -> BoxFuture<'_, ()> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Box::pin(async {})
        }
    }

    fn executor(stops: &Arc<AtomicUsize>, url: &str) -> Executor {
        Executor {
            endpoint: Endpoint {
                base_url: url.into(),
                credentials: crate::runtime::Credentials::generate(),
            },
            handle: Box::new(Counted(stops.clone())),
            slot: None,
            origin: Origin::Cold,
            model_token: None,
        }
    }

    #[tokio::test]
    async fn parked_per_session_and_stopped_after_the_idle_time() {
        let stops = Arc::new(AtomicUsize::new(0));
        let warm = WarmSet::new(Duration::from_millis(400));
        let (u, s, other) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        warm.park(u, s, executor(&stops, "a")).await;
        // Another session or another user never gets it.
        assert!(warm.take(u, other).is_none());
        assert!(warm.take(other, s).is_none());
        let e = warm.take(u, s).expect("parked");
        assert_eq!(
            (e.endpoint.base_url.as_str(), e.origin),
            ("a", Origin::Warm)
        );
        assert!(warm.take(u, s).is_none());

        // Parked again: the old expiry timer must not stop the new parking early.
        tokio::time::sleep(Duration::from_millis(250)).await;
        warm.park(u, s, e).await;
        tokio::time::sleep(Duration::from_millis(250)).await;
        assert_eq!(warm.len(), 1);
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert_eq!(warm.len(), 0);
        assert_eq!(stops.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn displaced_evicted_drained_and_disabled() {
        let stops = Arc::new(AtomicUsize::new(0));
        let warm = WarmSet::new(Duration::from_secs(60));
        let (u, s1, s2) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        warm.park(u, s1, executor(&stops, "1")).await;
        warm.park(u, s2, executor(&stops, "2")).await;
        // A newer executor of the same session displaces the older one.
        warm.park(u, s1, executor(&stops, "1b")).await;
        assert_eq!(stops.load(Ordering::SeqCst), 1);
        // The oldest parked (s2 now) goes first.
        assert!(warm.evict_oldest().await);
        assert!(warm.take(u, s2).is_none());
        assert_eq!(
            warm.take(u, s1).map(|e| e.endpoint.base_url),
            Some("1b".into())
        );
        warm.park(u, s1, executor(&stops, "1c")).await;
        warm.drain().await;
        assert!(warm.is_empty());
        assert_eq!(stops.load(Ordering::SeqCst), 3);
        // Closed: a late park stops at once.
        warm.park(u, s1, executor(&stops, "late")).await;
        assert!(warm.is_empty());
        assert_eq!(stops.load(Ordering::SeqCst), 4);

        let off = WarmSet::new(Duration::ZERO);
        off.park(u, s1, executor(&stops, "off")).await;
        assert!(off.is_empty());
        assert_eq!(stops.load(Ordering::SeqCst), 5);
    }
}
