//! A small migration runner: numbered SQL files embedded in the binary, applied in order, each in
//! its own transaction, recorded in `schema_migrations`.
//!
//! Written here rather than using `sqlx::migrate` so one code path serves both backends through
//! `Any` and the PostgreSQL advisory lock is explicit.

use sqlx::{AnyPool, Executor, Row};

use crate::{Backend, Result};

pub(crate) async fn run(pool: &AnyPool, backend: Backend) -> Result<()> {
    // Even `CREATE TABLE IF NOT EXISTS` is not safe to run concurrently on PostgreSQL (two
    // sessions may both find the table missing; the loser fails on the type catalogue's unique
    // index), so it runs under the same lock as the migrations.
    let mut tx = pool.begin_with(backend.begin_writing()).await?;
    if let Some(lock) = backend.migration_lock() {
        tx.execute(lock).await?;
    }
    tx.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
    )
    .await?;
    tx.commit().await?;
    for (version, name, sql) in backend.migrations() {
        let mut tx = pool.begin_with(backend.begin_writing()).await?;
        if let Some(lock) = backend.migration_lock() {
            tx.execute(lock).await?;
        }
        let applied = sqlx::query("SELECT COUNT(*) AS n FROM schema_migrations WHERE version = $1")
            .bind(version)
            .fetch_one(&mut *tx)
            .await?
            .try_get::<i64, _>("n")?;
        if applied > 0 {
            continue;
        }
        tracing::info!(
            version,
            name,
            backend = backend.as_str(),
            "applying migration"
        );
        // Executed as one multi-statement string: both drivers accept that outside prepared
        // statements, and the transaction makes the file all-or-nothing.
        tx.execute(sqlx::AssertSqlSafe(sql.clone())).await?;
        sqlx::query(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
        )
        .bind(version)
        .bind(name)
        .bind(switchboard_domain::Millis::now().0)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
    }
    Ok(())
}
