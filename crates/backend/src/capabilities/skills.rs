//! Skills: a folder with a `SKILL.md` (front matter `name`, `description`) and any files,
//! uploaded as a zip or tar.gz ([`super::archive`]), kept in the bucket under
//! `{owner's skills prefix}{id}/{version}/{index}` ([`objstore::keys::skill_object_key`]: the
//! `index`-th file in path order; the row's `files` list gives each its path and size).
//!
//! # Versions
//! A version is the hex SHA-256 over the files in path order (each: path, a zero byte, the length
//! as 8 bytes big-endian, the content), so equal folders have equal versions and a new upload
//! never overwrites files a queued run will fetch. Replacing a skill (`PUT`, whose `SKILL.md` may
//! give it another name) or deleting it records the old version's prefix in
//! `skill_versions_retired`; the retention job ([`sweep_retired`]) deletes a retired prefix's
//! objects once no active run's snapshot names that version, then the row. A version that
//! becomes current again (the same folder uploaded anew) leaves the retired list.
//!
//! # Locks
//! Resolving a snapshot reads skill rows `FOR SHARE`, a replacement or delete takes them `FOR
//! UPDATE`, and both take the retired row of the version they stage or upload; the sweep takes
//! retired rows `FOR UPDATE SKIP LOCKED`. So a run is never queued with a version whose objects
//! the sweep is deleting, and the sweep never deletes objects a replacement is uploading.

use chrono::{DateTime, Utc};
use futures::{StreamExt, TryStreamExt};
use objstore::Bucket;
use objstore::keys::{skill_object_key, skill_version_prefix, within};
use protocol::capabilities::{SkillDetail, SkillFileEntry, SkillView};
use sha2::{Digest, Sha256};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::archive::{self, MAX_SKILL_BYTES, SKILL_FILE, SkillFile};
use super::front_matter::{SkillMeta, parse_skill};
use super::{Kind, check_room, lock_for_write, name_conflict, name_taken, remove_from_presets};
use crate::error::{ApiError, ApiResult};

const KIND: Kind = Kind::Skill;
/// Files uploaded at once.
const UPLOAD_CONCURRENCY: usize = 8;

#[derive(sqlx::FromRow)]
pub(super) struct Row {
    pub(super) id: Uuid,
    pub(super) user_id: Option<Uuid>,
    pub(super) name: String,
    description: String,
    pub(super) version: String,
    size: i64,
    pub(super) files: sqlx::types::Json<Vec<SkillFileEntry>>,
    enabled: bool,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

pub(super) const COLUMNS: &str =
    "id, user_id, name, description, version, size, files, enabled, created_at, updated_at";

impl Row {
    fn view(&self) -> SkillView {
        SkillView {
            id: self.id,
            name: self.name.clone(),
            description: self.description.clone(),
            version: self.version.clone(),
            size: self.size,
            file_count: i32::try_from(self.files.0.len()).unwrap_or(i32::MAX),
            enabled: self.enabled,
            system: self.user_id.is_none(),
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }

    fn detail(self) -> SkillDetail {
        SkillDetail {
            skill: self.view(),
            files: self.files.0,
        }
    }
}

/// An upload, read and checked, not stored yet.
pub struct Upload {
    pub meta: SkillMeta,
    pub version: String,
    pub files: Vec<SkillFile>,
}

impl Upload {
    fn size(&self) -> i64 {
        self.files.iter().map(|f| f.content.len() as i64).sum()
    }

