//! Claiming: hand the oldest claimable run to a worker, waiting for one if need be.

use std::time::Duration;

use chrono::{DateTime, Utc};
use protocol::capabilities::{CapabilitySnapshot, place_template};
use protocol::files::StagedAttachment;
use protocol::internal::{ClaimRequest, ClaimedRun, MAX_CLAIM_RUNS, WorkspaceSource};
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
     LIMIT $4
     FOR UPDATE SKIP LOCKED
), claimed AS (
    UPDATE runs r
       SET status = CASE WHEN $5 THEN 'running' ELSE 'claimed' END,
           started_at = CASE WHEN $5 THEN COALESCE(r.started_at, now()) ELSE r.started_at END,
           lease_holder = $1, lease_seconds = $2,
           lease_expires_at = now() + $2 * interval '1 second',
           lease_epoch = r.lease_epoch + 1, attempts = r.attempts + 1, claimed_at = now()
      FROM next
     WHERE r.id = next.id
 RETURNING r.id, r.session_id, r.lease_epoch, r.attempts, r.max_attempts, r.prompt, r.options,
           r.lease_expires_at, r.kind, r.capabilities, r.queue_pos,
           EXTRACT(EPOCH FROM (r.claimed_at - r.scheduled_at))::float8 AS waited
), sessions_status AS (
    -- What `runs_after_change` computes, for the claimed runs' sessions at once (the trigger
    -- skips queued → claimed/running, migration 0015): the status of the session's first active
    -- run in queue order, `claimed` shown as `running`. This statement's snapshot still shows
    -- the claimed runs `queued`, hence the first branch.
    UPDATE sessions s
       SET status = x.status, updated_at = now()
      FROM (SELECT DISTINCT ON (r.session_id) r.session_id,
                   CASE WHEN r.id IN (SELECT id FROM claimed) OR r.status = 'claimed'
                        THEN 'running' ELSE r.status END AS status
              FROM runs r
             WHERE r.session_id IN (SELECT session_id FROM claimed)
               AND r.status IN ('queued', 'claimed', 'running', 'canceling')
             ORDER BY r.session_id, r.queue_pos) x
     WHERE s.id = x.session_id AND s.status IS DISTINCT FROM x.status
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
         ORDER BY p.started_at DESC LIMIT 1) AS workspace_source,
       c.waited
  FROM claimed c JOIN sessions s ON s.id = c.session_id
 ORDER BY c.queue_pos"
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
    /// Seconds from due to claimed (the claim-wait metric).
    waited: Option<f64>,
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
    if !(1..=MAX_CLAIM_RUNS).contains(&req.max_runs) {
        return Err(ApiError::validation(format!(
            "max_runs must be between 1 and {MAX_CLAIM_RUNS}"
        )));
    }
    Ok(())
}

/// What one claim statement takes: who claims, for how long, how many, and whether the runs
/// start at once.
#[derive(Debug, Clone, Copy)]
pub struct ClaimArgs<'a> {
    pub worker_id: &'a str,
    pub lease_seconds: u32,
    pub kinds: KindFilter,
    pub affinity_seconds: u32,
    pub max_runs: u32,
    pub start: bool,
}

impl<'a> ClaimArgs<'a> {
    fn of(req: &'a ClaimRequest, affinity_seconds: u32) -> Self {
        Self {
            worker_id: &req.worker_id,
            lease_seconds: req.lease_seconds,
            kinds: KindFilter::from_request(req.kinds.as_deref()),
            affinity_seconds,
            max_runs: req.max_runs,
            start: req.start,
        }
    }
}

async fn claim_on<'c, E: sqlx::PgExecutor<'c>>(
    executor: E,
    args: &ClaimArgs<'_>,
) -> ApiResult<Vec<ClaimedRun>> {
    let affinity = i32::try_from(args.affinity_seconds).unwrap_or(i32::MAX);
    let lease = i32::try_from(args.lease_seconds).unwrap_or(i32::MAX);
    let limit = i64::from(args.max_runs.max(1));
    let sql = match args.kinds {
        KindFilter::Nothing => return Ok(Vec::new()),
        KindFilter::Any => CLAIM_SQL,
        KindFilter::Only(RunKind::Interactive) => CLAIM_INTERACTIVE_SQL,
        KindFilter::Only(RunKind::Scheduled) => CLAIM_SCHEDULED_SQL,
    };
    let rows: Vec<ClaimRow> = sqlx::query_as(sql)
        .bind(args.worker_id)
        .bind(lease)
        .bind(affinity)
        .bind(limit)
        .bind(args.start)
        .fetch_all(executor)
        .await?;
    rows.into_iter().map(claimed_run).collect()
}

fn claimed_run(r: ClaimRow) -> ApiResult<ClaimedRun> {
    if let Some(waited) = r.waited {
        telemetry::metrics::run_claimed(waited);
    }
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
    Ok(ClaimedRun {
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
    })
}

/// What a claim attempt found: runs, or how long until a delayed run (a retry in back-off)
/// becomes due.
enum Attempt {
    Claimed(Vec<ClaimedRun>),
    Empty { next_due: Option<Duration> },
}

