//! Event ingestion with group commit.
//!
//! Each `POST /runs/{id}/events` becomes a job on a bounded queue. A few writer tasks take every
//! job waiting in the queue and store them in **one** transaction, so the cost of a commit (a WAL
//! flush, milliseconds on ordinary disks) is shared by all batches that arrived meanwhile; under
//! load the groups grow by themselves, with no added delay when idle. A request is answered only
//! after its group committed.
//!
//! Ordering and idempotency inside a group:
//! * the runs named are locked `FOR SHARE` (sorted by id, so writers never deadlock each other),
//!   which keeps their leases from changing under the group; then their sessions `FOR UPDATE`
//!   (sorted by id). Holding a session's lock while numbering makes `seq` gap-free and increasing
//!   in commit order, so a reader paging with `after = last seen seq` never misses a later commit;
//! * a `(run_id, epoch, run_seq)` already stored (or earlier in the same group) is skipped, so a
//!   batch delivered twice is stored once; a batch made only of such duplicates is answered
//!   successfully even after the run's lease ended;
//! * a batch whose lease is gone (another worker or epoch) is refused with `409 lease_lost` and
//!   stores nothing, without failing the other batches of its group;
//! * `input_request` / `input_answer` events and terminal events keep `input_requests` in step
//!   ([`crate::input_requests`]) in the same transaction;
//! * assistant text and file changes become search documents ([`crate::search`]) in the same
//!   transaction (one insert for the group; other events add nothing);
//! * each session written announces itself once per group on the `session_events` channel
//!   (delivered at commit), so WebSocket subscribers on every replica read the new events.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use protocol::event::{EventBody, RunEvent};
use protocol::internal::{EventBatch, IngestResponse};
use sqlx::{PgPool, Postgres, Transaction};
use tokio::sync::{Mutex, mpsc, oneshot};
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};
use crate::queue::fence::{self, Fence};

/// The most events one batch may carry.
pub const MAX_BATCH: usize = 1000;
/// Writer tasks per backend: groups committing in parallel.
const WRITERS: usize = 4;
/// The most jobs and events one group takes.
const MAX_GROUP_JOBS: usize = 128;
const MAX_GROUP_EVENTS: usize = 5000;
/// Jobs waiting for a writer before senders wait (backpressure).
const QUEUE: usize = 1024;
/// A group that deadlocked with another transaction is retried this many times.
const DEADLOCK_RETRIES: usize = 3;

struct Job {
    run_id: Uuid,
    batch: EventBatch,
    reply: oneshot::Sender<ApiResult<IngestResponse>>,
}

/// The handle request handlers use; cheap to clone.
#[derive(Clone)]
pub struct Ingester {
    tx: mpsc::Sender<Job>,
}

/// Rejects what no database work can make valid.
pub fn validate(batch: &EventBatch) -> ApiResult<()> {
    if batch.events.len() > MAX_BATCH {
        return Err(ApiError::validation(format!(
            "a batch may hold at most {MAX_BATCH} events"
        )));
    }
    let mut seen = HashSet::with_capacity(batch.events.len());
    for e in &batch.events {
        if e.run_seq < 1 {
            return Err(ApiError::validation("run_seq must be 1 or more"));
        }
        if !seen.insert(e.run_seq) {
            return Err(ApiError::validation(format!(
                "run_seq {} appears twice in the batch",
                e.run_seq
            )));
        }
    }
    Ok(())
}

impl Ingester {
    /// Starts the writer tasks; they stop when every handle is dropped.
    pub fn spawn(pool: PgPool) -> Self {
        let (tx, rx) = mpsc::channel::<Job>(QUEUE);
        let rx = Arc::new(Mutex::new(rx));
        for _ in 0..WRITERS {
            let rx = rx.clone();
            let pool = pool.clone();
            tokio::spawn(async move {
                loop {
                    let group = {
                        let mut rx = rx.lock().await;
                        let Some(first) = rx.recv().await else { return };
                        let mut events = first.batch.events.len();
                        let mut group = vec![first];
                        while group.len() < MAX_GROUP_JOBS && events < MAX_GROUP_EVENTS {
                            match rx.try_recv() {
                                Ok(job) => {
                                    events += job.batch.events.len();
                                    group.push(job);
                                }
                                Err(_) => break,
                            }
                        }
                        group
                    };
                    write_group(&pool, group).await;
                }
            });
        }
        Self { tx }
    }

