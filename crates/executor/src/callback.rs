//! Delivery of a run's events to its callback URL.
//!
//! The run numbers its events (`run_seq` 1, 2, 3, …) as it produces them and puts them in a
//! bounded channel ([`EventSink::emit`] waits when it is full, which in turn stops the reading of
//! the agent's output: memory stays bounded whatever the receiver does). One delivery task per
//! run takes them out in order and posts them as [`CallbackBatch`]es:
//!
//! - a batch leaves at once when the previous one left more than `flush` ago, else when that
//!   interval is over or the batch is full (`max_events` / `max_bytes`): the first event of a run
//!   is never held back, and a burst becomes a few requests;
//! - a failed request (connection error, timeout, 5xx, 408, 429) is retried with exponential
//!   back-off for up to `retry_for`, the same batch again (the receiver stores each
//!   `(run_id, run_seq)` once); any other 4xx is permanent and the batch is dropped with an error
//!   in the log;
//! - batches never overlap or reorder, so the terminal event, emitted last, is delivered last.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use chrono::Utc;
use protocol::event::{EventBody, RunEvent};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::{Instrument, debug, error, info_span, warn};
use uuid::Uuid;

use crate::config::Settings;

/// How one run's events are delivered.
#[derive(Debug, Clone)]
pub struct CallbackConfig {
    pub url: String,
    pub token: String,
    pub flush: Duration,
    pub max_events: usize,
    pub max_bytes: usize,
    pub buffer: usize,
    pub retry_for: Duration,
    pub backoff_max: Duration,
}

impl CallbackConfig {
    pub fn new(settings: &Settings, url: String, token: String) -> Self {
        Self {
            url,
            token,
            flush: Duration::from_millis(settings.callback_flush_ms),
            max_events: settings.callback_batch_max_events,
            max_bytes: settings.callback_batch_max_bytes,
            buffer: settings.event_buffer,
            retry_for: Duration::from_secs(settings.callback_retry_seconds),
            backoff_max: Duration::from_millis(settings.callback_backoff_max_ms.max(1)),
        }
    }
}

/// The producing side: numbers events and hands them to the delivery task.
pub struct EventSink {
    tx: mpsc::Sender<RunEvent>,
    seq: i64,
    /// The last `run_seq` produced, shared with the task's status.
    produced: Arc<AtomicI64>,
}

impl EventSink {
    /// Numbers `body` and queues it; waits while the queue is full. Await it to the end: a call
    /// dropped half-way still uses up its number.
    pub async fn emit(&mut self, body: EventBody) {
        self.seq += 1;
        let event = RunEvent {
            run_seq: self.seq,
            time: Utc::now(),
            body,
        };
        self.produced.store(self.seq, Ordering::Release);
        if self.tx.send(event).await.is_err() {
            // Only happens if the delivery task panicked; the event has nowhere to go.
            error!(
                run_seq = self.seq,
                "callback delivery task is gone; event dropped"
            );
        }
    }

    /// Number of events emitted so far.
    pub fn emitted(&self) -> i64 {
        self.seq
    }
}

/// What became of a run's events, for the log.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryReport {
    pub delivered: i64,
    pub dropped: i64,
    pub requests: u64,
}

/// Starts the delivery task of one run. Dropping the sink ends it once everything queued is sent.
pub fn start(
    client: reqwest::Client,
    run_id: Uuid,
    config: CallbackConfig,
    produced: Arc<AtomicI64>,
) -> (EventSink, JoinHandle<DeliveryReport>) {
    let (tx, rx) = mpsc::channel(config.buffer.max(1));
    let sender = Sender {
        client,
        run_id,
        config,
    };
    let span = info_span!("callback", %run_id);
    // The run's request id travels with every callback (header `X-Request-ID`).
    let handle = telemetry::request_id::spawn(sender.run(rx).instrument(span));
    (
        EventSink {
            tx,
            seq: 0,
            produced,
        },
        handle,
    )
}

struct Sender {
    client: reqwest::Client,
    run_id: Uuid,
    config: CallbackConfig,
}

