//! Personal access tokens: `wc_` + 32 random bytes (base64url), for scripts, CI and the `workcell`
//! CLI. Only the token's SHA-256 is stored, so a leaked database does not leak working tokens.
//! A token acts within its scopes *and* its owner's current role: an admin token of a demoted
//! admin loses `admin`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use protocol::ErrorCode;
use protocol::accounts::{
    CreateTokenRequest, CreatedToken, MAX_EXPIRY_DAYS, MAX_TOKEN_NAME_CHARS, Role, Scope,
    TOKEN_PREFIX, TokenView,
};
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use uuid::Uuid;

use super::scope::Scopes;
use crate::error::{ApiError, ApiResult};

/// Whether `token` looks like a personal access token (rather than a login token).
pub fn is_api_token(token: &str) -> bool {
    token.starts_with(TOKEN_PREFIX)
}

/// The stored form of a token (or an invite's, or a reset link's).
pub fn digest(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// A new random secret with `prefix`: 32 bytes, base64url without padding.
pub fn generate(prefix: &str) -> String {
    let bytes: [u8; 32] = rand::random();
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// A live token's owner and what it may do.
#[derive(Debug, Clone)]
pub struct TokenOwner {
    pub token_id: Uuid,
    pub user_id: Uuid,
    pub role: Role,
    pub scopes: Scopes,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    name: String,
    prefix: String,
    scopes: Vec<String>,
    created_at: DateTime<Utc>,
    expires_at: Option<DateTime<Utc>>,
    last_used_at: Option<DateTime<Utc>>,
}

impl From<Row> for TokenView {
    fn from(r: Row) -> Self {
        TokenView {
            id: r.id,
            name: r.name,
            prefix: r.prefix,
            scopes: parse_scopes(&r.scopes).to_vec(),
            created_at: r.created_at,
            expires_at: r.expires_at,
            last_used_at: r.last_used_at,
        }
    }
}

fn parse_scopes(stored: &[String]) -> Scopes {
    stored.iter().filter_map(|s| Scope::parse(s)).collect()
}

/// The owner of a live token: not revoked, not expired, its user not disabled. Marks it used
/// (at most one write a minute per token).
pub async fn authenticate(pool: &PgPool, token: &str) -> ApiResult<TokenOwner> {
    let row: Option<(Uuid, Uuid, Vec<String>, String, bool)> = sqlx::query_as(
        "WITH t AS (
             SELECT t.id, t.user_id, t.scopes, u.role, u.disabled_at IS NOT NULL AS disabled
               FROM api_tokens t JOIN users u ON u.id = t.user_id
              WHERE t.token_hash = $1 AND t.revoked_at IS NULL
                AND (t.expires_at IS NULL OR t.expires_at > now())),
         used AS (
             UPDATE api_tokens SET last_used_at = now()
              WHERE id = (SELECT id FROM t)
                AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute'))
         SELECT id, user_id, scopes, role, disabled FROM t",
    )
    .bind(digest(token))
    .fetch_optional(pool)
    .await?;
    let Some((token_id, user_id, scopes, role, disabled)) = row else {
        return Err(ApiError::Unauthorized(
            "the API token is unknown, revoked or expired".into(),
        ));
    };
    if disabled {
        return Err(disabled_error());
    }
    let role = Role::parse(&role).unwrap_or(Role::Member);
    Ok(TokenOwner {
        token_id,
        user_id,
        role,
        scopes: parse_scopes(&scopes).intersect(Scopes::of_role(role)),
    })
}

pub fn disabled_error() -> ApiError {
    ApiError::Forbidden {
        code: ErrorCode::AccountDisabled,
        message: "this account is disabled; ask an admin".into(),
    }
}

/// Creates a token for `user` (whose role is `role`).
pub async fn create(
    pool: &PgPool,
    user: Uuid,
    role: Role,
    req: CreateTokenRequest,
) -> ApiResult<CreatedToken> {
    let name = req.name.trim();
    if name.is_empty() || name.chars().count() > MAX_TOKEN_NAME_CHARS {
        return Err(ApiError::validation(format!(
            "name must be 1 to {MAX_TOKEN_NAME_CHARS} characters"
        )));
    }
    if name.chars().any(char::is_control) {
        return Err(ApiError::validation(
            "name must not contain control characters",
        ));
    }
    if req.scopes.is_empty() {
        return Err(ApiError::validation("scopes must name at least one scope"));
    }
    let scopes: Scopes = req.scopes.iter().copied().collect();
    if scopes.contains(Scope::Admin) && role != Role::Admin {
        return Err(ApiError::Forbidden {
            code: ErrorCode::InsufficientScope,
            message: "only an admin may create a token with the admin scope".into(),
        });
    }
    let expires_at = match req.expires_in_days {
        None => None,
        Some(d) if (1..=MAX_EXPIRY_DAYS).contains(&d) => {
            Some(Utc::now() + Duration::days(d.into()))
        }
        Some(_) => {
            return Err(ApiError::validation(format!(
                "expires_in_days must be 1 to {MAX_EXPIRY_DAYS}, or null for a token that does not expire"
            )));
        }
    };
    let token = generate(TOKEN_PREFIX);
    let prefix: String = token.chars().take(TOKEN_PREFIX.len() + 4).collect();
    let stored: Vec<String> = scopes
        .to_vec()
        .iter()
        .map(|s| s.as_str().to_owned())
        .collect();
    let row: Row = sqlx::query_as(
        "INSERT INTO api_tokens (id, user_id, name, token_hash, prefix, scopes, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         RETURNING id, name, prefix, scopes, created_at, expires_at, last_used_at",
    )
    .bind(Uuid::new_v4())
    .bind(user)
    .bind(name)
    .bind(digest(&token))
    .bind(&prefix)
    .bind(&stored)
    .bind(expires_at)
    .fetch_one(pool)
    .await?;
    tracing::info!(user_id = %user, token_id = %row.id, "API token created");
    Ok(CreatedToken {
        token,
        info: row.into(),
    })
}

/// `user`'s tokens that are not revoked (expired ones included, so they can be seen and
/// cleaned up), newest first.
pub async fn list(pool: &PgPool, user: Uuid) -> ApiResult<Vec<TokenView>> {
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT id, name, prefix, scopes, created_at, expires_at, last_used_at
           FROM api_tokens WHERE user_id = $1 AND revoked_at IS NULL
          ORDER BY created_at DESC, id DESC",
    )
    .bind(user)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(Into::into).collect())
}

