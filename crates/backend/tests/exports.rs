//! Workspace export reports: fenced by the attempt, keys confined to the run's prefix, shown on
//! the run without its keys.

mod common;

use common::{TestApp, error_code};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn an_export_report_is_fenced_checked_and_shown(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let token = app.register("a@example.com").await;
    let (session, run_id) = app.task(&token, "work", None).await;
    let run = app.claim("w", 0).await.unwrap();
    let prefix = format!("workspaces/{session}/runs/{run_id}/");
    let report = |worker: &str, epoch: i64, manifest: &str| {
        json!({"worker_id": worker, "epoch": epoch, "status": "ready",
               "manifest_key": manifest, "archive_key": format!("{prefix}archive.zip"),
               "files": 3, "added": 2, "modified": 1, "unchanged": 0, "deleted": 0, "uploaded_bytes": 1234})
    };
    // Keys outside the run's own prefix are refused.
    for bad in [
        "workspaces/other/manifest.json".to_owned(),
        format!("{prefix}../../x/manifest.json"),
        format!(
            "workspaces/{session}/runs/{}/manifest.json",
            uuid::Uuid::new_v4()
        ),
    ] {
        let res = app
            .internal(
                &format!("/runs/{run_id}/export"),
                report("w", run.epoch, &bad),
            )
            .await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    }
    // Another worker or epoch: 409.
    let res = app
        .internal(
            &format!("/runs/{run_id}/export"),
            report("x", run.epoch, &format!("{prefix}manifest.json")),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert_eq!(error_code(res).await, "lease_lost");
    let view: Value = app
        .get(&token, &format!("/api/v1/runs/{run_id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(view["export"], Value::Null);

    // The holder reports after completing the run: accepted.
    app.internal(
        &format!("/runs/{run_id}/complete"),
        json!({"worker_id": "w", "epoch": run.epoch}),
    )
    .await;
    let res = app
        .internal(
            &format!("/runs/{run_id}/export"),
            report("w", run.epoch, &format!("{prefix}manifest.json")),
        )
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let view: Value = app
        .get(&token, &format!("/api/v1/runs/{run_id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(view["export"]["status"], "ready");
    assert_eq!(view["export"]["files"], 3);
    assert!(
        !view.to_string().contains("manifest.json"),
        "object keys must not reach the browser"
    );
    let key: String = sqlx::query_scalar("SELECT manifest_key FROM run_exports WHERE run_id = $1")
        .bind(run_id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(key, format!("{prefix}manifest.json"));
}
