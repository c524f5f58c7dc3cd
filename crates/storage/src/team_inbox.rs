//! The team inbox's storage: the filtered, cursor-paged conversation list, assignment, snoozes,
//! conversation tags, private notes and read marks.
//!
//! The list is ordered by last activity, newest first, with the id as tie-break; the cursor is
//! the last item's `(last_message_at, id)`, so pages stay stable while new messages arrive (a
//! conversation that moves to the top is simply on an earlier page now).

use std::collections::HashMap;

use switchboard_domain::{ChannelId, ContactId, ConversationId, Millis, UserId};

use crate::inbox::{
    CONTACT_COLUMNS, CONVERSATION_COLUMNS, MESSAGE_COLUMNS, contact_from_row,
    conversation_from_row, message_from_row,
};
use crate::rows::{get, placeholders};
use crate::{ContactRow, ConversationRow, MessageRow, Result, Store, StoreError};

/// Which conversations by state. `Pending` waits for a human (handed over by automations).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InboxStatus {
    Open,
    Pending,
    Snoozed,
    Resolved,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssigneeFilter {
    Nobody,
    User(UserId),
}

/// A page of the list. `channels: None` means every channel (the actor's scope is applied by
/// the service layer, which passes its channels here).
#[derive(Debug, Clone)]
pub struct InboxQuery {
    pub channels: Option<Vec<ChannelId>>,
    pub status: Option<InboxStatus>,
    pub assignee: Option<AssigneeFilter>,
    pub tag: Option<String>,
    /// Contact name or username contains this (case-insensitive).
    pub text: Option<String>,
    /// Only conversations with messages this user has not read.
    pub unread_for: Option<UserId>,
    /// Whose unread counts to give.
    pub reader: Option<UserId>,
    pub after: Option<(Millis, ConversationId)>,
    pub limit: i64,
    pub now: Millis,
}