/// Outcome of posting one batch.
enum Posted {
    Delivered,
    Rejected(String),
    GaveUp(String),
}

/// Why one attempt failed.
enum AttemptError {
    Retryable(String),
    Permanent(String),
}

impl Sender {
    async fn run(self, mut rx: mpsc::Receiver<RunEvent>) -> DeliveryReport {
        let mut report = DeliveryReport::default();
        // Serialized events of the next batch and their total size.
        let mut batch: Vec<(i64, Vec<u8>)> = Vec::new();
        let mut bytes = 0usize;
        let mut last_sent: Option<Instant> = None;
        let mut closed = false;

        while !closed {
            // Wait for the first event of the next batch.
            match rx.recv().await {
                Some(event) => bytes += self.push(&mut batch, &event),
                None => break,
            }
            // Hold the batch open until the flush interval since the previous request is over,
            // unless it fills up first or the run ends.
            let deadline = last_sent.map(|t| t + self.config.flush);
            loop {
                if batch.len() >= self.config.max_events || bytes >= self.config.max_bytes {
                    break;
                }
                // Whatever is already queued joins the batch without waiting.
                match rx.try_recv() {
                    Ok(event) => {
                        bytes += self.push(&mut batch, &event);
                        continue;
                    }
                    Err(mpsc::error::TryRecvError::Disconnected) => {
                        closed = true;
                        break;
                    }
                    Err(mpsc::error::TryRecvError::Empty) => {}
                }
                let Some(deadline) = deadline.filter(|d| *d > Instant::now()) else {
                    break;
                };
                tokio::select! {
                    event = rx.recv() => match event {
                        Some(event) => bytes += self.push(&mut batch, &event),
                        None => { closed = true; break; }
                    },
                    _ = tokio::time::sleep_until(deadline) => break,
                }
            }

            let first = batch.first().map(|(s, _)| *s).unwrap_or(0);
            let last = batch.last().map(|(s, _)| *s).unwrap_or(0);
            let count = batch.len() as i64;
            let body = self.body(&batch);
            batch.clear();
            bytes = 0;
            last_sent = Some(Instant::now());
            match self.post_with_retry(body, &mut report).await {
                Posted::Delivered => {
                    debug!(first, last, "events delivered");
                    report.delivered += count;
                }
                Posted::Rejected(reason) => {
                    error!(first, last, %reason, "callback receiver refused events; dropped");
                    report.dropped += count;
                }
                Posted::GaveUp(reason) => {
                    error!(first, last, %reason, "callback receiver unreachable for too long; events dropped");
                    report.dropped += count;
                }
            }
        }
        report
    }

    /// Adds a serialized event to the batch; returns its size.
    fn push(&self, batch: &mut Vec<(i64, Vec<u8>)>, event: &RunEvent) -> usize {
        match serde_json::to_vec(event) {
            Ok(bytes) => {
                let len = bytes.len();
                batch.push((event.run_seq, bytes));
                len
            }
            Err(e) => {
                // Cannot happen for our own types; keep the sequence gap-free anyway.
                error!(run_seq = event.run_seq, error = %e, "event did not serialize");
                let fallback = RunEvent {
                    run_seq: event.run_seq,
                    time: event.time,
                    body: EventBody::Raw {
                        line: String::new(),
                    },
                };
                let bytes = serde_json::to_vec(&fallback).unwrap_or_default();
                let len = bytes.len();
                batch.push((event.run_seq, bytes));
                len
            }
        }
    }

