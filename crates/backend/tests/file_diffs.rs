//! Diffs of a run's exported files against the previous export (`GET /runs/{id}/diff`) and zips
//! of one folder (`GET /runs/{id}/archive?path=`), against a real SigV4-checking S3 server
//! (s3s-fs) and a real PostgreSQL, with exports written the way the executor manager writes them.

mod common;

use std::io::Read;

use common::s3::S3Server;
use common::{TestApp, error_code, json_of};
use protocol::files::{ManifestChange, ManifestEntry};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use uuid::Uuid;

/// (session, run, epoch)
type Done = (Uuid, Uuid, i64);

/// A file of an export: its path, its content, and the run whose object holds it (`None`: this
/// run's own upload; `Some(run)`: unchanged, the manager points at the earlier object).
struct File<'a> {
    path: &'a str,
    body: &'a [u8],
    from: Option<Uuid>,
    /// The size the manifest states, when not the body's.
    size: Option<u64>,
}

fn file<'a>(path: &'a str, body: &'a [u8]) -> File<'a> {
    File {
        path,
        body,
        from: None,
        size: None,
    }
}

/// Writes an export as the manager does (objects, `archive.zip`, then `manifest.json`) and
/// reports it.
async fn export(
    app: &TestApp,
    s3: &S3Server,
    user: Uuid,
    (session, run_id, epoch): Done,
    files: &[File<'_>],
    deleted: &[&str],
) {
    let mut entries = Vec::new();
    for f in files {
        let key = format!(
            "workspaces/{session}/runs/{}/files/{}",
            f.from.unwrap_or(run_id),
            f.path
        );
        if f.from.is_none() {
            s3.put(&key, f.body).await;
        }
        entries.push(ManifestEntry {
            path: f.path.into(),
            key,
            size: f.size.unwrap_or(f.body.len() as u64),
            sha256: hex::encode(Sha256::digest(f.body)),
            content_type: "application/octet-stream".into(),
            change: if f.from.is_some() {
                ManifestChange::Unchanged
            } else {
                ManifestChange::Modified
            },
        });
    }
    app.report_export(
        s3,
        user,
        (session, run_id, epoch),
        entries,
        deleted.iter().map(|d| d.to_string()).collect(),
    )
    .await;
}

async fn diff(app: &TestApp, token: &str, run: Uuid, path: &str) -> reqwest::Response {
    let url = reqwest::Url::parse_with_params(
        &app.url(&format!("/api/v1/runs/{run}/diff")),
        &[("path", path)],
    )
    .unwrap();
    app.client.get(url).bearer_auth(token).send().await.unwrap()
}

async fn folder(app: &TestApp, token: &str, run: Uuid, path: &str) -> reqwest::Response {
    let url = reqwest::Url::parse_with_params(
        &app.url(&format!("/api/v1/runs/{run}/archive")),
        &[("path", path)],
    )
    .unwrap();
    app.client.get(url).bearer_auth(token).send().await.unwrap()
}

/// Each line of a diff as `(kind, old, new, text)`.
fn lines(diff: &Value) -> Vec<(String, Value, Value, String)> {
    diff["hunks"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|h| h["lines"].as_array().unwrap().clone())
        .map(|l| {
            (
                l["kind"].as_str().unwrap().to_owned(),
                l["old_line"].clone(),
                l["new_line"].clone(),
                l["text"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn line(
    kind: &str,
    old: Option<u32>,
    new: Option<u32>,
    text: &str,
) -> (String, Value, Value, String) {
    (kind.into(), json!(old), json!(new), text.into())
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn diffs_compare_exports_whatever_changed_the_files(pool: PgPool) {
    let s3 = S3Server::start().await;
    let app = TestApp::spawn_with_s3(pool, &s3, &[]).await;
    let a = app.register("a@example.com").await;
    let b = app.register("b@example.com").await;
    let user = app.user_id("a@example.com").await;

    let big_old = "x\n".repeat(600 * 1024);
    let big_new = format!("{big_old}y\n");
    let first = app.finished_run(&a, None).await;
    let session = first.0;
    export(
        &app,
        &s3,
        user,
        first,
        &[
            file("notes.txt", b"one\ntwo\nthree\n"),
            file("gone.txt", b"bye\nfor now\n"),
            file("img.bin", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"),
            file("latin1.txt", b"caf\xe9\n"),
            file("big.txt", big_old.as_bytes()),
            file("same.txt", b"same\n"),
        ],
        &[],
    )
    .await;
    // The follow-up changed files with a shell command: no edit-tool event exists for them.
    let second = app.finished_run(&a, Some(session)).await;
    let run = second.1;
    export(
        &app,
        &s3,
        user,
        second,
        &[
            file("notes.txt", b"one\nTWO\nthree\nfour"),
            file("new.txt", b"hello\n"),
            file("img.bin", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\x01"),
            file("latin1.txt", b"caf\xe9!\n"),
            file("big.txt", big_new.as_bytes()),
            File {
                path: "same.txt",
                body: b"same\n",
                from: Some(first.1),
                size: None,
            },
        ],
        &["gone.txt"],
    )
    .await;
    let events: i64 = sqlx::query_scalar("SELECT count(*) FROM events WHERE run_id = $1")
        .bind(run)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(events, 0, "no tool event describes the change");

    // Modified.
    let d = json_of(diff(&app, &a, run, "notes.txt").await, StatusCode::OK).await;
    assert_eq!(d["run_id"], json!(run));
    assert_eq!(d["previous_run_id"], json!(first.1));
    assert_eq!(d["path"], "notes.txt");
    assert_eq!(d["change"], "modified");
    assert_eq!(
        (d["old_size"].as_u64(), d["new_size"].as_u64()),
        (Some(14), Some(18))
    );
    assert_eq!(
        (d["binary"].as_bool(), d["too_large"].as_bool()),
        (Some(false), Some(false))
    );
    assert_eq!(
        d["unified"],
        "--- a/notes.txt\n+++ b/notes.txt\n@@ -1,3 +1,4 @@\n one\n-two\n+TWO\n three\n+four\n\\ No newline at end of file\n"
    );
    let hunk = &d["hunks"][0];
    assert_eq!(
        (
            &hunk["old_start"],
            &hunk["old_lines"],
            &hunk["new_start"],
            &hunk["new_lines"]
        ),
        (&json!(1), &json!(3), &json!(1), &json!(4))
    );
    assert_eq!(
        lines(&d),
        vec![
            line("context", Some(1), Some(1), "one"),
            line("remove", Some(2), None, "two"),
            line("add", None, Some(2), "TWO"),
            line("context", Some(3), Some(3), "three"),
            line("add", None, Some(4), "four"),
        ]
    );
    assert_eq!(hunk["lines"][4]["no_newline"], true);
    assert_eq!(hunk["lines"][0]["no_newline"], false);

    // Added and deleted.
    let d = json_of(diff(&app, &a, run, "new.txt").await, StatusCode::OK).await;
    assert_eq!(d["change"], "added");
    assert_eq!(
        (d["old_size"].clone(), d["new_size"].clone()),
        (Value::Null, json!(6))
    );
    assert_eq!(
        d["unified"],
        "--- /dev/null\n+++ b/new.txt\n@@ -0,0 +1 @@\n+hello\n"
    );
    assert_eq!(lines(&d), vec![line("add", None, Some(1), "hello")]);
    let d = json_of(diff(&app, &a, run, "gone.txt").await, StatusCode::OK).await;
    assert_eq!(d["change"], "deleted");
    assert_eq!(d["new_size"], Value::Null);
    assert_eq!(
        lines(&d),
        vec![
            line("remove", Some(1), None, "bye"),
            line("remove", Some(2), None, "for now"),
        ]
    );
    assert!(
        d["unified"]
            .as_str()
            .unwrap()
            .starts_with("--- a/gone.txt\n+++ /dev/null\n")
    );

    // Binary (a NUL byte, or not UTF-8) and too large: no text.
    for path in ["img.bin", "latin1.txt"] {
        let d = json_of(diff(&app, &a, run, path).await, StatusCode::OK).await;
        assert_eq!(d["binary"], true, "{path}");
        assert_eq!(d["change"], "modified", "{path}");
        assert_eq!(d["unified"], Value::Null, "{path}");
        assert_eq!(d["hunks"], json!([]), "{path}");
    }
    let d = json_of(diff(&app, &a, run, "big.txt").await, StatusCode::OK).await;
    assert_eq!(d["too_large"], true);
    assert_eq!(d["binary"], false);
    assert_eq!(d["unified"], Value::Null);
    assert_eq!(d["hunks"], json!([]));
    assert_eq!(d["new_size"], big_new.len());

    // Unchanged (the object of the earlier run): no hunks, empty text.
    let d = json_of(diff(&app, &a, run, "same.txt").await, StatusCode::OK).await;
    assert_eq!(d["change"], "unchanged");
    assert_eq!(d["unified"], "");
    assert_eq!(d["hunks"], json!([]));

    // The first run's export has no predecessor: everything is added.
    let d = json_of(diff(&app, &a, first.1, "notes.txt").await, StatusCode::OK).await;
    assert_eq!(d["previous_run_id"], Value::Null);
    assert_eq!(d["change"], "added");
    assert_eq!(d["hunks"][0]["lines"].as_array().unwrap().len(), 3);

    // A run without an export compares nothing, and a later run skips it to the last export.
    let (_, pending) = app.task(&a, "more", Some(session)).await;
    let res = diff(&app, &a, pending, "notes.txt").await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(res).await, "not_found");
    let unexported = app.claim("w", 0).await.expect("claimable");
    app.internal(
        &format!("/runs/{pending}/complete"),
        json!({"worker_id": "w", "epoch": unexported.epoch}),
    )
    .await;
    let fourth = app.finished_run(&a, Some(session)).await;
    export(&app, &s3, user, fourth, &[file("notes.txt", b"one\n")], &[]).await;
    let d = json_of(diff(&app, &a, fourth.1, "notes.txt").await, StatusCode::OK).await;
    assert_eq!(d["previous_run_id"], json!(run));

    // 404: a path in neither export, another user's run, a run that does not exist.
    for (token, run_id, path) in [
        (&a, run, "nope.txt"),
        (&a, run, "notes"),
        (&b, run, "notes.txt"),
        (&a, Uuid::new_v4(), "notes.txt"),
    ] {
        let res = diff(&app, token, run_id, path).await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{path}");
        assert_eq!(error_code(res).await, "not_found");
    }
    // Bad paths: 422; no path at all: 400.
    for path in [
        "",
        "/notes.txt",
        "../notes.txt",
        "a/../notes.txt",
        "a//b",
        "./notes.txt",
        "notes.txt/",
        "a\nb",
    ] {
        let res = diff(&app, &a, run, path).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{path:?}");
        assert_eq!(error_code(res).await, "validation_error");
    }
    let res = app.get(&a, &format!("/api/v1/runs/{run}/diff")).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(res).await, "invalid_query");
}

/// The names and contents of a zip's entries, in order.
fn unzip(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("a zip");
    (0..zip.len())
        .map(|i| {
            let mut f = zip.by_index(i).unwrap();
            let mut body = Vec::new();
            f.read_to_end(&mut body).unwrap();
            (f.name().expect("a UTF-8 name").to_string(), body)
        })
        .collect()
}

async fn download(url: &str) -> (StatusCode, Vec<u8>) {
    let res = reqwest::get(url).await.unwrap();
    (res.status(), res.bytes().await.unwrap().to_vec())
}

fn disposition(url: &str) -> Option<String> {
    reqwest::Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "response-content-disposition")
        .map(|(_, v)| v.into_owned())
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn a_folder_downloads_as_a_zip_of_its_files_only(pool: PgPool) {
    let s3 = S3Server::start().await;
    let app = TestApp::spawn_with_s3(pool, &s3, &[]).await;
    let a = app.register("a@example.com").await;
    let b = app.register("b@example.com").await;
    let user = app.user_id("a@example.com").await;
    let first = app.finished_run(&a, None).await;
    export(
        &app,
        &s3,
        user,
        first,
        &[file("src/lib/old.rs", b"old")],
        &[],
    )
    .await;
    let second = app.finished_run(&a, Some(first.0)).await;
    let run = second.1;
    export(
        &app,
        &s3,
        user,
        second,
        &[
            file("src/lib/a.rs", b"fn a() {}\n"),
            file("src/lib/deep/b.rs", b"fn b() {}\n"),
            file("src/main.rs", b"fn main() {}\n"),
            file("srcx/other.rs", b"not in src\n"),
            file("docs/readme.md", b"# readme\n"),
            File {
                path: "src/lib/old.rs",
                body: b"old",
                from: Some(first.1),
                size: None,
            },
        ],
        &[],
    )
    .await;

    // A nested folder: its files only, under its own name, the old object included.
    let link = json_of(folder(&app, &a, run, "src/lib/").await, StatusCode::OK).await;
    assert_eq!(link["run_id"], json!(run));
    let url = link["url"].as_str().unwrap().to_owned();
    assert_eq!(
        disposition(&url).as_deref(),
        Some(r#"attachment; filename="lib.zip""#)
    );
    let (status, bytes) = download(&url).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        unzip(&bytes),
        vec![
            ("lib/a.rs".to_owned(), b"fn a() {}\n".to_vec()),
            ("lib/deep/b.rs".to_owned(), b"fn b() {}\n".to_vec()),
            ("lib/old.rs".to_owned(), b"old".to_vec()),
        ]
    );

    // A top folder, named without its slash: not its sibling `srcx`.
    let link = json_of(folder(&app, &a, run, "src").await, StatusCode::OK).await;
    let url = link["url"].as_str().unwrap();
    assert_eq!(
        disposition(url).as_deref(),
        Some(r#"attachment; filename="src.zip""#)
    );
    let names: Vec<String> = unzip(&download(url).await.1)
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(
        names,
        [
            "src/lib/a.rs",
            "src/lib/deep/b.rs",
            "src/lib/old.rs",
            "src/main.rs"
        ]
    );

    // Made once: a repeat request (with or without the slash) reuses the stored zip.
    let stored: Vec<String> = s3
        .keys()
        .await
        .into_iter()
        .filter(|k| k.contains("/folder-archives/"))
        .collect();
    assert_eq!(stored.len(), 2, "{stored:?}");
    let lib_key = stored
        .iter()
        .find(|k| {
            k.starts_with(&format!(
                "workspaces/{}/runs/{run}/folder-archives/",
                second.0
            ))
        })
        .unwrap()
        .clone();
    for k in &stored {
        s3.put(k, b"the stored zip").await;
    }
    for path in ["src/lib/", "src/lib", "src"] {
        let link = json_of(folder(&app, &a, run, path).await, StatusCode::OK).await;
        assert_eq!(
            download(link["url"].as_str().unwrap()).await,
            (StatusCode::OK, b"the stored zip".to_vec()),
            "{path}"
        );
    }
    assert_eq!(
        s3.keys()
            .await
            .iter()
            .filter(|k| k.contains("/folder-archives/"))
            .count(),
        2
    );
    assert!(lib_key.len() <= 160, "{lib_key}");

    // Without `path`, the whole workspace's archive as before.
    let whole = json_of(
        app.get(&a, &format!("/api/v1/runs/{run}/archive")).await,
        StatusCode::OK,
    )
    .await;
    let url = whole["url"].as_str().unwrap();
    assert_eq!(
        disposition(url),
        Some(format!(r#"attachment; filename="run-{run}.zip""#))
    );
    assert_eq!(download(url).await.1, b"PK-archive-bytes");

    // Traversal and malformed paths: 422, nothing made.
    for path in [
        "",
        "/",
        "../src",
        "src/../..",
        "/src",
        "src//lib",
        ".",
        "./src",
        "src/..",
        "a\0b",
    ] {
        let res = folder(&app, &a, run, path).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{path:?}");
        assert_eq!(error_code(res).await, "validation_error");
    }
    // Nothing under it (a file is not a folder), another user's run, no export: 404.
    for (token, run_id, path) in [
        (&a, run, "nope/"),
        (&a, run, "src/main.rs"),
        (&a, run, "sr"),
        (&b, run, "src/"),
        (&a, Uuid::new_v4(), "src/"),
    ] {
        let res = folder(&app, token, run_id, path).await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{path}");
        assert_eq!(error_code(res).await, "not_found");
    }
    let (_, pending) = app.task(&a, "more", Some(first.0)).await;
    let res = folder(&app, &a, pending, "src/").await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        s3.keys()
            .await
            .iter()
            .filter(|k| k.contains("/folder-archives/"))
            .count(),
        2
    );
    let res = app
        .get(&a, &format!("/api/v1/runs/{run}/archive?path=src&extra=1"))
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(res).await, "invalid_query");
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn a_folder_over_the_cap_is_refused_before_anything_is_read(pool: PgPool) {
    let s3 = S3Server::start().await;
    let app = TestApp::spawn_with_s3(pool, &s3, &[]).await;
    let a = app.register("a@example.com").await;
    let user = app.user_id("a@example.com").await;
    let done = app.finished_run(&a, None).await;
    export(
        &app,
        &s3,
        user,
        done,
        &[
            File {
                path: "data/huge.bin",
                body: b"small really",
                from: None,
                size: Some(400 * 1024 * 1024),
            },
            File {
                path: "data/more.bin",
                body: b"small too",
                from: None,
                size: Some(200 * 1024 * 1024),
            },
            file("data/sub/ok.txt", b"ok"),
        ],
        &[],
    )
    .await;
    let res = folder(&app, &a, done.1, "data/").await;
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(error_code(res).await, "payload_too_large");
    assert!(
        !s3.keys()
            .await
            .iter()
            .any(|k| k.contains("/folder-archives/")),
        "nothing stored"
    );
    // A smaller folder of the same export still works.
    let link = json_of(folder(&app, &a, done.1, "data/sub").await, StatusCode::OK).await;
    assert_eq!(
        unzip(&download(link["url"].as_str().unwrap()).await.1),
        vec![("sub/ok.txt".to_owned(), b"ok".to_vec())]
    );
}

async fn content(
    app: &TestApp,
    token: &str,
    run: Uuid,
    path: &str,
    range: Option<&str>,
) -> reqwest::Response {
    let url = reqwest::Url::parse_with_params(
        &app.url(&format!("/api/v1/runs/{run}/content")),
        &[("path", path)],
    )
    .unwrap();
    let mut req = reqwest::Client::new().get(url).bearer_auth(token);
    if let Some(r) = range {
        req = req.header("range", r);
    }
    req.send().await.unwrap()
}

/// A file's bytes from the backend's own origin (the UI's previews): whole, one range, a range
/// past the end, never rendered as a page of this origin, and never another user's.
#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn a_file_is_served_whole_or_by_range_and_never_as_a_page(pool: PgPool) {
    let s3 = S3Server::start().await;
    let app = TestApp::spawn_with_s3(pool, &s3, &[]).await;
    let a = app.register("a@example.com").await;
    let b = app.register("b@example.com").await;
    let user = app.user_id("a@example.com").await;
    let done = app.finished_run(&a, None).await;
    let run = done.1;
    // Before the export: nothing to read.
    let res = content(&app, &a, run, "page.html", None).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let html = b"<html><script>alert(document.cookie)</script>\xe4\xb8\xad\xe6\x96\x87</html>";
    export(
        &app,
        &s3,
        user,
        done,
        &[file("site/page.html", html), file("empty.txt", b"")],
        &[],
    )
    .await;

    let res = content(&app, &a, run, "site/page.html", None).await;
    assert_eq!(res.status(), StatusCode::OK);
    let h = res.headers().clone();
    assert_eq!(h["content-type"], "application/octet-stream");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert!(
        h["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );
    assert!(
        h["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("sandbox")
    );
    assert_eq!(h["accept-ranges"], "bytes");
    assert_eq!(h["content-length"], html.len().to_string().as_str());
    assert_eq!(res.bytes().await.unwrap().as_ref(), html);

    // One range; a suffix range; an open-ended one clamped to the end.
    let res = content(&app, &a, run, "site/page.html", Some("bytes=0-5")).await;
    assert_eq!(res.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        res.headers()["content-range"],
        format!("bytes 0-5/{}", html.len()).as_str()
    );
    assert_eq!(res.bytes().await.unwrap().as_ref(), &html[..6]);
    let res = content(&app, &a, run, "site/page.html", Some("bytes=-7")).await;
    assert_eq!(res.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(res.bytes().await.unwrap().as_ref(), &html[html.len() - 7..]);
    let res = content(&app, &a, run, "site/page.html", Some("bytes=10-99999")).await;
    assert_eq!(res.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(res.bytes().await.unwrap().as_ref(), &html[10..]);
    // Several ranges: the whole file.
    let res = content(&app, &a, run, "site/page.html", Some("bytes=0-1,4-5")).await;
    assert_eq!(res.status(), StatusCode::OK);
    // Past the end: 416 with the size, as JSON.
    let res = content(&app, &a, run, "site/page.html", Some("bytes=9999-")).await;
    assert_eq!(res.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(
        res.headers()["content-range"],
        format!("bytes */{}", html.len()).as_str()
    );
    assert_eq!(error_code(res).await, "range_not_satisfiable");
    // An empty file is served whole, whatever the range.
    let res = content(&app, &a, run, "empty.txt", Some("bytes=0-10")).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.bytes().await.unwrap().is_empty());

    // Not in the export, bad paths, another user's run.
    let res = content(&app, &a, run, "site/other.html", None).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    for bad in ["", "/etc/passwd", "site/../../x", "site//page.html"] {
        let res = content(&app, &a, run, bad, None).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    }
    let res = content(&app, &b, run, "site/page.html", None).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}
