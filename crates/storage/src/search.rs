//! Full-text search over message texts and notes (FTS5 on SQLite, tsvector + GIN on
//! PostgreSQL, the differences in `dialect`), and contacts by name.
//!
//! Messages are indexed shortly after they are stored, by [`Store::index_new_messages`] (every
//! node runs it; a position in `search_positions` says how far it got), so ingest writes
//! nothing extra. Each run also looks back over the last [`LOOKBACK`] ids it already passed:
//! on PostgreSQL a transaction can commit a smaller id after a larger one was indexed, and a
//! document is written once whichever run finds it.

use std::collections::HashSet;

use switchboard_domain::{ChannelId, ContactId, ConversationId};

use crate::rows::{ROWS_PER_STATEMENT, get, placeholders};
use crate::{Backend, Result, Store};

/// Ids behind the position that every run reads again.
pub const LOOKBACK: i64 = 2000;

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SearchHit {
    /// `message`, `note` or `contact`.
    pub kind: &'static str,
    pub conversation_id: Option<ConversationId>,
    pub contact_id: ContactId,
    pub snippet: String,
}

/// One document: what it is, where it belongs, its text.
struct Doc<'a> {
    kind: &'a str,
    ref_id: i64,
    conversation: i64,
    channel: i64,
    contact: i64,
    body: &'a str,
}

impl Store {
    /// Indexes messages stored since the last run (up to `batch`); returns how many it added.
    /// The reads run on the read pool; the writer (SQLite's only connection) is held just for
    /// a few multi-row inserts, so ingest hardly waits for the index.
    pub async fn index_new_messages(&self, batch: i64) -> Result<usize> {
        let position: i64 =
            sqlx::query("SELECT last_id FROM search_positions WHERE source = 'messages'")
                .fetch_optional(&self.read)
                .await?
                .map(|r| get(&r, "last_id"))
                .transpose()?
                .unwrap_or(0);
        let low = (position - LOOKBACK).max(0);
        let rows = sqlx::query(
            "SELECT id, conversation_id, channel_id, contact_id, text FROM messages
             WHERE id > $1 AND text IS NOT NULL ORDER BY id LIMIT $2",
        )
        .bind(low)
        .bind(LOOKBACK + batch)
        .fetch_all(&self.read)
        .await?;
        let Some(last) = rows.last() else {
            return Ok(0);
        };
        let highest: i64 = get(last, "id")?;
        let indexed_sql = match self.backend {
            Backend::Sqlite => {
                "SELECT ref_id FROM search_refs WHERE kind = 'message' AND ref_id > $1"
            }
            Backend::Postgres => {
                "SELECT ref_id FROM search_docs WHERE kind = 'message' AND ref_id > $1"
            }
        };
        let indexed: HashSet<i64> = sqlx::query(indexed_sql)
            .bind(low)
            .fetch_all(&self.read)
            .await?
            .iter()
            .map(|r| get(r, "ref_id"))
            .collect::<Result<_>>()?;
        let mut docs = Vec::new();
        for row in &rows {
            let id: i64 = get(row, "id")?;
            if !indexed.contains(&id) {
                docs.push(OwnedDoc {
                    ref_id: id,
                    conversation: get(row, "conversation_id")?,
                    channel: get(row, "channel_id")?,
                    contact: get(row, "contact_id")?,
                    body: get(row, "text")?,
                });
            }
        }
        if docs.is_empty() && highest <= position {
            return Ok(0);
        }
        let mut tx = self.write.begin().await?;
        let mut added = 0;
        for chunk in docs.chunks(ROWS_PER_STATEMENT / 2) {
            added += insert_messages(&mut tx, self.backend, chunk).await?;
        }
        sqlx::query(
            "INSERT INTO search_positions (source, last_id) VALUES ('messages', $1)
             ON CONFLICT (source) DO UPDATE SET last_id = CASE
               WHEN excluded.last_id > search_positions.last_id THEN excluded.last_id
               ELSE search_positions.last_id END",
        )
        .bind(highest.max(position))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(added)
    }