    /// `{"run_id": …, "events": [ … ]}`, the [`protocol::executor::CallbackBatch`] shape, from
    /// events serialized once.
    fn body(&self, batch: &[(i64, Vec<u8>)]) -> bytes::Bytes {
        let size: usize = batch.iter().map(|(_, b)| b.len() + 1).sum();
        let mut out = Vec::with_capacity(size + 64);
        out.extend_from_slice(b"{\"run_id\":\"");
        out.extend_from_slice(self.run_id.to_string().as_bytes());
        out.extend_from_slice(b"\",\"events\":[");
        for (i, (_, event)) in batch.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(event);
        }
        out.extend_from_slice(b"]}");
        bytes::Bytes::from(out)
    }

    async fn post_with_retry(&self, body: bytes::Bytes, report: &mut DeliveryReport) -> Posted {
        let started = Instant::now();
        let mut delay = Duration::from_millis(100).min(self.config.backoff_max);
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            report.requests += 1;
            match self.post(body.clone()).await {
                Ok(()) => return Posted::Delivered,
                Err(AttemptError::Permanent(reason)) => return Posted::Rejected(reason),
                Err(AttemptError::Retryable(reason)) => {
                    if started.elapsed() + delay > self.config.retry_for {
                        return Posted::GaveUp(format!("{reason} (after {attempt} attempts)"));
                    }
                    warn!(attempt, %reason, retry_in_ms = delay.as_millis() as u64, "callback failed; retrying");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(self.config.backoff_max);
                }
            }
        }
    }

    async fn post(&self, body: bytes::Bytes) -> Result<(), AttemptError> {
        let response = self
            .client
            .post(&self.config.url)
            .bearer_auth(&self.config.token)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(
                telemetry::request_id::HEADER,
                telemetry::request_id::current().unwrap_or_else(telemetry::request_id::generate),
            )
            .body(body)
            .send()
            .await
            .map_err(|e| AttemptError::Retryable(describe_reqwest(&e)))?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let reason = format!("HTTP {}", status.as_u16());
        if status.is_server_error()
            || status == reqwest::StatusCode::REQUEST_TIMEOUT
            || status == reqwest::StatusCode::TOO_MANY_REQUESTS
        {
            Err(AttemptError::Retryable(reason))
        } else {
            Err(AttemptError::Permanent(reason))
        }
    }
}

