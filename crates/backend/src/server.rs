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

/// Builds the state for `pool` (migrations already applied) and starts the background tasks (the
/// queue listener and the lease reaper), which stop when `shutdown` is cancelled.
pub async fn start_state(
    settings: Settings,
    pool: PgPool,
    shutdown: CancellationToken,
) -> Result<AppState, sqlx::Error> {
    let local_user = crate::auth::ensure_local_user(&pool).await?;
    let queue = QueueNotifier::new();
    queue.spawn_listener(pool.clone(), shutdown.clone());
    crate::queue::reaper::spawn(
        pool.clone(),
        Duration::from_secs(settings.lease_reaper_interval_seconds),
        settings.run_retry_backoff_seconds,
        shutdown.clone(),
    );
    let live = crate::live::Hub::new();
    live.spawn_listener(pool.clone(), shutdown.clone());
    Ok(AppState {
        live,
        titles: crate::titles::TitleGenerator::from_settings(&settings),
        ingester: crate::events::ingest::Ingester::spawn(pool.clone()),
        tokens: TokenKeys::new(&settings.secret_key, settings.auth_token_ttl_hours),
        settings: Arc::new(settings),
        pool,
        queue,
        local_user,
        shutdown,
    })
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

/// Cancels `token` at the first SIGTERM or SIGINT.
pub fn cancel_on_signal(token: CancellationToken) {
    tokio::spawn(async move {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        {
            let mut term =
                match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                    Ok(s) => s,
                    Err(e) => {
                        tracing::error!(error = %e, "cannot listen for SIGTERM");
                        let _ = ctrl_c.await;
                        token.cancel();
                        return;
                    }
                };
            tokio::select! {
                _ = ctrl_c => {}
                _ = term.recv() => {}
            }
        }
        #[cfg(not(unix))]
        {
            let _ = ctrl_c.await;
        }
        tracing::info!("shutdown signal received; draining");
        token.cancel();
    });
}
