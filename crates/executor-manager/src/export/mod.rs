//! Workspace export to S3 at the end of every run.
//!
//! Layout under `S3_BUCKET` (one session's workspace, `P = workspaces/{session_id}`; session ids
//! are unique, and short keys stay within every store's limits):
//!
//! ```text
//! P/latest.json                       {"run_id", "manifest_key"} of the last export
//! P/runs/{run_id}/manifest.json       every file: path, key, size, sha256, content_type, change
//!                                     (`protocol::files::Manifest`, read back by the backend)
//! P/runs/{run_id}/archive.zip         the whole workspace (stored, not compressed; ZIP64 when
//!                                     it needs to be)
//! P/runs/{run_id}/files/{path}        files added or modified by this run
//! ```
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
//! [`MULTIPART_THRESHOLD`] on. Ignored: [`IGNORED_NAMES`] anywhere in a path, and with
//! `WORKSPACE_IGNORE_DOT_FILES` every name starting with a dot.

mod parts;
mod scan;
mod zip;

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use aws_sdk_s3::Client;
use aws_sdk_s3::config::{
    BehaviorVersion, Credentials, Region, RequestChecksumCalculation, ResponseChecksumValidation,
};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use chrono::Utc;
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

/// Files at least this large are uploaded in parts of this size.
pub const MULTIPART_THRESHOLD: u64 = 8 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("reading the workspace: {0}")]
    Io(#[from] std::io::Error),
    #[error(
        "the workspace {0} is a symbolic link or not a directory; not exported (links are never followed)"
    )]
    UnsafeRoot(PathBuf),
    #[error("S3 {op} failed: {message}")]
    S3 { op: &'static str, message: String },
    #[error("the previous manifest is unreadable: {0}")]
    Manifest(String),
}

fn s3_err<E: std::fmt::Debug>(op: &'static str) -> impl FnOnce(E) -> ExportError {
    move |e| ExportError::S3 {
        op,
        // The SDK's Display is terse ("service error"); Debug names the S3 error code.
        message: format!("{e:?}").chars().take(500).collect(),
    }
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
}

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

impl ExportTarget {
    fn prefix(&self) -> String {
        format!("workspaces/{}", self.session_id)
    }
    fn run_prefix(&self) -> String {
        format!("{}/runs/{}", self.prefix(), self.run_id)
    }
}

#[derive(Clone)]
pub struct Exporter {
    client: Client,
    bucket: String,
    ignore_dot_files: bool,
}

