//! A run's exported files as browsers get them: the manifest named in `run_exports`, each file
//! with a presigned GET URL, and the archive's URL.
//!
//! Keys come only from `run_exports` (checked against the run's prefix when the worker reported
//! them) and from the manifest that row points to. Both are checked again here against the
//! session's prefix ([`objstore::keys::workspace_prefix`]) with [`objstore::keys::within`], so a
//! manifest that names another session's objects (a buggy or compromised worker, a tampered
//! bucket) yields no URL at all. URLs are signed for `S3_PUBLIC_ENDPOINT` and valid
//! `S3_PRESIGN_EXPIRES`.

use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};
use objstore::Bucket;
use objstore::keys::{self, MAX_MANIFEST_BYTES};
use protocol::files::{ArchiveLink, Manifest, ManifestChange, RunFile, RunFiles};
use protocol::internal::ExportStatus;
use sqlx::PgPool;
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};

/// The export of a run of `user`'s, as stored.
#[derive(sqlx::FromRow)]
pub(crate) struct ExportRow {
    pub session_id: Uuid,
    /// The run's place in the queue (orders the runs of its session).
    pub queue_pos: i64,
    pub status: Option<String>,
    pub manifest_key: Option<String>,
    pub archive_key: Option<String>,
}

impl ExportRow {
    /// The manifest's key when the export is ready.
    pub fn ready_manifest(&self) -> Option<&str> {
        match (self.status.as_deref(), self.manifest_key.as_deref()) {
            (Some("ready"), Some(key)) => Some(key),
            _ => None,
        }
    }
}

/// The run and its export, if it is `user`'s; 404 otherwise.
pub(crate) async fn owned_export(pool: &PgPool, user: Uuid, run_id: Uuid) -> ApiResult<ExportRow> {
    let row: Option<ExportRow> = sqlx::query_as(
        "SELECT r.session_id, r.queue_pos, x.status, x.manifest_key, x.archive_key
           FROM runs r
           JOIN sessions s ON s.id = r.session_id
           LEFT JOIN run_exports x ON x.run_id = r.id
          WHERE r.id = $1 AND s.user_id = $2",
    )
    .bind(run_id)
    .bind(user)
    .fetch_optional(pool)
    .await?;
    row.ok_or(ApiError::NotFound("run"))
}

/// Refuses a stored key outside the session: the export is unusable, and that is the server's
/// fault, not the caller's (logged with the key, answered with a generic 500).
pub(crate) fn confine(key: &str, prefix: &str, what: &str, run_id: Uuid) -> ApiResult<()> {
    if keys::within(prefix, key) {
        Ok(())
    } else {
        Err(ApiError::Internal(format!(
            "run {run_id}: {what} `{key}` lies outside {prefix}; refusing to sign it"
        )))
    }
}

/// The manifest of `run_id`'s ready export, checked: its key and every entry's key lie inside the
/// session's prefix, and it describes this run of this session (else a logged 500).
pub(crate) async fn read_manifest(
    storage: &Bucket,
    run_id: Uuid,
    session_id: Uuid,
    manifest_key: &str,
) -> ApiResult<Manifest> {
    let prefix = keys::workspace_prefix(session_id);
    confine(manifest_key, &prefix, "manifest key", run_id)?;
    let manifest: Manifest = storage
        .get_json(manifest_key, MAX_MANIFEST_BYTES)
        .await?
        .ok_or_else(|| {
            ApiError::Internal(format!(
                "run {run_id}: the manifest {manifest_key} is missing from the bucket"
            ))
        })?;
    if manifest.run_id != run_id || manifest.session_id != session_id {
        return Err(ApiError::Internal(format!(
            "run {run_id}: the manifest {manifest_key} describes another run"
        )));
    }
    for entry in &manifest.files {
        confine(&entry.key, &prefix, "manifest entry key", run_id)?;
    }
    Ok(manifest)
}

