//! Claiming: hand the oldest claimable run to a worker, waiting for one if need be.

use std::time::Duration;

use chrono::{DateTime, Utc};
use protocol::capabilities::{CapabilitySnapshot, place_template};
use protocol::files::StagedAttachment;
use protocol::internal::{ClaimRequest, ClaimedRun, WorkspaceSource};
use protocol::schedule::RunKind;
use sqlx::PgPool;
use uuid::Uuid;

use super::{MAX_LEASE_SECONDS, MAX_WAIT_SECONDS, MIN_LEASE_SECONDS};
use crate::error::{ApiError, ApiResult};
use crate::runs::RunOptions;
use crate::state::AppState;

/// The claim statement; `$filter` narrows the candidates (by kind).
macro_rules! claim_sql {
    ($filter:literal) => {
        concat!(
            "
WITH next AS (
    SELECT r.id FROM runs r
     WHERE r.status = 'queued' AND r.ready AND r.scheduled_at <= now()
       AND (r.affinity IS NULL OR r.affinity = $1
            OR r.ready_at <= now() - $3 * interval '1 second')",
            $filter,
            "
     ORDER BY r.queue_pos
     LIMIT 1
     FOR UPDATE SKIP LOCKED
), claimed AS (
    UPDATE runs r
       SET status = 'claimed', lease_holder = $1, lease_seconds = $2,
           lease_expires_at = now() + $2 * interval '1 second',
           lease_epoch = r.lease_epoch + 1, attempts = r.attempts + 1, claimed_at = now()
      FROM next
     WHERE r.id = next.id
 RETURNING r.id, r.session_id, r.lease_epoch, r.attempts, r.max_attempts, r.prompt, r.options,
           r.lease_expires_at, r.kind, r.capabilities
)
SELECT c.id, c.session_id, s.user_id, c.lease_epoch, c.attempts, c.max_attempts, c.prompt, c.options,
       c.lease_expires_at, s.agent_session_id, c.kind, c.capabilities, s.allowed_tools,
       (SELECT jsonb_agg(jsonb_build_object('name', a.name, 'key', a.object_key, 'size', a.size)
                         ORDER BY ra.position)
          FROM run_attachments ra JOIN attachments a ON a.id = ra.attachment_id
         WHERE ra.run_id = c.id) AS attachments,
       s.project_id,
       (SELECT jsonb_agg(jsonb_build_object('name', f.name, 'key', f.object_key, 'size', f.size)
                         ORDER BY f.name)
          FROM project_files f WHERE f.project_id = s.project_id) AS project_files,
       (SELECT jsonb_build_object('run_id', p.id, 'worker_id', p.lease_holder,
                                  'manifest_key', x.manifest_key)
          FROM runs p LEFT JOIN run_exports x ON x.run_id = p.id AND x.status = 'ready'
         WHERE p.session_id = c.session_id AND p.id <> c.id AND p.started_at IS NOT NULL
         ORDER BY p.started_at DESC LIMIT 1) AS workspace_source
  FROM claimed c JOIN sessions s ON s.id = c.session_id"
        )
    };
}

/// Any kind: walks `runs_runnable` in queue order.
const CLAIM_SQL: &str = claim_sql!("");
/// One kind, written as a literal rather than a parameter: the planner then knows from the
/// statistics how rare the kind is and walks `runs_runnable_by_kind (kind, queue_pos)` when it is
/// rare, so a claim for scheduled runs costs little with thousands of interactive ones queued (a
/// parameter gets a generic plan that filters `runs_runnable` row by row).
const CLAIM_INTERACTIVE_SQL: &str = claim_sql!(" AND r.kind = 'interactive'");
const CLAIM_SCHEDULED_SQL: &str = claim_sql!(" AND r.kind = 'scheduled'");

/// Which runs a claim may take, from `ClaimRequest.kinds`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KindFilter {
    Any,
    Only(RunKind),
    /// An empty list: nothing is claimable (the manager is outside all its pull windows).
    Nothing,
}

