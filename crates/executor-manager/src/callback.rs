//! The executors' callback endpoint, `POST /api/v1/callbacks/{run_id}`, and the registry of the
//! runs this manager holds.
//!
//! Each run gets a random 32-byte callback token; only that token can post events for that run
//! (compared in constant time). A batch is forwarded to the backend under the run's lease and the
//! executor is answered only once the backend stored it, so an executor retry after any failure
//! makes delivery at-least-once (the backend stores each `(run_id, run_seq)` once).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use protocol::executor::CallbackBatch;
use protocol::{ErrorBody, ErrorCode, EventBody};
use subtle::ConstantTimeEq;
use tokio::sync::mpsc;
use uuid::Uuid;

use crate::backend::{BackendClient, BackendError, Lease};

/// The largest callback body accepted (the executor's batches are at most 1 MiB by default).
const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

/// What the callback endpoint tells a run's task.
#[derive(Debug, Clone, PartialEq)]
pub enum RunSignal {
    /// The terminal event was stored by the backend.
    Terminal(EventBody),
    /// The backend fenced the run off while storing events.
    LeaseLost,
    /// The backend stored an `input_request` event: the run waits for an answer.
    InputRequested,
}

/// A run this manager holds, as the callback endpoint sees it.
struct Entry {
    lease: Lease,
    token: Vec<u8>,
    signals: mpsc::UnboundedSender<RunSignal>,
}

/// The runs this manager holds, by run id.
#[derive(Clone, Default)]
pub struct Registry {
    runs: Arc<Mutex<HashMap<Uuid, Arc<Entry>>>>,
    /// The model proxy tokens bound to the runs running now (see [`crate::model_proxy`]).
    models: crate::model_proxy::Bindings,
}

/// A registered run; unregisters itself when dropped.
pub struct Registration {
    registry: Registry,
    run_id: Uuid,
    /// The token to give the executor (hex of 32 random bytes). Never logged.
    pub token: String,
    pub signals: mpsc::UnboundedReceiver<RunSignal>,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.registry.lock().remove(&self.run_id);
    }
}

impl Registry {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, Arc<Entry>>> {
        // A poisoned map is still a consistent map (every update is one insert or remove).
        self.runs
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Registers a run with a fresh random token.
    pub fn register(&self, lease: Lease) -> Registration {
        let bytes: [u8; 32] = rand::random();
        let token = hex::encode(bytes);
        let (tx, rx) = mpsc::unbounded_channel();
        let run_id = lease.run_id;
        self.lock().insert(
            run_id,
            Arc::new(Entry {
                lease,
                token: token.clone().into_bytes(),
                signals: tx,
            }),
        );
        Registration {
            registry: self.clone(),
            run_id,
            token,
            signals: rx,
        }
    }

    /// The model proxy's token bindings: a run binds its executor's proxy token while it runs.
    pub fn models(&self) -> &crate::model_proxy::Bindings {
        &self.models
    }

    /// Run ids currently held.
    pub fn active(&self) -> Vec<Uuid> {
        self.lock().keys().copied().collect()
    }

