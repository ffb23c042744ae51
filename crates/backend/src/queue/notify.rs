//! Wake-ups for long-polling claimers.
//!
//! The database announces "a run may have become claimable" on the `run_queue` channel (from the
//! `runs_after_change` trigger, so every path that queues or finishes a run is covered, on every
//! backend replica). One listener task per backend turns each notification into a bump of a
//! generation counter; a waiting claim handler records the generation before it looks at the
//! queue and sleeps until the counter moves, so a notification between the look and the sleep is
//! never lost.

use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::PgListener;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

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

    /// Listens on [`CHANNEL`] until `shutdown`, reconnecting after errors. Every reconnection also
    /// bumps, since notifications sent while disconnected are lost.
    pub fn spawn_listener(
        &self,
        pool: PgPool,
        shutdown: CancellationToken,
    ) -> tokio::task::JoinHandle<()> {
        let this = self.clone();
        tokio::spawn(async move {
            loop {
                let run = async {
                    let mut listener = PgListener::connect_with(&pool).await?;
                    listener.listen(CHANNEL).await?;
                    this.bump();
                    loop {
                        match listener.try_recv().await? {
                            Some(_) => this.bump(),
                            // The connection dropped; the next call reconnects.
                            None => this.bump(),
                        }
                    }
                    #[allow(unreachable_code)]
                    Ok::<(), sqlx::Error>(())
                };
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    res = run => {
                        if let Err(e) = res {
                            tracing::warn!(error = %e, "queue listener lost its connection; retrying");
                        }
                    }
                }
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                }
            }
        })
    }
}
