//! Finding past work (issue 17): `GET /search` (ranking, ownership, the project filter, event
//! positions, partial words and Chinese, paging, bad input) and the session list's pins, status
//! filter and `running_since`.

mod common;

use common::{TestApp, error_code, json_of};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

/// A run of a new session (or of `session`) whose agent says `texts` (each an
/// `assistant_text`, after a `system_init` and a tool call), then completes. Returns (session,
/// run, the session `seq` of each text).
async fn run_saying(
    app: &TestApp,
    token: &str,
    prompt: &str,
    session: Option<Uuid>,
    texts: &[&str],
) -> (Uuid, Uuid, Vec<i64>) {
    let (session, run) = app.task(token, prompt, session).await;
    let claimed = app.claim("w", 0).await.expect("the run just queued");
    assert_eq!(claimed.run_id, run);
    let mut events = vec![
        json!({"run_seq": 1, "time": "2026-01-01T00:00:00Z", "type": "system_init", "payload": {"agent_session_id": "a"}}),
        json!({"run_seq": 2, "time": "2026-01-01T00:00:01Z", "type": "tool_use", "payload": {"tool_use_id": "t1", "name": "Bash", "input": {"command": "ls"}}}),
    ];
    for (i, t) in texts.iter().enumerate() {
        events.push(json!({"run_seq": 3 + i as i64, "time": "2026-01-01T00:00:02Z", "type": "assistant_text", "payload": {"text": t}}));
    }
    let res = app
        .internal(
            &format!("/runs/{run}/events"),
            json!({"worker_id": "w", "epoch": claimed.epoch, "events": events}),
        )
        .await;
    let stored = json_of(res, StatusCode::OK).await;
    let last = stored["last_seq"].as_i64().unwrap();
    let first_text = last - texts.len() as i64 + 1;
    let res = app
        .internal(
            &format!("/runs/{run}/complete"),
            json!({"worker_id": "w", "epoch": claimed.epoch}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    (session, run, (first_text..=last).collect())
}

async fn search(app: &TestApp, token: &str, params: &[(&str, &str)]) -> reqwest::Response {
    let url = reqwest::Url::parse_with_params(&app.url("/api/v1/search"), params).unwrap();
    app.client.get(url).bearer_auth(token).send().await.unwrap()
}

async fn hits(app: &TestApp, token: &str, q: &str) -> Vec<Value> {
    let page = json_of(search(app, token, &[("q", q)]).await, StatusCode::OK).await;
    page["hits"].as_array().unwrap().clone()
}

fn id(v: &Value) -> Uuid {
    v.as_str().unwrap().parse().unwrap()
}

/// The snippet with each highlight in brackets (offsets are UTF-16 units).
fn marked(hit: &Value) -> String {
    let units: Vec<u16> = hit["snippet"].as_str().unwrap().encode_utf16().collect();
    let mut out = String::new();
    let mut at = 0;
    for h in hit["highlights"].as_array().unwrap() {
        let (s, e) = (
            h[0].as_u64().unwrap() as usize,
            h[1].as_u64().unwrap() as usize,
        );
        out.push_str(&String::from_utf16_lossy(&units[at..s]));
        out.push('[');
        out.push_str(&String::from_utf16_lossy(&units[s..e]));
        out.push(']');
        at = e;
    }
    out.push_str(&String::from_utf16_lossy(&units[at..]));
    out
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn titles_and_phrases_rank_above_scattered_mentions(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let token = app.register("a@example.com").await;
    let (scattered, _, _) = run_saying(
        &app,
        &token,
        "Look at the settings",
        None,
        &[
            "The retry count is configured in the settings file, which lives next to the main \
           module; there are many other options in there that we did not touch at all, and \
           somewhere far below them the backoff is exponential.",
        ],
    )
    .await;
    let (phrase, _, _) = run_saying(
        &app,
        &token,
        "Improve the client",
        None,
        &["I added a retry backoff to the HTTP client so it stops hammering the server."],
    )
    .await;
    let (titled, _) = app.task(&token, "Make uploads resilient", None).await;
    let res = app
        .send(
            &token,
            reqwest::Method::PATCH,
            &format!("/api/v1/sessions/{titled}"),
            Some(json!({"title": "Retry backoff for uploads"})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);

    let found = hits(&app, &token, "retry backoff").await;
    let order: Vec<(Uuid, &str)> = found
        .iter()
        .map(|h| (id(&h["session_id"]), h["kind"].as_str().unwrap()))
        .collect();
    assert_eq!(
        order,
        vec![
            (titled, "title"),
            (phrase, "assistant"),
            (scattered, "assistant")
        ],
        "{found:#?}"
    );
    let scores: Vec<f64> = found.iter().map(|h| h["score"].as_f64().unwrap()).collect();
    assert!(scores.windows(2).all(|w| w[0] > w[1]), "{scores:?}");
    assert_eq!(found[0]["session_title"], "Retry backoff for uploads");
    assert_eq!(marked(&found[0]), "[Retry] [backoff] for uploads");
    assert_eq!(
        marked(&found[1]),
        "I added a [retry] [backoff] to the HTTP client so it stops hammering the server."
    );

    // One word: the title that says it first, then the text that mentions it among many.
    let found = hits(&app, &token, "backoff").await;
    assert_eq!(found[0]["kind"], "title");
    assert_eq!(found.len(), 3);
    // A quoted phrase finds only the words side by side (and the title).
    let found = hits(&app, &token, "\"retry backoff\"").await;
    let sessions: Vec<Uuid> = found.iter().map(|h| id(&h["session_id"])).collect();
    assert_eq!(sessions, vec![titled, phrase]);
    // An excluded word removes what holds it.
    let found = hits(&app, &token, "retry -uploads").await;
    assert!(
        found.iter().all(|h| id(&h["session_id"]) != titled),
        "{found:#?}"
    );
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn another_users_identical_text_never_matches(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let ada = app.register("ada@example.com").await;
    let bob = app.register("bob@example.com").await;
    let text = "The zebra migration plan is ready";
    let (ada_session, _, _) = run_saying(&app, &ada, text, None, &[text]).await;
    let (bob_session, _, _) = run_saying(&app, &bob, text, None, &[text]).await;
    for (token, own, other) in [
        (&ada, ada_session, bob_session),
        (&bob, bob_session, ada_session),
    ] {
        for q in ["zebra migration", "zebr", "\"migration plan\""] {
            let found = hits(&app, token, q).await;
            // The title, the prompt and the assistant's text: all the caller's.
            assert_eq!(found.len(), 3, "{q}: {found:#?}");
            assert!(found.iter().all(|h| id(&h["session_id"]) == own), "{q}");
            assert!(found.iter().all(|h| id(&h["session_id"]) != other), "{q}");
        }
    }
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn the_project_filter_keeps_one_projects_sessions(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let token = app.register("a@example.com").await;
    let other = app.register("b@example.com").await;
    let project = json_of(
        app.post(&token, "/api/v1/projects", json!({"name": "site"}))
            .await,
        StatusCode::CREATED,
    )
    .await;
    let project_id = project["id"].as_str().unwrap().to_owned();
    let res = app
        .post(
            &token,
            "/api/v1/tasks",
            json!({"prompt": "quokka census", "project_id": project_id}),
        )
        .await;
    let in_project = id(&json_of(res, StatusCode::CREATED).await["session_id"]);
    let (outside, _) = app.task(&token, "quokka census", None).await;

    let all = hits(&app, &token, "quokka").await;
    let mut sessions: Vec<Uuid> = all.iter().map(|h| id(&h["session_id"])).collect();
    sessions.sort();
    sessions.dedup();
    assert_eq!(sessions.len(), 2);
    assert!(sessions.contains(&outside));

    let page = json_of(
        search(
            &app,
            &token,
            &[("q", "quokka"), ("project_id", &project_id)],
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let found = page["hits"].as_array().unwrap();
    assert_eq!(found.len(), 2, "the title and the prompt: {found:#?}");
    for h in found {
        assert_eq!(id(&h["session_id"]), in_project);
        assert_eq!(h["project_id"].as_str(), Some(project_id.as_str()));
    }
    // Another user's project is not there, like a missing one.
    let res = search(
        &app,
        &other,
        &[("q", "quokka"), ("project_id", &project_id)],
    )
    .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(res).await, "not_found");
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn a_hit_names_the_assistant_event_to_open(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let token = app.register("a@example.com").await;
    let (session, first_run, _) =
        run_saying(&app, &token, "first", None, &["nothing to see"]).await;
    let (_, run, seqs) = run_saying(
        &app,
        &token,
        "second",
        Some(session),
        &[
            "still nothing",
            "The flamingo report is in docs/flamingo.md",
        ],
    )
    .await;
    assert_ne!(first_run, run);
    let found = hits(&app, &token, "flamingo report").await;
    assert_eq!(found.len(), 1, "{found:#?}");
    let hit = &found[0];
    assert_eq!(hit["kind"], "assistant");
    assert_eq!(id(&hit["run_id"]), run);
    let seq = hit["seq"].as_i64().unwrap();
    assert_eq!(seq, seqs[1]);
    // The event at that seq is the assistant's text.
    let page = json_of(
        app.get(
            &token,
            &format!(
                "/api/v1/sessions/{session}/events?after={}&limit=1",
                seq - 1
            ),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let event = &page["events"][0];
    assert_eq!(event["seq"], seq);
    assert_eq!(event["type"], "assistant_text");
    assert_eq!(
        event["payload"]["text"],
        "The flamingo report is in docs/flamingo.md"
    );
    // A prompt hit names its run and no event.
    let found = hits(&app, &token, "second").await;
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["kind"], "prompt");
    assert_eq!(id(&found[0]["run_id"]), run);
    assert_eq!(found[0]["seq"], Value::Null);
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn partial_words_chinese_and_file_paths_are_found(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let token = app.register("a@example.com").await;
    let (session, _, _) = run_saying(
        &app,
        &token,
        "cluster work",
        None,
        &[
            "We upgraded the Kubernetes cluster yesterday.",
            "我们需要修复数据库连接问题，然后重新部署服务。",
        ],
    )
    .await;
    let found = hits(&app, &token, "kuber").await;
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(
        marked(&found[0]),
        "We upgraded the [Kuber]netes cluster yesterday."
    );
    for q in ["数据库", "数据", "连接问题", "修复 部署"] {
        let found = hits(&app, &token, q).await;
        assert_eq!(found.len(), 1, "{q}: {found:#?}");
        assert_eq!(id(&found[0]["session_id"]), session);
        assert!(marked(&found[0]).contains('['), "{q}");
    }
    assert_eq!(
        marked(&hits(&app, &token, "数据库").await[0]),
        "我们需要修复[数据库]连接问题，然后重新部署服务。"
    );
    assert!(hits(&app, &token, "数据仓库").await.is_empty());

    // The paths of a run's changed files.
    let (_, run) = app.task(&token, "edit files", Some(session)).await;
    let claimed = app.claim("w", 0).await.unwrap();
    let res = app
        .internal(
            &format!("/runs/{run}/events"),
            json!({"worker_id": "w", "epoch": claimed.epoch, "events": [
                {"run_seq": 1, "time": "2026-01-01T00:00:00Z", "type": "file_changes", "payload": {"changes": [
                    {"path": "crates/backend/src/search.rs", "change": "added"},
                    {"path": "docs/new_name.md", "change": "renamed", "old_path": "docs/old_name.md"}
                ]}}
            ]}),
        )
        .await;
    let last = json_of(res, StatusCode::OK).await["last_seq"]
        .as_i64()
        .unwrap();
    for q in ["backend/src/search", "old_name"] {
        let found = hits(&app, &token, q).await;
        assert_eq!(found.len(), 1, "{q}: {found:#?}");
        assert_eq!(found[0]["kind"], "file");
        assert_eq!(found[0]["seq"], last);
        assert_eq!(id(&found[0]["run_id"]), run);
    }
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn pages_follow_the_cursor_without_repeats(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let token = app.register("a@example.com").await;
    // Whole-word matches first, then the substring-only ones ("walruses"): pages cross tiers.
    for i in 0..7 {
        app.task(&token, &format!("walrus task {i}"), None).await;
    }
    for i in 0..3 {
        app.task(&token, &format!("walruses elsewhere {i}"), None)
            .await;
    }
    let all_page = json_of(
        search(&app, &token, &[("q", "walrus"), ("limit", "50")]).await,
        StatusCode::OK,
    )
    .await;
    let all: Vec<(String, String)> = all_page["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| (h["session_id"].to_string(), h["kind"].to_string()))
        .collect();
    assert_eq!(all.len(), 20, "a title and a prompt per session");
    let scores: Vec<f64> = all_page["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["score"].as_f64().unwrap())
        .collect();
    assert!(scores[..14].iter().all(|s| *s >= 1.0), "{scores:?}");
    assert!(scores[14..].iter().all(|s| *s < 1.0), "{scores:?}");
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");

    let mut paged = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut params = vec![("q", "walrus".to_owned()), ("limit", "3".to_owned())];
        if let Some(c) = &cursor {
            params.push(("cursor", c.clone()));
        }
        let params: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let page = json_of(search(&app, &token, &params).await, StatusCode::OK).await;
        pages += 1;
        let found = page["hits"].as_array().unwrap();
        assert!(found.len() <= 3);
        paged.extend(
            found
                .iter()
                .map(|h| (h["session_id"].to_string(), h["kind"].to_string())),
        );
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
        assert!(pages < 10, "paging does not end");
    }
    assert_eq!(pages, 7);
    assert_eq!(paged, all, "the pages, in order, are the whole list");
}

/// Query parameters, and the status and code they must get.
type Case<'a> = (Vec<(&'a str, &'a str)>, StatusCode, &'a str);

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn bad_search_input_answers_4xx_json(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let token = app.register("a@example.com").await;
    app.task(&token, "something", None).await;
    let long = "x".repeat(201);
    let missing = Uuid::new_v4().to_string();
    let cases: Vec<Case> = vec![
        (vec![], StatusCode::UNPROCESSABLE_ENTITY, "validation_error"),
        (
            vec![("q", "   ")],
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_error",
        ),
        (
            vec![("q", "-alone")],
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_error",
        ),
        (
            vec![("q", "a\0b")],
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_error",
        ),
        (
            vec![("q", &long)],
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_error",
        ),
        (
            vec![("q", "x"), ("limit", "0")],
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_error",
        ),
        (
            vec![("q", "x"), ("limit", "51")],
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_error",
        ),
        (
            vec![("q", "x"), ("limit", "many")],
            StatusCode::BAD_REQUEST,
            "invalid_query",
        ),
        (
            vec![("q", "x"), ("cursor", "nope")],
            StatusCode::BAD_REQUEST,
            "invalid_cursor",
        ),
        (
            vec![("q", "x"), ("cursor", "7ff0000000000000.1")],
            StatusCode::BAD_REQUEST,
            "invalid_cursor",
        ),
        (
            vec![("q", "x"), ("project_id", "not-a-uuid")],
            StatusCode::BAD_REQUEST,
            "invalid_query",
        ),
        (
            vec![("q", "x"), ("project_id", &missing)],
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            vec![("q", "x"), ("colour", "red")],
            StatusCode::BAD_REQUEST,
            "invalid_query",
        ),
    ];
    for (params, status, code) in cases {
        let res = search(&app, &token, &params).await;
        assert_eq!(res.status(), status, "{params:?}");
        assert_eq!(error_code(res).await, code, "{params:?}");
    }
    // Odd but valid input is searched, not an error.
    for q in [
        "100%",
        "a_b",
        "back\\slash",
        "\"unclosed",
        "(x) & !y | z:*",
        "' OR 1=1 --",
    ] {
        let res = search(&app, &token, &[("q", q)]).await;
        assert_eq!(res.status(), StatusCode::OK, "{q}");
    }
    let res = app
        .client
        .get(app.url("/api/v1/search?q=x"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(res).await, "unauthorized");
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn deleting_a_session_deletes_its_documents(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let token = app.register("a@example.com").await;
    let (session, _, _) = run_saying(
        &app,
        &token,
        "heron survey",
        None,
        &["The heron survey is done"],
    )
    .await;
    assert_eq!(hits(&app, &token, "heron").await.len(), 3);
    let res = app
        .send(
            &token,
            reqwest::Method::DELETE,
            &format!("/api/v1/sessions/{session}"),
            None,
        )
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let left: i64 =
        sqlx::query_scalar("SELECT count(*) FROM search_documents WHERE session_id = $1")
            .bind(session)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(left, 0);
    assert!(hits(&app, &token, "heron").await.is_empty());
}

// The session list: pins, the status filter, running_since.

async fn list(app: &TestApp, token: &str, query: &str) -> Vec<Uuid> {
    let page = json_of(
        app.get(token, &format!("/api/v1/sessions{query}")).await,
        StatusCode::OK,
    )
    .await;
    page["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| id(&s["id"]))
        .collect()
}

async fn patch(app: &TestApp, token: &str, session: Uuid, body: Value) -> reqwest::Response {
    app.send(
        token,
        reqwest::Method::PATCH,
        &format!("/api/v1/sessions/{session}"),
        Some(body),
    )
    .await
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn sessions_are_pinned_unpinned_and_listed_by_pin(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let token = app.register("a@example.com").await;
    let other = app.register("b@example.com").await;
    let mut sessions = Vec::new();
    for i in 0..4 {
        sessions.push(app.task(&token, &format!("task {i}"), None).await.0);
    }
    let newest_first: Vec<Uuid> = sessions.iter().rev().copied().collect();

    let view = json_of(
        patch(&app, &token, sessions[1], json!({"pinned": true})).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(view["pinned"], true);
    assert_eq!(view["title"], "task 1", "a pin keeps the title");
    let view = json_of(
        patch(
            &app,
            &token,
            sessions[2],
            json!({"pinned": true, "title": "Renamed"}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        (view["pinned"].clone(), view["title"].clone()),
        (json!(true), json!("Renamed"))
    );

    assert_eq!(
        list(&app, &token, "?pinned=true").await,
        vec![sessions[2], sessions[1]]
    );
    assert_eq!(
        list(&app, &token, "?pinned=false").await,
        vec![sessions[3], sessions[0]]
    );
    assert_eq!(list(&app, &token, "").await, newest_first);
    // Paging keeps its order under the filter.
    let page = json_of(
        app.get(&token, "/api/v1/sessions?pinned=true&limit=1")
            .await,
        StatusCode::OK,
    )
    .await;
    let cursor = page["next_cursor"].as_str().unwrap().to_owned();
    assert_eq!(
        list(
            &app,
            &token,
            &format!("?pinned=true&limit=1&cursor={cursor}")
        )
        .await,
        vec![sessions[1]]
    );
    let detail = json_of(
        app.get(&token, &format!("/api/v1/sessions/{}", sessions[1]))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(detail["pinned"], true);

    let view = json_of(
        patch(&app, &token, sessions[1], json!({"pinned": false})).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(view["pinned"], false);
    assert_eq!(list(&app, &token, "?pinned=true").await, vec![sessions[2]]);

    // Nothing to change, a bad title, someone else's session.
    let res = patch(&app, &token, sessions[0], json!({})).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_code(res).await, "validation_error");
    let res = patch(
        &app,
        &token,
        sessions[0],
        json!({"title": "  ", "pinned": true}),
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let res = patch(&app, &token, sessions[0], json!({"pinned": "yes"})).await;
    assert!(res.status().is_client_error());
    error_code(res).await;
    let res = patch(&app, &other, sessions[0], json!({"pinned": true})).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(list(&app, &other, "?pinned=true").await, Vec::<Uuid>::new());
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn the_list_filters_by_status_and_shows_running_since(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let token = app.register("a@example.com").await;
    let (done, _, _) = run_saying(&app, &token, "done", None, &["ok"]).await;
    let (running, run) = app.task(&token, "running", None).await;
    let claimed = app.claim("w", 0).await.unwrap();
    assert_eq!(claimed.run_id, run);
    let (queued, _) = app.task(&token, "queued", None).await;

    let view = json_of(
        app.get(&token, &format!("/api/v1/sessions/{running}"))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(view["status"], "running");
    assert_eq!(view["running_since"], Value::Null, "claimed, not started");
    let lease = json!({"worker_id": "w", "epoch": claimed.epoch});
    let res = app
        .internal(&format!("/runs/{run}/start"), lease.clone())
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let started: chrono::DateTime<chrono::Utc> =
        sqlx::query_scalar("SELECT started_at FROM runs WHERE id = $1")
            .bind(run)
            .fetch_one(&app.pool)
            .await
            .unwrap();

    assert_eq!(list(&app, &token, "?status=running").await, vec![running]);
    assert_eq!(list(&app, &token, "?status=completed").await, vec![done]);
    assert_eq!(list(&app, &token, "?status=queued").await, vec![queued]);
    assert_eq!(
        list(&app, &token, "?status=failed").await,
        Vec::<Uuid>::new()
    );
    let page = json_of(
        app.get(&token, "/api/v1/sessions?status=running").await,
        StatusCode::OK,
    )
    .await;
    let since: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(page["sessions"][0]["running_since"].clone()).unwrap();
    assert_eq!(since, started);
    let others = json_of(
        app.get(&token, "/api/v1/sessions?status=completed").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(others["sessions"][0]["running_since"], Value::Null);

    let res = app.get(&token, "/api/v1/sessions?status=sleeping").await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(res).await, "invalid_query");

    // Finished: no longer running, no elapsed time.
    let res = app.internal(&format!("/runs/{run}/complete"), lease).await;
    assert_eq!(res.status(), StatusCode::OK);
    let view = json_of(
        app.get(&token, &format!("/api/v1/sessions/{running}"))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(view["running_since"], Value::Null);
    assert_eq!(
        list(&app, &token, "?status=running").await,
        Vec::<Uuid>::new()
    );
}
