//! Users' and the system's secrets: stored encrypted (`crypto.rs`), named by configurations,
//! checked at submit ([`missing`]) and resolved for one run at its claim ([`resolve`]).
//!
//! Who holds a value in clear: the user who typed it (once, in the request that sets it), this
//! process while it seals, opens or resolves it, the manager that claimed a run needing it (in
//! memory, for that run), and that run's executor (the MCP config file it writes with mode 0600,
//! the git credential helper's environment). Never the database, logs, events, API answers or
//! an agent's environment.

pub mod crypto;
pub mod store;

use std::collections::{BTreeMap, BTreeSet};

use protocol::ErrorCode;
use protocol::capabilities::CapabilitySnapshot;
use protocol::files::GitRepoRequest;
use protocol::secrets::{ReferenceError, RunSecrets, SecretValue, value_references};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};

pub use crypto::{CryptoError, Keyring, Sealed};

/// Why a run's secrets could not be resolved at its claim.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    /// A name neither the user nor the system has any more (deleted after submit).
    #[error("the run needs the secret {0}, which no longer exists")]
    Missing(String),
    #[error("secret {name}: {source}")]
    Crypto {
        name: String,
        #[source]
        source: CryptoError,
    },
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// The names of the secrets a run needs: the `${NAME}` references in its snapshot's MCP server
/// configs and its repository's `token_secret`. A malformed reference is an error (the API
/// refuses such configs when they are written, so only an old row can hold one).
pub fn needed(
    snapshot: Option<&CapabilitySnapshot>,
    git: Option<&GitRepoRequest>,
) -> Result<BTreeSet<String>, ReferenceError> {
    let mut names = BTreeSet::new();
    for server in snapshot
        .map(|s| s.mcp_servers.as_slice())
        .unwrap_or_default()
    {
        names.extend(value_references(&server.config)?);
    }
    if let Some(name) = git.and_then(|g| g.token_secret.as_ref()) {
        names.insert(name.clone());
    }
    Ok(names)
}

/// Submit's check: every secret the task's run will need (see [`needed`]) exists for `user`, or
/// `422 unknown_secret` naming the missing ones.
pub async fn check_for_task(
    conn: &mut PgConnection,
    user: Uuid,
    snapshot: &CapabilitySnapshot,
    git: Option<&GitRepoRequest>,
) -> ApiResult<()> {
    let names = needed(Some(snapshot), git)
        .map_err(|e| ApiError::validation(format!("an MCP server of the task: {e}")))?;
    let missing = missing(conn, user, &names).await?;
    if missing.is_empty() {
        return Ok(());
    }
    let (noun, pronoun) = if missing.len() == 1 {
        ("secret", "it")
    } else {
        ("secrets", "them")
    };
    Err(ApiError::Unprocessable {
        code: ErrorCode::UnknownSecret,
        message: format!(
            "the task needs the {noun} {}, which neither you nor the system have: add {pronoun} \
             under Secrets (PUT /api/v1/secrets/{{name}})",
            missing.join(", ")
        ),
    })
}

/// The names in `names` that neither `user` nor the system has, in order.
pub async fn missing(
    conn: &mut PgConnection,
    user: Uuid,
    names: &BTreeSet<String>,
) -> Result<Vec<String>, sqlx::Error> {
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let wanted: Vec<&str> = names.iter().map(String::as_str).collect();
    let found: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT name FROM secrets \
         WHERE name = ANY($2) AND (user_id = $1 OR user_id IS NULL)",
    )
    .bind(user)
    .bind(&wanted)
    .fetch_all(&mut *conn)
    .await?;
    let found: BTreeSet<String> = found.into_iter().collect();
    Ok(names.difference(&found).cloned().collect())
}

/// A stored secret as opening it needs: (owner, name, key id, nonce, ciphertext).
type SealedRow = (Option<Uuid>, String, String, Vec<u8>, Vec<u8>);

