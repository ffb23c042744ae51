//! The model proxy (`/api/v1/model-proxy`): the agent reaches the model only through the
//! manager, with a proxy token that works while its executor runs a run; the provider key never
//! reaches an executor.
//!
//! - docker runtime: an agent that dumps every environment, command line and workspace file it
//!   can read finds no provider key, internal token or S3 key, and its run completes through the
//!   proxy (the scripted model accepts only the manager's key);
//! - process runtime, real CLI: proxy tokens refused (401) when unknown, missing, of an executor
//!   whose run ended, while another run runs and completes; a warm follow-up keeps its token and
//!   still runs in the CLI started ahead; usage per run as the scripted model reported it;
//! - the proxy on its own: credentials swapped, streaming chunk by chunk, usage, error statuses
//!   passed through, 404 outside `/v1`, 403 from the access policy, 502 without upstream.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64_probe::encode as b64;
use common::{Harness, INTERNAL_TOKEN, LLM_KEY};
use executor_manager::model_proxy::{Caller, Denied, ModelAccess, Usage};
use fake_llm::{Block, ScenarioFile, Turn, UsageSpec};
use futures::StreamExt;
use futures::future::BoxFuture;
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

const RUN_LIMIT: Duration = Duration::from_secs(180);
const END: &[&str] = &["completed", "failed", "canceled"];

/// Records what the proxy asked and told the access policy; refuses while `deny` is set.
#[derive(Default)]
struct Recorder {
    checks: Mutex<Vec<Caller>>,
    records: Mutex<Vec<(Caller, Usage)>>,
    deny: AtomicBool,
}

impl ModelAccess for Recorder {
    fn check<'a>(&'a self, caller: &'a Caller) -> BoxFuture<'a, Result<(), Denied>> {
        self.checks.lock().unwrap().push(*caller);
        let deny = self.deny.load(Ordering::SeqCst);
        Box::pin(async move {
            if deny {
                Err(Denied {
                    message: "monthly model budget used up".into(),
                })
            } else {
                Ok(())
            }
        })
    }
    fn record(&self, caller: &Caller, usage: &Usage) {
        self.records.lock().unwrap().push((*caller, *usage));
    }
}

impl Recorder {
    fn usage_of(&self, run: Uuid) -> Usage {
        let records = self.records.lock().unwrap();
        let mine: Vec<&Usage> = records
            .iter()
            .filter(|(c, _)| c.run_id == run)
            .map(|(_, u)| u)
            .collect();
        assert_eq!(mine.len(), 1, "one record per run: {records:?}");
        *mine[0]
    }
}

fn usage(input: u64, output: u64, cache_creation: u64, cache_read: u64) -> Option<UsageSpec> {
    Some(UsageSpec {
        input_tokens: Some(input),
        output_tokens: Some(output),
        cache_creation_input_tokens: Some(cache_creation),
        cache_read_input_tokens: Some(cache_read),
    })
}

fn with_usage(mut t: Turn, u: Option<UsageSpec>) -> Turn {
    t.usage = u;
    t
}

/// `(input, output, cache_creation, cache_read)` of a usage.
fn tokens(u: &Usage) -> (u64, u64, u64, u64) {
    (
        u.input_tokens,
        u.output_tokens,
        u.cache_creation_input_tokens,
        u.cache_read_input_tokens,
    )
}

/// A tiny base64 encoder, so secrets can be handed to the agent's shell without appearing in
/// clear in its command line (where its own process listing would find them).
mod base64_probe {
    pub fn encode(bytes: &[u8]) -> String {
        const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut out = String::new();
        for chunk in bytes.chunks(3) {
            let b = [
                chunk[0],
                *chunk.get(1).unwrap_or(&0),
                *chunk.get(2).unwrap_or(&0),
            ];
            let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            for i in 0..4 {
                if i <= chunk.len() {
                    out.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
                } else {
                    out.push('=');
                }
            }
        }
        out
    }
}