impl KindFilter {
    pub fn from_request(kinds: Option<&[RunKind]>) -> Self {
        match kinds {
            None => KindFilter::Any,
            Some(list) => {
                let wanted: Vec<RunKind> = RunKind::ALL
                    .into_iter()
                    .filter(|k| list.contains(k))
                    .collect();
                match wanted.as_slice() {
                    [] => KindFilter::Nothing,
                    [one] => KindFilter::Only(*one),
                    _ => KindFilter::Any,
                }
            }
        }
    }
}

#[derive(sqlx::FromRow)]
struct ClaimRow {
    id: Uuid,
    session_id: Uuid,
    user_id: Uuid,
    lease_epoch: i64,
    attempts: i32,
    max_attempts: i32,
    prompt: String,
    options: sqlx::types::Json<RunOptions>,
    lease_expires_at: DateTime<Utc>,
    agent_session_id: Option<String>,
    kind: String,
    /// `NULL` when the run has none (one primary-key probe of `run_attachments`).
    attachments: Option<sqlx::types::Json<Vec<StagedAttachment>>>,
    /// `NULL` for runs queued before capabilities existed.
    capabilities: Option<sqlx::types::Json<CapabilitySnapshot>>,
    /// The tools the session's owner allowed for good.
    allowed_tools: Vec<String>,
    /// The session's project, and its files as they are now (`NULL` when none).
    project_id: Option<Uuid>,
    project_files: Option<sqlx::types::Json<Vec<StagedAttachment>>>,
    /// The session's latest started run before this one, with its ready export's manifest.
    workspace_source: Option<sqlx::types::Json<WorkspaceSource>>,
}

/// The run's own attachments, then its project's files whose names none of them has (a task's
/// attachment wins: both would be `inputs/{name}`).
fn staged(
    own: Option<Vec<StagedAttachment>>,
    project: Option<Vec<StagedAttachment>>,
) -> Vec<StagedAttachment> {
    let mut staged = own.unwrap_or_default();
    let taken: std::collections::HashSet<String> = staged.iter().map(|a| a.name.clone()).collect();
    staged.extend(
        project
            .unwrap_or_default()
            .into_iter()
            .filter(|f| !taken.contains(&f.name)),
    );
    staged
}

/// Validates a claim request's numbers.
pub fn validate(req: &ClaimRequest) -> ApiResult<()> {
    if req.worker_id.trim().is_empty() || req.worker_id.len() > 200 {
        return Err(ApiError::validation(
            "worker_id must be 1 to 200 characters",
        ));
    }
    if !(MIN_LEASE_SECONDS..=MAX_LEASE_SECONDS).contains(&req.lease_seconds) {
        return Err(ApiError::validation(format!(
            "lease_seconds must be between {MIN_LEASE_SECONDS} and {MAX_LEASE_SECONDS}"
        )));
    }
    if req.wait_seconds > MAX_WAIT_SECONDS {
        return Err(ApiError::validation(format!(
            "wait_seconds must be at most {MAX_WAIT_SECONDS}"
        )));
    }
    Ok(())
}

/// One attempt to claim, without waiting.
pub async fn try_claim(
    pool: &PgPool,
    worker_id: &str,
    lease_seconds: u32,
    kinds: KindFilter,
    affinity_seconds: u32,
) -> ApiResult<Option<ClaimedRun>> {
    claim_on(pool, worker_id, lease_seconds, kinds, affinity_seconds).await
}

