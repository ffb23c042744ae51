//! The backend's internal API, as this worker calls it (`/api/v1/internal/runs/*`, header
//! `x-internal-token`). Every call about a run carries the lease (`worker_id`, `epoch`).

use std::sync::Arc;
use std::time::Duration;

use protocol::input::{InputAnswers, InputAnswersPoll};
use protocol::internal::{
    ClaimRequest, ClaimedRun, ClaimedRuns, CompleteRequest, DeletedSessions, EventBatch,
    ExportReport, FailRequest, HeartbeatRequest, INTERNAL_TOKEN_HEADER, IngestResponse, LeaseRef,
    LeaseStatus, RunAck,
};
use protocol::schedule::{FireRequest, FireResponse};
use protocol::{ErrorBody, ErrorCode, RunEvent, RunOutcome};
use reqwest::StatusCode;
use serde::Serialize;
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::schedule::{ClaimPlan, PullPolicy};

/// Why a backend call failed.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// `409 lease_lost`: the run is no longer ours; stop touching it.
    #[error("the lease was lost: {0}")]
    LeaseLost(String),
    /// Any other non-success answer. `code` is [`ErrorCode::Unknown`] for a code this build does
    /// not know or an answer without an error body.
    #[error("backend answered {status} ({code}): {message}")]
    Status {
        status: StatusCode,
        code: ErrorCode,
        message: String,
    },
    /// `204 No Content` from a call whose answer has a body.
    #[error("backend answered {0} without a body")]
    NoBody(String),
    #[error("backend unreachable: {0}")]
    Transport(#[from] reqwest::Error),
}

impl BackendError {
    /// Worth retrying later (the backend was down or overloaded), as opposed to a refusal.
    pub fn is_transient(&self) -> bool {
        match self {
            BackendError::Transport(_) => true,
            BackendError::Status { status, .. } => status.is_server_error(),
            BackendError::LeaseLost(_) | BackendError::NoBody(_) => false,
        }
    }
}

/// The error for a non-success answer with body `text`: [`BackendError::LeaseLost`] for
/// `409 lease_lost`, [`BackendError::Status`] otherwise.
fn refusal(status: StatusCode, text: &str) -> BackendError {
    let (code, message) = match serde_json::from_str::<ErrorBody>(text) {
        Ok(b) => (b.error.code, b.error.message),
        Err(_) => (ErrorCode::Unknown, text.chars().take(500).collect()),
    };
    match (status, code) {
        (StatusCode::CONFLICT, ErrorCode::LeaseLost) => BackendError::LeaseLost(message),
        _ => BackendError::Status {
            status,
            code,
            message,
        },
    }
}

/// A run this worker holds: the id and the fencing pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub run_id: Uuid,
    pub worker_id: String,
    pub epoch: i64,
}

/// Client for the backend's internal API.
#[derive(Clone)]
pub struct BackendClient {
    http: reqwest::Client,
    base: String,
    token: String,
    /// Which run kinds claims ask for (`SCHEDULE_CONFIG_PATH`).
    pull: Arc<PullPolicy>,
}

impl std::fmt::Debug for BackendClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BackendClient")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

/// Per-request timeout for calls that do not long-poll.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