/// Revokes one of `user`'s tokens; another user's is not found.
pub async fn revoke(pool: &PgPool, user: Uuid, id: Uuid) -> ApiResult<()> {
    let done = sqlx::query(
        "UPDATE api_tokens SET revoked_at = now()
          WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL",
    )
    .bind(id)
    .bind(user)
    .execute(pool)
    .await?;
    if done.rows_affected() == 0 {
        return Err(ApiError::NotFound("token"));
    }
    super::access_changed(pool, user).await?;
    tracing::info!(user_id = %user, token_id = %id, "API token revoked");
    Ok(())
}

/// The rate limiter's key for a token: a short digest, never the token.
pub fn rate_key(token: &str) -> String {
    format!("token:{}", hex::encode(&digest(token)[..12]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_prefixed_random_and_hashed() {
        let a = generate(TOKEN_PREFIX);
        let b = generate(TOKEN_PREFIX);
        assert!(a.starts_with("wc_") && is_api_token(&a));
        assert_eq!(a.len(), 3 + 43);
        assert_ne!(a, b);
        assert_eq!(digest(&a).len(), 32);
        assert_ne!(digest(&a), digest(&b));
        assert!(!is_api_token("eyJhbGciOi.x.y"));
        assert!(!rate_key(&a).contains(&a[3..]));
    }
}
