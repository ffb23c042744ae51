//! The model proxy: `/api/v1/model-proxy/{*path}` on the manager's HTTP server, the only way an
//! agent reaches the model provider.
//!
//! Why: the provider credential (`ANTHROPIC_AUTH_TOKEN` / `ANTHROPIC_API_KEY` of the manager)
//! must never be where an agent can read it, and any agent can be talked into printing its own
//! environment. So the agent gets `ANTHROPIC_BASE_URL` = this proxy and, as its
//! `ANTHROPIC_AUTH_TOKEN`, a *proxy token*; the proxy swaps that token for the real credential.
//!
//! - A proxy token is 32 random bytes (hex), made per executor when the executor is first
//!   acquired for a run and kept with it while it stays warm for its session, so the task
//!   environment of a follow-up is the same and the CLI the executor started ahead is reused.
//! - A token is *accepted* only while its executor runs a run: [`Bindings::bind`] binds it to the
//!   run at the start and the returned [`ModelRun`] unbinds it when the run ends. Unknown, unbound
//!   and missing tokens get 401; comparison is constant time.
//! - Accepted requests go to `ANTHROPIC_BASE_URL` with the same method, path below the prefix
//!   (only `/v1/...`), query and body; the client's credentials, `Host` and hop-by-hop headers are
//!   dropped and the manager's credential added. A run whose model belongs to a provider of the
//!   backend's model catalog (`ClaimedRun.model_route`) is bound with that route: its requests go
//!   to the route's Anthropic-compatible base URL with the route's key (as `x-api-key` and
//!   `Authorization: Bearer`, which Anthropic-compatible vendors accept one or the other of),
//!   never to the manager's upstream. The key stays in this process: it is not logged (`Debug`
//!   redacts it) and never reaches the executor. The answer, errors included, comes back with the
//!   upstream status, streamed as it arrives (SSE chunk by chunk); an unreachable upstream is 502.
//! - Usage: the `usage` of `message_start` / `message_delta` events (and of non-streamed JSON
//!   answers) is read from the bytes as they pass, summed per run, counted in
//!   `workcell_model_tokens_total` (by kind and provider) and logged when the run ends.
//! - [`ModelAccess`] is asked before each request is forwarded and told each run's usage at its
//!   end: the place per-user budgets go. Today's [`AllowAll`] allows everything.
//!
//! The isolation boundary is the container: with the docker runtime nothing an agent can read
//! (its environment, every process's `/proc/*/environ` and command line, the workspace) holds the
//! provider key. With the process runtime the agent runs as the manager's user and can read the
//! manager's own `/proc/<pid>/environ`; that runtime is for development only.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use futures::StreamExt;
use futures::future::BoxFuture;
use protocol::ErrorCode;
use protocol::models::ModelRoute;
use serde_json::{Value, json};
use subtle::ConstantTimeEq;
use uuid::Uuid;

use crate::config::Settings;

/// Where the proxy is mounted on the manager's server.
pub const PREFIX: &str = "/api/v1/model-proxy";
/// The largest request forwarded (the Messages API's own limit is 32 MB).
const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest silence on an upstream connection: the CLI's own request timeout (`API_TIMEOUT_MS`,
/// 10 minutes by default); streams send `ping` events far more often.
const READ_TIMEOUT: Duration = Duration::from_secs(600);
/// Non-streamed JSON answers up to this size are read for their usage.
const MAX_JSON_USAGE_BYTES: usize = 4 * 1024 * 1024;
/// An SSE line longer than this is not looked at (usage lines are a few hundred bytes).
const MAX_SSE_LINE_BYTES: usize = 1024 * 1024;

/// `ANTHROPIC_BASE_URL` for the agents of a manager whose executors reach it at
/// `callback_base_url`.
pub fn base_url(callback_base_url: &str) -> String {
    format!("{}{PREFIX}", callback_base_url.trim_end_matches('/'))
}

/// A fresh proxy token: hex of 32 random bytes. Never logged.
pub fn new_token() -> String {
    let bytes: [u8; 32] = rand::random();
    hex::encode(bytes)
}

/// Tokens used by the model, summed over a run's requests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_creation_input_tokens: u64,
    pub cache_read_input_tokens: u64,
    /// Requests forwarded to the provider (answered or not).
    pub requests: u64,
}

