//! Model catalog routing end to end: the backend reads a catalog (`MODELS_CONFIG_PATH`) with two
//! providers, `alpha` (prefix `test-a`, key in the secret `A_KEY`) and `beta` (prefix `test-b`,
//! key in `B_KEY`), each an Anthropic-compatible endpoint served by its own scripted model server
//! that accepts only its own key. The user sets both secrets through the API, then:
//!
//! - a run with model `test-a` completes with instance A's answer: A received its turns with A's
//!   key, B and the manager's own upstream received nothing;
//! - a run with `test-b` likewise reaches B only, with B's key;
//! - a run with `claude-sonnet-4-5` (the upstream's `claude-` prefix, the control) reaches the
//!   manager's own upstream with the manager's key, neither A nor B;
//! - `GET /api/v1/models` lists `test-a` and `test-b` with their providers and prices;
//! - `nope-model` (no provider's prefix) is refused at submit: `422 unknown_model`;
//! - the key is resolved at claim: a `test-b` follow-up queued (key present) behind a running
//!   run, whose `B_KEY` is deleted before it is claimed, fails with a reason naming `B_KEY`
//!   (the running run, claimed with the key, completes);
//! - with `B_KEY` deleted, a `test-b` task is refused at submit: `422 unknown_secret`, naming
//!   `B_KEY`; nothing is queued;
//! - a system secret (`backend secrets set-system`) serves when the user has none of the name,
//!   and the user's own secret wins over the system's;
//! - a routed run's cost is the catalog's price times its tokens, marked `estimated`;
//! - the proxy counted the tokens by provider (`workcell_model_tokens_total{provider=...}`);
//! - no key shows in any event, run view, the secrets list, service log or database row.
//!
//! The deployed shape (`common::stack`: the backend and manager binaries as processes, real S3,
//! the process runtime), so the services' logs are files to read. Needs the backend and executor
//! binaries (`cargo build -p backend -p executor`), the Claude Code CLI, `S3S_FS_BIN` and
//! `DATABASE_URL`, like the other end-to-end tests.

mod common;

use std::time::Duration;

use common::LLM_KEY;
use common::stack::{Runtime, Stack, backend_bin};
use fake_llm::{Config, FakeLlm, FakeLlmHandle, RequestKind, ScenarioFile, Turn, UsageSpec};
use serde_json::{Value, json};
use sqlx::PgPool;
use test_support::postgres::database_url;
use uuid::Uuid;

const RUN_LIMIT: Duration = Duration::from_secs(180);
const KEY_A: &str = "key-of-provider-a-7f3c9e21d4b8a605";
const KEY_B: &str = "key-of-provider-b-0c5d8a9f62e1b374";
/// A system secret `A_KEY` that instance A refuses: the user's own secret of the name wins.
const WRONG_SYSTEM_A: &str = "system-key-a-that-a-refuses-91e4c07b";
/// The stack's backend `SECRET_KEY` (`common::stack`), from which its `ENCRYPTION_KEY` derives.
const BACKEND_SECRET_KEY: &str = "e2e-secret-key-0123456789abcdef";
const ANSWER_A: &str = "Provider A answering: alpha-7731.";
const ANSWER_B: &str = "Provider B answering: beta-4409.";
const ANSWER_UPSTREAM: &str = "The manager's own upstream answering: upstream-2286.";
/// The catalog's prices of both routed models (cache prices unset: they count at the input price).
const INPUT_PRICE: f64 = 2.0;
const OUTPUT_PRICE: f64 = 8.0;
/// What each provider's single turn reports.
const TOKENS: (u64, u64, u64, u64) = (120_000, 30_000, 4_000, 50_000);

