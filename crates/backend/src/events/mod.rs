//! The event log: ingestion from workers ([`ingest`]) and reading by browsers ([`page`]).

pub mod ingest;

use chrono::{DateTime, Utc};
use protocol::api::EventsPage;
use protocol::event::{Event, EventBody};
use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};

/// The most events one page of reading returns.
pub const MAX_PAGE: i64 = 1000;

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
