//! Accounts: who may register (`REGISTRATION`, invites, the first admin), password changes and
//! one-time resets, disabling, roles, and what each account has spent. Used by the public API, the
//! admin API, the identity providers' sign-in and the `backend user …` commands alike.

use chrono::{DateTime, Duration, Utc};
use protocol::ErrorCode;
use protocol::accounts::{
    AdminUserView, CreateInviteRequest, CreatedInvite, InviteView, MAX_EXPIRY_DAYS,
    PasswordResetLink, Registration, Role, UserUsage,
};
use protocol::api::UserView;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::{LOCAL_USER_EMAIL, api_token, password};
use crate::error::{ApiError, ApiResult};

/// How long a password reset link works.
pub const RESET_TTL_HOURS: i64 = 24;
/// How long an invite works unless its creator says otherwise.
pub const DEFAULT_INVITE_DAYS: u32 = 7;

/// The longest address accepted (RFC 5321's path limit less the brackets). Also what keeps the
/// login throttle's keys small: a longer one is refused before any throttle state exists.
pub const MAX_EMAIL_BYTES: usize = 254;

/// A user as the account API shows it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserRow {
    pub id: Uuid,
    pub email: String,
    pub role: String,
    pub created_at: DateTime<Utc>,
    pub token_generation: i32,
}

impl UserRow {
    pub fn role(&self) -> Role {
        Role::parse(&self.role).unwrap_or(Role::Member)
    }
}

impl From<UserRow> for UserView {
    fn from(u: UserRow) -> Self {
        UserView {
            role: u.role(),
            id: u.id,
            email: u.email,
            created_at: u.created_at,
        }
    }
}

/// The columns of a [`UserRow`].
macro_rules! user_columns {
    () => {
        "id, email, role, created_at, token_generation"
    };
}

/// A trimmed, plausible e-mail address, or 422.
pub fn normalize_email(email: &str) -> ApiResult<String> {
    let email = email.trim();
    let valid = email.len() <= MAX_EMAIL_BYTES
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && !domain.is_empty()
                && !domain.contains('@')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        })
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    if valid {
        Ok(email.to_owned())
    } else {
        Err(ApiError::validation("email is not a valid address"))
    }
}

/// A user by id.
pub async fn get(pool: &PgPool, id: Uuid) -> ApiResult<Option<UserRow>> {
    Ok(sqlx::query_as(concat!(
        "SELECT ",
        user_columns!(),
        " FROM users WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(pool)
    .await?)
}

/// A user by e-mail (any case).
pub async fn find_by_email(pool: &PgPool, email: &str) -> ApiResult<Option<UserRow>> {
    Ok(sqlx::query_as(concat!(
        "SELECT ",
        user_columns!(),
        " FROM users WHERE lower(email) = lower($1)"
    ))
    .bind(email.trim())
    .fetch_optional(pool)
    .await?)
}

/// Serializes account creation, so "the first account is an admin" holds under concurrent
/// registrations.
async fn lock_registration(conn: &mut PgConnection) -> ApiResult<()> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('workcell:registration'))")
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Whether no account exists yet (the implicit single-user account does not count).
async fn is_first(conn: &mut PgConnection) -> ApiResult<bool> {
    Ok(sqlx::query_scalar(
        "SELECT NOT EXISTS (SELECT 1 FROM users WHERE lower(email) <> lower($1))",
    )
    .bind(LOCAL_USER_EMAIL)
    .fetch_one(&mut *conn)
    .await?)
}

/// Whether no account exists yet (the sign-in screen then offers to register the first admin).
pub async fn none_yet(pool: &PgPool) -> ApiResult<bool> {
    is_first(&mut *pool.acquire().await?).await
}

/// Who is creating an account, and on whose authority.
pub enum Admission<'a> {
    /// Self-service registration (the web form, or a first sign-in with an identity provider),
    /// with an invite's token if the person has one.
    Registration {
        policy: Registration,
        invite: Option<&'a str>,
    },
    /// The operator (`backend user create`): any role, whatever the policy.
    Operator { role: Role },
}