/// `hello`, answered by `text` with [`TOKENS`]; `slow`, the same after 4 s.
fn scenarios(text: &str) -> ScenarioFile {
    let mut turn = Turn::text(text);
    turn.usage = Some(UsageSpec {
        input_tokens: Some(TOKENS.0),
        output_tokens: Some(TOKENS.1),
        cache_creation_input_tokens: Some(TOKENS.2),
        cache_read_input_tokens: Some(TOKENS.3),
    });
    let mut slow = turn.clone();
    slow.delay_ms = 4000;
    ScenarioFile::default()
        .with_scenario("hello", vec![turn])
        .with_scenario("slow", vec![slow])
}

/// A provider's scripted model server on loopback, accepting only `key`.
async fn provider(key: &str, text: &str) -> FakeLlmHandle {
    FakeLlm::start(Config::new(key, scenarios(text)))
        .await
        .expect("fake llm")
}

fn catalog(a: &FakeLlmHandle, b: &FakeLlmHandle) -> String {
    format!(
        r#"
[[models]]
id = "test-a"
label = "Test model A"
provider = "alpha"
context_window = 100000
input_price_per_mtok = {INPUT_PRICE:?}
output_price_per_mtok = {OUTPUT_PRICE:?}

[[models]]
id = "test-b"
label = "Test model B"
provider = "beta"
input_price_per_mtok = {INPUT_PRICE:?}
output_price_per_mtok = {OUTPUT_PRICE:?}

[providers.alpha]
base_url = "{}"
key_secret = "A_KEY"
prefixes = ["test-a"]

[providers.beta]
base_url = "{}/"
key_secret = "B_KEY"
prefixes = ["test-b"]
"#,
        a.base_url(),
        b.base_url(),
    )
}

/// `POST /tasks` with `model`; the answer's status and body.
async fn submit(stack: &Stack, model: &str) -> (u16, Value) {
    submit_body(
        stack,
        json!({"prompt": "[scenario:hello] Who answers?", "model": model}),
    )
    .await
}

async fn submit_body(stack: &Stack, body: Value) -> (u16, Value) {
    let res = stack
        .client
        .post(format!("{}/api/v1/tasks", stack.backend_url))
        .json(&body)
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.json().await.unwrap_or_default())
}

/// `backend secrets set-system NAME`, the value on stdin, with the stack backend's settings;
/// returns what it printed (stdout and stderr).
async fn set_system_secret(stack: &Stack, name: &str, value: &str) -> String {
    use std::io::Write;
    use std::process::{Command, Stdio};

    let mut env: Vec<(String, String)> = vec![
        ("PATH".into(), std::env::var("PATH").unwrap_or_default()),
        ("DATABASE_URL".into(), database_url(&stack.pool)),
        ("SECRET_KEY".into(), BACKEND_SECRET_KEY.into()),
        ("INTERNAL_API_TOKEN".into(), common::INTERNAL_TOKEN.into()),
        ("AUTH_MODE".into(), "single_user".into()),
        ("HOST".into(), "127.0.0.1".into()),
    ];
    env.extend(stack.s3.vars().into_iter().map(|(k, v)| (k.to_owned(), v)));
    let (name, value) = (name.to_owned(), value.to_owned());
    tokio::task::spawn_blocking(move || {
        let mut child = Command::new(backend_bin())
            .args([
                "secrets",
                "set-system",
                name.as_str(),
                "--description",
                "a provider's key",
            ])
            .env_clear()
            .envs(env)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("backend secrets set-system");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(format!("{value}\n").as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        let printed = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "set-system {name}: {printed}");
        assert!(
            printed.contains(&format!("system secret {name} created")),
            "{printed}"
        );
        printed
    })
    .await
    .unwrap()
}

fn ids(body: &Value) -> (Uuid, Uuid) {
    (
        body["session_id"].as_str().unwrap().parse().unwrap(),
        body["run_id"].as_str().unwrap().parse().unwrap(),
    )
}

