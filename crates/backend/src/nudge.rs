//! Cancel nudges: when the owner stops a run on a worker, the backend tells the executor manager
//! named by `EXECUTOR_MANAGER_URL` to heartbeat that run now
//! (`POST {EXECUTOR_MANAGER_URL}/api/v1/internal/runs/{run_id}/nudge` with the internal token),
//! so the cancel reaches the executor at once instead of at the run's next heartbeat (a third of
//! its lease later).
//!
//! A nudge is a hint, sent after the cancel is committed, off the request path, once, with a
//! short timeout: the run's state in the database stays the truth, and a manager the URL does not
//! name (it answers 404 for a run it does not hold), an unreachable one, or an unset URL only
//! means the cancel arrives with the next heartbeat, as it always did.

use std::sync::Arc;
use std::time::Duration;

use protocol::internal::INTERNAL_TOKEN_HEADER;
use uuid::Uuid;

use crate::config::Settings;

/// How long one nudge may take.
const TIMEOUT: Duration = Duration::from_secs(2);

/// Sends nudges to `EXECUTOR_MANAGER_URL` (nothing when it is unset).
#[derive(Clone)]
pub struct Nudger {
    target: Option<Arc<Target>>,
}

struct Target {
    client: reqwest::Client,
    base: String,
    token: String,
}

impl Nudger {
    pub fn from_settings(settings: &Settings) -> Self {
        let target = settings
            .executor_manager_url
            .as_deref()
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .and_then(|url| {
                let client = reqwest::Client::builder().timeout(TIMEOUT).build().ok()?;
                Some(Arc::new(Target {
                    client,
                    base: url.trim_end_matches('/').to_owned(),
                    token: settings.internal_api_token.expose().clone(),
                }))
            });
        Self { target }
    }

    /// Nudges each of `runs` in the background.
    pub fn runs(&self, runs: &[Uuid]) {
        let Some(target) = &self.target else { return };
        for &run_id in runs {
            let target = target.clone();
            tokio::spawn(async move {
                let url = format!("{}/api/v1/internal/runs/{run_id}/nudge", target.base);
                match target
                    .client
                    .post(&url)
                    .header(INTERNAL_TOKEN_HEADER, &target.token)
                    .send()
                    .await
                {
                    Ok(r) if r.status().is_success() => {
                        tracing::debug!(%run_id, "executor manager nudged");
                    }
                    // Another manager holds the run: it learns of the cancel by its heartbeat.
                    Ok(r) => {
                        tracing::debug!(%run_id, status = r.status().as_u16(), "nudge not taken")
                    }
                    Err(e) => {
                        tracing::warn!(%run_id, error = %e.without_url(), "cannot nudge the executor manager (EXECUTOR_MANAGER_URL)")
                    }
                }
            });
        }
    }
}