    /// Stores `batch` for `run_id`; answers once it is committed.
    pub async fn ingest(&self, run_id: Uuid, batch: EventBatch) -> ApiResult<IngestResponse> {
        validate(&batch)?;
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Job {
                run_id,
                batch,
                reply,
            })
            .await
            .map_err(|_| ApiError::ShuttingDown)?;
        let stored = answer.await.map_err(|_| ApiError::ShuttingDown)??;
        telemetry::metrics::events_ingested(u64::from(stored.stored));
        Ok(stored)
    }
}

async fn write_group(pool: &PgPool, group: Vec<Job>) {
    let mut attempt = 0;
    let outcome = loop {
        attempt += 1;
        match store(pool, &group).await {
            Err(sqlx::Error::Database(e))
                if e.code().as_deref() == Some("40P01") && attempt <= DEADLOCK_RETRIES =>
            {
                tracing::warn!(attempt, "event group deadlocked; retrying");
            }
            other => break other,
        }
    };
    match outcome {
        Ok(answers) => {
            for (job, answer) in group.into_iter().zip(answers) {
                let _ = job.reply.send(answer);
            }
        }
        Err(e) => {
            tracing::error!(error = %e, jobs = group.len(), "storing an event group failed");
            for job in group {
                let _ = job
                    .reply
                    .send(Err(ApiError::Internal(format!("storing events: {e}"))));
            }
        }
    }
}

#[derive(sqlx::FromRow)]
struct RunLease {
    id: Uuid,
    session_id: Uuid,
    lease_holder: Option<String>,
    lease_epoch: i64,
    status: String,
}

