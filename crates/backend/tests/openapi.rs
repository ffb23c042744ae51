//! The API reference (`api/openapi.rs`): every route the backend serves is an operation of the
//! OpenAPI document and every operation is a route; the document is served as OpenAPI 3.1 JSON
//! and rendered by a Swagger UI page whose files all come from the backend.
//!
//! Routes are registered only through `utoipa_axum::routes!`, which takes the method and path
//! from the handler's `#[utoipa::path]`: registering and documenting are one act. What could
//! still add an undocumented route is a plain axum registration (`.route(`, `.route_service(`,
//! `.nest…(`, `.fallback_service(`, an axum `Router::new()` or `axum::routing`'s method routers),
//! and [`no_route_is_registered_without_its_documentation`] finds every one in the sources. The
//! other direction, an operation that no route serves, is probed against a running backend
//! ([`every_documented_operation_is_served`]).

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use common::TestApp;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use sqlx::PgPool;

/// How a route gets into the router without its documentation. Each is refused everywhere in
/// the backend's sources (comments aside).
const PLAIN_REGISTRATIONS: &[&str] = &[
    ".route(",
    ".route_service(",
    ".nest(",
    ".nest_service(",
    ".fallback_service(",
    "axum::routing",
    "Router::new(",
    "Router::<",
    "SwaggerUi",
];

/// Where a plain registration is allowed, with why. Empty: the reference's own routes (the
/// document, the Swagger UI page and its files) are documented operations too.
const ALLOWED: &[(&str, &str)] = &[];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("a readable source directory") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|x| x == "rs") {
            out.push(path);
        }
    }
}

/// `(file:line, pattern)` of every plain registration in the code under `src` (comment lines
/// skipped; a pattern inside `OpenApiRouter::new(` is not axum's `Router::new(`).
fn plain_registrations(src: &Path) -> Vec<String> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    assert!(files.len() > 20, "the sources were not found under {src:?}");
    let mut found = Vec::new();
    for file in &files {
        let relative = file.strip_prefix(src).unwrap_or(file).display().to_string();
        let source = std::fs::read_to_string(file).expect("a readable source file");
        for (n, line) in source.lines().enumerate() {
            let code = line.trim_start();
            if code.starts_with("//") {
                continue;
            }
            let code = code.split(" // ").next().unwrap_or(code);
            for pattern in PLAIN_REGISTRATIONS {
                let hit = code.match_indices(pattern).any(|(at, _)| {
                    // `OpenApiRouter::new(` is the documented router, not axum's.
                    !(pattern.starts_with("Router") && code[..at].ends_with("OpenApi"))
                });
                if hit
                    && !ALLOWED
                        .iter()
                        .any(|(f, _)| relative == *f || relative.starts_with(&format!("{f}/")))
                {
                    found.push(format!(
                        "src/{relative}:{}: `{pattern}`: {}",
                        n + 1,
                        code.trim()
                    ));
                }
            }
        }
    }
    found
}

#[test]
fn no_route_is_registered_without_its_documentation() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let found = plain_registrations(&src);
    assert!(
        found.is_empty(),
        "routes registered without their OpenAPI operation (annotate the handler with \
         #[utoipa::path] and register it with `.routes(utoipa_axum::routes!(handler))` on an \
         OpenApiRouter instead):\n{}",
        found.join("\n")
    );
}

#[test]
fn the_scan_finds_plain_registrations() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    for i in 0..21 {
        std::fs::write(dir.path().join(format!("f{i}.rs")), "fn f() {}\n").unwrap();
    }
    std::fs::write(
        dir.path().join("api.rs"),
        "// .route(\"/in/a/comment\", get(x))\n\
         pub fn routes() -> OpenApiRouter<AppState> {\n\
         \x20   OpenApiRouter::new()\n\
         \x20       .routes(routes!(documented))\n\
         \x20       .route(\n\
         \x20           \"/api/v1/undocumented\",\n\
         \x20           axum::routing::get(undocumented),\n\
         \x20       )\n\
         }\n",
    )
    .unwrap();
    let found = plain_registrations(dir.path());
    assert_eq!(found.len(), 2, "{found:#?}");
    assert!(found[0].contains("api.rs:5") && found[0].contains(".route("));
    assert!(found[1].contains("api.rs:7") && found[1].contains("axum::routing"));
}

