//! Nudges: `POST /api/v1/internal/runs/{run_id}/nudge` from the backend (its
//! `EXECUTOR_MANAGER_URL`) makes a run's heartbeat go out now instead of at its next interval.
//!
//! The backend sends one when the owner cancels a run, so the cancel reaches the executor in
//! milliseconds instead of up to a heartbeat interval (a third of the lease) later. A nudge carries
//! no order: the heartbeat's answer (`cancel_requested`) stays the one source of truth, so a
//! forged or repeated nudge costs one heartbeat and changes nothing. The route wants the internal
//! token (`INTERNAL_API_TOKEN`, compared in constant time); a run this manager does not hold
//! answers 404. Managers the URL does not name learn of the cancel at their next heartbeat, as
//! before.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use protocol::internal::INTERNAL_TOKEN_HEADER;
use protocol::{ErrorBody, ErrorCode};
use subtle::ConstantTimeEq;
use tokio::sync::Notify;
use uuid::Uuid;

/// The heartbeats of the runs this manager holds, by run.
#[derive(Clone, Default)]
pub struct Nudges {
    runs: Arc<Mutex<HashMap<Uuid, Arc<Notify>>>>,
}

/// A run's entry; removed when dropped (the run ended).
pub struct Nudged {
    nudges: Nudges,
    run_id: Uuid,
    notify: Arc<Notify>,
}

impl Nudged {
    /// Completes when the run is nudged (a nudge that came while nobody waited is kept for the
    /// next wait).
    pub fn notify(&self) -> Arc<Notify> {
        self.notify.clone()
    }
}

impl Drop for Nudged {
    fn drop(&mut self) {
        self.nudges.lock().remove(&self.run_id);
    }
}

impl Nudges {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, Arc<Notify>>> {
        // A panic while holding this lock leaves the map consistent (single inserts/removes).
        self.runs.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers `run_id` while the returned entry lives.
    pub fn register(&self, run_id: Uuid) -> Nudged {
        let notify = Arc::new(Notify::new());
        self.lock().insert(run_id, notify.clone());
        Nudged {
            nudges: self.clone(),
            run_id,
            notify,
        }
    }

    /// Wakes `run_id`'s heartbeat; false when this manager does not hold the run.
    pub fn nudge(&self, run_id: Uuid) -> bool {
        match self.lock().get(&run_id) {
            Some(n) => {
                n.notify_one();
                true
            }
            None => false,
        }
    }
}

#[derive(Clone)]
struct NudgeState {
    nudges: Nudges,
    token: Arc<String>,
}

/// The nudge route, checked against `internal_token`.
pub fn routes(nudges: Nudges, internal_token: String) -> Router {
    Router::new()
        .route("/api/v1/internal/runs/{run_id}/nudge", post(nudge))
        .with_state(NudgeState {
            nudges,
            token: Arc::new(internal_token),
        })
}

fn error(status: StatusCode, code: ErrorCode, message: &str) -> Response {
    (status, axum::Json(ErrorBody::new(code, message))).into_response()
}

async fn nudge(
    State(state): State<NudgeState>,
    headers: HeaderMap,
    run_id: Result<Path<Uuid>, axum::extract::rejection::PathRejection>,
) -> Response {
    let given = headers
        .get(INTERNAL_TOKEN_HEADER)
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    let ok: bool = given.ct_eq(state.token.as_bytes()).into();
    if !ok {
        return error(
            StatusCode::UNAUTHORIZED,
            ErrorCode::Unauthorized,
            "the internal token is missing or wrong",
        );
    }
    let Ok(Path(run_id)) = run_id else {
        return error(
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
            "no such run on this manager",
        );
    };
    if state.nudges.nudge(run_id) {
        tracing::debug!(%run_id, "nudged: heartbeat now");
        StatusCode::ACCEPTED.into_response()
    } else {
        error(
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
            "no such run on this manager",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_nudge_reaches_a_registered_run_until_it_ends() {
        let nudges = Nudges::default();
        let run = Uuid::new_v4();
        assert!(!nudges.nudge(run));
        let entry = nudges.register(run);
        assert!(nudges.nudge(run));
        // Kept for the next wait.
        tokio::time::timeout(std::time::Duration::from_secs(1), entry.notify().notified())
            .await
            .expect("the nudge is delivered");
        drop(entry);
        assert!(!nudges.nudge(run));
    }
}
