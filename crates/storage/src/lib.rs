//! Durable storage for Switchboard: one schema and one code path over SQLite and PostgreSQL.
//!
//! Queries are runtime-checked `sqlx::query` strings over the `Any` driver, written in the
//! portable subset both databases share (`$n` placeholders, `ON CONFLICT`, `RETURNING`, BIGINT
//! epoch-ms times, 0/1 flags, TEXT JSON). The few places the dialects differ live in
//! [`dialect`]. Every behaviour is tested on both backends.
//!
//! Writes go through a dedicated writer pool. On SQLite it holds exactly one connection, so write
//! transactions never race for the database lock (SQLite has a single writer anyway, and a
//! deferred transaction that loses the race fails instead of waiting); reads use their own pool
//! and run concurrently thanks to WAL. On PostgreSQL both pools are ordinary pools.

mod automation;
mod channels;
mod contacts;
mod data_rights;
pub mod dialect;
mod events;
mod idempotency;
mod inbox;
mod ingest;
mod media;
mod migrate;
mod outbox;
mod people;
mod poll_leases;
mod rows;
mod scheduled;
mod search;
mod team_inbox;
pub mod testing;

use std::time::Duration;

use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, Executor};

pub use automation::{
    Applied, AutomationChanges, AutomationContext, AutomationJob, AutomationSubject,
    StoredAutomations,
};
pub use channels::{ChannelRecord, NewChannel};
pub use contacts::{ChannelAlert, PendingProfile, ProfileFacts};
pub use data_rights::ContactExport;
pub use dialect::Backend;
pub use events::{InboxEventRow, NewMessageRow};
pub use idempotency::{IDEMPOTENCY_TTL_MS, IdempotencyKey, Idempotent, StoredResponse};
pub use inbox::{ContactRow, ConversationRow, MessageRow, SendContext};
pub use ingest::{IngestItem, IngestOutcome, OutgoingDraft};
pub use media::{MediaInfo, NewMedia};
pub use outbox::{
    BOOT_SEPARATOR, ClaimToken, DispatchResult, Lane, OutboxJob, OutgoingItem, Recorded, Restart,
    RetryPolicy,
};
pub use people::{
    ApiTokenRow, AuditEntry, NewAuditEntry, NewSession, NewUser, SessionRow, TeamRow, UserChanges,
    UserRow,
};
pub use scheduled::{ScheduledOutcome, ScheduledRow};
pub use search::SearchHit;
pub use team_inbox::{AssigneeFilter, InboxItem, InboxQuery, InboxStatus, NoteRow};

/// Errors of the storage layer. The server maps them to HTTP once (503 for `Unavailable`).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database did not answer or refused the work; callers should retry later.
    #[error("database unavailable: {0}")]
    Unavailable(#[source] sqlx::Error),
    /// A row we wrote earlier could not be read back into the model (a bug or manual edit).
    #[error("corrupt row: {0}")]
    Corrupt(String),
    #[error("not found")]
    NotFound,
    /// A uniqueness rule of the model was violated (e.g. the same page connected twice).
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("unsupported database url: {0}")]
    UnsupportedUrl(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::RowNotFound => StoreError::NotFound,
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                StoreError::Conflict(db.message().to_owned())
            }
            sqlx::Error::ColumnDecode { .. }
            | sqlx::Error::ColumnNotFound(_)
            | sqlx::Error::Decode(_) => StoreError::Corrupt(e.to_string()),
            _ => StoreError::Unavailable(e),
        }
    }
}

impl StoreError {
    /// PostgreSQL chose this transaction as the victim of a deadlock (SQLSTATE 40P01) or of a
    /// serialization failure (40001): nothing was written, and running the same transaction
    /// again is the documented remedy. SQLite, with its one writer, never says this.
    pub fn is_retryable_conflict(&self) -> bool {
        matches!(self, StoreError::Unavailable(sqlx::Error::Database(db))
            if matches!(db.code().as_deref(), Some("40P01" | "40001")))
    }
}

