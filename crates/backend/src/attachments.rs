//! Attachments: files a user uploads to hand to their tasks (staged into the run's `inputs/`).
//!
//! An upload streams into the bucket under the user's own prefix,
//! `users/{user_id}/attachments/{id}/{name}` ([`objstore::keys::attachment_key`]), with the key
//! built here from ids and the sanitized name, never taken from the request. More than `MAX_UPLOAD_SIZE_MB` is refused without buffering the body: at once on
//! `Content-Length`, else as soon as the count passes the limit, aborting the multipart upload;
//! either way no row and no object remain.

use chrono::{DateTime, Utc};
use protocol::ErrorCode;
use protocol::files::AttachmentView;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use objstore::{Bucket, UploadError};

use crate::error::{ApiError, ApiResult};

/// The longest file name kept, in characters.
pub const MAX_NAME_CHARS: usize = 200;
/// The most attachments one task may carry.
pub const MAX_PER_TASK: usize = 50;
/// Room for the multipart framing around the file when checking `Content-Length` up front.
pub const MULTIPART_OVERHEAD: u64 = 64 * 1024;

/// A file name safe as the last segment of an object key and as `inputs/{name}` in a workspace:
/// no directories (only what follows the last `/` or `\`), no control characters, no `..`, no
/// leading dot (hidden files, `.` itself), only letters, digits and `._-+()@,=` and spaces, at
/// most [`MAX_NAME_CHARS`]. Falls back to `attachment`.
pub fn sanitize_name(raw: &str) -> String {
    let base = raw.rsplit(['/', '\\']).next().unwrap_or_default();
    let mapped: String = base
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || "._-+()@,= ".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut name = mapped;
    while name.contains("..") {
        name = name.replace("..", ".");
    }
    let name: String = name
        .trim_matches(|c: char| c == '.' || c.is_whitespace())
        .chars()
        .take(MAX_NAME_CHARS)
        .collect();
    let name = name.trim_end_matches(|c: char| c == '.' || c.is_whitespace());
    if name.is_empty() {
        "attachment".to_owned()
    } else {
        name.to_owned()
    }
}

/// A content type as given by the client if it looks like one (`type/subtype[; params]`,
/// printable ASCII, short), else `application/octet-stream`.
pub fn sanitize_content_type(raw: Option<&str>) -> String {
    match raw {
        Some(ct)
            if ct.len() <= 200
                && ct.contains('/')
                && ct.chars().all(|c| c.is_ascii_graphic() || c == ' ') =>
        {
            ct.to_owned()
        }
        _ => "application/octet-stream".to_owned(),
    }
}

/// An attachment's (or a project file's) columns as its view shows them.
#[derive(sqlx::FromRow)]
pub struct AttachmentRow {
    id: Uuid,
    name: String,
    size: i64,
    content_type: String,
    created_at: DateTime<Utc>,
}

impl From<AttachmentRow> for AttachmentView {
    fn from(r: AttachmentRow) -> Self {
        AttachmentView {
            id: r.id,
            name: r.name,
            size: r.size,
            content_type: r.content_type,
            created_at: r.created_at,
        }
    }
}

/// An upload as its route read it: the client's file name and content type (both unchecked),
/// the stream of its bytes, and the most bytes it may have (`MAX_UPLOAD_SIZE_MB`).
pub struct Upload<S> {
    pub raw_name: Option<String>,
    pub raw_content_type: Option<String>,
    pub body: S,
    pub limit: u64,
}

/// An upload streamed into the bucket, before it is recorded.
#[derive(Debug, Clone)]
pub struct Uploaded {
    /// The sanitized name ([`sanitize_name`]).
    pub name: String,
    pub content_type: String,
    pub key: String,
    pub size: i64,
}

