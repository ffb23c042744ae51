//! Answers to a run's input requests, from the backend to the run's executor.
//!
//! When the callback relay stores an `input_request` event of a run, the run's task
//! ([`crate::run`]) kicks its [`Relay`]: one long-poll loop per run (never two) that asks the
//! backend for answers not delivered yet (`POST /internal/runs/{id}/input-answers`, about 25 s
//! per poll, woken at once by an answer), hands each to the executor
//! (`POST /v1/tasks/{run_id}/input-answers`; `202` or `409` both mean delivered, another `4xx`
//! is a refusal not retried; other failures are retried with a back-off) and names it delivered in its next polls. The loop ends when
//! nothing is pending and nothing is left to deliver, or when the lease is lost; a kick that
//! arrives while it decides to end keeps it going, so a new request is never left unwatched.
//! Dropping the relay (the run's task ended) stops the loop.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use protocol::input::InputAnswer;
use uuid::Uuid;

use crate::backend::{BackendClient, BackendError, Lease};
use crate::runtime::{Endpoint, ExecutorClient, RuntimeError};

/// Seconds each long-poll waits at the backend.
pub const POLL_WAIT_SECONDS: u32 = 25;
/// Attempts to hand one answer to the executor before it is given up (the executor's own expiry
/// then denies the request).
const DELIVERY_ATTEMPTS: u32 = 8;
/// The first pause after a failure; doubles up to [`MAX_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_millis(50);
const MAX_PAUSE: Duration = Duration::from_secs(2);

/// Whether the loop runs, and whether a kick came since its last look.
#[derive(Default)]
struct Flags {
    running: bool,
    kicked: bool,
}

/// The answer relay of one run.
pub struct Relay {
    backend: BackendClient,
    executor: ExecutorClient,
    endpoint: Endpoint,
    lease: Lease,
    flags: Arc<Mutex<Flags>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for Relay {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

fn lock(flags: &Mutex<Flags>) -> std::sync::MutexGuard<'_, Flags> {
    flags.lock().unwrap_or_else(|p| p.into_inner())
}

impl Relay {
    pub fn new(
        backend: BackendClient,
        executor: ExecutorClient,
        endpoint: Endpoint,
        lease: Lease,
    ) -> Self {
        Self {
            backend,
            executor,
            endpoint,
            lease,
            flags: Arc::default(),
            task: None,
        }
    }

    /// A request of the run was stored: makes sure the loop runs.
    pub fn kick(&mut self) {
        let mut flags = lock(&self.flags);
        if flags.running {
            flags.kicked = true;
            return;
        }
        flags.running = true;
        flags.kicked = false;
        drop(flags);
        let relay = Loop {
            backend: self.backend.clone(),
            executor: self.executor.clone(),
            endpoint: self.endpoint.clone(),
            lease: self.lease.clone(),
            flags: self.flags.clone(),
        };
        self.task = Some(tokio::spawn(relay.run()));
    }

    /// Whether the loop runs now.
    pub fn is_running(&self) -> bool {
        lock(&self.flags).running
    }
}

struct Loop {
    backend: BackendClient,
    executor: ExecutorClient,
    endpoint: Endpoint,
    lease: Lease,
    flags: Arc<Mutex<Flags>>,
}

impl Loop {
    async fn run(self) {
        let run_id = self.lease.run_id;
        let mut delivered: Vec<Uuid> = Vec::new();
        let mut pause = FIRST_PAUSE;
        loop {
            lock(&self.flags).kicked = false;
            let found = self
                .backend
                .input_answers(&self.lease, POLL_WAIT_SECONDS, &delivered)
                .await;
            let answers = match found {
                Ok(a) => {
                    pause = FIRST_PAUSE;
                    if a.answers.is_empty() && a.pending == 0 && self.end_unless_kicked() {
                        tracing::debug!(%run_id, "no input request pending; answer relay stops");
                        return;
                    }
                    a.answers
                }
                Err(BackendError::LeaseLost(msg)) => {
                    tracing::debug!(%run_id, message = %msg, "lease gone; answer relay stops");
                    lock(&self.flags).running = false;
                    return;
                }
                Err(e) => {
                    tracing::warn!(%run_id, error = %e, "polling for input answers failed; retrying");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(MAX_PAUSE);
                    continue;
                }
            };
            for answer in answers {
                self.deliver(&answer).await;
                delivered.push(answer.request_id);
            }
        }
    }

    /// Ends the loop (true) unless a kick came since the last look.
    fn end_unless_kicked(&self) -> bool {
        let mut flags = lock(&self.flags);
        if flags.kicked {
            flags.kicked = false;
            return false;
        }
        flags.running = false;
        true
    }

    /// Hands one answer to the executor, retrying failures with a back-off.
    async fn deliver(&self, answer: &InputAnswer) {
        let run_id = self.lease.run_id;
        let mut pause = FIRST_PAUSE;
        for attempt in 1..=DELIVERY_ATTEMPTS {
            match self
                .executor
                .input_answer(&self.endpoint, run_id, answer)
                .await
            {
                Ok(()) => {
                    tracing::info!(%run_id, request_id = %answer.request_id, "input answer delivered");
                    return;
                }
                // A refusal (e.g. 404: the executor knows no such request) stays a refusal.
                Err(RuntimeError::Refused { status, body })
                    if (400..500).contains(&status) && status != 429 =>
                {
                    tracing::warn!(%run_id, request_id = %answer.request_id, status, %body, "the executor refused an input answer");
                    return;
                }
                Err(e) => {
                    tracing::warn!(%run_id, request_id = %answer.request_id, attempt, error = %e, "handing an input answer to the executor failed");
                }
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(MAX_PAUSE);
        }
        tracing::error!(%run_id, request_id = %answer.request_id, "gave up handing an input answer to the executor; the request will expire");
    }
}
