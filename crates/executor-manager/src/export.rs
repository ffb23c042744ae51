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
use protocol::files::{Manifest, ManifestChange, ManifestEntry};
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
        let archive = tokio::task::spawn_blocking(move || write_zip(&list))
            .await
            .map_err(|e| ExportError::Io(std::io::Error::other(e.to_string())))??;
        let archive_size = archive.as_file().metadata()?.len();
        self.upload_file(
            archive.path(),
            &archive_key,
            "application/zip",
            archive_size,
        )
        .await?;
        uploaded_bytes += archive_size;

        let manifest = Manifest {
            user_id: target.user_id,
            run_id: target.run_id,
            session_id: target.session_id,
            previous_run_id: previous.as_ref().map(|m| m.run_id),
            created_at: Utc::now(),
            files,
            deleted,
            archive_key: archive_key.clone(),
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
fn write_zip(files: &[(PathBuf, String)]) -> Result<tempfile::NamedTempFile, ExportError> {
    let mut out = tempfile::NamedTempFile::new()?;
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
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

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
