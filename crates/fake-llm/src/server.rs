//! The HTTP server: shared state, routes, request recording, admin endpoints,
//! and the [`FakeLlm`] / [`FakeLlmHandle`] library API.
//!
//! The library runs the server on a dedicated thread with its own Tokio
//! runtime. Tests often block their own thread (waiting for a child process
//! such as the Claude CLI, or using a current-thread test runtime); a server
//! living on the caller's runtime would then stop answering and deadlock the
//! test.

use std::collections::{BTreeMap, HashMap};
use std::future::{Future, IntoFuture};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes, to_bytes};
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::Utc;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::{Notify, oneshot};

use crate::anthropic;
use crate::error::{Error, Result};
use crate::openai;
use crate::recorder::{Annotation, RecordedRequest, Recorder, RequestKind};
use crate::scenario::ScenarioFile;

/// Largest request body accepted. Long CLI conversations re-send their whole
/// history (plus ~80 KB of system prompt and tools) on every turn.
pub const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;

/// How long in-flight responses may run on after a shutdown request.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(1);

/// API key used by [`Config::default`].
pub const DEFAULT_API_KEY: &str = "sk-ant-fake-llm-test-key";

/// How to start a server.
#[derive(Debug, Clone)]
pub struct Config {
    /// Key clients must send as `x-api-key` or `Authorization: Bearer`.
    pub api_key: String,
    /// Key for `/v1/chat/completions` (`Authorization: Bearer`); the
    /// Anthropic key when `None`.
    pub openai_api_key: Option<String>,
    /// What to answer.
    pub scenarios: ScenarioFile,
    /// Where to listen; port 0 picks a free port.
    pub listen: SocketAddr,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            api_key: DEFAULT_API_KEY.to_string(),
            openai_api_key: None,
            scenarios: ScenarioFile::default(),
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        }
    }
}

impl Config {
    /// A config with this key and these scenarios, on 127.0.0.1:0.
    pub fn new(api_key: impl Into<String>, scenarios: ScenarioFile) -> Self {
        Self {
            api_key: api_key.into(),
            scenarios,
            ..Self::default()
        }
    }
}

/// State shared by all handlers.
#[derive(Debug)]
pub struct AppState {
    pub(crate) api_key: String,
    pub(crate) openai_api_key: String,
    scenarios: RwLock<Arc<ScenarioFile>>,
    pub(crate) recorder: Recorder,
    /// Failed attempts per (conversation, scenario, turn), for error turns
    /// with `times`.
    error_attempts: Mutex<HashMap<(String, String, usize), u32>>,
}

impl AppState {
    /// Builds the state from a config.
    pub fn new(config: &Config) -> Self {
        Self {
            api_key: config.api_key.clone(),
            openai_api_key: config
                .openai_api_key
                .clone()
                .unwrap_or_else(|| config.api_key.clone()),
            scenarios: RwLock::new(Arc::new(config.scenarios.clone())),
            recorder: Recorder::default(),
            error_attempts: Mutex::new(HashMap::new()),
        }
    }