    /// Makes a note findable (notes are few; they are indexed as they are written).
    pub async fn index_note(
        &self,
        note: i64,
        conversation: ConversationId,
        channel: ChannelId,
        contact: ContactId,
        text: &str,
    ) -> Result<()> {
        let mut tx = self.write.begin().await?;
        let doc = Doc {
            kind: "note",
            ref_id: note,
            conversation: conversation.0,
            channel: channel.0,
            contact: contact.0,
            body: text,
        };
        insert_doc(&mut tx, self.backend, &doc).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Messages and notes matching every word of `query`, newest first, within `channels`
    /// (`None`: all). Snippets are plain text (the caller escapes them for wherever they go).
    pub async fn search_texts(
        &self,
        query: &str,
        channels: Option<&[ChannelId]>,
        kinds: &[&str],
        limit: i64,
    ) -> Result<Vec<SearchHit>> {
        let words: Vec<String> = query
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(str::to_lowercase)
            .take(8)
            .collect();
        if words.is_empty() || kinds.is_empty() || channels.is_some_and(<[_]>::is_empty) {
            return Ok(Vec::new());
        }
        let (matcher, term) = match self.backend {
            // Each word quoted: FTS5 query syntax in customer-typed text stays literal.
            Backend::Sqlite => (
                "search_docs MATCH $1",
                words
                    .iter()
                    .map(|w| format!("\"{w}\""))
                    .collect::<Vec<_>>()
                    .join(" "),
            ),
            Backend::Postgres => ("tsv @@ plainto_tsquery('simple', $1)", words.join(" ")),
        };
        let snippet = match self.backend {
            Backend::Sqlite => "snippet(search_docs, 0, '', '', '…', 12)",
            Backend::Postgres => {
                "ts_headline('simple', body, plainto_tsquery('simple', $1), 'StartSel=\"\",StopSel=\"\",MaxWords=16,MinWords=6')"
            }
        };
        let order = match self.backend {
            Backend::Sqlite => "rowid DESC",
            Backend::Postgres => "ref_id DESC",
        };
        let mut binds: Vec<i64> = Vec::new();
        let mut filter = format!(
            "kind IN ({})",
            kinds
                .iter()
                .map(|k| format!("'{k}'"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        if let Some(channels) = channels {
            filter.push_str(&format!(
                " AND channel_id IN ({})",
                placeholders(1, channels.len())
            ));
            binds.extend(channels.iter().map(|c| c.0));
        }
        let limit_at = binds.len() + 2;
        let sql = format!(
            "SELECT kind, conversation_id, contact_id, {snippet} AS snippet FROM search_docs
             WHERE {matcher} AND {filter} ORDER BY {order} LIMIT ${limit_at}"
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(term);
        for b in binds {
            q = q.bind(b);
        }
        let rows = q.bind(limit).fetch_all(&self.read).await?;
        rows.iter()
            .map(|r| {
                let kind: String = get(r, "kind")?;
                Ok(SearchHit {
                    kind: if kind == "note" { "note" } else { "message" },
                    conversation_id: Some(ConversationId(get(r, "conversation_id")?)),
                    contact_id: ContactId(get(r, "contact_id")?),
                    snippet: get(r, "snippet")?,
                })
            })
            .collect()
    }

    /// Contacts whose name or username contains `query` (case-insensitive), within `channels`.
    pub async fn search_contacts(
        &self,
        query: &str,
        channels: Option<&[ChannelId]>,
        limit: i64,
    ) -> Result<Vec<SearchHit>> {
        let needle = query.trim().to_lowercase();
        if needle.is_empty() || channels.is_some_and(<[_]>::is_empty) {
            return Ok(Vec::new());
        }
        let pattern = format!(
            "%{}%",
            needle
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        );
        let mut filter = String::new();
        let mut binds = Vec::new();
        if let Some(channels) = channels {
            filter = format!("AND k.channel_id IN ({})", placeholders(0, channels.len()));
            binds.extend(channels.iter().map(|c| c.0));
        }
        let limit_at = binds.len() + 2;
        let sql = format!(
            "SELECT k.id, c.id AS conversation_id,
                    TRIM(COALESCE(k.first_name, '') || ' ' || COALESCE(k.last_name, '')) AS name,
                    k.username
             FROM contacts k LEFT JOIN conversations c ON c.contact_id = k.id
             WHERE (LOWER(COALESCE(k.first_name, '') || ' ' || COALESCE(k.last_name, '')) LIKE ${limit_at_minus} ESCAPE '\\'
                    OR LOWER(COALESCE(k.username, '')) LIKE ${limit_at_minus} ESCAPE '\\') {filter}
             ORDER BY k.id DESC LIMIT ${limit_at}",
            limit_at_minus = limit_at - 1,
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for b in binds {
            q = q.bind(b);
        }
        let rows = q.bind(pattern).bind(limit).fetch_all(&self.read).await?;
        rows.iter()
            .map(|r| {
                let name: String = get(r, "name")?;
                let username: Option<String> = get(r, "username")?;
                Ok(SearchHit {
                    kind: "contact",
                    conversation_id: get::<Option<i64>>(r, "conversation_id")?.map(ConversationId),
                    contact_id: ContactId(get(r, "id")?),
                    snippet: if name.is_empty() {
                        username.unwrap_or_default()
                    } else {
                        name
                    },
                })
            })
            .collect()
    }
}

/// A message to index, read before the write transaction.
struct OwnedDoc {
    ref_id: i64,
    conversation: i64,
    channel: i64,
    contact: i64,
    body: String,
}

/// Indexes a chunk of messages in two (SQLite) or one (PostgreSQL) statements; documents
/// another run wrote meanwhile are skipped. Returns how many were added.
async fn insert_messages(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    backend: Backend,
    docs: &[OwnedDoc],
) -> Result<usize> {
    if docs.is_empty() {
        return Ok(0);
    }
    match backend {
        Backend::Sqlite => {
            let sql = format!(
                "INSERT INTO search_refs (kind, ref_id) VALUES {} ON CONFLICT DO NOTHING
                 RETURNING ref_id",
                backend.values_rows(docs.len(), 2, 0)
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for d in docs {
                q = q.bind("message").bind(d.ref_id);
            }
            let fresh: HashSet<i64> = q
                .fetch_all(&mut **tx)
                .await?
                .iter()
                .map(|r| get(r, "ref_id"))
                .collect::<Result<_>>()?;
            let fresh: Vec<&OwnedDoc> = docs.iter().filter(|d| fresh.contains(&d.ref_id)).collect();
            if fresh.is_empty() {
                return Ok(0);
            }
            let sql = format!(
                "INSERT INTO search_docs (body, kind, ref_id, conversation_id, channel_id, contact_id)
                 VALUES {}",
                backend.values_rows(fresh.len(), 6, 0)
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for d in &fresh {
                q = q
                    .bind(d.body.as_str())
                    .bind("message")
                    .bind(d.ref_id)
                    .bind(d.conversation)
                    .bind(d.channel)
                    .bind(d.contact);
            }
            q.execute(&mut **tx).await?;
            Ok(fresh.len())
        }
        Backend::Postgres => {
            let sql = format!(
                "INSERT INTO search_docs (body, kind, ref_id, conversation_id, channel_id, contact_id, tsv)
                 SELECT v.column1, 'message', v.column2, v.column3, v.column4, v.column5,
                        to_tsvector('simple', v.column1)
                 FROM (VALUES {}) AS v ON CONFLICT DO NOTHING",
                backend.values_rows(docs.len(), 5, 0)
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for d in docs {
                q = q
                    .bind(d.body.as_str())
                    .bind(d.ref_id)
                    .bind(d.conversation)
                    .bind(d.channel)
                    .bind(d.contact);
            }
            let done = q.execute(&mut **tx).await?;
            Ok(usize::try_from(done.rows_affected()).unwrap_or(0))
        }
    }
}

async fn insert_doc(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    backend: Backend,
    doc: &Doc<'_>,
) -> Result<()> {
    if backend == Backend::Sqlite {
        let fresh = sqlx::query(
            "INSERT INTO search_refs (kind, ref_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(doc.kind)
        .bind(doc.ref_id)
        .execute(&mut **tx)
        .await?;
        if fresh.rows_affected() == 0 {
            return Ok(());
        }
    }
    sqlx::query(backend.search_insert())
        .bind(doc.body)
        .bind(doc.kind)
        .bind(doc.ref_id)
        .bind(doc.conversation)
        .bind(doc.channel)
        .bind(doc.contact)
        .execute(&mut **tx)
        .await?;
    Ok(())
}
