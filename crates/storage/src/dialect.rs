//! Everything that differs between SQLite and PostgreSQL, in one place.

/// Which database a [`crate::Store`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn from_url(url: &str) -> Option<Backend> {
        if url.starts_with("sqlite:") {
            Some(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Backend::Postgres)
        } else {
            None
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }

    /// SQLite files are created when missing (`mode=rwc`) unless the URL chose a mode itself.
    pub(crate) fn normalise_url(self, url: &str) -> String {
        match self {
            Backend::Sqlite if !url.contains("mode=") && !url.contains(":memory:") => {
                let sep = if url.contains('?') { '&' } else { '?' };
                format!("{url}{sep}mode=rwc")
            }
            _ => url.to_owned(),
        }
    }

    /// Statements run on every new connection.
    ///
    /// SQLite: WAL so readers never block the writer; `synchronous=FULL` because a webhook is
    /// acknowledged only after its commit and an acknowledged event must survive power loss, not
    /// just a process crash (group commit keeps the fsync cost per event small); a busy timeout
    /// for the rare reader/checkpoint contention; foreign keys on.
    pub(crate) fn session_setup(self) -> &'static [&'static str] {
        match self {
            Backend::Sqlite => &[
                "PRAGMA journal_mode = WAL",
                "PRAGMA synchronous = FULL",
                "PRAGMA busy_timeout = 5000",
                "PRAGMA foreign_keys = ON",
            ],
            Backend::Postgres => &[],
        }
    }

    /// The clause that lets several nodes claim outbox rows without blocking on each other.
    /// SQLite has one writer connection, so claims are already serialised there.
    pub(crate) fn skip_locked(self) -> &'static str {
        match self {
            Backend::Sqlite => "",
            Backend::Postgres => "FOR UPDATE SKIP LOCKED",
        }
    }

    /// The `n` bind parameters of a statement whose parameters are *all* produced by this
    /// function, in binding order, starting after `offset` earlier ones.
    ///
    /// SQLite gets anonymous `?`: sqlx binds those sequentially, whereas each `$N` costs a lookup
    /// that scans every named parameter of the statement — quadratic for a multi-row INSERT of
    /// thousands of values (it was a fifth of ingest CPU). PostgreSQL only understands `$N`.
    pub(crate) fn params(self, offset: usize, n: usize) -> String {
        match self {
            Backend::Sqlite => vec!["?"; n].join(", "),
            Backend::Postgres => (offset + 1..=offset + n)
                .map(|i| format!("${i}"))
                .collect::<Vec<_>>()
                .join(", "),
        }
    }

    /// `(…), (…)` for `rows` rows of `cols` parameters each, bound in row-major order; the whole
    /// statement must take its parameters from [`Backend::params`] (see there).
    pub(crate) fn values_rows(self, rows: usize, cols: usize, offset: usize) -> String {
        let mut out = String::with_capacity(rows * (cols * 5 + 4));
        for r in 0..rows {
            if r > 0 {
                out.push_str(", ");
            }
            out.push('(');
            out.push_str(&self.params(offset + r * cols, cols));
            out.push(')');
        }
        out
    }

    /// Serialises concurrent migrators (several nodes starting at once) on PostgreSQL.
    pub(crate) fn migration_lock(self) -> Option<&'static str> {
        match self {
            Backend::Sqlite => None,
            Backend::Postgres => Some("SELECT pg_advisory_xact_lock(7370617421)"),
        }
    }

    pub(crate) fn migrations(self) -> &'static [(i64, &'static str, &'static str)] {
        match self {
            Backend::Sqlite => &[(
                1,
                "core",
                include_str!("../migrations/sqlite/0001_core.sql"),
            )],
            Backend::Postgres => &[(
                1,
                "core",
                include_str!("../migrations/postgres/0001_core.sql"),
            )],
        }
    }
}
