//! Workspace export to S3 at the end of every run.
//!
//! Layout under `S3_BUCKET` (one session's workspace, `P = workspaces/{session_id}`; session ids
//! are unique, and short keys stay within every store's limits; the keys are built by
//! [`objstore::keys`], and every S3 request goes through [`objstore::Bucket`]):
//!
//! ```text
//! P/latest.json                       {"run_id", "manifest_key"} of the last export
//! P/runs/{run_id}/manifest.json       every file: path, key, size, sha256, content_type, change
//!                                     (`protocol::files::Manifest`, read back by the backend)
//! P/runs/{run_id}/archive.zip         the whole workspace (stored, not compressed; ZIP64 when
//!                                     it needs to be)
//! P/runs/{run_id}/files/{path}        files added or modified by this run
//! P/runs/{run_id}/agent.zip, agent.json   the agent's conversation files, for a restore on
//!                                     another host ([`agent`]); never served to the user
//! ```
//!
//! [`restore`] is the way back: a manager that claims a run of a session whose workspace it does
//! not hold (or holds an older one) rebuilds it from the last export.
//!
//! How (one module each):
//! - [`scan`]: the workspace is walked through directory descriptors, nothing followed: every
//!   regular file is opened once, `fstat`ed on its handle and read once, straight into the
//!   archive (symbolic links, FIFOs, sockets and devices are left out, never followed). Why: a
//!   process the agent left running may swap files for links to secrets while the export runs;
//! - [`zip`]: `archive.zip` streamed into an anonymous temporary file, with a fixed local-header
//!   layout so that an unchanged file's bytes are the same in every export;
//! - [`parts`]: the archive's upload copies the unchanged stretches of the previous run's
//!   archive inside the store.
//!
//! Files whose sha256 did not change since the previous run's manifest are not uploaded again:
//! their entry keeps the earlier run's key. Added and modified files are uploaded from their
//! bytes in the archive (the same bytes that were hashed), in parts from
//! [`MULTIPART_THRESHOLD`] on. The previous export is found through `latest.json`; its manifest
//! is used only if it and every key it names lie inside the session's prefix
//! ([`objstore::keys::within`]) and it is at most [`objstore::keys::MAX_MANIFEST_BYTES`], else
//! the export starts afresh (everything uploaded). Ignored: [`IGNORED_NAMES`] anywhere in a path, and with
//! `WORKSPACE_IGNORE_DOT_FILES` every name starting with a dot.

pub mod agent;
mod parts;
pub mod restore;
mod scan;
mod zip;

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use chrono::Utc;
use objstore::keys::{self, MAX_MANIFEST_BYTES};
use objstore::{Bucket, UploadError};
use protocol::files::{ArchiveSpan, Manifest, ManifestChange, ManifestEntry};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::config::S3Settings;

pub use scan::MAX_DEPTH;

/// Names never exported, wherever they appear in a path.
pub const IGNORED_NAMES: &[&str] = &[
    ".git",
    ".claude_data",
    "node_modules",
    "__pycache__",
    ".venv",
    ".DS_Store",
];

/// Files at least this large are uploaded in parts of this size ([`objstore::PART_SIZE`]).
pub const MULTIPART_THRESHOLD: u64 = objstore::PART_SIZE as u64;

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("reading the workspace: {0}")]
    Io(#[from] std::io::Error),
    #[error(
        "the workspace {0} is a symbolic link or not a directory; not exported (links are never followed)"
    )]
    UnsafeRoot(PathBuf),
    #[error(transparent)]
    Store(#[from] objstore::Error),
    #[error("the previous manifest is unreadable: {0}")]
    Manifest(String),
}

fn join_err(e: tokio::task::JoinError) -> ExportError {
    ExportError::Io(std::io::Error::other(e.to_string()))
}

/// Bytes `start..start + len` of `file` (`pread`: the handle's offset is not used).
async fn read_range(file: &Arc<File>, start: u64, len: u64) -> Result<Vec<u8>, ExportError> {
    let file = file.clone();
    tokio::task::spawn_blocking(move || {
        let mut buf = vec![0u8; usize::try_from(len).map_err(std::io::Error::other)?];
        file.read_exact_at(&mut buf, start)?;
        Ok::<_, std::io::Error>(buf)
    })
    .await
    .map_err(join_err)?
    .map_err(ExportError::Io)
}

/// What an export did, for logs and (once the backend has a route) for the backend.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExportSummary {
    pub manifest_key: String,
    pub archive_key: String,
    pub files: usize,
    pub added: usize,
    pub modified: usize,
    pub unchanged: usize,
    pub deleted: usize,
    pub uploaded_bytes: u64,
    /// The agent's state uploaded beside the workspace ([`agent`]).
    pub agent_bytes: u64,
}

/// The largest `latest.json` read (it holds a run id and a key).
const MAX_LATEST_BYTES: u64 = 64 * 1024;

/// `latest.json`: which manifest the next export compares against.
#[derive(Debug, Serialize, Deserialize)]
struct Latest {
    run_id: Uuid,
    manifest_key: String,
}

