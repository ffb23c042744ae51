//! The capabilities library and the snapshot a run is queued with, against a real PostgreSQL
//! and a real SigV4-checking S3 server (s3s-fs): skill uploads (zip, tar.gz) and the hostile
//! ones that must leave nothing behind, owner checks, MCP validation, presets, system items,
//! and what the claim hands a manager (versions kept across edits, the preset's template, the
//! session's snapshot for follow-ups, the digest, the retention of replaced versions).

mod common;

use std::io::Write;

use common::s3::S3Server;
use common::{TestApp, error_code, json_of};
use protocol::capabilities::CapabilitySnapshot;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

fn skill_md(name: &str, description: &str) -> Vec<u8> {
    format!("---\nname: {name}\ndescription: {description}\n---\n# {name}\nUse it well.\n")
        .into_bytes()
}

/// A zip of a folder named `folder` holding `files`.
fn zip_of(folder: &str, files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let o = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (path, body) in files {
        w.start_file(format!("{folder}/{path}"), o).unwrap();
        w.write_all(body).unwrap();
    }
    w.finish().unwrap().into_inner()
}

fn tar_gz_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (path, body) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(body.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        h.as_old_mut().name[..path.len()].copy_from_slice(path.as_bytes());
        h.set_cksum();
        b.append(&h, *body).unwrap();
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&b.into_inner().unwrap()).unwrap();
    gz.finish().unwrap()
}

fn skill_zip(name: &str, extra: &[(&str, &[u8])]) -> Vec<u8> {
    let md = skill_md(name, &format!("The {name} skill"));
    let mut files: Vec<(&str, &[u8])> = vec![("SKILL.md", &md)];
    files.extend_from_slice(extra);
    zip_of(name, &files)
}

/// A skill archive uploaded as `skill.zip`.
async fn upload(
    app: &TestApp,
    token: &str,
    method: Method,
    path: &str,
    archive: &[u8],
) -> reqwest::Response {
    app.upload(
        token,
        method,
        path,
        "skill.zip",
        "application/octet-stream",
        archive,
    )
    .await
}

async fn new_skill(app: &TestApp, token: &str, archive: &[u8]) -> Value {
    json_of(
        upload(app, token, Method::POST, "/api/v1/skills", archive).await,
        StatusCode::CREATED,
    )
    .await
}

async fn create(app: &TestApp, token: &str, path: &str, body: Value) -> Value {
    json_of(app.post(token, path, body).await, StatusCode::CREATED).await
}

fn id(v: &Value) -> Uuid {
    v["id"].as_str().unwrap().parse().unwrap()
}