/// Streams an upload into the bucket at `key_of(sanitized name)` (a key the caller builds from
/// ids with `objstore::keys`), then records it with `record`. On any failure nothing is kept:
/// an oversized or broken body leaves no object (`upload_stream` aborts), and an object whose
/// record failed is deleted again. Shared by attachments and project files.
pub async fn stream_and_record<S, F, Fut>(
    storage: &Bucket,
    upload: Upload<S>,
    key_of: impl FnOnce(&str) -> String,
    record: F,
) -> ApiResult<AttachmentView>
where
    S: futures::Stream<Item = Result<bytes::Bytes, UploadError>> + Unpin,
    F: FnOnce(Uploaded) -> Fut,
    Fut: std::future::Future<Output = ApiResult<AttachmentView>>,
{
    let name = sanitize_name(upload.raw_name.as_deref().unwrap_or_default());
    let content_type = sanitize_content_type(upload.raw_content_type.as_deref());
    let key = key_of(&name);
    let size = match storage
        .upload_stream(&key, &content_type, upload.body, upload.limit)
        .await
    {
        Ok(size) => size,
        Err(UploadError::TooLarge) => return Err(ApiError::PayloadTooLarge),
        Err(UploadError::Body(message)) => {
            return Err(ApiError::bad_request(ErrorCode::BadMultipart, message));
        }
        Err(UploadError::Store(e)) => return Err(e.into()),
    };
    let uploaded = Uploaded {
        name,
        content_type,
        key: key.clone(),
        size: i64::try_from(size).unwrap_or(i64::MAX),
    };
    match record(uploaded).await {
        Ok(view) => Ok(view),
        Err(e) => {
            if let Err(de) = storage.delete(&key).await {
                tracing::warn!(error = %de, "removing the object of an unrecorded upload failed");
            }
            Err(e)
        }
    }
}

/// Streams an upload into the bucket and records it. On any failure nothing is kept.
pub async fn store<S>(
    pool: &PgPool,
    storage: &Bucket,
    user: Uuid,
    upload: Upload<S>,
) -> ApiResult<AttachmentView>
where
    S: futures::Stream<Item = Result<bytes::Bytes, UploadError>> + Unpin,
{
    let id = Uuid::now_v7();
    let record = |u: Uploaded| async move {
        let row: AttachmentRow = sqlx::query_as(
            "INSERT INTO attachments (id, user_id, name, object_key, size, content_type)
             VALUES ($1, $2, $3, $4, $5, $6)
             RETURNING id, name, size, content_type, created_at",
        )
        .bind(id)
        .bind(user)
        .bind(&u.name)
        .bind(&u.key)
        .bind(u.size)
        .bind(&u.content_type)
        .fetch_one(pool)
        .await?;
        tracing::info!(attachment_id = %id, size = u.size, "attachment stored");
        Ok(row.into())
    };
    stream_and_record(
        storage,
        upload,
        |name| objstore::keys::attachment_key(user, id, name),
        record,
    )
    .await
}

/// An attachment of `user`, or 404 (also when it is someone else's).
pub async fn get_owned(pool: &PgPool, user: Uuid, id: Uuid) -> ApiResult<AttachmentView> {
    let row: Option<AttachmentRow> = sqlx::query_as(
        "SELECT id, name, size, content_type, created_at FROM attachments
          WHERE id = $1 AND user_id = $2",
    )
    .bind(id)
    .bind(user)
    .fetch_optional(pool)
    .await?;
    Ok(row.ok_or(ApiError::NotFound("attachment"))?.into())
}