/// The text of every `tool_result` of the run.
async fn tool_output(h: &Harness, run: Uuid) -> String {
    h.events(run)
        .await
        .iter()
        .filter(|(_, _, kind, _)| kind == "tool_result")
        .map(|(_, _, _, payload)| match &payload["content"] {
            Value::String(s) => s.clone(),
            Value::Array(blocks) => blocks
                .iter()
                .filter_map(|b| b["text"].as_str())
                .collect::<Vec<_>>()
                .join("\n"),
            other => other.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

async fn completed(h: &Harness, run: Uuid) {
    let status = h.wait_status(run, END, RUN_LIMIT).await;
    assert_eq!(
        status,
        "completed",
        "error: {:?}; events: {:?}",
        h.run_error(run).await,
        h.events(run).await
    );
}

fn proxy_url(h: &Harness, path: &str) -> String {
    format!("{}/api/v1/model-proxy{path}", h.manager)
}

/// A minimal Messages API request for `scenario`.
fn messages_body(scenario: &str, stream: bool) -> Value {
    json!({
        "model": "claude-sonnet-4-5",
        "max_tokens": 1024,
        "stream": stream,
        "messages": [{"role": "user", "content": format!("[scenario:{scenario}] hello")}],
    })
}

/// `POST /v1/messages` through the proxy with `token` as `Authorization: Bearer` (none: no
/// credential at all); the status and the JSON body.
async fn call(h: &Harness, token: Option<&str>, scenario: &str) -> (u16, Value) {
    let mut req = h
        .client
        .post(proxy_url(h, "/v1/messages?beta=true"))
        .header("anthropic-version", "2023-06-01")
        .json(&messages_body(scenario, false));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

fn assert_refused(answer: &(u16, Value), what: &str) {
    assert_eq!(answer.0, 401, "{what}: {answer:?}");
    assert_eq!(
        answer.1["error"]["code"], "unauthorized",
        "{what}: {answer:?}"
    );
    assert_eq!(
        answer.1["error"]["type"], "authentication_error",
        "{what}: {answer:?}"
    );
}

/// Binds a fresh token to a made-up run, as `run.rs` does for a real one.
fn bind(h: &Harness) -> (String, Caller, executor_manager::model_proxy::ModelRun) {
    let token = executor_manager::model_proxy::new_token();
    let caller = Caller {
        user_id: Uuid::new_v4(),
        run_id: Uuid::new_v4(),
    };
    let run = h.registry.models().bind(caller, &token);
    (token, caller, run)
}

// ---------------------------------------------------------------------------------------------
// docker: nothing secret within the agent's reach
// ---------------------------------------------------------------------------------------------

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn an_agent_in_a_container_finds_no_secret_and_still_reaches_the_model(pool: PgPool) {
    let Some((_docker, image, gateway)) = test_support::docker::docker_env() else {
        return;
    };
    let s3 = test_support::s3::S3Server::start().await;
    let (s3_access, s3_secret) = (s3.access_key.as_str(), s3.secret_key.as_str());
    let secrets = [LLM_KEY, INTERNAL_TOKEN, s3_access, s3_secret];
    // The patterns reach the shell base64-encoded: in clear, grep would find them in its own
    // command line. No trailing newline: an empty pattern would match everything.
    let patterns = b64(secrets.join("\n").as_bytes());
    let probe = format!(
        "printf '%s' '{patterns}' | base64 -d > /tmp/wc-patterns; \
         echo LEAKS-BEGIN; \
         command grep -arlF -f /tmp/wc-patterns /proc/[0-9]*/environ /proc/[0-9]*/cmdline /workspace 2>/dev/null; \
         echo LEAKS-END; \
         echo CONTROL-BEGIN; command grep -alF model-proxy /proc/[0-9]*/environ 2>/dev/null; \
         echo CONTROL-END; env | grep ^ANTHROPIC_; \
         env; cat /proc/*/environ 2>/dev/null | tr '\\0' '\\n'; \
         cat /proc/*/cmdline 2>/dev/null | tr '\\0' ' '; echo; \
         grep -r . /workspace 2>/dev/null | head -1000"
    );
    let scenarios = ScenarioFile::default().with_scenario(
        "snoop",
        vec![
            Turn::blocks(vec![Block::tool_use("Bash", json!({"command": probe}))]),
            Turn::text("Nothing found."),
        ],
    );
    let mut h = Harness::start_with(
        pool,
        scenarios,
        &[
            ("EXECUTOR_RUNTIME", "docker"),
            ("EXECUTOR_IMAGE", image.as_str()),
            ("EXECUTOR_PUBLISHED_HOST", "127.0.0.1"),
            ("S3_ENDPOINT", s3.endpoint.as_str()),
            ("S3_ACCESS_KEY", s3_access),
            ("S3_SECRET_KEY", s3_secret),
            ("S3_BUCKET", test_support::s3::BUCKET),
        ],
        Some(&gateway),
    )
    .await;
    let (session, run) = h.task("[scenario:snoop] look around").await;
    completed(&h, run).await;

    let output = tool_output(&h, run).await;
    let section = |name: &str| {
        let begin = format!("{name}-BEGIN");
        let end = format!("{name}-END");
        let from = output
            .find(&begin)
            .unwrap_or_else(|| panic!("no {begin}: {output}"));
        let to = output
            .find(&end)
            .unwrap_or_else(|| panic!("no {end}: {output}"));
        output[from + begin.len()..to].trim().to_owned()
    };
    // The probe works: the agent does read the initial environments of the container's
    // processes, the executor's (pid 1) included. (Plain `grep` is the CLI's ripgrep, which
    // stops at the first NUL of an environ file: the probe says `command grep -a`.)
    let control = section("CONTROL");
    assert!(
        control.lines().any(|l| l == "/proc/1/environ") && control.lines().count() >= 3,
        "{output}"
    );
    assert!(
        output.contains(&format!(
            "ANTHROPIC_BASE_URL=http://{gateway}:{}/api/v1/model-proxy",
            h.manager.rsplit(':').next().unwrap()
        )),
        "{output}"
    );
    assert!(output.contains("ANTHROPIC_AUTH_TOKEN="), "{output}");
    // ...and finds no secret anywhere it can read.
    assert_eq!(section("LEAKS"), "", "files holding a secret");
    let all_events = serde_json::to_string(&h.events(run).await).unwrap();
    for secret in secrets {
        assert!(!output.contains(secret), "{secret} in the tool output");
        assert!(!all_events.contains(secret), "{secret} in the run's events");
    }

    // The CLI keeps a long tool output in the workspace and shows the model its start: the
    // whole dump is there, and so is no secret, nor in any other file of the workspace.
    let ws = h.workspace(h.user_of(session).await, session);
    let mut files = vec![ws.clone()];
    let (mut dumps, mut scanned) = (0, 0);
    while let Some(path) = files.pop() {
        if path.is_dir() {
            files.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        scanned += 1;
        if text.contains("LEAKS-BEGIN") && text.contains("ANTHROPIC_AUTH_TOKEN=") {
            dumps += 1;
        }
        for secret in secrets {
            assert!(!text.contains(secret), "{secret} in {}", path.display());
        }
    }
    assert!(dumps >= 1, "no full dump among {scanned} workspace files");

    // The model saw the manager's key, never the agent's token.
    let turns = h.llm.turn_requests();
    assert!(turns.len() >= 2, "{turns:?}");
    for t in &turns {
        assert_eq!(
            t.headers.get("authorization").map(String::as_str),
            Some("Bearer [redacted:valid]"),
            "{:?}",
            t.headers
        );
        assert!(!t.headers.contains_key("x-api-key"));
    }
    h.stop_manager(Duration::from_secs(60)).await;
}

// ---------------------------------------------------------------------------------------------
// process runtime, real CLI: tokens, warm executors, usage
// ---------------------------------------------------------------------------------------------

/// Prints the agent's token and environment and, per ancestor process: pid, name and start time
/// (clock ticks after boot), so the test can tell whether the CLI started before the task.
const WHOAMI: &str = "echo \"TOKEN=$ANTHROPIC_AUTH_TOKEN\"; echo \"BASE=$ANTHROPIC_BASE_URL\"; \
    echo \"TICKS=$(getconf CLK_TCK)\"; env; p=$$; \
    for i in 1 2 3 4 5 6; do s=$(cat /proc/$p/stat); r=${s##*) }; set -- $r; \
    echo \"PROC $p $(cat /proc/$p/comm) ${20}\"; p=$2; [ \"$p\" -le 1 ] && break; done";

fn whoami_scenarios() -> ScenarioFile {
    let whoami = |u| {
        with_usage(
            Turn::blocks(vec![Block::tool_use("Bash", json!({"command": WHOAMI}))]),
            u,
        )
    };
    let mut slow = Turn::text("Finally.");
    slow.delay_ms = 4000;
    slow.usage = usage(300, 30, 3, 0);
    ScenarioFile::default()
        .with_scenario(
            "whoami",
            vec![
                // Run 1.
                whoami(usage(1000, 100, 10, 1)),
                with_usage(Turn::text("Done."), usage(1100, 20, 0, 1000)),
                // The follow-up (resumed conversation).
                whoami(usage(1200, 40, 0, 1100)),
                with_usage(Turn::text("Done again."), usage(1300, 50, 5, 1200)),
            ],
        )
        .with_scenario("slow", vec![slow])
}

/// What the whoami probe printed: the token, the base URL, and the start (seconds after boot)
/// of the first ancestor that is not a shell: the CLI.
fn whoami(output: &str) -> (String, String, f64) {
    let value = |key: &str| {
        output
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .unwrap_or_else(|| panic!("no {key} in {output}"))
            .trim()
            .to_owned()
    };
    let ticks: f64 = value("TICKS=").parse().unwrap();
    let cli = output
        .lines()
        .filter_map(|l| l.strip_prefix("PROC "))
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .find(|f| f.len() == 3 && !matches!(f[1], "bash" | "sh" | "dash" | "zsh"))
        .unwrap_or_else(|| panic!("no CLI among the ancestors: {output}"));
    let start: f64 = cli[2].parse().unwrap();
    (value("TOKEN="), value("BASE="), start / ticks)
}

/// Seconds since boot, the clock of `/proc/*/stat` start times.
fn uptime() -> f64 {
    let text = std::fs::read_to_string("/proc/uptime").unwrap();
    text.split_whitespace().next().unwrap().parse().unwrap()
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn proxy_tokens_work_only_while_their_executor_runs_a_run(pool: PgPool) {
    let mut h = Harness::start(
        pool,
        whoami_scenarios(),
        &[("EXECUTOR_WARM_IDLE_SECONDS", "60")],
    )
    .await;
    let access = Arc::new(Recorder::default());
    h.registry.models().set_access(access.clone());
    let warm = h.kept.warm.clone();

    // Run 1: a cold executor; the agent's token is a proxy token, its model API the proxy.
    let before_first = uptime();
    let (session, first) = h.task("[scenario:whoami] who am I").await;
    completed(&h, first).await;
    let out1 = tool_output(&h, first).await;
    let (token, base, cli1) = whoami(&out1);
    assert_eq!(token.len(), 64, "{out1}");
    assert!(token.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(base, format!("{}/api/v1/model-proxy", h.manager));
    assert!(
        !out1.contains(LLM_KEY) && !out1.contains(INTERNAL_TOKEN),
        "{out1}"
    );
    // Started for the task (the control for the follow-up below).
    assert!(cli1 >= before_first - 0.05, "{cli1} < {before_first}");

    // The run ended: its executor is parked warm, and its token opens nothing.
    let deadline = Instant::now() + Duration::from_secs(10);
    while warm.len() != 1 {
        assert!(Instant::now() < deadline, "not parked");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_refused(&call(&h, Some(&token), "slow").await, "after its run ended");

    // Another session's run: while it runs, the parked executor's token, a made-up one and none
    // are refused, and the run completes all the same.
    let (_other, second) = h.task("[scenario:slow] take your time").await;
    h.wait_status(second, &["running"], RUN_LIMIT).await;
    let made_up = executor_manager::model_proxy::new_token();
    assert_refused(
        &call(&h, Some(&token), "slow").await,
        "another executor's token",
    );
    assert_refused(&call(&h, Some(&made_up), "slow").await, "a made-up token");
    assert_refused(&call(&h, None, "slow").await, "no token");
    let api_key = h
        .client
        .post(proxy_url(&h, "/v1/messages"))
        .header("x-api-key", &token)
        .json(&messages_body("slow", false))
        .send()
        .await
        .unwrap();
    assert_eq!(api_key.status(), 401, "x-api-key of another executor");
    assert_eq!(
        h.run_status(second).await,
        "running",
        "the refusals took long"
    );
    completed(&h, second).await;

    // The follow-up takes the warm executor: the same token (a task environment identical to
    // the one the CLI was started ahead with), and the task runs in that CLI.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before_follow_up = uptime();
    let follow_up = h.task_in(session, "again").await;
    completed(&h, follow_up).await;
    let out2 = tool_output(&h, follow_up).await;
    let (token2, _, cli2) = whoami(&out2);
    assert_eq!(token2, token, "a warm executor keeps its token");
    assert!(
        cli2 < before_follow_up,
        "the follow-up's CLI started at {cli2}, after its task ({before_follow_up}): \
         the CLI started ahead was not used"
    );
    assert_refused(&call(&h, Some(&token), "slow").await, "after the follow-up");

    // Usage: what the scripted model reported for each run's turns, told to the access policy
    // once per run, which was asked before each request.
    let side = h
        .llm
        .requests()
        .iter()
        .filter(|r| r.kind != fake_llm::RequestKind::Turn)
        .count();
    assert_eq!(
        side,
        0,
        "requests besides the turns: {:?}",
        h.llm.requests()
    );
    assert_eq!(tokens(&access.usage_of(first)), (2100, 120, 10, 1001));
    assert_eq!(tokens(&access.usage_of(second)), (300, 30, 3, 0));
    assert_eq!(tokens(&access.usage_of(follow_up)), (2500, 90, 5, 2300));
    assert_eq!(access.usage_of(first).requests, 2);
    let checks = access.checks.lock().unwrap().clone();
    let user = h.user_of(session).await;
    assert_eq!(
        checks.iter().filter(|c| c.run_id == first).count(),
        2,
        "{checks:?}"
    );
    assert!(
        checks
            .iter()
            .all(|c| c.run_id != first || c.user_id == user)
    );
    h.stop_manager(Duration::from_secs(30)).await;
}

// ---------------------------------------------------------------------------------------------
// the proxy on its own
// ---------------------------------------------------------------------------------------------

fn proxy_scenarios() -> ScenarioFile {
    let mut trickle = Turn::text("one two three four five six seven eight");
    trickle.chunk_delay_ms = 300;
    trickle.usage = usage(1234, 56, 7, 89);
    let mut limited = Turn::error(429);
    limited.error.as_mut().unwrap().message = Some("slow down".into());
    ScenarioFile::default()
        .with_scenario("trickle", vec![trickle])
        .with_scenario(
            "plain",
            vec![with_usage(Turn::text("hi"), usage(11, 22, 0, 0))],
        )
        .with_scenario("limited", vec![limited])
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn the_proxy_streams_swaps_the_credential_and_counts_usage(pool: PgPool) {
    let h = Harness::start(pool, proxy_scenarios(), &[]).await;
    let (token, caller, run) = bind(&h);

    // A stream whose events come 300 ms apart: the first reaches the client long before the
    // last was sent.
    let started = Instant::now();
    let res = h
        .client
        .post(proxy_url(&h, "/v1/messages?beta=true"))
        .bearer_auth(&token)
        .header("anthropic-version", "2023-06-01")
        .header("anthropic-beta", "claude-code-20250219")
        .header(
            "connection",
            "keep-alive, x-hop-secret", // a header named by Connection is hop-by-hop
        )
        .header("x-hop-secret", "must-not-pass")
        .json(&messages_body("trickle", true))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let mut body = res.bytes_stream();
    let first = body.next().await.unwrap().unwrap();
    let first_at = started.elapsed();
    let mut text = String::from_utf8_lossy(&first).into_owned();
    while let Some(chunk) = body.next().await {
        text.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
    }
    let total = started.elapsed();
    assert!(text.starts_with("event: message_start"), "{text}");
    assert!(text.contains("message_stop"), "{text}");
    let events = text.matches("\nevent: ").count() + 1;
    assert!(events >= 8, "{events} events: {text}");
    // (events - 1) pauses of 300 ms upstream.
    assert!(
        total >= Duration::from_millis(300 * (events as u64 - 1)),
        "{total:?}"
    );
    assert!(
        first_at + Duration::from_millis(1500) < total,
        "first chunk after {first_at:?} of {total:?}: the stream was buffered"
    );

    // What the model received: the manager's key, the rest of the request as sent.
    let seen = h.llm.requests().pop().unwrap();
    assert_eq!(
        (seen.path.as_str(), seen.query.as_deref()),
        ("/v1/messages", Some("beta=true"))
    );
    assert_eq!(seen.headers["authorization"], "Bearer [redacted:valid]");
    assert_eq!(seen.headers["anthropic-beta"], "claude-code-20250219");
    assert!(!seen.headers.contains_key("x-api-key"));
    assert!(
        !seen.headers.contains_key("x-hop-secret"),
        "{:?}",
        seen.headers
    );
    assert_eq!(seen.body.as_ref().unwrap()["stream"], true);

    // `x-api-key` carries the proxy token too (the CLI's header for ANTHROPIC_API_KEY); a
    // non-streamed answer's usage counts as well.
    let res = h
        .client
        .post(proxy_url(&h, "/v1/messages"))
        .header("x-api-key", &token)
        .header("anthropic-version", "2023-06-01")
        .json(&messages_body("plain", false))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let message: Value = res.json().await.unwrap();
    assert_eq!(message["content"][0]["text"], "hi");

    // Upstream errors come back with their status and body.
    let (status, error) = call(&h, Some(&token), "limited").await;
    assert_eq!(status, 429, "{error}");
    assert_eq!(error["error"]["type"], "rate_limit_error");
    assert_eq!(error["error"]["message"], "slow down");

    // Only the model API's /v1 paths are served (after authentication).
    let requests_before = h.llm.requests().len();
    for path in [
        "/api/hello",
        "/_admin/requests",
        "/v1/../_admin/requests",
        "/v1/%2e%2e/_admin/requests",
    ] {
        let res = h
            .client
            .get(proxy_url(&h, path))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 404, "{path}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"]["code"], "not_found", "{path}");
    }
    assert_eq!(
        h.llm.requests().len(),
        requests_before,
        "forwarded outside /v1"
    );

    // Another run's token counts for that run, never for this one; a run's callback token is
    // no proxy token.
    let (other_token, _, other_run) = bind(&h);
    assert_eq!(call(&h, Some(&other_token), "plain").await.0, 200);
    assert_eq!(tokens(&other_run.finish()), (11, 22, 0, 0));
    let registration = h.registry.register(executor_manager::backend::Lease {
        run_id: Uuid::new_v4(),
        worker_id: h.manager_id.clone(),
        epoch: 1,
    });
    assert_refused(
        &call(&h, Some(&registration.token), "plain").await,
        "a callback token",
    );
    drop(registration);
    let requests_before = h.llm.requests().len();

    // The access policy decides before anything is forwarded (budgets go there).
    let access = Arc::new(Recorder::default());
    access.deny.store(true, Ordering::SeqCst);
    h.registry.models().set_access(access.clone());
    let (status, denied) = call(&h, Some(&token), "plain").await;
    assert_eq!(status, 403, "{denied}");
    assert_eq!(denied["error"]["code"], "model_access_denied");
    assert_eq!(denied["error"]["message"], "monthly model budget used up");
    assert_eq!(
        h.llm.requests().len(),
        requests_before,
        "forwarded although denied"
    );
    assert_eq!(access.checks.lock().unwrap().clone(), vec![caller]);

    // The run's usage: the streamed turn's, the plain turn's and nothing for the error.
    let used = run.finish();
    assert_eq!(tokens(&used), (1234 + 11, 56 + 22, 7, 89));
    assert_eq!(used.requests, 3);
    assert_eq!(tokens(&access.usage_of(caller.run_id)), tokens(&used));
    // And in the metric, both runs (one test per process under nextest: the counts are this
    // test's).
    let metrics = h
        .client
        .get(format!("{}/metrics", h.manager))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    if std::env::var("NEXTEST").is_ok() {
        assert!(
            metrics
                .contains(r#"workcell_model_tokens_total{kind="input",provider="anthropic"} 1256"#),
            "{metrics}"
        );
    }
    // Unbound: refused.
    assert_refused(&call(&h, Some(&token), "plain").await, "after finish");
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn an_unreachable_model_api_is_a_502(pool: PgPool) {
    // Port 9 (discard) on loopback: nothing listens.
    let h = Harness::start(
        pool,
        proxy_scenarios(),
        &[("ANTHROPIC_BASE_URL", "http://127.0.0.1:9")],
    )
    .await;
    let (token, _, run) = bind(&h);
    let (status, body) = call(&h, Some(&token), "plain").await;
    assert_eq!(status, 502, "{body}");
    assert_eq!(body["error"]["code"], "upstream_unreachable");
    assert_eq!(run.finish().requests, 1);
}