/// Submits a task with `model` and waits until it finished; (session, run, run view).
async fn run_with(stack: &Stack, model: &str) -> (Uuid, Uuid, Value) {
    let (status, body) = submit(stack, model).await;
    assert_eq!(status, 201, "{model}: {body}");
    let (session, run) = ids(&body);
    let view = stack.wait_finished(run, RUN_LIMIT).await;
    assert_eq!(
        view["status"],
        "completed",
        "{model}: {view}\n{}",
        stack.logs()
    );
    (session, run, view)
}

/// The assistant's text of the session, and the model its `system_init` names.
fn answer_and_model(events: &[Value]) -> (String, Option<String>) {
    let text = events
        .iter()
        .filter(|e| e["type"] == "assistant_text")
        .filter_map(|e| e["payload"]["text"].as_str())
        .collect::<Vec<_>>()
        .join("\n");
    let model = events
        .iter()
        .find(|e| e["type"] == "system_init")
        .and_then(|e| e["payload"]["model"].as_str())
        .map(str::to_owned);
    (text, model)
}

/// Checks what `server` received since its first `from` requests: at least one turn of this
/// run's conversation, every request with the server's own key (as `x-api-key` and as
/// `Authorization: Bearer`: the recorder says `valid` only for the key it was started with, so
/// neither another provider's key nor the manager's passes) and answered 200.
fn assert_reached(server: &FakeLlmHandle, from: usize, model: &str, who: &str) {
    let requests = server.requests();
    let new = &requests[from..];
    let turns: Vec<_> = new.iter().filter(|r| r.kind == RequestKind::Turn).collect();
    assert!(!turns.is_empty(), "{who} got no turn: {new:?}");
    for t in &turns {
        assert_eq!(t.model(), Some(model), "{who}: {t:?}");
        assert_eq!(t.scenario.as_deref(), Some("hello"), "{who}: {t:?}");
    }
    for r in new {
        assert_eq!(r.path, "/v1/messages", "{who}: {r:?}");
        assert_eq!(
            r.header("x-api-key"),
            Some("[redacted:valid]"),
            "{who}: {r:?}"
        );
        assert_eq!(
            r.header("authorization"),
            Some("Bearer [redacted:valid]"),
            "{who}: {r:?}"
        );
        assert_eq!(r.status, Some(200), "{who}: {r:?}");
    }
}

/// The run's usage from its view: (input, output, cache creation, cache read, cost, estimated).
fn usage(view: &Value) -> (u64, u64, u64, u64, f64, bool) {
    let u = &view["usage"];
    assert!(u.is_object(), "no usage in {view}");
    let n = |k: &str| u[k].as_u64().unwrap_or_else(|| panic!("{k} in {u}"));
    (
        n("input_tokens"),
        n("output_tokens"),
        n("cache_creation_input_tokens"),
        n("cache_read_input_tokens"),
        u["total_cost_usd"].as_f64().unwrap(),
        u["estimated"] == true,
    )
}

/// What the catalog charges for these tokens (cache writes and reads at the input price).
fn price(input: u64, output: u64, cache_creation: u64, cache_read: u64) -> f64 {
    ((input + cache_creation + cache_read) as f64 * INPUT_PRICE + output as f64 * OUTPUT_PRICE)
        / 1_000_000.0
}

