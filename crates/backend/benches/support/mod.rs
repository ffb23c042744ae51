//! What the benchmarks share: a fresh database on the server `DATABASE_URL` names, dropped after.

use std::future::Future;

use anyhow::{Context, Result, bail};
use sqlx::{Connection, PgConnection};

/// `BENCH_SMOKE=1`: small sizes, for the test script's check that the benchmark still runs.
pub fn smoke() -> bool {
    std::env::var("BENCH_SMOKE").is_ok_and(|v| v == "1")
}

/// Runs `bench` with the URL of a new, empty database, which is dropped afterwards whatever the
/// outcome.
pub async fn with_fresh_database<F, Fut>(bench: F) -> Result<()>
where
    F: FnOnce(String) -> Fut,
    Fut: Future<Output = Result<()>>,
{
    let admin_url =
        std::env::var("DATABASE_URL").context("set DATABASE_URL to a PostgreSQL server")?;
    let db = format!("bench_{}", uuid::Uuid::new_v4().simple());
    let mut admin = PgConnection::connect(&admin_url).await?;
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {db}")))
        .execute(&mut admin)
        .await?;
    let url = match admin_url.rfind('/') {
        Some(i) => format!("{}/{db}", &admin_url[..i]),
        None => bail!("DATABASE_URL has no database part"),
    };
    let result = bench(url).await;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE {db} WITH (FORCE)"
    )))
    .execute(&mut admin)
    .await?;
    result
}
