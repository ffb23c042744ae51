//! The model catalog against a real PostgreSQL: `GET /models` (built-in and from
//! `MODELS_CONFIG_PATH`, TOML and JSON), a model checked at submit (`422 unknown_model`; a
//! provider's model without its key secret `422 unknown_secret`), the route a claim hands the
//! manager (the user's key, else the system's; none for the manager's own upstream), a run whose
//! key vanished before its claim failed there and not retried, costs estimated from the
//! catalog's prices, and a bad catalog file stopping the start with one line naming the variable.

mod common;

use backend::config::Settings;
use backend::secrets::Keyring;
use backend::secrets::store::{self, NewSecret};
use common::{TestApp, error_code};
use protocol::secrets::SecretValue;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use service_config::Secret;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

const ENCRYPTION_KEY: &str = "models-test-encryption-key-0123456789";
const USER_KEY: &str = "sk-zhipu-users-own-key-31337";
const SYSTEM_KEY: &str = "sk-zhipu-system-key-80085";

const CATALOG: &str = r#"
[[models]]
id = "glm-4.6"
label = "GLM-4.6"
provider = "zhipu"
context_window = 200000
input_price_per_mtok = 0.6
output_price_per_mtok = 2.2

[[models]]
id = "claude-sonnet-4-5"
label = "Sonnet"
input_price_per_mtok = 3.0
output_price_per_mtok = 15.0

[providers.zhipu]
base_url = "https://open.bigmodel.example/api/anthropic/"
key_secret = "ZHIPU_API_KEY"
prefixes = ["glm-"]
"#;

/// A backend with `catalog` written to a file named `name` as its `MODELS_CONFIG_PATH`.
async fn app_with(pool: PgPool, name: &str, catalog: &str) -> (TestApp, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, catalog).unwrap();
    let path = path.display().to_string();
    let app = TestApp::spawn_with(
        pool,
        &[
            ("ENCRYPTION_KEY", ENCRYPTION_KEY),
            ("MODELS_CONFIG_PATH", path.as_str()),
        ],
    )
    .await;
    (app, dir)
}

async fn submit(app: &TestApp, token: &str, model: &str) -> reqwest::Response {
    app.post(
        token,
        "/api/v1/tasks",
        json!({"prompt": "hi", "model": model}),
    )
    .await
}

async fn put_secret(app: &TestApp, token: &str, name: &str, value: &str) {
    let res = app
        .client
        .request(Method::PUT, app.url(&format!("/api/v1/secrets/{name}")))
        .bearer_auth(token)
        .json(&json!({"value": value}))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}", res.status());
}

