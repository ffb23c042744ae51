//! Secrets against a real PostgreSQL: the API never answers a value, the table never holds one
//! in clear, another user can neither see nor use one by name, system secrets are read-only and
//! overridden by a user's own, `${NAME}` and `token_secret` are checked at submit (422
//! `unknown_secret`) and resolved at the claim (a run whose secret vanished fails there), keys
//! rotate, and a wrong `ENCRYPTION_KEY` stops the start (the library and the binary).

mod common;

use std::collections::BTreeSet;

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

const KEY_1: &str = "first-encryption-key-0123456789abcdef";
const KEY_2: &str = "second-encryption-key-0123456789abcdef";
const WRONG_KEY: &str = "wrong-encryption-key-0123456789abcdef";

const GH_VALUE: &str = "ghp_ada-private-token-value-7731";
const API_VALUE: &str = "sk-api-key-value-for-the-mcp-server-4242";

fn keyring(keys: &[&str]) -> Keyring {
    Keyring::new(
        &keys
            .iter()
            .map(|k| Secret::new((*k).to_owned()))
            .collect::<Vec<_>>(),
    )
}

async fn app(pool: PgPool) -> TestApp {
    TestApp::spawn_with(pool, &[("ENCRYPTION_KEY", KEY_1)]).await
}