    /// The current scenarios (a cheap snapshot: a replacement while a
    /// request is being answered does not change that answer).
    pub fn scenarios(&self) -> Arc<ScenarioFile> {
        self.scenarios
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Replaces the scenarios and forgets error-attempt counts.
    pub fn set_scenarios(&self, file: ScenarioFile) {
        *self
            .scenarios
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Arc::new(file);
        self.attempts().clear();
    }

    /// Forgets recorded requests and error-attempt counts.
    pub fn reset(&self) {
        self.recorder.clear();
        self.attempts().clear();
    }

    /// Counts one attempt at an error turn and returns how many attempts came
    /// before it.
    pub(crate) fn count_error_attempt(
        &self,
        conversation: &str,
        scenario: &str,
        turn: usize,
    ) -> u32 {
        let mut attempts = self.attempts();
        let count = attempts
            .entry((conversation.to_string(), scenario.to_string(), turn))
            .or_insert(0);
        let before = *count;
        *count = count.saturating_add(1);
        before
    }

    fn attempts(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String, usize), u32>> {
        self.error_attempts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether `key` is one of the configured keys.
    pub(crate) fn is_known_key(&self, key: &str) -> bool {
        key == self.api_key || key == self.openai_api_key
    }
}

/// Sequence number of the recorded request, passed from the recording
/// middleware to the handler so it can add what it learned.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RequestSeq(pub u64);

impl RequestSeq {
    /// Records what the handler found out about this request.
    pub(crate) fn annotate(
        self,
        state: &AppState,
        kind: RequestKind,
        scenario: Option<String>,
        turn: Option<usize>,
    ) {
        state.recorder.annotate(
            self.0,
            Annotation {
                kind: Some(kind),
                scenario,
                turn,
            },
        );
    }
}

/// All routes.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/v1/messages", post(anthropic::messages))
        .route("/v1/messages/count_tokens", post(anthropic::count_tokens))
        .route("/v1/chat/completions", post(openai::chat_completions))
        // Connectivity check the CLI makes (HEAD) unless non-essential
        // traffic is disabled.
        .route("/api/hello", get(hello))
        .route("/_admin/health", get(hello))
        .route("/_admin/requests", get(admin_requests))
        .route("/_admin/reset", post(admin_reset))
        .route(
            "/_admin/scenarios",
            get(admin_get_scenarios).put(admin_put_scenarios),
        )
        .fallback(anthropic::not_found)
        .method_not_allowed_fallback(anthropic::method_not_allowed)
        .layer(middleware::from_fn_with_state(state.clone(), record))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

/// Serves until `shutdown` completes, then lets in-flight responses finish for
/// up to a second before returning.
pub async fn serve(
    listener: TcpListener,
    state: Arc<AppState>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let stop = Arc::new(Notify::new());
    let stop_signal = stop.clone();
    let server = axum::serve(listener, router(state))
        .with_graceful_shutdown(async move { stop_signal.notified().await })
        .into_future();
    tokio::pin!(server);
    tokio::select! {
        result = &mut server => result,
        () = shutdown => {
            stop.notify_one();
            tokio::time::timeout(SHUTDOWN_GRACE, server).await.unwrap_or(Ok(()))
        }
    }
}

async fn hello() -> &'static str {
    "ok"
}

async fn admin_requests(State(state): State<Arc<AppState>>) -> Response {
    axum::Json(state.recorder.snapshot()).into_response()
}

async fn admin_reset(State(state): State<Arc<AppState>>) -> Response {
    state.reset();
    axum::Json(json!({"ok": true})).into_response()
}

async fn admin_get_scenarios(State(state): State<Arc<AppState>>) -> Response {
    axum::Json(state.scenarios().as_ref().clone()).into_response()
}

async fn admin_put_scenarios(State(state): State<Arc<AppState>>, body: Bytes) -> Response {
    let parsed = serde_json::from_slice::<Value>(&body)
        .map_err(|e| e.to_string())
        .and_then(|value| ScenarioFile::from_json_value(value).map_err(|e| e.to_string()));
    match parsed {
        Ok(file) => {
            let names: Vec<String> = file.scenarios.keys().cloned().collect();
            state.set_scenarios(file);
            tracing::info!(?names, "scenarios replaced");
            axum::Json(json!({"ok": true, "scenarios": names})).into_response()
        }
        Err(message) => (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"ok": false, "error": message})),
        )
            .into_response(),
    }
}

/// Records every non-admin request (body included) before the handler runs
/// and its status after.
async fn record(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    if request.uri().path().starts_with("/_admin/") {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let bytes = match to_bytes(body, MAX_BODY_BYTES).await {
        Ok(bytes) => bytes,
        Err(error) => {
            tracing::warn!(%error, "cannot read request body");
            return anthropic::ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "request_too_large",
                "Request exceeds the maximum allowed number of bytes.",
            )
            .into_response();
        }
    };
    let (body_json, raw_body) = match serde_json::from_slice::<Value>(&bytes) {
        Ok(value) => (Some(value), None),
        Err(_) if bytes.is_empty() => (None, None),
        Err(_) => (None, Some(String::from_utf8_lossy(&bytes).into_owned())),
    };
    let method = parts.method.to_string();
    let path = parts.uri.path().to_string();
    let seq = state.recorder.push(RecordedRequest {
        seq: 0,
        time: Utc::now(),
        method: method.clone(),
        path: path.clone(),
        query: parts.uri.query().map(str::to_string),
        headers: redacted_headers(&state, &parts.headers),
        body: body_json,
        raw_body,
        status: None,
        kind: RequestKind::Other,
        scenario: None,
        turn: None,
    });
    let mut request = Request::from_parts(parts, Body::from(bytes));
    request.extensions_mut().insert(RequestSeq(seq));
    let response = next.run(request).await;
    let status = response.status().as_u16();
    state.recorder.set_status(seq, status);
    tracing::info!(seq, %method, %path, status, "request");
    response
}

/// Header map with secrets replaced, keeping whether they were right.
fn redacted_headers(state: &AppState, headers: &HeaderMap) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        let value = if name == "x-api-key" {
            redact(state, &value).to_string()
        } else if name == header::AUTHORIZATION {
            match value.strip_prefix("Bearer ") {
                Some(token) => format!("Bearer {}", redact(state, token.trim())),
                None => "[redacted]".to_string(),
            }
        } else {
            value
        };
        out.entry(name.as_str().to_string())
            .and_modify(|existing| {
                existing.push_str(", ");
                existing.push_str(&value);
            })
            .or_insert(value);
    }
    out
}

fn redact(state: &AppState, key: &str) -> &'static str {
    if state.is_known_key(key) {
        "[redacted:valid]"
    } else {
        "[redacted:invalid]"
    }
}

