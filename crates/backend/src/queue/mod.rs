//! The leased run queue: how queued runs reach workers, and how a run whose worker vanished gets
//! back to the queue. All queue policy, and every change of a run's status or lease, lives in
//! this module.
//!
//! # Transitions
//! Every statement that writes `runs.status` or `runs.lease_*` (`lease_holder`, `lease_epoch`,
//! `lease_expires_at`, `lease_seconds`) is one of these functions; the rest of the backend calls
//! them (`boundary_tests` fails on such SQL anywhere else). The `runs_after_change` trigger
//! follows each status change but a claim's: it keeps `sessions.status`, readies a session's next
//! run and notifies claimers. A claim keeps its sessions' status in its own statement, once for
//! all the runs it hands out (migration `0015`).
//!
//! | transition | function |
//! |---|---|
//! | create: → `queued` | [`enqueue::enqueue`] |
//! | claim: `queued` → `claimed` (new epoch), or → `running` when the worker starts at once | [`claim::claim`], [`claim::claim_many`] |
//! | start: `claimed` → `running` | [`lease::start`] |
//! | heartbeat: extend the lease | [`lease::heartbeat`] |
//! | complete: → `completed`, or `canceled` when the worker stopped it | [`lease::complete`], [`lease::complete_many`] |
//! | fail: → `queued` (retry, new epoch), `failed` (dead-lettered on the last attempt) or `canceled` | [`lease::fail`] |
//! | cancel requested: `claimed`/`running` → `canceling`; `queued` → `canceled` | [`cancel::cancel_session`] |
//! | lease expired: → `queued` (new epoch), `failed` (dead-lettered) or `canceled` | [`reaper::reap_once`] |
//! | retry by the owner: `failed` → `queued` (fresh attempts, new epoch) | [`dead_letter::retry`] |
//! | a queued follow-up removed by its owner: `queued` → `canceled` | [`followups::remove`] |
//! | send now: `claimed`/`running` → `canceling`, the follow-up moved to the head of its line | [`followups::send_now`] |
//!
//! Fail and expiry settle a run the same way (`settle_set!`). Whether a worker's call comes from
//! the attempt holding the run is decided by [`fence`], and the status sets the backend filters
//! on are [`status`]'s constants.
//!
//! # Policy
//! * **Order.** Runs are claimed oldest first (`queue_pos`), and a run is claimable only when every
//!   earlier run of its session has finished: a session has at most one active run, and follow-ups
//!   run in the order they were given.
//! * **Affinity.** A run that becomes the head of its session's line is reserved (`runs.affinity`)
//!   for the manager that ran the session's latest started run, for `SESSION_AFFINITY_SECONDS`
//!   from `runs.ready_at`: that manager holds the workspace and needs no restore. Other managers
//!   skip it meanwhile, and a parked claim wakes when a reservation ends. Every claim names the
//!   session's latest started run and its ready export (`ClaimedRun.workspace_source`), from
//!   which a manager that does not hold the workspace restores it.
//! * **Exclusive claims.** A claim locks the chosen row with `FOR UPDATE SKIP LOCKED`, so concurrent
//!   claimers (on any number of backend replicas) never get the same run and never wait on each other.
//! * **Leases and fencing.** A claim gives the worker a lease of `lease_seconds` and a new `epoch`.
//!   Every later call about the run must name the same worker and epoch ([`fence`]), or it gets
//!   `409` and changes nothing. Heartbeats extend the lease.
//! * **Expiry (the reaper).** A lease that runs out means the worker died or lost contact. The run
//!   goes back to the queue with its epoch advanced (fencing off the old worker) and a back-off of
//!   `RUN_RETRY_BACKOFF_SECONDS × 2^(attempt−1)` (at most 10 minutes), or, once `RUN_MAX_ATTEMPTS`
//!   claims were used, is failed with an error that says so. A run being canceled is canceled.
//! * **Dead letters.** A run that fails on its last allowed attempt (a lease expiry or a worker's
//!   failure report) is *dead-lettered*: `dead_lettered_at` is set and every attempt's error stays
//!   in `attempt_errors`. It stays failed until its owner re-queues it with
//!   `POST /runs/{id}/retry` ([`dead_letter`]), which gives it fresh attempts.
//! * **Long polls.** A claim with nothing to claim waits up to `wait_seconds` for a wake-up from
//!   [`notify`]; it never sleeps in a loop.
//! * **Worker failures.** `fail` with `retryable: true` (the platform's fault, e.g. a worker shutting
//!   down) re-queues like an expiry; otherwise the run fails at once.

pub mod cancel;
pub mod claim;
pub mod dead_letter;
pub mod enqueue;
pub mod fence;
pub mod followups;
pub mod lease;
pub mod notify;
pub mod reaper;
pub mod status;

#[cfg(test)]
mod boundary_tests;

/// The most a claim may wait, whatever the worker asks.
pub const MAX_WAIT_SECONDS: u32 = 60;
/// Bounds of a lease.
pub const MIN_LEASE_SECONDS: u32 = 5;
pub const MAX_LEASE_SECONDS: u32 = 3600;
/// The longest retry back-off.
pub const MAX_BACKOFF_SECONDS: i64 = 600;

/// The SET clause that settles a run leaving its lease unfinished, from a derived table `d` with
/// `next` (its new status: queued, failed or canceled) and `msg` (the attempt's error):
/// re-queued runs get a back-off (base seconds in the given placeholder) and a new epoch; others
/// are finished.
macro_rules! settle_set {
    ($backoff:literal) => {
        concat!("status = d.next,
         error = d.msg,
         attempt_errors = r.attempt_errors
             || jsonb_build_array(jsonb_build_object('attempt', r.attempts, 'error', d.msg, 'at', now())),
         scheduled_at = CASE WHEN d.next = 'queued'
             THEN now() + LEAST(", $backoff, " * power(2, GREATEST(r.attempts - 1, 0)), 600) * interval '1 second'
             ELSE r.scheduled_at END,
         finished_at = CASE WHEN d.next = 'queued' THEN NULL ELSE now() END,
         dead_lettered_at = CASE WHEN d.next = 'failed' AND r.attempts >= r.max_attempts
             THEN now() ELSE NULL END,
         lease_epoch = CASE WHEN d.next = 'queued' THEN r.lease_epoch + 1 ELSE r.lease_epoch END,
         lease_holder = CASE WHEN d.next = 'queued' THEN NULL ELSE r.lease_holder END,
         lease_expires_at = NULL")
    };
}

pub(crate) use settle_set;
