//! Users' and the system's secrets: stored encrypted (`crypto.rs`), named by configurations,
//! checked at submit ([`missing`]) and resolved for one run at its claim ([`resolve`]).
//!
//! Who holds a value in clear: the user who typed it (once, in the request that sets it), this
//! process while it seals, opens or resolves it, the manager that claimed a run needing it (in
//! memory, for that run), and that run's executor (the MCP config file it writes with mode 0600,
//! the git credential helper's environment). Never the database, logs, events, API answers or
//! an agent's environment.

pub mod crypto;

use std::collections::{BTreeMap, BTreeSet};

use protocol::secrets::{RunSecrets, SecretValue};
use sqlx::PgConnection;
use uuid::Uuid;

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
    let rows: Vec<(Option<Uuid>, String, String, Vec<u8>, Vec<u8>)> = sqlx::query_as(
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

/// Start-up check: every key that wrote a stored secret is configured and opens one of its
/// rows, so a wrong or missing `ENCRYPTION_KEY` stops the process now, not at the first run.
/// The error is one line naming `ENCRYPTION_KEY`.
pub async fn check_keys(pool: &sqlx::PgPool, keyring: &Keyring) -> Result<(), String> {
    let rows: Vec<(Option<Uuid>, String, String, Vec<u8>, Vec<u8>)> = sqlx::query_as(
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