/// Stores the group in one transaction; one answer per job, in order.
async fn store(
    pool: &PgPool,
    group: &[Job],
) -> Result<Vec<ApiResult<IngestResponse>>, sqlx::Error> {
    let mut tx = pool.begin().await?;

    let mut run_ids: Vec<Uuid> = group.iter().map(|j| j.run_id).collect();
    run_ids.sort_unstable();
    run_ids.dedup();
    let runs: Vec<RunLease> = sqlx::query_as(
        "SELECT id, session_id, lease_holder, lease_epoch, status FROM runs
          WHERE id = ANY($1) ORDER BY id FOR SHARE",
    )
    .bind(&run_ids)
    .fetch_all(&mut *tx)
    .await?;
    let runs: HashMap<Uuid, RunLease> = runs.into_iter().map(|r| (r.id, r)).collect();

    let mut session_ids: Vec<Uuid> = runs.values().map(|r| r.session_id).collect();
    session_ids.sort_unstable();
    session_ids.dedup();
    let sessions: Vec<(Uuid, i64)> = sqlx::query_as(
        "SELECT id, last_seq FROM sessions WHERE id = ANY($1) ORDER BY id FOR UPDATE",
    )
    .bind(&session_ids)
    .fetch_all(&mut *tx)
    .await?;
    let mut last_seq: HashMap<Uuid, i64> = sessions.into_iter().collect();

    // Which (run, epoch, run_seq) are stored already. A worker sends an attempt's events in
    // order, so the common case is answered per attempt, not per event: what numbers above the
    // highest run_seq stored for the attempt is new. Only events at or below it (a batch sent
    // again) are looked up one by one.
    let mut attempts: Vec<(Uuid, i64)> = group.iter().map(|j| (j.run_id, j.batch.epoch)).collect();
    attempts.sort_unstable();
    attempts.dedup();
    let (a_run, a_epoch): (Vec<Uuid>, Vec<i64>) = attempts.iter().copied().unzip();
    let highest: Vec<(Uuid, i64, Option<i64>)> = sqlx::query_as(
        "SELECT x.run_id, x.epoch,
                (SELECT max(e.run_seq) FROM events e
                  WHERE e.run_id = x.run_id AND e.epoch = x.epoch)
           FROM UNNEST($1::uuid[], $2::bigint[]) AS x(run_id, epoch)",
    )
    .bind(&a_run)
    .bind(&a_epoch)
    .fetch_all(&mut *tx)
    .await?;
    let highest: HashMap<(Uuid, i64), i64> = highest
        .into_iter()
        .filter_map(|(run, epoch, max)| max.map(|m| ((run, epoch), m)))
        .collect();
    let (mut q_run, mut q_epoch, mut q_seq) = (Vec::new(), Vec::new(), Vec::new());
    for job in group {
        let Some(&max) = highest.get(&(job.run_id, job.batch.epoch)) else {
            continue;
        };
        for e in job.batch.events.iter().filter(|e| e.run_seq <= max) {
            q_run.push(job.run_id);
            q_epoch.push(job.batch.epoch);
            q_seq.push(e.run_seq);
        }
    }
    let stored: Vec<(Uuid, i64, i64)> = if q_seq.is_empty() {
        Vec::new()
    } else {
        sqlx::query_as(
            "SELECT e.run_id, e.epoch, e.run_seq FROM events e
               JOIN UNNEST($1::uuid[], $2::bigint[], $3::bigint[]) AS x(run_id, epoch, run_seq)
                 ON e.run_id = x.run_id AND e.epoch = x.epoch AND e.run_seq = x.run_seq",
        )
        .bind(&q_run)
        .bind(&q_epoch)
        .bind(&q_seq)
        .fetch_all(&mut *tx)
        .await?
    };
    let mut known: HashSet<(Uuid, i64, i64)> = stored.into_iter().collect();

    let mut rows = Rows::default();
    let mut answers = Vec::with_capacity(group.len());
    let mut agent_sessions: HashMap<Uuid, String> = HashMap::new();
    let mut typed: Vec<(Uuid, &RunEvent)> = Vec::new();
    let mut tools: Vec<(Uuid, &RunEvent)> = Vec::new();
    let mut texts: Vec<crate::search::EventText> = Vec::new();
    for job in group {
        let Some(run) = runs.get(&job.run_id) else {
            answers.push(Err(ApiError::NotFound("run")));
            continue;
        };
        let epoch = job.batch.epoch;
        let mut fresh: Vec<&RunEvent> = job
            .batch
            .events
            .iter()
            .filter(|e| !known.contains(&(job.run_id, epoch, e.run_seq)))
            .collect();
        let duplicates = u32::try_from(job.batch.events.len() - fresh.len()).unwrap_or(u32::MAX);
        let current = last_seq.get(&run.session_id).copied().unwrap_or(0);
        if fresh.is_empty() {
            answers.push(Ok(IngestResponse {
                stored: 0,
                duplicates,
                last_seq: current,
            }));
            continue;
        }
        let fence = Fence {
            worker: &job.batch.worker_id,
            epoch,
        };
        if !fence.holds_lease(run.lease_holder.as_deref(), run.lease_epoch, &run.status) {
            answers.push(Err(fence::lease_lost(&run.status, run.lease_epoch)));
            continue;
        }
        fresh.sort_by_key(|e| e.run_seq);
        let mut seq = current;
        for e in &fresh {
            seq += 1;
            known.insert((job.run_id, epoch, e.run_seq));
            rows.push(run.session_id, seq, job.run_id, epoch, e);
            texts.extend(crate::search::EventText::of(
                run.session_id,
                seq,
                job.run_id,
                e,
            ));
            match &e.body {
                EventBody::SystemInit {
                    agent_session_id, ..
                } => {
                    agent_sessions.insert(run.session_id, agent_session_id.clone());
                }
                EventBody::ToolUse { .. } | EventBody::ToolResult { .. } => {
                    tools.push((job.run_id, e));
                }
                EventBody::Result(_) | EventBody::InputRequest(_) | EventBody::InputAnswer(_) => {
                    typed.push((job.run_id, e));
                }
                body if body.is_terminal() => typed.push((job.run_id, e)),
                _ => {}
            }
        }
        last_seq.insert(run.session_id, seq);
        answers.push(Ok(IngestResponse {
            stored: u32::try_from(fresh.len()).unwrap_or(u32::MAX),
            duplicates,
            last_seq: seq,
        }));
    }

    if rows.seq.is_empty() {
        tx.rollback().await?;
        return Ok(answers);
    }
    sqlx::query(
        "INSERT INTO events (session_id, seq, run_id, epoch, run_seq, type, payload, time)
         SELECT * FROM UNNEST($1::uuid[], $2::bigint[], $3::uuid[], $4::bigint[], $5::bigint[],
                              $6::text[], $7::jsonb[], $8::timestamptz[])",
    )
    .bind(&rows.session)
    .bind(&rows.seq)
    .bind(&rows.run)
    .bind(&rows.epoch)
    .bind(&rows.run_seq)
    .bind(&rows.kind)
    .bind(&rows.payload)
    .bind(&rows.time)
    .execute(&mut *tx)
    .await?;
    record_tools(&mut tx, &tools).await?;
    for (run_id, e) in typed {
        record_typed(&mut tx, run_id, e).await?;
    }
    crate::search::index_events(&mut tx, &texts).await?;
    let touched: Vec<Uuid> = rows
        .session
        .iter()
        .copied()
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let seqs: Vec<i64> = touched
        .iter()
        .map(|s| last_seq.get(s).copied().unwrap_or(0))
        .collect();
    let agents: Vec<Option<String>> = touched
        .iter()
        .map(|s| agent_sessions.get(s).cloned())
        .collect();
    sqlx::query(
        "UPDATE sessions s
            SET last_seq = x.last_seq, updated_at = now(),
                agent_session_id = COALESCE(x.agent, s.agent_session_id)
           FROM UNNEST($1::uuid[], $2::bigint[], $3::text[]) AS x(id, last_seq, agent)
          WHERE s.id = x.id
      RETURNING pg_notify('session_events', s.id::text)",
    )
    .bind(&touched)
    .bind(&seqs)
    .bind(&agents)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(answers)
}

