//! A small migration runner: numbered SQL files embedded in the binary, applied in order, each in
//! its own transaction, recorded in `schema_migrations`.
//!
//! Written here rather than using `sqlx::migrate` so one code path serves both backends through
//! `Any` and the PostgreSQL advisory lock is explicit. Several nodes may start at the same moment
//! on a fresh database: on PostgreSQL the whole run, `schema_migrations` included, happens under
//! one session-level advisory lock held by one connection; on SQLite each step takes the write
//! lock up front (see [`Backend::migration_begin`]).

use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyPool, Connection, Executor, Row};

use crate::{Backend, Result};

pub(crate) async fn run(pool: &AnyPool, backend: Backend) -> Result<()> {
    let mut conn = pool.acquire().await?;
    let Some((lock, unlock)) = backend.migration_lock() else {
        return apply(&mut conn, backend).await;
    };
    conn.execute(lock).await?;
    let result = apply(&mut conn, backend).await;
    if result.is_err() || conn.execute(unlock).await.is_err() {
        // A connection in an unknown state must not go back to the pool holding the lock:
        // closing it ends the session, which releases the lock.
        let _ = conn.detach().close().await;
    }
    result
}

async fn apply(conn: &mut PoolConnection<Any>, backend: Backend) -> Result<()> {
    {
        let mut tx = conn.begin_with(backend.migration_begin()).await?;
        tx.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
        )
        .await?;
        tx.commit().await?;
    }
    for (version, name, sql) in backend.migrations() {
        let mut tx = conn.begin_with(backend.migration_begin()).await?;
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