impl Usage {
    /// The counts of a Messages API `usage` object; absent or non-numeric fields are `None`.
    fn fields(usage: &Value) -> [Option<u64>; 4] {
        let get = |name: &str| usage.get(name).and_then(Value::as_u64);
        [
            get("input_tokens"),
            get("output_tokens"),
            get("cache_creation_input_tokens"),
            get("cache_read_input_tokens"),
        ]
    }
}

/// Who is calling the model: the run a token is bound to and the run's owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller {
    pub user_id: Uuid,
    pub run_id: Uuid,
}

/// Why [`ModelAccess::check`] refused a request; the message reaches the agent (and so the
/// run's events), so it must hold nothing secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denied {
    pub message: String,
}

/// The policy on who may use the model, and the account of what they used: the place per-user
/// budgets go. `check` runs before every forwarded request (a refusal answers 403
/// `model_access_denied`, which the CLI does not retry); `record` gets each run's totals when
/// the run ends.
pub trait ModelAccess: Send + Sync {
    fn check<'a>(&'a self, caller: &'a Caller) -> BoxFuture<'a, Result<(), Denied>>;
    fn record(&self, _caller: &Caller, _usage: &Usage) {}
}

/// Today's policy: no budgets, every bound run may call the model.
pub struct AllowAll;

impl ModelAccess for AllowAll {
    fn check<'a>(&'a self, _caller: &'a Caller) -> BoxFuture<'a, Result<(), Denied>> {
        Box::pin(async { Ok(()) })
    }
}

/// The provider label of runs without a route (the manager's own upstream).
pub const UPSTREAM_PROVIDER: &str = "anthropic";

/// Why a claimed run's route is refused (the run fails; nothing is forwarded).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    #[error("the model route's provider name `{0}` is not 1 to 64 of a-z, 0-9, - and _")]
    Provider(String),
    #[error("the model route of provider `{0}` has no http(s) base URL")]
    BaseUrl(String),
    #[error("the model route of provider `{0}` has an empty key")]
    Key(String),
}

/// Checks a route from a claim before any request uses it: a provider name fit for a metrics
/// label, an `http(s)` base URL, a key that fits in a header.
pub fn check_route(route: &ModelRoute) -> Result<(), RouteError> {
    let name = &route.provider;
    let name_ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if !name_ok {
        return Err(RouteError::Provider(name.chars().take(64).collect()));
    }
    let url_ok = reqwest::Url::parse(&route.base_url).is_ok_and(|u| {
        matches!(u.scheme(), "http" | "https") && u.host_str().is_some_and(|h| !h.is_empty())
    });
    if !url_ok {
        return Err(RouteError::BaseUrl(name.clone()));
    }
    let key = route.api_key.expose();
    if key.trim().is_empty() || HeaderValue::from_str(key).is_err() {
        return Err(RouteError::Key(name.clone()));
    }
    Ok(())
}

/// A run's bound token and its running usage.
pub struct Binding {
    caller: Caller,
    token: Vec<u8>,
    /// Where this run's requests go; `None`: the manager's upstream.
    route: Option<ModelRoute>,
    input: AtomicU64,
    output: AtomicU64,
    cache_creation: AtomicU64,
    cache_read: AtomicU64,
    requests: AtomicU64,
}

impl Binding {
    pub fn caller(&self) -> Caller {
        self.caller
    }

    /// The provider serving the run: the route's, else [`UPSTREAM_PROVIDER`].
    pub fn provider(&self) -> &str {
        self.route
            .as_ref()
            .map_or(UPSTREAM_PROVIDER, |r| r.provider.as_str())
    }

    pub fn usage(&self) -> Usage {
        Usage {
            input_tokens: self.input.load(Ordering::Acquire),
            output_tokens: self.output.load(Ordering::Acquire),
            cache_creation_input_tokens: self.cache_creation.load(Ordering::Acquire),
            cache_read_input_tokens: self.cache_read.load(Ordering::Acquire),
            requests: self.requests.load(Ordering::Acquire),
        }
    }

    /// Adds one message's final usage to the run and to the metric.
    fn add(&self, fields: [Option<u64>; 4]) {
        let [input, output, cache_creation, cache_read] = fields.map(|f| f.unwrap_or(0));
        self.input.fetch_add(input, Ordering::AcqRel);
        self.output.fetch_add(output, Ordering::AcqRel);
        self.cache_creation
            .fetch_add(cache_creation, Ordering::AcqRel);
        self.cache_read.fetch_add(cache_read, Ordering::AcqRel);
        telemetry::metrics::model_tokens(
            self.provider(),
            input,
            output,
            cache_creation,
            cache_read,
        );
    }
}

