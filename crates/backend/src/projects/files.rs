//! A project's files: uploaded like attachments ([`crate::attachments::stream_and_record`]: the
//! same name sanitizing, size limit and "nothing kept on failure"), stored at
//! `users/{user}/projects/{project}/files/{id}/{name}` ([`objstore::keys::project_file_key`]),
//! at most [`MAX_FILES`] per project. A file named like one the project has replaces it (the old
//! object is deleted after the commit).
//!
//! # Staging
//! The claim adds the files of the run's session's project to the run's attachments, as they are
//! at the claim (a task's own attachment of the same name wins). A queued run therefore needs
//! nothing of them yet; a run on a worker (claimed, running, canceling) may still be downloading
//! them, so deleting or replacing a file answers `409 attachment_in_use` while a run of the
//! project's sessions is leased. The check locks the project's unfinished runs `FOR SHARE`: a
//! claim in progress is waited for (and then seen as leased), and a claim that comes later skips
//! those runs (`SKIP LOCKED`) until the change committed, then reads the files as changed.

use protocol::ErrorCode;
use protocol::files::AttachmentView;
use protocol::projects::MAX_FILES;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use objstore::{Bucket, UploadError};

use crate::attachments::{AttachmentRow, Upload, Uploaded, sanitize_name, stream_and_record};
use crate::error::{ApiError, ApiResult};

/// The answer while a leased run of the project may still need its files.
fn in_use() -> ApiError {
    ApiError::conflict(
        ErrorCode::AttachmentInUse,
        "a running task of this project may still be fetching its files; try again when it ends",
    )
}

/// Whether a run of the project's sessions is on a worker. Locks the project's unfinished runs
/// `FOR SHARE` until the caller's transaction ends (see the module documentation).
async fn needed_by_a_run(conn: &mut PgConnection, project: Uuid) -> ApiResult<bool> {
    let leased: Vec<bool> = sqlx::query_scalar(concat!(
        "SELECT r.status IN ",
        crate::queue::status::leased_sql!(),
        " FROM runs r JOIN sessions s ON s.id = r.session_id
          WHERE s.project_id = $1 AND r.status IN ",
        crate::queue::status::active_sql!(),
        " FOR SHARE OF r"
    ))
    .bind(project)
    .fetch_all(&mut *conn)
    .await?;
    Ok(leased.into_iter().any(|l| l))
}

/// Locks project `id` of `user` against concurrent file changes (404 when it is not theirs).
async fn lock_project(conn: &mut PgConnection, user: Uuid, id: Uuid) -> ApiResult<()> {
    super::lock(conn, user, id, "FOR NO KEY UPDATE").await
}

/// Refuses an upload the project has no room for: [`MAX_FILES`] files, none named `name`
/// (which would be replaced).
async fn check_room(conn: &mut PgConnection, project: Uuid, name: &str) -> ApiResult<()> {
    let (count, replaces): (i64, bool) = sqlx::query_as(
        "SELECT count(*), coalesce(bool_or(name = $2), false)
           FROM project_files WHERE project_id = $1",
    )
    .bind(project)
    .bind(name)
    .fetch_one(&mut *conn)
    .await?;
    if !replaces && usize::try_from(count).unwrap_or(usize::MAX) >= MAX_FILES {
        return Err(ApiError::validation(format!(
            "a project keeps at most {MAX_FILES} files; delete one first"
        )));
    }
    if replaces && needed_by_a_run(conn, project).await? {
        return Err(in_use());
    }
    Ok(())
}

/// `POST /projects/{id}/files`: streams the upload into the bucket and records it, replacing a
/// file of the same name. On any failure nothing new is kept.
pub async fn upload<S>(
    pool: &PgPool,
    storage: &Bucket,
    user: Uuid,
    project: Uuid,
    upload: Upload<S>,
) -> ApiResult<AttachmentView>
where
    S: futures::Stream<Item = Result<bytes::Bytes, UploadError>> + Unpin,
{
    // Checked before the body is read (a refusal costs no upload), and again once it is stored.
    {
        let mut tx = pool.begin().await?;
        lock_project(&mut tx, user, project).await?;
        check_room(
            &mut tx,
            project,
            &sanitize_name(upload.raw_name.as_deref().unwrap_or_default()),
        )
        .await?;
        tx.rollback().await?;
    }
    let id = Uuid::now_v7();
    let record = |u: Uploaded| async move {
        let mut tx = pool.begin().await?;
        lock_project(&mut tx, user, project).await?;
        check_room(&mut tx, project, &u.name).await?;
        let replaced: Option<String> = sqlx::query_scalar(
            "DELETE FROM project_files WHERE project_id = $1 AND name = $2 RETURNING object_key",
        )
        .bind(project)
        .bind(&u.name)
        .fetch_optional(&mut *tx)
        .await?;
        let row: AttachmentRow = sqlx::query_as(
            "INSERT INTO project_files (id, project_id, user_id, name, object_key, size, content_type)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             RETURNING id, name, size, content_type, created_at",
        )
        .bind(id)
        .bind(project)
        .bind(user)
        .bind(&u.name)
        .bind(&u.key)
        .bind(u.size)
        .bind(&u.content_type)
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query("UPDATE projects SET updated_at = now() WHERE id = $1")
            .bind(project)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        tracing::info!(project_id = %project, file_id = %id, size = u.size, replaced = replaced.is_some(), "project file stored");
        if let Some(old) = replaced
            && let Err(e) = storage.delete(&old).await
        {
            tracing::warn!(error = %e, project_id = %project, "deleting a replaced project file's object failed");
        }
        Ok(row.into())
    };
    stream_and_record(
        storage,
        upload,
        |name| objstore::keys::project_file_key(user, project, id, name),
        record,
    )
    .await
}

/// `DELETE /projects/{id}/files/{file_id}`: the row, then (after the commit) its object.
pub async fn delete(
    pool: &PgPool,
    storage: &Bucket,
    user: Uuid,
    project: Uuid,
    file: Uuid,
) -> ApiResult<()> {
    let mut tx = pool.begin().await?;
    lock_project(&mut tx, user, project).await?;
    let key: Option<String> = sqlx::query_scalar(
        "SELECT object_key FROM project_files WHERE id = $1 AND project_id = $2",
    )
    .bind(file)
    .bind(project)
    .fetch_optional(&mut *tx)
    .await?;
    let key = key.ok_or(ApiError::NotFound("project file"))?;
    if needed_by_a_run(&mut tx, project).await? {
        return Err(in_use());
    }
    sqlx::query("DELETE FROM project_files WHERE id = $1")
        .bind(file)
        .execute(&mut *tx)
        .await?;
    sqlx::query("UPDATE projects SET updated_at = now() WHERE id = $1")
        .bind(project)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    // After the commit: a failure leaves an unreachable object behind, never a row without one.
    if let Err(e) = storage.delete(&key).await {
        tracing::warn!(error = %e, file_id = %file, "deleting a project file's object failed");
    }
    Ok(())
}
