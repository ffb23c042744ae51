//! Usage analytics (`GET /usage`, `GET /admin/usage`) against a real PostgreSQL: sums equal the
//! stored `run_usage`, days are continuous and bounded in the asked time zone, groups by model
//! and project, another user's runs never counted, every user's only for admins, bad input 4xx.

mod common;

use common::{TestApp, error_code, json_of};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

/// A run as the test stores it.
struct Run<'a> {
    created: &'a str,
    /// Seconds from start to finish; `None`: never finished.
    seconds: Option<i64>,
    status: &'a str,
    model: &'a str,
    project: Option<Uuid>,
    /// (input, output, cache creation, cache read, cost); `None`: the agent never reported.
    usage: Option<(i64, i64, i64, i64, f64)>,
}

/// Queues a task for `token` and rewrites its run to `run` (time, outcome, model, project, usage).
async fn run(app: &TestApp, token: &str, run: Run<'_>) -> Uuid {
    let (session, id) = app.task(token, "work", None).await;
    sqlx::query(
        "UPDATE runs SET created_at = $2::timestamptz, started_at = $2::timestamptz,
                finished_at = $2::timestamptz + make_interval(secs => $3::float8),
                status = $4, options = options || jsonb_build_object('model', $5::text)
          WHERE id = $1",
    )
    .bind(id)
    .bind(run.created)
    .bind(run.seconds.map(|s| s as f64))
    .bind(run.status)
    .bind(run.model)
    .execute(&app.pool)
    .await
    .unwrap();
    sqlx::query("UPDATE sessions SET project_id = $2 WHERE id = $1")
        .bind(session)
        .bind(run.project)
        .execute(&app.pool)
        .await
        .unwrap();
    if let Some((i, o, cc, cr, cost)) = run.usage {
        sqlx::query(
            "INSERT INTO run_usage (run_id, input_tokens, output_tokens,
                 cache_creation_input_tokens, cache_read_input_tokens, total_cost_usd,
                 duration_ms, num_turns)
             VALUES ($1, $2, $3, $4, $5, $6, 1, 1)",
        )
        .bind(id)
        .bind(i)
        .bind(o)
        .bind(cc)
        .bind(cr)
        .bind(cost)
        .execute(&app.pool)
        .await
        .unwrap();
    }
    id
}

/// The sums of the stored `run_usage` of `runs`: (input, output, cache creation, cache read,
/// cost).
async fn stored(app: &TestApp, runs: &[Uuid]) -> (i64, i64, i64, i64, f64) {
    sqlx::query_as(
        "SELECT coalesce(sum(input_tokens), 0)::bigint, coalesce(sum(output_tokens), 0)::bigint,
                coalesce(sum(cache_creation_input_tokens), 0)::bigint,
                coalesce(sum(cache_read_input_tokens), 0)::bigint,
                coalesce(sum(total_cost_usd), 0)::float8
           FROM run_usage WHERE run_id = ANY($1)",
    )
    .bind(runs)
    .fetch_one(&app.pool)
    .await
    .unwrap()
}

fn sums(stats: &Value) -> (i64, i64, i64, i64, f64) {
    (
        stats["input_tokens"].as_i64().unwrap(),
        stats["output_tokens"].as_i64().unwrap(),
        stats["cache_creation_input_tokens"].as_i64().unwrap(),
        stats["cache_read_input_tokens"].as_i64().unwrap(),
        stats["cost_usd"].as_f64().unwrap(),
    )
}

fn close(a: (i64, i64, i64, i64, f64), b: (i64, i64, i64, i64, f64)) -> bool {
    (a.0, a.1, a.2, a.3) == (b.0, b.1, b.2, b.3) && (a.4 - b.4).abs() < 1e-9
}

async fn report(app: &TestApp, token: &str, query: &str) -> Value {
    json_of(
        app.get(token, &format!("/api/v1/usage?{query}")).await,
        StatusCode::OK,
    )
    .await
}