async fn claim_on<'c, E: sqlx::PgExecutor<'c>>(
    executor: E,
    worker_id: &str,
    lease_seconds: u32,
    kinds: KindFilter,
    affinity_seconds: u32,
) -> ApiResult<Option<ClaimedRun>> {
    let affinity = i32::try_from(affinity_seconds).unwrap_or(i32::MAX);
    let lease = i32::try_from(lease_seconds).unwrap_or(i32::MAX);
    let row: Option<ClaimRow> = match kinds {
        KindFilter::Nothing => return Ok(None),
        KindFilter::Any => {
            sqlx::query_as(CLAIM_SQL)
                .bind(worker_id)
                .bind(lease)
                .bind(affinity)
                .fetch_optional(executor)
                .await?
        }
        KindFilter::Only(kind) => {
            let sql = match kind {
                RunKind::Interactive => CLAIM_INTERACTIVE_SQL,
                RunKind::Scheduled => CLAIM_SCHEDULED_SQL,
            };
            sqlx::query_as(sql)
                .bind(worker_id)
                .bind(lease)
                .bind(affinity)
                .fetch_optional(executor)
                .await?
        }
    };
    let Some(r) = row else {
        return Ok(None);
    };
    let kind: RunKind = r
        .kind
        .parse()
        .map_err(|e| ApiError::Internal(format!("stored run kind: {e}")))?;
    let capabilities = r.capabilities.map(|c| c.0);
    // The preset's template reaches the agent; the run's stored prompt stays the user's.
    let placed = place_template(
        capabilities
            .as_ref()
            .and_then(|c| c.prompt_template.as_deref()),
        &r.prompt,
    );
    Ok(Some(ClaimedRun {
        run_id: r.id,
        session_id: r.session_id,
        user_id: r.user_id,
        epoch: r.lease_epoch,
        attempt: r.attempts,
        max_attempts: r.max_attempts,
        prompt: placed.prompt,
        append_system_prompt: placed.append_system_prompt,
        model: r.options.0.model,
        permission_mode: r.options.0.permission_mode,
        git: r.options.0.git,
        attachments: staged(r.attachments.map(|a| a.0), r.project_files.map(|f| f.0)),
        agent_session_id: r.agent_session_id,
        lease_expires_at: r.lease_expires_at,
        kind,
        capabilities,
        allowed_tools: r.allowed_tools,
        // The setting's, filled in by [`claim`].
        input_timeout_seconds: None,
        secrets: Default::default(),
        model_route: None,
        project_id: r.project_id,
        workspace_source: r.workspace_source.map(|w| w.0),
    }))
}

/// What a claim attempt found: a run, or how long until a delayed run (a retry in back-off)
/// becomes due.
enum Attempt {
    Claimed(Box<ClaimedRun>),
    Empty { next_due: Option<Duration> },
}

/// A claim and, when it finds nothing, the time to the next due run, in one transaction: both see
/// the same `now()`, so a run that becomes due between the two is never missed.
async fn attempt(
    pool: &PgPool,
    worker_id: &str,
    lease_seconds: u32,
    kinds: KindFilter,
    affinity_seconds: u32,
) -> ApiResult<Attempt> {
    if kinds == KindFilter::Nothing {
        return Ok(Attempt::Empty { next_due: None });
    }
    if let Some(run) = claim_on(pool, worker_id, lease_seconds, kinds, affinity_seconds).await? {
        return Ok(Attempt::Claimed(Box::new(run)));
    }
    let mut tx = pool.begin().await?;
    if let Some(run) = claim_on(&mut *tx, worker_id, lease_seconds, kinds, affinity_seconds).await?
    {
        tx.commit().await?;
        return Ok(Attempt::Claimed(Box::new(run)));
    }
    let only: Option<&str> = match kinds {
        KindFilter::Only(k) => Some(k.as_str()),
        _ => None,
    };
    // The next delayed run, or the next run reserved for another manager whose reservation ends.
    let secs: Option<f64> = sqlx::query_scalar(
        "SELECT EXTRACT(EPOCH FROM (LEAST(
             (SELECT min(scheduled_at) FROM runs
               WHERE status = 'queued' AND ready AND scheduled_at > now()
                 AND ($1::text IS NULL OR kind = $1)),
             (SELECT min(ready_at) + $3 * interval '1 second' FROM runs
               WHERE status = 'queued' AND ready AND affinity IS NOT NULL AND affinity <> $2
                 AND ready_at > now() - $3 * interval '1 second'
                 AND ($1::text IS NULL OR kind = $1))
         ) - now()))::float8",
    )
    .bind(only)
    .bind(worker_id)
    .bind(i32::try_from(affinity_seconds).unwrap_or(i32::MAX))
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Attempt::Empty {
        next_due: secs.map(|s| Duration::from_secs_f64(s.max(0.0))),
    })
}

