//! Workspace export to S3 at the end of every run.
//!
//! Layout under `S3_BUCKET` (one session's workspace, `P = workspaces/{session_id}`; session ids
//! are unique, and short keys stay within every store's limits):
//!
//! ```text
//! P/latest.json                       {"run_id", "manifest_key"} of the last export
//! P/runs/{run_id}/manifest.json       every file: path, key, size, sha256, content_type, change
//!                                     (`protocol::files::Manifest`, read back by the backend)
//! P/runs/{run_id}/archive.zip         the whole workspace (stored, not compressed)
//! P/runs/{run_id}/files/{path}        files added or modified by this run
//! ```
//!
//! Files whose sha256 did not change since the previous run's manifest are not uploaded again:
//! their entry keeps the earlier run's key. Files larger than [`MULTIPART_THRESHOLD`] go up in
//! parts. Ignored: [`IGNORED_NAMES`] anywhere in a path, and with `WORKSPACE_IGNORE_DOT_FILES`
//! every name starting with a dot. Symbolic links are not followed.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use aws_sdk_s3::Client;
use aws_sdk_s3::config::{
    BehaviorVersion, Credentials, Region, RequestChecksumCalculation, ResponseChecksumValidation,
};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use chrono::Utc;
use protocol::files::{ArchiveSpan, Manifest, ManifestChange, ManifestEntry};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::config::S3Settings;

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