async fn count(app: &TestApp, table: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
        .fetch_one(&app.pool)
        .await
        .unwrap()
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

async fn stored_snapshot(app: &TestApp, run: Uuid) -> CapabilitySnapshot {
    let v: sqlx::types::Json<CapabilitySnapshot> =
        sqlx::query_scalar("SELECT capabilities FROM runs WHERE id = $1")
            .bind(run)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    v.0
}

async fn complete(app: &TestApp, run: &protocol::internal::ClaimedRun) {
    let res = app
        .internal(
            &format!("/runs/{}/complete", run.run_id),
            json!({"worker_id": "w", "epoch": run.epoch}),
        )
        .await;
    assert!(res.status().is_success(), "{}", res.status());
}

fn retention_policy() -> backend::retention::Policy {
    backend::retention::Policy {
        events_days: 0,
        sessions_days: 0,
        interval: std::time::Duration::from_secs(3600),
        batch: 100,
    }
}

async fn sweep(app: &TestApp, s3: &S3Server) -> u64 {
    let stop = tokio_util::sync::CancellationToken::new();
    backend::retention::run_once(&app.pool, retention_policy(), Some(&s3.bucket()), &stop)
        .await
        .unwrap()
        .skill_versions
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn skills_upload_as_zip_or_tar_gz_and_land_in_the_bucket(pool: PgPool) {
    let s3 = S3Server::start().await;
    let app = TestApp::spawn_with_s3(pool, &s3, &[]).await;
    let token = app.register("ada@example.com").await;
    let user = app.user_id("ada@example.com").await;

    let zip = skill_zip("pdf-tools", &[("scripts/fill.py", b"print('fill')")]);
    let detail = new_skill(&app, &token, &zip).await;
    assert_eq!(detail["name"], "pdf-tools");
    assert_eq!(detail["description"], "The pdf-tools skill");
    assert_eq!(detail["file_count"], 2);
    assert_eq!(detail["system"], false);
    assert_eq!(detail["enabled"], true);
    let paths: Vec<&str> = detail["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["SKILL.md", "scripts/fill.py"]);
    let version = detail["version"].as_str().unwrap();
    assert_eq!(version.len(), 64);
    let skill = id(&detail);
    let prefix = format!("users/{user}/skills/{skill}/{version}/");
    // Stored by index in path order (the paths travel beside the keys).
    assert_eq!(
        s3.keys().await,
        [format!("{prefix}0"), format!("{prefix}1")]
    );
    assert_eq!(
        s3.get(&format!("{prefix}1")).await.unwrap(),
        b"print('fill')"
    );

    // The same folder as a tar.gz at its root, under another name: the same layout.
    let md = skill_md("notes", "Take notes");
    let tgz = tar_gz_of(&[("./SKILL.md", &md), ("./ref/a_b.txt", b"x")]);
    let notes = new_skill(&app, &token, &tgz).await;
    let paths: Vec<&str> = notes["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["SKILL.md", "ref/a_b.txt"]);

    // The list, the detail, the download (a zip that Python's zipfile reads, under a folder).
    let list = json_of(app.get(&token, "/api/v1/skills").await, StatusCode::OK).await;
    let names: Vec<&str> = list["skills"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["notes", "pdf-tools"]);
    let got = json_of(
        app.get(&token, &format!("/api/v1/skills/{skill}")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(got, detail);
    let res = app
        .get(&token, &format!("/api/v1/skills/{skill}/download"))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "application/zip");
    assert_eq!(
        res.headers()["content-disposition"],
        "attachment; filename=\"pdf-tools.zip\""
    );
    let zip_back = res.bytes().await.unwrap();
    assert_eq!(
        test_support::zip::names(&zip_back),
        ["pdf-tools/SKILL.md", "pdf-tools/scripts/fill.py"]
    );
    // Uploaded again it is the same version.
    let again = upload(
        &app,
        &token,
        Method::PUT,
        &format!("/api/v1/skills/{skill}"),
        &zip_back,
    )
    .await;
    let again = json_of(again, StatusCode::OK).await;
    assert_eq!(again["version"], detail["version"]);

    // Disable, name taken, delete (the row at once; the objects by the retention sweep).
    let off = json_of(
        app.send(
            &token,
            Method::PATCH,
            &format!("/api/v1/skills/{skill}"),
            Some(json!({"enabled": false})),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(off["enabled"], false);
    let dup = upload(&app, &token, Method::POST, "/api/v1/skills", &zip).await;
    assert_eq!(dup.status(), StatusCode::CONFLICT);
    assert_eq!(error_code(dup).await, "name_taken");
    let res = app
        .send(
            &token,
            Method::DELETE,
            &format!("/api/v1/skills/{skill}"),
            None,
        )
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        app.get(&token, &format!("/api/v1/skills/{skill}"))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(sweep(&app, &s3).await, 1);
    assert!(s3.keys().await.iter().all(|k| !k.starts_with(&prefix)));
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn hostile_or_broken_archives_are_refused_and_leave_nothing(pool: PgPool) {
    let s3 = S3Server::start().await;
    let app = TestApp::spawn_with_s3(pool, &s3, &[]).await;
    let token = app.register("ada@example.com").await;
    let md = skill_md("s", "d");

    let mut symlink_zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let o = zip::write::SimpleFileOptions::default();
    symlink_zip.start_file("s/SKILL.md", o).unwrap();
    symlink_zip.write_all(&md).unwrap();
    symlink_zip
        .add_symlink("s/secret", "/etc/passwd", o)
        .unwrap();
    let symlink_zip = symlink_zip.finish().unwrap().into_inner();

    let mut symlink_tar = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(md.len() as u64);
    h.set_path("SKILL.md").unwrap();
    h.set_cksum();
    symlink_tar.append(&h, &md[..]).unwrap();
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Symlink);
    h.set_size(0);
    h.set_path("secret").unwrap();
    h.set_link_name("/etc/passwd").unwrap();
    h.set_cksum();
    symlink_tar.append(&h, &b""[..]).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&symlink_tar.into_inner().unwrap()).unwrap();
    let symlink_tgz = gz.finish().unwrap();

    // Random bytes do not compress: an archive over the 10 MiB upload limit.
    let noise: Vec<u8> = (0..10 * 1024 * 1024 + 4096)
        .map(|_| rand::random::<u8>())
        .collect();
    let mut stored = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let so =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    stored.start_file("s/SKILL.md", so).unwrap();
    stored.write_all(&md).unwrap();
    stored.start_file("s/noise.bin", so).unwrap();
    stored.write_all(&noise).unwrap();
    let oversized = stored.finish().unwrap().into_inner();
    // Zeros do: a small archive that inflates past the 25 MiB of files a skill may hold.
    let zeros = vec![0u8; 26 * 1024 * 1024];
    let bomb = zip_of("s", &[("SKILL.md", &md), ("zeros.bin", &zeros)]);

    let cases: Vec<(&str, Vec<u8>, StatusCode, &str)> = vec![
        (
            "zip slip",
            zip_of("s", &[("SKILL.md", &md), ("../../escape.txt", b"x")]),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_archive",
        ),
        (
            "absolute path",
            tar_gz_of(&[("SKILL.md", &md), ("/etc/cron.d/x", b"x")]),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_archive",
        ),
        (
            "symlink in a zip",
            symlink_zip,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_archive",
        ),
        (
            "symlink in a tar.gz",
            symlink_tgz,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_archive",
        ),
        (
            "oversized archive",
            oversized,
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
        ),
        (
            "inflates too far",
            bomb,
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
        ),
        (
            "no SKILL.md",
            zip_of("s", &[("README.md", b"hi")]),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_archive",
        ),
        (
            "no front matter",
            zip_of("s", &[("SKILL.md", b"# just text\n")]),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_archive",
        ),
        (
            "front matter without description",
            zip_of("s", &[("SKILL.md", b"---\nname: s\n---\nx\n")]),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_archive",
        ),
        (
            "a name that is not plain",
            zip_of(
                "s",
                &[("SKILL.md", b"---\nname: ../s\ndescription: d\n---\n")],
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_archive",
        ),
        (
            "not an archive",
            b"hello".to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_archive",
        ),
    ];
    for (what, archive, status, code) in cases {
        let res = upload(&app, &token, Method::POST, "/api/v1/skills", &archive).await;
        assert_eq!(res.status(), status, "{what}");
        assert_eq!(error_code(res).await, code, "{what}");
        assert_eq!(count(&app, "skills").await, 0, "{what}: no row");
        assert!(s3.keys().await.is_empty(), "{what}: no object");
    }

    // The same checks guard a replacement: the skill keeps its version and objects.
    let good = new_skill(&app, &token, &skill_zip("s", &[])).await;
    let keys = s3.keys().await;
    let res = upload(
        &app,
        &token,
        Method::PUT,
        &format!("/api/v1/skills/{}", id(&good)),
        &zip_of("s", &[("SKILL.md", &md), ("../x", b"x")]),
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(s3.keys().await, keys);
    let same = json_of(
        app.get(&token, &format!("/api/v1/skills/{}", id(&good)))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(same["version"], good["version"]);

    // A request that is not a multipart upload at all.
    let res = app
        .post(&token, "/api/v1/skills", json!({"name": "s"}))
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(res).await, "bad_multipart");
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn another_users_items_are_not_found_anywhere(pool: PgPool) {
    let s3 = S3Server::start().await;
    let app = TestApp::spawn_with_s3(pool, &s3, &[]).await;
    let a = app.register("a@example.com").await;
    let b = app.register("b@example.com").await;

    let skill = id(&new_skill(&app, &a, &skill_zip("s", &[])).await);
    let mcp = id(&create(
        &app,
        &a,
        "/api/v1/mcp-servers",
        json!({"name": "m", "config": {"command": "x"}}),
    )
    .await);
    let cmd = id(&create(
        &app,
        &a,
        "/api/v1/slash-commands",
        json!({"name": "c", "body": "Do it"}),
    )
    .await);
    let agent = id(&create(
        &app,
        &a,
        "/api/v1/subagents",
        json!({"name": "g", "description": "d", "system_prompt": "p"}),
    )
    .await);
    let preset = id(&create(
        &app,
        &a,
        "/api/v1/presets",
        json!({"name": "P", "skill_ids": [skill]}),
    )
    .await);

    for (path, patch) in [
        (format!("/api/v1/skills/{skill}"), json!({"enabled": false})),
        (
            format!("/api/v1/mcp-servers/{mcp}"),
            json!({"enabled": false}),
        ),
        (
            format!("/api/v1/slash-commands/{cmd}"),
            json!({"enabled": false}),
        ),
        (
            format!("/api/v1/subagents/{agent}"),
            json!({"enabled": false}),
        ),
        (
            format!("/api/v1/presets/{preset}"),
            json!({"description": "x"}),
        ),
    ] {
        for (method, body) in [
            (Method::GET, None),
            (Method::PATCH, Some(patch.clone())),
            (Method::DELETE, None),
        ] {
            let res = app.send(&b, method.clone(), &path, body).await;
            assert_eq!(res.status(), StatusCode::NOT_FOUND, "{method} {path}");
            assert_eq!(error_code(res).await, "not_found");
        }
    }
    let res = app
        .get(&b, &format!("/api/v1/skills/{skill}/download"))
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let res = upload(
        &app,
        &b,
        Method::PUT,
        &format!("/api/v1/skills/{skill}"),
        &skill_zip("s", &[]),
    )
    .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    for list in [
        "skills",
        "mcp-servers",
        "slash-commands",
        "subagents",
        "presets",
    ] {
        let v = json_of(
            app.get(&b, &format!("/api/v1/{list}")).await,
            StatusCode::OK,
        )
        .await;
        let key = list.replace('-', "_");
        assert_eq!(v[&key], json!([]), "{list}");
    }

    // In b's preset, in b's task, in b's resolve: 404 naming the kind, nothing created.
    for (field, value, noun) in [
        ("skill_ids", skill, "skill"),
        ("mcp_server_ids", mcp, "MCP server"),
        ("slash_command_ids", cmd, "slash command"),
        ("subagent_ids", agent, "subagent"),
    ] {
        let res = app
            .post(
                &b,
                "/api/v1/presets",
                json!({"name": "mine", field: [value]}),
            )
            .await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "preset {field}");
        let body: Value = res.json().await.unwrap();
        assert!(
            body["error"]["message"].as_str().unwrap().contains(noun),
            "{body}"
        );
        let res = app
            .post(&b, "/api/v1/tasks", json!({"prompt": "go", field: [value]}))
            .await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "task {field}");
        let res = app
            .post(&b, "/api/v1/capabilities/resolve", json!({field: [value]}))
            .await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "resolve {field}");
    }
    let res = app
        .post(
            &b,
            "/api/v1/tasks",
            json!({"prompt": "go", "preset_id": preset}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(count(&app, "presets").await, 1);
    assert_eq!(count(&app, "runs").await, 0);
    assert_eq!(count(&app, "sessions").await, 0);

    // And a's own still work, with a's preset.
    let (_, run) = task(&app, &a, json!({"prompt": "go", "preset_id": preset})).await;
    let snap = stored_snapshot(&app, run).await;
    assert_eq!(snap.skills.len(), 1);
    assert_eq!(snap.skills[0].id, skill);
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn mcp_servers_take_only_what_the_cli_accepts(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let token = app.register("ada@example.com").await;
    for bad in [
        json!({"name": "m", "config": {"command": ""}}),
        json!({"name": "m", "config": {"command": "x", "cwd": "/tmp"}}),
        json!({"name": "m", "config": {"command": "x", "args": "--flag"}}),
        json!({"name": "m", "config": {"type": "http", "url": "file:///etc/passwd"}}),
        json!({"name": "m", "config": {"type": "websocket", "url": "wss://a"}}),
        json!({"name": "m", "config": ["x"]}),
        json!({"name": "../m", "config": {"command": "x"}}),
        json!({"name": "m"}),
    ] {
        let res = app.post(&token, "/api/v1/mcp-servers", bad.clone()).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        assert_eq!(error_code(res).await, "validation_error");
    }
    // `${NAME}` names a secret (checked at submit, tests/secrets.rs); any other `${` is refused.
    let res = app
        .post(&token, "/api/v1/mcp-servers", json!({"name": "gh", "config": {"command": "gh-mcp", "env": {"GITHUB_TOKEN": "${github_token}"}}}))
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = res.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("secret"),
        "{body}"
    );
    let res = app
        .post(
            &token,
            "/api/v1/mcp-servers",
            json!({"name": "m", "config": {"command": "x"}, "extra": 1}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(count(&app, "mcp_servers").await, 0);

    let stdio = create(&app, &token, "/api/v1/mcp-servers", json!({"name": "files", "config": {"type": "stdio", "command": "python3", "args": ["-m", "srv"], "env": {"MODE": "ro"}}})).await;
    assert_eq!(stdio["config"]["args"], json!(["-m", "srv"]));
    let http = create(&app, &token, "/api/v1/mcp-servers", json!({"name": "docs", "config": {"type": "http", "url": "https://mcp.example.com/mcp", "headers": {"X-Key": "k"}}})).await;
    let dup = app
        .post(
            &token,
            "/api/v1/mcp-servers",
            json!({"name": "docs", "config": {"command": "y"}}),
        )
        .await;
    assert_eq!(dup.status(), StatusCode::CONFLICT);
    assert_eq!(error_code(dup).await, "name_taken");
    // PATCH changes only what it names; a bad config changes nothing.
    let path = format!("/api/v1/mcp-servers/{}", id(&http));
    let off = json_of(
        app.send(
            &token,
            Method::PATCH,
            &path,
            Some(json!({"enabled": false})),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(off["enabled"], false);
    assert_eq!(off["config"], http["config"]);
    let res = app
        .send(
            &token,
            Method::PATCH,
            &path,
            Some(json!({"config": {"type": "sse", "url": "https://a/${X"}})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let res = app
        .send(&token, Method::PATCH, &path, Some(json!({"name": "files"})))
        .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    let got = json_of(app.get(&token, &path).await, StatusCode::OK).await;
    assert_eq!(got["name"], "docs");
    assert_eq!(got["config"], http["config"]);
    let list = json_of(app.get(&token, "/api/v1/mcp-servers").await, StatusCode::OK).await;
    assert_eq!(list["mcp_servers"].as_array().unwrap().len(), 2);
    assert_eq!(
        app.send(&token, Method::DELETE, &path, None).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(app.get(&token, &path).await.status(), StatusCode::NOT_FOUND);
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn a_queued_run_keeps_its_skill_version_until_retention_lets_it_go(pool: PgPool) {
    let s3 = S3Server::start().await;
    let app = TestApp::spawn_with_s3(pool, &s3, &[]).await;
    let token = app.register("ada@example.com").await;
    let user = app.user_id("ada@example.com").await;

    let v1 = new_skill(&app, &token, &skill_zip("s", &[("data.txt", b"one")])).await;
    let skill = id(&v1);
    let (session, run1) = task(&app, &token, json!({"prompt": "first"})).await;
    let v2 = json_of(
        upload(
            &app,
            &token,
            Method::PUT,
            &format!("/api/v1/skills/{skill}"),
            &skill_zip("s", &[("data.txt", b"two")]),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_ne!(v1["version"], v2["version"]);
    let old_prefix = format!(
        "users/{user}/skills/{skill}/{}/",
        v1["version"].as_str().unwrap()
    );
    let new_prefix = format!(
        "users/{user}/skills/{skill}/{}/",
        v2["version"].as_str().unwrap()
    );

    // Nothing goes while the run is queued.
    assert_eq!(sweep(&app, &s3).await, 0);

    let claimed = app.claim("w", 0).await.expect("claimable");
    assert_eq!(claimed.run_id, run1);
    let caps = claimed.capabilities.clone().expect("a snapshot");
    assert_eq!(caps.skills.len(), 1);
    let staged = &caps.skills[0];
    assert_eq!(staged.version, v1["version"].as_str().unwrap());
    assert_eq!(staged.owner, Some(user));
    let keys: Vec<&str> = staged.files.iter().map(|f| f.key.as_str()).collect();
    assert_eq!(keys, [format!("{old_prefix}0"), format!("{old_prefix}1")]);
    let paths: Vec<&str> = staged.files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(paths, ["SKILL.md", "data.txt"]);
    for f in &staged.files {
        assert!(objstore::keys::within(&old_prefix, &f.key));
    }
    assert_eq!(s3.get(&format!("{old_prefix}1")).await.unwrap(), b"one");
    // Running: still kept.
    assert_eq!(sweep(&app, &s3).await, 0);
    assert_eq!(s3.get(&format!("{old_prefix}1")).await.unwrap(), b"one");

    complete(&app, &claimed).await;
    assert_eq!(sweep(&app, &s3).await, 1);
    assert!(s3.get(&format!("{old_prefix}1")).await.is_none());
    assert_eq!(s3.get(&format!("{new_prefix}1")).await.unwrap(), b"two");
    assert_eq!(count(&app, "skill_versions_retired").await, 0);

    // The session's snapshot named v1, now gone: its follow-up stages the current version.
    let (_, run2) = task(
        &app,
        &token,
        json!({"prompt": "again", "session_id": session}),
    )
    .await;
    let claimed = app.claim("w", 0).await.expect("follow-up");
    assert_eq!(claimed.run_id, run2);
    let caps2 = claimed.capabilities.clone().expect("a snapshot");
    assert_eq!(caps2.skills[0].version, v2["version"].as_str().unwrap());
    assert_ne!(caps2.digest, caps.digest);
    complete(&app, &claimed).await;

    // A deleted skill's last version goes too, once nothing needs it.
    assert_eq!(
        app.send(
            &token,
            Method::DELETE,
            &format!("/api/v1/skills/{skill}"),
            None
        )
        .await
        .status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(sweep(&app, &s3).await, 1);
    assert!(s3.keys().await.is_empty());
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn follow_ups_keep_the_session_snapshot_unless_they_name_another(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let token = app.register("ada@example.com").await;
    let c1 = create(&app, &token, "/api/v1/slash-commands", json!({"name": "review", "body": "Review $ARGUMENTS", "description": "Review code", "argument_hint": "[file]"})).await;
    let m1 = create(
        &app,
        &token,
        "/api/v1/mcp-servers",
        json!({"name": "m", "config": {"command": "x"}}),
    )
    .await;
    let preset = create(&app, &token, "/api/v1/presets", json!({"name": "Reviewer", "prompt_template": "Be terse.", "slash_command_ids": [id(&c1)], "mcp_server_ids": []})).await;

    let (session, run1) = task(
        &app,
        &token,
        json!({"prompt": "first", "preset_id": id(&preset)}),
    )
    .await;
    let first = stored_snapshot(&app, run1).await;
    assert_eq!(first.slash_commands.len(), 1);
    assert!(
        first.mcp_servers.is_empty(),
        "the preset's empty list replaces the defaults"
    );
    assert_eq!(first.prompt_template.as_deref(), Some("Be terse."));

    // The library changes; the follow-up that names nothing keeps the session's snapshot,
    // without the preset's template.
    create(
        &app,
        &token,
        "/api/v1/subagents",
        json!({"name": "new", "description": "d", "system_prompt": "p"}),
    )
    .await;
    let (_, run2) = task(
        &app,
        &token,
        json!({"prompt": "second", "session_id": session}),
    )
    .await;
    let second = stored_snapshot(&app, run2).await;
    assert_eq!(second.digest, first.digest);
    assert_eq!(second.summary, first.summary);
    assert_eq!(second.prompt_template, None);

    // One that names something resolves it, and the session keeps that from then on.
    let (_, run3) = task(
        &app,
        &token,
        json!({"prompt": "third", "session_id": session, "mcp_server_ids": [id(&m1)]}),
    )
    .await;
    let third = stored_snapshot(&app, run3).await;
    assert_eq!(third.mcp_servers.len(), 1);
    assert_eq!(
        third.subagents.len(),
        1,
        "defaults for the kinds it did not name"
    );
    let (_, run4) = task(
        &app,
        &token,
        json!({"prompt": "fourth", "session_id": session}),
    )
    .await;
    assert_eq!(stored_snapshot(&app, run4).await.digest, third.digest);

    // The run views name what each run got.
    let view = json_of(
        app.get(&token, &format!("/api/v1/runs/{run1}")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(view["capabilities"]["preset"]["name"], "Reviewer");
    assert_eq!(view["capabilities"]["slash_commands"][0]["name"], "review");
    let view = json_of(
        app.get(&token, &format!("/api/v1/runs/{run3}")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(view["capabilities"]["mcp_servers"][0]["name"], "m");
    assert_eq!(view["capabilities"]["preset"], Value::Null);
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn a_presets_template_reaches_the_claim_but_not_the_run_view(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let token = app.register("ada@example.com").await;
    let preset = create(
        &app,
        &token,
        "/api/v1/presets",
        json!({
            "name": "Careful", "model": "claude-opus-x", "permission_mode": "plan",
            "prompt_template": "Think step by step.\n---\nThen answer."
        }),
    )
    .await;
    assert_eq!(preset["permission_mode"], "plan");

    let (_, run) = task(
        &app,
        &token,
        json!({"prompt": "Fix the bug", "preset_id": id(&preset)}),
    )
    .await;
    let claimed = app.claim("w", 0).await.expect("claimable");
    assert_eq!(claimed.run_id, run);
    assert_eq!(
        claimed.prompt,
        "Think step by step.\n---\nThen answer.\n\nFix the bug"
    );
    assert_eq!(claimed.model.as_deref(), Some("claude-opus-x"));
    assert_eq!(claimed.permission_mode, protocol::PermissionMode::Plan);
    let view = json_of(
        app.get(&token, &format!("/api/v1/runs/{run}")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(view["prompt"], "Fix the bug");
    assert_eq!(view["model"], "claude-opus-x");
    assert_eq!(view["capabilities"]["model"], "claude-opus-x");
    assert_eq!(view["capabilities"]["permission_mode"], "plan");
    complete(&app, &claimed).await;

    // The task's own settings win over the preset's.
    task(&app, &token, json!({"prompt": "Go", "preset_id": id(&preset), "model": "claude-haiku-y", "permission_mode": "acceptEdits"})).await;
    let claimed = app.claim("w", 0).await.expect("claimable");
    assert_eq!(claimed.model.as_deref(), Some("claude-haiku-y"));
    assert_eq!(
        claimed.permission_mode,
        protocol::PermissionMode::AcceptEdits
    );
    assert!(claimed.prompt.starts_with("Think step by step."));
    complete(&app, &claimed).await;

    // A prompt that runs a slash command keeps its first place: the template goes to the
    // system prompt instead (prepended, it would stop the CLI from running the command).
    task(
        &app,
        &token,
        json!({"prompt": "/review src/lib.rs", "preset_id": id(&preset)}),
    )
    .await;
    let claimed = app.claim("w", 0).await.expect("claimable");
    assert_eq!(claimed.prompt, "/review src/lib.rs");
    assert_eq!(
        claimed.append_system_prompt.as_deref(),
        Some("Think step by step.\n---\nThen answer.")
    );
    complete(&app, &claimed).await;

    // Without a preset the prompt is the user's alone.
    task(&app, &token, json!({"prompt": "Plain"})).await;
    let claimed = app.claim("w", 0).await.expect("claimable");
    assert_eq!(claimed.prompt, "Plain");
    assert_eq!(
        claimed.capabilities.expect("a snapshot").prompt_template,
        None
    );
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn the_digest_follows_what_is_staged(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let token = app.register("ada@example.com").await;
    let cmd = create(
        &app,
        &token,
        "/api/v1/slash-commands",
        json!({"name": "c", "body": "one"}),
    )
    .await;
    create(
        &app,
        &token,
        "/api/v1/mcp-servers",
        json!({"name": "m", "config": {"command": "x"}}),
    )
    .await;
    let preset = create(
        &app,
        &token,
        "/api/v1/presets",
        json!({"name": "P", "prompt_template": "T1"}),
    )
    .await;
    let digest = async |body: Value| {
        stored_snapshot(&app, task(&app, &token, body).await.1)
            .await
            .digest
    };

    let d0 = digest(json!({"prompt": "a"})).await;
    assert_eq!(
        digest(json!({"prompt": "b"})).await,
        d0,
        "an equal library, an equal digest"
    );
    // A preset is its lists (here none of any kind) and a template, which is not staged: the
    // same files as a task that names nothing of any kind.
    let none = json!({"prompt": "c", "skill_ids": [], "mcp_server_ids": [],
                      "slash_command_ids": [], "subagent_ids": []});
    let d_none = digest(none).await;
    assert_ne!(d_none, d0);
    assert_eq!(
        digest(json!({"prompt": "c", "preset_id": id(&preset)})).await,
        d_none
    );

    let path = format!("/api/v1/slash-commands/{}", id(&cmd));
    json_of(
        app.send(&token, Method::PATCH, &path, Some(json!({"body": "two"})))
            .await,
        StatusCode::OK,
    )
    .await;
    let d1 = digest(json!({"prompt": "d"})).await;
    assert_ne!(d1, d0, "a command's body");
    json_of(
        app.send(
            &token,
            Method::PATCH,
            &path,
            Some(json!({"enabled": false})),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let d2 = digest(json!({"prompt": "e"})).await;
    assert_ne!(d2, d1, "a command turned off");
    // Named explicitly, a disabled command is staged: the same files as before it was turned off.
    assert_eq!(
        digest(json!({"prompt": "f", "slash_command_ids": [id(&cmd)]})).await,
        d1
    );
    let res = app
        .send(
            &token,
            Method::PUT,
            "/api/v1/instructions",
            Some(json!({"text": "Use tabs."})),
        )
        .await;
    json_of(res, StatusCode::OK).await;
    assert_ne!(digest(json!({"prompt": "g"})).await, d2, "instructions");
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn system_items_are_visible_to_all_and_writable_by_none(pool: PgPool) {
    let s3 = S3Server::start().await;
    let app = TestApp::spawn_with_s3(pool, &s3, &[]).await;
    let token = app.register("ada@example.com").await;
    let user = app.user_id("ada@example.com").await;
    let (sys_skill, sys_mcp, sys_cmd, sys_agent, sys_preset) = (
        Uuid::now_v7(),
        Uuid::now_v7(),
        Uuid::now_v7(),
        Uuid::now_v7(),
        Uuid::now_v7(),
    );
    let version = "a".repeat(64);
    let key = format!("system/skills/{sys_skill}/{version}/0");
    s3.put(&key, &skill_md("house", "House style")).await;
    for sql in [
        "INSERT INTO skills (id, name, description, version, size, files) VALUES ($1, 'house', 'House style', repeat('a', 64), 10, '[{\"path\": \"SKILL.md\", \"size\": 10}]')",
        "INSERT INTO mcp_servers (id, name, config) VALUES ($2, 'shared', '{\"command\": \"shared-mcp\"}')",
        "INSERT INTO slash_commands (id, name, body) VALUES ($3, 'review', 'System review')",
        "INSERT INTO subagents (id, name, description, system_prompt) VALUES ($4, 'helper', 'Helps', 'You help.')",
        "INSERT INTO presets (id, name, slash_command_ids) VALUES ($5, 'House', ARRAY[$3])",
        "INSERT INTO instructions (id, text) VALUES (gen_random_uuid(), 'System rules.')",
    ] {
        sqlx::query(sql)
            .bind(sys_skill)
            .bind(sys_mcp)
            .bind(sys_cmd)
            .bind(sys_agent)
            .bind(sys_preset)
            .execute(&app.pool)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    // Visible, marked as the system's, downloadable.
    let skills = json_of(app.get(&token, "/api/v1/skills").await, StatusCode::OK).await;
    assert_eq!(skills["skills"][0]["system"], true);
    let presets = json_of(app.get(&token, "/api/v1/presets").await, StatusCode::OK).await;
    assert_eq!(presets["presets"][0]["system"], true);
    let res = app
        .get(&token, &format!("/api/v1/skills/{sys_skill}/download"))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        test_support::zip::names(&res.bytes().await.unwrap()),
        ["house/SKILL.md"]
    );

    // Not writable.
    for (method, path, body) in [
        (
            Method::PATCH,
            format!("/api/v1/skills/{sys_skill}"),
            Some(json!({"enabled": false})),
        ),
        (Method::DELETE, format!("/api/v1/skills/{sys_skill}"), None),
        (
            Method::PATCH,
            format!("/api/v1/mcp-servers/{sys_mcp}"),
            Some(json!({"enabled": false})),
        ),
        (
            Method::DELETE,
            format!("/api/v1/mcp-servers/{sys_mcp}"),
            None,
        ),
        (
            Method::PATCH,
            format!("/api/v1/slash-commands/{sys_cmd}"),
            Some(json!({"body": "mine now"})),
        ),
        (
            Method::DELETE,
            format!("/api/v1/slash-commands/{sys_cmd}"),
            None,
        ),
        (
            Method::PATCH,
            format!("/api/v1/subagents/{sys_agent}"),
            Some(json!({"enabled": false})),
        ),
        (
            Method::DELETE,
            format!("/api/v1/subagents/{sys_agent}"),
            None,
        ),
        (
            Method::PATCH,
            format!("/api/v1/presets/{sys_preset}"),
            Some(json!({"name": "Mine"})),
        ),
        (
            Method::DELETE,
            format!("/api/v1/presets/{sys_preset}"),
            None,
        ),
    ] {
        let res = app.send(&token, method.clone(), &path, body).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{method} {path}");
        assert_eq!(error_code(res).await, "read_only");
    }
    let res = upload(
        &app,
        &token,
        Method::PUT,
        &format!("/api/v1/skills/{sys_skill}"),
        &skill_zip("house", &[]),
    )
    .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(s3.keys().await == [key.clone()], "nothing uploaded");

    // Defaults include the system's items; the user's command of the same name shadows the
    // system's; the system's instructions come before the user's.
    let mine = create(
        &app,
        &token,
        "/api/v1/slash-commands",
        json!({"name": "review", "body": "My review"}),
    )
    .await;
    json_of(
        app.send(
            &token,
            Method::PUT,
            "/api/v1/instructions",
            Some(json!({"text": "My rules."})),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let instructions = json_of(
        app.get(&token, "/api/v1/instructions").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(instructions["text"], "My rules.");
    assert_eq!(instructions["system_text"], "System rules.");
    let summary = json_of(
        app.post(&token, "/api/v1/capabilities/resolve", json!({}))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        summary["slash_commands"],
        json!([{"id": id(&mine), "name": "review"}])
    );
    assert_eq!(summary["skills"][0]["name"], "house");
    assert_eq!(summary["mcp_servers"][0]["name"], "shared");
    assert_eq!(summary["subagents"][0]["name"], "helper");
    assert_eq!(summary["instructions"], true);
    let (_, run) = task(&app, &token, json!({"prompt": "go"})).await;
    let snap = stored_snapshot(&app, run).await;
    assert_eq!(
        snap.instructions.as_deref(),
        Some("System rules.\n\nMy rules.\n")
    );
    assert!(snap.slash_commands[0].content.ends_with("---\nMy review\n"));
    assert_eq!(snap.skills[0].owner, None);
    assert_eq!(snap.skills[0].files[0].key, key);
    // The system preset names the system's command explicitly.
    let summary = json_of(
        app.post(
            &token,
            "/api/v1/capabilities/resolve",
            json!({"preset_id": sys_preset}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        summary["slash_commands"],
        json!([{"id": sys_cmd, "name": "review"}])
    );
    assert_eq!(summary["preset"]["name"], "House");
    // A user's preset may name system items.
    create(
        &app,
        &token,
        "/api/v1/presets",
        json!({"name": "Mine", "skill_ids": [sys_skill], "mcp_server_ids": [sys_mcp]}),
    )
    .await;
    let _ = user;
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn presets_commands_and_subagents_check_their_fields(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let token = app.register("ada@example.com").await;
    let cmd = create(&app, &token, "/api/v1/slash-commands", json!({"name": "c", "body": "b", "argument_hint": "[x]", "model": "claude-x", "allowed_tools": ["Read"]})).await;
    let agent = create(
        &app,
        &token,
        "/api/v1/subagents",
        json!({"name": "g", "description": "d", "system_prompt": "p", "tools": ["Read", "Grep"]}),
    )
    .await;
    let preset = create(
        &app,
        &token,
        "/api/v1/presets",
        json!({"name": "Two words", "slash_command_ids": [id(&cmd)], "subagent_ids": [id(&agent)]}),
    )
    .await;

    // `""` clears optional texts; other fields stay.
    let path = format!("/api/v1/slash-commands/{}", id(&cmd));
    let v = json_of(
        app.send(
            &token,
            Method::PATCH,
            &path,
            Some(json!({"argument_hint": "", "model": ""})),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        (
            v["argument_hint"].clone(),
            v["model"].clone(),
            v["body"].clone()
        ),
        (Value::Null, Value::Null, json!("b"))
    );
    assert_eq!(v["allowed_tools"], json!(["Read"]));

    for (path, body) in [
        ("/api/v1/slash-commands", json!({"name": "x"})),
        ("/api/v1/slash-commands", json!({"name": "x", "body": "  "})),
        (
            "/api/v1/slash-commands",
            json!({"name": "x y", "body": "b"}),
        ),
        (
            "/api/v1/slash-commands",
            json!({"name": "x", "body": "b", "argument_hint": "a\nb"}),
        ),
        (
            "/api/v1/slash-commands",
            json!({"name": "x", "body": "b", "model": "no spaces allowed"}),
        ),
        (
            "/api/v1/slash-commands",
            json!({"name": "x", "body": "b", "allowed_tools": [""]}),
        ),
        (
            "/api/v1/slash-commands",
            json!({"name": "x", "body": "x".repeat(100_001)}),
        ),
        (
            "/api/v1/subagents",
            json!({"name": "x", "description": "", "system_prompt": "p"}),
        ),
        (
            "/api/v1/subagents",
            json!({"name": "x", "description": "d"}),
        ),
        ("/api/v1/presets", json!({})),
        ("/api/v1/presets", json!({"name": " padded "})),
        (
            "/api/v1/presets",
            json!({"name": "p", "skill_ids": [Uuid::nil(), Uuid::nil()]}),
        ),
        (
            "/api/v1/presets",
            json!({"name": "p", "permission_mode": "yolo"}),
        ),
    ] {
        let res = app.post(&token, path, body.clone()).await;
        assert_eq!(
            res.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{path} {body}"
        );
    }
    let res = app
        .post(
            &token,
            "/api/v1/presets",
            json!({"name": "p", "skill_ids": [Uuid::now_v7()]}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let res = app
        .post(&token, "/api/v1/presets", json!({"name": "Two words"}))
        .await;
    assert_eq!(error_code(res).await, "name_taken");

    // Deleting an item takes it out of the presets in the same transaction.
    assert_eq!(
        app.send(&token, Method::DELETE, &path, None).await.status(),
        StatusCode::NO_CONTENT
    );
    let p = json_of(
        app.get(&token, &format!("/api/v1/presets/{}", id(&preset)))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(p["slash_command_ids"], json!([]));
    assert_eq!(p["subagent_ids"], json!([id(&agent)]));
    // A preset patch that clears the template and replaces a list.
    let p = json_of(
        app.send(
            &token,
            Method::PATCH,
            &format!("/api/v1/presets/{}", id(&preset)),
            Some(json!({"subagent_ids": [], "prompt_template": "T"})),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        (p["subagent_ids"].clone(), p["prompt_template"].clone()),
        (json!([]), json!("T"))
    );
    let res = app
        .post(
            &token,
            "/api/v1/tasks",
            json!({"prompt": "go", "skill_ids": [Uuid::nil(), Uuid::nil()]}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn a_retried_run_stages_the_current_version_once_its_own_was_swept(pool: PgPool) {
    let s3 = S3Server::start().await;
    let app = TestApp::spawn_with_s3(pool, &s3, &[]).await;
    let token = app.register("ada@example.com").await;
    let v1 = new_skill(&app, &token, &skill_zip("s", &[("data.txt", b"one")])).await;
    let skill = id(&v1);
    let (_, run) = task(&app, &token, json!({"prompt": "go"})).await;
    let claimed = app.claim("w", 0).await.expect("claimable");
    let res = app
        .internal(
            &format!("/runs/{run}/fail"),
            json!({"worker_id": "w", "epoch": claimed.epoch, "error": "boom"}),
        )
        .await;
    assert!(res.status().is_success());
    let v2 = json_of(
        upload(
            &app,
            &token,
            Method::PUT,
            &format!("/api/v1/skills/{skill}"),
            &skill_zip("s", &[("data.txt", b"two")]),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    // The failed run is not active: its version goes.
    assert_eq!(sweep(&app, &s3).await, 1);
    let res = app
        .post(&token, &format!("/api/v1/runs/{run}/retry"), json!({}))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let claimed = app.claim("w", 0).await.expect("the retried run");
    assert_eq!(claimed.run_id, run);
    let caps = claimed.capabilities.expect("a snapshot");
    assert_eq!(caps.skills[0].version, v2["version"].as_str().unwrap());
    for f in &caps.skills[0].files {
        assert!(s3.get(&f.key).await.is_some(), "{} exists", f.key);
    }
}
