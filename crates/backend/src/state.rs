//! What every request handler can reach.

use std::sync::Arc;

use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::auth::token::TokenKeys;
use crate::config::Settings;
use crate::events::ingest::Ingester;
use crate::queue::notify::QueueNotifier;

/// Shared, cheaply cloned application state.
#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub settings: Arc<Settings>,
    pub tokens: TokenKeys,
    /// Wakes long-polling claimers when a run may have become claimable.
    pub queue: QueueNotifier,
    /// Wakes the managers' answer long-polls, per run.
    pub inputs: crate::input_requests::notify::InputNotifier,
    /// Tells WebSocket connections what changed.
    pub live: crate::live::Hub,
    /// Generates session titles when `OPENAI_API_KEY` is set.
    pub titles: Option<crate::titles::TitleGenerator>,
    /// Stores event batches with group commit.
    pub ingester: Ingester,
    /// The implicit user of single-user mode (exists in every mode; unused in `password` mode).
    pub local_user: Uuid,
    /// The S3 bucket (`S3_*`): presigned URLs, manifests, attachment uploads.
    pub storage: objstore::Bucket,
    /// Rate limits, login throttling and request timeouts of this process.
    pub protection: crate::protection::Protection,
    /// The keys of users' secrets (`ENCRYPTION_KEY`).
    pub keyring: Arc<crate::secrets::Keyring>,
    /// The models offered and their providers (`MODELS_CONFIG_PATH`).
    pub catalog: Arc<crate::models::Catalog>,
    /// Tells the executor manager of `EXECUTOR_MANAGER_URL` to heartbeat a canceled run now.
    pub nudger: crate::nudge::Nudger,
    /// The identity providers' endpoints and keys (`OIDC_*`, `GITHUB_*`), cached.
    pub sign_in: Arc<crate::auth::sign_in::Providers>,
    /// Cancelled when the server starts shutting down: long polls return at once.
    pub shutdown: CancellationToken,
}