/// Creates an account. `password_hash` is `None` for an account that signs in only through an
/// identity provider. The first account of an empty database is an admin whatever the policy.
pub async fn create(
    pool: &PgPool,
    email: &str,
    password_hash: Option<String>,
    admission: Admission<'_>,
) -> ApiResult<UserRow> {
    let email = normalize_email(email)?;
    let mut tx = pool.begin().await?;
    lock_registration(&mut tx).await?;
    let first = is_first(&mut tx).await?;
    // The invite this registration uses up, if any (the first account needs none).
    let mut redeemed = None;
    let role = match admission {
        Admission::Operator { role } => role,
        _ if first => Role::Admin,
        Admission::Registration { policy, invite } => match invite {
            Some(token) => {
                redeemed = Some(token);
                redeem_invite(&mut tx, token, &email).await?
            }
            None if policy == Registration::Open => Role::Member,
            None => {
                return Err(ApiError::Forbidden {
                    code: ErrorCode::RegistrationClosed,
                    message: match policy {
                        Registration::Closed => "registration is closed on this server".into(),
                        _ => "registration needs an invite from an admin".into(),
                    },
                });
            }
        },
    };
    let role = if first { Role::Admin } else { role };
    let user: Option<UserRow> = sqlx::query_as(concat!(
        "INSERT INTO users (id, email, password_hash, role) VALUES ($1, $2, $3, $4)
         ON CONFLICT ((lower(email))) DO NOTHING RETURNING ",
        user_columns!()
    ))
    .bind(Uuid::new_v4())
    .bind(&email)
    .bind(password_hash)
    .bind(role.as_str())
    .fetch_optional(&mut *tx)
    .await?;
    let user = user.ok_or_else(|| {
        ApiError::conflict(
            ErrorCode::EmailTaken,
            "an account with this email already exists",
        )
    })?;
    if let Some(token) = redeemed {
        sqlx::query("UPDATE invites SET used_by = $2 WHERE token_hash = $1")
            .bind(api_token::digest(token))
            .bind(user.id)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    tracing::info!(user_id = %user.id, role = role.as_str(), first, "account created");
    Ok(user)
}

/// Uses up an invite (in the caller's transaction) and returns the role it grants.
async fn redeem_invite(conn: &mut PgConnection, token: &str, email: &str) -> ApiResult<Role> {
    let refused = |message: &str| ApiError::Forbidden {
        code: ErrorCode::RegistrationClosed,
        message: message.to_owned(),
    };
    let row: Option<(Option<String>, String, bool, bool)> = sqlx::query_as(
        "SELECT email, role, used_at IS NOT NULL, expires_at <= now()
           FROM invites WHERE token_hash = $1 FOR UPDATE",
    )
    .bind(api_token::digest(token))
    .fetch_optional(&mut *conn)
    .await?;
    let Some((for_email, role, used, expired)) = row else {
        return Err(refused("the invite is not valid"));
    };
    if used {
        return Err(refused("the invite was already used"));
    }
    if expired {
        return Err(refused("the invite has expired; ask for a new one"));
    }
    if for_email.is_some_and(|e| !e.eq_ignore_ascii_case(email)) {
        return Err(refused("the invite is for another e-mail address"));
    }
    sqlx::query("UPDATE invites SET used_at = now() WHERE token_hash = $1")
        .bind(api_token::digest(token))
        .execute(&mut *conn)
        .await?;
    Ok(Role::parse(&role).unwrap_or(Role::Member))
}

/// Sets a new password for `user`: its login tokens of older generations and its API tokens stop
/// working. Returns the new token generation.
async fn set_password(conn: &mut PgConnection, user: Uuid, hash: String) -> ApiResult<i32> {
    let generation: i32 = sqlx::query_scalar(
        "UPDATE users SET password_hash = $2, token_generation = token_generation + 1
          WHERE id = $1 RETURNING token_generation",
    )
    .bind(user)
    .bind(hash)
    .fetch_one(&mut *conn)
    .await?;
    sqlx::query(
        "UPDATE api_tokens SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL",
    )
    .bind(user)
    .execute(&mut *conn)
    .await?;
    Ok(generation)
}

/// Changes the caller's own password after checking the current one. Every other login and API
/// token of the account stops working; returns the account for a fresh login token.
pub async fn change_password(
    pool: &PgPool,
    user: Uuid,
    current: String,
    new: String,
) -> ApiResult<UserRow> {
    let row: Option<(String, Option<String>)> =
        sqlx::query_as("SELECT email, password_hash FROM users WHERE id = $1")
            .bind(user)
            .fetch_optional(pool)
            .await?;
    let (email, stored) = row.ok_or_else(|| ApiError::Unauthorized("no such user".into()))?;
    if stored.is_some() && !password::verify(current, stored).await? {
        return Err(ApiError::Unauthorized(
            "the current password is wrong".into(),
        ));
    }
    password::check_strength(&new, &email)?;
    let hash = password::hash(new).await?;
    let mut tx = pool.begin().await?;
    set_password(&mut tx, user, hash).await?;
    tx.commit().await?;
    super::access_changed(pool, user).await?;
    tracing::info!(user_id = %user, "password changed; other tokens revoked");
    get(pool, user)
        .await?
        .ok_or_else(|| ApiError::Unauthorized("no such user".into()))
}

/// A one-time link that sets `user`'s password, valid for [`RESET_TTL_HOURS`].
pub async fn create_reset(
    pool: &PgPool,
    public_url: &str,
    user: Uuid,
) -> ApiResult<PasswordResetLink> {
    let token = api_token::generate("");
    let expires_at = Utc::now() + Duration::hours(RESET_TTL_HOURS);
    let done = sqlx::query(
        "INSERT INTO password_resets (token_hash, user_id, expires_at)
         SELECT $1, id, $3 FROM users WHERE id = $2 AND lower(email) <> lower($4)",
    )
    .bind(api_token::digest(&token))
    .bind(user)
    .bind(expires_at)
    .bind(LOCAL_USER_EMAIL)
    .execute(pool)
    .await?;
    if done.rows_affected() == 0 {
        return Err(ApiError::NotFound("user"));
    }
    tracing::info!(user_id = %user, "password reset link created");
    Ok(PasswordResetLink {
        url: format!("{public_url}/login?reset={token}"),
        token,
        expires_at,
    })
}

/// Sets a password with a reset link's token (once); every token of the account stops working.
pub async fn use_reset(pool: &PgPool, token: &str, new: String) -> ApiResult<()> {
    let refused = || ApiError::Forbidden {
        code: ErrorCode::Unauthorized,
        message: "the reset link is not valid, was used or has expired".into(),
    };
    let row: Option<(Uuid, String)> = sqlx::query_as(
        "SELECT r.user_id, u.email FROM password_resets r JOIN users u ON u.id = r.user_id
          WHERE r.token_hash = $1 AND r.used_at IS NULL AND r.expires_at > now()",
    )
    .bind(api_token::digest(token))
    .fetch_optional(pool)
    .await?;
    let (user, email) = row.ok_or_else(refused)?;
    password::check_strength(&new, &email)?;
    let hash = password::hash(new).await?;
    let mut tx = pool.begin().await?;
    let claimed = sqlx::query(
        "UPDATE password_resets SET used_at = now()
          WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now()",
    )
    .bind(api_token::digest(token))
    .execute(&mut *tx)
    .await?;
    if claimed.rows_affected() == 0 {
        return Err(refused());
    }
    set_password(&mut tx, user, hash).await?;
    tx.commit().await?;
    super::access_changed(pool, user).await?;
    tracing::info!(user_id = %user, "password reset");
    Ok(())
}

/// Disables or enables `user`. Disabling cuts the account off at once (every request checks) and
/// cancels its queued and running runs.
pub async fn set_disabled(
    pool: &PgPool,
    nudger: &crate::nudge::Nudger,
    user: Uuid,
    disabled: bool,
) -> ApiResult<()> {
    let done = sqlx::query(
        "UPDATE users SET disabled_at = CASE WHEN $2 THEN coalesce(disabled_at, now()) END
          WHERE id = $1",
    )
    .bind(user)
    .bind(disabled)
    .execute(pool)
    .await?;
    if done.rows_affected() == 0 {
        return Err(ApiError::NotFound("user"));
    }
    super::access_changed(pool, user).await?;
    if disabled {
        let sessions: Vec<Uuid> = sqlx::query_scalar(concat!(
            "SELECT DISTINCT r.session_id FROM runs r JOIN sessions s ON s.id = r.session_id
              WHERE s.user_id = $1 AND r.status IN ",
            crate::queue::status::active_sql!()
        ))
        .bind(user)
        .fetch_all(pool)
        .await?;
        for session in &sessions {
            crate::queue::cancel::cancel_session(pool, nudger, *session).await?;
        }
        tracing::info!(user_id = %user, canceled_sessions = sessions.len(), "account disabled");
    } else {
        tracing::info!(user_id = %user, "account enabled");
    }
    Ok(())
}

/// Changes `user`'s role.
pub async fn set_role(pool: &PgPool, user: Uuid, role: Role) -> ApiResult<()> {
    let done = sqlx::query("UPDATE users SET role = $2 WHERE id = $1")
        .bind(user)
        .bind(role.as_str())
        .execute(pool)
        .await?;
    if done.rows_affected() == 0 {
        return Err(ApiError::NotFound("user"));
    }
    super::access_changed(pool, user).await?;
    tracing::info!(user_id = %user, role = role.as_str(), "role changed");
    Ok(())
}

#[derive(sqlx::FromRow)]
struct AdminRow {
    id: Uuid,
    email: String,
    role: String,
    disabled: bool,
    created_at: DateTime<Utc>,
    runs: i64,
    failed_runs: i64,
    input_tokens: i64,
    output_tokens: i64,
    cost_usd: f64,
    last_run_at: Option<DateTime<Utc>>,
}

/// Every account (but the implicit single-user one) with what it has spent, or one of them.
pub async fn list_with_usage(pool: &PgPool, only: Option<Uuid>) -> ApiResult<Vec<AdminUserView>> {
    let rows: Vec<AdminRow> = sqlx::query_as(
        "SELECT u.id, u.email, u.role, u.disabled_at IS NOT NULL AS disabled, u.created_at,
                coalesce(x.runs, 0) AS runs, coalesce(x.failed_runs, 0) AS failed_runs,
                coalesce(x.input_tokens, 0) AS input_tokens,
                coalesce(x.output_tokens, 0) AS output_tokens,
                coalesce(x.cost_usd, 0) AS cost_usd, x.last_run_at
           FROM users u
           LEFT JOIN LATERAL (
               SELECT count(*) AS runs,
                      count(*) FILTER (WHERE r.status = 'failed') AS failed_runs,
                      sum(g.input_tokens)::bigint AS input_tokens,
                      sum(g.output_tokens)::bigint AS output_tokens,
                      sum(g.total_cost_usd) AS cost_usd,
                      max(r.created_at) AS last_run_at
                 FROM sessions s JOIN runs r ON r.session_id = s.id
                 LEFT JOIN run_usage g ON g.run_id = r.id
                WHERE s.user_id = u.id) x ON true
          WHERE lower(u.email) <> lower($1) AND ($2::uuid IS NULL OR u.id = $2)
          ORDER BY u.created_at, u.id",
    )
    .bind(LOCAL_USER_EMAIL)
    .bind(only)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| AdminUserView {
            role: Role::parse(&r.role).unwrap_or(Role::Member),
            id: r.id,
            email: r.email,
            disabled: r.disabled,
            created_at: r.created_at,
            usage: UserUsage {
                runs: r.runs,
                failed_runs: r.failed_runs,
                input_tokens: r.input_tokens,
                output_tokens: r.output_tokens,
                cost_usd: r.cost_usd,
                last_run_at: r.last_run_at,
            },
        })
        .collect())
}

