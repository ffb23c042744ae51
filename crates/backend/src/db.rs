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