/// The proxy tokens bound to the runs running now, and the access policy. Kept in the run
/// [`crate::callback::Registry`]; cloning shares it.
#[derive(Clone)]
pub struct Bindings {
    runs: Arc<Mutex<HashMap<Uuid, Arc<Binding>>>>,
    access: Arc<RwLock<Arc<dyn ModelAccess>>>,
}

impl Default for Bindings {
    fn default() -> Self {
        Self {
            runs: Arc::default(),
            access: Arc::new(RwLock::new(Arc::new(AllowAll))),
        }
    }
}

impl Bindings {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, Arc<Binding>>> {
        // Every update is one insert or remove: a poisoned map is still consistent.
        self.runs.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Replaces the access policy (budgets; tests).
    pub fn set_access(&self, access: Arc<dyn ModelAccess>) {
        *self.access.write().unwrap_or_else(|p| p.into_inner()) = access;
    }

    fn access(&self) -> Arc<dyn ModelAccess> {
        self.access
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Accepts `token` for `caller.run_id` until the returned [`ModelRun`] is finished or
    /// dropped; its requests go to the manager's upstream.
    pub fn bind(&self, caller: Caller, token: &str) -> ModelRun {
        self.bind_route(caller, token, None)
    }

    /// Like [`Bindings::bind`], with the run's requests going to `route` (checked by
    /// [`check_route`]) when there is one.
    pub fn bind_route(&self, caller: Caller, token: &str, route: Option<ModelRoute>) -> ModelRun {
        let binding = Arc::new(Binding {
            caller,
            token: token.as_bytes().to_vec(),
            route,
            input: AtomicU64::new(0),
            output: AtomicU64::new(0),
            cache_creation: AtomicU64::new(0),
            cache_read: AtomicU64::new(0),
            requests: AtomicU64::new(0),
        });
        self.lock().insert(caller.run_id, binding.clone());
        ModelRun {
            bindings: self.clone(),
            binding,
            done: false,
        }
    }

    /// The binding `token` belongs to. Every bound token is compared, in constant time, whatever
    /// matches: the time taken tells nothing about any token.
    pub fn lookup(&self, token: &str) -> Option<Arc<Binding>> {
        let runs = self.lock();
        let mut found = None;
        for binding in runs.values() {
            if bool::from(binding.token.as_slice().ct_eq(token.as_bytes())) {
                found = Some(binding.clone());
            }
        }
        found
    }

    fn unbind(&self, binding: &Arc<Binding>) {
        let mut runs = self.lock();
        // Only this binding: a later run of the same id (a retry) keeps its own.
        if runs
            .get(&binding.caller.run_id)
            .is_some_and(|b| Arc::ptr_eq(b, binding))
        {
            runs.remove(&binding.caller.run_id);
        }
    }
}

/// A run's token binding; unbinds when finished or dropped.
pub struct ModelRun {
    bindings: Bindings,
    binding: Arc<Binding>,
    done: bool,
}

impl ModelRun {
    /// Unbinds the token, tells the access policy the run's usage and returns it.
    pub fn finish(mut self) -> Usage {
        self.done = true;
        self.bindings.unbind(&self.binding);
        let usage = self.binding.usage();
        self.bindings.access().record(&self.binding.caller, &usage);
        usage
    }
}

impl Drop for ModelRun {
    fn drop(&mut self) {
        if !self.done {
            self.bindings.unbind(&self.binding);
        }
    }
}

/// Where accepted requests go, with which credential.
#[derive(Clone)]
pub struct Upstream {
    base_url: String,
    auth_token: Option<String>,
    api_key: Option<String>,
    http: reqwest::Client,
}

impl std::fmt::Debug for Upstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upstream")
            .field("base_url", &self.base_url)
            .field(
                "auth_token",
                &self.auth_token.as_ref().map(|_| "[redacted]"),
            )
            .field("api_key", &self.api_key.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

impl Upstream {
    pub fn from_settings(settings: &Settings) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .read_timeout(READ_TIMEOUT)
            // A redirect would carry the credential elsewhere: the client gets it instead.
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self {
            base_url: settings.anthropic_base_url.trim_end_matches('/').to_owned(),
            auth_token: settings
                .anthropic_auth_token
                .as_ref()
                .map(|t| t.expose().clone())
                .filter(|t| !t.is_empty()),
            api_key: settings
                .anthropic_api_key
                .as_ref()
                .map(|k| k.expose().clone())
                .filter(|k| !k.is_empty()),
            http,
        })
    }
}

#[derive(Clone)]
struct ProxyState {
    bindings: Bindings,
    upstream: Upstream,
}

/// `ANY /api/v1/model-proxy/{*path}`.
pub fn routes(bindings: Bindings, upstream: Upstream) -> Router {
    Router::new()
        .route(&format!("{PREFIX}/{{*path}}"), any(forward))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(ProxyState { bindings, upstream })
}

/// Why the proxy answered itself. Bodies are both this API's error shape (`error.code`,
/// `error.message`) and the Messages API's (`type: error`, `error.type`), so the CLI shows the
/// message.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error("missing or invalid model proxy token")]
    Unauthorized,
    #[error("only /v1/ paths of the model API are served here")]
    NotFound,
    #[error("{0}")]
    Denied(String),
    #[error("the model API is unreachable")]
    Unreachable,
}

