//! Run files, archives and attachments against a real SigV4-checking S3 server (s3s-fs) and a
//! real PostgreSQL: presigned URLs that work and stop working, keys confined to their prefixes,
//! owner checks, streamed uploads with their size limit, and attachments on tasks.

mod common;

use std::time::Duration;

use chrono::{DateTime, Utc};
use common::s3::S3Server;
use common::{TestApp, error_code, multipart};
use protocol::files::{ManifestChange, ManifestEntry, StagedAttachment};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

fn entry(key: &str, path: &str, body: &[u8], change: ManifestChange) -> ManifestEntry {
    ManifestEntry {
        path: path.into(),
        key: key.into(),
        size: body.len() as u64,
        sha256: "0".repeat(64),
        content_type: "text/plain; charset=utf-8".into(),
        change,
    }
}

/// Writes an export the way the manager does (objects, then `manifest.json`) and reports it
/// through the internal route. Returns the manifest key.
async fn export(
    app: &TestApp,
    s3: &S3Server,
    user: Uuid,
    (session, run_id, epoch): (Uuid, Uuid, i64),
    files: &[(&str, &[u8])],
    extra_entries: Vec<ManifestEntry>,
) -> String {
    let prefix = format!("workspaces/{session}/runs/{run_id}");
    let mut entries = Vec::new();
    for (path, body) in files {
        let key = format!("{prefix}/files/{path}");
        s3.put(&key, body).await;
        entries.push(entry(&key, path, body, ManifestChange::Added));
    }
    entries.extend(extra_entries);
    app.report_export(
        s3,
        user,
        (session, run_id, epoch),
        entries,
        vec!["z-gone.txt".into(), "a-gone.txt".into()],
    )
    .await
}