/// A reqwest error without the URL (it may carry a token in its query).
fn describe_reqwest(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else if e.is_request() {
        "request failed"
    } else {
        "transport error"
    };
    let mut source = std::error::Error::source(e);
    let mut detail = String::new();
    while let Some(s) = source {
        detail = s.to_string();
        source = s.source();
    }
    if detail.is_empty() {
        kind.to_owned()
    } else {
        format!("{kind}: {detail}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::executor::CallbackBatch;
    use std::sync::Mutex;
    use std::sync::atomic::AtomicUsize;

    /// A receiver answering `statuses` in turn (then 200), recording what it accepted and when.
    #[derive(Clone, Default)]
    struct Recv {
        statuses: Arc<Mutex<Vec<u16>>>,
        got: Arc<Mutex<Vec<(Instant, CallbackBatch)>>>,
        calls: Arc<AtomicUsize>,
    }

    async fn serve(recv: Recv) -> String {
        use axum::routing::post;
        let app = axum::Router::new()
            .route(
                "/cb",
                post(
                    |axum::extract::State(r): axum::extract::State<Recv>,
                     axum::Json(batch): axum::Json<CallbackBatch>| async move {
                        r.calls.fetch_add(1, Ordering::SeqCst);
                        let status = {
                            let mut s = r.statuses.lock().unwrap();
                            if s.is_empty() { 200 } else { s.remove(0) }
                        };
                        if status == 200 {
                            r.got.lock().unwrap().push((Instant::now(), batch));
                        }
                        axum::http::StatusCode::from_u16(status).unwrap()
                    },
                ),
            )
            .with_state(recv);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/cb", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        url
    }

    fn config(url: String) -> CallbackConfig {
        let mut s = Settings::with_defaults("m", "/w");
        s.callback_backoff_max_ms = 50;
        CallbackConfig::new(&s, url, "tok".into())
    }

    fn text(i: usize) -> EventBody {
        EventBody::AssistantText {
            text: format!("event {i}"),
            parent_tool_use_id: None,
        }
    }

    fn seqs(recv: &Recv) -> Vec<i64> {
        recv.got
            .lock()
            .unwrap()
            .iter()
            .flat_map(|(_, b)| b.events.iter().map(|e| e.run_seq))
            .collect()
    }

    #[tokio::test]
    async fn the_first_event_leaves_at_once_and_a_burst_is_batched_in_order() {
        let recv = Recv::default();
        let url = serve(recv.clone()).await;
        let produced = Arc::new(AtomicI64::new(0));
        let (mut sink, task) = start(
            reqwest::Client::new(),
            Uuid::nil(),
            config(url),
            produced.clone(),
        );
        let sent = Instant::now();
        sink.emit(text(0)).await;
        while recv.got.lock().unwrap().is_empty() {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let first_latency = recv.got.lock().unwrap()[0].0 - sent;
        assert!(
            first_latency < Duration::from_millis(40),
            "{first_latency:?}"
        );
        for i in 1..=300 {
            sink.emit(text(i)).await;
        }
        sink.emit(EventBody::Completed {}).await;
        assert_eq!(produced.load(Ordering::SeqCst), 302);
        drop(sink);
        let report = task.await.unwrap();
        assert_eq!(seqs(&recv), (1..=302).collect::<Vec<_>>());
        assert_eq!(report.delivered, 302);
        assert!(report.requests <= 8, "{report:?}");
        assert!(
            recv.got
                .lock()
                .unwrap()
                .iter()
                .all(|(_, b)| b.events.len() <= 100)
        );
    }

    #[tokio::test]
    async fn failures_are_retried_and_permanent_refusals_dropped() {
        let recv = Recv::default();
        *recv.statuses.lock().unwrap() = vec![503, 429, 200, 400];
        let url = serve(recv.clone()).await;
        let (mut sink, task) = start(
            reqwest::Client::new(),
            Uuid::nil(),
            config(url),
            Arc::new(AtomicI64::new(0)),
        );
        sink.emit(text(1)).await;
        while recv.got.lock().unwrap().is_empty() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        tokio::time::sleep(Duration::from_millis(80)).await;
        sink.emit(text(2)).await; // answered 400: dropped
        tokio::time::sleep(Duration::from_millis(80)).await;
        sink.emit(EventBody::Completed {}).await;
        drop(sink);
        let report = task.await.unwrap();
        assert_eq!(seqs(&recv), vec![1, 3]);
        assert_eq!(
            report,
            DeliveryReport {
                delivered: 2,
                dropped: 1,
                requests: 5
            }
        );
    }

    #[tokio::test]
    async fn a_stalled_receiver_pushes_back_on_the_producer() {
        // Nobody listens: the first batch is retried while the queue fills up.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/cb", listener.local_addr().unwrap());
        drop(listener);
        let mut cfg = config(url);
        cfg.buffer = 4;
        cfg.max_events = 2;
        let (mut sink, task) = start(
            reqwest::Client::new(),
            Uuid::nil(),
            cfg,
            Arc::new(AtomicI64::new(0)),
        );
        let mut accepted = 0;
        for i in 0..20 {
            match tokio::time::timeout(Duration::from_millis(200), sink.emit(text(i))).await {
                Ok(()) => accepted += 1,
                Err(_) => break,
            }
        }
        assert!(
            accepted <= 7,
            "accepted {accepted} events without delivering any"
        );
        task.abort();
    }

    #[test]
    fn batch_body_is_a_callback_batch() {
        let sender = Sender {
            client: reqwest::Client::new(),
            run_id: Uuid::nil(),
            config: CallbackConfig::new(
                &Settings::with_defaults("m", "/w"),
                "http://x".into(),
                "t".into(),
            ),
        };
        let mut batch = Vec::new();
        for seq in 1..=2 {
            sender.push(
                &mut batch,
                &RunEvent {
                    run_seq: seq,
                    time: Utc::now(),
                    body: EventBody::AssistantText {
                        text: format!("t{seq}"),
                        parent_tool_use_id: None,
                    },
                },
            );
        }
        let body = sender.body(&batch);
        let parsed: CallbackBatch = serde_json::from_slice(&body).unwrap();
        assert_eq!(parsed.run_id, Uuid::nil());
        assert_eq!(
            parsed.events.iter().map(|e| e.run_seq).collect::<Vec<_>>(),
            vec![1, 2]
        );
        let empty: CallbackBatch = serde_json::from_slice(&sender.body(&[])).unwrap();
        assert!(empty.events.is_empty());
    }
}