    fn entries(&self) -> Vec<SkillFileEntry> {
        self.files
            .iter()
            .map(|f| SkillFileEntry {
                path: f.path.clone(),
                size: f.content.len() as i64,
            })
            .collect()
    }
}

/// The version of a folder (files sorted by path, as [`archive::read`] returns them).
pub fn version_of(files: &[SkillFile]) -> String {
    let mut h = Sha256::new();
    for f in files {
        h.update(f.path.as_bytes());
        h.update([0]);
        h.update((f.content.len() as u64).to_be_bytes());
        h.update(&f.content);
    }
    hex::encode(h.finalize())
}

/// Reads and checks an uploaded archive: everything that can refuse it, before anything is
/// stored.
pub fn prepare(bytes: &[u8]) -> ApiResult<Upload> {
    let files = archive::read(bytes)?;
    let skill_md = files.iter().find(|f| f.path == SKILL_FILE).ok_or_else(|| {
        ApiError::Internal("archive::read let a folder without SKILL.md through".into())
    })?;
    let meta = parse_skill(&skill_md.content)?;
    Ok(Upload {
        meta,
        version: version_of(&files),
        files,
    })
}

/// Writes the files of a version (a few at a time).
async fn store_files(
    storage: &Bucket,
    owner: Uuid,
    id: Uuid,
    upload: &Upload,
) -> Result<(), objstore::Error> {
    let puts: Vec<_> = upload
        .files
        .iter()
        .enumerate()
        .map(|(index, f)| {
            let storage = storage.clone();
            let key = skill_object_key(Some(owner), id, &upload.version, index);
            let body = bytes::Bytes::from(f.content.clone());
            async move { storage.put(&key, "application/octet-stream", body).await }
        })
        .collect();
    futures::stream::iter(puts)
        .buffer_unordered(UPLOAD_CONCURRENCY)
        .try_collect::<Vec<()>>()
        .await
        .map(|_| ())
}

/// Deletes a version's objects after a failed write (logged, never answered).
async fn discard(storage: &Bucket, owner: Uuid, id: Uuid, version: &str) {
    let prefix = skill_version_prefix(Some(owner), id, version);
    if let Err(e) = storage.delete_prefix(&prefix).await {
        tracing::warn!(skill_id = %id, error = %e, "removing the objects of an unrecorded skill version failed");
    }
}

async fn name_is_free(
    conn: &mut PgConnection,
    user: Uuid,
    name: &str,
    except: Option<Uuid>,
) -> ApiResult<()> {
    let taken: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM skills WHERE user_id = $1 AND name = $2
                          AND ($3::uuid IS NULL OR id <> $3))",
    )
    .bind(user)
    .bind(name)
    .bind(except)
    .fetch_one(&mut *conn)
    .await?;
    if taken {
        return Err(name_taken(KIND, name));
    }
    Ok(())
}

/// `POST /skills`: stores a checked upload as a new skill of `user`.
pub async fn create(
    pool: &PgPool,
    storage: &Bucket,
    user: Uuid,
    upload: Upload,
) -> ApiResult<SkillDetail> {
    {
        let mut conn = pool.acquire().await?;
        check_room(&mut conn, KIND, user).await?;
        name_is_free(&mut conn, user, &upload.meta.name, None).await?;
    }
    let id = Uuid::now_v7();
    store_files(storage, user, id, &upload).await?;
    let inserted: Result<Row, sqlx::Error> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "INSERT INTO skills (id, user_id, name, description, version, size, files)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         RETURNING {COLUMNS}"
    )))
    .bind(id)
    .bind(user)
    .bind(&upload.meta.name)
    .bind(&upload.meta.description)
    .bind(&upload.version)
    .bind(upload.size())
    .bind(sqlx::types::Json(upload.entries()))
    .fetch_one(pool)
    .await;
    match inserted {
        Ok(row) => {
            tracing::info!(skill_id = %id, version = %upload.version, files = upload.files.len(), "skill stored");
            Ok(row.detail())
        }
        Err(e) => {
            discard(storage, user, id, &upload.version).await;
            Err(name_conflict(KIND, &upload.meta.name)(e))
        }
    }
}

