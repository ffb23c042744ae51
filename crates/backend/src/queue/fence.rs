//! The fence: whether a worker's call about a run comes from the attempt that holds it.
//!
//! A claim hands the worker the run's new `lease_epoch`; every later call names
//! `(worker_id, epoch)`. The call is admitted only when `runs.lease_holder` is that worker and
//! `runs.lease_epoch` that epoch, else it is refused with `409 lease_lost` and changes nothing.
//! An expiry or a re-queue advances the epoch, so a worker that lost its lease is fenced off even
//! if it is claimed again.
//!
//! Two strengths of the same check:
//! * [`Fence::holds_lease`] (SQL: [`HELD_BY_SQL`]): the attempt is current **and** the run is
//!   still leased. Every call that changes the run or adds to it (start, heartbeat, complete,
//!   fail, events) needs this.
//! * [`Fence::is_current_attempt`]: the attempt is current, whether or not the run has ended.
//!   Export reports need only this: a worker exports the workspace after it completed the run,
//!   and the export belongs to the attempt that ran, as long as no later attempt exists.

use protocol::{ErrorCode, RunStatus};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};

/// A worker's claim on a run's attempt: the worker id and the epoch its claim returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fence<'a> {
    pub worker: &'a str,
    pub epoch: i64,
}

impl Fence<'_> {
    /// The run's current attempt is this worker's at this epoch, ended or not.
    pub fn is_current_attempt(&self, lease_holder: Option<&str>, lease_epoch: i64) -> bool {
        lease_holder == Some(self.worker) && lease_epoch == self.epoch
    }

    /// The run is leased to this worker at this epoch: the current attempt, still under lease.
    /// The Rust form of [`HELD_BY_SQL`].
    pub fn holds_lease(&self, lease_holder: Option<&str>, lease_epoch: i64, status: &str) -> bool {
        self.is_current_attempt(lease_holder, lease_epoch)
            && status.parse::<RunStatus>().is_ok_and(RunStatus::is_leased)
    }
}

/// The SQL condition "run `$1` is leased to worker `$2` at epoch `$3`" ([`Fence::holds_lease`]),
/// on the columns of `runs` unqualified.
macro_rules! held_by_sql {
    () => {
        concat!(
            "id = $1 AND lease_holder = $2 AND lease_epoch = $3 AND status IN ",
            $crate::queue::status::leased_sql!()
        )
    };
}
pub(crate) use held_by_sql;

/// `held_by_sql!` as a constant, for tests that compare it with [`Fence::holds_lease`].
pub const HELD_BY_SQL: &str = held_by_sql!();

/// The refusal of a call whose fence does not hold, naming what the run is now.
pub fn lease_lost(status: &str, current_epoch: i64) -> ApiError {
    ApiError::conflict(
        ErrorCode::LeaseLost,
        format!(
            "the run is not leased to this worker at this epoch (status {status}, current epoch {current_epoch})"
        ),
    )
}

/// Why a fenced update matched nothing: the run is unknown (404) or not leased to the caller (409).
pub async fn refusal(pool: &PgPool, run_id: Uuid) -> ApiError {
    let row: Result<Option<(String, i64)>, _> =
        sqlx::query_as("SELECT status, lease_epoch FROM runs WHERE id = $1")
            .bind(run_id)
            .fetch_optional(pool)
            .await;
    match row {
        Ok(None) => ApiError::NotFound("run"),
        Ok(Some((status, epoch))) => lease_lost(&status, epoch),
        Err(e) => e.into(),
    }
}

/// Locks run `run_id` (`FOR UPDATE`, in the caller's transaction) and checks that `fence` is its
/// current attempt ([`Fence::is_current_attempt`]); returns the run's session. 404 for an unknown
/// run, `409 lease_lost` for another worker or epoch.
pub async fn lock_current_attempt(
    tx: &mut PgConnection,
    run_id: Uuid,
    fence: Fence<'_>,
) -> ApiResult<Uuid> {
    let run: Option<(Uuid, Option<String>, i64)> = sqlx::query_as(
        "SELECT session_id, lease_holder, lease_epoch FROM runs WHERE id = $1 FOR UPDATE",
    )
    .bind(run_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((session_id, holder, epoch)) = run else {
        return Err(ApiError::NotFound("run"));
    };
    if !fence.is_current_attempt(holder.as_deref(), epoch) {
        return Err(ApiError::conflict(
            ErrorCode::LeaseLost,
            format!(
                "the run's current attempt is not this worker's at this epoch (current epoch {epoch})"
            ),
        ));
    }
    Ok(session_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fence_admits_only_the_current_attempt() {
        let f = Fence {
            worker: "w",
            epoch: 3,
        };
        assert!(f.is_current_attempt(Some("w"), 3));
        assert!(!f.is_current_attempt(Some("w"), 4));
        assert!(!f.is_current_attempt(Some("x"), 3));
        assert!(!f.is_current_attempt(None, 3));
        for s in RunStatus::ALL {
            assert_eq!(
                f.holds_lease(Some("w"), 3, s.as_str()),
                s.is_leased(),
                "{s}"
            );
            assert!(!f.holds_lease(Some("w"), 2, s.as_str()), "{s}");
        }
        assert!(!f.holds_lease(Some("w"), 3, "bogus"));
    }
}