/// Waits until the run is `running` (its executor has the task).
async fn wait_running(stack: &Stack, run: Uuid) {
    let deadline = tokio::time::Instant::now() + RUN_LIMIT;
    loop {
        let view = stack.get(&format!("runs/{run}")).await;
        if view["status"] == "running" {
            return;
        }
        assert!(
            view["status"] == "queued" || view["status"] == "claimed",
            "{view}\n{}",
            stack.logs()
        );
        assert!(tokio::time::Instant::now() < deadline, "{view}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn runs_count(pool: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM runs")
        .fetch_one(pool)
        .await
        .unwrap()
}

/// The manager's `workcell_model_tokens_total` for `kind` and `provider` (0 when absent).
fn tokens_metric(metrics: &str, kind: &str, provider: &str) -> u64 {
    metrics
        .lines()
        .filter(|l| l.starts_with("workcell_model_tokens_total{"))
        .filter(|l| {
            l.contains(&format!("kind=\"{kind}\""))
                && l.contains(&format!("provider=\"{provider}\""))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .map(|v| v as u64)
        .sum()
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn each_model_reaches_its_own_provider_with_its_own_key(pool: PgPool) {
    let a = provider(KEY_A, ANSWER_A).await;
    let b = provider(KEY_B, ANSWER_B).await;
    let config_dir = tempfile::tempdir().unwrap();
    let config = config_dir.path().join("models.toml");
    std::fs::write(&config, catalog(&a, &b)).unwrap();
    let config = config.display().to_string();
    let stack = Stack::start_full(
        pool,
        scenarios(ANSWER_UPSTREAM),
        Runtime::Process,
        &[("EXECUTOR_WARM_IDLE_SECONDS", "0"), ("LOG_LEVEL", "debug")],
        &[
            ("MODELS_CONFIG_PATH", config.as_str()),
            ("LOG_LEVEL", "debug"),
        ],
    )
    .await;

    // ---- The catalog as the API lists it ----
    let list = stack.get("models").await;
    let models = list["models"].as_array().unwrap();
    let ids_listed: Vec<&str> = models.iter().filter_map(|m| m["id"].as_str()).collect();
    assert_eq!(ids_listed, ["test-a", "test-b"], "{list}");
    assert_eq!(models[0]["provider"], "alpha", "{list}");
    assert_eq!(models[0]["label"], "Test model A", "{list}");
    assert_eq!(models[0]["context_window"], 100000, "{list}");
    assert_eq!(models[1]["provider"], "beta", "{list}");
    for m in models {
        assert_eq!(m["input_price_per_mtok"], INPUT_PRICE, "{m}");
        assert_eq!(m["output_price_per_mtok"], OUTPUT_PRICE, "{m}");
        assert!(m["cache_read_price_per_mtok"].is_null(), "{m}");
    }
    assert!(list["default_model"].is_null(), "{list}");
    let listed = list.to_string();
    assert!(
        !listed.contains("127.0.0.1") && !listed.contains("A_KEY"),
        "the list shows where providers are or their secrets: {list}"
    );

    // ---- Refused at submit: an unknown model, a provider's missing key ----
    let runs_before = runs_count(&stack.pool).await;
    let (status, body) = submit(&stack, "nope-model").await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "unknown_model", "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("nope-model"),
        "{body}"
    );
    // No secret yet: the provider's key is missing.
    let (status, body) = submit(&stack, "test-a").await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "unknown_secret", "{body}");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("A_KEY"),
        "{body}"
    );
    assert_eq!(
        runs_count(&stack.pool).await,
        runs_before,
        "a refused task was queued"
    );

    stack.put_secret("A_KEY", KEY_A).await;
    stack.put_secret("B_KEY", KEY_B).await;

    // ---- test-a: instance A with A's key; B and the upstream get nothing ----
    let (a0, b0, u0) = (
        a.requests().len(),
        b.requests().len(),
        stack.llm.requests().len(),
    );
    let (session_a, run_a, view_a) = run_with(&stack, "test-a").await;
    assert_reached(&a, a0, "test-a", "provider A");
    assert_eq!(
        b.requests().len(),
        b0,
        "B got test-a's requests: {:?}",
        b.requests()
    );
    assert_eq!(
        stack.llm.requests().len(),
        u0,
        "the manager's upstream got test-a's requests: {:?}",
        stack.llm.requests()
    );
    let (text, model) = answer_and_model(&stack.events(session_a).await);
    assert!(text.contains(ANSWER_A), "{text}");
    assert!(
        !text.contains(ANSWER_B) && !text.contains(ANSWER_UPSTREAM),
        "{text}"
    );
    assert_eq!(model.as_deref(), Some("test-a"));
    assert_eq!(view_a["model"], "test-a");

    // ---- test-b: instance B with B's key; A and the upstream get nothing ----
    let (a1, b1, u1) = (
        a.requests().len(),
        b.requests().len(),
        stack.llm.requests().len(),
    );
    let (session_b, run_b, view_b) = run_with(&stack, "test-b").await;
    assert_reached(&b, b1, "test-b", "provider B");
    assert_eq!(
        a.requests().len(),
        a1,
        "A got test-b's requests: {:?}",
        a.requests()
    );
    assert_eq!(
        stack.llm.requests().len(),
        u1,
        "the manager's upstream got test-b's requests"
    );
    let (text, model) = answer_and_model(&stack.events(session_b).await);
    assert!(text.contains(ANSWER_B), "{text}");
    assert!(
        !text.contains(ANSWER_A) && !text.contains(ANSWER_UPSTREAM),
        "{text}"
    );
    assert_eq!(model.as_deref(), Some("test-b"));

    // ---- The control: a claude- model goes to the manager's own upstream, with its key ----
    let (a2, b2, u2) = (
        a.requests().len(),
        b.requests().len(),
        stack.llm.requests().len(),
    );
    let (session_u, run_u, view_u) = run_with(&stack, "claude-sonnet-4-5").await;
    assert_eq!(a.requests().len(), a2, "A got the upstream's requests");
    assert_eq!(b.requests().len(), b2, "B got the upstream's requests");
    let upstream = stack.llm.requests();
    let new = &upstream[u2..];
    assert!(
        new.iter().any(|r| r.kind == RequestKind::Turn),
        "the upstream got no turn: {new:?}"
    );
    for r in new {
        // The stack's manager sends its ANTHROPIC_AUTH_TOKEN (LLM_KEY) as a bearer token only.
        assert_eq!(
            r.header("authorization"),
            Some("Bearer [redacted:valid]"),
            "{r:?}"
        );
        assert_eq!(r.header("x-api-key"), None, "{r:?}");
    }
    assert_eq!(stack.llm.api_key(), LLM_KEY);
    let (text, _) = answer_and_model(&stack.events(session_u).await);
    assert!(text.contains(ANSWER_UPSTREAM), "{text}");

    // ---- Costs: the catalog's prices times the tokens, marked estimated ----
    for (who, view) in [("test-a", &view_a), ("test-b", &view_b)] {
        let (input, output, creation, read, cost, estimated) = usage(view);
        assert!(estimated, "{who}: {view}");
        assert_eq!(
            (input, output, creation, read),
            TOKENS,
            "{who}: the run's tokens are not what its provider reported: {view}"
        );
        let expected = price(input, output, creation, read);
        assert!(
            (cost - expected).abs() < 1e-9,
            "{who}: cost {cost}, expected {expected}: {view}"
        );
    }
    // The upstream's model is not in this catalog: no prices, nothing estimated.
    let (.., estimated) = usage(&view_u);
    assert!(!estimated, "{view_u}");

    // ---- The proxy counted each run's tokens under its provider (one run each so far) ----
    let metrics = stack
        .client
        .get(format!("{}/metrics", stack.manager_url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for provider in ["alpha", "beta", "anthropic"] {
        let counted = (
            tokens_metric(&metrics, "input", provider),
            tokens_metric(&metrics, "output", provider),
            tokens_metric(&metrics, "cache_creation", provider),
            tokens_metric(&metrics, "cache_read", provider),
        );
        assert_eq!(counted, TOKENS, "{provider}: {metrics}");
    }

    // ---- The key is resolved at claim: deleted after submit, the run fails saying so ----
    // A follow-up queued behind a running run is claimed only when that run ends; the key is
    // deleted in between. The running run keeps the route it was claimed with.
    let (status, body) = submit_body(
        &stack,
        json!({"prompt": "[scenario:slow] Take your time.", "model": "test-b"}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let (slow_session, slow_run) = ids(&body);
    wait_running(&stack, slow_run).await;
    let (status, body) = submit_body(
        &stack,
        json!({"prompt": "And then?", "model": "test-b", "session_id": slow_session}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let late_run: Uuid = body["run_id"].as_str().unwrap().parse().unwrap();
    let res = stack
        .client
        .delete(format!("{}/api/v1/secrets/B_KEY", stack.backend_url))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let view = stack.wait_finished(slow_run, RUN_LIMIT).await;
    assert_eq!(view["status"], "completed", "{view}\n{}", stack.logs());
    let b_before = b.requests().len();
    let view = stack.wait_finished(late_run, RUN_LIMIT).await;
    assert_eq!(view["status"], "failed", "{view}");
    let error = view["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("B_KEY") && error.contains("beta") && error.contains("test-b"),
        "{error}"
    );
    assert_eq!(b.requests().len(), b_before, "the failed run reached B");

    // ---- A deleted key: refused at submit, naming the secret ----
    let runs_before = runs_count(&stack.pool).await;
    let (status, body) = submit(&stack, "test-b").await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "unknown_secret", "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("B_KEY") && message.contains("beta"),
        "{message}"
    );
    assert_eq!(
        runs_count(&stack.pool).await,
        runs_before,
        "a refused task was queued"
    );

    // ---- The system's secret when the user has none; the user's own wins ----
    let mut printed = set_system_secret(&stack, "B_KEY", KEY_B).await;
    printed.push_str(&set_system_secret(&stack, "A_KEY", WRONG_SYSTEM_A).await);
    let b3 = b.requests().len();
    let (session_b2, run_b2, _) = run_with(&stack, "test-b").await;
    assert_reached(&b, b3, "test-b", "provider B (system key)");
    let a3 = a.requests().len();
    let (session_a2, run_a2, _) = run_with(&stack, "test-a").await;
    assert_reached(
        &a,
        a3,
        "test-a",
        "provider A (the user's key over the system's)",
    );
    let (text, _) = answer_and_model(&stack.events(session_a2).await);
    assert!(text.contains(ANSWER_A), "{text}");

    // ---- Where the keys must not be ----
    let keys = [KEY_A, KEY_B, WRONG_SYSTEM_A];
    for key in keys {
        assert!(
            !printed.contains(key),
            "a key in the set-system output: {printed}"
        );
    }
    for (session, run) in [
        (session_a, run_a),
        (session_b, run_b),
        (session_u, run_u),
        (slow_session, slow_run),
        (slow_session, late_run),
        (session_b2, run_b2),
        (session_a2, run_a2),
    ] {
        let events = serde_json::to_string(&stack.events(session).await).unwrap();
        let view = stack.get(&format!("runs/{run}")).await.to_string();
        for key in keys {
            assert!(
                !events.contains(key),
                "a provider key in the events of {run}"
            );
            assert!(!view.contains(key), "a provider key in the view of {run}");
        }
    }
    let secrets = stack.get("secrets").await.to_string();
    for key in keys {
        assert!(!secrets.contains(key), "a provider key in the secrets list");
    }
    let all = test_support::postgres::dump(&stack.pool).await;
    assert!(
        all.contains("A_KEY"),
        "the secret A_KEY is not in the database"
    );
    for key in keys {
        assert!(!all.contains(key), "a provider key in the database");
        assert!(
            !all.contains(&hex::encode(key.as_bytes())),
            "a provider key's bytes in the database"
        );
    }
    let logs = [
        std::fs::read_to_string(stack.backend.log()).unwrap(),
        std::fs::read_to_string(stack.manager.log()).unwrap(),
    ];
    assert!(
        logs[0].contains("A_KEY"),
        "the backend logged nothing about the secret"
    );
    assert!(
        logs[1].contains("alpha") && logs[1].contains("beta"),
        "the manager logged no provider"
    );
    for log in &logs {
        for key in keys {
            assert!(!log.contains(key), "a provider key in a service log");
        }
    }
    stack.stop().await;
}
