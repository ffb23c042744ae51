//! The backend process: connect, migrate, start background tasks, serve until SIGTERM/SIGINT.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::auth::token::TokenKeys;
use crate::config::Settings;
use crate::queue::notify::QueueNotifier;
use crate::state::AppState;

/// Why the backend's state could not be built.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    /// `ENCRYPTION_KEY` does not open the stored secrets (one line naming it).
    #[error("{0}")]
    Keys(String),
    /// `MODELS_CONFIG_PATH` cannot be read or is not a valid catalog (one line naming it).
    #[error(transparent)]
    Models(#[from] crate::models::CatalogError),
}

/// Builds the state for `pool` (migrations already applied) and starts the background tasks (the
/// queue listener and the lease reaper), which stop when `shutdown` is cancelled. Refuses to start
/// when `MODELS_CONFIG_PATH` is not a valid catalog or `ENCRYPTION_KEY` does not open the stored
/// secrets.
pub async fn start_state(
    settings: Settings,
    pool: PgPool,
    shutdown: CancellationToken,
) -> Result<AppState, StartError> {
    let catalog = Arc::new(crate::models::Catalog::from_settings(&settings)?);
    let keyring = Arc::new(crate::secrets::Keyring::new(&settings.encryption_keys()));
    crate::secrets::check_keys(&pool, &keyring)
        .await
        .map_err(StartError::Keys)?;
    let local_user = crate::auth::ensure_local_user(&pool).await?;
    let queue = QueueNotifier::new();
    let inputs = crate::input_requests::notify::InputNotifier::new();
    spawn_wakeups(pool.clone(), &queue, &inputs, shutdown.clone());
    crate::queue::reaper::spawn(
        pool.clone(),
        Duration::from_secs(settings.lease_reaper_interval_seconds),
        settings.run_retry_backoff_seconds,
        shutdown.clone(),
    );
    let bucket = objstore::Bucket::new(&settings.s3());
    crate::retention::spawn(
        pool.clone(),
        crate::retention::Policy::from_settings(&settings),
        Some(std::sync::Arc::new(bucket.clone())),
        shutdown.clone(),
    );
    telemetry::metrics::install();
    let live = crate::live::Hub::new();
    live.spawn_listener(pool.clone(), shutdown.clone());
    Ok(AppState {
        inputs,
        live,
        titles: crate::titles::TitleGenerator::from_settings(&settings),
        nudger: crate::nudge::Nudger::from_settings(&settings),
        sign_in: Arc::new(crate::auth::sign_in::Providers::new()),
        ingester: crate::events::ingest::Ingester::spawn(pool.clone()),
        storage: bucket,
        tokens: TokenKeys::new(settings.secret_key.expose(), settings.auth_token_ttl_hours),
        protection: crate::protection::Protection::from_settings(&settings),
        settings: Arc::new(settings),
        pool,
        queue,
        local_user,
        keyring,
        catalog,
        shutdown,
    })
}

/// One listener connection for the wake-ups of long polls: claimers (`run_queue`) and the
/// managers' answer polls (`input_answers`). A reconnection wakes them all (what was notified
/// meanwhile is lost, so they look again).
fn spawn_wakeups(
    pool: PgPool,
    queue: &QueueNotifier,
    inputs: &crate::input_requests::notify::InputNotifier,
    shutdown: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    use crate::input_requests::notify::CHANNEL as INPUTS;
    use crate::queue::notify::CHANNEL as QUEUE;
    let (q, i) = (queue.clone(), inputs.clone());
    let (q2, i2) = (queue.clone(), inputs.clone());
    crate::db::spawn_listener(
        pool,
        &[QUEUE, INPUTS],
        shutdown,
        move |channel, payload| {
            if channel == INPUTS {
                i.on_notify(payload);
            } else {
                q.bump();
            }
        },
        move || {
            q2.bump();
            i2.bump_all();
        },
    )
}

/// Serves `state` on `listener` until `shutdown` is cancelled, then drains in-flight requests.
pub async fn serve(listener: TcpListener, state: AppState) -> std::io::Result<()> {
    let shutdown = state.shutdown.clone();
    let app = crate::api::router(state);
    // Small answers must not wait for Nagle's algorithm (up to 40 ms with delayed ACKs).
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp: &mut tokio::net::TcpStream| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
    });
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move { shutdown.cancelled().await })
    .await
}

/// Cancels `token` at the first SIGTERM or SIGINT (handlers registered before this returns).
pub fn cancel_on_signal(token: CancellationToken) {
    let signal = telemetry::shutdown_signal();
    tokio::spawn(async move {
        signal.await;
        tracing::info!("draining");
        token.cancel();
    });
}
