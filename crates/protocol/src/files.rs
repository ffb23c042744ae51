//! Workspace files: the export manifest the executor manager writes to S3, the run's files as the
//! public API serves them (with presigned URLs), and attachments users upload for their tasks.
//!
//! Object keys appear only in [`Manifest`] (written and read by the services); the browser gets
//! presigned URLs, never keys it could send back.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use ts_rs::TS;
use uuid::Uuid;

use crate::internal::ExportStatus;

/// How a file changed against the previous run's export of the same session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ManifestChange {
    Added,
    Modified,
    Unchanged,
    Deleted,
}

/// One exported file in `manifest.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ManifestEntry {
    /// Relative to the workspace, `/`-separated.
    pub path: String,
    /// The object holding its content (an earlier run's of the same session for unchanged files).
    pub key: String,
    pub size: u64,
    pub sha256: String,
    pub content_type: String,
    pub change: ManifestChange,
}

/// `manifest.json`, written under the run's prefix at the end of every run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Manifest {
    pub user_id: Uuid,
    pub run_id: Uuid,
    pub session_id: Uuid,
    pub previous_run_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub files: Vec<ManifestEntry>,
    /// Paths in the previous manifest that are gone.
    pub deleted: Vec<String>,
    pub archive_key: String,
    /// Where each file's zip entry (local header and data) lies in `archive.zip`, in archive
    /// order: the next export copies unchanged stretches of it inside the store
    /// (`UploadPartCopy`) instead of uploading them again. Empty in older manifests.
    #[serde(default)]
    pub archive_spans: Vec<ArchiveSpan>,
}

/// One file's entry in `archive.zip`: bytes `start..end`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ArchiveSpan {
    pub path: String,
    pub sha256: String,
    pub start: u64,
    pub end: u64,
}

/// One file of a run, as `GET /runs/{id}/files` shows it. A deleted file (the manifest keeps
/// only its path) has `size` 0, empty `sha256` and `content_type`, and no `url`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RunFile {
    pub path: String,
    pub size: u64,
    pub sha256: String,
    pub content_type: String,
    pub change: ManifestChange,
    /// A presigned GET URL; `None` for deleted files.
    pub url: Option<String>,
}

/// `GET /runs/{id}/files`: the run's exported workspace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RunFiles {
    pub run_id: Uuid,
    /// `None` while the export is pending (the run is active or its worker has not reported).
    pub export_status: Option<ExportStatus>,
    /// When the URLs stop working.
    pub expires_at: Option<DateTime<Utc>>,
    /// Files present after the run, then deleted ones (with `url: None`), each sorted by path.
    pub files: Vec<RunFile>,
}

/// `GET /runs/{id}/archive`: a presigned URL of the run's `archive.zip`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ArchiveLink {
    pub run_id: Uuid,
    pub url: String,
    pub expires_at: DateTime<Utc>,
}

/// What a line of a diff hunk is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum DiffLineKind {
    /// In both versions.
    Context,
    /// Only in the run's version.
    Add,
    /// Only in the previous version.
    Remove,
}

/// One line of a diff hunk, with its numbers on each side (1-based).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DiffLine {
    pub kind: DiffLineKind,
    /// Its number in the previous version; `null` for an added line.
    pub old_line: Option<u32>,
    /// Its number in the run's version; `null` for a removed line.
    pub new_line: Option<u32>,
    /// The line without its line break.
    pub text: String,
    /// The line is its file's last and has no line break (`\ No newline at end of file`).
    pub no_newline: bool,
}

/// One hunk: a stretch of changes with up to 3 lines of context on each side. The starts and
/// counts are the unified header's (`@@ -old_start,old_lines +new_start,new_lines @@`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DiffHunk {
    pub old_start: u32,
    pub old_lines: u32,
    pub new_start: u32,
    pub new_lines: u32,
    pub lines: Vec<DiffLine>,
}

/// `GET /runs/{id}/diff?path=`: one file of the run's export against the previous export of the
/// same session (the latest earlier run with a ready export). Compares exported contents, so it
/// covers every change, whichever tool (or shell command) made it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FileDiff {
    pub run_id: Uuid,
    /// The run whose export is the old side; `null` when no earlier run of the session has a
    /// ready export (every file is then `added`).
    pub previous_run_id: Option<Uuid>,
    pub path: String,
    /// `added` (absent before), `deleted` (absent after), `modified` or `unchanged`.
    pub change: ManifestChange,
    /// The previous version's size in bytes; `null` when it is absent.
    pub old_size: Option<u64>,
    /// The run's version's size in bytes; `null` when it is absent.
    pub new_size: Option<u64>,
    /// A side holds a NUL byte or is not UTF-8: no text, no hunks.
    pub binary: bool,
    /// A side is over the diff's size limit (1 MiB): no text, no hunks.
    pub too_large: bool,
    /// The unified diff (`--- a/path`, `+++ b/path`, hunks with 3 lines of context); `null`
    /// when `binary` or `too_large`, empty when nothing changed.
    pub unified: Option<String>,
    /// The same hunks, parsed, for unified and side-by-side views.
    pub hunks: Vec<DiffHunk>,
}

/// An uploaded attachment (`POST /attachments`, multipart field `file`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AttachmentView {
    pub id: Uuid,
    /// The file name as uploaded (sanitised); the run sees it as `inputs/{name}`.
    pub name: String,
    pub size: i64,
    pub content_type: String,
    pub created_at: DateTime<Utc>,
}

/// A git repository to clone into a new session's workspace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct GitRepoRequest {
    /// `https://` URL of the repository (no credentials in it).
    pub url: String,
    #[serde(default)]
    pub branch: Option<String>,
    /// The name of the secret holding the token for a private repository (the user's, else the
    /// system's): it reaches the run's executor only, through `GIT_ASKPASS`.
    #[serde(default)]
    pub token_secret: Option<String>,
}

/// An attachment a claimed run must stage into `inputs/{name}` (the key comes from the
/// backend's attachments table, never from a request).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StagedAttachment {
    pub name: String,
    pub key: String,
    pub size: i64,
}