/// The answer's body, asserting its status and that it holds none of `values`.
async fn body_of(res: reqwest::Response, want: StatusCode, values: &[&str]) -> Value {
    let status = res.status();
    let text = res.text().await.unwrap();
    assert_eq!(status, want, "{text}");
    for v in values {
        assert!(!text.contains(v), "a value in an answer: {text}");
    }
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

/// Asserts `value` appears in `text` neither as text nor as the hex of its bytes.
fn assert_absent(text: &str, value: &str, what: &str) {
    assert!(!text.contains(value), "{what} holds the value in clear");
    assert!(
        !text.contains(&hex::encode(value.as_bytes())),
        "{what} holds the value's bytes"
    );
}

async fn task(app: &TestApp, token: &str, body: Value) -> reqwest::Response {
    app.post(token, "/api/v1/tasks", body).await
}

async fn created_run(res: reqwest::Response) -> Uuid {
    let v = body_of(res, StatusCode::CREATED, &[]).await;
    v["run_id"].as_str().unwrap().parse().unwrap()
}

async fn user_id(app: &TestApp, email: &str) -> Uuid {
    sqlx::query_scalar("SELECT id FROM users WHERE email = $1")
        .bind(email)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

fn private_repo(secret: &str) -> Value {
    json!({"url": "https://git.example.com/ada/private.git", "token_secret": secret})
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn secrets_crud_never_answers_or_stores_a_value(pool: PgPool) {
    let app = app(pool).await;
    let ada = app.register("ada@example.com").await;
    let values = [GH_VALUE, "short-one", "replaced-token-value-0000"];

    let created = body_of(
        app.post(
            &ada,
            "/api/v1/secrets",
            json!({"name": "GITHUB_TOKEN", "value": GH_VALUE, "description": "clones ada/private"}),
        )
        .await,
        StatusCode::CREATED,
        &values,
    )
    .await;
    assert_eq!(created["name"], "GITHUB_TOKEN");
    assert_eq!(created["description"], "clones ada/private");
    assert_eq!(created["last4"], "7731");
    assert_eq!(created["system"], false);
    assert!(created.get("value").is_none(), "{created}");

    // The same name again, bad names, values and bodies.
    let dup = app
        .post(
            &ada,
            "/api/v1/secrets",
            json!({"name": "GITHUB_TOKEN", "value": "x"}),
        )
        .await;
    assert_eq!(dup.status(), StatusCode::CONFLICT);
    assert_eq!(error_code(dup).await, "name_taken");
    for bad in [
        json!({"name": "github_token", "value": "v"}),
        json!({"name": "1X", "value": "v"}),
        json!({"name": "A-B", "value": "v"}),
        json!({"name": "A".repeat(129), "value": "v"}),
        json!({"name": "EMPTY", "value": ""}),
        json!({"name": "NUL", "value": "a\u{0}b"}),
        json!({"name": "BIG", "value": "v".repeat(64 * 1024 + 1)}),
        json!({"name": "DESC", "value": "v", "description": "two\nlines"}),
        json!({"name": "DESC", "value": "v", "description": "d".repeat(501)}),
        json!({"value": "v"}),
        json!({"name": "EXTRA", "value": "v", "shown": true}),
    ] {
        let res = app.post(&ada, "/api/v1/secrets", bad.clone()).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        assert_eq!(error_code(res).await, "validation_error", "{bad}");
    }

    // PUT creates (201) or replaces (200); a short value shows no last characters.
    let short = body_of(
        app.send(
            &ada,
            Method::PUT,
            "/api/v1/secrets/SHORT",
            Some(json!({"value": "short-one"})),
        )
        .await,
        StatusCode::CREATED,
        &values,
    )
    .await;
    assert_eq!(short["last4"], Value::Null);
    assert_eq!(short["description"], "");
    let replaced = body_of(
        app.send(
            &ada,
            Method::PUT,
            "/api/v1/secrets/GITHUB_TOKEN",
            Some(json!({"name": "GITHUB_TOKEN", "value": "replaced-token-value-0000"})),
        )
        .await,
        StatusCode::OK,
        &values,
    )
    .await;
    assert_eq!(replaced["last4"], "0000");
    assert_eq!(replaced["description"], "clones ada/private");
    assert_eq!(replaced["created_at"], created["created_at"]);
    let res = app
        .send(
            &ada,
            Method::PUT,
            "/api/v1/secrets/GITHUB_TOKEN",
            Some(json!({"name": "OTHER", "value": "v"})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // PATCH changes the description only.
    let patched = body_of(
        app.send(
            &ada,
            Method::PATCH,
            "/api/v1/secrets/SHORT",
            Some(json!({"description": "for tests"})),
        )
        .await,
        StatusCode::OK,
        &values,
    )
    .await;
    assert_eq!(patched["description"], "for tests");
    let res = app
        .send(
            &ada,
            Method::PATCH,
            "/api/v1/secrets/SHORT",
            Some(json!({"description": "x", "value": "sneaky"})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let res = app
        .send(
            &ada,
            Method::PATCH,
            "/api/v1/secrets/NOPE",
            Some(json!({"description": "x"})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);

    let list = body_of(
        app.get(&ada, "/api/v1/secrets").await,
        StatusCode::OK,
        &values,
    )
    .await;
    let names: Vec<&str> = list["secrets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["GITHUB_TOKEN", "SHORT"]);
    let one = body_of(
        app.get(&ada, "/api/v1/secrets/SHORT").await,
        StatusCode::OK,
        &values,
    )
    .await;
    assert_eq!(one["description"], "for tests");

    // The rows hold ciphertext: neither the values nor their bytes, anywhere in the database.
    let (nonce, ciphertext, key_id): (Vec<u8>, Vec<u8>, String) =
        sqlx::query_as("SELECT nonce, ciphertext, key_id FROM secrets WHERE name = 'GITHUB_TOKEN'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(nonce.len(), 24);
    assert_eq!(key_id, keyring(&[KEY_1]).current_key_id());
    assert!(
        !ciphertext
            .windows(b"replaced-token-value".len())
            .any(|w| w == b"replaced-token-value")
    );
    let all = test_support::postgres::dump(&app.pool).await;
    for v in values {
        assert_absent(&all, v, "the database");
    }

    // DELETE: 204, then 404.
    let res = app
        .send(&ada, Method::DELETE, "/api/v1/secrets/SHORT", None)
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let res = app
        .send(&ada, Method::DELETE, "/api/v1/secrets/SHORT", None)
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        app.get(&ada, "/api/v1/secrets/SHORT").await.status(),
        StatusCode::NOT_FOUND
    );
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn another_user_neither_sees_nor_uses_a_secret_by_name(pool: PgPool) {
    let app = app(pool).await;
    let ada = app.register("ada@example.com").await;
    let bob = app.register("bob@example.com").await;
    let res = app
        .post(
            &ada,
            "/api/v1/secrets",
            json!({"name": "GITHUB_TOKEN", "value": GH_VALUE}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);

    let list = body_of(
        app.get(&bob, "/api/v1/secrets").await,
        StatusCode::OK,
        &[GH_VALUE],
    )
    .await;
    assert_eq!(list["secrets"], json!([]));
    let path = "/api/v1/secrets/GITHUB_TOKEN";
    assert_eq!(app.get(&bob, path).await.status(), StatusCode::NOT_FOUND);
    let res = app
        .send(
            &bob,
            Method::PATCH,
            path,
            Some(json!({"description": "mine now"})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let res = app.send(&bob, Method::DELETE, path, None).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);

    // Bob's task naming it, as a repository token or in an MCP server: 422 naming it.
    let res = task(
        &app,
        &bob,
        json!({"prompt": "clone", "git": private_repo("GITHUB_TOKEN")}),
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unknown_secret", "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("GITHUB_TOKEN"),
        "{body}"
    );
    let res = app
        .post(
            &bob,
            "/api/v1/mcp-servers",
            json!({"name": "gh", "config": {"command": "gh-mcp", "env": {"GITHUB_TOKEN": "${GITHUB_TOKEN}"}}}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let res = task(&app, &bob, json!({"prompt": "use gh"})).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_code(res).await, "unknown_secret");
    // Nothing was queued for Bob.
    let queued: i64 = sqlx::query_scalar("SELECT count(*) FROM runs")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(queued, 0);

    // Ada's own task names it fine, and her run alone gets the value.
    let run = created_run(
        task(
            &app,
            &ada,
            json!({"prompt": "clone", "git": private_repo("GITHUB_TOKEN")}),
        )
        .await,
    )
    .await;
    let claimed = app.claim("w1", 0).await.expect("ada's run");
    assert_eq!(claimed.run_id, run);
    assert_eq!(
        claimed.secrets.get("GITHUB_TOKEN").map(SecretValue::expose),
        Some(GH_VALUE)
    );
    assert_eq!(claimed.secrets.len(), 1);
    // The claim's Debug output (what a log line of it would show) has no value.
    assert!(!format!("{claimed:?}").contains(GH_VALUE));
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn system_secrets_are_read_only_and_overridden_by_the_users_own(pool: PgPool) {
    let app = app(pool).await;
    let ring = keyring(&[KEY_1]);
    let ada = app.register("ada@example.com").await;
    let bob = app.register("bob@example.com").await;
    let system_value = "xoxb-system-slack-token-9999";
    let ada_value = "xoxb-ada-own-slack-token-1111";
    let (view, created) = store::put(
        &app.pool,
        &ring,
        None,
        &NewSecret {
            name: "SLACK_TOKEN",
            value: &SecretValue::new(system_value),
            description: Some("the team's bot"),
        },
    )
    .await
    .unwrap();
    assert!(created && view.system);

    let list = body_of(
        app.get(&ada, "/api/v1/secrets").await,
        StatusCode::OK,
        &[system_value],
    )
    .await;
    assert_eq!(
        list["secrets"],
        json!([{
            "name": "SLACK_TOKEN", "description": "the team's bot", "last4": "9999",
            "system": true, "overridden": false,
            "created_at": list["secrets"][0]["created_at"], "updated_at": list["secrets"][0]["updated_at"],
        }])
    );
    // Read-only through the API.
    let path = "/api/v1/secrets/SLACK_TOKEN";
    for (method, body) in [
        (Method::PATCH, Some(json!({"description": "mine"}))),
        (Method::DELETE, None),
    ] {
        let res = app.send(&ada, method.clone(), path, body).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{method}");
        assert_eq!(error_code(res).await, "read_only");
    }

    // Bob's run gets the system's value; Ada's own of the same name overrides it for her.
    let body = json!({"prompt": "post", "git": private_repo("SLACK_TOKEN")});
    created_run(task(&app, &bob, body.clone()).await).await;
    let claimed = app.claim("w1", 0).await.unwrap();
    assert_eq!(claimed.secrets["SLACK_TOKEN"].expose(), system_value);

    body_of(
        app.send(&ada, Method::PUT, path, Some(json!({"value": ada_value})))
            .await,
        StatusCode::CREATED,
        &[ada_value, system_value],
    )
    .await;
    let list = body_of(
        app.get(&ada, "/api/v1/secrets").await,
        StatusCode::OK,
        &[ada_value, system_value],
    )
    .await;
    let rows: Vec<(Value, Value, Value)> = list["secrets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["name"].clone(),
                s["system"].clone(),
                s["overridden"].clone(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            (json!("SLACK_TOKEN"), json!(false), json!(false)),
            (json!("SLACK_TOKEN"), json!(true), json!(true)),
        ]
    );
    created_run(task(&app, &ada, body.clone()).await).await;
    let claimed = app.claim("w2", 0).await.unwrap();
    assert_eq!(claimed.secrets["SLACK_TOKEN"].expose(), ada_value);
    // Bob still sees the system's, not overridden for him.
    let list = body_of(
        app.get(&bob, "/api/v1/secrets").await,
        StatusCode::OK,
        &[ada_value],
    )
    .await;
    assert_eq!(list["secrets"][0]["overridden"], false);

    // Ada's own can go; the system's cannot (through the API) and stays.
    let res = app.send(&ada, Method::DELETE, path, None).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let res = app.send(&ada, Method::DELETE, path, None).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let mut conn = app.pool.acquire().await.unwrap();
    assert_eq!(store::list_system(&mut conn).await.unwrap().len(), 1);
    store::delete(&app.pool, None, "SLACK_TOKEN").await.unwrap();
    assert!(store::list_system(&mut conn).await.unwrap().is_empty());
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn references_are_checked_at_submit_and_resolved_at_claim(pool: PgPool) {
    let app = app(pool).await;
    let ada = app.register("ada@example.com").await;
    let other_value = "other-secret-value-5555";
    let res = app
        .post(
            &ada,
            "/api/v1/mcp-servers",
            json!({"name": "api", "config": {"command": "api-mcp", "args": ["--other=${OTHER}"],
                                              "env": {"API_KEY": "${API_KEY}", "MODE": "ro"}}}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);

    // Both missing, then one: 422 naming exactly the missing ones.
    for (missing, absent) in [
        (vec!["API_KEY", "OTHER"], vec![]),
        (vec!["OTHER"], vec!["API_KEY"]),
    ] {
        let res = task(&app, &ada, json!({"prompt": "call the api"})).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"]["code"], "unknown_secret");
        let message = body["error"]["message"].as_str().unwrap();
        for name in missing {
            assert!(message.contains(name), "{message}");
        }
        for name in absent {
            assert!(!message.contains(name), "{message}");
        }
        let res = app
            .post(
                &ada,
                "/api/v1/secrets",
                json!({"name": "API_KEY", "value": API_VALUE}),
            )
            .await;
        assert!(res.status() == StatusCode::CREATED || res.status() == StatusCode::CONFLICT);
    }
    let res = app
        .send(
            &ada,
            Method::PUT,
            "/api/v1/secrets/OTHER",
            Some(json!({"value": other_value})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);

    // Now it queues; the claim carries exactly the values the run names, the stored snapshot
    // still only the references.
    let run = created_run(task(&app, &ada, json!({"prompt": "call the api"})).await).await;
    let claimed = app.claim("w1", 0).await.unwrap();
    assert_eq!(claimed.run_id, run);
    assert_eq!(
        claimed.secrets.keys().cloned().collect::<BTreeSet<_>>(),
        BTreeSet::from(["API_KEY".to_owned(), "OTHER".to_owned()])
    );
    assert_eq!(claimed.secrets["API_KEY"].expose(), API_VALUE);
    assert_eq!(claimed.secrets["OTHER"].expose(), other_value);
    let config = &claimed.capabilities.as_ref().unwrap().mcp_servers[0].config;
    assert_eq!(config["env"]["API_KEY"], "${API_KEY}");
    let all = test_support::postgres::dump(&app.pool).await;
    assert_absent(&all, API_VALUE, "the database");
    assert_absent(&all, other_value, "the database");

    // A secret deleted between submit and claim: that run fails at the claim, not retried, with
    // a message naming it, and the claim hands out the next run instead.
    let res = app
        .internal(
            &format!("/runs/{run}/complete"),
            json!({"worker_id": "w1", "epoch": claimed.epoch}),
        )
        .await;
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "{}",
        res.text().await.unwrap()
    );
    let doomed = created_run(task(&app, &ada, json!({"prompt": "call the api again"})).await).await;
    let res = app
        .send(&ada, Method::DELETE, "/api/v1/secrets/OTHER", None)
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    // Another session's run, needing nothing (the server is disabled first), queued behind it.
    let server = body_of(
        app.get(&ada, "/api/v1/mcp-servers").await,
        StatusCode::OK,
        &[],
    )
    .await["mcp_servers"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let res = app
        .send(
            &ada,
            Method::PATCH,
            &format!("/api/v1/mcp-servers/{server}"),
            Some(json!({"enabled": false})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let plain = created_run(task(&app, &ada, json!({"prompt": "plain"})).await).await;
    let next = app.claim("w2", 2).await.expect("the next run");
    assert_eq!(next.run_id, plain, "the claim went on to the next run");
    assert!(next.secrets.is_empty());
    assert_eq!(app.run_status(doomed).await, "failed");
    let (error, attempts): (String, i32) =
        sqlx::query_as("SELECT error, attempts FROM runs WHERE id = $1")
            .bind(doomed)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert!(
        error.contains("OTHER") && error.contains("Secrets"),
        "{error}"
    );
    assert_eq!(attempts, 1);
    assert!(
        app.claim("w3", 0).await.is_none(),
        "the failed run is not retried"
    );
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn rotation_moves_every_row_to_the_first_key_and_the_old_key_can_go(pool: PgPool) {
    let app = app(pool.clone()).await;
    let ada = app.register("ada@example.com").await;
    let ada_id = user_id(&app, "ada@example.com").await;
    for (name, value) in [("GITHUB_TOKEN", GH_VALUE), ("API_KEY", API_VALUE)] {
        let res = app
            .post(
                &ada,
                "/api/v1/secrets",
                json!({"name": name, "value": value}),
            )
            .await;
        assert_eq!(res.status(), StatusCode::CREATED);
    }
    let old = keyring(&[KEY_1]);
    store::put(
        &app.pool,
        &old,
        None,
        &NewSecret {
            name: "SYSTEM_KEY",
            value: &SecretValue::new("system-value-0123456789"),
            description: None,
        },
    )
    .await
    .unwrap();

    // New key first, old key second: everything moves, once.
    let both = keyring(&[KEY_2, KEY_1]);
    assert_ne!(both.current_key_id(), old.current_key_id());
    assert_eq!(store::rotate(&app.pool, &both).await.unwrap(), 3);
    assert_eq!(store::rotate(&app.pool, &both).await.unwrap(), 0);
    let ids: Vec<String> = sqlx::query_scalar("SELECT DISTINCT key_id FROM secrets")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert_eq!(ids, [both.current_key_id().to_owned()]);

    // The new key alone now opens every value; the old alone no longer starts the backend.
    let new_only = keyring(&[KEY_2]);
    backend::secrets::check_keys(&app.pool, &new_only)
        .await
        .unwrap();
    let mut conn = app.pool.acquire().await.unwrap();
    let names: BTreeSet<String> = ["GITHUB_TOKEN", "API_KEY", "SYSTEM_KEY"]
        .into_iter()
        .map(Into::into)
        .collect();
    let values = backend::secrets::resolve(&mut conn, &new_only, ada_id, &names)
        .await
        .unwrap();
    assert_eq!(values["GITHUB_TOKEN"].expose(), GH_VALUE);
    assert_eq!(values["API_KEY"].expose(), API_VALUE);
    assert_eq!(values["SYSTEM_KEY"].expose(), "system-value-0123456789");
    drop(conn);
    drop(app);
    let err = start(&pool, KEY_1).await.unwrap_err();
    assert!(err.contains("ENCRYPTION_KEY"), "{err}");
    start(&pool, KEY_2).await.unwrap();
}

/// Settings like the test app's with `ENCRYPTION_KEY=key`.
fn settings(pool: &PgPool, key: &str) -> Settings {
    let db = test_support::postgres::database_url(pool);
    Settings::from_vars(
        [
            ("DATABASE_URL", db.as_str()),
            ("SECRET_KEY", "test-secret-key-0123456789abcdef"),
            ("INTERNAL_API_TOKEN", common::INTERNAL_TOKEN),
            ("S3_ENDPOINT", "http://127.0.0.1:9"),
            ("S3_ACCESS_KEY", "ak"),
            ("S3_SECRET_KEY", "sk"),
            ("S3_BUCKET", "bucket"),
            ("ENCRYPTION_KEY", key),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned())),
    )
    .unwrap()
}

/// `start_state` with `key`: the one-line error when it refuses.
async fn start(pool: &PgPool, key: &str) -> Result<(), String> {
    let shutdown = CancellationToken::new();
    let result = backend::server::start_state(settings(pool, key), pool.clone(), shutdown.clone())
        .await
        .map(|_| ())
        .map_err(|e| e.to_string());
    shutdown.cancel();
    result
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn a_wrong_key_stops_the_start_not_the_first_run(pool: PgPool) {
    // Nothing stored yet: any key starts.
    start(&pool, WRONG_KEY).await.unwrap();
    let app = app(pool.clone()).await;
    let ada = app.register("ada@example.com").await;
    let res = app
        .post(
            &ada,
            "/api/v1/secrets",
            json!({"name": "GITHUB_TOKEN", "value": GH_VALUE}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    drop(app);

    let err = start(&pool, WRONG_KEY).await.unwrap_err();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("ENCRYPTION_KEY"), "{err}");
    assert!(!err.contains(WRONG_KEY) && !err.contains(KEY_1), "{err}");
    // The right key among others (rotation in progress) starts.
    start(&pool, &format!("{WRONG_KEY},{KEY_1}")).await.unwrap();

    // The binary: exit status non-zero, one line naming the variable, no key in it.
    let out = binary(&pool, WRONG_KEY, &[]).output().await.unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("ENCRYPTION_KEY"), "{stderr}");
    assert!(!stderr.contains(WRONG_KEY), "{stderr}");
}

/// The binary with the test app's settings and `ENCRYPTION_KEY=key`, running `args`.
fn binary(pool: &PgPool, key: &str, args: &[&str]) -> tokio::process::Command {
    let port = test_support::net::free_port().to_string();
    common::binary(
        pool,
        args,
        &[
            ("HOST", "127.0.0.1"),
            ("PORT", &port),
            ("ENCRYPTION_KEY", key),
        ],
    )
}

/// Runs `backend args…` with `stdin`; (success, stdout, stderr).
async fn command(pool: &PgPool, key: &str, args: &[&str], stdin: &str) -> (bool, String, String) {
    common::run_with_stdin(binary(pool, key, args), stdin).await
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn the_operator_sets_lists_rotates_and_deletes_system_secrets(pool: PgPool) {
    let value = "system-token-from-stdin-8642";
    let (ok, out, err) = command(
        &pool,
        KEY_1,
        &[
            "secrets",
            "set-system",
            "DEPLOY_TOKEN",
            "--description",
            "deploys",
        ],
        &format!("{value}\n"),
    )
    .await;
    assert!(ok, "{out}{err}");
    assert!(
        out.contains("DEPLOY_TOKEN") && out.contains("created"),
        "{out}"
    );
    let (ok, out, err) = command(&pool, KEY_1, &["secrets", "list-system"], "").await;
    assert!(ok, "{err}");
    assert!(out.starts_with("DEPLOY_TOKEN\t…8642\t"), "{out}");
    assert!(out.trim_end().ends_with("\tdeploys"), "{out}");
    for text in [&out, &err] {
        assert!(!text.contains(value), "{text}");
    }
    // The value read back is exactly stdin's, without the final line break.
    let mut conn = pool.acquire().await.unwrap();
    let names = BTreeSet::from(["DEPLOY_TOKEN".to_owned()]);
    let got = backend::secrets::resolve(&mut conn, &keyring(&[KEY_1]), Uuid::nil(), &names)
        .await
        .unwrap();
    assert_eq!(got["DEPLOY_TOKEN"].expose(), value);
    assert_absent(
        &test_support::postgres::dump(&pool).await,
        value,
        "the database",
    );

    // Bad input: one line, non-zero, nothing written.
    for (args, stdin) in [
        (vec!["secrets", "set-system", "lower"], "v"),
        (vec!["secrets", "set-system", "EMPTY"], "\n"),
        (vec!["secrets", "delete-system", "NOPE"], ""),
        (vec!["secrets", "frobnicate"], ""),
        (vec!["secrets", "set-system", "A", "extra"], "v"),
    ] {
        let (ok, out, err) = command(&pool, KEY_1, &args, stdin).await;
        assert!(!ok, "{args:?}: {out}");
        assert_eq!(err.trim().lines().count(), 1, "{args:?}: {err}");
    }
    // A wrong key writes nothing.
    let (ok, _, err) = command(&pool, WRONG_KEY, &["secrets", "set-system", "OTHER"], "v").await;
    assert!(!ok && err.contains("ENCRYPTION_KEY"), "{err}");
    let mut conn2 = pool.acquire().await.unwrap();
    assert_eq!(store::list_system(&mut conn2).await.unwrap().len(), 1);

    // Rotation through the binary, then the old key can go.
    let (ok, out, err) = command(
        &pool,
        &format!("{KEY_2},{KEY_1}"),
        &["secrets", "rotate"],
        "",
    )
    .await;
    assert!(ok, "{err}");
    assert!(out.contains("re-encrypted 1 secret"), "{out}");
    let (ok, _, err) = command(&pool, KEY_2, &["secrets", "list-system"], "").await;
    assert!(ok, "{err}");
    let (ok, out, err) = command(
        &pool,
        KEY_2,
        &["secrets", "delete-system", "DEPLOY_TOKEN"],
        "",
    )
    .await;
    assert!(ok, "{err}");
    assert!(out.contains("deleted"), "{out}");
    assert!(store::list_system(&mut conn2).await.unwrap().is_empty());
}