impl IntoResponse for ProxyError {
    fn into_response(self) -> Response {
        let (status, code, kind) = match &self {
            ProxyError::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                ErrorCode::Unauthorized,
                "authentication_error",
            ),
            ProxyError::NotFound => (
                StatusCode::NOT_FOUND,
                ErrorCode::NotFound,
                "not_found_error",
            ),
            ProxyError::Denied(_) => (
                StatusCode::FORBIDDEN,
                ErrorCode::ModelAccessDenied,
                "permission_error",
            ),
            ProxyError::Unreachable => (
                StatusCode::BAD_GATEWAY,
                ErrorCode::UpstreamUnreachable,
                "api_error",
            ),
        };
        let body = json!({
            "type": "error",
            "error": {"type": kind, "code": code, "message": self.to_string()},
        });
        (status, axum::Json(body)).into_response()
    }
}

/// The caller's token: `x-api-key` (what the CLI sends for `ANTHROPIC_API_KEY`), else
/// `Authorization: Bearer` (for `ANTHROPIC_AUTH_TOKEN`).
fn client_token(headers: &HeaderMap) -> Option<&str> {
    if let Some(key) = headers.get("x-api-key") {
        return key.to_str().ok().map(str::trim);
    }
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

/// The upstream path: the request path below [`PREFIX`] when it is a plain `/v1/...` path. Only
/// unreserved characters are allowed and no segment may be `.` or `..`, so nothing can climb out
/// of `/v1` (URL parsers resolve dot segments, percent-encoded ones too).
fn upstream_path(path: &str) -> Option<&str> {
    let rest = path.strip_prefix(PREFIX)?;
    if !rest.starts_with("/v1/") {
        return None;
    }
    let plain = rest
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'-' | b'_' | b'.' | b'~'));
    let dots = rest.split('/').any(|s| s == "." || s == "..");
    (plain && !dots).then_some(rest)
}

/// Headers never forwarded in either direction: hop-by-hop ones (RFC 9110 §7.6.1) and those the
/// proxy sets itself.
fn hop_by_hop(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection"
            | "keep-alive"
            | "proxy-connection"
            | "proxy-authenticate"
            | "proxy-authorization"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
            | "host"
            | "content-length"
    )
}

/// `headers` without hop-by-hop ones, those named by `Connection`, and `drop`.
fn filtered(headers: &HeaderMap, drop: &[HeaderName]) -> HeaderMap {
    let named: Vec<String> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|s| s.trim().to_ascii_lowercase())
        .collect();
    let mut out = HeaderMap::new();
    for (name, value) in headers {
        if hop_by_hop(name) || drop.contains(name) || named.iter().any(|n| n == name.as_str()) {
            continue;
        }
        out.append(name.clone(), value.clone());
    }
    out
}