#[derive(sqlx::FromRow)]
struct InviteRow {
    id: Uuid,
    email: Option<String>,
    role: String,
    created_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    used_at: Option<DateTime<Utc>>,
}

impl From<InviteRow> for InviteView {
    fn from(r: InviteRow) -> Self {
        InviteView {
            role: Role::parse(&r.role).unwrap_or(Role::Member),
            id: r.id,
            email: r.email,
            created_at: r.created_at,
            expires_at: r.expires_at,
            used_at: r.used_at,
        }
    }
}

/// A single-use invite, created by `admin`.
pub async fn create_invite(
    pool: &PgPool,
    public_url: &str,
    admin: Uuid,
    req: CreateInviteRequest,
) -> ApiResult<CreatedInvite> {
    let email = req.email.as_deref().map(normalize_email).transpose()?;
    let days = req.expires_in_days.unwrap_or(DEFAULT_INVITE_DAYS);
    if !(1..=MAX_EXPIRY_DAYS).contains(&days) {
        return Err(ApiError::validation(format!(
            "expires_in_days must be 1 to {MAX_EXPIRY_DAYS}"
        )));
    }
    let role = req.role.unwrap_or(Role::Member);
    let token = api_token::generate("");
    let row: InviteRow = sqlx::query_as(
        "INSERT INTO invites (id, token_hash, email, role, created_by, expires_at)
         VALUES ($1, $2, $3, $4, $5, now() + make_interval(days => $6))
         RETURNING id, email, role, created_at, expires_at, used_at",
    )
    .bind(Uuid::new_v4())
    .bind(api_token::digest(&token))
    .bind(email)
    .bind(role.as_str())
    .bind(admin)
    .bind(days as i32)
    .fetch_one(pool)
    .await?;
    tracing::info!(invite_id = %row.id, by = %admin, "invite created");
    Ok(CreatedInvite {
        url: format!("{public_url}/login?invite={token}"),
        token,
        invite: row.into(),
    })
}

/// Invites: open ones (unused, unexpired) first, then the rest, newest first.
pub async fn list_invites(pool: &PgPool) -> ApiResult<Vec<InviteView>> {
    let rows: Vec<InviteRow> = sqlx::query_as(
        "SELECT id, email, role, created_at, expires_at, used_at FROM invites
          ORDER BY (used_at IS NULL AND expires_at > now()) DESC, created_at DESC, id DESC
          LIMIT 500",
    )
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(Into::into).collect())
}

/// Withdraws an invite.
pub async fn delete_invite(pool: &PgPool, id: Uuid) -> ApiResult<()> {
    let done = sqlx::query("DELETE FROM invites WHERE id = $1")
        .bind(id)
        .execute(pool)
        .await?;
    if done.rows_affected() == 0 {
        return Err(ApiError::NotFound("invite"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_trimmed_and_checked() {
        assert_eq!(normalize_email(" a@b.c ").unwrap(), "a@b.c");
        for bad in ["", "a", "@b.c", "a@", "a@.b", "a@b.", "a b@c.d", "a@b@c.d"] {
            assert!(normalize_email(bad).is_err(), "{bad}");
        }
        assert!(normalize_email(&format!("{}@b.c", "a".repeat(300))).is_err());
    }
}