async fn run_id(res: reqwest::Response) -> Uuid {
    let status = res.status();
    let v: Value = res.json().await.unwrap();
    assert_eq!(status, StatusCode::CREATED, "{v}");
    v["run_id"].as_str().unwrap().parse().unwrap()
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn the_builtin_catalog_lists_anthropic_models_and_refuses_others(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let token = app.register("a@example.com").await;
    let list: Value = app
        .get(&token, "/api/v1/models")
        .await
        .json()
        .await
        .unwrap();
    let models = list["models"].as_array().unwrap();
    assert!(!models.is_empty());
    let sonnet = models
        .iter()
        .find(|m| m["id"] == "claude-sonnet-4-5")
        .expect("Sonnet 4.5 in the built-in catalog");
    assert_eq!(sonnet["provider"], "anthropic");
    assert_eq!(sonnet["input_price_per_mtok"], 3.0);
    assert_eq!(sonnet["output_price_per_mtok"], 15.0);
    // Signed in only.
    let res = app
        .client
        .get(app.url("/api/v1/models"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);

    // Listed ids, CLI aliases and unlisted `claude-` ids run; anything else is refused before
    // anything is stored.
    for ok in ["claude-sonnet-4-5", "sonnet", "claude-sonnet-9-preview"] {
        let run = run_id(submit(&app, &token, ok).await).await;
        let claimed = app.claim("w", 0).await.unwrap();
        assert_eq!(claimed.run_id, run);
        assert_eq!(claimed.model.as_deref(), Some(ok));
        assert!(claimed.model_route.is_none(), "the manager's own upstream");
    }
    let before: i64 = sqlx::query_scalar("SELECT count(*) FROM sessions")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    for bad in ["gpt-5", "glm-4.6", "deepseek-chat"] {
        let res = submit(&app, &token, bad).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"]["code"], "unknown_model");
        assert!(body["error"]["message"].as_str().unwrap().contains(bad));
    }
    let after: i64 = sqlx::query_scalar("SELECT count(*) FROM sessions")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(before, after, "a refused task leaves nothing behind");
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn a_providers_model_needs_its_key_and_is_routed_with_it(pool: PgPool) {
    let (app, _dir) = app_with(pool, "models.toml", CATALOG).await;
    let ada = app.register("ada@example.com").await;
    let bob = app.register("bob@example.com").await;

    let list: Value = app.get(&ada, "/api/v1/models").await.json().await.unwrap();
    let ids: Vec<(&str, &str)> = list["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["id"].as_str().unwrap(), m["provider"].as_str().unwrap()))
        .collect();
    assert_eq!(
        ids,
        [("glm-4.6", "zhipu"), ("claude-sonnet-4-5", "anthropic")]
    );
    let text = serde_json::to_string(&list).unwrap();
    assert!(
        !text.contains("bigmodel"),
        "no base URL or secret name for the browser: {text}"
    );
    assert!(!text.contains("ZHIPU_API_KEY"), "{text}");

    // Without the key secret: refused at submit, naming the secret (not its value).
    let res = submit(&app, &ada, "glm-4.6").await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unknown_secret");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("ZHIPU_API_KEY")
    );
    // An unlisted id of the provider's prefix is accepted like a listed one (same check).
    let res = submit(&app, &ada, "glm-5-preview").await;
    assert_eq!(error_code(res).await, "unknown_secret");
    // A model no provider claims.
    let res = submit(&app, &ada, "gpt-5").await;
    assert_eq!(error_code(res).await, "unknown_model");

    // The system's key serves everyone; Ada's own overrides it for her.
    let ring = Keyring::new(&[Secret::new(ENCRYPTION_KEY.to_owned())]);
    store::put(
        &app.pool,
        &ring,
        None,
        &NewSecret {
            name: "ZHIPU_API_KEY",
            value: &SecretValue::new(SYSTEM_KEY),
            description: None,
        },
    )
    .await
    .unwrap();
    put_secret(&app, &ada, "ZHIPU_API_KEY", USER_KEY).await;

    let ada_run = run_id(submit(&app, &ada, "glm-4.6").await).await;
    let claimed = app.claim("w", 0).await.unwrap();
    assert_eq!(claimed.run_id, ada_run);
    let route = claimed.model_route.as_ref().expect("a route");
    assert_eq!(route.provider, "zhipu");
    assert_eq!(
        route.base_url,
        "https://open.bigmodel.example/api/anthropic"
    );
    assert_eq!(route.api_key.expose(), USER_KEY);
    // The key is redacted wherever a route is printed.
    assert!(!format!("{route:?}").contains(USER_KEY));
    assert!(!format!("{claimed:?}").contains(USER_KEY));

    let bob_run = run_id(submit(&app, &bob, "glm-5-preview").await).await;
    let claimed = app.claim("w", 0).await.unwrap();
    assert_eq!(claimed.run_id, bob_run);
    assert_eq!(
        claimed.model_route.as_ref().unwrap().api_key.expose(),
        SYSTEM_KEY
    );
    // A run of the manager's own upstream carries no route, even with keys around.
    let plain = run_id(submit(&app, &bob, "claude-sonnet-4-5").await).await;
    let claimed = app.claim("w", 0).await.unwrap();
    assert_eq!(claimed.run_id, plain);
    assert!(claimed.model_route.is_none());

    // Ada's key goes after her task was queued (and the system's too): the claim fails the run
    // with the reason, not retried, and hands out the next one instead.
    let orphan = run_id(submit(&app, &ada, "glm-4.6").await).await;
    let next = run_id(submit(&app, &ada, "claude-sonnet-4-5").await).await;
    let res = app
        .client
        .delete(app.url("/api/v1/secrets/ZHIPU_API_KEY"))
        .bearer_auth(&ada)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    sqlx::query("DELETE FROM secrets WHERE user_id IS NULL")
        .execute(&app.pool)
        .await
        .unwrap();
    let claimed = app.claim("w", 0).await.expect("the next run");
    assert_eq!(claimed.run_id, next);
    assert_eq!(app.run_status(orphan).await, "failed");
    let (error, attempts): (Option<String>, i32) =
        sqlx::query_as("SELECT error, attempts FROM runs WHERE id = $1")
            .bind(orphan)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    let error = error.unwrap_or_default();
    assert!(error.contains("ZHIPU_API_KEY"), "{error}");
    assert_eq!(attempts, 1);

    // The keys are nowhere in clear in the database.
    let dump = test_support::postgres::dump(&app.pool).await;
    assert!(!dump.contains(USER_KEY) && !dump.contains(SYSTEM_KEY));
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn costs_are_estimated_from_the_catalog_when_the_cli_reports_none(pool: PgPool) {
    let json_catalog = json!({
        "default_model": "claude-sonnet-4-5",
        "models": [
            {"id": "claude-sonnet-4-5", "input_price_per_mtok": 3.0, "output_price_per_mtok": 15.0,
             "cache_write_price_per_mtok": 3.75, "cache_read_price_per_mtok": 0.3},
            {"id": "glm-4.6", "provider": "zhipu", "input_price_per_mtok": 0.6, "output_price_per_mtok": 2.2}
        ],
        "providers": {"zhipu": {"base_url": "https://glm.example", "key_secret": "ZHIPU_API_KEY", "prefixes": ["glm-"]}}
    });
    let (app, _dir) = app_with(pool, "models.json", &json_catalog.to_string()).await;
    let token = app.register("a@example.com").await;
    let list: Value = app
        .get(&token, "/api/v1/models")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["default_model"], "claude-sonnet-4-5");
    put_secret(&app, &token, "ZHIPU_API_KEY", USER_KEY).await;

    // (model, the CLI's cost, expected cost, estimated)
    let cases: [(Option<&str>, f64, f64, bool); 4] = [
        // The CLI's own figure stands for the manager's upstream.
        (Some("claude-sonnet-4-5"), 0.5, 0.5, false),
        // None reported: the catalog's prices (1M in at 3, 200k out at 15, 100k cache write
        // at 3.75, 1M cache read at 0.3).
        (
            Some("claude-sonnet-4-5"),
            0.0,
            3.0 + 3.0 + 0.375 + 0.3,
            true,
        ),
        // A provider's model: the CLI prices it at Anthropic's rates, so the catalog's wins
        // (cache tokens at the input price without their own).
        (Some("glm-4.6"), 9.99, 0.6 + 0.44 + 0.06 + 0.6, true),
        // No model named: the catalog's default, stored on the run.
        (None, 0.0, 3.0 + 3.0 + 0.375 + 0.3, true),
    ];
    for (model, cli_cost, want, estimated) in cases {
        let mut body = json!({"prompt": "count"});
        if let Some(m) = model {
            body["model"] = json!(m);
        }
        let run = run_id(app.post(&token, "/api/v1/tasks", body).await).await;
        let claimed = app.claim("w", 0).await.unwrap();
        assert_eq!(claimed.run_id, run);
        assert_eq!(
            claimed.model.as_deref(),
            Some(model.unwrap_or("claude-sonnet-4-5"))
        );
        let batch = json!({"worker_id": "w", "epoch": claimed.epoch, "events": [
            {"run_seq": 1, "time": "2026-01-01T00:00:00Z", "type": "result", "payload": {
                "num_turns": 1, "duration_ms": 1000, "total_cost_usd": cli_cost,
                "usage": {"input_tokens": 1_000_000, "output_tokens": 200_000,
                          "cache_creation_input_tokens": 100_000,
                          "cache_read_input_tokens": 1_000_000}}}
        ]});
        let res = app.internal(&format!("/runs/{run}/events"), batch).await;
        assert_eq!(res.status(), StatusCode::OK);
        let res = app
            .internal(
                &format!("/runs/{run}/complete"),
                json!({"worker_id": "w", "epoch": claimed.epoch}),
            )
            .await;
        assert!(res.status().is_success());
        let view: Value = app
            .get(&token, &format!("/api/v1/runs/{run}"))
            .await
            .json()
            .await
            .unwrap();
        let cost = view["usage"]["total_cost_usd"].as_f64().unwrap();
        assert!((cost - want).abs() < 1e-9, "{model:?}: {cost} != {want}");
        assert_eq!(view["usage"]["estimated"], estimated, "{model:?}");
    }
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn a_bad_catalog_stops_the_start_with_one_line(pool: PgPool) {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "models.toml",
            "[[models]]\nid = \"x\"\nprovider = \"nobody\"\n",
        ),
        (
            "models.toml",
            "[providers.p]\nbase_url = \"https://user:key@x.example\"\nkey_secret = \"K\"\n",
        ),
        ("models.toml", "[[models]]\nid = \n"),
        (
            "models.json",
            "{\"models\": [{\"id\": \"a\", \"input_price_per_mtok\": -1}]}",
        ),
        ("models.yaml", "models: []\n"),
        ("missing.toml", ""),
    ];
    let db = std::env::var("DATABASE_URL").unwrap();
    for (i, (name, text)) in cases.iter().enumerate() {
        let path = dir.path().join(format!("{i}-{name}"));
        if *name != "missing.toml" {
            std::fs::write(&path, text).unwrap();
        }
        let settings = Settings::from_vars(
            [
                ("DATABASE_URL", db.as_str()),
                ("SECRET_KEY", "test-secret-key-0123456789abcdef"),
                ("INTERNAL_API_TOKEN", common::INTERNAL_TOKEN),
                ("S3_ENDPOINT", "http://127.0.0.1:9"),
                ("S3_ACCESS_KEY", "ak"),
                ("S3_SECRET_KEY", "sk"),
                ("S3_BUCKET", "bucket"),
                ("MODELS_CONFIG_PATH", path.to_str().unwrap()),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned())),
        )
        .expect("settings");
        let err = backend::server::start_state(settings, pool.clone(), CancellationToken::new())
            .await
            .err()
            .unwrap_or_else(|| panic!("{name}: the start went on"))
            .to_string();
        assert!(err.contains("MODELS_CONFIG_PATH"), "{name}: {err}");
        assert!(!err.contains('\n'), "{name}: one line: {err}");
    }
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn a_scheduled_fire_whose_key_went_fails_at_the_claim_where_its_owner_sees_it(pool: PgPool) {
    let (app, dir) = app_with(pool, "models.toml", CATALOG).await;
    let ada = app.register("ada@example.com").await;
    let body = json!({"name": "nightly", "prompt": "report", "cron": "0 3 * * *",
                      "timezone": "UTC", "enabled": true, "session_mode": "new",
                      "model": "glm-4.6"});
    // Created only with the key there, like a task.
    let res = app
        .post(&ada, "/api/v1/scheduled-tasks", body.clone())
        .await;
    assert_eq!(error_code(res).await, "unknown_secret");
    put_secret(&app, &ada, "ZHIPU_API_KEY", USER_KEY).await;
    let res = app.post(&ada, "/api/v1/scheduled-tasks", body).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let created: Value = res.json().await.unwrap();
    let schedule: Uuid = created["id"].as_str().unwrap().parse().unwrap();

    // The key goes; the fire still queues the run (no check that could hold back other fires)…
    let res = app
        .client
        .delete(app.url("/api/v1/secrets/ZHIPU_API_KEY"))
        .bearer_auth(&ada)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    sqlx::query(
        "UPDATE scheduled_tasks SET next_fire_at = now() - interval '1 second' WHERE id = $1",
    )
    .bind(schedule)
    .execute(&app.pool)
    .await
    .unwrap();
    let catalog = backend::models::Catalog::load(&dir.path().join("models.toml")).unwrap();
    let fired = backend::schedules::fire(&app.pool, &catalog, 10, 3)
        .await
        .unwrap();
    assert_eq!(fired.len(), 1);
    let run = fired[0].run_id;
    // …and the claim fails it with the reason, not retried, handing out nothing else.
    assert!(app.claim("w", 0).await.is_none());
    assert_eq!(app.run_status(run).await, "failed");
    let error: Option<String> = sqlx::query_scalar("SELECT error FROM runs WHERE id = $1")
        .bind(run)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(error.unwrap_or_default().contains("ZHIPU_API_KEY"));
    let history: Value = app
        .get(&ada, &format!("/api/v1/scheduled-tasks/{schedule}/runs"))
        .await
        .json()
        .await
        .unwrap();
    assert!(history.to_string().contains("failed"), "{history}");
}
