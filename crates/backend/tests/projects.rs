//! Projects against a real PostgreSQL and a real SigV4-checking S3 server (s3s-fs): CRUD with
//! its checks, another user's project answering 404 everywhere, defaults filling what a task
//! leaves out (model, permission mode, preset-free instructions, repository with its token
//! secret), project files staged into every run of the project's sessions (a task's own
//! attachment of the same name wins), the sessions filter, and deleting (409
//! `project_not_empty` unless `?cascade=true`, which takes the sessions and the files' objects).

mod common;

use common::s3::S3Server;
use common::{TestApp, error_code, json_of};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

fn id_of(v: &Value) -> Uuid {
    v["id"].as_str().unwrap().parse().unwrap()
}

async fn create(app: &TestApp, token: &str, body: Value) -> Value {
    json_of(
        app.send(token, Method::POST, "/api/v1/projects", Some(body))
            .await,
        StatusCode::CREATED,
    )
    .await
}

async fn task(app: &TestApp, token: &str, body: Value) -> (Uuid, Uuid) {
    let v = json_of(
        app.post(token, "/api/v1/tasks", body).await,
        StatusCode::CREATED,
    )
    .await;
    (
        v["session_id"].as_str().unwrap().parse().unwrap(),
        v["run_id"].as_str().unwrap().parse().unwrap(),
    )
}

/// Claims the one queued run and checks it is `run`.
async fn claim(app: &TestApp, run: Uuid) -> protocol::internal::ClaimedRun {
    let claimed = app.claim("w", 0).await.expect("a claimable run");
    assert_eq!(claimed.run_id, run);
    claimed
}

