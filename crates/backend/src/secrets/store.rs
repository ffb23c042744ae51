//! The `secrets` table: a user's secrets and the system's (`user_id IS NULL`), each value sealed
//! with the keyring's writing key ([`Keyring::seal`]) and the owner and name as associated data.
//!
//! Nothing here returns a value: views carry the name, the description, at most the last four
//! characters of a long value (`last4`, computed when the value is set) and the times. Values
//! come back out only through [`super::resolve`], for one claimed run.
//!
//! Owners: `Some(user)` is the user's row, `None` the system's. The API writes only the
//! caller's own rows; the system's are written by the operator's `backend secrets` command.

use chrono::{DateTime, Utc};
use protocol::ErrorCode;
use protocol::secrets::{
    MAX_DESCRIPTION_CHARS, MAX_VALUE_BYTES, SecretValue, SecretView, hint, is_valid_name,
};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::crypto::{self, Keyring, Sealed};
use crate::error::{ApiError, ApiResult};

/// The most secrets one user keeps (the system has no limit: the operator sets them).
pub const MAX_SECRETS_PER_USER: i64 = 200;
/// Rows re-sealed per transaction by [`rotate`].
pub const ROTATE_BATCH: i64 = 100;

#[derive(sqlx::FromRow)]
struct Row {
    user_id: Option<Uuid>,
    name: String,
    description: String,
    last4: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    overridden: bool,
}

impl From<Row> for SecretView {
    fn from(r: Row) -> Self {
        SecretView {
            name: r.name,
            description: r.description,
            last4: r.last4,
            system: r.user_id.is_none(),
            overridden: r.overridden,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// The columns of [`Row`] from `secrets s`; `$1` is the user whose own rows override the
/// system's (NULL: nobody's, for the system's own list).
const COLUMNS: &str = "s.user_id, s.name, s.description, s.last4, s.created_at, s.updated_at,
     (s.user_id IS NULL AND EXISTS (SELECT 1 FROM secrets u
                                     WHERE u.user_id = $1 AND u.name = s.name)) AS overridden";

/// 422 unless `name` is a secret's name.
pub fn check_name(name: &str) -> ApiResult<()> {
    if is_valid_name(name) {
        return Ok(());
    }
    let shown: String = name.chars().take(40).collect();
    Err(ApiError::validation(format!(
        "a secret's name is 1 to {} characters of A-Z, 0-9 and _, not starting with a digit (got `{}`)",
        protocol::secrets::MAX_NAME_LEN,
        shown.escape_debug()
    )))
}

/// 422 unless `value` can be stored (never quoting it).
pub fn check_value(value: &SecretValue) -> ApiResult<()> {
    let v = value.expose();
    if v.is_empty() {
        return Err(ApiError::validation("the value must not be empty"));
    }
    if v.len() > MAX_VALUE_BYTES {
        return Err(ApiError::validation(format!(
            "the value must be at most {MAX_VALUE_BYTES} bytes"
        )));
    }
    // It may become a process's environment variable or a header: NUL cannot travel there.
    if v.contains('\0') {
        return Err(ApiError::validation(
            "the value must not contain NUL characters",
        ));
    }
    Ok(())
}

/// 422 unless `description` is one line of at most [`MAX_DESCRIPTION_CHARS`] characters.
pub fn check_description(description: &str) -> ApiResult<()> {
    crate::capabilities::check_line("description", description, MAX_DESCRIPTION_CHARS)
}

fn not_found() -> ApiError {
    ApiError::NotFound("secret")
}

/// The answer to a write of a name only the system has.
pub fn read_only(name: &str) -> ApiError {
    ApiError::Forbidden {
        code: ErrorCode::ReadOnly,
        message: format!(
            "the secret {name} belongs to the system: every user's runs see it, nobody edits it here \
             (set your own with PUT /secrets/{name} to override it)"
        ),
    }
}

/// The user's secrets by name, then the system's by name (`overridden` when the user has one of
/// that name, which wins).
pub async fn list(conn: &mut PgConnection, user: Uuid) -> ApiResult<Vec<SecretView>> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM secrets s WHERE s.user_id = $1 OR s.user_id IS NULL
          ORDER BY s.user_id IS NULL, s.name"
    ));
    let rows: Vec<Row> = sqlx::query_as(sql).bind(user).fetch_all(&mut *conn).await?;
    Ok(rows.into_iter().map(Into::into).collect())
}

/// The system's secrets by name.
pub async fn list_system(conn: &mut PgConnection) -> ApiResult<Vec<SecretView>> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM secrets s WHERE s.user_id IS NULL ORDER BY s.name"
    ));
    let rows: Vec<Row> = sqlx::query_as(sql)
        .bind(None::<Uuid>)
        .fetch_all(&mut *conn)
        .await?;
    Ok(rows.into_iter().map(Into::into).collect())
}

