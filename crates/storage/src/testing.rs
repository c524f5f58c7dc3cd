//! Test support: a fresh database per test, on either backend.
//!
//! SQLite tests get a file in the temp directory, removed afterwards. PostgreSQL tests get their
//! own database `sb_test_…` created on the server named by `SWITCHBOARD_TEST_POSTGRES_URL` and
//! dropped afterwards, so the shared server is left as it was found. When that variable is unset
//! the PostgreSQL variant says loudly that it skipped — unless `CI` is set, where a skip would
//! hide a gap, so it fails instead. When it is set but the server does not answer, tests fail.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use sqlx::{Connection, Executor};

use crate::{Backend, Store, StoreOptions};

pub const POSTGRES_URL_VAR: &str = "SWITCHBOARD_TEST_POSTGRES_URL";

/// A database that exists for the lifetime of one test.
pub struct TestDatabase {
    pub url: String,
    pub backend: Backend,
    cleanup: Cleanup,
}

enum Cleanup {
    File(PathBuf),
    PgDatabase { admin_url: String, name: String },
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

fn unique_name() -> String {
    format!(
        "sb_test_{}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        fastrand::u32(..)
    )
}

impl TestDatabase {
    pub fn sqlite() -> TestDatabase {
        let path = std::env::temp_dir().join(format!("{}.db", unique_name()));
        TestDatabase {
            url: format!("sqlite://{}", path.display()),
            backend: Backend::Sqlite,
            cleanup: Cleanup::File(path),
        }
    }

    /// A fresh PostgreSQL database, or `None` (after saying so loudly) when none is configured.
    pub async fn postgres() -> Option<TestDatabase> {
        let Ok(admin_url) = std::env::var(POSTGRES_URL_VAR) else {
            assert!(
                std::env::var_os("CI").is_none(),
                "{POSTGRES_URL_VAR} is not set under CI: PostgreSQL tests must run, not skip"
            );
            eprintln!(
                "SKIPPED (PostgreSQL): set {POSTGRES_URL_VAR}=postgres://postgres@127.0.0.1:5432/postgres to run it"
            );
            return None;
        };
        let name = unique_name();
        let mut admin = sqlx::postgres::PgConnection::connect(&admin_url)
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL at {POSTGRES_URL_VAR} does not answer: {e}"));
        admin
            .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .await
            .unwrap_or_else(|e| panic!("cannot create test database {name}: {e}"));
        let _ = admin.close().await;
        Some(TestDatabase {
            url: replace_database(&admin_url, &name),
            backend: Backend::Postgres,
            cleanup: Cleanup::PgDatabase { admin_url, name },
        })
    }

    pub async fn for_backend(backend: Backend) -> Option<TestDatabase> {
        match backend {
            Backend::Sqlite => Some(TestDatabase::sqlite()),
            Backend::Postgres => TestDatabase::postgres().await,
        }
    }

    /// Opens (and migrates) a store on this database.
    pub async fn open(&self) -> Store {
        Store::open(StoreOptions::new(self.url.clone()))
            .await
            .expect("open test store")
    }
}

/// `postgres://u@h:p/db?x` with the database path swapped for `name`.
fn replace_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let authority_end = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[authority_end..]
        .find('/')
        .map_or(base.len(), |i| authority_end + i);
    let mut out = format!("{}/{}", &base[..path_start], name);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::File(path) => {
                for suffix in ["", "-wal", "-shm"] {
                    let mut p = path.clone().into_os_string();
                    p.push(suffix);
                    let _ = std::fs::remove_file(p);
                }
            }
            Cleanup::PgDatabase { admin_url, name } => {
                // Drop runs inside the test's runtime; use a thread with its own to stay sync.
                let (admin_url, name) = (admin_url.clone(), name.clone());
                let _ = std::thread::spawn(move || {
                    let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                    else {
                        return;
                    };
                    rt.block_on(async move {
                        if let Ok(mut admin) =
                            sqlx::postgres::PgConnection::connect(&admin_url).await
                        {
                            let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                            let _ = admin.execute(sqlx::AssertSqlSafe(sql)).await;
                            let _ = admin.close().await;
                        }
                    });
                })
                .join();
            }
        }
    }
}