/// The document a running backend serves.
async fn document(app: &TestApp) -> Value {
    let res = app
        .client
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let content_type = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    res.json().await.expect("the document is JSON")
}

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// `(METHOD, path, operation)` of every operation of the document.
fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let paths = doc["paths"].as_object().expect("paths");
    let mut out = Vec::new();
    for (path, item) in paths {
        for m in METHODS {
            if let Some(op) = item.get(m) {
                out.push((m.to_uppercase(), path.clone(), op.clone()));
            }
        }
    }
    out
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn the_document_is_openapi_3_1_and_complete(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let doc = document(&app).await;
    let version = doc["openapi"].as_str().unwrap_or_default();
    assert!(version.starts_with("3.1"), "openapi: {version}");
    assert_eq!(doc["info"]["title"], "Workcell API");
    assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(doc["servers"][0]["url"], "/");
    for scheme in ["bearer", "cookie", "internal_token"] {
        assert!(
            doc["components"]["securitySchemes"][scheme].is_object(),
            "security scheme {scheme}"
        );
    }
    for schema in ["ErrorBody", "ClientMessage", "ServerMessage", "EventBody"] {
        assert!(
            doc["components"]["schemas"][schema].is_object(),
            "schema {schema}"
        );
    }

    let ops = operations(&doc);
    assert!(ops.len() > 100, "only {} operations", ops.len());
    let mut ids = BTreeSet::new();
    let mut problems = Vec::new();
    for (method, path, op) in &ops {
        let at = format!("{method} {path}");
        match op["operationId"].as_str() {
            Some(id) if ids.insert(id.to_owned()) => {}
            other => problems.push(format!("{at}: operationId {other:?} missing or repeated")),
        }
        if op["tags"].as_array().is_none_or(Vec::is_empty) {
            problems.push(format!("{at}: no tag"));
        }
        if !op["responses"]["default"].is_object() {
            problems.push(format!("{at}: no `default` (error) response"));
        }
        if !op["security"].is_array() {
            problems.push(format!(
                "{at}: no security requirement (not even an empty one)"
            ));
        }
        if path.starts_with("/api/v1/internal/") {
            if op["tags"][0] != "internal" || op["security"][0]["internal_token"].is_null() {
                problems.push(format!("{at}: internal, but not tagged or secured so"));
            }
        } else if !path.starts_with("/api/v1/")
            && !path.starts_with("/api/docs")
            && op["tags"][0] != "health"
        {
            problems.push(format!("{at}: outside /api, but not tagged `health`"));
        }
        // A documented error answer carries the error shape.
        for (status, res) in op["responses"].as_object().into_iter().flatten() {
            let is_error =
                status == "default" || status.starts_with('4') || status.starts_with('5');
            let shared = res["$ref"]
                .as_str()
                .is_some_and(|r| r.starts_with("#/components/responses/"));
            let error_body = res["content"]["application/json"]["schema"]["$ref"]
                == "#/components/schemas/ErrorBody";
            let ready = path.ends_with("/health/ready") && status == "503";
            if is_error && !shared && !error_body && !ready {
                problems.push(format!("{at}: {status} is not documented as an ErrorBody"));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));

    // The credential of an operation is the one `auth::scope` requires of its route.
    let op = |method: &str, path: &str| {
        ops.iter()
            .find(|(m, p, _)| m == method && p == path)
            .map(|(_, _, op)| op.clone())
            .unwrap_or_else(|| panic!("{method} {path} is not documented"))
    };
    assert_eq!(
        op("GET", "/api/v1/sessions")["security"][0]["bearer"][0],
        "sessions:read"
    );
    assert_eq!(
        op("POST", "/api/v1/tasks")["security"][1]["cookie"][0],
        "tasks:write"
    );
    assert_eq!(
        op("GET", "/api/v1/runs/{id}/files")["security"][0]["bearer"][0],
        "files:read"
    );
    assert_eq!(
        op("GET", "/api/v1/admin/users")["security"][0]["bearer"][0],
        "admin"
    );
    assert_eq!(
        op("POST", "/api/v1/auth/login")["security"],
        Value::Array(vec![])
    );
    assert_eq!(
        op("GET", "/api/v1/openapi.json")["security"],
        Value::Array(vec![])
    );
    // Uploads are multipart, downloads binary, the WebSocket an upgrade.
    assert!(
        op("POST", "/api/v1/attachments")["requestBody"]["content"]["multipart/form-data"]
            .is_object()
    );
    assert!(
        op("GET", "/api/v1/skills/{id}/download")["responses"]["200"]["content"]["application/zip"]
            .is_object()
    );
    assert!(op("GET", "/api/v1/ws")["responses"]["101"].is_object());
}

/// A value for a path parameter, so the probe reaches the route's handler.
fn parameter_value(name: &str) -> &'static str {
    match name {
        "file" => "swagger-ui.css",
        "provider" => "github",
        "name" => "SOME_SECRET",
        _ => "00000000-0000-0000-0000-000000000000",
    }
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn every_documented_operation_is_served(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let doc = document(&app).await;
    let mut unserved = Vec::new();
    for (method, path, _) in operations(&doc) {
        let mut url = String::new();
        for segment in path.split('/').skip(1) {
            url.push('/');
            match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(name) => url.push_str(parameter_value(name)),
                None => url.push_str(segment),
            }
        }
        // No credential and no body: whatever the route answers (401, 400, 415…), it is not the
        // router's "no such route" or "no such method".
        let res = app
            .client
            .request(
                Method::from_bytes(method.as_bytes()).unwrap(),
                app.url(&url),
            )
            .send()
            .await
            .unwrap();
        let status = res.status();
        let body: Value = res.json().await.unwrap_or(Value::Null);
        let code = body["error"]["code"].as_str().unwrap_or_default();
        if status == StatusCode::METHOD_NOT_ALLOWED || code == "route_not_found" {
            // The Swagger UI files answer `route_not_found` for a missing file; this one exists.
            unserved.push(format!("{method} {path} ({url}): {status} {code}"));
        }
    }
    assert!(
        unserved.is_empty(),
        "documented but not served:\n{}",
        unserved.join("\n")
    );

    // And the router has no route the probe above did not name: a path next to a documented one
    // is the router's 404.
    let res = app
        .client
        .get(app.url("/api/v1/sessions-undocumented"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn the_docs_page_loads_everything_from_the_backend(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    for page in ["/api/docs", "/api/docs/"] {
        let res = app.client.get(app.url(page)).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{page}");
        let content_type = res
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        assert!(content_type.starts_with("text/html"), "{content_type}");
        let html = res.text().await.unwrap();
        assert!(html.contains("swagger-ui"), "{html}");
        assert!(
            !html.contains("https://") && !html.contains("http://"),
            "{html}"
        );

        // Every script and stylesheet is a file of this server, and it is there.
        let mut assets = Vec::new();
        for attr in ["src=\"", "href=\""] {
            for (at, _) in html.match_indices(attr) {
                let rest = &html[at + attr.len()..];
                assets.push(rest[..rest.find('"').unwrap()].to_owned());
            }
        }
        assert!(assets.len() >= 4, "{assets:?}");
        for asset in &assets {
            assert!(
                asset.starts_with("/api/docs/"),
                "{asset} is not the backend's"
            );
            let res = app.client.get(app.url(asset)).send().await.unwrap();
            assert_eq!(res.status(), StatusCode::OK, "{asset}");
            assert!(!res.bytes().await.unwrap().is_empty(), "{asset} is empty");
        }
    }
    // The initializer points Swagger UI at this server's document.
    let init = app
        .client
        .get(app.url("/api/docs/swagger-initializer.js"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(init.contains("/api/v1/openapi.json"), "{init}");
    // A file that is not there answers in the error shape.
    let res = app
        .client
        .get(app.url("/api/docs/nope.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(common::error_code(res).await, "route_not_found");
}