/// Which run's workspace this is.
#[derive(Debug, Clone, Copy)]
pub struct ExportTarget {
    pub user_id: Uuid,
    pub session_id: Uuid,
    pub run_id: Uuid,
}

/// Exports the workspaces of runs into the bucket; also the manager's only handle on the bucket
/// (inputs are presigned with [`Exporter::bucket`]).
#[derive(Clone)]
pub struct Exporter {
    bucket: Bucket,
    ignore_dot_files: bool,
}

impl Exporter {
    pub fn new(s3: &S3Settings, ignore_dot_files: bool) -> Self {
        Self {
            bucket: Bucket::new(s3),
            ignore_dot_files,
        }
    }

    /// Whether the bucket is reachable with these credentials (`HeadBucket`), for readiness.
    pub async fn check(&self) -> Result<(), String> {
        self.bucket.check().await.map_err(|e| e.to_string())
    }

    /// The bucket exports go to.
    pub fn bucket(&self) -> &Bucket {
        &self.bucket
    }

    /// Exports `workspace`; see the module documentation.
    pub async fn export(
        &self,
        workspace: &Path,
        target: ExportTarget,
    ) -> Result<ExportSummary, ExportError> {
        let root = workspace.to_owned();
        let ignore_dots = self.ignore_dot_files;
        let snapshot = tokio::task::spawn_blocking(move || {
            scan::snapshot(&root, ignore_dots, zip::Limits::STANDARD)
        })
        .await
        .map_err(join_err)??;
        if snapshot.skipped_special > 0 {
            tracing::info!(
                skipped = snapshot.skipped_special,
                "symbolic links and special files left out of the export"
            );
        }
        let archive = Arc::new(snapshot.archive);
        let scanned = snapshot.files;

        let previous = self.previous_manifest(&target).await?;
        let before: BTreeMap<&str, &ManifestEntry> = previous
            .as_ref()
            .map(|m| m.files.iter().map(|f| (f.path.as_str(), f)).collect())
            .unwrap_or_default();

        let (session, run) = (target.session_id, target.run_id);
        let mut files = Vec::with_capacity(scanned.len());
        let mut uploaded_bytes = 0;
        for f in &scanned {
            let (change, key) = match before.get(f.path.as_str()) {
                Some(old) if old.sha256 == f.sha256 => (ManifestChange::Unchanged, old.key.clone()),
                Some(_) => (
                    ManifestChange::Modified,
                    keys::run_file_key(session, run, &f.path),
                ),
                None => (
                    ManifestChange::Added,
                    keys::run_file_key(session, run, &f.path),
                ),
            };
            if change != ManifestChange::Unchanged {
                // The file's bytes as they went into the archive (and its SHA-256).
                self.upload_range(&archive, f.data, f.size, &key, &f.content_type)
                    .await?;
                uploaded_bytes += f.size;
            }
            files.push(ManifestEntry {
                path: f.path.clone(),
                key,
                size: f.size,
                sha256: f.sha256.clone(),
                content_type: f.content_type.clone(),
                change,
            });
        }
        let present: BTreeSet<&str> = scanned.iter().map(|f| f.path.as_str()).collect();
        let deleted: Vec<String> = before
            .keys()
            .filter(|p| !present.contains(**p))
            .map(|p| (*p).to_owned())
            .collect();

        let archive_key = keys::archive_key(session, run);
        let archive_spans: Vec<ArchiveSpan> = scanned
            .iter()
            .map(|f| ArchiveSpan {
                path: f.path.clone(),
                sha256: f.sha256.clone(),
                start: f.span.0,
                end: f.span.1,
            })
            .collect();
        uploaded_bytes += self
            .upload_archive(
                &archive,
                &archive_key,
                snapshot.archive_size,
                &archive_spans,
                previous.as_ref(),
            )
            .await?;

        // Before the manifest: a ready export always has the agent's state beside it (not counted
        // in `uploaded_bytes`, which tells the user what of the workspace went up).
        let agent_bytes = self.export_agent_state(workspace, target).await?;

        let manifest = Manifest {
            user_id: target.user_id,
            run_id: target.run_id,
            session_id: target.session_id,
            previous_run_id: previous.as_ref().map(|m| m.run_id),
            created_at: Utc::now(),
            files,
            deleted,
            archive_key: archive_key.clone(),
            archive_spans,
        };
        let manifest_key = keys::manifest_key(session, run);
        self.bucket.put_json(&manifest_key, &manifest).await?;
        self.bucket
            .put_json(
                &keys::latest_key(session),
                &Latest {
                    run_id: target.run_id,
                    manifest_key: manifest_key.clone(),
                },
            )
            .await?;

        let count = |c: ManifestChange| manifest.files.iter().filter(|f| f.change == c).count();
        Ok(ExportSummary {
            manifest_key,
            archive_key,
            files: manifest.files.len(),
            added: count(ManifestChange::Added),
            modified: count(ManifestChange::Modified),
            unchanged: count(ManifestChange::Unchanged),
            deleted: manifest.deleted.len(),
            uploaded_bytes,
            agent_bytes,
        })
    }

