//! The connection pool and the embedded migrations.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, PgPool};

/// The migrations of `crates/backend/migrations`, compiled into the binary.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Opens a pool; SQL statements are logged only with `LOG_SQL`.
pub async fn connect(
    url: &str,
    max_connections: u32,
    log_sql: bool,
) -> Result<PgPool, sqlx::Error> {
    let mut options = PgConnectOptions::from_str(url)?.application_name("workcell-backend");
    options = if log_sql {
        options.log_statements(tracing::log::LevelFilter::Info)
    } else {
        options.log_statements(tracing::log::LevelFilter::Off)
    };
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(options)
        .await
}

/// Listens on `channels` until `shutdown`, calling `on_notify(channel, payload)` for each
/// notification and `on_connect()` after every (re)connection — notifications sent while
/// disconnected are lost, so listeners re-check what they watch. Reconnects after errors.
pub fn spawn_listener(
    pool: PgPool,
    channels: &'static [&'static str],
    shutdown: tokio_util::sync::CancellationToken,
    on_notify: impl Fn(&str, &str) + Send + Sync + 'static,
    on_connect: impl Fn() + Send + Sync + 'static,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let run = async {
                let mut listener = sqlx::postgres::PgListener::connect_with(&pool).await?;
                listener.listen_all(channels.iter().copied()).await?;
                on_connect();
                loop {
                    match listener.try_recv().await? {
                        Some(n) => on_notify(n.channel(), n.payload()),
                        // The connection dropped; the next call reconnects.
                        None => on_connect(),
                    }
                }
                #[allow(unreachable_code)]
                Ok::<(), sqlx::Error>(())
            };
            tokio::select! {
                _ = shutdown.cancelled() => return,
                res = run => {
                    if let Err(e) = res {
                        tracing::warn!(error = %e, ?channels, "notification listener lost its connection; retrying");
                    }
                }
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(Duration::from_millis(500)) => {}
            }
        }
    })
}