/// Entry point of the library.
#[derive(Debug)]
pub struct FakeLlm;

impl FakeLlm {
    /// Starts a server on its own thread and waits until it listens.
    ///
    /// Safe to call from any async context; the server does not use the
    /// caller's runtime, so the caller may block (e.g. on a child process).
    pub async fn start(config: Config) -> Result<FakeLlmHandle> {
        let (ready_tx, ready_rx) = oneshot::channel();
        let partial = spawn_server_thread(config, move |ready| {
            // The receiver only disappears if the caller gave up waiting.
            let _ = ready_tx.send(ready);
        })?;
        let addr = ready_rx.await.map_err(|_| Error::ThreadExited)??;
        Ok(partial.finish(addr))
    }

    /// Like [`FakeLlm::start`], for synchronous code (plain `#[test]`s). Must
    /// not be called from inside an async runtime's worker without
    /// `block_in_place`, as it blocks until the server listens.
    pub fn start_blocking(config: Config) -> Result<FakeLlmHandle> {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let partial = spawn_server_thread(config, move |ready| {
            let _ = ready_tx.send(ready);
        })?;
        let addr = ready_rx.recv().map_err(|_| Error::ThreadExited)??;
        Ok(partial.finish(addr))
    }
}

/// A handle whose address is not known yet.
struct PartialHandle {
    state: Arc<AppState>,
    shutdown: oneshot::Sender<()>,
    thread: std::thread::JoinHandle<()>,
}

impl PartialHandle {
    fn finish(self, addr: SocketAddr) -> FakeLlmHandle {
        FakeLlmHandle {
            addr,
            state: self.state,
            shutdown: Some(self.shutdown),
            thread: Some(self.thread),
        }
    }
}

fn spawn_server_thread(
    config: Config,
    ready: impl FnOnce(Result<SocketAddr>) + Send + 'static,
) -> Result<PartialHandle> {
    let state = Arc::new(AppState::new(&config));
    let (shutdown_tx, shutdown_rx) = oneshot::channel::<()>();
    let thread_state = state.clone();
    let listen = config.listen;
    let thread = std::thread::Builder::new()
        .name(format!("fake-llm-{listen}"))
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime,
                Err(error) => return ready(Err(Error::Thread(error))),
            };
            runtime.block_on(async move {
                let listener = match TcpListener::bind(listen).await {
                    Ok(listener) => listener,
                    Err(source) => {
                        return ready(Err(Error::Bind {
                            addr: listen,
                            source,
                        }));
                    }
                };
                let addr = match listener.local_addr() {
                    Ok(addr) => addr,
                    Err(source) => {
                        return ready(Err(Error::Bind {
                            addr: listen,
                            source,
                        }));
                    }
                };
                ready(Ok(addr));
                let shutdown = async move {
                    // A dropped sender means the handle is gone: stop too.
                    let _ = shutdown_rx.await;
                };
                if let Err(error) = serve(listener, thread_state, shutdown).await {
                    tracing::error!(%error, "fake-llm server failed");
                }
            });
        })
        .map_err(Error::Thread)?;
    Ok(PartialHandle {
        state,
        shutdown: shutdown_tx,
        thread,
    })
}

/// A running server. Dropping it stops the server (without waiting); call
/// [`FakeLlmHandle::shutdown`] to wait until it is gone.
#[derive(Debug)]
pub struct FakeLlmHandle {
    addr: SocketAddr,
    state: Arc<AppState>,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FakeLlmHandle {
    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`, the value for `ANTHROPIC_BASE_URL`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `http://127.0.0.1:PORT/v1`, the base URL OpenAI-style clients expect.
    pub fn openai_base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// The Anthropic API key the server accepts.
    pub fn api_key(&self) -> &str {
        &self.state.api_key
    }

    /// Every recorded request, oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.state.recorder.snapshot()
    }

    /// Recorded conversation requests only (kind [`RequestKind::Turn`]).
    pub fn turn_requests(&self) -> Vec<RecordedRequest> {
        self.requests()
            .into_iter()
            .filter(|request| request.kind == RequestKind::Turn)
            .collect()
    }

    /// Forgets recorded requests and error-attempt counts.
    pub fn reset(&self) {
        self.state.reset();
    }

    /// Replaces the scenarios (takes effect for the next request).
    pub fn set_scenarios(&self, file: ScenarioFile) {
        self.state.set_scenarios(file);
    }

    /// The current scenarios.
    pub fn scenarios(&self) -> ScenarioFile {
        self.state.scenarios().as_ref().clone()
    }

    /// Stops the server and waits (at most about a second) until its thread
    /// ended.
    pub fn shutdown(mut self) {
        self.stop();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }

    fn stop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

impl Drop for FakeLlmHandle {
    fn drop(&mut self) {
        self.stop();
    }
}
