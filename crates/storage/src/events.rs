//! The rows behind the live event stream: people's inbox events and new messages, read in id
//! order from a position.
//!
//! On PostgreSQL ids are handed out before commit, so a row with a smaller id can become
//! visible after a larger one; a reader that only asks for `id > last` would skip it. Readers
//! therefore also ask again for the ids they saw missing (`holes`) until those are old enough
//! to be rollbacks. SQLite's single writer never reorders, but rollbacks leave holes there too.

use switchboard_domain::{AuthorKind, ChannelId, ConversationId, Direction, Millis, UserId};

use crate::rows::{get, placeholders};
use crate::{Result, Store, StoreError};

#[derive(Debug, Clone, PartialEq)]
pub struct InboxEventRow {
    pub id: i64,
    pub kind: String,
    pub conversation_id: ConversationId,
    pub channel_id: ChannelId,
    pub user_id: Option<UserId>,
    pub data: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewMessageRow {
    pub id: i64,
    pub conversation_id: ConversationId,
    pub channel_id: ChannelId,
    pub direction: Direction,
    pub author_kind: AuthorKind,
}

impl Store {
    pub async fn record_inbox_event(
        &self,
        kind: &str,
        conversation: ConversationId,
        channel: ChannelId,
        user: Option<UserId>,
        data: &serde_json::Value,
        now: Millis,
    ) -> Result<i64> {
        let row = sqlx::query(
            "INSERT INTO inbox_events (kind, conversation_id, channel_id, user_id, data, created_at)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(kind)
        .bind(conversation.0)
        .bind(channel.0)
        .bind(user.map(|u| u.0))
        .bind(data.to_string())
        .bind(now.0)
        .fetch_one(&self.write)
        .await?;
        get(&row, "id")
    }

    /// The newest ids of both sources: where a stream that wants only what comes next starts.
    pub async fn event_positions(&self) -> Result<(i64, i64)> {
        let row = sqlx::query(
            "SELECT (SELECT COALESCE(MAX(id), 0) FROM inbox_events) AS e,
                    (SELECT COALESCE(MAX(id), 0) FROM messages) AS m",
        )
        .fetch_one(&self.read)
        .await?;
        Ok((get(&row, "e")?, get(&row, "m")?))
    }

    pub async fn inbox_events_after(
        &self,
        after: i64,
        holes: &[i64],
        limit: i64,
    ) -> Result<Vec<InboxEventRow>> {
        let sql = format!(
            "SELECT id, kind, conversation_id, channel_id, user_id, data FROM inbox_events
             WHERE id > $1 {} ORDER BY id LIMIT $2",
            holes_clause(holes)
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(after)
            .bind(limit);
        for h in holes {
            q = q.bind(*h);
        }
        let rows = q.fetch_all(&self.read).await?;
        rows.iter()
            .map(|r| {
                let data: String = get(r, "data")?;
                Ok(InboxEventRow {
                    id: get(r, "id")?,
                    kind: get(r, "kind")?,
                    conversation_id: ConversationId(get(r, "conversation_id")?),
                    channel_id: ChannelId(get(r, "channel_id")?),
                    user_id: get::<Option<i64>>(r, "user_id")?.map(UserId),
                    data: serde_json::from_str(&data)
                        .map_err(|e| StoreError::Corrupt(format!("event data: {e}")))?,
                })
            })
            .collect()
    }

    pub async fn messages_after(
        &self,
        after: i64,
        holes: &[i64],
        limit: i64,
    ) -> Result<Vec<NewMessageRow>> {
        let sql = format!(
            "SELECT id, conversation_id, channel_id, direction, author_kind FROM messages
             WHERE id > $1 {} ORDER BY id LIMIT $2",
            holes_clause(holes)
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(after)
            .bind(limit);
        for h in holes {
            q = q.bind(*h);
        }
        let rows = q.fetch_all(&self.read).await?;
        rows.iter()
            .map(|r| {
                let direction: String = get(r, "direction")?;
                let author: String = get(r, "author_kind")?;
                Ok(NewMessageRow {
                    id: get(r, "id")?,
                    conversation_id: ConversationId(get(r, "conversation_id")?),
                    channel_id: ChannelId(get(r, "channel_id")?),
                    direction: Direction::parse(&direction)
                        .ok_or_else(|| StoreError::Corrupt(format!("direction {direction:?}")))?,
                    author_kind: AuthorKind::parse(&author)
                        .ok_or_else(|| StoreError::Corrupt(format!("author_kind {author:?}")))?,
                })
            })
            .collect()
    }
}

fn holes_clause(holes: &[i64]) -> String {
    if holes.is_empty() {
        String::new()
    } else {
        format!("OR id IN ({})", placeholders(2, holes.len()))
    }
}