/// `PUT /skills/{id}`: a new version of the user's skill (its `SKILL.md` may rename it). The old
/// version is retired, its objects kept while an active run needs them.
pub async fn replace(
    pool: &PgPool,
    storage: &Bucket,
    user: Uuid,
    id: Uuid,
    upload: Upload,
) -> ApiResult<SkillDetail> {
    let mut tx = pool.begin().await?;
    lock_for_write(&mut tx, KIND, user, id).await?;
    let current: String = sqlx::query_scalar("SELECT version FROM skills WHERE id = $1")
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
    name_is_free(&mut tx, user, &upload.meta.name, Some(id)).await?;
    let new_prefix = skill_version_prefix(Some(user), id, &upload.version);
    let mut uploaded_fresh = false;
    if current != upload.version {
        // Taken before uploading: the sweep cannot be deleting this prefix meanwhile.
        let was_retired: Option<String> = sqlx::query_scalar(
            "SELECT prefix FROM skill_versions_retired WHERE prefix = $1 FOR UPDATE",
        )
        .bind(&new_prefix)
        .fetch_optional(&mut *tx)
        .await?;
        store_files(storage, user, id, &upload).await?;
        uploaded_fresh = was_retired.is_none();
    }
    let result = async {
        let row: Row = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "UPDATE skills
                SET name = $2, description = $3, version = $4, size = $5, files = $6,
                    updated_at = now()
              WHERE id = $1
          RETURNING {COLUMNS}"
        )))
        .bind(id)
        .bind(&upload.meta.name)
        .bind(&upload.meta.description)
        .bind(&upload.version)
        .bind(upload.size())
        .bind(sqlx::types::Json(upload.entries()))
        .fetch_one(&mut *tx)
        .await
        .map_err(name_conflict(KIND, &upload.meta.name))?;
        if current != upload.version {
            sqlx::query("DELETE FROM skill_versions_retired WHERE prefix = $1")
                .bind(&new_prefix)
                .execute(&mut *tx)
                .await?;
            retire(&mut tx, user, id, &current).await?;
        }
        Ok::<Row, ApiError>(row)
    }
    .await;
    let row = match result {
        Ok(row) => row,
        Err(e) => {
            drop(tx);
            if uploaded_fresh {
                discard(storage, user, id, &upload.version).await;
            }
            return Err(e);
        }
    };
    if let Err(e) = tx.commit().await {
        if uploaded_fresh {
            discard(storage, user, id, &upload.version).await;
        }
        return Err(e.into());
    }
    tracing::info!(skill_id = %id, from = %current, to = %upload.version, "skill replaced");
    Ok(row.detail())
}

/// Records a version that is no longer current, for the sweep.
async fn retire(conn: &mut PgConnection, owner: Uuid, id: Uuid, version: &str) -> ApiResult<()> {
    sqlx::query(
        "INSERT INTO skill_versions_retired (prefix, skill_id, version) VALUES ($1, $2, $3)
         ON CONFLICT (prefix) DO NOTHING",
    )
    .bind(skill_version_prefix(Some(owner), id, version))
    .bind(id)
    .bind(version)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The user's skills and the system's, by name.
pub async fn list(pool: &PgPool, user: Uuid) -> ApiResult<Vec<SkillView>> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM skills WHERE user_id = $1 OR user_id IS NULL
          ORDER BY name, user_id NULLS LAST"
    ));
    let rows: Vec<Row> = sqlx::query_as(sql).bind(user).fetch_all(pool).await?;
    Ok(rows.iter().map(Row::view).collect())
}

async fn row(conn: &mut PgConnection, user: Uuid, id: Uuid) -> ApiResult<Row> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM skills WHERE id = $1 AND (user_id = $2 OR user_id IS NULL)"
    ));
    let row: Option<Row> = sqlx::query_as(sql)
        .bind(id)
        .bind(user)
        .fetch_optional(&mut *conn)
        .await?;
    row.ok_or_else(|| KIND.not_found())
}

/// One skill the user can see, with its files, or 404.
pub async fn get(conn: &mut PgConnection, user: Uuid, id: Uuid) -> ApiResult<SkillDetail> {
    Ok(row(conn, user, id).await?.detail())
}

/// `PATCH /skills/{id}`: turns the skill on or off for runs that name nothing.
pub async fn set_enabled(
    pool: &PgPool,
    user: Uuid,
    id: Uuid,
    enabled: bool,
) -> ApiResult<SkillView> {
    let mut tx = pool.begin().await?;
    lock_for_write(&mut tx, KIND, user, id).await?;
    sqlx::query("UPDATE skills SET enabled = $2, updated_at = now() WHERE id = $1")
        .bind(id)
        .bind(enabled)
        .execute(&mut *tx)
        .await?;
    let view = row(&mut tx, user, id).await?.view();
    tx.commit().await?;
    Ok(view)
}