impl BackendClient {
    pub fn new(base_url: &str, token: &str) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .build()?;
        Ok(Self {
            http,
            base: base_url.trim_end_matches('/').to_owned(),
            token: token.to_owned(),
            pull: Arc::new(PullPolicy::everything()),
        })
    }

    /// Claims ask for the kinds `pull` allows at the time of each claim.
    pub fn with_pull_policy(mut self, pull: Arc<PullPolicy>) -> Self {
        self.pull = pull;
        self
    }

    /// Asks the backend to turn due scheduled tasks into runs (at most `limit`).
    pub async fn fire(&self, worker_id: &str, limit: u32) -> Result<FireResponse, BackendError> {
        let req = FireRequest {
            worker_id: worker_id.to_owned(),
            limit: Some(limit),
        };
        self.post_some("/schedules/fire", &req).await
    }

    async fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
        timeout: Duration,
    ) -> Result<Option<T>, BackendError> {
        let res = self
            .http
            .post(format!("{}/api/v1/internal{path}", self.base))
            .header(INTERNAL_TOKEN_HEADER, &self.token)
            .header(
                telemetry::request_id::HEADER,
                telemetry::request_id::current().unwrap_or_else(telemetry::request_id::generate),
            )
            .timeout(timeout)
            .json(body)
            .send()
            .await?;
        let status = res.status();
        if status == StatusCode::NO_CONTENT {
            return Ok(None);
        }
        if status.is_success() {
            return Ok(Some(res.json().await?));
        }
        let text = res.text().await.unwrap_or_default();
        Err(refusal(status, &text))
    }

    async fn post_some<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, BackendError> {
        self.post(path, body, CALL_TIMEOUT)
            .await?
            .ok_or_else(|| BackendError::NoBody(path.to_owned()))
    }

    /// Sessions deleted since `after` (`GET /deleted-sessions`), oldest first.
    pub async fn deleted_sessions(
        &self,
        after: i64,
        limit: u32,
    ) -> Result<DeletedSessions, BackendError> {
        let res = self
            .http
            .get(format!(
                "{}/api/v1/internal/deleted-sessions?after={after}&limit={limit}",
                self.base
            ))
            .header(INTERNAL_TOKEN_HEADER, &self.token)
            .timeout(CALL_TIMEOUT)
            .send()
            .await?;
        let status = res.status();
        if status.is_success() {
            return Ok(res.json().await?);
        }
        let text = res.text().await.unwrap_or_default();
        Err(refusal(status, &text))
    }

    /// Whether the backend answers its readiness probe (`GET /health/ready`) within 3 s.
    pub async fn ready(&self) -> Result<(), String> {
        let res = self
            .http
            .get(format!("{}/health/ready", self.base))
            .timeout(Duration::from_secs(3))
            .send()
            .await
            .map_err(|e| format!("unreachable: {}", e.without_url()))?;
        if res.status().is_success() {
            Ok(())
        } else {
            Err(format!("answered {}", res.status()))
        }
    }

    /// Long-polls for a run; `None` when none came within `wait_seconds`.
    pub async fn claim(
        &self,
        worker_id: &str,
        lease_seconds: u32,
        wait_seconds: u32,
    ) -> Result<Option<ClaimedRun>, BackendError> {
        let (plan, req) = self.claim_request(worker_id, lease_seconds, wait_seconds, 1);
        let timeout = CALL_TIMEOUT + Duration::from_secs(plan.wait_seconds.into());
        let res: Result<Option<ClaimedRun>, BackendError> =
            self.post("/runs/claim", &req, timeout).await;
        if let Ok(claimed) = &res {
            let got: Vec<_> = claimed.iter().map(|r| r.kind).collect();
            self.pull.answered(&plan, chrono::Utc::now(), &got);
        }
        res
    }

    /// Long-polls for up to `max_runs` runs (`POST /runs/claims`): what is claimable once one
    /// is, oldest first; empty when none came within `wait_seconds`.
    pub async fn claim_many(
        &self,
        worker_id: &str,
        lease_seconds: u32,
        wait_seconds: u32,
        max_runs: u32,
    ) -> Result<Vec<ClaimedRun>, BackendError> {
        let (plan, req) = self.claim_request(worker_id, lease_seconds, wait_seconds, max_runs);
        let timeout = CALL_TIMEOUT + Duration::from_secs(plan.wait_seconds.into());
        let res: Result<Vec<ClaimedRun>, BackendError> = self
            .post::<_, ClaimedRuns>("/runs/claims", &req, timeout)
            .await
            .map(|r| r.map(|r| r.runs).unwrap_or_default());
        if let Ok(runs) = &res {
            let got: Vec<_> = runs.iter().map(|r| r.kind).collect();
            self.pull.answered(&plan, chrono::Utc::now(), &got);
        }
        res
    }

    fn claim_request(
        &self,
        worker_id: &str,
        lease_seconds: u32,
        wait_seconds: u32,
        max_runs: u32,
    ) -> (ClaimPlan, ClaimRequest) {
        let plan = self.pull.plan(chrono::Utc::now(), wait_seconds);
        let req = ClaimRequest {
            worker_id: worker_id.to_owned(),
            lease_seconds,
            wait_seconds: plan.wait_seconds,
            kinds: plan.kinds.clone(),
            max_runs,
            start: false,
        };
        (plan, req)
    }

    pub async fn start(&self, lease: &Lease) -> Result<LeaseStatus, BackendError> {
        let req = LeaseRef {
            worker_id: lease.worker_id.clone(),
            epoch: lease.epoch,
        };
        self.post_some(&format!("/runs/{}/start", lease.run_id), &req)
            .await
    }

    pub async fn heartbeat(
        &self,
        lease: &Lease,
        lease_seconds: u32,
    ) -> Result<LeaseStatus, BackendError> {
        let req = HeartbeatRequest {
            worker_id: lease.worker_id.clone(),
            epoch: lease.epoch,
            lease_seconds: Some(lease_seconds),
        };
        self.post_some(&format!("/runs/{}/heartbeat", lease.run_id), &req)
            .await
    }

    pub async fn events(
        &self,
        lease: &Lease,
        events: Vec<RunEvent>,
    ) -> Result<IngestResponse, BackendError> {
        let req = EventBatch {
            worker_id: lease.worker_id.clone(),
            epoch: lease.epoch,
            events,
        };
        self.post_some(&format!("/runs/{}/events", lease.run_id), &req)
            .await
    }

    pub async fn complete(
        &self,
        lease: &Lease,
        outcome: RunOutcome,
    ) -> Result<RunAck, BackendError> {
        let req = CompleteRequest {
            worker_id: lease.worker_id.clone(),
            epoch: lease.epoch,
            outcome,
        };
        self.post_some(&format!("/runs/{}/complete", lease.run_id), &req)
            .await
    }

    pub async fn fail(
        &self,
        lease: &Lease,
        error: &str,
        retryable: bool,
    ) -> Result<RunAck, BackendError> {
        let req = FailRequest {
            worker_id: lease.worker_id.clone(),
            epoch: lease.epoch,
            error: error.to_owned(),
            retryable,
        };
        self.post_some(&format!("/runs/{}/fail", lease.run_id), &req)
            .await
    }

    /// Long-polls up to `wait_seconds` for answers to the run's input requests not in
    /// `delivered` (`POST /runs/{id}/input-answers`).
    pub async fn input_answers(
        &self,
        lease: &Lease,
        wait_seconds: u32,
        delivered: &[Uuid],
    ) -> Result<InputAnswers, BackendError> {
        let req = InputAnswersPoll {
            worker_id: lease.worker_id.clone(),
            epoch: lease.epoch,
            wait_seconds,
            delivered: delivered.to_vec(),
        };
        let timeout = CALL_TIMEOUT + Duration::from_secs(wait_seconds.into());
        self.post(
            &format!("/runs/{}/input-answers", lease.run_id),
            &req,
            timeout,
        )
        .await?
        .ok_or_else(|| BackendError::NoBody("input-answers".into()))
    }

    /// Reports how the run's workspace export ended.
    pub async fn export(
        &self,
        run_id: uuid::Uuid,
        report: &ExportReport,
    ) -> Result<(), BackendError> {
        self.post::<_, serde_json::Value>(&format!("/runs/{run_id}/export"), report, CALL_TIMEOUT)
            .await
            .map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_409_lease_lost_means_the_lease_is_gone() {
        let lost = refusal(
            StatusCode::CONFLICT,
            r#"{"error":{"code":"lease_lost","message":"current epoch 3"}}"#,
        );
        assert!(matches!(&lost, BackendError::LeaseLost(m) if m == "current epoch 3"));
        assert!(!lost.is_transient());

        // Another conflict is a refusal like any other.
        let other = refusal(
            StatusCode::CONFLICT,
            r#"{"error":{"code":"not_retryable","message":"no"}}"#,
        );
        assert!(matches!(
            other,
            BackendError::Status {
                code: ErrorCode::NotRetryable,
                ..
            }
        ));
    }

    /// A newer backend's code, or a body that is no error body (a proxy's HTML page), still
    /// gives an error the manager can act on by its status.
    #[test]
    fn unknown_codes_and_foreign_bodies_are_kept_by_status() {
        let newer = refusal(
            StatusCode::SERVICE_UNAVAILABLE,
            r#"{"error":{"code":"brand_new_code","message":"later"}}"#,
        );
        assert!(matches!(
            &newer,
            BackendError::Status { status, code: ErrorCode::Unknown, message }
                if *status == StatusCode::SERVICE_UNAVAILABLE && message == "later"
        ));
        assert!(newer.is_transient());

        let html = refusal(StatusCode::BAD_GATEWAY, "<html>bad gateway</html>");
        assert!(matches!(
            &html,
            BackendError::Status { code: ErrorCode::Unknown, message, .. }
                if message == "<html>bad gateway</html>"
        ));
        assert!(html.is_transient());
    }
}