/// Claims a run, long-polling up to `wait_seconds` when none is claimable now.
///
/// The run carries `INPUT_REQUEST_TIMEOUT_SECONDS` (unset: each kind's default wait), the values
/// of the secrets it needs (`crate::secrets::resolve_for_claim`) and its model's route
/// ([`crate::models::route`]). A run whose secrets are gone, or whose route cannot be made (its
/// model left the catalog, its provider's key was deleted), is failed there with the reason and
/// the claim looks on for another within the same wait.
pub async fn claim(state: &AppState, req: &ClaimRequest) -> ApiResult<Option<ClaimedRun>> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(u64::from(req.wait_seconds));
    let mut req = req.clone();
    loop {
        let Some(mut run) = wait_for_run(state, &req).await? else {
            return Ok(None);
        };
        run.input_timeout_seconds = state.settings.input_request_timeout_seconds;
        if crate::secrets::resolve_for_claim(state, &req.worker_id, &mut run).await? {
            let route = crate::models::route(
                &state.pool,
                &state.keyring,
                &state.catalog,
                run.user_id,
                run.model.as_deref(),
            )
            .await;
            match route {
                Ok(route) => {
                    run.model_route = route;
                    return Ok(Some(run));
                }
                Err(e) => {
                    let retryable = e.is_transient();
                    tracing::warn!(run_id = %run.run_id, error = %e, retryable, "claimed run has no model route; failing it");
                    super::lease::fail(
                        &state.pool,
                        run.run_id,
                        &req.worker_id,
                        run.epoch,
                        &e.to_string(),
                        retryable,
                        state.settings.run_retry_backoff_seconds,
                    )
                    .await?;
                }
            }
        }
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        req.wait_seconds = u32::try_from(left.as_secs()).unwrap_or(0);
    }
}

async fn wait_for_run(state: &AppState, req: &ClaimRequest) -> ApiResult<Option<ClaimedRun>> {
    validate(req)?;
    let kinds = KindFilter::from_request(req.kinds.as_deref());
    if req.wait_seconds == 0 {
        return try_claim(
            &state.pool,
            &req.worker_id,
            req.lease_seconds,
            kinds,
            state.settings.session_affinity_seconds,
        )
        .await;
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(u64::from(req.wait_seconds));
    let mut wake = state.queue.subscribe();
    loop {
        wake.borrow_and_update();
        let next_due = match attempt(
            &state.pool,
            &req.worker_id,
            req.lease_seconds,
            kinds,
            state.settings.session_affinity_seconds,
        )
        .await?
        {
            Attempt::Claimed(run) => {
                tracing::info!(run_id = %run.run_id, worker_id = %req.worker_id, epoch = run.epoch, attempt = run.attempt, "run claimed");
                return Ok(Some(*run));
            }
            Attempt::Empty { next_due } => next_due,
        };
        let now = tokio::time::Instant::now();
        if now >= deadline {
            return Ok(None);
        }
        let until = match next_due {
            Some(due) => deadline.min(now + due),
            None => deadline,
        };
        tokio::select! {
            changed = wake.changed() => {
                if changed.is_err() {
                    return Ok(None);
                }
            }
            _ = tokio::time::sleep_until(until) => {}
            _ = state.shutdown.cancelled() => return Ok(None),
        }
    }
}
