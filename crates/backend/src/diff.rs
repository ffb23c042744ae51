//! `GET /runs/{id}/diff?path=`: one file of a run's export against the previous export of its
//! session — the latest earlier run (by queue position) whose export is ready.
//!
//! Both sides come from the manifests in the bucket (read and confined as [`crate::files`] does),
//! never from the run's events, so a file changed by a shell command is diffed like one changed
//! by an edit tool. Each side is read with a cap of [`MAX_DIFF_BYTES`] (a bigger one answers
//! `too_large`, no text); a side with a NUL byte or invalid UTF-8 answers `binary`, no text. The
//! diff is line-based (`similar`, Myers, 3 lines of context), computed off the async threads
//! with a time limit.

use std::time::Duration;

use bytes::Bytes;
use objstore::Bucket;
use protocol::files::{DiffHunk, DiffLine, DiffLineKind, FileDiff, ManifestChange, ManifestEntry};
use similar::{ChangeTag, TextDiff};
use sqlx::PgPool;
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};
use crate::files::{owned_export, read_manifest, request_path};

/// The largest side a diff reads (bigger: `too_large`).
pub const MAX_DIFF_BYTES: u64 = 1024 * 1024;
/// Lines of context around each change.
const CONTEXT: usize = 3;
/// How long the diff algorithm may search for a minimal diff before settling for a coarser one.
const DIFF_TIMEOUT: Duration = Duration::from_secs(2);

/// A side of the diff, as read.
enum Side {
    Absent,
    TooLarge,
    Binary,
    Text(String),
}

/// The previous ready export of the session: (run, manifest key).
async fn previous_export(
    pool: &PgPool,
    session_id: Uuid,
    queue_pos: i64,
) -> ApiResult<Option<(Uuid, String)>> {
    Ok(sqlx::query_as(
        "SELECT p.id, x.manifest_key
           FROM runs p
           JOIN run_exports x ON x.run_id = p.id
          WHERE p.session_id = $1 AND p.queue_pos < $2
            AND x.status = 'ready' AND x.manifest_key IS NOT NULL
          ORDER BY p.queue_pos DESC
          LIMIT 1",
    )
    .bind(session_id)
    .bind(queue_pos)
    .fetch_optional(pool)
    .await?)
}

/// Reads one side: its entry's object, capped.
async fn read_side(
    storage: &Bucket,
    run_id: Uuid,
    entry: Option<&ManifestEntry>,
) -> ApiResult<Side> {
    let Some(entry) = entry else {
        return Ok(Side::Absent);
    };
    if entry.size > MAX_DIFF_BYTES {
        return Ok(Side::TooLarge);
    }
    let bytes: Bytes = match storage.get(&entry.key, MAX_DIFF_BYTES).await {
        Ok(Some(b)) => b,
        // The manifest's size was wrong: the object itself is over the cap.
        Err(objstore::Error::TooLarge { .. }) => return Ok(Side::TooLarge),
        Ok(None) => {
            return Err(ApiError::Internal(format!(
                "run {run_id}: the object {} of `{}` is missing from the bucket",
                entry.key, entry.path
            )));
        }
        Err(e) => return Err(e.into()),
    };
    if bytes.contains(&0) {
        return Ok(Side::Binary);
    }
    match String::from_utf8(bytes.to_vec()) {
        Ok(text) => Ok(Side::Text(text)),
        Err(_) => Ok(Side::Binary),
    }
}