impl Exporter {
    pub fn new(s3: &S3Settings, ignore_dot_files: bool) -> Self {
        let config = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(s3.region.clone()))
            .endpoint_url(&s3.endpoint)
            .credentials_provider(Credentials::new(
                s3.access_key.expose(),
                s3.secret_key.expose(),
                None,
                None,
                "workcell-settings",
            ))
            .force_path_style(s3.force_path_style)
            // S3-compatible stores (R2, RustFS, s3s) differ in their support of the newer
            // default checksums; send them only where the API requires them.
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .response_checksum_validation(ResponseChecksumValidation::WhenRequired)
            .build();
        Self {
            client: Client::from_conf(config),
            bucket: s3.bucket.clone(),
            ignore_dot_files,
        }
    }

    /// Whether the bucket is reachable with these credentials (`HeadBucket`), for readiness.
    pub async fn check(&self) -> Result<(), String> {
        self.client
            .head_bucket()
            .bucket(&self.bucket)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| match e.as_service_error() {
                Some(s) => format!("bucket {}: {s:?}", self.bucket),
                None => format!("unreachable: {e}"),
            })
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn bucket(&self) -> &str {
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

        let run_prefix = target.run_prefix();
        let mut files = Vec::with_capacity(scanned.len());
        let mut uploaded_bytes = 0;
        for f in &scanned {
            let (change, key) = match before.get(f.path.as_str()) {
                Some(old) if old.sha256 == f.sha256 => (ManifestChange::Unchanged, old.key.clone()),
                Some(_) => (
                    ManifestChange::Modified,
                    format!("{run_prefix}/files/{}", f.path),
                ),
                None => (
                    ManifestChange::Added,
                    format!("{run_prefix}/files/{}", f.path),
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

        let archive_key = format!("{run_prefix}/archive.zip");
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
        let manifest_key = format!("{run_prefix}/manifest.json");
        self.put_json(&manifest_key, &manifest).await?;
        self.put_json(
            &format!("{}/latest.json", target.prefix()),
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
        })
    }

    async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        key: &str,
    ) -> Result<Option<T>, ExportError> {
        let res = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await;
        let out = match res {
            Ok(o) => o,
            Err(e) => {
                let service = e.into_service_error();
                if service.is_no_such_key() {
                    return Ok(None);
                }
                return Err(s3_err("GetObject")(service));
            }
        };
        let bytes = out
            .body
            .collect()
            .await
            .map_err(s3_err("GetObject body"))?
            .into_bytes();
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| ExportError::Manifest(format!("{key}: {e}")))
    }

    /// The manifest of the session's last export, if any.
    async fn previous_manifest(&self, t: &ExportTarget) -> Result<Option<Manifest>, ExportError> {
        let Some(latest) = self
            .get_json::<Latest>(&format!("{}/latest.json", t.prefix()))
            .await?
        else {
            return Ok(None);
        };
        self.get_json(&latest.manifest_key).await
    }

    async fn put_json<T: Serialize>(&self, key: &str, value: &T) -> Result<(), ExportError> {
        let body =
            serde_json::to_vec_pretty(value).map_err(|e| ExportError::Manifest(e.to_string()))?;
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type("application/json")
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(s3_err("PutObject"))?;
        Ok(())
    }

    /// Uploads bytes `start..start + len` of `file` as `key`: in one request below
    /// [`MULTIPART_THRESHOLD`], else in parts of that size (one part in memory at a time).
    async fn upload_range(
        &self,
        file: &Arc<File>,
        start: u64,
        len: u64,
        key: &str,
        content_type: &str,
    ) -> Result<(), ExportError> {
        if len < MULTIPART_THRESHOLD {
            let body = read_range(file, start, len).await?;
            self.client
                .put_object()
                .bucket(&self.bucket)
                .key(key)
                .content_type(content_type)
                .body(ByteStream::from(body))
                .send()
                .await
                .map_err(s3_err("PutObject"))?;
            return Ok(());
        }
        let created = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .send()
            .await
            .map_err(s3_err("CreateMultipartUpload"))?;
        let upload_id = created.upload_id().unwrap_or_default().to_owned();
        let result = async {
            let mut parts = Vec::new();
            let mut offset = 0;
            let mut number = 1;
            while offset < len {
                let n = (len - offset).min(MULTIPART_THRESHOLD);
                let buf = read_range(file, start + offset, n).await?;
                let part = self
                    .client
                    .upload_part()
                    .bucket(&self.bucket)
                    .key(key)
                    .upload_id(&upload_id)
                    .part_number(number)
                    .body(ByteStream::from(buf))
                    .send()
                    .await
                    .map_err(s3_err("UploadPart"))?;
                parts.push(
                    CompletedPart::builder()
                        .part_number(number)
                        .set_e_tag(part.e_tag().map(str::to_owned))
                        .build(),
                );
                offset += n;
                number += 1;
            }
            self.complete(key, &upload_id, parts).await
        }
        .await;
        if result.is_err() {
            self.abort(key, &upload_id).await;
        }
        result
    }

    async fn complete(
        &self,
        key: &str,
        upload_id: &str,
        parts: Vec<CompletedPart>,
    ) -> Result<(), ExportError> {
        self.client
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .send()
            .await
            .map_err(s3_err("CompleteMultipartUpload"))?;
        Ok(())
    }

    async fn abort(&self, key: &str, upload_id: &str) {
        let _ = self
            .client
            .abort_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .send()
            .await;
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