/// (key, runs, failed_runs) of each group.
fn shape(report: &Value) -> Vec<(Value, i64, i64)> {
    report["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["key"].clone(),
                g["usage"]["runs"].as_i64().unwrap(),
                g["usage"]["failed_runs"].as_i64().unwrap(),
            )
        })
        .collect()
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn usage_sums_the_stored_usage_by_day_model_and_project(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    // The first account is the admin.
    let admin = app.register("admin@example.com").await;
    let a = app.register("a@example.com").await;
    let b = app.register("b@example.com").await;
    let project = json_of(
        app.send(
            &a,
            Method::POST,
            "/api/v1/projects",
            Some(json!({"name": "Alpha"})),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let alpha: Uuid = project["id"].as_str().unwrap().parse().unwrap();

    let r1 = run(
        &app,
        &a,
        Run {
            created: "2025-03-10T10:00:00Z",
            seconds: Some(60),
            status: "completed",
            model: "m-one",
            project: Some(alpha),
            usage: Some((100, 10, 5, 50, 0.5)),
        },
    )
    .await;
    // 23:30 UTC on the 10th is 00:30 on the 11th in Paris (UTC+1 in March, before the change).
    let r2 = run(
        &app,
        &a,
        Run {
            created: "2025-03-10T23:30:00Z",
            seconds: Some(30),
            status: "failed",
            model: "m-two",
            project: None,
            usage: Some((200, 20, 0, 0, 1.25)),
        },
    )
    .await;
    let r3 = run(
        &app,
        &a,
        Run {
            created: "2025-03-12T08:00:00Z",
            seconds: Some(120),
            status: "completed",
            model: "m-one",
            project: Some(alpha),
            usage: Some((1000, 100, 7, 3, 2.0)),
        },
    )
    .await;
    // Failed before the agent reported anything.
    let r4 = run(
        &app,
        &a,
        Run {
            created: "2025-03-12T09:00:00Z",
            seconds: Some(10),
            status: "failed",
            model: "m-one",
            project: None,
            usage: None,
        },
    )
    .await;
    // Outside the range, and another user's run inside it.
    run(
        &app,
        &a,
        Run {
            created: "2025-03-14T00:00:00Z",
            seconds: None,
            status: "completed",
            model: "m-one",
            project: None,
            usage: Some((9, 9, 9, 9, 9.0)),
        },
    )
    .await;
    let r5 = run(
        &app,
        &b,
        Run {
            created: "2025-03-10T12:00:00Z",
            seconds: Some(5),
            status: "completed",
            model: "m-one",
            project: None,
            usage: Some((7, 7, 7, 7, 7.0)),
        },
    )
    .await;
    let mine = [r1, r2, r3, r4];

    // By day, in UTC: every day of [from, to), empty ones with zeros.
    let by_day = report(&app, &a, "from=2025-03-09&to=2025-03-14&group_by=day").await;
    assert_eq!(by_day["from"], "2025-03-09");
    assert_eq!(by_day["to"], "2025-03-14");
    assert_eq!(by_day["tz"], "UTC");
    assert_eq!(by_day["group_by"], "day");
    assert_eq!(by_day["all_users"], false);
    assert_eq!(
        shape(&by_day),
        vec![
            (json!("2025-03-09"), 0, 0),
            (json!("2025-03-10"), 2, 1),
            (json!("2025-03-11"), 0, 0),
            (json!("2025-03-12"), 2, 1),
            (json!("2025-03-13"), 0, 0),
        ]
    );
    let empty = &by_day["groups"][0]["usage"];
    assert_eq!(sums(empty), (0, 0, 0, 0, 0.0));
    assert_eq!(empty["duration_p50_ms"], Value::Null);
    assert!(close(
        sums(&by_day["groups"][1]["usage"]),
        stored(&app, &[r1, r2]).await
    ));
    assert!(close(
        sums(&by_day["groups"][3]["usage"]),
        stored(&app, &[r3, r4]).await
    ));
    let totals = &by_day["totals"];
    assert!(close(sums(totals), stored(&app, &mine).await));
    assert_eq!(
        (totals["runs"].as_i64(), totals["failed_runs"].as_i64()),
        (Some(4), Some(2))
    );
    // Durations 10 s, 30 s, 60 s, 120 s: the median between the middle two, p95 interpolated.
    assert_eq!(totals["duration_p50_ms"], 45_000);
    assert_eq!(totals["duration_p95_ms"], 111_000);
    assert_eq!(by_day["groups"][1]["usage"]["duration_p50_ms"], 45_000);

    // The same range in Paris: the late run of the 10th belongs to the 11th.
    let paris = report(
        &app,
        &a,
        "from=2025-03-09&to=2025-03-14&group_by=day&tz=Europe/Paris",
    )
    .await;
    assert_eq!(paris["tz"], "Europe/Paris");
    assert_eq!(
        shape(&paris),
        vec![
            (json!("2025-03-09"), 0, 0),
            (json!("2025-03-10"), 1, 0),
            (json!("2025-03-11"), 1, 1),
            (json!("2025-03-12"), 2, 1),
            (json!("2025-03-13"), 0, 0),
        ]
    );
    assert!(close(sums(&paris["totals"]), stored(&app, &mine).await));
    // A range ending at midnight in Paris leaves out what is already the next day there.
    let short = report(&app, &a, "from=2025-03-10&to=2025-03-11&tz=Europe/Paris").await;
    assert_eq!(shape(&short), vec![(json!("2025-03-10"), 1, 0)]);
    let short_utc = report(&app, &a, "from=2025-03-10&to=2025-03-11").await;
    assert_eq!(shape(&short_utc), vec![(json!("2025-03-10"), 2, 1)]);

    // By model: most expensive first.
    let by_model = report(&app, &a, "from=2025-03-09&to=2025-03-14&group_by=model").await;
    assert_eq!(
        shape(&by_model),
        vec![(json!("m-one"), 3, 1), (json!("m-two"), 1, 1)]
    );
    assert!(close(
        sums(&by_model["groups"][0]["usage"]),
        stored(&app, &[r1, r3, r4]).await
    ));
    assert_eq!(by_model["groups"][0]["label"], Value::Null);

    // By project: named, and the runs without one.
    let by_project = report(&app, &a, "from=2025-03-09&to=2025-03-14&group_by=project").await;
    assert_eq!(
        shape(&by_project),
        vec![(json!(alpha.to_string()), 2, 0), (Value::Null, 2, 2)]
    );
    assert_eq!(by_project["groups"][0]["label"], "Alpha");
    assert!(close(
        sums(&by_project["groups"][0]["usage"]),
        stored(&app, &[r1, r3]).await
    ));
    assert!(close(
        sums(&by_project["totals"]),
        stored(&app, &mine).await
    ));

    // B sees only B's run; B's run was never in A's numbers.
    let theirs = report(&app, &b, "from=2025-03-09&to=2025-03-14&group_by=model").await;
    assert_eq!(shape(&theirs), vec![(json!("m-one"), 1, 0)]);
    assert!(close(sums(&theirs["totals"]), stored(&app, &[r5]).await));

    // Every user's: the admin only, and the same error as the other admin routes for others.
    let all = json_of(
        app.get(
            &admin,
            "/api/v1/admin/usage?from=2025-03-09&to=2025-03-14&group_by=model",
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(all["all_users"], true);
    assert_eq!(
        shape(&all),
        vec![(json!("m-one"), 4, 1), (json!("m-two"), 1, 1)]
    );
    let everyone = [r1, r2, r3, r4, r5];
    assert!(close(sums(&all["totals"]), stored(&app, &everyone).await));
    for token in [&a, &b] {
        let res = app.get(token, "/api/v1/admin/usage").await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN);
        assert_eq!(error_code(res).await, "insufficient_scope");
        let res = app.get(token, "/api/v1/admin/users").await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN);
    }
    // The admin's own report has none of it.
    let own = report(&app, &admin, "from=2025-03-09&to=2025-03-14").await;
    assert_eq!(own["totals"]["runs"], 0);
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn the_default_range_is_the_last_30_days_and_bad_input_is_refused(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    // The first account is the admin; `a` is a member.
    app.register("admin@example.com").await;
    let a = app.register("a@example.com").await;
    let (_, today_run) = app.task(&a, "now", None).await;
    let body = report(&app, &a, "").await;
    let days = body["groups"].as_array().unwrap();
    assert_eq!(days.len(), 30);
    let from: chrono::NaiveDate = body["from"].as_str().unwrap().parse().unwrap();
    let to: chrono::NaiveDate = body["to"].as_str().unwrap().parse().unwrap();
    assert_eq!((to - from).num_days(), 30);
    assert_eq!(
        days[29]["key"],
        json!((to - chrono::Days::new(1)).to_string())
    );
    // The run just queued counts today, with no usage yet.
    assert_eq!(days[29]["usage"]["runs"], 1);
    assert_eq!(body["totals"]["runs"], 1);
    assert_eq!(body["totals"]["cost_usd"], 0.0);
    assert_eq!(app.run_status(today_run).await, "queued");

    // 366 days is the most.
    let year = report(&app, &a, "from=2024-01-01&to=2025-01-01").await;
    assert_eq!(year["groups"].as_array().unwrap().len(), 366);

    for (query, status, code) in [
        (
            "tz=Mars/Olympus",
            StatusCode::BAD_REQUEST,
            "invalid_timezone",
        ),
        ("tz=", StatusCode::BAD_REQUEST, "invalid_timezone"),
        (
            "from=2024-01-01&to=2025-01-02",
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_error",
        ),
        (
            "from=2025-01-02&to=2025-01-02",
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_error",
        ),
        (
            "from=2025-01-03&to=2025-01-02",
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_error",
        ),
        ("from=yesterday", StatusCode::BAD_REQUEST, "invalid_query"),
        ("to=2025-02-30", StatusCode::BAD_REQUEST, "invalid_query"),
        ("group_by=week", StatusCode::BAD_REQUEST, "invalid_query"),
        ("all=true", StatusCode::BAD_REQUEST, "invalid_query"),
    ] {
        for path in ["/api/v1/usage", "/api/v1/admin/usage"] {
            let res = app.get(&a, &format!("{path}?{query}")).await;
            if path == "/api/v1/admin/usage" {
                // A member is refused before the query is looked at.
                assert_eq!(res.status(), StatusCode::FORBIDDEN, "{query}");
                continue;
            }
            assert_eq!(res.status(), status, "{query}");
            let body: Value = res.json().await.unwrap();
            assert_eq!(body["error"]["code"], code, "{query}: {body}");
            assert!(
                body["error"]["message"]
                    .as_str()
                    .is_some_and(|m| !m.is_empty())
            );
        }
    }
    let res = app
        .client
        .get(app.url("/api/v1/usage"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}