/// The values of `names` for a run of `user`: the user's own secret of each name, else the
/// system's.
pub async fn resolve(
    conn: &mut PgConnection,
    keyring: &Keyring,
    user: Uuid,
    names: &BTreeSet<String>,
) -> Result<RunSecrets, ResolveError> {
    if names.is_empty() {
        return Ok(RunSecrets::new());
    }
    let wanted: Vec<&str> = names.iter().map(String::as_str).collect();
    // The user's row sorts before the system's (NULLS LAST), so DISTINCT ON keeps it.
    let rows: Vec<SealedRow> = sqlx::query_as(
        "SELECT DISTINCT ON (name) user_id, name, key_id, nonce, ciphertext FROM secrets \
         WHERE name = ANY($2) AND (user_id = $1 OR user_id IS NULL) \
         ORDER BY name, user_id NULLS LAST",
    )
    .bind(user)
    .bind(&wanted)
    .fetch_all(&mut *conn)
    .await?;
    let mut out = BTreeMap::new();
    for (owner, name, key_id, nonce, ciphertext) in rows {
        let sealed = Sealed {
            key_id,
            nonce,
            ciphertext,
        };
        let value = keyring
            .open(&crypto::associated_data(owner, &name), &sealed)
            .map_err(|source| ResolveError::Crypto {
                name: name.clone(),
                source,
            })?;
        out.insert(name, SecretValue::new(value.expose().clone()));
    }
    if let Some(name) = names.iter().find(|n| !out.contains_key(*n)) {
        return Err(ResolveError::Missing(name.clone()));
    }
    Ok(out)
}

/// The claim's step: the values of the secrets `run` needs, into `run.secrets`. Returns `false`
/// when they cannot be had — a name deleted since the submit (or never checked: a scheduled
/// fire), a value that does not open — after failing the run at once, not retryable, with a
/// message naming the secret: retrying would meet the same gap, and the claimer moves on to the
/// next run instead of holding the queue. The owner can add the secret and retry the run
/// (`POST /runs/{id}/retry`). A database error is returned as it is (the run stays leased and
/// the reaper re-queues it).
pub async fn resolve_for_claim(
    state: &crate::state::AppState,
    worker_id: &str,
    run: &mut protocol::internal::ClaimedRun,
) -> ApiResult<bool> {
    let failure = match needed(run.capabilities.as_ref(), run.git.as_ref()) {
        Err(e) => format!("an MCP server of the run: {e}"),
        Ok(names) if names.is_empty() => return Ok(true),
        Ok(names) => {
            let mut conn = state.pool.acquire().await?;
            match resolve(&mut conn, &state.keyring, run.user_id, &names).await {
                Ok(values) => {
                    run.secrets = values;
                    return Ok(true);
                }
                Err(ResolveError::Database(e)) => return Err(e.into()),
                Err(ResolveError::Missing(name)) => format!(
                    "the run needs the secret {name}, which neither its user nor the system has \
                     any more: add it under Secrets, then retry the run"
                ),
                Err(e @ ResolveError::Crypto { .. }) => e.to_string(),
            }
        }
    };
    tracing::warn!(run_id = %run.run_id, error = %failure, "the run's secrets cannot be resolved; failing it");
    crate::queue::lease::fail(
        &state.pool,
        run.run_id,
        worker_id,
        run.epoch,
        &failure,
        false,
        0,
    )
    .await?;
    Ok(false)
}

/// Start-up check: every key that wrote a stored secret is configured and opens one of its
/// rows, so a wrong or missing `ENCRYPTION_KEY` stops the process now, not at the first run.
/// The error is one line naming `ENCRYPTION_KEY`.
pub async fn check_keys(pool: &sqlx::PgPool, keyring: &Keyring) -> Result<(), String> {
    let rows: Vec<SealedRow> = sqlx::query_as(
        "SELECT DISTINCT ON (key_id) user_id, name, key_id, nonce, ciphertext FROM secrets \
         ORDER BY key_id, updated_at DESC",
    )
    .fetch_all(pool)
    .await
    .map_err(|e| format!("cannot read the secrets table to check ENCRYPTION_KEY: {e}"))?;
    for (owner, name, key_id, nonce, ciphertext) in rows {
        let sealed = Sealed {
            key_id,
            nonce,
            ciphertext,
        };
        keyring
            .open(&crypto::associated_data(owner, &name), &sealed)
            .map_err(|e| format!("ENCRYPTION_KEY: {e}"))?;
    }
    Ok(())
}