/// Deletes an attachment of `user` and its object. An attachment an unfinished run still has to
/// stage is kept (409 `attachment_in_use`).
pub async fn delete_owned(pool: &PgPool, storage: &Bucket, user: Uuid, id: Uuid) -> ApiResult<()> {
    let mut tx = pool.begin().await?;
    let key: Option<String> = sqlx::query_scalar(
        "SELECT object_key FROM attachments WHERE id = $1 AND user_id = $2 FOR UPDATE",
    )
    .bind(id)
    .bind(user)
    .fetch_optional(&mut *tx)
    .await?;
    let key = key.ok_or(ApiError::NotFound("attachment"))?;
    let in_use: bool = sqlx::query_scalar(concat!(
        "SELECT EXISTS (SELECT 1 FROM run_attachments ra JOIN runs r ON r.id = ra.run_id
                         WHERE ra.attachment_id = $1
                           AND r.status IN ",
        crate::queue::status::active_sql!(),
        ")"
    ))
    .bind(id)
    .fetch_one(&mut *tx)
    .await?;
    if in_use {
        return Err(ApiError::conflict(
            ErrorCode::AttachmentInUse,
            "a queued or running task still needs this attachment",
        ));
    }
    sqlx::query("DELETE FROM attachments WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    // After the commit: a failure leaves an unreachable object behind, never a row without one.
    if let Err(e) = storage.delete(&key).await {
        tracing::warn!(error = %e, attachment_id = %id, "deleting an attachment's object failed");
    }
    Ok(())
}

/// Checks a task's attachment list (its size and no repeats) before any database work.
pub fn validate_for_task(ids: &[Uuid]) -> ApiResult<()> {
    if ids.len() > MAX_PER_TASK {
        return Err(ApiError::validation(format!(
            "a task takes at most {MAX_PER_TASK} attachments"
        )));
    }
    let mut seen = std::collections::HashSet::new();
    if let Some(dup) = ids.iter().find(|id| !seen.insert(**id)) {
        return Err(ApiError::validation(format!(
            "attachment {dup} is listed twice"
        )));
    }
    Ok(())
}

/// Links `ids` (in order) to a new run, inside the task's transaction. Each must be `user`'s own
/// (else 404 `attachment`, and the caller's transaction rolls back: nothing is created); they are
/// locked against a concurrent delete until the transaction ends. Two attachments with one name
/// would overwrite each other in `inputs/`, so that is refused too.
pub async fn link_to_run(
    conn: &mut PgConnection,
    user: Uuid,
    run_id: Uuid,
    ids: &[Uuid],
) -> ApiResult<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let found: Vec<(Uuid, String)> = sqlx::query_as(
        "SELECT id, name FROM attachments WHERE id = ANY($1) AND user_id = $2 FOR SHARE",
    )
    .bind(ids)
    .bind(user)
    .fetch_all(&mut *conn)
    .await?;
    if found.len() != ids.len() {
        return Err(ApiError::NotFound("attachment"));
    }
    let mut names = std::collections::HashSet::new();
    if let Some((_, name)) = found.iter().find(|(_, n)| !names.insert(n.as_str())) {
        return Err(ApiError::validation(format!(
            "two attachments are named `{name}`; they would overwrite each other in inputs/"
        )));
    }
    sqlx::query(
        "INSERT INTO run_attachments (run_id, position, attachment_id)
         SELECT $1, t.ord::integer, t.id FROM unnest($2::uuid[]) WITH ORDINALITY AS t(id, ord)",
    )
    .bind(run_id)
    .bind(ids)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_plain_safe_file_names() {
        for (raw, want) in [
            ("report.pdf", "report.pdf"),
            ("../../etc/passwd", "passwd"),
            ("C:\\Users\\me\\notes.txt", "notes.txt"),
            ("..", "attachment"),
            (".", "attachment"),
            ("", "attachment"),
            (".env", "env"),
            ("a..b.txt", "a.b.txt"),
            ("a...b", "a.b"),
            ("x\u{0}y\nz", "x_y_z"),
            ("data set (1).csv", "data set (1).csv"),
            ("naïve.txt", "naïve.txt"),
            ("a/b/", "attachment"),
            ("name.", "name"),
        ] {
            assert_eq!(sanitize_name(raw), want, "{raw:?}");
        }
        let long = "x".repeat(500) + ".txt";
        assert_eq!(sanitize_name(&long).chars().count(), MAX_NAME_CHARS);
    }

    #[test]
    fn content_types() {
        assert_eq!(sanitize_content_type(Some("text/csv")), "text/csv");
        assert_eq!(
            sanitize_content_type(Some("text/plain; charset=utf-8")),
            "text/plain; charset=utf-8"
        );
        for bad in [None, Some("nonsense"), Some("text/\nplain")] {
            assert_eq!(sanitize_content_type(bad), "application/octet-stream");
        }
    }

    #[test]
    fn task_lists_are_checked() {
        let a = Uuid::new_v4();
        assert!(validate_for_task(&[a, Uuid::new_v4()]).is_ok());
        assert!(validate_for_task(&[a, a]).is_err());
        let many: Vec<Uuid> = (0..=MAX_PER_TASK).map(|_| Uuid::new_v4()).collect();
        assert!(validate_for_task(&many).is_err());
    }
}