    /// The run's entry if `token` is its token.
    fn authorize(&self, run_id: Uuid, token: &str) -> Option<Arc<Entry>> {
        let entry = self.lock().get(&run_id).cloned()?;
        let ok: bool = entry.token.as_slice().ct_eq(token.as_bytes()).into();
        ok.then_some(entry)
    }
}

/// Why a callback was refused. Mapped to HTTP once, in `IntoResponse`.
#[derive(Debug, thiserror::Error)]
pub enum CallbackError {
    #[error("missing or invalid callback token")]
    Unauthorized,
    #[error("invalid callback body: {0}")]
    BadBody(String),
    #[error("the body's run_id does not match the URL")]
    RunMismatch,
    #[error("this run is no longer leased to this manager")]
    LeaseLost,
    #[error("the backend could not store the events; retry: {0}")]
    Backend(String),
}

impl IntoResponse for CallbackError {
    fn into_response(self) -> Response {
        let (status, code) = match &self {
            CallbackError::Unauthorized => (StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized),
            CallbackError::BadBody(_) => (StatusCode::BAD_REQUEST, ErrorCode::InvalidRequest),
            CallbackError::RunMismatch => {
                (StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::RunMismatch)
            }
            CallbackError::LeaseLost => (StatusCode::GONE, ErrorCode::LeaseLost),
            CallbackError::Backend(_) => (StatusCode::BAD_GATEWAY, ErrorCode::BackendUnavailable),
        };
        (status, axum::Json(ErrorBody::new(code, self.to_string()))).into_response()
    }
}

#[derive(Clone)]
struct CallbackState {
    registry: Registry,
    backend: BackendClient,
}

/// `POST /api/v1/callbacks/{run_id}`.
pub fn routes(registry: Registry, backend: BackendClient) -> Router {
    Router::new()
        .route("/api/v1/callbacks/{run_id}", post(receive))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(CallbackState { registry, backend })
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

async fn receive(
    State(state): State<CallbackState>,
    Path(run_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, CallbackError> {
    // Authenticate before looking at anything else the caller sent.
    let run_id: Uuid = run_id.parse().map_err(|_| CallbackError::Unauthorized)?;
    let token = bearer(&headers).ok_or(CallbackError::Unauthorized)?;
    let entry = state.registry.authorize(run_id, token).ok_or_else(|| {
        tracing::warn!(%run_id, "callback refused: unknown run or wrong token");
        CallbackError::Unauthorized
    })?;
    let batch: CallbackBatch =
        serde_json::from_slice(&body).map_err(|e| CallbackError::BadBody(e.to_string()))?;
    if batch.run_id != run_id {
        return Err(CallbackError::RunMismatch);
    }
    let terminal = batch
        .events
        .iter()
        .find(|e| e.body.is_terminal())
        .map(|e| e.body.clone());
    let asks = batch
        .events
        .iter()
        .any(|e| matches!(e.body, EventBody::InputRequest(_)));
    let count = batch.events.len();
    let stored = match state.backend.events(&entry.lease, batch.events).await {
        Ok(r) => r,
        Err(BackendError::LeaseLost(msg)) => {
            tracing::warn!(%run_id, message = %msg, "lease lost while storing events");
            let _ = entry.signals.send(RunSignal::LeaseLost);
            return Err(CallbackError::LeaseLost);
        }
        Err(e) => {
            tracing::warn!(%run_id, error = %e, "could not store events");
            return Err(CallbackError::Backend(e.to_string()));
        }
    };
    tracing::debug!(%run_id, events = count, stored = stored.stored, duplicates = stored.duplicates, "events relayed");
    if asks {
        let _ = entry.signals.send(RunSignal::InputRequested);
    }
    if let Some(t) = terminal {
        let _ = entry.signals.send(RunSignal::Terminal(t));
    }
    Ok((StatusCode::OK, axum::Json(stored)).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lease(run_id: Uuid) -> Lease {
        Lease {
            run_id,
            worker_id: "w".into(),
            epoch: 1,
        }
    }

    #[test]
    fn tokens_are_per_run_and_random() {
        let reg = Registry::default();
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let ra = reg.register(lease(a));
        let rb = reg.register(lease(b));
        assert_eq!(ra.token.len(), 64);
        assert_ne!(ra.token, rb.token);
        assert!(reg.authorize(a, &ra.token).is_some());
        assert!(reg.authorize(b, &ra.token).is_none());
        assert!(reg.authorize(a, "").is_none());
        assert!(reg.authorize(a, &ra.token[..63]).is_none());
        drop(ra);
        assert!(reg.authorize(a, "x").is_none());
        assert_eq!(reg.active(), vec![b]);
    }

    #[test]
    fn bearer_parsing() {
        let mut h = HeaderMap::new();
        assert_eq!(bearer(&h), None);
        h.insert(header::AUTHORIZATION, "Bearer abc".parse().unwrap());
        assert_eq!(bearer(&h), Some("abc"));
        h.insert(header::AUTHORIZATION, "Basic abc".parse().unwrap());
        assert_eq!(bearer(&h), None);
    }
}