/// The archive is a plain (not ZIP64) zip: at most this much in all.
const MAX_ARCHIVE_BYTES: u64 = u32::MAX as u64 - 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("reading the workspace: {0}")]
    Io(#[from] std::io::Error),
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
                &s3.access_key,
                &s3.secret_key,
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
        let scanned = tokio::task::spawn_blocking(move || scan(&root, ignore_dots))
            .await
            .map_err(|e| ExportError::Io(std::io::Error::other(e.to_string())))??;

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
                self.upload_file(&f.abs, &key, &f.content_type, f.size)
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
        let deleted: Vec<String> = before
            .keys()
            .filter(|p| !scanned.iter().any(|f| f.path == **p))
            .map(|p| (*p).to_owned())
            .collect();

        // The archive, built in a temporary file.
        let archive_key = format!("{run_prefix}/archive.zip");
        let list: Vec<(PathBuf, String)> = scanned
            .iter()
            .map(|f| (f.abs.clone(), f.path.clone()))
            .collect();
        let (archive, offsets) = tokio::task::spawn_blocking(move || write_zip(&list))
            .await
            .map_err(|e| ExportError::Io(std::io::Error::other(e.to_string())))??;
        let archive_size = archive.as_file().metadata()?.len();
        let archive_spans: Vec<ArchiveSpan> = scanned
            .iter()
            .zip(offsets)
            .map(|(f, (start, end))| ArchiveSpan {
                path: f.path.clone(),
                sha256: f.sha256.clone(),
                start,
                end,
            })
            .collect();
        uploaded_bytes += self
            .upload_archive(
                archive.path(),
                &archive_key,
                archive_size,
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

    /// Uploads `archive.zip`, copying the stretches it shares with the previous run's archive
    /// inside the store (see [`plan_archive_parts`]); falls back to a plain upload when there is
    /// nothing to copy or the copy fails. Returns the bytes sent.
    async fn upload_archive(
        &self,
        path: &Path,
        key: &str,
        size: u64,
        spans: &[ArchiveSpan],
        previous: Option<&Manifest>,
    ) -> Result<u64, ExportError> {
        if let Some(prev) = previous
            && size >= MULTIPART_THRESHOLD
            && !prev.archive_spans.is_empty()
        {
            let parts = plan_archive_parts(spans, &prev.archive_spans, size);
            if parts.iter().any(|p| matches!(p, ArchivePart::Copy { .. })) {
                match self
                    .upload_with_copies(path, key, &prev.archive_key, &parts)
                    .await
                {
                    Ok(sent) => return Ok(sent),
                    Err(e) => tracing::warn!(
                        error = %e,
                        "copying from the previous archive failed; uploading it whole"
                    ),
                }
            }
        }
        self.upload_file(path, key, "application/zip", size).await?;
        Ok(size)
    }

    async fn upload_with_copies(
        &self,
        path: &Path,
        key: &str,
        source_key: &str,
        parts: &[ArchivePart],
    ) -> Result<u64, ExportError> {
        let created = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .content_type("application/zip")
            .send()
            .await
            .map_err(s3_err("CreateMultipartUpload"))?;
        let upload_id = created.upload_id().unwrap_or_default().to_owned();
        let result = async {
            use tokio::io::{AsyncReadExt, AsyncSeekExt};
            let mut file = tokio::fs::File::open(path).await?;
            let mut done = Vec::with_capacity(parts.len());
            let mut sent = 0;
            for (i, part) in parts.iter().enumerate() {
                let number = i32::try_from(i + 1).unwrap_or(i32::MAX);
                let e_tag = match *part {
                    ArchivePart::Upload { start, end } => {
                        let mut buf = vec![0u8; (end - start) as usize];
                        file.seek(std::io::SeekFrom::Start(start)).await?;
                        file.read_exact(&mut buf).await?;
                        sent += end - start;
                        self.client
                            .upload_part()
                            .bucket(&self.bucket)
                            .key(key)
                            .upload_id(&upload_id)
                            .part_number(number)
                            .body(ByteStream::from(buf))
                            .send()
                            .await
                            .map_err(s3_err("UploadPart"))?
                            .e_tag()
                            .map(str::to_owned)
                    }
                    ArchivePart::Copy { start, end } => self
                        .client
                        .upload_part_copy()
                        .bucket(&self.bucket)
                        .key(key)
                        .upload_id(&upload_id)
                        .part_number(number)
                        .copy_source(format!("{}/{source_key}", self.bucket))
                        .copy_source_range(format!("bytes={start}-{}", end - 1))
                        .send()
                        .await
                        .map_err(s3_err("UploadPartCopy"))?
                        .copy_part_result()
                        .and_then(|r| r.e_tag())
                        .map(str::to_owned),
                };
                done.push(
                    CompletedPart::builder()
                        .part_number(number)
                        .set_e_tag(e_tag)
                        .build(),
                );
            }
            self.client
                .complete_multipart_upload()
                .bucket(&self.bucket)
                .key(key)
                .upload_id(&upload_id)
                .multipart_upload(
                    CompletedMultipartUpload::builder()
                        .set_parts(Some(done))
                        .build(),
                )
                .send()
                .await
                .map_err(s3_err("CompleteMultipartUpload"))?;
            Ok::<u64, ExportError>(sent)
        }
        .await;
        if result.is_err() {
            let _ = self
                .client
                .abort_multipart_upload()
                .bucket(&self.bucket)
                .key(key)
                .upload_id(&upload_id)
                .send()
                .await;
        }
        result
    }

    async fn upload_file(
        &self,
        path: &Path,
        key: &str,
        content_type: &str,
        size: u64,
    ) -> Result<(), ExportError> {
        if size < MULTIPART_THRESHOLD {
            let body = ByteStream::from_path(path)
                .await
                .map_err(|e| ExportError::Io(std::io::Error::other(e.to_string())))?;
            self.client
                .put_object()
                .bucket(&self.bucket)
                .key(key)
                .content_type(content_type)
                .body(body)
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
        match self.upload_parts(path, key, &upload_id).await {
            Ok(parts) => {
                self.client
                    .complete_multipart_upload()
                    .bucket(&self.bucket)
                    .key(key)
                    .upload_id(&upload_id)
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
            Err(e) => {
                let _ = self
                    .client
                    .abort_multipart_upload()
                    .bucket(&self.bucket)
                    .key(key)
                    .upload_id(&upload_id)
                    .send()
                    .await;
                Err(e)
            }
        }
    }

    async fn upload_parts(
        &self,
        path: &Path,
        key: &str,
        upload_id: &str,
    ) -> Result<Vec<CompletedPart>, ExportError> {
        use tokio::io::AsyncReadExt;
        let mut file = tokio::fs::File::open(path).await?;
        let mut parts = Vec::new();
        let mut number = 1;
        loop {
            let mut buf = Vec::with_capacity(MULTIPART_THRESHOLD as usize);
            (&mut file)
                .take(MULTIPART_THRESHOLD)
                .read_to_end(&mut buf)
                .await?;
            if buf.is_empty() {
                break;
            }
            let done = (buf.len() as u64) < MULTIPART_THRESHOLD;
            let part = self
                .client
                .upload_part()
                .bucket(&self.bucket)
                .key(key)
                .upload_id(upload_id)
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
            number += 1;
            if done {
                break;
            }
        }
        Ok(parts)
    }
}

/// A file found in the workspace.
#[derive(Debug, Clone)]
struct ScannedFile {
    abs: PathBuf,
    path: String,
    size: u64,
    sha256: String,
    content_type: String,
}

/// Whether a name is left out of exports.
pub fn is_ignored(name: &str, ignore_dot_files: bool) -> bool {
    IGNORED_NAMES.contains(&name) || (ignore_dot_files && name.starts_with('.'))
}

/// Every regular file under `root` that is not ignored, sorted by path, hashed.
fn scan(root: &Path, ignore_dot_files: bool) -> Result<Vec<ScannedFile>, ExportError> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else {
                tracing::warn!(path = ?entry.path(), "skipping a name that is not UTF-8");
                continue;
            };
            if is_ignored(name, ignore_dot_files) {
                continue;
            }
            let ft = entry.file_type()?;
            let abs = entry.path();
            if ft.is_dir() {
                stack.push(abs);
            } else if ft.is_file() {
                let rel = abs
                    .strip_prefix(root)
                    .map_err(|e| ExportError::Io(std::io::Error::other(e.to_string())))?;
                let path = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy())
                    .collect::<Vec<_>>()
                    .join("/");
                let (size, sha256) = hash_file(&abs)?;
                out.push(ScannedFile {
                    content_type: content_type(&path).to_owned(),
                    abs,
                    path,
                    size,
                    sha256,
                });
            }
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

fn hash_file(path: &Path) -> std::io::Result<(u64, String)> {
    let mut f = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut size = 0u64;
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        size += n as u64;
    }
    Ok((size, hex::encode(hasher.finalize())))
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

/// CRC-32 (IEEE), as zip wants it.
fn crc32(crc: u32, data: &[u8]) -> u32 {
    const TABLE: [u32; 256] = {
        let mut t = [0u32; 256];
        let mut i = 0;
        while i < 256 {
            let mut c = i as u32;
            let mut k = 0;
            while k < 8 {
                c = if c & 1 != 0 {
                    0xEDB8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
                k += 1;
            }
            t[i] = c;
            i += 1;
        }
        t
    };
    let mut c = !crc;
    for &b in data {
        c = TABLE[((c ^ b as u32) & 0xFF) as usize] ^ (c >> 8);
    }
    !c
}

/// Writes a zip (method "stored") of `files` (absolute path, archive name) into a temporary file.
/// Returns the file and each entry's byte range (local header and data), in `files` order.
#[allow(clippy::type_complexity)]
fn write_zip(
    files: &[(PathBuf, String)],
) -> Result<(tempfile::NamedTempFile, Vec<(u64, u64)>), ExportError> {
    let mut out = tempfile::NamedTempFile::new()?;
    let mut spans = Vec::with_capacity(files.len());
    let mut central = Vec::new();
    let mut offset: u64 = 0;
    let mut count: u16 = 0;
    for (abs, name) in files {
        let data = std::fs::read(abs)?;
        let size = data.len() as u64;
        if offset + size + 30 + name.len() as u64 > MAX_ARCHIVE_BYTES || count == u16::MAX {
            return Err(ExportError::Io(std::io::Error::other(
                "the workspace is too large for archive.zip (4 GiB / 65535 files)",
            )));
        }
        let crc = crc32(0, &data);
        let name_bytes = name.as_bytes();
        let mut local = Vec::with_capacity(30 + name_bytes.len());
        local.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        local.extend_from_slice(&20u16.to_le_bytes()); // version needed
        local.extend_from_slice(&0x0800u16.to_le_bytes()); // UTF-8 names
        local.extend_from_slice(&0u16.to_le_bytes()); // stored
        local.extend_from_slice(&0u16.to_le_bytes()); // time
        local.extend_from_slice(&0x0021u16.to_le_bytes()); // date 1980-01-01
        local.extend_from_slice(&crc.to_le_bytes());
        local.extend_from_slice(&(size as u32).to_le_bytes());
        local.extend_from_slice(&(size as u32).to_le_bytes());
        local.extend_from_slice(&(name_bytes.len() as u16).to_le_bytes());
        local.extend_from_slice(&0u16.to_le_bytes());
        local.extend_from_slice(name_bytes);
        out.write_all(&local)?;
        out.write_all(&data)?;

        central.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
        central.extend_from_slice(&0x031eu16.to_le_bytes()); // made by: unix, 3.0
        central.extend_from_slice(&20u16.to_le_bytes());
        central.extend_from_slice(&0x0800u16.to_le_bytes());
        central.extend_from_slice(&0u16.to_le_bytes());
        central.extend_from_slice(&0u16.to_le_bytes());
        central.extend_from_slice(&0x0021u16.to_le_bytes());
        central.extend_from_slice(&crc.to_le_bytes());
        central.extend_from_slice(&(size as u32).to_le_bytes());
        central.extend_from_slice(&(size as u32).to_le_bytes());
        central.extend_from_slice(&(name_bytes.len() as u16).to_le_bytes());
        central.extend_from_slice(&0u16.to_le_bytes()); // extra
        central.extend_from_slice(&0u16.to_le_bytes()); // comment
        central.extend_from_slice(&0u16.to_le_bytes()); // disk
        central.extend_from_slice(&0u16.to_le_bytes()); // internal attrs
        central.extend_from_slice(&(0o100644u32 << 16).to_le_bytes()); // external attrs
        central.extend_from_slice(&(offset as u32).to_le_bytes());
        central.extend_from_slice(name_bytes);

        spans.push((offset, offset + local.len() as u64 + size));
        offset += local.len() as u64 + size;
        count += 1;
    }
    let mut end = Vec::with_capacity(22);
    end.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    end.extend_from_slice(&0u16.to_le_bytes());
    end.extend_from_slice(&0u16.to_le_bytes());
    end.extend_from_slice(&count.to_le_bytes());
    end.extend_from_slice(&count.to_le_bytes());
    end.extend_from_slice(&(central.len() as u32).to_le_bytes());
    end.extend_from_slice(&(offset as u32).to_le_bytes());
    end.extend_from_slice(&0u16.to_le_bytes());
    out.write_all(&central)?;
    out.write_all(&end)?;
    out.flush()?;
    Ok((out, spans))
}

/// The smallest part S3 accepts (but for the last one).
const MIN_PART: u64 = 5 * 1024 * 1024;

/// One part of the archive's multipart upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ArchivePart {
    /// Bytes `start..end` of the new archive, uploaded.
    Upload { start: u64, end: u64 },
    /// Bytes `start..end` of the previous archive, copied inside the store.
    Copy { start: u64, end: u64 },
}

/// Splits the new archive into parts: stretches of consecutive entries that were consecutive,
/// with the same path and content, in the previous archive are copied from it (their bytes are
/// identical: the local header holds only the name, sizes, CRC and a fixed date); everything
/// else, and stretches too short for a part of their own, is uploaded. Parts other than the last
/// are at least [`MIN_PART`]; uploaded parts are at most about `2 * MULTIPART_THRESHOLD`.
fn plan_archive_parts(new: &[ArchiveSpan], old: &[ArchiveSpan], total: u64) -> Vec<ArchivePart> {
    /// `start..end` of the new archive; `old`: where the same bytes start in the previous one.
    struct Segment {
        start: u64,
        end: u64,
        old: Option<u64>,
    }
    let before: BTreeMap<&str, &ArchiveSpan> = old.iter().map(|s| (s.path.as_str(), s)).collect();
    let mut segments: Vec<Segment> = Vec::new();
    let mut push = |start: u64, end: u64, old: Option<u64>| {
        if let Some(last) = segments.last_mut()
            && last.end == start
        {
            let contiguous = match (last.old, old) {
                (None, None) => true,
                (Some(lo), Some(o)) => lo + (last.end - last.start) == o,
                _ => false,
            };
            if contiguous {
                last.end = end;
                return;
            }
        }
        segments.push(Segment { start, end, old });
    };
    let mut cursor = 0;
    for s in new {
        if s.start > cursor {
            push(cursor, s.start, None);
        }
        let from_old = before
            .get(s.path.as_str())
            .filter(|o| o.sha256 == s.sha256 && o.end - o.start == s.end - s.start)
            .map(|o| o.start);
        push(s.start, s.end, from_old);
        cursor = s.end;
    }
    if total > cursor {
        push(cursor, total, None);
    }

    let mut parts = Vec::new();
    // Bytes of the new archive waiting to be uploaded: always one contiguous range.
    let mut pending: Option<(u64, u64)> = None;
    fn flush(parts: &mut Vec<ArchivePart>, pending: &mut Option<(u64, u64)>) {
        let Some((mut start, end)) = pending.take() else {
            return;
        };
        while end - start > MULTIPART_THRESHOLD + MIN_PART {
            parts.push(ArchivePart::Upload {
                start,
                end: start + MULTIPART_THRESHOLD,
            });
            start += MULTIPART_THRESHOLD;
        }
        parts.push(ArchivePart::Upload { start, end });
    }
    let extend = |pending: &mut Option<(u64, u64)>, start: u64, end: u64| {
        *pending = Some(match *pending {
            Some((s, _)) => (s, end),
            None => (start, end),
        });
    };
    for seg in segments {
        let (mut start, end) = (seg.start, seg.end);
        let Some(mut old_start) = seg.old else {
            extend(&mut pending, start, end);
            continue;
        };
        // An uploaded part before a copied one must reach the minimum: take bytes from the copy.
        if let Some((ps, pe)) = pending
            && pe - ps < MIN_PART
        {
            let take = (MIN_PART - (pe - ps)).min(end - start);
            extend(&mut pending, start, start + take);
            start += take;
            old_start += take;
        }
        if end - start >= MIN_PART {
            flush(&mut parts, &mut pending);
            parts.push(ArchivePart::Copy {
                start: old_start,
                end: old_start + (end - start),
            });
        } else if end > start {
            extend(&mut pending, start, end);
        }
    }
    flush(&mut parts, &mut pending);
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(path: &str, sha: &str, start: u64, len: u64) -> ArchiveSpan {
        ArchiveSpan {
            path: path.into(),
            sha256: sha.into(),
            start,
            end: start + len,
        }
    }

    #[test]
    fn archive_parts_copy_unchanged_stretches_and_respect_the_minimum() {
        const M: u64 = 1024 * 1024;
        // Ten 3 MiB entries; the fifth changes (same size), then the central directory.
        let old: Vec<ArchiveSpan> = (0..10)
            .map(|i| span(&format!("f{i}"), "a", i * 3 * M, 3 * M))
            .collect();
        let mut new = old.clone();
        new[4].sha256 = "b".into();
        let total = 30 * M + 1000;
        let parts = plan_archive_parts(&new, &old, total);
        assert_eq!(
            parts,
            vec![
                ArchivePart::Copy {
                    start: 0,
                    end: 12 * M
                },
                // The changed entry plus 2 MiB of the next, to reach the 5 MiB minimum.
                ArchivePart::Upload {
                    start: 12 * M,
                    end: 17 * M
                },
                ArchivePart::Copy {
                    start: 17 * M,
                    end: 30 * M
                },
                ArchivePart::Upload {
                    start: 30 * M,
                    end: total
                },
            ]
        );
        // Every byte exactly once, in order; every part but the last at least the minimum.
        let mut cursor = 0;
        for (i, p) in parts.iter().enumerate() {
            let (s, e) = match *p {
                ArchivePart::Upload { start, end } | ArchivePart::Copy { start, end } => {
                    (start, end)
                }
            };
            assert_eq!(s, cursor);
            assert!(i == parts.len() - 1 || e - s >= MIN_PART, "{p:?}");
            cursor = e;
        }
        assert_eq!(cursor, total);

        // A size change shifts what follows: copies come from the old offsets.
        let mut grown = old.clone();
        grown[0] = span("f0", "c", 0, 4 * M);
        for (i, s) in grown.iter_mut().enumerate().skip(1) {
            s.start = M + i as u64 * 3 * M;
            s.end = s.start + 3 * M;
        }
        let parts = plan_archive_parts(&grown, &old, 31 * M + 10);
        assert_eq!(
            parts,
            vec![
                ArchivePart::Upload {
                    start: 0,
                    end: 5 * M
                },
                ArchivePart::Copy {
                    start: 4 * M,
                    end: 30 * M
                },
                ArchivePart::Upload {
                    start: 31 * M,
                    end: 31 * M + 10
                },
            ]
        );
        // Nothing in common: one upload (split in parts of the threshold size).
        let parts = plan_archive_parts(&new, &[], total);
        assert!(
            parts
                .iter()
                .all(|p| matches!(p, ArchivePart::Upload { .. }))
        );
    }

    #[test]
    fn crc32_matches_the_reference() {
        assert_eq!(crc32(0, b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(0, b""), 0);
    }

    #[test]
    fn ignored_names() {
        assert!(is_ignored(".git", false));
        assert!(is_ignored("node_modules", false));
        assert!(!is_ignored(".env", false));
        assert!(is_ignored(".env", true));
        assert!(!is_ignored("src", true));
    }

    #[test]
    fn scan_skips_ignored_and_dot_files() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("src/.cache")).unwrap();
        std::fs::create_dir_all(root.join(".git")).unwrap();
        std::fs::write(root.join("src/main.rs"), "fn main() {}").unwrap();
        std::fs::write(root.join("src/.cache/x"), "x").unwrap();
        std::fs::write(root.join(".git/config"), "x").unwrap();
        std::fs::write(root.join(".env"), "SECRET=1").unwrap();
        std::fs::write(root.join("a.md"), "# a").unwrap();
        let paths = |dots| -> Vec<String> {
            scan(root, dots)
                .unwrap()
                .into_iter()
                .map(|f| f.path)
                .collect()
        };
        assert_eq!(paths(true), vec!["a.md", "src/main.rs"]);
        assert_eq!(
            paths(false),
            vec![".env", "a.md", "src/.cache/x", "src/main.rs"]
        );
        let f = &scan(root, true).unwrap()[0];
        assert_eq!(f.size, 3);
        assert_eq!(f.content_type, "text/markdown; charset=utf-8");
        assert_eq!(f.sha256, hex::encode(Sha256::digest(b"# a")));
    }
}