/// `GET /runs/{id}/diff?path=`: 404 unless the run is `user`'s, its export is ready and `path` is
/// a file of it or of the previous export; 422 for a path that is not a normalised relative one.
pub async fn run_diff(
    pool: &PgPool,
    storage: &Bucket,
    user: Uuid,
    run_id: Uuid,
    raw_path: &str,
) -> ApiResult<FileDiff> {
    let path = request_path(raw_path, false)?;
    let row = owned_export(pool, user, run_id).await?;
    let Some(manifest_key) = row.ready_manifest() else {
        return Err(ApiError::NotFound("export"));
    };
    let manifest = read_manifest(storage, run_id, row.session_id, manifest_key).await?;
    let previous = match previous_export(pool, row.session_id, row.queue_pos).await? {
        Some((prev_run, prev_key)) => Some(
            read_manifest(storage, prev_run, row.session_id, &prev_key)
                .await
                .map(|m| (prev_run, m))?,
        ),
        None => None,
    };
    let new_entry = manifest.files.iter().find(|e| e.path == path);
    let old_entry = previous
        .as_ref()
        .and_then(|(_, m)| m.files.iter().find(|e| e.path == path));
    if new_entry.is_none() && old_entry.is_none() {
        return Err(ApiError::NotFound("file"));
    }
    let old = read_side(storage, run_id, old_entry).await?;
    let new = read_side(storage, run_id, new_entry).await?;

    let mut diff = FileDiff {
        run_id,
        previous_run_id: previous.as_ref().map(|(id, _)| *id),
        path: path.clone(),
        change: match (old_entry, new_entry) {
            (None, _) => ManifestChange::Added,
            (_, None) => ManifestChange::Deleted,
            (Some(o), Some(n)) if o.size == n.size && o.sha256 == n.sha256 => {
                ManifestChange::Unchanged
            }
            _ => ManifestChange::Modified,
        },
        old_size: old_entry.map(|e| e.size),
        new_size: new_entry.map(|e| e.size),
        binary: false,
        too_large: false,
        unified: None,
        hunks: Vec::new(),
    };
    let (old_text, new_text) = match (old, new) {
        (Side::TooLarge, _) | (_, Side::TooLarge) => {
            diff.too_large = true;
            return Ok(diff);
        }
        (Side::Binary, _) | (_, Side::Binary) => {
            diff.binary = true;
            return Ok(diff);
        }
        (old, new) => (text_of(old), text_of(new)),
    };
    // The contents decide between modified and unchanged (a manifest's hashes only describe).
    if diff.change == ManifestChange::Unchanged || diff.change == ManifestChange::Modified {
        diff.change = if old_text == new_text {
            ManifestChange::Unchanged
        } else {
            ManifestChange::Modified
        };
    }
    let sides = (old_entry.is_some(), new_entry.is_some());
    let (unified, hunks) = tokio::task::spawn_blocking(move || {
        let unified = unified_diff(&old_text, &new_text, &path, sides);
        let hunks = hunks(&old_text, &new_text);
        (unified, hunks)
    })
    .await
    .map_err(|e| ApiError::Internal(format!("the diff task failed: {e}")))?;
    diff.unified = Some(unified);
    diff.hunks = hunks;
    Ok(diff)
}

fn text_of(side: Side) -> String {
    match side {
        Side::Text(t) => t,
        _ => String::new(),
    }
}

fn line_diff<'a>(old: &'a str, new: &'a str) -> TextDiff<'a, 'a, str> {
    TextDiff::configure()
        .timeout(DIFF_TIMEOUT)
        .diff_lines(old, new)
}

/// The unified diff text (`--- a/path`, `+++ b/path`, hunks); empty when nothing changed. A side
/// that is absent (`present.0`: the old one, `present.1`: the new one) is `/dev/null`, as git
/// writes it.
pub fn unified_diff(old: &str, new: &str, path: &str, present: (bool, bool)) -> String {
    if old == new {
        return String::new();
    }
    let a = if !present.0 {
        "/dev/null".to_owned()
    } else {
        format!("a/{path}")
    };
    let b = if !present.1 {
        "/dev/null".to_owned()
    } else {
        format!("b/{path}")
    };
    line_diff(old, new)
        .unified_diff()
        .context_radius(CONTEXT)
        .header(&a, &b)
        .to_string()
}

fn number(index: Option<usize>) -> Option<u32> {
    index.and_then(|i| u32::try_from(i + 1).ok())
}