/// Small fixtures the storage tests share: a Messenger page, a person's text message, a queued
/// answer to it.
/// Moves everything a person did `by_ms` into the past — how a test lets days go by for the
/// policy (the window, the human-agent period) without waiting for them.
pub async fn age_contact(store: &Store, contact: switchboard_domain::ContactId, by_ms: i64) {
    sqlx::query(
        "UPDATE contacts SET last_window_action_at = last_window_action_at - $1 WHERE id = $2",
    )
    .bind(by_ms)
    .bind(contact.0)
    .execute(&store.write)
    .await
    .expect("age the contact");
    sqlx::query(
        "UPDATE messages SET created_at = created_at - $1, sent_at = sent_at - $1
         WHERE contact_id = $2",
    )
    .bind(by_ms)
    .bind(contact.0)
    .execute(&store.write)
    .await
    .expect("age the contact's messages");
}

pub mod fixtures {
    use switchboard_domain::{
        AuthorKind, ChannelId, ChannelSettings, ContactRef, Content, InboundEnvelope, InboundEvent,
        MessengerSettings, Millis, Psid,
    };

    use crate::{IngestItem, Lane, NewChannel, OutgoingDraft, Store};

    /// A Messenger page with throwaway credentials.
    pub async fn messenger_page(store: &Store, page: &str) -> ChannelId {
        store
            .create_channel(NewChannel {
                name: format!("Page {page}"),
                external_id: page.into(),
                settings: ChannelSettings::Messenger(MessengerSettings {
                    page_id: page.into(),
                    page_access_token: "token".into(),
                    app_secret: "secret".into(),
                    verify_token: "verify".into(),
                    rate_limits: None,
                    human_agent_permission: false,
                    utility_messaging_permission: false,
                }),
                default_reply: None,
            })
            .await
            .expect("create channel")
            .id
    }

    /// An event from the person with this PSID (digits only).
    pub fn from_person(
        psid: &str,
        dedupe_key: &str,
        at: i64,
        event: InboundEvent,
    ) -> InboundEnvelope {
        InboundEnvelope {
            dedupe_key: dedupe_key.into(),
            contact: Some(ContactRef::id_only(
                Psid::parse(psid).expect("digits").into(),
            )),
            occurred_at: Millis(at),
            standby: false,
            event,
        }
    }

    /// A text message from the person, with this `mid`.
    pub fn text_from(psid: &str, mid: &str, text: &str, at: i64) -> InboundEnvelope {
        let event = InboundEvent::Message {
            platform_message_id: mid.into(),
            content: Content {
                text: Some(text.into()),
                ..Content::default()
            },
            referral: None,
        };
        from_person(psid, &format!("mid:{mid}"), at, event)
    }

    /// An automatic answer to queue on a lane.
    pub fn answer(text: &str, lane: Lane) -> OutgoingDraft {
        OutgoingDraft {
            content: Content {
                text: Some(text.into()),
                ..Content::default()
            },
            author: AuthorKind::Automation,
            lane,
            messaging_type: Some("RESPONSE".into()),
        }
    }

    /// The person's message, stored with these answers queued.
    pub fn with_answers(
        channel: ChannelId,
        envelope: InboundEnvelope,
        answers: Vec<OutgoingDraft>,
    ) -> IngestItem {
        IngestItem {
            channel_id: channel,
            envelope,
            replies: answers,
        }
    }
}

/// Runs an `async fn(TestDatabase)` once on SQLite and once on PostgreSQL, as two tests named
/// `<name>::sqlite` and `<name>::postgres`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::testing::TestDatabase::sqlite()).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(db) = $crate::testing::TestDatabase::postgres().await {
                    super::$name(db).await
                }
            }
        }
    )*};
}

#[cfg(test)]
mod tests {
    #[test]
    fn test_database_urls_keep_credentials_and_options() {
        assert_eq!(
            super::replace_database("postgres://postgres@127.0.0.1:5432/postgres", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            super::replace_database("postgres://u:p@h/db?sslmode=disable", "x"),
            "postgres://u:p@h/x?sslmode=disable"
        );
        assert_eq!(
            super::replace_database("postgres://h:5432", "x"),
            "postgres://h:5432/x"
        );
    }
}
