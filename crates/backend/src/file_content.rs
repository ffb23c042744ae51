//! `GET /runs/{id}/content?path=`: one exported file's bytes, served from this origin so the
//! browser can preview it without the object store's CORS (fetch, `Range` paging, blobs).
//!
//! Agent-made content on the app's own origin is hostile by assumption: it is always answered as
//! `application/octet-stream` with `Content-Disposition: attachment`, `nosniff` and a sandboxing
//! `Content-Security-Policy`, so a browser never renders or runs it as a page of this origin —
//! the UI reads it with `fetch` and decides how to show it. One `Range` (`bytes=a-b`, `a-`, `-n`)
//! is honoured with a 206; several ranges are answered whole (RFC 9110 lets a server ignore
//! them); a range starting past the end is a 416.

use objstore::{Bucket, Download};
use sqlx::PgPool;
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};
use crate::files::{owned_export, read_manifest, request_path};

/// The bytes to send: a whole file, or one range of it.
pub struct FileContent {
    /// The file's name (its path's last segment), for the download name.
    pub name: String,
    /// The whole file's size.
    pub size: u64,
    /// `Some((first, last))` (both included) for a 206; `None` for the whole file.
    pub range: Option<(u64, u64)>,
    pub body: Download,
}

/// A `Range` header read against a file of `size` bytes: `Ok(None)` to send it whole (no header,
/// a header this server does not take — another unit, several ranges — or an empty file),
/// `Ok(Some((first, last)))` for one satisfiable range, 416 for one that starts past the end.
pub fn parse_range(header: Option<&str>, size: u64) -> ApiResult<Option<(u64, u64)>> {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        return Ok(None);
    };
    if spec.contains(',') || size == 0 {
        return Ok(None);
    }
    let Some((a, b)) = spec.trim().split_once('-') else {
        return Ok(None);
    };
    let (a, b) = (a.trim(), b.trim());
    let range = match (a.is_empty(), b.is_empty()) {
        // `-n`: the last n bytes.
        (true, false) => {
            let Ok(n) = b.parse::<u64>() else {
                return Ok(None);
            };
            if n == 0 {
                return Err(ApiError::RangeNotSatisfiable { size });
            }
            (size.saturating_sub(n), size - 1)
        }
        (false, _) => {
            let Ok(first) = a.parse::<u64>() else {
                return Ok(None);
            };
            let last = if b.is_empty() {
                size - 1
            } else {
                match b.parse::<u64>() {
                    Ok(last) if last >= first => last.min(size - 1),
                    _ => return Ok(None),
                }
            };
            if first >= size {
                return Err(ApiError::RangeNotSatisfiable { size });
            }
            (first, last)
        }
        (true, true) => return Ok(None),
    };
    Ok(Some(range))
}

/// The file `raw_path` of `run_id`'s ready export, if the run is `user`'s (404 otherwise, and
/// for a path the export does not hold or before the export).
pub async fn open(
    pool: &PgPool,
    storage: &Bucket,
    user: Uuid,
    run_id: Uuid,
    raw_path: &str,
    range_header: Option<&str>,
) -> ApiResult<FileContent> {
    let path = request_path(raw_path, false)?;
    let row = owned_export(pool, user, run_id).await?;
    let manifest_key = row
        .ready_manifest()
        .ok_or(ApiError::NotFound("file"))?
        .to_owned();
    let manifest = read_manifest(storage, run_id, row.session_id, &manifest_key).await?;
    let entry = manifest
        .files
        .into_iter()
        .find(|e| e.path == path)
        .ok_or(ApiError::NotFound("file"))?;
    let range = parse_range(range_header, entry.size)?;
    let body = match range {
        Some((first, last)) => {
            storage
                .download_range(&entry.key, first, Some(last))
                .await?
        }
        None => storage.download(&entry.key).await?,
    }
    .ok_or_else(|| {
        ApiError::Internal(format!(
            "run {run_id}: the object {} of {path} is missing from the bucket",
            entry.key
        ))
    })?;
    let name = path.rsplit('/').next().unwrap_or(&path).to_owned();
    Ok(FileContent {
        name,
        size: entry.size,
        range,
        body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(r: ApiResult<Option<(u64, u64)>>) -> Option<(u64, u64)> {
        r.unwrap_or_else(|e| panic!("unexpected error {e}"))
    }

    #[test]
    fn ranges_are_read_as_rfc_9110_says() {
        assert_eq!(code(parse_range(None, 10)), None);
        assert_eq!(code(parse_range(Some("bytes=0-3"), 10)), Some((0, 3)));
        assert_eq!(code(parse_range(Some("bytes=4-"), 10)), Some((4, 9)));
        assert_eq!(code(parse_range(Some("bytes=4-100"), 10)), Some((4, 9)));
        assert_eq!(code(parse_range(Some("bytes=-3"), 10)), Some((7, 9)));
        assert_eq!(code(parse_range(Some("bytes=-30"), 10)), Some((0, 9)));
        // Whole-file answers: other units, several ranges, nonsense, an empty file.
        assert_eq!(code(parse_range(Some("items=0-3"), 10)), None);
        assert_eq!(code(parse_range(Some("bytes=0-1,4-5"), 10)), None);
        assert_eq!(code(parse_range(Some("bytes=5-2"), 10)), None);
        assert_eq!(code(parse_range(Some("bytes=x-2"), 10)), None);
        assert_eq!(code(parse_range(Some("bytes=-"), 10)), None);
        assert_eq!(code(parse_range(Some("bytes=3-"), 0)), None);
        // Past the end: 416.
        assert!(matches!(
            parse_range(Some("bytes=10-"), 10),
            Err(ApiError::RangeNotSatisfiable { size: 10 })
        ));
        assert!(matches!(
            parse_range(Some("bytes=-0"), 10),
            Err(ApiError::RangeNotSatisfiable { size: 10 })
        ));
    }
}