/// One line of the list, with what the list shows of it.
#[derive(Debug, Clone)]
pub struct InboxItem {
    pub conversation: ConversationRow,
    pub contact: ContactRow,
    pub last_message: Option<MessageRow>,
    pub tags: Vec<String>,
    pub unread: i64,
    /// The contact's latest inbound message (the window counts from it on Messenger).
    pub last_inbound_at: Option<Millis>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct NoteRow {
    pub id: i64,
    pub conversation_id: ConversationId,
    pub author_id: Option<UserId>,
    pub author: String,
    pub text: String,
    pub mentions: Vec<UserId>,
    pub created_at: Millis,
}

/// A statement's bound values, in order (the list's filters vary).
enum Bind {
    Int(i64),
    Text(String),
}

impl Store {
    /// One page of the inbox list and whether there is more.
    pub async fn inbox_page(&self, q: &InboxQuery) -> Result<(Vec<InboxItem>, bool)> {
        let mut clauses = Vec::new();
        let mut binds = Vec::new();
        let next = |value: Bind, binds: &mut Vec<Bind>| {
            binds.push(value);
            format!("${}", binds.len())
        };
        if let Some(channels) = &q.channels {
            if channels.is_empty() {
                return Ok((Vec::new(), false));
            }
            let list: Vec<String> = channels
                .iter()
                .map(|c| next(Bind::Int(c.0), &mut binds))
                .collect();
            clauses.push(format!("c.channel_id IN ({})", list.join(", ")));
        }
        if let Some(status) = q.status {
            let now = next(Bind::Int(q.now.0), &mut binds);
            let not_snoozed = format!("(c.snoozed_until IS NULL OR c.snoozed_until <= {now})");
            clauses.push(match status {
                InboxStatus::Open => format!("c.status = 'open' AND {not_snoozed}"),
                InboxStatus::Pending => format!("c.status = 'waiting' AND {not_snoozed}"),
                InboxStatus::Snoozed => {
                    format!("c.status <> 'resolved' AND c.snoozed_until > {now}")
                }
                InboxStatus::Resolved => "c.status = 'resolved'".into(),
            });
        }
        match q.assignee {
            Some(AssigneeFilter::Nobody) => clauses.push("c.assignee_id IS NULL".into()),
            Some(AssigneeFilter::User(user)) => {
                let p = next(Bind::Int(user.0), &mut binds);
                clauses.push(format!("c.assignee_id = {p}"));
            }
            None => {}
        }
        if let Some(tag) = &q.tag {
            let p = next(Bind::Text(tag.clone()), &mut binds);
            clauses.push(format!(
                "EXISTS (SELECT 1 FROM conversation_tags t WHERE t.conversation_id = c.id AND t.tag = {p})"
            ));
        }
        if let Some(text) = &q.text {
            let pattern = format!("%{}%", like_escape(&text.to_lowercase()));
            let p = next(Bind::Text(pattern), &mut binds);
            clauses.push(format!(
                "EXISTS (SELECT 1 FROM contacts k WHERE k.id = c.contact_id AND (
                    LOWER(COALESCE(k.first_name, '') || ' ' || COALESCE(k.last_name, '')) LIKE {p} ESCAPE '\\'
                    OR LOWER(COALESCE(k.username, '')) LIKE {p} ESCAPE '\\'))"
            ));
        }
        if let Some(user) = q.unread_for {
            let p = next(Bind::Int(user.0), &mut binds);
            clauses.push(format!(
                "EXISTS (SELECT 1 FROM messages m WHERE m.conversation_id = c.id AND m.direction = 'in'
                   AND m.id > COALESCE((SELECT r.last_read_id FROM conversation_reads r
                                        WHERE r.conversation_id = c.id AND r.user_id = {p}), 0))"
            ));
        }
        if let Some((at, id)) = q.after {
            let a = next(Bind::Int(at.0), &mut binds);
            let b = next(Bind::Int(id.0), &mut binds);
            clauses.push(format!(
                "(c.last_message_at < {a} OR (c.last_message_at = {a} AND c.id < {b}))"
            ));
        }
        let limit = next(Bind::Int(q.limit + 1), &mut binds);
        let columns = CONVERSATION_COLUMNS
            .split(", ")
            .map(|c| format!("c.{}", c.trim()))
            .collect::<Vec<_>>()
            .join(", ");
        let filter = if clauses.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", clauses.join(" AND "))
        };
        let sql = format!(
            "SELECT {columns} FROM conversations c {filter}
             ORDER BY c.last_message_at DESC, c.id DESC LIMIT {limit}"
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for b in binds {
            query = match b {
                Bind::Int(n) => query.bind(n),
                Bind::Text(t) => query.bind(t),
            };
        }
        let rows = query.fetch_all(&self.read).await?;
        let mut conversations = rows
            .iter()
            .map(conversation_from_row)
            .collect::<Result<Vec<_>>>()?;
        let more = conversations.len() as i64 > q.limit;
        conversations.truncate(usize::try_from(q.limit).unwrap_or(0));
        Ok((self.inbox_items(conversations, q.reader).await?, more))
    }

    /// What the list shows of each conversation, in a handful of statements for the whole page.
    pub async fn inbox_items(
        &self,
        conversations: Vec<ConversationRow>,
        reader: Option<UserId>,
    ) -> Result<Vec<InboxItem>> {
        if conversations.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<i64> = conversations.iter().map(|c| c.id.0).collect();
        let contact_ids: Vec<i64> = conversations.iter().map(|c| c.contact_id.0).collect();
        let list = placeholders(0, ids.len());

        let sql = format!(
            "SELECT {CONTACT_COLUMNS} FROM contacts WHERE id IN ({})",
            placeholders(0, contact_ids.len())
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for id in &contact_ids {
            query = query.bind(id);
        }
        let mut contacts: HashMap<ContactId, ContactRow> = HashMap::new();
        for row in query.fetch_all(&self.read).await? {
            let contact = contact_from_row(&row)?;
            contacts.insert(contact.id, contact);
        }

        let sql = format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE id IN (
                SELECT MAX(id) FROM messages WHERE conversation_id IN ({list}) GROUP BY conversation_id)"
        );
        let mut last: HashMap<ConversationId, MessageRow> = HashMap::new();
        for row in bind_all(sqlx::query(sqlx::AssertSqlSafe(sql)), &ids)
            .fetch_all(&self.read)
            .await?
        {
            let m = message_from_row(&row)?;
            last.insert(m.conversation_id, m);
        }

        let sql = format!(
            "SELECT conversation_id, MAX(created_at) AS at FROM messages
             WHERE conversation_id IN ({list}) AND direction = 'in' GROUP BY conversation_id"
        );
        let mut inbound: HashMap<i64, i64> = HashMap::new();
        for row in bind_all(sqlx::query(sqlx::AssertSqlSafe(sql)), &ids)
            .fetch_all(&self.read)
            .await?
        {
            inbound.insert(get(&row, "conversation_id")?, get(&row, "at")?);
        }

        let sql = format!(
            "SELECT conversation_id, tag FROM conversation_tags WHERE conversation_id IN ({list})
             ORDER BY tag"
        );
        let mut tags: HashMap<i64, Vec<String>> = HashMap::new();
        for row in bind_all(sqlx::query(sqlx::AssertSqlSafe(sql)), &ids)
            .fetch_all(&self.read)
            .await?
        {
            tags.entry(get(&row, "conversation_id")?)
                .or_default()
                .push(get(&row, "tag")?);
        }

        let mut unread: HashMap<i64, i64> = HashMap::new();
        if let Some(reader) = reader {
            let sql = format!(
                "SELECT m.conversation_id, COUNT(*) AS n FROM messages m
                 LEFT JOIN conversation_reads r ON r.conversation_id = m.conversation_id AND r.user_id = $1
                 WHERE m.conversation_id IN ({}) AND m.direction = 'in'
                   AND m.id > COALESCE(r.last_read_id, 0)
                 GROUP BY m.conversation_id",
                placeholders(1, ids.len())
            );
            let query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(reader.0);
            for row in bind_all(query, &ids).fetch_all(&self.read).await? {
                unread.insert(get(&row, "conversation_id")?, get(&row, "n")?);
            }
        }

        conversations
            .into_iter()
            .map(|conversation| {
                let contact = contacts
                    .remove(&conversation.contact_id)
                    .ok_or_else(|| StoreError::Corrupt("conversation without contact".into()))?;
                let id = conversation.id;
                Ok(InboxItem {
                    last_message: last.remove(&id),
                    tags: tags.remove(&id.0).unwrap_or_default(),
                    unread: unread.get(&id.0).copied().unwrap_or(0),
                    last_inbound_at: inbound.get(&id.0).copied().map(Millis),
                    contact,
                    conversation,
                })
            })
            .collect()
    }

    /// Sets (or clears) who has the conversation; `expected` guards against two people taking it
    /// at once: the change applies only if the assignee is still `expected`.
    pub async fn assign_conversation(
        &self,
        id: ConversationId,
        expected: Option<UserId>,
        to: Option<UserId>,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE conversations SET assignee_id = $1
             WHERE id = $2 AND COALESCE(assignee_id, -1) = $3",
        )
        .bind(to.map(|u| u.0))
        .bind(id.0)
        .bind(expected.map_or(-1, |u| u.0))
        .execute(&self.write)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn snooze_conversation(
        &self,
        id: ConversationId,
        until: Option<Millis>,
    ) -> Result<()> {
        let done = sqlx::query("UPDATE conversations SET snoozed_until = $1 WHERE id = $2")
            .bind(until.map(|t| t.0))
            .bind(id.0)
            .execute(&self.write)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// Replaces the conversation's tags.
    pub async fn set_conversation_tags(
        &self,
        id: ConversationId,
        tags: &[String],
        now: Millis,
    ) -> Result<Vec<String>> {
        let mut tx = self.write.begin().await?;
        sqlx::query("DELETE FROM conversation_tags WHERE conversation_id = $1")
            .bind(id.0)
            .execute(&mut *tx)
            .await?;
        for tag in tags {
            sqlx::query(
                "INSERT INTO conversation_tags (conversation_id, tag, created_at) VALUES ($1, $2, $3)
                 ON CONFLICT (conversation_id, tag) DO NOTHING",
            )
            .bind(id.0)
            .bind(tag)
            .bind(now.0)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        self.conversation_tags(id).await
    }

    pub async fn conversation_tags(&self, id: ConversationId) -> Result<Vec<String>> {
        let rows = sqlx::query(
            "SELECT tag FROM conversation_tags WHERE conversation_id = $1 ORDER BY tag",
        )
        .bind(id.0)
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(|r| get(r, "tag")).collect()
    }

    pub async fn add_note(
        &self,
        conversation: ConversationId,
        author_id: Option<UserId>,
        author: &str,
        text: &str,
        mentions: &[UserId],
        now: Millis,
    ) -> Result<NoteRow> {
        let mentions_json =
            serde_json::to_string(&mentions).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let row = sqlx::query(
            "INSERT INTO notes (conversation_id, author_id, author, text, mentions, created_at)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(conversation.0)
        .bind(author_id.map(|u| u.0))
        .bind(author)
        .bind(text)
        .bind(&mentions_json)
        .bind(now.0)
        .fetch_one(&self.write)
        .await?;
        Ok(NoteRow {
            id: get(&row, "id")?,
            conversation_id: conversation,
            author_id,
            author: author.to_owned(),
            text: text.to_owned(),
            mentions: mentions.to_vec(),
            created_at: now,
        })
    }

    pub async fn list_notes(&self, conversation: ConversationId) -> Result<Vec<NoteRow>> {
        let rows = sqlx::query(
            "SELECT id, author_id, author, text, mentions, created_at FROM notes
             WHERE conversation_id = $1 ORDER BY id",
        )
        .bind(conversation.0)
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                let mentions: String = get(r, "mentions")?;
                Ok(NoteRow {
                    id: get(r, "id")?,
                    conversation_id: conversation,
                    author_id: get::<Option<i64>>(r, "author_id")?.map(UserId),
                    author: get(r, "author")?,
                    text: get(r, "text")?,
                    mentions: serde_json::from_str(&mentions)
                        .map_err(|e| StoreError::Corrupt(format!("mentions: {e}")))?,
                    created_at: Millis(get(r, "created_at")?),
                })
            })
            .collect()
    }

    /// Marks everything in the conversation up to now as read by `user`.
    pub async fn mark_read(&self, conversation: ConversationId, user: UserId) -> Result<()> {
        sqlx::query(
            "INSERT INTO conversation_reads (conversation_id, user_id, last_read_id)
             SELECT $1, $2, COALESCE(MAX(id), 0) FROM messages WHERE conversation_id = $1
             ON CONFLICT (conversation_id, user_id) DO UPDATE SET last_read_id = excluded.last_read_id",
        )
        .bind(conversation.0)
        .bind(user.0)
        .execute(&self.write)
        .await?;
        Ok(())
    }
}