async fn forward(
    State(state): State<ProxyState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ProxyError> {
    // Authenticate before anything else the caller sent is looked at.
    let binding = client_token(&headers)
        .and_then(|t| state.bindings.lookup(t))
        .ok_or_else(|| {
            tracing::warn!("model proxy request refused: no token of a running run");
            ProxyError::Unauthorized
        })?;
    let caller = binding.caller();
    let path = upstream_path(uri.path()).ok_or(ProxyError::NotFound)?;
    if let Err(denied) = state.bindings.access().check(&caller).await {
        tracing::info!(run_id = %caller.run_id, "model access denied");
        return Err(ProxyError::Denied(denied.message));
    }

    let upstream = &state.upstream;
    let base_url = match &binding.route {
        Some(route) => route.base_url.trim_end_matches('/'),
        None => upstream.base_url.as_str(),
    };
    let mut url = format!("{base_url}{path}");
    if let Some(q) = uri.query() {
        url.push('?');
        url.push_str(q);
    }
    let mut out = filtered(
        &headers,
        &[
            header::AUTHORIZATION,
            HeaderName::from_static("x-api-key"),
            header::ACCEPT_ENCODING,
            header::COOKIE,
        ],
    );
    // Uncompressed, so the usage can be read as it passes.
    out.insert(
        header::ACCEPT_ENCODING,
        HeaderValue::from_static("identity"),
    );
    // A routed run sends its provider's key both ways (vendors read one or the other); never
    // the manager's own credential.
    let (auth_token, api_key) = match &binding.route {
        Some(route) => (Some(route.api_key.expose()), Some(route.api_key.expose())),
        None => (upstream.auth_token.as_deref(), upstream.api_key.as_deref()),
    };
    if let Some(token) = auth_token
        && let Ok(mut v) = HeaderValue::from_str(&format!("Bearer {token}"))
    {
        v.set_sensitive(true);
        out.insert(header::AUTHORIZATION, v);
    }
    if let Some(key) = api_key
        && let Ok(mut v) = HeaderValue::from_str(key)
    {
        v.set_sensitive(true);
        out.insert(HeaderName::from_static("x-api-key"), v);
    }
    binding.requests.fetch_add(1, Ordering::AcqRel);
    let answer = upstream
        .http
        .request(method, &url)
        .headers(out)
        .body(body)
        .send()
        .await
        .map_err(|e| {
            // Without the URL: its query is the caller's.
            tracing::warn!(run_id = %caller.run_id, provider = binding.provider(), error = %e.without_url(), "model API unreachable");
            ProxyError::Unreachable
        })?;

    let status = answer.status();
    if !status.is_success() {
        tracing::info!(run_id = %caller.run_id, provider = binding.provider(), status = status.as_u16(), "model API answered an error");
    }
    let mut tap = UsageTap::new(binding, answer.headers());
    let response_headers = filtered(answer.headers(), &[]);
    let run_id = caller.run_id;
    let stream = answer.bytes_stream().map(move |chunk| match chunk {
        Ok(bytes) => {
            tap.feed(&bytes);
            Ok(bytes)
        }
        Err(e) => {
            let e = e.without_url();
            tracing::warn!(%run_id, error = %e, "model API stream broke off");
            Err(e)
        }
    });
    let mut response = Response::new(Body::from_stream(stream));
    *response.status_mut() = status;
    *response.headers_mut() = response_headers;
    Ok(response)
}

/// Reads usage from an answer's bytes as they pass, without holding them back. Whatever was
/// read is added to the run when the stream ends, however it ends (dropped included).
struct UsageTap {
    binding: Arc<Binding>,
    kind: TapKind,
    /// The usage of the message being streamed (`message_start`, then `message_delta`s, whose
    /// counts are cumulative and replace the earlier ones).
    current: Option<[Option<u64>; 4]>,
}

enum TapKind {
    Sse { line: Vec<u8>, skipping: bool },
    Json { body: Vec<u8>, too_big: bool },
    Other,
}

impl UsageTap {
    fn new(binding: Arc<Binding>, headers: &HeaderMap) -> Self {
        let content_type = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        let kind = if content_type.starts_with("text/event-stream") {
            TapKind::Sse {
                line: Vec::new(),
                skipping: false,
            }
        } else if content_type.starts_with("application/json") {
            TapKind::Json {
                body: Vec::new(),
                too_big: false,
            }
        } else {
            TapKind::Other
        };
        Self {
            binding,
            kind,
            current: None,
        }
    }

    fn feed(&mut self, bytes: &[u8]) {
        let mut events = Vec::new();
        match &mut self.kind {
            TapKind::Sse { line, skipping } => {
                for part in bytes.split_inclusive(|b| *b == b'\n') {
                    let complete = part.last() == Some(&b'\n');
                    if !*skipping {
                        if line.len() + part.len() > MAX_SSE_LINE_BYTES {
                            line.clear();
                            *skipping = true;
                        } else {
                            line.extend_from_slice(part);
                        }
                    }
                    if complete {
                        if !*skipping && let Some(event) = sse_usage_event(line) {
                            events.push(event);
                        }
                        line.clear();
                        *skipping = false;
                    }
                }
            }
            TapKind::Json { body, too_big } => {
                if !*too_big {
                    if body.len() + bytes.len() > MAX_JSON_USAGE_BYTES {
                        *too_big = true;
                        body.clear();
                    } else {
                        body.extend_from_slice(bytes);
                    }
                }
            }
            TapKind::Other => {}
        }
        for event in events {
            self.event(&event);
        }
    }

    fn event(&mut self, event: &Value) {
        match event.get("type").and_then(Value::as_str) {
            Some("message_start") => {
                self.flush();
                let usage = event.pointer("/message/usage").unwrap_or(&Value::Null);
                self.current = Some(Usage::fields(usage));
            }
            Some("message_delta") => {
                if let Some(usage) = event.get("usage") {
                    let current = self.current.get_or_insert([None; 4]);
                    for (slot, value) in current.iter_mut().zip(Usage::fields(usage)) {
                        if value.is_some() {
                            *slot = value;
                        }
                    }
                }
            }
            _ => {}
        }
    }

    fn flush(&mut self) {
        if let Some(fields) = self.current.take() {
            self.binding.add(fields);
        }
    }
}

/// The JSON of an SSE `data:` line that carries usage (the only ones worth parsing).
fn sse_usage_event(line: &[u8]) -> Option<Value> {
    let data = line.strip_prefix(b"data:")?;
    if !data.windows(7).any(|w| w == b"\"usage\"") {
        return None;
    }
    serde_json::from_slice(data.trim_ascii()).ok()
}

impl Drop for UsageTap {
    fn drop(&mut self) {
        if let TapKind::Json { body, too_big } = &self.kind
            && !too_big
            && let Ok(message) = serde_json::from_slice::<Value>(body)
            && message.get("type").and_then(Value::as_str) == Some("message")
            && let Some(usage) = message.get("usage")
        {
            self.current = Some(Usage::fields(usage));
        }
        self.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller() -> Caller {
        Caller {
            user_id: Uuid::new_v4(),
            run_id: Uuid::new_v4(),
        }
    }

    #[test]
    fn tokens_bind_while_the_run_runs() {
        let b = Bindings::default();
        let (ta, tb) = (new_token(), new_token());
        assert_eq!(ta.len(), 64);
        assert_ne!(ta, tb);
        let (ca, cb) = (caller(), caller());
        let ra = b.bind(ca, &ta);
        let rb = b.bind(cb, &tb);
        assert_eq!(b.lookup(&ta).map(|x| x.caller()), Some(ca));
        assert_eq!(b.lookup(&tb).map(|x| x.caller()), Some(cb));
        assert!(b.lookup("").is_none());
        assert!(b.lookup(&ta[..63]).is_none());
        assert!(b.lookup(&new_token()).is_none());
        ra.finish();
        assert!(b.lookup(&ta).is_none());
        drop(rb);
        assert!(b.lookup(&tb).is_none());
        // The same executor's token, bound again for its next run.
        let again = b.bind(caller(), &ta);
        assert!(b.lookup(&ta).is_some());
        drop(again);
    }

    #[test]
    fn a_stale_guard_does_not_unbind_a_newer_binding() {
        let b = Bindings::default();
        let c = caller();
        let old = b.bind(c, "old");
        let new = b.bind(c, "new");
        drop(old);
        assert!(b.lookup("new").is_some());
        drop(new);
    }

    #[test]
    fn only_plain_v1_paths_are_forwarded() {
        let p = |s: &str| upstream_path(&format!("{PREFIX}{s}")).map(str::to_owned);
        assert_eq!(p("/v1/messages").as_deref(), Some("/v1/messages"));
        assert_eq!(
            p("/v1/messages/count_tokens").as_deref(),
            Some("/v1/messages/count_tokens")
        );
        for bad in [
            "",
            "/",
            "/api/hello",
            "/v2/messages",
            "/v1/../admin",
            "/v1/./x",
            "/v1/%2e%2e/admin",
            "/v1/..%2fadmin",
            "/v1\\..\\admin",
            "/v1/a b",
        ] {
            assert_eq!(p(bad), None, "{bad}");
        }
        assert_eq!(upstream_path("/other/v1/messages"), None);
    }

    #[test]
    fn client_token_from_either_header() {
        let mut h = HeaderMap::new();
        assert_eq!(client_token(&h), None);
        h.insert(header::AUTHORIZATION, "Bearer abc".parse().unwrap());
        assert_eq!(client_token(&h), Some("abc"));
        h.insert("x-api-key", "def".parse().unwrap());
        assert_eq!(client_token(&h), Some("def"));
        let mut basic = HeaderMap::new();
        basic.insert(header::AUTHORIZATION, "Basic abc".parse().unwrap());
        assert_eq!(client_token(&basic), None);
    }

    #[test]
    fn hop_by_hop_and_named_headers_are_dropped() {
        let mut h = HeaderMap::new();
        h.insert(header::CONNECTION, "close, x-secret-hop".parse().unwrap());
        h.insert("x-secret-hop", "1".parse().unwrap());
        h.insert(header::TRANSFER_ENCODING, "chunked".parse().unwrap());
        h.insert(header::HOST, "manager".parse().unwrap());
        h.insert("anthropic-version", "2023-06-01".parse().unwrap());
        h.insert(header::AUTHORIZATION, "Bearer proxy".parse().unwrap());
        let out = filtered(&h, &[header::AUTHORIZATION]);
        let names: Vec<&str> = out.keys().map(HeaderName::as_str).collect();
        assert_eq!(names, vec!["anthropic-version"]);
    }

    fn sse(events: &[Value]) -> Vec<u8> {
        let mut out = Vec::new();
        for e in events {
            let kind = e["type"].as_str().unwrap();
            out.extend_from_slice(format!("event: {kind}\ndata: {e}\n\n").as_bytes());
        }
        out
    }

    #[test]
    fn sse_usage_is_summed_per_message_whatever_the_chunking() {
        let stream = sse(&[
            json!({"type": "message_start", "message": {"usage": {
                "input_tokens": 100, "output_tokens": 1,
                "cache_creation_input_tokens": 7, "cache_read_input_tokens": 3}}}),
            json!({"type": "ping"}),
            json!({"type": "content_block_delta", "delta": {"text": "usage \"usage\""}}),
            json!({"type": "message_delta", "usage": {"output_tokens": 20}}),
            json!({"type": "message_delta", "usage": {"output_tokens": 42}}),
            json!({"type": "message_stop"}),
            json!({"type": "message_start", "message": {"usage": {"input_tokens": 5}}}),
            json!({"type": "message_delta", "usage": {"input_tokens": 6, "output_tokens": 2}}),
        ]);
        for chunk in [1, 7, 64, stream.len()] {
            let b = Bindings::default();
            let run = b.bind(caller(), "t");
            let binding = b.lookup("t").unwrap();
            let mut headers = HeaderMap::new();
            headers.insert(header::CONTENT_TYPE, "text/event-stream".parse().unwrap());
            let mut tap = UsageTap::new(binding, &headers);
            for part in stream.chunks(chunk) {
                tap.feed(part);
            }
            drop(tap);
            let u = run.finish();
            assert_eq!(
                (
                    u.input_tokens,
                    u.output_tokens,
                    u.cache_creation_input_tokens,
                    u.cache_read_input_tokens
                ),
                (106, 44, 7, 3),
                "chunks of {chunk}"
            );
        }
    }

    #[test]
    fn json_usage_and_other_bodies() {
        let b = Bindings::default();
        let run = b.bind(caller(), "t");
        let mut json_headers = HeaderMap::new();
        json_headers.insert(header::CONTENT_TYPE, "application/json".parse().unwrap());
        let mut tap = UsageTap::new(b.lookup("t").unwrap(), &json_headers);
        let body = json!({"type": "message", "usage": {"input_tokens": 9, "output_tokens": 4}});
        tap.feed(body.to_string().as_bytes());
        drop(tap);
        // An error body and count_tokens answers carry no message usage.
        let mut tap = UsageTap::new(b.lookup("t").unwrap(), &json_headers);
        tap.feed(br#"{"input_tokens": 1000}"#);
        drop(tap);
        let mut tap = UsageTap::new(b.lookup("t").unwrap(), &HeaderMap::new());
        tap.feed(br#"{"type": "message", "usage": {"input_tokens": 1000}}"#);
        drop(tap);
        let u = run.finish();
        assert_eq!((u.input_tokens, u.output_tokens), (9, 4));
    }
}