/// A workspace-relative path from a request (`?path=`): relative, `/`-separated, no empty, `.`
/// or `..` segment, no control character, at most 1024 bytes. With `folder`, one trailing `/`
/// is dropped (`src/` names the folder `src`). Answered 422 otherwise.
pub(crate) fn request_path(raw: &str, folder: bool) -> ApiResult<String> {
    let path = if folder {
        raw.strip_suffix('/').unwrap_or(raw)
    } else {
        raw
    };
    let problem = if path.is_empty() {
        Some("must not be empty")
    } else if raw.len() > 1024 {
        Some("is longer than 1024 bytes")
    } else if path.starts_with('/') {
        Some("must be relative to the workspace")
    } else if path.chars().any(char::is_control) {
        Some("must not contain control characters")
    } else if path
        .split('/')
        .any(|seg| seg.is_empty() || seg == "." || seg == "..")
    {
        Some("must be normalised: no empty, `.` or `..` segment")
    } else {
        None
    };
    match problem {
        Some(p) => Err(ApiError::validation(format!("path {p}"))),
        None => Ok(path.to_owned()),
    }
}

/// `GET /runs/{id}/files`: every URL valid `expires` from now.
pub async fn run_files(
    pool: &PgPool,
    storage: &Bucket,
    expires: Duration,
    user: Uuid,
    run_id: Uuid,
) -> ApiResult<RunFiles> {
    let row = owned_export(pool, user, run_id).await?;
    let empty = |status| RunFiles {
        run_id,
        export_status: status,
        expires_at: None,
        files: Vec::new(),
    };
    let manifest_key = match (row.status.as_deref(), row.ready_manifest()) {
        (None, _) => return Ok(empty(None)),
        (_, Some(key)) => key,
        _ => return Ok(empty(Some(ExportStatus::Failed))),
    };
    let manifest = read_manifest(storage, run_id, row.session_id, manifest_key).await?;
    let mut present = manifest.files;
    present.sort_by(|a, b| a.path.cmp(&b.path));
    let now = SystemTime::now();
    let mut files = Vec::with_capacity(present.len() + manifest.deleted.len());
    for entry in present {
        let name = entry.path.rsplit('/').next().unwrap_or(&entry.path);
        let url = storage
            .presign_get(&entry.key, now, expires, Some(name))
            .await?;
        files.push(RunFile {
            path: entry.path,
            size: entry.size,
            sha256: entry.sha256,
            content_type: entry.content_type,
            change: entry.change,
            url: Some(url),
        });
    }
    let mut deleted = manifest.deleted;
    deleted.sort();
    files.extend(deleted.into_iter().map(|path| RunFile {
        path,
        size: 0,
        sha256: String::new(),
        content_type: String::new(),
        change: ManifestChange::Deleted,
        url: None,
    }));
    Ok(RunFiles {
        run_id,
        export_status: Some(ExportStatus::Ready),
        expires_at: Some(DateTime::<Utc>::from(now + expires)),
        files,
    })
}

/// `GET /runs/{id}/archive`: 404 unless the run is the caller's and has an archive; the URL is
/// valid `expires` from now.
pub async fn archive(
    pool: &PgPool,
    storage: &Bucket,
    expires: Duration,
    user: Uuid,
    run_id: Uuid,
) -> ApiResult<ArchiveLink> {
    let row = owned_export(pool, user, run_id).await?;
    let key = match (row.status.as_deref(), row.archive_key) {
        (Some("ready"), Some(key)) => key,
        _ => return Err(ApiError::NotFound("archive")),
    };
    let prefix = keys::workspace_prefix(row.session_id);
    confine(&key, &prefix, "archive key", run_id)?;
    let now = SystemTime::now();
    let name = format!("run-{run_id}.zip");
    Ok(ArchiveLink {
        run_id,
        url: storage.presign_get(&key, now, expires, Some(&name)).await?,
        expires_at: DateTime::<Utc>::from(now + expires),
    })
}