fn bind_all<'q>(
    mut query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>,
    ids: &'q [i64],
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments> {
    for id in ids {
        query = query.bind(*id);
    }
    query
}

/// `%`, `_` and `\` in a search text match themselves.
fn like_escape(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

impl Store {
    /// Every person's messages on a channel up to `until`, for the responsiveness report:
    /// inbound by arrival, outbound by when the platform took them (unsent and failed messages
    /// have answered nobody).
    pub async fn reply_timelines(
        &self,
        channel: ChannelId,
        until: Millis,
    ) -> Result<HashMap<ContactId, Vec<switchboard_domain::responsiveness::ThreadMessage>>> {
        use switchboard_domain::responsiveness::ThreadMessage;
        use switchboard_domain::{AuthorKind, Direction};
        let rows = sqlx::query(
            "SELECT contact_id, direction, author_kind,
                    CASE WHEN direction = 'in' THEN created_at ELSE sent_at END AS at
             FROM messages
             WHERE channel_id = $1
               AND ((direction = 'in' AND created_at < $2) OR (direction = 'out' AND sent_at < $2))",
        )
        .bind(channel.0)
        .bind(until.0)
        .fetch_all(&self.read)
        .await?;
        let mut out: HashMap<ContactId, Vec<ThreadMessage>> = HashMap::new();
        for row in &rows {
            let direction: String = get(row, "direction")?;
            let author: String = get(row, "author_kind")?;
            let message = ThreadMessage {
                at: Millis(get(row, "at")?),
                direction: Direction::parse(&direction)
                    .ok_or_else(|| StoreError::Corrupt(format!("direction {direction:?}")))?,
                author: AuthorKind::parse(&author)
                    .ok_or_else(|| StoreError::Corrupt(format!("author_kind {author:?}")))?,
            };
            out.entry(ContactId(get(row, "contact_id")?))
                .or_default()
                .push(message);
        }
        Ok(out)
    }
}