/// Column arrays for one multi-row insert.
#[derive(Default)]
struct Rows {
    session: Vec<Uuid>,
    seq: Vec<i64>,
    run: Vec<Uuid>,
    epoch: Vec<i64>,
    run_seq: Vec<i64>,
    kind: Vec<&'static str>,
    payload: Vec<serde_json::Value>,
    time: Vec<DateTime<Utc>>,
}

impl Rows {
    fn push(&mut self, session: Uuid, seq: i64, run: Uuid, epoch: i64, e: &RunEvent) {
        self.session.push(session);
        self.seq.push(seq);
        self.run.push(run);
        self.epoch.push(epoch);
        self.run_seq.push(e.run_seq);
        self.kind.push(e.body.kind());
        self.payload.push(e.body.payload());
        self.time.push(e.time);
    }
}

/// Keeps `tool_executions` in step with the group's tool calls and results: one statement for
/// the calls, then one for the results (a result in the same group as its call finds it).
async fn record_tools(
    tx: &mut Transaction<'_, Postgres>,
    tools: &[(Uuid, &RunEvent)],
) -> Result<(), sqlx::Error> {
    let (mut u_run, mut u_id, mut u_name, mut u_input, mut u_time) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    // The last result per call, should one come twice.
    let mut results: HashMap<(Uuid, &str), (&serde_json::Value, bool, DateTime<Utc>)> =
        HashMap::new();
    for (run_id, e) in tools {
        match &e.body {
            EventBody::ToolUse {
                tool_use_id,
                name,
                input,
                ..
            } => {
                u_run.push(*run_id);
                u_id.push(tool_use_id.as_str());
                u_name.push(name.as_str());
                u_input.push(input);
                u_time.push(e.time);
            }
            EventBody::ToolResult {
                tool_use_id,
                content,
                is_error,
                ..
            } => {
                results.insert(
                    (*run_id, tool_use_id.as_str()),
                    (content, *is_error, e.time),
                );
            }
            _ => {}
        }
    }
    if !u_run.is_empty() {
        sqlx::query(
            "INSERT INTO tool_executions (run_id, tool_use_id, name, input, started_at)
             SELECT * FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::jsonb[],
                                  $5::timestamptz[])
             ON CONFLICT DO NOTHING",
        )
        .bind(&u_run)
        .bind(&u_id)
        .bind(&u_name)
        .bind(&u_input)
        .bind(&u_time)
        .execute(&mut **tx)
        .await?;
    }
    if !results.is_empty() {
        let (mut r_run, mut r_id, mut r_out, mut r_err, mut r_time) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for ((run, id), (content, is_error, time)) in results {
            r_run.push(run);
            r_id.push(id);
            r_out.push(content);
            r_err.push(is_error);
            r_time.push(time);
        }
        sqlx::query(
            "UPDATE tool_executions t
                SET output = x.output, is_error = x.is_error, finished_at = x.finished_at,
                    duration_ms = GREATEST(0,
                        (EXTRACT(EPOCH FROM (x.finished_at - t.started_at)) * 1000)::bigint)
               FROM UNNEST($1::uuid[], $2::text[], $3::jsonb[], $4::bool[], $5::timestamptz[])
                    AS x(run_id, tool_use_id, output, is_error, finished_at)
              WHERE t.run_id = x.run_id AND t.tool_use_id = x.tool_use_id",
        )
        // Planned with its values each time (~0.3 ms a group): a plan cached on the connection
        // while the table was small joins by scanning the whole table, and would keep doing so
        // as it grows until the next ANALYZE; planned afresh, it probes the primary key.
        .persistent(false)
        .bind(&r_run)
        .bind(&r_id)
        .bind(&r_out)
        .bind(&r_err)
        .bind(&r_time)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// Keeps the derived tables (usage, input requests) in step with the events; tool executions
/// are [`record_tools`]'.
async fn record_typed(
    tx: &mut Transaction<'_, Postgres>,
    run_id: Uuid,
    e: &RunEvent,
) -> Result<(), sqlx::Error> {
    match &e.body {
        EventBody::Result(r) => {
            sqlx::query(
                "INSERT INTO run_usage (run_id, input_tokens, output_tokens,
                     cache_creation_input_tokens, cache_read_input_tokens, total_cost_usd,
                     duration_ms, num_turns)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                 ON CONFLICT (run_id) DO UPDATE SET
                     input_tokens = EXCLUDED.input_tokens, output_tokens = EXCLUDED.output_tokens,
                     cache_creation_input_tokens = EXCLUDED.cache_creation_input_tokens,
                     cache_read_input_tokens = EXCLUDED.cache_read_input_tokens,
                     total_cost_usd = EXCLUDED.total_cost_usd,
                     duration_ms = EXCLUDED.duration_ms, num_turns = EXCLUDED.num_turns",
            )
            .bind(run_id)
            .bind(r.usage.input_tokens)
            .bind(r.usage.output_tokens)
            .bind(r.usage.cache_creation_input_tokens)
            .bind(r.usage.cache_read_input_tokens)
            .bind(r.total_cost_usd)
            .bind(r.duration_ms)
            .bind(r.num_turns)
            .execute(&mut **tx)
            .await?;
        }
        EventBody::InputRequest(req) => {
            crate::input_requests::record_request(tx, run_id, req).await?;
        }
        EventBody::InputAnswer(answer) => {
            crate::input_requests::record_outcome(tx, run_id, answer).await?;
        }
        body if body.is_terminal() => {
            crate::input_requests::cancel_pending(tx, run_id).await?;
        }
        _ => {}
    }
    Ok(())
}
