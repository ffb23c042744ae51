//! Workspace exports as workers report them (`POST /internal/runs/{id}/export`).
//!
//! The object keys a report names are checked against the run's own prefix
//! ([`objstore::keys::run_prefix`]) with [`objstore::keys::within`], and stored in `run_exports`;
//! routes that hand out files take keys from there only.

use objstore::keys;
use protocol::internal::{ExportReport, ExportStatus};
use sqlx::PgPool;
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};
use crate::queue::fence::{self, Fence};

/// The most of an export error kept.
const MAX_ERROR: usize = 4096;

fn check_key(key: &Option<String>, prefix: &str, what: &str) -> ApiResult<()> {
    if let Some(k) = key
        && !keys::within(prefix, k)
    {
        return Err(ApiError::validation(format!(
            "{what} must be an object key under {prefix}"
        )));
    }
    Ok(())
}

/// Stores the export report of the attempt holding `report.epoch`: fenced by the attempt
/// ([`Fence::is_current_attempt`]), not the lease, since a worker reports its export after it
/// completed the run.
pub async fn record(pool: &PgPool, run_id: Uuid, report: &ExportReport) -> ApiResult<()> {
    for (name, v) in [
        ("files", report.files),
        ("added", report.added),
        ("modified", report.modified),
        ("unchanged", report.unchanged),
        ("deleted", report.deleted),
        ("uploaded_bytes", report.uploaded_bytes),
    ] {
        if v < 0 {
            return Err(ApiError::validation(format!("{name} must be 0 or more")));
        }
    }
    if report.status == ExportStatus::Ready && report.manifest_key.is_none() {
        return Err(ApiError::validation(
            "a ready export needs its manifest_key",
        ));
    }
    let mut tx = pool.begin().await?;
    let session_id = fence::lock_current_attempt(
        &mut tx,
        run_id,
        Fence {
            worker: &report.worker_id,
            epoch: report.epoch,
        },
    )
    .await?;
    let prefix = keys::run_prefix(session_id, run_id);
    check_key(&report.manifest_key, &prefix, "manifest_key")?;
    check_key(&report.archive_key, &prefix, "archive_key")?;
    let error: Option<String> = report
        .error
        .as_ref()
        .map(|e| e.chars().take(MAX_ERROR).collect());
    let status = match report.status {
        ExportStatus::Ready => "ready",
        ExportStatus::Failed => "failed",
    };
    sqlx::query(
        "INSERT INTO run_exports (run_id, epoch, status, manifest_key, archive_key, files, added,
                                  modified, unchanged, deleted, uploaded_bytes, error)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
         ON CONFLICT (run_id) DO UPDATE SET
             epoch = EXCLUDED.epoch, status = EXCLUDED.status,
             manifest_key = EXCLUDED.manifest_key, archive_key = EXCLUDED.archive_key,
             files = EXCLUDED.files, added = EXCLUDED.added, modified = EXCLUDED.modified,
             unchanged = EXCLUDED.unchanged, deleted = EXCLUDED.deleted,
             uploaded_bytes = EXCLUDED.uploaded_bytes, error = EXCLUDED.error,
             reported_at = now()",
    )
    .bind(run_id)
    .bind(report.epoch)
    .bind(status)
    .bind(&report.manifest_key)
    .bind(&report.archive_key)
    .bind(report.files)
    .bind(report.added)
    .bind(report.modified)
    .bind(report.unchanged)
    .bind(report.deleted)
    .bind(report.uploaded_bytes)
    .bind(error)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    tracing::info!(%run_id, status, "workspace export reported");
    Ok(())
}