/// The secret a run of `user` would get under `name`: the user's own, else the system's.
pub async fn describe(
    conn: &mut PgConnection,
    user: Uuid,
    name: &str,
) -> ApiResult<Option<SecretView>> {
    if !is_valid_name(name) {
        return Ok(None);
    }
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM secrets s
          WHERE s.name = $2 AND (s.user_id = $1 OR s.user_id IS NULL)
          ORDER BY s.user_id NULLS LAST LIMIT 1"
    ));
    let row: Option<Row> = sqlx::query_as(sql)
        .bind(user)
        .bind(name)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(row.map(Into::into))
}

/// One row of `owner`'s, exactly (no fall-back to the system's).
async fn own(
    conn: &mut PgConnection,
    owner: Option<Uuid>,
    name: &str,
) -> ApiResult<Option<SecretView>> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM secrets s
          WHERE s.name = $2 AND s.user_id IS NOT DISTINCT FROM $1"
    ));
    let row: Option<Row> = sqlx::query_as(sql)
        .bind(owner)
        .bind(name)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(row.map(Into::into))
}

/// Refuses a new secret of `user` beyond [`MAX_SECRETS_PER_USER`].
async fn check_room(conn: &mut PgConnection, user: Uuid) -> ApiResult<()> {
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM secrets WHERE user_id = $1")
        .bind(user)
        .fetch_one(&mut *conn)
        .await?;
    if n >= MAX_SECRETS_PER_USER {
        return Err(ApiError::validation(format!(
            "you keep {MAX_SECRETS_PER_USER} secrets already; delete one first"
        )));
    }
    Ok(())
}

/// What to store.
pub struct NewSecret<'a> {
    pub name: &'a str,
    pub value: &'a SecretValue,
    /// `None`: empty for a new secret, unchanged for a replaced one.
    pub description: Option<&'a str>,
}

fn check(new: &NewSecret<'_>) -> ApiResult<()> {
    check_name(new.name)?;
    check_value(new.value)?;
    if let Some(d) = new.description {
        check_description(d)?;
    }
    Ok(())
}

/// `POST /secrets`: a new secret of `owner`; `409 name_taken` when the owner has one of that
/// name.
pub async fn create(
    pool: &PgPool,
    keyring: &Keyring,
    owner: Option<Uuid>,
    new: &NewSecret<'_>,
) -> ApiResult<SecretView> {
    check(new)?;
    let sealed = keyring.seal(
        &crypto::associated_data(owner, new.name),
        new.value.expose(),
    );
    let mut tx = pool.begin().await?;
    lock_name(&mut tx, owner, new.name).await?;
    if let Some(user) = owner {
        check_room(&mut tx, user).await?;
    }
    insert(&mut tx, owner, new, &sealed)
        .await
        .map_err(|e| match &e {
            sqlx::Error::Database(db) if db.code().as_deref() == Some("23505") => {
                ApiError::conflict(
                    ErrorCode::NameTaken,
                    format!("a secret named {} exists already", new.name),
                )
            }
            _ => e.into(),
        })?;
    let view = own(&mut tx, owner, new.name).await?.ok_or_else(not_found)?;
    tx.commit().await?;
    Ok(view)
}

/// Inserts `owner`'s new secret, sealed, with its hint.
async fn insert(
    conn: &mut PgConnection,
    owner: Option<Uuid>,
    new: &NewSecret<'_>,
    sealed: &Sealed,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO secrets (id, user_id, name, description, key_id, nonce, ciphertext, last4)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(Uuid::now_v7())
    .bind(owner)
    .bind(new.name)
    .bind(new.description.unwrap_or_default())
    .bind(&sealed.key_id)
    .bind(&sealed.nonce)
    .bind(&sealed.ciphertext)
    .bind(hint(new.value.expose()))
    .execute(conn)
    .await?;
    Ok(())
}

/// `PUT /secrets/{name}`: creates `owner`'s secret or replaces its value (and its description
/// when one is given). Returns the view and whether it was created.
pub async fn put(
    pool: &PgPool,
    keyring: &Keyring,
    owner: Option<Uuid>,
    new: &NewSecret<'_>,
) -> ApiResult<(SecretView, bool)> {
    check(new)?;
    let sealed = keyring.seal(
        &crypto::associated_data(owner, new.name),
        new.value.expose(),
    );
    let mut tx = pool.begin().await?;
    // Serializes writers of one name, so the room check and the insert see the same rows.
    lock_name(&mut tx, owner, new.name).await?;
    let replaced: Option<Uuid> = sqlx::query_scalar(
        "UPDATE secrets
            SET key_id = $3, nonce = $4, ciphertext = $5, last4 = $6,
                description = coalesce($7, description), updated_at = now()
          WHERE user_id IS NOT DISTINCT FROM $1 AND name = $2
      RETURNING id",
    )
    .bind(owner)
    .bind(new.name)
    .bind(&sealed.key_id)
    .bind(&sealed.nonce)
    .bind(&sealed.ciphertext)
    .bind(hint(new.value.expose()))
    .bind(new.description)
    .fetch_optional(&mut *tx)
    .await?;
    let created = replaced.is_none();
    if created {
        if let Some(user) = owner {
            check_room(&mut tx, user).await?;
        }
        insert(&mut tx, owner, new, &sealed).await?;
    }
    let view = own(&mut tx, owner, new.name).await?.ok_or_else(not_found)?;
    tx.commit().await?;
    Ok((view, created))
}