/// The unified header's start of a range: 1-based, or the line before an empty range.
fn header_start(start: usize, len: usize) -> u32 {
    let start = if len == 0 { start } else { start + 1 };
    u32::try_from(start).unwrap_or(u32::MAX)
}

/// The hunks of the line diff, with line numbers on both sides.
pub fn hunks(old: &str, new: &str) -> Vec<DiffHunk> {
    let diff = line_diff(old, new);
    diff.grouped_ops(CONTEXT)
        .into_iter()
        .filter(|ops| !ops.is_empty())
        .map(|ops| {
            let (first, last) = (&ops[0], &ops[ops.len() - 1]);
            let old_range = first.old_range().start..last.old_range().end;
            let new_range = first.new_range().start..last.new_range().end;
            let lines = ops
                .iter()
                .flat_map(|op| diff.iter_changes(op))
                .map(|change| {
                    let value = change.value();
                    let no_newline = change.missing_newline();
                    let text = value
                        .strip_suffix('\n')
                        .map(|t| t.strip_suffix('\r').unwrap_or(t))
                        .unwrap_or(value);
                    DiffLine {
                        kind: match change.tag() {
                            ChangeTag::Equal => DiffLineKind::Context,
                            ChangeTag::Insert => DiffLineKind::Add,
                            ChangeTag::Delete => DiffLineKind::Remove,
                        },
                        old_line: number(change.old_index()),
                        new_line: number(change.new_index()),
                        text: text.to_owned(),
                        no_newline,
                    }
                })
                .collect();
            DiffHunk {
                old_start: header_start(old_range.start, old_range.len()),
                old_lines: u32::try_from(old_range.len()).unwrap_or(u32::MAX),
                new_start: header_start(new_range.start, new_range.len()),
                new_lines: u32::try_from(new_range.len()).unwrap_or(u32::MAX),
                lines,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hunks_number_lines_like_the_unified_header() {
        let old = "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\n";
        let new = "a\nb\nc\nd\nE\nf\ng\nh\ni\nj\nk";
        let text = unified_diff(old, new, "x.txt", (true, true));
        assert!(
            text.starts_with("--- a/x.txt\n+++ b/x.txt\n@@ -2,9 +2,10 @@\n"),
            "{text}"
        );
        assert!(text.contains("\\ No newline at end of file"), "{text}");
        let h = hunks(old, new);
        assert_eq!(h.len(), 1);
        let h = &h[0];
        assert_eq!(
            (h.old_start, h.old_lines, h.new_start, h.new_lines),
            (2, 9, 2, 10)
        );
        let removed: Vec<_> = h
            .lines
            .iter()
            .filter(|l| l.kind == DiffLineKind::Remove)
            .collect();
        assert_eq!(removed.len(), 1);
        assert_eq!((removed[0].old_line, removed[0].new_line), (Some(5), None));
        assert_eq!(removed[0].text, "e");
        let last = h.lines.last().expect("a line");
        assert_eq!(
            (
                last.kind,
                last.new_line,
                last.text.as_str(),
                last.no_newline
            ),
            (DiffLineKind::Add, Some(11), "k", true)
        );
        let first = &h.lines[0];
        assert_eq!(
            (first.kind, first.old_line, first.new_line),
            (DiffLineKind::Context, Some(2), Some(2))
        );
    }

    #[test]
    fn an_added_file_is_one_hunk_from_nothing() {
        let h = hunks("", "one\ntwo\n");
        assert_eq!(h.len(), 1);
        assert_eq!(
            (
                h[0].old_start,
                h[0].old_lines,
                h[0].new_start,
                h[0].new_lines
            ),
            (0, 0, 1, 2)
        );
        assert!(
            unified_diff("", "one\ntwo\n", "n.txt", (false, true))
                .starts_with("--- /dev/null\n+++ b/n.txt\n@@ -0,0 +1,2 @@\n")
        );
        assert!(hunks("same\n", "same\n").is_empty());
        assert_eq!(unified_diff("same\n", "same\n", "s", (true, true)), "");
    }
}
