//! The archive's multipart upload: stretches of `archive.zip` that are byte for byte in the
//! previous run's archive are copied inside the store (`UploadPartCopy`) instead of uploaded.
//!
//! Why this is correct: an entry's bytes (local header and data) depend only on its name, size
//! and content ([`super::zip`]), so a run of consecutive entries that were consecutive, with the
//! same paths and SHA-256, in the previous archive is the same bytes there.

use std::collections::BTreeMap;
use std::fs::File;
use std::sync::Arc;

use bytes::Bytes;
use protocol::files::{ArchiveSpan, Manifest};

use super::{ExportError, Exporter, MULTIPART_THRESHOLD, read_range};

impl Exporter {
    /// Uploads `archive.zip`, copying the stretches it shares with the previous run's archive
    /// inside the store (see [`plan_archive_parts`]); falls back to a plain upload when there is
    /// nothing to copy or the copy fails. Returns the bytes sent.
    pub(super) async fn upload_archive(
        &self,
        archive: &Arc<File>,
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
                    .upload_with_copies(archive, key, &prev.archive_key, &parts)
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
        self.upload_range(archive, 0, size, key, "application/zip")
            .await?;
        Ok(size)
    }

    async fn upload_with_copies(
        &self,
        archive: &Arc<File>,
        key: &str,
        source_key: &str,
        parts: &[ArchivePart],
    ) -> Result<u64, ExportError> {
        let mut upload = self.bucket.start_multipart(key, "application/zip").await?;
        let sent = async {
            let mut sent = 0;
            for part in parts {
                match *part {
                    ArchivePart::Upload { start, end } => {
                        let buf = read_range(archive, start, end - start).await?;
                        upload.upload_part(Bytes::from(buf)).await?;
                        sent += end - start;
                    }
                    ArchivePart::Copy { start, end } => {
                        upload.copy_part(source_key, start, end).await?;
                    }
                }
            }
            Ok::<u64, ExportError>(sent)
        }
        .await;
        match sent {
            Ok(sent) => {
                upload.complete().await?;
                Ok(sent)
            }
            Err(e) => {
                upload.abort().await;
                Err(e)
            }
        }
    }
}

/// The smallest part S3 accepts (but for the last one).
const MIN_PART: u64 = 5 * 1024 * 1024;

/// One part of the archive's multipart upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ArchivePart {
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
pub(super) fn plan_archive_parts(
    new: &[ArchiveSpan],
    old: &[ArchiveSpan],
    total: u64,
) -> Vec<ArchivePart> {
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
}