/// A transaction-scoped lock on `(owner, name)`.
async fn lock_name(conn: &mut PgConnection, owner: Option<Uuid>, name: &str) -> ApiResult<()> {
    let owner = owner.map_or_else(|| "system".to_owned(), |u| u.to_string());
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1 || '/' || $2, 15))")
        .bind(owner)
        .bind(name)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// `PATCH /secrets/{name}`: the user's secret's description. 403 `read_only` when only the
/// system has the name, 404 when nobody does.
pub async fn update_description(
    pool: &PgPool,
    user: Uuid,
    name: &str,
    description: &str,
) -> ApiResult<SecretView> {
    check_description(description)?;
    if !is_valid_name(name) {
        return Err(not_found());
    }
    let mut tx = pool.begin().await?;
    let done = sqlx::query(
        "UPDATE secrets SET description = $3, updated_at = now()
          WHERE user_id = $1 AND name = $2",
    )
    .bind(user)
    .bind(name)
    .bind(description)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if done == 0 {
        return Err(match own(&mut tx, None, name).await? {
            Some(_) => read_only(name),
            None => not_found(),
        });
    }
    let view = own(&mut tx, Some(user), name)
        .await?
        .ok_or_else(not_found)?;
    tx.commit().await?;
    Ok(view)
}

/// Deletes `owner`'s secret `name`: 404 when the owner has none (for a user: 403 `read_only`
/// when the name is only the system's).
pub async fn delete(pool: &PgPool, owner: Option<Uuid>, name: &str) -> ApiResult<()> {
    if !is_valid_name(name) {
        return Err(not_found());
    }
    let mut tx = pool.begin().await?;
    let done =
        sqlx::query("DELETE FROM secrets WHERE user_id IS NOT DISTINCT FROM $1 AND name = $2")
            .bind(owner)
            .bind(name)
            .execute(&mut *tx)
            .await?
            .rows_affected();
    if done == 0 {
        return Err(match owner {
            Some(_) if own(&mut tx, None, name).await?.is_some() => read_only(name),
            _ => not_found(),
        });
    }
    tx.commit().await?;
    Ok(())
}

/// Why [`rotate`] stopped.
#[derive(Debug, thiserror::Error)]
pub enum RotateError {
    #[error("secret {name} of {owner}: {source}")]
    Open {
        owner: String,
        name: String,
        #[source]
        source: crypto::CryptoError,
    },
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

type SealedRow = (Uuid, Option<Uuid>, String, String, Vec<u8>, Vec<u8>);

/// Re-seals every row not written by the keyring's current (first) key with it, in batches of
/// [`ROTATE_BATCH`], each in its own transaction (a stop half-way loses nothing: each row is
/// either still under its old key or already under the new one). Returns how many rows moved.
/// Values and `updated_at` are unchanged.
pub async fn rotate(pool: &PgPool, keyring: &Keyring) -> Result<u64, RotateError> {
    let current = keyring.current_key_id();
    let mut moved = 0u64;
    loop {
        let mut tx = pool.begin().await?;
        let rows: Vec<SealedRow> = sqlx::query_as(
            "SELECT id, user_id, name, key_id, nonce, ciphertext FROM secrets
              WHERE key_id <> $1 ORDER BY id LIMIT $2 FOR UPDATE",
        )
        .bind(current)
        .bind(ROTATE_BATCH)
        .fetch_all(&mut *tx)
        .await?;
        if rows.is_empty() {
            tx.commit().await?;
            return Ok(moved);
        }
        for (id, owner, name, key_id, nonce, ciphertext) in rows {
            let aad = crypto::associated_data(owner, &name);
            let value = keyring
                .open(
                    &aad,
                    &Sealed {
                        key_id,
                        nonce,
                        ciphertext,
                    },
                )
                .map_err(|source| RotateError::Open {
                    owner: owner.map_or_else(|| "the system".to_owned(), |u| format!("user {u}")),
                    name: name.clone(),
                    source,
                })?;
            let sealed = keyring.seal(&aad, value.expose());
            sqlx::query(
                "UPDATE secrets SET key_id = $2, nonce = $3, ciphertext = $4 WHERE id = $1",
            )
            .bind(id)
            .bind(&sealed.key_id)
            .bind(&sealed.nonce)
            .bind(&sealed.ciphertext)
            .execute(&mut *tx)
            .await?;
            moved += 1;
        }
        tx.commit().await?;
    }
}