/// A claim and, when it finds nothing, the time to the next due run, in one transaction: both see
/// the same `now()`, so a run that becomes due between the two is never missed.
async fn attempt(pool: &PgPool, args: &ClaimArgs<'_>) -> ApiResult<Attempt> {
    if args.kinds == KindFilter::Nothing {
        return Ok(Attempt::Empty { next_due: None });
    }
    let runs = claim_on(pool, args).await?;
    if !runs.is_empty() {
        return Ok(Attempt::Claimed(runs));
    }
    let mut tx = pool.begin().await?;
    let runs = claim_on(&mut *tx, args).await?;
    if !runs.is_empty() {
        tx.commit().await?;
        return Ok(Attempt::Claimed(runs));
    }
    let only: Option<&str> = match args.kinds {
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
    .bind(args.worker_id)
    .bind(i32::try_from(args.affinity_seconds).unwrap_or(i32::MAX))
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Attempt::Empty {
        next_due: secs.map(|s| Duration::from_secs_f64(s.max(0.0))),
    })
}

/// Claims one run, long-polling up to `wait_seconds` when none is claimable now (`POST
/// /runs/claim`, which takes `max_runs` 1 only).
pub async fn claim(state: &AppState, req: &ClaimRequest) -> ApiResult<Option<ClaimedRun>> {
    if req.max_runs != 1 {
        return Err(ApiError::validation(
            "max_runs must be 1 here; POST /runs/claims hands out several",
        ));
    }
    Ok(claim_many(state, req).await?.into_iter().next())
}

/// Claims up to `max_runs` runs, oldest first, long-polling up to `wait_seconds` until at least
/// one is claimable: what is claimable when the claim runs is handed out at once, without
/// waiting to fill the batch.
///
/// Each run carries `INPUT_REQUEST_TIMEOUT_SECONDS` (unset: each kind's default wait), the values
/// of the secrets it needs (`crate::secrets::resolve_for_claim`) and its model's route
/// ([`crate::models::route`]). A run whose secrets are gone, or whose route cannot be made (its
/// model left the catalog, its provider's key was deleted), is failed there with the reason and
/// left out; when that leaves none, the claim looks on for others within the same wait.
pub async fn claim_many(state: &AppState, req: &ClaimRequest) -> ApiResult<Vec<ClaimedRun>> {
    validate(req)?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(u64::from(req.wait_seconds));
    let mut req = req.clone();
    loop {
        let runs = wait_for_runs(state, &req).await?;
        if runs.is_empty() {
            return Ok(runs);
        }
        let mut ready = Vec::with_capacity(runs.len());
        for mut run in runs {
            if prepare(state, &req.worker_id, &mut run).await? {
                ready.push(run);
            }
        }
        if !ready.is_empty() {
            return Ok(ready);
        }
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        req.wait_seconds = u32::try_from(left.as_secs()).unwrap_or(0);
    }
}

/// Fills in what a claimed run needs beyond its row; `false` when the run was failed instead.
async fn prepare(state: &AppState, worker_id: &str, run: &mut ClaimedRun) -> ApiResult<bool> {
    run.input_timeout_seconds = state.settings.input_request_timeout_seconds;
    if !crate::secrets::resolve_for_claim(state, worker_id, run).await? {
        return Ok(false);
    }
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
            Ok(true)
        }
        Err(e) => {
            let retryable = e.is_transient();
            tracing::warn!(run_id = %run.run_id, error = %e, retryable, "claimed run has no model route; failing it");
            super::lease::fail(
                &state.pool,
                run.run_id,
                worker_id,
                run.epoch,
                &e.to_string(),
                retryable,
                state.settings.run_retry_backoff_seconds,
            )
            .await?;
            Ok(false)
        }
    }
}

async fn wait_for_runs(state: &AppState, req: &ClaimRequest) -> ApiResult<Vec<ClaimedRun>> {
    let args = ClaimArgs::of(req, state.settings.session_affinity_seconds);
    if req.wait_seconds == 0 {
        return claim_on(&state.pool, &args).await;
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(u64::from(req.wait_seconds));
    let mut wake = state.queue.subscribe();
    loop {
        wake.borrow_and_update();
        let next_due = match attempt(&state.pool, &args).await? {
            Attempt::Claimed(runs) => {
                for run in &runs {
                    tracing::info!(run_id = %run.run_id, worker_id = %req.worker_id, epoch = run.epoch, attempt = run.attempt, "run claimed");
                }
                return Ok(runs);
            }
            Attempt::Empty { next_due } => next_due,
        };
        let now = tokio::time::Instant::now();
        if now >= deadline {
            return Ok(Vec::new());
        }
        let until = match next_due {
            Some(due) => deadline.min(now + due),
            None => deadline,
        };
        tokio::select! {
            changed = wake.changed() => {
                if changed.is_err() {
                    return Ok(Vec::new());
                }
            }
            _ = tokio::time::sleep_until(until) => {}
            _ = state.shutdown.cancelled() => return Ok(Vec::new()),
        }
    }
}