/// `DELETE /skills/{id}`: the row goes at once (and out of the user's presets); its version is
/// retired, its objects kept while an active run needs them.
pub async fn delete(pool: &PgPool, user: Uuid, id: Uuid) -> ApiResult<()> {
    let mut tx = pool.begin().await?;
    lock_for_write(&mut tx, KIND, user, id).await?;
    let version: String = sqlx::query_scalar("DELETE FROM skills WHERE id = $1 RETURNING version")
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
    retire(&mut tx, user, id, &version).await?;
    remove_from_presets(&mut tx, KIND, user, id).await?;
    tx.commit().await?;
    tracing::info!(skill_id = %id, "skill deleted");
    Ok(())
}

/// `GET /skills/{id}/download`: the skill's name and a zip of its current version, its files
/// under a folder of that name (so the zip uploads again as it is). Built in memory: a skill
/// holds at most [`MAX_SKILL_BYTES`].
pub async fn download(
    pool: &PgPool,
    storage: &Bucket,
    user: Uuid,
    id: Uuid,
) -> ApiResult<(String, Vec<u8>)> {
    let row = {
        let mut conn = pool.acquire().await?;
        row(&mut conn, user, id).await?
    };
    let prefix = skill_version_prefix(row.user_id, row.id, &row.version);
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .unix_permissions(0o644);
    let zip_error = |e: zip::result::ZipError| ApiError::Internal(format!("skill zip: {e}"));
    for (index, file) in row.files.0.iter().enumerate() {
        let key = skill_object_key(row.user_id, row.id, &row.version, index);
        if !within(&prefix, &key) {
            return Err(ApiError::Internal(format!(
                "skill {id}: a stored path leaves its prefix"
            )));
        }
        let body = storage
            .get(&key, MAX_SKILL_BYTES)
            .await?
            .ok_or_else(|| ApiError::Internal(format!("skill {id}: object {key} is missing")))?;
        zip.start_file(format!("{}/{}", row.name, file.path), options)
            .map_err(zip_error)?;
        std::io::Write::write_all(&mut zip, &body)
            .map_err(|e| ApiError::Internal(format!("skill zip: {e}")))?;
    }
    let bytes = zip.finish().map_err(zip_error)?.into_inner();
    Ok((row.name, bytes))
}

/// Deletes the objects of retired versions no active run's snapshot names (at most `batch`),
/// then their rows. A version whose objects cannot be deleted stays for the next pass. Returns
/// how many versions went.
pub async fn sweep_retired(
    pool: &PgPool,
    store: &dyn crate::retention::ObjectStore,
    batch: u32,
) -> Result<u64, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT v.prefix FROM skill_versions_retired v
          WHERE NOT EXISTS (
                  SELECT 1 FROM runs r
                   WHERE r.status IN {}
                     AND r.capabilities @> jsonb_build_object('skills', jsonb_build_array(
                             jsonb_build_object('id', v.skill_id, 'version', v.version))))
            AND NOT EXISTS (SELECT 1 FROM skills s WHERE s.id = v.skill_id AND s.version = v.version)
          ORDER BY v.retired_at
          LIMIT $1
            FOR UPDATE OF v SKIP LOCKED",
        crate::queue::status::ACTIVE_SQL
    ));
    let due: Vec<String> = sqlx::query_scalar(sql)
        .bind(i64::from(batch))
        .fetch_all(&mut *tx)
        .await?;
    let mut gone = Vec::with_capacity(due.len());
    for prefix in due {
        match store.delete_prefix(&prefix).await {
            Ok(n) => {
                tracing::info!(%prefix, objects = n, "retention deleted a retired skill version");
                gone.push(prefix);
            }
            Err(e) => {
                tracing::warn!(%prefix, error = %e, "retention could not delete a retired skill version; kept for the next pass");
            }
        }
    }
    let n = sqlx::query("DELETE FROM skill_versions_retired WHERE prefix = ANY($1)")
        .bind(&gone)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    tx.commit().await?;
    Ok(n)
}
