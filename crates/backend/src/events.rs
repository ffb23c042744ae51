//! The event log: ingestion from workers and reading by browsers.
//!
//! Ingestion takes the session's row lock (`SELECT … FOR UPDATE` on `sessions`) before it numbers
//! anything, so the batches of one session are numbered one after another: `seq` is gap-free and
//! increases in commit order, and a reader that pages with `after = last seen seq` never misses an
//! event that commits later. A `(run_id, epoch, run_seq)` already stored is skipped, so a batch
//! delivered twice is stored once.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use protocol::api::EventsPage;
use protocol::event::{Event, EventBody, RunEvent};
use protocol::internal::{EventBatch, IngestResponse};
use serde_json::Value;
use sqlx::{PgPool, Postgres, Transaction};
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};

/// The most events one batch may carry.
pub const MAX_BATCH: usize = 1000;
/// The most events one page of reading returns.
pub const MAX_PAGE: i64 = 1000;

/// Stores a worker's batch of events for `run_id`.
pub async fn ingest(pool: &PgPool, run_id: Uuid, batch: &EventBatch) -> ApiResult<IngestResponse> {
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

    let mut tx = pool.begin().await?;
    let run: Option<(Uuid, bool)> = sqlx::query_as(
        "SELECT session_id,
                (lease_holder = $2 AND lease_epoch = $3
                 AND status IN ('claimed', 'running', 'canceling')) IS TRUE
           FROM runs WHERE id = $1 FOR SHARE",
    )
    .bind(run_id)
    .bind(&batch.worker_id)
    .bind(batch.epoch)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((session_id, leased)) = run else {
        return Err(ApiError::NotFound("run"));
    };
    let last_seq: i64 =
        sqlx::query_scalar("SELECT last_seq FROM sessions WHERE id = $1 FOR UPDATE")
            .bind(session_id)
            .fetch_one(&mut *tx)
            .await?;

    let run_seqs: Vec<i64> = batch.events.iter().map(|e| e.run_seq).collect();
    let stored: Vec<i64> = sqlx::query_scalar(
        "SELECT run_seq FROM events WHERE run_id = $1 AND epoch = $2 AND run_seq = ANY($3)",
    )
    .bind(run_id)
    .bind(batch.epoch)
    .bind(&run_seqs)
    .fetch_all(&mut *tx)
    .await?;
    let stored: HashSet<i64> = stored.into_iter().collect();
    let mut fresh: Vec<&RunEvent> = batch
        .events
        .iter()
        .filter(|e| !stored.contains(&e.run_seq))
        .collect();
    fresh.sort_by_key(|e| e.run_seq);
    let duplicates = u32::try_from(batch.events.len() - fresh.len()).unwrap_or(u32::MAX);

    if fresh.is_empty() {
        // A re-delivery of events already stored: idempotent, even after the lease ended.
        tx.rollback().await?;
        return Ok(IngestResponse {
            stored: 0,
            duplicates,
            last_seq,
        });
    }
    if !leased {
        return Err(crate::queue::lease::lease_error(pool, run_id).await);
    }

    let n = fresh.len();
    let mut seqs = Vec::with_capacity(n);
    let mut rseqs = Vec::with_capacity(n);
    let mut kinds = Vec::with_capacity(n);
    let mut payloads = Vec::with_capacity(n);
    let mut times = Vec::with_capacity(n);
    for (i, e) in fresh.iter().enumerate() {
        seqs.push(last_seq + 1 + i as i64);
        rseqs.push(e.run_seq);
        kinds.push(e.body.kind());
        payloads.push(e.body.payload());
        times.push(e.time);
    }
    sqlx::query(
        "INSERT INTO events (session_id, seq, run_id, epoch, run_seq, type, payload, time)
         SELECT $1, x.seq, $2, $3, x.run_seq, x.type, x.payload, x.time
           FROM UNNEST($4::bigint[], $5::bigint[], $6::text[], $7::jsonb[], $8::timestamptz[])
                AS x(seq, run_seq, type, payload, time)",
    )
    .bind(session_id)
    .bind(run_id)
    .bind(batch.epoch)
    .bind(&seqs)
    .bind(&rseqs)
    .bind(&kinds)
    .bind(&payloads)
    .bind(&times)
    .execute(&mut *tx)
    .await?;

    let agent_session_id = record_side_effects(&mut tx, run_id, &fresh).await?;
    let new_last = last_seq + n as i64;
    sqlx::query(
        "UPDATE sessions SET last_seq = $2, updated_at = now(),
                agent_session_id = COALESCE($3, agent_session_id)
          WHERE id = $1",
    )
    .bind(session_id)
    .bind(new_last)
    .bind(agent_session_id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(IngestResponse {
        stored: u32::try_from(n).unwrap_or(u32::MAX),
        duplicates,
        last_seq: new_last,
    })
}

/// Keeps the derived tables (tool executions, usage) in step with the events; returns the agent
/// session id of the latest `system_init` in the batch.
async fn record_side_effects(
    tx: &mut Transaction<'_, Postgres>,
    run_id: Uuid,
    events: &[&RunEvent],
) -> ApiResult<Option<String>> {
    let mut agent_session_id = None;
    for e in events {
        match &e.body {
            EventBody::SystemInit {
                agent_session_id: id,
                ..
            } => agent_session_id = Some(id.clone()),
            EventBody::ToolUse {
                tool_use_id,
                name,
                input,
            } => {
                sqlx::query(
                    "INSERT INTO tool_executions (run_id, tool_use_id, name, input, started_at)
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                )
                .bind(run_id)
                .bind(tool_use_id)
                .bind(name)
                .bind(input)
                .bind(e.time)
                .execute(&mut **tx)
                .await?;
            }
            EventBody::ToolResult {
                tool_use_id,
                content,
                is_error,
            } => {
                sqlx::query(
                    "UPDATE tool_executions
                        SET output = $3, is_error = $4, finished_at = $5,
                            duration_ms = GREATEST(0, (EXTRACT(EPOCH FROM ($5 - started_at)) * 1000)::bigint)
                      WHERE run_id = $1 AND tool_use_id = $2",
                )
                .bind(run_id)
                .bind(tool_use_id)
                .bind(content)
                .bind(is_error)
                .bind(e.time)
                .execute(&mut **tx)
                .await?;
            }
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
            _ => {}
        }
    }
    Ok(agent_session_id)
}

#[derive(sqlx::FromRow)]
struct EventRow {
    session_id: Uuid,
    seq: i64,
    run_id: Uuid,
    run_seq: i64,
    time: DateTime<Utc>,
    r#type: String,
    payload: Value,
}

/// Events of a session after `after`, in order, at most `limit` (1..=[`MAX_PAGE`]).
pub async fn page(
    pool: &PgPool,
    session_id: Uuid,
    after: i64,
    limit: i64,
) -> ApiResult<EventsPage> {
    let limit = limit.clamp(1, MAX_PAGE);
    let rows: Vec<EventRow> = sqlx::query_as(
        "SELECT session_id, seq, run_id, run_seq, time, type, payload
           FROM events WHERE session_id = $1 AND seq > $2
          ORDER BY seq LIMIT $3",
    )
    .bind(session_id)
    .bind(after)
    .bind(limit + 1)
    .fetch_all(pool)
    .await?;
    let has_more = rows.len() as i64 > limit;
    let mut events = Vec::with_capacity(rows.len().min(limit as usize));
    for r in rows.into_iter().take(limit as usize) {
        let body = EventBody::from_parts(&r.r#type, r.payload).map_err(|e| {
            ApiError::Internal(format!("stored event {}#{}: {e}", r.session_id, r.seq))
        })?;
        events.push(Event {
            session_id: r.session_id,
            seq: r.seq,
            run_id: r.run_id,
            run_seq: r.run_seq,
            time: r.time,
            body,
        });
    }
    let next_after = events.last().map_or(after, |e| e.seq);
    Ok(EventsPage {
        events,
        next_after,
        has_more,
    })
}
