//! `GET /runs/{id}/archive?path=dir/`: a zip of one folder of a run's export.
//!
//! The zip holds the manifest's files under `dir/`, each named `<folder>/<rest of its path>` (the
//! folder's own name at the root, as a browser's folder download does). It is made once and kept
//! at [`objstore::keys::folder_archive_key`] (a digest of the manifest's time and the folder's
//! path, so a repeat request, or another browser, gets the same object; a re-exported run gets a
//! new one), then handed out like the whole archive: a presigned URL, download name
//! `<folder>.zip`.
//!
//! Memory stays bounded: objects are read in chunks and written, through a channel, by a blocking
//! task into a temporary file, which is then streamed to the bucket (8 MiB parts). The folder's
//! files may add up to [`MAX_FOLDER_ARCHIVE_BYTES`] (by the manifest, and again while reading);
//! more is refused with 413 before anything is read.

use std::io::{Seek, SeekFrom, Write};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use objstore::keys;
use objstore::{Bucket, UploadError};
use protocol::files::{ArchiveLink, ManifestEntry};
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use tokio::sync::mpsc;
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};
use crate::files::{owned_export, read_manifest, request_path};

/// The most a folder's files may add up to, uncompressed.
pub const MAX_FOLDER_ARCHIVE_BYTES: u64 = 512 * 1024 * 1024;

/// What the reading side sends the zip writer.
enum Piece {
    /// A new entry with this name.
    Start(String),
    /// The next bytes of the current entry.
    Data(Bytes),
}

fn too_large(total: u64) -> ApiError {
    ApiError::TooLarge(format!(
        "the folder's files add up to {total} bytes; a folder download is at most \
         {MAX_FOLDER_ARCHIVE_BYTES} bytes (download the whole workspace's archive instead)"
    ))
}

/// A name inside the zip for `rest` (the path below the folder): backslashes become `_` so no
/// extractor reads them as separators (`..\\x`); segments were checked by the manifest's reader.
fn entry_name(folder: &str, rest: &str) -> ApiResult<String> {
    let rest = rest.replace('\\', "_");
    if rest
        .split('/')
        .any(|seg| seg.is_empty() || seg == "." || seg == "..")
        || rest.chars().any(char::is_control)
    {
        return Err(ApiError::Internal(format!(
            "a manifest path below `{folder}` is not a plain relative path: {rest:?}"
        )));
    }
    Ok(format!("{folder}/{rest}"))
}

/// `GET /runs/{id}/archive?path=`: 404 unless the run is `user`'s with a ready export holding a
/// file under `path`; 422 for a path that is not a normalised relative one; 413 over the cap.
pub async fn folder_archive(
    pool: &PgPool,
    storage: &Bucket,
    expires: Duration,
    user: Uuid,
    run_id: Uuid,
    raw_path: &str,
) -> ApiResult<ArchiveLink> {
    let dir = request_path(raw_path, true)?;
    let row = owned_export(pool, user, run_id).await?;
    let Some(manifest_key) = row.ready_manifest() else {
        return Err(ApiError::NotFound("archive"));
    };
    let manifest = read_manifest(storage, run_id, row.session_id, manifest_key).await?;
    let below = format!("{dir}/");
    let mut entries: Vec<&ManifestEntry> = manifest
        .files
        .iter()
        .filter(|e| e.path.starts_with(&below))
        .collect();
    if entries.is_empty() {
        return Err(ApiError::NotFound("folder"));
    }
    entries.sort_by(|a, b| a.path.cmp(&b.path));
    let total = entries
        .iter()
        .fold(0u64, |sum, e| sum.saturating_add(e.size));
    if total > MAX_FOLDER_ARCHIVE_BYTES {
        return Err(too_large(total));
    }
    let folder = dir.rsplit('/').next().unwrap_or(&dir).to_owned();
    let mut named = Vec::with_capacity(entries.len());
    for e in &entries {
        let rest = e.path.get(below.len()..).unwrap_or_default();
        named.push((entry_name(&folder, rest)?, e.key.clone()));
    }

    let digest = Sha256::digest(format!("{}\n{dir}", manifest.created_at.to_rfc3339()));
    let key = keys::folder_archive_key(row.session_id, run_id, &hex::encode(&digest[..16]));
    if storage.head(&key).await?.is_none() {
        build(storage, &key, named).await?;
        tracing::info!(run_id = %run_id, files = entries.len(), bytes = total, "folder archive made");
    }
    let now = SystemTime::now();
    Ok(ArchiveLink {
        run_id,
        url: storage
            .presign_get(&key, now, expires, Some(&format!("{folder}.zip")))
            .await?,
        expires_at: DateTime::<Utc>::from(now + expires),
    })
}

/// Writes the zip of `files` (name in the zip, object key) to a temporary file, then to `key`.
async fn build(storage: &Bucket, key: &str, files: Vec<(String, String)>) -> ApiResult<()> {
    let zip_error = |e: zip::result::ZipError| format!("folder zip: {e}");
    let io_error = |e: std::io::Error| format!("folder zip: {e}");
    let (tx, mut rx) = mpsc::channel::<Piece>(8);
    let writer = tokio::task::spawn_blocking(move || -> Result<std::fs::File, String> {
        let file = tempfile::tempfile().map_err(io_error)?;
        let mut zip = zip::ZipWriter::new(file);
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .unix_permissions(0o644);
        while let Some(piece) = rx.blocking_recv() {
            match piece {
                Piece::Start(name) => zip.start_file(name, options).map_err(zip_error)?,
                Piece::Data(bytes) => zip.write_all(&bytes).map_err(io_error)?,
            }
        }
        let mut file = zip.finish().map_err(zip_error)?;
        file.seek(SeekFrom::Start(0)).map_err(io_error)?;
        Ok(file)
    });

    // Reads every object into the writer; stops at the first failure (or when the writer did).
    let read = async {
        let mut total: u64 = 0;
        for (name, object) in files {
            if tx.send(Piece::Start(name)).await.is_err() {
                return Ok(());
            }
            let mut download = storage.download(&object).await?.ok_or_else(|| {
                ApiError::Internal(format!("folder zip: the object {object} is missing"))
            })?;
            while let Some(chunk) = download.next_chunk().await? {
                total = total.saturating_add(chunk.len() as u64);
                if total > MAX_FOLDER_ARCHIVE_BYTES {
                    return Err(too_large(total));
                }
                if tx.send(Piece::Data(chunk)).await.is_err() {
                    return Ok(());
                }
            }
        }
        Ok(())
    }
    .await;
    drop(tx);
    let written = writer
        .await
        .map_err(|e| ApiError::Internal(format!("folder zip task: {e}")))?;
    read?;
    let file = written.map_err(ApiError::Internal)?;

    let body =
        tokio_util::io::ReaderStream::with_capacity(tokio::fs::File::from_std(file), 1 << 16)
            .map(|r| r.map_err(|e| UploadError::Body(e.to_string())));
    storage
        .upload_stream(key, "application/zip", body, u64::MAX)
        .await
        .map_err(|e| match e {
            UploadError::Store(e) => ApiError::from(e),
            other => ApiError::Internal(format!("folder zip upload: {other}")),
        })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_names_stay_inside_the_folder() {
        assert_eq!(entry_name("src", "a/b.rs").expect("plain"), "src/a/b.rs");
        assert_eq!(entry_name("src", "..\\x").expect("backslashes"), "src/.._x");
        for bad in ["../x", "a/../../x", "", "a//b", "./a", "a\nb"] {
            assert!(entry_name("src", bad).is_err(), "{bad:?}");
        }
    }
}