async fn complete(app: &TestApp, claimed: &protocol::internal::ClaimedRun) {
    let res = app
        .internal(
            &format!("/runs/{}/complete", claimed.run_id),
            json!({"worker_id": "w", "epoch": claimed.epoch}),
        )
        .await;
    assert!(res.status().is_success(), "{}", res.status());
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn crud_checks_and_another_users_project_is_404(pool: PgPool) {
    let s3 = S3Server::start().await;
    let app = TestApp::spawn_with_s3(pool, &s3, &[]).await;
    let a = app.register("a@example.com").await;
    let b = app.register("b@example.com").await;

    let site = create(
        &app,
        &a,
        json!({"name": "  Website  ", "description": "The public site",
               "defaults": {"model": "claude-opus-4-5", "permission_mode": "acceptEdits"},
               "instructions": "Use pnpm."}),
    )
    .await;
    assert_eq!(site["name"], "Website");
    assert_eq!(site["defaults"]["model"], "claude-opus-4-5");
    assert_eq!(site["defaults"]["permission_mode"], "acceptEdits");
    assert_eq!(site["session_count"], 0);
    assert_eq!(site["files"], json!([]));
    let site_id = id_of(&site);
    create(&app, &a, json!({"name": "api"})).await;

    // Names are unique per user without regard to case; another user may use the same.
    let res = app
        .send(
            &a,
            Method::POST,
            "/api/v1/projects",
            Some(json!({"name": "WEBSITE"})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert_eq!(error_code(res).await, "name_taken");
    create(&app, &b, json!({"name": "Website"})).await;

    // Bad fields: 422 with the JSON error, nothing stored.
    for bad in [
        json!({"name": "   "}),
        json!({"name": "two\nlines"}),
        json!({"name": "x".repeat(101)}),
        json!({"name": "m", "defaults": {"model": "has spaces in it"}}),
        json!({"name": "m", "defaults": {"git": {"url": "file:///etc"}}}),
        json!({"name": "m", "defaults": {"git": {"url": "https://example.com/r.git", "token_secret": "lower-case"}}}),
        json!({"name": "m", "instructions": "x".repeat(64 * 1024 + 1)}),
    ] {
        let res = app
            .send(&a, Method::POST, "/api/v1/projects", Some(bad.clone()))
            .await;
        // A repository is refused like a task's (400 `invalid_git`), the rest as validation.
        let want = if bad["defaults"]["git"].is_object() {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::UNPROCESSABLE_ENTITY
        };
        assert_eq!(res.status(), want, "{bad}");
        error_code(res).await;
    }
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM projects")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(count, 3, "nothing stored by a refused request");
    // A preset that is not the user's: 404, like any other user's item.
    let res = app
        .send(
            &a,
            Method::POST,
            "/api/v1/projects",
            Some(json!({"name": "m", "defaults": {"preset_id": Uuid::new_v4()}})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    // Unknown fields and malformed JSON: 4xx JSON errors.
    let res = app
        .send(
            &a,
            Method::POST,
            "/api/v1/projects",
            Some(json!({"name": "m", "colour": 1})),
        )
        .await;
    assert!(res.status().is_client_error());
    error_code(res).await;

    // List: by name, only the caller's.
    let list = json_of(app.get(&a, "/api/v1/projects").await, StatusCode::OK).await;
    let names: Vec<&str> = list["projects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["api", "Website"]);

    // Edit: each given field replaces the stored one; a rename onto another name is refused.
    let edited = json_of(
        app.send(
            &a,
            Method::PATCH,
            &format!("/api/v1/projects/{site_id}"),
            Some(
                json!({"description": "Marketing site", "defaults": {"model": "claude-haiku-4-5"}}),
            ),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(edited["name"], "Website");
    assert_eq!(edited["description"], "Marketing site");
    assert_eq!(edited["defaults"]["model"], "claude-haiku-4-5");
    assert!(
        edited["defaults"]["permission_mode"].is_null(),
        "defaults are replaced whole"
    );
    assert_eq!(edited["instructions"], "Use pnpm.");
    let res = app
        .send(
            &a,
            Method::PATCH,
            &format!("/api/v1/projects/{site_id}"),
            Some(json!({"name": "API"})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);

    // Everything of another user's project, and a missing one, answers 404.
    let other = format!("/api/v1/projects/{site_id}");
    for (method, path, body) in [
        (Method::GET, other.clone(), None),
        (Method::PATCH, other.clone(), Some(json!({"name": "mine"}))),
        (Method::DELETE, other.clone(), None),
        (
            Method::DELETE,
            format!("{other}/files/{}", Uuid::new_v4()),
            None,
        ),
        (
            Method::GET,
            format!("/api/v1/sessions?project_id={site_id}"),
            None,
        ),
        (
            Method::GET,
            format!("/api/v1/projects/{}", Uuid::new_v4()),
            None,
        ),
    ] {
        let res = app.send(&b, method.clone(), &path, body).await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{method} {path}");
        assert_eq!(error_code(res).await, "not_found");
    }
    let res = app
        .upload(
            &b,
            Method::POST,
            &format!("{other}/files"),
            "x.txt",
            "text/plain",
            b"x",
        )
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let res = app
        .post(
            &b,
            "/api/v1/tasks",
            json!({"prompt": "hi", "project_id": site_id}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    // Nothing was queued by the refused task.
    let runs: i64 = sqlx::query_scalar("SELECT count(*) FROM runs")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(runs, 0);
    // And b's own list never shows a's.
    let list = json_of(app.get(&b, "/api/v1/projects").await, StatusCode::OK).await;
    assert_eq!(list["projects"].as_array().unwrap().len(), 1);
    assert_ne!(id_of(&list["projects"][0]), site_id);
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn defaults_instructions_and_files_reach_the_run(pool: PgPool) {
    let s3 = S3Server::start().await;
    let app = TestApp::spawn_with_s3(pool, &s3, &[]).await;
    let a = app.register("a@example.com").await;
    let user_a: Uuid = sqlx::query_scalar("SELECT id FROM users WHERE email = 'a@example.com'")
        .fetch_one(&app.pool)
        .await
        .unwrap();

    let project = create(
        &app,
        &a,
        json!({"name": "Website",
               "defaults": {"model": "claude-opus-4-5", "permission_mode": "acceptEdits"},
               "instructions": "Always run the linter.\n"}),
    )
    .await;
    let pid = id_of(&project);
    let files = format!("/api/v1/projects/{pid}/files");
    let style = json_of(
        app.upload(
            &a,
            Method::POST,
            &files,
            "style.md",
            "text/plain",
            b"tabs, not spaces",
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(style["name"], "style.md");
    let brief = json_of(
        app.upload(
            &a,
            Method::POST,
            &files,
            "brief.txt",
            "text/plain",
            b"the project's brief",
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let style_key: String =
        sqlx::query_scalar("SELECT object_key FROM project_files WHERE id = $1")
            .bind(id_of(&style))
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(
        style_key,
        format!(
            "users/{user_a}/projects/{pid}/files/{}/style.md",
            id_of(&style)
        )
    );
    assert_eq!(
        s3.get(&style_key).await.as_deref(),
        Some(&b"tabs, not spaces"[..])
    );
    let view = json_of(
        app.get(&a, &format!("/api/v1/projects/{pid}")).await,
        StatusCode::OK,
    )
    .await;
    let names: Vec<&str> = view["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["brief.txt", "style.md"]);

    // A task of the project that names nothing: the project's model, mode and instructions, and
    // its files staged.
    let (session, run) = task(&app, &a, json!({"prompt": "build it", "project_id": pid})).await;
    let claimed = claim(&app, run).await;
    assert_eq!(claimed.project_id, Some(pid));
    assert_eq!(claimed.model.as_deref(), Some("claude-opus-4-5"));
    assert_eq!(
        serde_json::to_value(claimed.permission_mode).unwrap(),
        json!("acceptEdits")
    );
    let instructions = claimed
        .capabilities
        .as_ref()
        .and_then(|c| c.instructions.clone())
        .expect("the project's instructions in the run's CLAUDE.md");
    assert!(
        instructions.contains("# Project: Website\n\nAlways run the linter."),
        "{instructions}"
    );
    let staged: Vec<(&str, &str)> = claimed
        .attachments
        .iter()
        .map(|f| (f.name.as_str(), f.key.as_str()))
        .collect();
    assert_eq!(staged.len(), 2, "{staged:?}");
    assert!(
        staged.contains(&("style.md", style_key.as_str())),
        "{staged:?}"
    );
    assert!(staged.iter().any(|(n, _)| *n == "brief.txt"));
    complete(&app, &claimed).await;

    // The session belongs to the project; the filter shows it and only it.
    let s = json_of(
        app.get(&a, &format!("/api/v1/sessions/{session}")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(s["project_id"], json!(pid));
    let (loose, loose_run) = task(&app, &a, json!({"prompt": "not in a project"})).await;
    let loose_claim = claim(&app, loose_run).await;
    assert_eq!(loose_claim.project_id, None);
    assert!(loose_claim.attachments.is_empty());
    assert!(
        loose_claim
            .capabilities
            .as_ref()
            .and_then(|c| c.instructions.as_deref())
            .is_none_or(|i| !i.contains("Project: Website"))
    );
    complete(&app, &loose_claim).await;
    let filtered = json_of(
        app.get(&a, &format!("/api/v1/sessions?project_id={pid}"))
            .await,
        StatusCode::OK,
    )
    .await;
    let ids: Vec<&str> = filtered["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [session.to_string()]);
    let all = json_of(app.get(&a, "/api/v1/sessions").await, StatusCode::OK).await;
    assert_eq!(all["sessions"].as_array().unwrap().len(), 2);
    assert!(loose != session);

    // The task's own fields win; an edit of the instructions reaches the next run; a task
    // attachment named like a project file replaces it in inputs/; a follow-up keeps its
    // session's project whatever it names.
    json_of(
        app.send(
            &a,
            Method::PATCH,
            &format!("/api/v1/projects/{pid}"),
            Some(json!({"instructions": "Now use bun."})),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let own = json_of(
        app.upload(
            &a,
            Method::POST,
            "/api/v1/attachments",
            "style.md",
            "text/plain",
            b"the task's own style",
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let other_project = create(&app, &a, json!({"name": "Other"})).await;
    let (_, follow) = task(
        &app,
        &a,
        json!({"prompt": "again", "session_id": session, "model": "claude-haiku-4-5",
               "permission_mode": "plan", "attachments": [id_of(&own)],
               "project_id": id_of(&other_project)}),
    )
    .await;
    let claimed = claim(&app, follow).await;
    assert_eq!(claimed.project_id, Some(pid));
    assert_eq!(claimed.model.as_deref(), Some("claude-haiku-4-5"));
    assert_eq!(
        serde_json::to_value(claimed.permission_mode).unwrap(),
        json!("plan")
    );
    let instructions = claimed
        .capabilities
        .as_ref()
        .unwrap()
        .instructions
        .clone()
        .unwrap();
    assert!(instructions.contains("Now use bun."), "{instructions}");
    assert!(!instructions.contains("linter"), "{instructions}");
    let style_staged: Vec<&str> = claimed
        .attachments
        .iter()
        .filter(|f| f.name == "style.md")
        .map(|f| f.key.as_str())
        .collect();
    assert_eq!(style_staged.len(), 1, "one inputs/style.md");
    assert!(
        style_staged[0].contains("/attachments/"),
        "{style_staged:?}"
    );
    assert!(claimed.attachments.iter().any(|f| f.name == "brief.txt"));

    // While that run is on a worker, a project file cannot be replaced or deleted (409); after
    // it ends, both work, and a deleted file's object is gone.
    let res = app
        .upload(
            &a,
            Method::POST,
            &files,
            "brief.txt",
            "text/plain",
            b"a new brief",
        )
        .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert_eq!(error_code(res).await, "attachment_in_use");
    let res = app
        .send(
            &a,
            Method::DELETE,
            &format!("{files}/{}", id_of(&brief)),
            None,
        )
        .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    complete(&app, &claimed).await;
    let res = app
        .send(
            &a,
            Method::DELETE,
            &format!("{files}/{}", id_of(&style)),
            None,
        )
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(s3.get(&style_key).await, None);
    let view = json_of(
        app.get(&a, &format!("/api/v1/projects/{pid}")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(view["files"].as_array().unwrap().len(), 1);
    assert_eq!(view["session_count"], 1);
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn a_projects_repository_and_its_token_secret_apply_to_new_sessions(pool: PgPool) {
    let s3 = S3Server::start().await;
    let app = TestApp::spawn_with_s3(pool, &s3, &[]).await;
    let a = app.register("a@example.com").await;
    let project = create(
        &app,
        &a,
        json!({"name": "Private",
               "defaults": {"git": {"url": "https://git.example.com/team/app.git",
                                    "branch": "main", "token_secret": "TEAM_TOKEN"}}}),
    )
    .await;
    let pid = id_of(&project);

    // The project's repository needs a secret the user does not have: refused at submit.
    let res = app
        .post(
            &a,
            "/api/v1/tasks",
            json!({"prompt": "clone", "project_id": pid}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unknown_secret");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("TEAM_TOKEN"),
        "{body}"
    );

    json_of(
        app.send(
            &a,
            Method::PUT,
            "/api/v1/secrets/TEAM_TOKEN",
            Some(json!({"value": "team-token-value-123456"})),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let (_, run) = task(&app, &a, json!({"prompt": "clone", "project_id": pid})).await;
    let claimed = claim(&app, run).await;
    let git = claimed.git.as_ref().expect("the project's repository");
    assert_eq!(git.url, "https://git.example.com/team/app.git");
    assert_eq!(git.branch.as_deref(), Some("main"));
    assert_eq!(git.token_secret.as_deref(), Some("TEAM_TOKEN"));
    assert_eq!(
        claimed
            .secrets
            .get("TEAM_TOKEN")
            .map(|v| v.expose().to_owned()),
        Some("team-token-value-123456".to_owned())
    );
    complete(&app, &claimed).await;

    // A task naming its own repository wins over the project's.
    let (_, run) = task(
        &app,
        &a,
        json!({"prompt": "clone", "project_id": pid,
               "git": {"url": "https://git.example.com/other.git"}}),
    )
    .await;
    let claimed = claim(&app, run).await;
    assert_eq!(
        claimed.git.as_ref().map(|g| g.url.as_str()),
        Some("https://git.example.com/other.git")
    );
    assert!(claimed.secrets.is_empty());
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn deleting_a_project_asks_unless_cascade_and_takes_everything(pool: PgPool) {
    let s3 = S3Server::start().await;
    let app = TestApp::spawn_with_s3(pool, &s3, &[]).await;
    let a = app.register("a@example.com").await;
    let project = create(&app, &a, json!({"name": "Doomed"})).await;
    let pid = id_of(&project);
    let path = format!("/api/v1/projects/{pid}");
    let file = json_of(
        app.upload(
            &a,
            Method::POST,
            &format!("{path}/files"),
            "notes.txt",
            "text/plain",
            b"notes",
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let key: String = sqlx::query_scalar("SELECT object_key FROM project_files WHERE id = $1")
        .bind(id_of(&file))
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let (session, run) = task(&app, &a, json!({"prompt": "work", "project_id": pid})).await;
    let (outside, _) = task(&app, &a, json!({"prompt": "elsewhere"})).await;

    // With a session: 409, nothing deleted.
    let res = app.send(&a, Method::DELETE, &path, None).await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert_eq!(error_code(res).await, "project_not_empty");
    // Cascading while a run of it is on a worker: 409 session_active, nothing deleted.
    let claimed = claim(&app, run).await;
    let res = app
        .send(&a, Method::DELETE, &format!("{path}?cascade=true"), None)
        .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert_eq!(error_code(res).await, "session_active");
    json_of(app.get(&a, &path).await, StatusCode::OK).await;
    complete(&app, &claimed).await;
    // A malformed query: 400 JSON.
    let res = app
        .send(&a, Method::DELETE, &format!("{path}?cascade=maybe"), None)
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    error_code(res).await;

    let res = app
        .send(&a, Method::DELETE, &format!("{path}?cascade=true"), None)
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.get(&a, &path).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        app.get(&a, &format!("/api/v1/sessions/{session}"))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get(&a, &format!("/api/v1/sessions/{outside}"))
            .await
            .status(),
        StatusCode::OK,
        "a session outside the project stays"
    );
    assert_eq!(s3.get(&key).await, None, "the project's files are gone");
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM project_files")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(rows, 0);

    // An empty project goes without asking.
    let empty = create(&app, &a, json!({"name": "Empty"})).await;
    let res = app
        .send(
            &a,
            Method::DELETE,
            &format!("/api/v1/projects/{}", id_of(&empty)),
            None,
        )
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
}
