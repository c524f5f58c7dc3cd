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

    /// Serialises concurrent migrators (several nodes starting at once) on PostgreSQL: a
    /// session-level lock, taken on one connection before anything else — even the
    /// `CREATE TABLE IF NOT EXISTS schema_migrations`, which is not safe against itself there
    /// (two at once fail on `pg_type_typname_nsp_index`) — and held for the whole run.
    pub(crate) fn migration_lock(self) -> Option<(&'static str, &'static str)> {
        match self {
            Backend::Sqlite => None,
            Backend::Postgres => Some((
                "SELECT pg_advisory_lock(7370617421)",
                "SELECT pg_advisory_unlock(7370617421)",
            )),
        }
    }

    /// How a migration's transaction begins. SQLite takes the write lock up front
    /// (`IMMEDIATE`): a deferred transaction that reads `schema_migrations` and then writes fails
    /// at once with `SQLITE_BUSY` when another migrator wrote in between, while waiting for the
    /// lock honours the busy timeout and then sees the other's work.
    pub(crate) fn migration_begin(self) -> &'static str {
        match self {
            Backend::Sqlite => "BEGIN IMMEDIATE",
            Backend::Postgres => "BEGIN",
        }
    }

    /// The numbered migrations, with this dialect's id and binary column types filled in.
    pub(crate) fn migrations(self) -> Vec<(i64, &'static str, String)> {
        let id = match self {
            Backend::Sqlite => "INTEGER PRIMARY KEY AUTOINCREMENT",
            Backend::Postgres => "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
        };
        let blob = match self {
            Backend::Sqlite => "BLOB",
            Backend::Postgres => "BYTEA",
        };
        let shared = MIGRATIONS
            .iter()
            .map(|(version, name, sql)| (*version, *name, *sql));
        let own = PER_BACKEND_MIGRATIONS
            .iter()
            .map(|(version, name, sqlite, postgres)| {
                let sql = match self {
                    Backend::Sqlite => *sqlite,
                    Backend::Postgres => *postgres,
                };
                (*version, *name, sql)
            });
        let mut all: Vec<(i64, &'static str, String)> = shared
            .chain(own)
            .map(|(version, name, sql)| {
                let sql = sql.replace("{{ID}}", id).replace("{{BLOB}}", blob);
                (version, name, sql)
            })
            .collect();
        all.sort_by_key(|(version, _, _)| *version);
        all
    }

    /// Full-text search: FTS5 on SQLite, a tsvector with a GIN index on PostgreSQL.
    pub(crate) fn search_insert(self) -> &'static str {
        match self {
            Backend::Sqlite => {
                "INSERT INTO search_docs (body, kind, ref_id, conversation_id, channel_id, contact_id)
                 VALUES ($1, $2, $3, $4, $5, $6)"
            }
            Backend::Postgres => {
                "INSERT INTO search_docs (body, kind, ref_id, conversation_id, channel_id, contact_id, tsv)
                 VALUES ($1, $2, $3, $4, $5, $6, to_tsvector('simple', $1)) ON CONFLICT DO NOTHING"
            }
        }
    }
}

/// Migrations that must differ per database (version, name, SQLite, PostgreSQL).
const PER_BACKEND_MIGRATIONS: &[(i64, &str, &str, &str)] = &[(
    16,
    "search",
    include_str!("../migrations/0016_search.sqlite.sql"),
    include_str!("../migrations/0016_search.postgres.sql"),
)];

/// Schema migrations, in order. Written once in the subset both databases share.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "core", include_str!("../migrations/0001_core.sql")),
    (
        2,
        "message_ids_per_contact",
        include_str!("../migrations/0002_message_ids_per_contact.sql"),
    ),
    (
        3,
        "call_started",
        include_str!("../migrations/0003_call_started.sql"),
    ),
    (4, "media", include_str!("../migrations/0004_media.sql")),
    (
        5,
        "contact_facts_and_alerts",
        include_str!("../migrations/0005_contact_facts_and_alerts.sql"),
    ),
    (
        6,
        "automations",
        include_str!("../migrations/0006_automations.sql"),
    ),
    (7, "nodes", include_str!("../migrations/0007_nodes.sql")),
    (
        8,
        "personas",
        include_str!("../migrations/0008_personas.sql"),
    ),
    (
        9,
        "automation_queue_indexes",
        include_str!("../migrations/0009_automation_queue_indexes.sql"),
    ),
    (
        10,
        "fenced_claims",
        include_str!("../migrations/0010_fenced_claims.sql"),
    ),
    (
        11,
        "idempotency_keys",
        include_str!("../migrations/0011_idempotency_keys.sql"),
    ),
    (
        12,
        "poll_leases",
        include_str!("../migrations/0012_poll_leases.sql"),
    ),
    (13, "people", include_str!("../migrations/0013_people.sql")),
    (
        14,
        "team_inbox",
        include_str!("../migrations/0014_team_inbox.sql"),
    ),
    (
        15,
        "inbox_events",
        include_str!("../migrations/0015_inbox_events.sql"),
    ),
];
