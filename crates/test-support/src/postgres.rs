//! A fresh PostgreSQL database on the server `DATABASE_URL` names. Tests get theirs from
//! `#[sqlx::test]` (migrations passed in by the test: `migrator = "backend::db::MIGRATOR"`);
//! benchmarks, which have no such attribute, from [`with_fresh_database`].

use std::future::Future;

use sqlx::{Connection, PgConnection, PgPool};

/// `DATABASE_URL`: a PostgreSQL server the tests may create databases in. Panics when unset.
pub fn server_url() -> String {
    std::env::var("DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
        .expect("set DATABASE_URL to a PostgreSQL server the tests may create databases in (scripts/test.sh does)")
}

/// `url` with its database replaced by `database` (user, password, host, port and parameters kept).
pub fn url_with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[authority_start..]
        .find('/')
        .map_or(base.len(), |i| authority_start + i);
    let mut out = format!("{}/{database}", &base[..path_start]);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

/// The URL of the database `pool` uses (e.g. the one `#[sqlx::test]` made for this test), for a
/// service started as its own process.
pub fn database_url(pool: &PgPool) -> String {
    let database = pool
        .connect_options()
        .get_database()
        .unwrap_or("postgres")
        .to_owned();
    url_with_database(&server_url(), &database)
}

/// Runs `body` with the URL of a new, empty database (named `bench_<uuid>`), which is dropped
/// afterwards whatever `body` returned. Migrations are the caller's: it connects with the pool it
/// measures and runs them there.
pub async fn with_fresh_database<F, Fut, T>(body: F) -> T
where
    F: FnOnce(String) -> Fut,
    Fut: Future<Output = T>,
{
    let admin_url = server_url();
    let database = format!("bench_{}", uuid::Uuid::new_v4().simple());
    let mut admin = PgConnection::connect(&admin_url)
        .await
        .unwrap_or_else(|e| panic!("connect to DATABASE_URL: {e}"));
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {database}")))
        .execute(&mut admin)
        .await
        .unwrap_or_else(|e| panic!("create database {database}: {e}"));
    let result = body(url_with_database(&admin_url, &database)).await;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE {database} WITH (FORCE)"
    )))
    .execute(&mut admin)
    .await
    .unwrap_or_else(|e| panic!("drop database {database}: {e}"));
    result
}

/// Every row of every table of the database's `public` schema, as text (bytea as hex), like a
/// dump: the haystack a test searches for a value that must not be stored in clear.
pub async fn dump(pool: &PgPool) -> String {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT quote_ident(tablename) FROM pg_tables WHERE schemaname = 'public' ORDER BY 1",
    )
    .fetch_all(pool)
    .await
    .expect("list the tables");
    let mut out = String::new();
    for table in tables {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT coalesce(string_agg(t::text, E'\\n'), '') FROM {table} t"
        ));
        let rows: String = sqlx::query_scalar(sql)
            .fetch_one(pool)
            .await
            .expect("read a table");
        out.push_str(&format!("-- {table}\n{rows}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::url_with_database;

    #[test]
    fn only_the_database_part_changes() {
        for (url, want) in [
            (
                "postgresql://u@h:5432/postgres",
                "postgresql://u@h:5432/db1",
            ),
            ("postgresql://u:p@h:5432", "postgresql://u:p@h:5432/db1"),
            (
                "postgres://u:p@h/postgres?sslmode=disable&options=a/b",
                "postgres://u:p@h/db1?sslmode=disable&options=a/b",
            ),
        ] {
            assert_eq!(url_with_database(url, "db1"), want, "{url}");
        }
    }
}