/// How often a transaction that lost a deadlock is tried in all before the error is returned.
const CONFLICT_ATTEMPTS: u32 = 3;

/// Runs a whole transaction, and runs it again when PostgreSQL rolled it back as a deadlock's
/// victim ([`StoreError::is_retryable_conflict`]); any other outcome is returned as it is.
pub(crate) async fn run_again_on_conflict<T, F, Fut>(what: &str, mut transaction: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    let mut attempt = 1;
    loop {
        match transaction().await {
            Err(e) if e.is_retryable_conflict() && attempt < CONFLICT_ATTEMPTS => {
                tracing::info!(what, attempt, error = %e, "lost a deadlock; running it again");
                attempt += 1;
            }
            result => return result,
        }
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// The handle every other crate uses to reach the database. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    read: AnyPool,
    write: AnyPool,
    backend: Backend,
}

/// How to connect.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    pub url: String,
    /// Connections for readers (and, on PostgreSQL, for writers too).
    pub max_connections: u32,
    pub acquire_timeout: Duration,
}

impl StoreOptions {
    pub fn new(url: impl Into<String>) -> Self {
        StoreOptions {
            url: url.into(),
            max_connections: 8,
            acquire_timeout: Duration::from_secs(5),
        }
    }
}

impl Store {
    /// Connects (creating a SQLite file if it does not exist) and applies pending migrations.
    pub async fn open(options: StoreOptions) -> Result<Store> {
        let store = Store::connect(options).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// Connects without migrating.
    pub async fn connect(options: StoreOptions) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let backend = Backend::from_url(&options.url)
            .ok_or_else(|| StoreError::UnsupportedUrl(redact_url(&options.url)))?;
        let url = backend.normalise_url(&options.url);
        let pool = |max: u32| {
            AnyPoolOptions::new()
                .max_connections(max)
                .min_connections(0)
                .acquire_timeout(options.acquire_timeout)
                // A failed query already surfaces as `Unavailable`; pinging before every acquire
                // would add a round trip to every transaction on the writer's critical path.
                .test_before_acquire(false)
                .after_connect(move |conn, _meta| {
                    Box::pin(async move {
                        for pragma in backend.session_setup() {
                            conn.execute(*pragma).await?;
                        }
                        Ok(())
                    })
                })
        };
        let (read, write) = match backend {
            Backend::Sqlite => {
                let write = pool(1).connect(&url).await?;
                let read = pool(options.max_connections).connect(&url).await?;
                (read, write)
            }
            Backend::Postgres => {
                let p = pool(options.max_connections).connect(&url).await?;
                (p.clone(), p)
            }
        };
        Ok(Store {
            read,
            write,
            backend,
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Applies every migration not yet applied. Safe to run from several nodes at once.
    pub async fn migrate(&self) -> Result<()> {
        migrate::run(&self.write, self.backend).await
    }

    /// How many migrations the database records as applied, and how many this build knows
    /// (operations and tests: equal after [`Store::migrate`]).
    pub async fn count_schema_migrations(&self) -> Result<i64> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM schema_migrations")
            .fetch_one(&self.read)
            .await?;
        rows::get(&row, "n")
    }

    pub fn known_migrations(&self) -> usize {
        self.backend.migrations().len()
    }

    /// Succeeds when the database answers a trivial query (used by `/healthz`).
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.read).await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.read.close().await;
        self.write.close().await;
    }
}

/// A database URL with any password removed, for error messages and logs.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}://{}:***@{}", &url[..scheme_end], user, &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_never_reach_logs() {
        assert_eq!(
            super::redact_url("postgres://sb:s3cret@db:5432/sb"),
            "postgres://sb:***@db:5432/sb"
        );
        assert_eq!(
            super::redact_url("sqlite://switchboard.db"),
            "sqlite://switchboard.db"
        );
    }
}