    /// The manifest of the session's last export, if there is a usable one. A pointer or
    /// manifest that is malformed is an error (the export fails, as a store failure does). One
    /// larger than [`MAX_MANIFEST_BYTES`], or that names a key outside the session's prefix (its
    /// own, its archive's or a file's: they would be copied from or handed out again), is
    /// ignored with a warning: the export then uploads everything, as for a first run.
    async fn previous_manifest(&self, t: &ExportTarget) -> Result<Option<Manifest>, ExportError> {
        let Some(latest) = self
            .bucket
            .get_json::<Latest>(&keys::latest_key(t.session_id), MAX_LATEST_BYTES)
            .await
            .map_err(unreadable)?
        else {
            return Ok(None);
        };
        let prefix = keys::workspace_prefix(t.session_id);
        if !keys::within(&prefix, &latest.manifest_key) {
            tracing::warn!(
                manifest_key = %latest.manifest_key,
                "latest.json names a manifest outside the session; exporting everything"
            );
            return Ok(None);
        }
        let manifest = match self
            .bucket
            .get_json::<Manifest>(&latest.manifest_key, MAX_MANIFEST_BYTES)
            .await
        {
            Err(objstore::Error::TooLarge { key, limit }) => {
                tracing::warn!(
                    %key,
                    limit,
                    "the previous manifest is too large to read; exporting everything"
                );
                return Ok(None);
            }
            other => other.map_err(unreadable)?,
        };
        if let Some(m) = &manifest
            && let Some(outside) = std::iter::once(&m.archive_key)
                .chain(m.files.iter().map(|f| &f.key))
                .find(|k| !keys::within(&prefix, k))
        {
            tracing::warn!(
                manifest_key = %latest.manifest_key,
                key = %outside,
                "the previous manifest names a key outside the session; exporting everything"
            );
            return Ok(None);
        }
        Ok(manifest)
    }

    /// Uploads bytes `start..start + len` of `file` as `key`: in one request below
    /// [`MULTIPART_THRESHOLD`], else in parts of that size (one part in memory at a time), with
    /// [`Bucket::upload_stream`].
    async fn upload_range(
        &self,
        file: &Arc<File>,
        start: u64,
        len: u64,
        key: &str,
        content_type: &str,
    ) -> Result<(), ExportError> {
        let file = file.clone();
        let parts = futures::stream::try_unfold(0u64, move |offset| {
            let file = file.clone();
            async move {
                if offset >= len {
                    return Ok(None);
                }
                let n = (len - offset).min(MULTIPART_THRESHOLD);
                let buf = read_range(&file, start + offset, n)
                    .await
                    .map_err(|e| UploadError::Body(e.to_string()))?;
                Ok(Some((Bytes::from(buf), offset + n)))
            }
        });
        match self
            .bucket
            .upload_stream(key, content_type, Box::pin(parts), len)
            .await
        {
            Ok(_) => Ok(()),
            Err(UploadError::Store(e)) => Err(e.into()),
            // The workspace file could not be read (or changed size under us).
            Err(e) => Err(ExportError::Io(std::io::Error::other(e.to_string()))),
        }
    }
}

/// A JSON error of the previous export's objects is [`ExportError::Manifest`]; anything else
/// is the store's.
fn unreadable(e: objstore::Error) -> ExportError {
    match e {
        objstore::Error::Json { .. } => ExportError::Manifest(e.to_string()),
        e => ExportError::Store(e),
    }
}

/// Whether a name is left out of exports.
pub fn is_ignored(name: &str, ignore_dot_files: bool) -> bool {
    IGNORED_NAMES.contains(&name) || (ignore_dot_files && name.starts_with('.'))
}

/// A content type from the file name's extension.
pub fn content_type(path: &str) -> &'static str {
    let ext = path
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "txt" | "log" => "text/plain; charset=utf-8",
        "md" | "markdown" => "text/markdown; charset=utf-8",
        "html" | "htm" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "csv" => "text/csv; charset=utf-8",
        "js" | "mjs" | "cjs" => "text/javascript; charset=utf-8",
        "ts" | "tsx" | "jsx" | "py" | "rs" | "go" | "java" | "c" | "h" | "cpp" | "sh" | "toml"
        | "yaml" | "yml" | "ini" | "sql" => "text/plain; charset=utf-8",
        "json" => "application/json",
        "xml" => "application/xml",
        "pdf" => "application/pdf",
        "zip" => "application/zip",
        "gz" | "tgz" => "application/gzip",
        "tar" => "application/x-tar",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "svg" => "image/svg+xml",
        "webp" => "image/webp",
        "wasm" => "application/wasm",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ignored_names() {
        assert!(is_ignored(".git", false));
        assert!(is_ignored("node_modules", false));
        assert!(!is_ignored(".env", false));
        assert!(is_ignored(".env", true));
        assert!(!is_ignored("src", true));
    }
}