/// The decoded value of `name` in `url`'s query.
fn query_param(url: &str, name: &str) -> Option<String> {
    reqwest::Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// `url` without its `name` parameter (the others left as they were encoded).
fn strip_param(url: &str, name: &str) -> String {
    let (base, query) = url.split_once('?').unwrap();
    let kept: Vec<&str> = query
        .split('&')
        .filter(|p| !p.starts_with(&format!("{name}=")))
        .collect();
    assert_ne!(kept.len(), query.split('&').count(), "{name} not in {url}");
    format!("{base}?{}", kept.join("&"))
}

async fn download(url: &str) -> (StatusCode, Vec<u8>) {
    let res = reqwest::get(url).await.unwrap();
    (res.status(), res.bytes().await.unwrap().to_vec())
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn presigned_urls_download_then_expire_and_refuse_tampering(pool: PgPool) {
    let s3 = S3Server::start().await;
    // Browsers reach the store by another name than the backend does.
    let public = format!("http://localhost:{}", s3.port);
    let app = TestApp::spawn_with_s3(
        pool,
        &s3,
        &[("S3_PUBLIC_ENDPOINT", &public), ("S3_PRESIGN_EXPIRES", "2")],
    )
    .await;
    let token = app.register("a@example.com").await;
    let user = app.user_id("a@example.com").await;
    let run = app.finished_run(&token, None).await;
    let run_id = run.1;
    export(
        &app,
        &s3,
        user,
        run,
        &[("sub/b.txt", b"bee"), ("hello.txt", b"hello")],
        vec![],
    )
    .await;

    let res = app
        .get(&token, &format!("/api/v1/runs/{run_id}/files"))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["run_id"], json!(run_id));
    assert_eq!(body["export_status"], "ready");
    let text = body.to_string();
    assert!(
        !text.contains("\"key\"") && !text.contains("manifest.json"),
        "no object key field reaches the browser: {text}"
    );
    let files = body["files"].as_array().unwrap();
    let paths: Vec<&str> = files.iter().map(|f| f["path"].as_str().unwrap()).collect();
    assert_eq!(
        paths,
        ["hello.txt", "sub/b.txt", "a-gone.txt", "z-gone.txt"],
        "present files, then deleted ones, each by path"
    );
    assert_eq!(files[2]["change"], "deleted");
    assert_eq!(files[2]["url"], Value::Null);
    assert_eq!(files[0]["change"], "added");
    assert_eq!(files[0]["size"], 5);
    let hello = files[0]["url"].as_str().unwrap().to_owned();
    let bee = files[1]["url"].as_str().unwrap().to_owned();
    assert!(hello.starts_with(&format!("{public}/workcell/")), "{hello}");
    assert!(hello.contains("X-Amz-Expires=2"), "{hello}");
    assert!(!hello.contains(&s3.secret_key));

    // Each URL asks the store to answer as an attachment named after the file, and the
    // parameter is part of the signature.
    assert_eq!(
        query_param(&hello, "response-content-disposition").as_deref(),
        Some(r#"attachment; filename="hello.txt""#)
    );
    assert_eq!(
        query_param(&bee, "response-content-disposition").as_deref(),
        Some(r#"attachment; filename="b.txt""#)
    );
    let without = strip_param(&hello, "response-content-disposition");
    assert_eq!(download(&without).await.0, StatusCode::FORBIDDEN);
    let inline = hello.replace("attachment", "inline");
    assert_ne!(inline, hello);
    assert_eq!(download(&inline).await.0, StatusCode::FORBIDDEN);

    // The URLs work, for the public name.
    assert_eq!(download(&hello).await, (StatusCode::OK, b"hello".to_vec()));
    assert_eq!(download(&bee).await, (StatusCode::OK, b"bee".to_vec()));

    // Altered: another key under the same signature, or a changed signature.
    let other_key = hello.replace("hello.txt", "sub/b.txt");
    assert_ne!(other_key, hello);
    assert_eq!(download(&other_key).await.0, StatusCode::FORBIDDEN);
    let sig_at = hello.find("X-Amz-Signature=").unwrap() + "X-Amz-Signature=".len();
    let mut forged = hello.clone();
    let flipped = if &hello[sig_at..sig_at + 1] == "0" {
        "1"
    } else {
        "0"
    };
    forged.replace_range(sig_at..sig_at + 1, flipped);
    assert_eq!(download(&forged).await.0, StatusCode::FORBIDDEN);
    let longer = hello.replace("X-Amz-Expires=2", "X-Amz-Expires=3600");
    assert_eq!(download(&longer).await.0, StatusCode::FORBIDDEN);

    // The archive.
    let res = app
        .get(&token, &format!("/api/v1/runs/{run_id}/archive"))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let link: Value = res.json().await.unwrap();
    assert_eq!(link["run_id"], json!(run_id));
    let archive = link["url"].as_str().unwrap().to_owned();
    assert_eq!(
        query_param(&archive, "response-content-disposition"),
        Some(format!(r#"attachment; filename="run-{run_id}.zip""#))
    );
    assert_eq!(
        download(&archive).await,
        (StatusCode::OK, b"PK-archive-bytes".to_vec())
    );

    // Expired: once `expires_at` has passed, every URL is refused.
    let expires: DateTime<Utc> = body["expires_at"].as_str().unwrap().parse().unwrap();
    let wait = (expires - Utc::now()).to_std().unwrap_or_default() + Duration::from_millis(1500);
    tokio::time::sleep(wait).await;
    assert_eq!(download(&hello).await.0, StatusCode::FORBIDDEN);
    assert_eq!(download(&archive).await.0, StatusCode::FORBIDDEN);
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn agent_written_pages_download_as_attachments_under_their_own_name(pool: PgPool) {
    let s3 = S3Server::start().await;
    let app = TestApp::spawn_with_s3(pool, &s3, &[]).await;
    let token = app.register("a@example.com").await;
    let user = app.user_id("a@example.com").await;
    let run = app.finished_run(&token, None).await;
    let run_id = run.1;
    let page = b"<html><script>alert(document.cookie)</script></html>";
    export(
        &app,
        &s3,
        user,
        run,
        &[("site/Grüße \"1\".html", page)],
        vec![],
    )
    .await;
    let body: Value = app
        .get(&token, &format!("/api/v1/runs/{run_id}/files"))
        .await
        .json()
        .await
        .unwrap();
    let url = body["files"][0]["url"].as_str().unwrap().to_owned();
    let expected =
        r#"attachment; filename="Gr__e _1_.html"; filename*=UTF-8''Gr%C3%BC%C3%9Fe%20%221%22.html"#;
    assert_eq!(
        query_param(&url, "response-content-disposition").as_deref(),
        Some(expected)
    );
    // The signature holds with the parameter, and the store answers with the page's bytes and
    // (s3s-fs echoes the override) the attachment disposition.
    let res = reqwest::get(&url).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let disposition = res
        .headers()
        .get(reqwest::header::CONTENT_DISPOSITION)
        .map(|v| v.to_str().unwrap().to_owned());
    assert_eq!(res.bytes().await.unwrap().as_ref(), page);
    assert_eq!(disposition.as_deref(), Some(expected));
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn another_users_run_and_missing_exports_answer_404(pool: PgPool) {
    let s3 = S3Server::start().await;
    let app = TestApp::spawn_with_s3(pool, &s3, &[]).await;
    let a = app.register("a@example.com").await;
    let b = app.register("b@example.com").await;
    let user_a = app.user_id("a@example.com").await;
    let run = app.finished_run(&a, None).await;
    let run_id = run.1;

    // Before the export report: no files yet, no archive.
    let body: Value = app
        .get(&a, &format!("/api/v1/runs/{run_id}/files"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["export_status"], Value::Null);
    assert_eq!(body["files"], json!([]));
    let res = app.get(&a, &format!("/api/v1/runs/{run_id}/archive")).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(res).await, "not_found");

    export(&app, &s3, user_a, run, &[("a.txt", b"a")], vec![]).await;
    for path in [
        format!("/api/v1/runs/{run_id}/files"),
        format!("/api/v1/runs/{run_id}/archive"),
        format!("/api/v1/runs/{}/files", Uuid::new_v4()),
        format!("/api/v1/runs/{}/archive", Uuid::new_v4()),
    ] {
        let res = app.get(&b, &path).await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{path}");
        assert_eq!(error_code(res).await, "not_found");
    }
    let res = app.get(&a, "/api/v1/runs/not-a-uuid/files").await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    error_code(res).await;
    let res = app
        .client
        .get(app.url(&format!("/api/v1/runs/{run_id}/files")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);

    // A failed export: its status, no files, no archive.
    let run2 = app.finished_run(&a, None).await;
    let res = app
        .internal(
            &format!("/runs/{}/export", run2.1),
            json!({"worker_id": "w", "epoch": run2.2, "status": "failed", "error": "disk full"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let body: Value = app
        .get(&a, &format!("/api/v1/runs/{}/files", run2.1))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["export_status"], "failed");
    assert_eq!(body["files"], json!([]));
    let res = app
        .get(&a, &format!("/api/v1/runs/{}/archive", run2.1))
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn keys_outside_the_session_are_refused(pool: PgPool) {
    let s3 = S3Server::start().await;
    let app = TestApp::spawn_with_s3(pool, &s3, &[]).await;
    let a = app.register("a@example.com").await;
    let user_a = app.user_id("a@example.com").await;
    let b = app.register("b@example.com").await;

    // B's run holds a secret.
    let b_run = app.finished_run(&b, None).await;
    let user_b = app.user_id("b@example.com").await;
    export(
        &app,
        &s3,
        user_b,
        b_run,
        &[("secret.txt", b"b's secret")],
        vec![],
    )
    .await;
    let secret_key = format!("workspaces/{}/runs/{}/files/secret.txt", b_run.0, b_run.1);

    // A's manifest names B's object: the listing is refused, no URL is signed.
    let a_run = app.finished_run(&a, None).await;
    let foreign = entry(
        &secret_key,
        "stolen.txt",
        b"b's secret",
        ManifestChange::Unchanged,
    );
    export(
        &app,
        &s3,
        user_a,
        a_run,
        &[("mine.txt", b"mine")],
        vec![foreign],
    )
    .await;
    let res = app
        .get(&a, &format!("/api/v1/runs/{}/files", a_run.1))
        .await;
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let text = res.text().await.unwrap();
    assert!(
        !text.contains("X-Amz") && !text.contains("secret"),
        "{text}"
    );

    // Path tricks inside the right prefix are refused too.
    let a_run2 = app.finished_run(&a, None).await;
    let dotted = entry(
        &format!(
            "workspaces/{}/../{}/runs/{}/files/secret.txt",
            a_run2.0, b_run.0, b_run.1
        ),
        "dots.txt",
        b"x",
        ManifestChange::Added,
    );
    export(&app, &s3, user_a, a_run2, &[], vec![dotted]).await;
    let res = app
        .get(&a, &format!("/api/v1/runs/{}/files", a_run2.1))
        .await;
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);

    // Stored keys pointing elsewhere (written behind the export route's back) are refused.
    let a_run3 = app.finished_run(&a, None).await;
    export(&app, &s3, user_a, a_run3, &[("ok.txt", b"ok")], vec![]).await;
    let ok = app
        .get(&a, &format!("/api/v1/runs/{}/files", a_run3.1))
        .await;
    assert_eq!(ok.status(), StatusCode::OK);
    let b_manifest = format!("workspaces/{}/runs/{}/manifest.json", b_run.0, b_run.1);
    sqlx::query("UPDATE run_exports SET manifest_key = $2, archive_key = $3 WHERE run_id = $1")
        .bind(a_run3.1)
        .bind(&b_manifest)
        .bind(&secret_key)
        .execute(&app.pool)
        .await
        .unwrap();
    for route in ["files", "archive"] {
        let res = app
            .get(&a, &format!("/api/v1/runs/{}/{route}", a_run3.1))
            .await;
        assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR, "{route}");
        assert_eq!(error_code(res).await, "internal");
    }

    // A manifest of another run of the same session (inside the prefix) is refused as well.
    let (_, follow_up) = app.task(&a, "more", Some(a_run.0)).await;
    let claimed = app.claim("w", 0).await.unwrap();
    assert_eq!(claimed.run_id, follow_up);
    let first_manifest = format!("workspaces/{}/runs/{}/manifest.json", a_run.0, a_run.1);
    sqlx::query(
        "INSERT INTO run_exports (run_id, epoch, status, manifest_key) VALUES ($1, $2, 'ready', $3)",
    )
    .bind(follow_up)
    .bind(claimed.epoch)
    .bind(&first_manifest)
    .execute(&app.pool)
    .await
    .unwrap();
    let res = app
        .get(&a, &format!("/api/v1/runs/{follow_up}/files"))
        .await;
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
}

async fn attachment_rows(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM attachments")
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

/// Deterministic bytes that are not all alike (so a misplaced part would show).
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn uploads_round_trip_and_oversized_ones_leave_nothing(pool: PgPool) {
    let s3 = S3Server::start().await;
    let app = TestApp::spawn_with_s3(pool, &s3, &[("MAX_UPLOAD_SIZE_MB", "20")]).await;
    let a = app.register("a@example.com").await;
    let b = app.register("b@example.com").await;
    let user_a = app.user_id("a@example.com").await;

    // A small file, with a hostile name.
    let res = app
        .upload(
            &a,
            Method::POST,
            "/api/v1/attachments",
            "../../etc/pass wd?.txt",
            "text/plain",
            b"small file",
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let small: Value = res.json().await.unwrap();
    assert_eq!(small["name"], "pass wd_.txt");
    assert_eq!(small["size"], 10);
    assert_eq!(small["content_type"], "text/plain");
    let small_id: Uuid = small["id"].as_str().unwrap().parse().unwrap();
    let key: String = sqlx::query_scalar("SELECT object_key FROM attachments WHERE id = $1")
        .bind(small_id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(
        key,
        format!("users/{user_a}/attachments/{small_id}/pass wd_.txt")
    );
    assert_eq!(s3.get(&key).await.as_deref(), Some(&b"small file"[..]));

    // A file over one part (8 MiB): a multipart upload, reassembled exactly.
    let big = pattern(9 * 1024 * 1024 + 123);
    let res = app
        .upload(
            &a,
            Method::POST,
            "/api/v1/attachments",
            "big.bin",
            "text/plain",
            &big,
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let view: Value = res.json().await.unwrap();
    assert_eq!(view["size"], big.len());
    let big_id = view["id"].as_str().unwrap();
    let big_key = format!("users/{user_a}/attachments/{big_id}/big.bin");
    assert!(s3.get(&big_key).await.unwrap() == big, "content differs");

    // Viewing: the owner only.
    let res = app
        .get(&a, &format!("/api/v1/attachments/{small_id}"))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.json::<Value>().await.unwrap(), small);
    let res = app
        .get(&b, &format!("/api/v1/attachments/{small_id}"))
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(res).await, "not_found");

    let keys_before = s3.keys().await;
    let disk_before = s3.files_on_disk();
    let rows_before = attachment_rows(&app).await;

    // Over the limit, announced by Content-Length: refused before reading.
    let res = app
        .upload(
            &a,
            Method::POST,
            "/api/v1/attachments",
            "huge.bin",
            "text/plain",
            &pattern(21 * 1024 * 1024),
        )
        .await;
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(error_code(res).await, "payload_too_large");

    // Over the limit without Content-Length (chunked): counted while streaming, after two parts
    // went up; the multipart upload is aborted.
    let (ct, head) = multipart("file", "stream.bin", "application/octet-stream", b"");
    let tail = head[head.len() - "\r\n--workcell-test-boundary-7d3f--\r\n".len()..].to_vec();
    let head = head[..head.len() - tail.len()].to_vec();
    let chunk = pattern(1024 * 1024);
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = std::iter::once(Ok(head))
        .chain((0..22).map(|_| Ok(chunk.clone())))
        .chain(std::iter::once(Ok(tail)))
        .collect();
    let res = app
        .client
        .post(app.url("/api/v1/attachments"))
        .bearer_auth(&a)
        .header("content-type", ct)
        .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(error_code(res).await, "payload_too_large");

    // Nothing stored: no row, no object, no leftover part on the store's disk.
    assert_eq!(attachment_rows(&app).await, rows_before);
    assert_eq!(s3.keys().await, keys_before);
    assert_eq!(s3.files_on_disk(), disk_before);

    // Malformed uploads: 4xx JSON.
    let (ct, body) = multipart("other", "x.txt", "text/plain", b"x");
    let res = app
        .client
        .post(app.url("/api/v1/attachments"))
        .bearer_auth(&a)
        .header("content-type", ct)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    error_code(res).await;
    let res = app
        .client
        .post(app.url("/api/v1/attachments"))
        .bearer_auth(&a)
        .json(&json!({"file": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    error_code(res).await;
    let res = app
        .client
        .post(app.url("/api/v1/attachments"))
        .header("content-type", "multipart/form-data; boundary=x")
        .body("--x--")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);

    // Deleting: not by another user; by the owner, row and object go.
    let res = app
        .client
        .delete(app.url(&format!("/api/v1/attachments/{small_id}")))
        .bearer_auth(&b)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let res = app
        .client
        .delete(app.url(&format!("/api/v1/attachments/{small_id}")))
        .bearer_auth(&a)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(s3.get(&key).await, None);
    let res = app
        .get(&a, &format!("/api/v1/attachments/{small_id}"))
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn tasks_take_own_attachments_and_https_repositories(pool: PgPool) {
    let s3 = S3Server::start().await;
    let app = TestApp::spawn_with_s3(pool, &s3, &[]).await;
    let a = app.register("a@example.com").await;
    let b = app.register("b@example.com").await;
    let user_a = app.user_id("a@example.com").await;
    let user_b = app.user_id("b@example.com").await;
    let upload_id = |res: Value| -> Uuid { res["id"].as_str().unwrap().parse().unwrap() };
    let data = upload_id(
        app.upload(
            &a,
            Method::POST,
            "/api/v1/attachments",
            "data.csv",
            "text/plain",
            b"a,b\n1,2\n",
        )
        .await
        .json()
        .await
        .unwrap(),
    );
    let notes = upload_id(
        app.upload(
            &a,
            Method::POST,
            "/api/v1/attachments",
            "notes.md",
            "text/plain",
            b"# notes",
        )
        .await
        .json()
        .await
        .unwrap(),
    );
    let same_name = upload_id(
        app.upload(
            &a,
            Method::POST,
            "/api/v1/attachments",
            "data.csv",
            "text/plain",
            b"other",
        )
        .await
        .json()
        .await
        .unwrap(),
    );

    let sessions_of = |user: Uuid| {
        let pool = app.pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>("SELECT count(*) FROM sessions WHERE user_id = $1")
                .bind(user)
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };

    // B cannot use A's attachment, nor can anyone use an unknown id: 404, nothing created.
    for (token, ids) in [(&b, vec![data]), (&a, vec![notes, Uuid::new_v4()])] {
        let res = app
            .post(
                token,
                "/api/v1/tasks",
                json!({"prompt": "use it", "attachments": ids}),
            )
            .await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"]["code"], "not_found");
        assert_eq!(body["error"]["message"], "attachment not found");
    }
    assert_eq!(sessions_of(user_b).await, 0);
    assert_eq!(sessions_of(user_a).await, 0);
    // A follow-up in A's session with B's … B has none; A's follow-up with a foreign id:
    let (session, first) = app.task(&a, "first", None).await;
    let runs_before: i64 = sqlx::query_scalar("SELECT count(*) FROM runs")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let b_file = upload_id(
        app.upload(
            &b,
            Method::POST,
            "/api/v1/attachments",
            "b.txt",
            "text/plain",
            b"b",
        )
        .await
        .json()
        .await
        .unwrap(),
    );
    let res = app
        .post(
            &a,
            "/api/v1/tasks",
            json!({"prompt": "more", "session_id": session, "attachments": [b_file]}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let runs_after: i64 = sqlx::query_scalar("SELECT count(*) FROM runs")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(runs_after, runs_before);

    // Repeats and name clashes: 422.
    for ids in [vec![data, data], vec![data, same_name]] {
        let res = app
            .post(
                &a,
                "/api/v1/tasks",
                json!({"prompt": "x", "attachments": ids}),
            )
            .await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(error_code(res).await, "validation_error");
    }

    // Git: https only, new sessions only.
    for git in [
        json!({"url": "http://example.com/r.git"}),
        json!({"url": "file:///etc"}),
        json!({"url": "https://user:token@example.com/r.git"}),
        json!({"url": "https://example.com/r.git", "branch": "--upload-pack=x"}),
    ] {
        let res = app
            .post(&a, "/api/v1/tasks", json!({"prompt": "x", "git": git}))
            .await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{git}");
        assert_eq!(error_code(res).await, "invalid_git");
    }
    let res = app
        .post(
            &a,
            "/api/v1/tasks",
            json!({"prompt": "x", "session_id": session, "git": {"url": "https://example.com/r.git"}}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let res = app
        .post(
            &a,
            "/api/v1/tasks",
            json!({"prompt": "x", "git": {"url": "https://example.com/r.git", "extra": 1}}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // The first run had none.
    let claimed = app.claim("w", 0).await.unwrap();
    assert_eq!(claimed.run_id, first);
    assert!(claimed.attachments.is_empty());
    assert_eq!(claimed.git, None);

    // A new session with two attachments (in the order given) and a repository.
    let res = app
        .post(
            &a,
            "/api/v1/tasks",
            json!({"prompt": "analyse", "attachments": [notes, data],
                   "git": {"url": "https://example.com/r.git", "branch": "main"}}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let created: Value = res.json().await.unwrap();
    let claimed = app.claim("w", 0).await.unwrap();
    assert_eq!(
        claimed.run_id.to_string(),
        created["run_id"].as_str().unwrap()
    );
    assert_eq!(
        claimed.attachments,
        vec![
            StagedAttachment {
                name: "notes.md".into(),
                key: format!("users/{user_a}/attachments/{notes}/notes.md"),
                size: 7,
            },
            StagedAttachment {
                name: "data.csv".into(),
                key: format!("users/{user_a}/attachments/{data}/data.csv"),
                size: 8,
            },
        ]
    );
    let git = claimed.git.clone().unwrap();
    assert_eq!(git.url, "https://example.com/r.git");
    assert_eq!(git.branch.as_deref(), Some("main"));

    // An attachment a queued or running task still needs cannot be deleted; afterwards it can.
    let delete = |id: Uuid| {
        app.client
            .delete(app.url(&format!("/api/v1/attachments/{id}")))
            .bearer_auth(&a)
            .send()
    };
    let res = delete(data).await.unwrap();
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert_eq!(error_code(res).await, "attachment_in_use");
    let res = app
        .internal(
            &format!("/runs/{}/complete", claimed.run_id),
            json!({"worker_id": "w", "epoch": claimed.epoch}),
        )
        .await;
    assert!(res.status().is_success());
    assert_eq!(delete(data).await.unwrap().status(), StatusCode::NO_CONTENT);
}

/// The bucket's settings, each set by name: `S3_ENDPOINT`, `S3_ACCESS_KEY`, `S3_SECRET_KEY` and
/// `S3_BUCKET` decide where an upload goes (a wrong secret fails it and stores nothing, another
/// bucket receives it); `S3_REGION` is the credential scope URLs are signed in, and
/// `S3_FORCE_PATH_STYLE` their addressing (`host/{bucket}/{key}`, or `{bucket}.host/{key}`).
#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn the_s3_settings_decide_where_objects_go_and_how_urls_are_signed(pool: PgPool) {
    use common::s3::BUCKET;
    let s3 = S3Server::start().await;
    let endpoint = s3.endpoint.clone();
    let access = s3.access_key.clone();
    let secret = s3.secret_key.clone();
    let scope = |url: &str| query_param(url, "X-Amz-Credential").unwrap_or_default();

    let app = TestApp::spawn_with(
        pool.clone(),
        &[
            ("S3_ENDPOINT", &endpoint),
            ("S3_ACCESS_KEY", &access),
            ("S3_SECRET_KEY", &secret),
            ("S3_BUCKET", BUCKET),
            ("S3_REGION", "us-east-1"),
            ("S3_FORCE_PATH_STYLE", "true"),
        ],
    )
    .await;
    let token = app.register("s3@example.com").await;
    let user = app.user_id("s3@example.com").await;
    let res = app
        .upload(
            &token,
            Method::POST,
            "/api/v1/attachments",
            "note.txt",
            "text/plain",
            b"stored",
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let id = res.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let key = format!("users/{user}/attachments/{id}/note.txt");
    assert_eq!(s3.get(&key).await.as_deref(), Some(&b"stored"[..]));
    // Path-style URLs in us-east-1's scope, which the store accepts.
    let run = app.finished_run(&token, None).await;
    export(&app, &s3, user, run, &[("a.txt", b"a")], vec![]).await;
    let link: Value = app
        .get(&token, &format!("/api/v1/runs/{}/archive", run.1))
        .await
        .json()
        .await
        .unwrap();
    let url = link["url"].as_str().unwrap();
    assert!(
        url.starts_with(&format!("{endpoint}/{BUCKET}/workspaces/{}/", run.0)),
        "{url}"
    );
    assert!(scope(url).ends_with("/us-east-1/s3/aws4_request"), "{url}");
    assert_eq!(
        download(url).await,
        (StatusCode::OK, b"PK-archive-bytes".to_vec())
    );
    drop(app);

    // Another secret: the store refuses the upload and nothing is stored.
    let app = TestApp::spawn_with(
        pool.clone(),
        &[
            ("S3_ENDPOINT", &endpoint),
            ("S3_ACCESS_KEY", &access),
            ("S3_SECRET_KEY", "not-the-secret-key"),
            ("S3_BUCKET", BUCKET),
        ],
    )
    .await;
    let token = app.register("wrong-secret@example.com").await;
    let before = s3.keys().await;
    let res = app
        .upload(
            &token,
            Method::POST,
            "/api/v1/attachments",
            "note.txt",
            "text/plain",
            b"lost",
        )
        .await;
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(s3.keys().await, before);
    drop(app);

    // Another bucket: the object goes there, not into the first one.
    std::fs::create_dir(s3.root().join("other-bucket")).unwrap();
    let app = TestApp::spawn_with(
        pool.clone(),
        &[
            ("S3_ENDPOINT", &endpoint),
            ("S3_ACCESS_KEY", &access),
            ("S3_SECRET_KEY", &secret),
            ("S3_BUCKET", "other-bucket"),
        ],
    )
    .await;
    let token = app.register("other-bucket@example.com").await;
    let user = app.user_id("other-bucket@example.com").await;
    let before = s3.keys().await;
    let res = app
        .upload(
            &token,
            Method::POST,
            "/api/v1/attachments",
            "note.txt",
            "text/plain",
            b"elsewhere",
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let id = res.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let key = format!("users/{user}/attachments/{id}/note.txt");
    assert_eq!(
        std::fs::read(s3.root().join("other-bucket").join(&key)).unwrap(),
        b"elsewhere"
    );
    assert_eq!(s3.keys().await, before, "nothing new in {BUCKET}");
    drop(app);

    // Another region and virtual-host addressing (signing does no I/O: the export is a row).
    let app = TestApp::spawn_with(
        pool,
        &[
            ("S3_ENDPOINT", &endpoint),
            ("S3_ACCESS_KEY", &access),
            ("S3_SECRET_KEY", &secret),
            ("S3_BUCKET", BUCKET),
            ("S3_PUBLIC_ENDPOINT", "http://files.example.test"),
            ("S3_REGION", "eu-test-1"),
            ("S3_FORCE_PATH_STYLE", "false"),
        ],
    )
    .await;
    let token = app.register("hosted@example.com").await;
    let (session, run_id, epoch) = app.finished_run(&token, None).await;
    let prefix = format!("workspaces/{session}/runs/{run_id}");
    sqlx::query(
        "INSERT INTO run_exports (run_id, epoch, status, manifest_key, archive_key)
         VALUES ($1, $2, 'ready', $3, $4)",
    )
    .bind(run_id)
    .bind(epoch)
    .bind(format!("{prefix}/manifest.json"))
    .bind(format!("{prefix}/archive.zip"))
    .execute(&app.pool)
    .await
    .unwrap();
    let link: Value = app
        .get(&token, &format!("/api/v1/runs/{run_id}/archive"))
        .await
        .json()
        .await
        .unwrap();
    let url = link["url"].as_str().unwrap();
    assert!(
        url.starts_with(&format!(
            "http://{BUCKET}.files.example.test/{prefix}/archive.zip?"
        )),
        "{url}"
    );
    assert!(scope(url).ends_with("/eu-test-1/s3/aws4_request"), "{url}");
}
