//! Reading the inbox model: contacts, conversations and their messages.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Serialize;
use sqlx::any::AnyRow;
use switchboard_domain::{
    AuthorKind, ChannelId, ContactId, Content, ConversationId, Direction, MessageId, MessageStatus,
    Millis, UserId,
};

use crate::rows::{get, parse_enum, parse_json, placeholders};
use crate::{Result, Store, StoreError};

/// A contact as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ContactRow {
    pub id: ContactId,
    pub channel_id: ChannelId,
    pub external_id: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub username: Option<String>,
    pub locale: Option<String>,
    /// Where the contact first came from (m.me `ref`, Telegram `/start` parameter, ad).
    pub source_ref: Option<String>,
    pub source_kind: Option<String>,
    /// False once the person blocked us or the platform said they cannot be reached.
    pub reachable: bool,
    /// The last action that opened the messaging window (protocols.md A9).
    pub last_window_action_at: Option<Millis>,
    pub last_window_action_kind: Option<String>,
    /// False after the person unsubscribed: no marketing until they resubscribe.
    pub subscribed: bool,
    /// Custom attributes (`{{attr.<key>}}` in templates).
    pub attributes: BTreeMap<String, String>,
    pub created_at: Millis,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConversationRow {
    pub id: ConversationId,
    pub channel_id: ChannelId,
    pub contact_id: ContactId,
    /// `open`, `waiting` (for a human, since `waiting_since`) or `resolved`.
    pub status: String,
    pub waiting_since: Option<Millis>,
    /// Who automations handed the conversation to (a name from the flow, not a user).
    pub assignee: Option<String>,
    /// The user the conversation is assigned to.
    pub assignee_id: Option<UserId>,
    /// Out of the list until then, or until the customer writes again.
    pub snoozed_until: Option<Millis>,
    pub last_message_at: Option<Millis>,
    pub created_at: Millis,
    /// What automations remember about the conversation (JSON; the compare-and-set token when
    /// they apply a decision). Internal: not part of the API's view.
    #[serde(skip)]
    pub automation_state: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MessageRow {
    pub id: MessageId,
    pub conversation_id: ConversationId,
    pub direction: Direction,
    pub author_kind: AuthorKind,
    pub text: Option<String>,
    pub content: Content,
    pub status: MessageStatus,
    pub platform_message_id: Option<String>,
    pub error_class: Option<String>,
    pub error_detail: Option<String>,
    pub created_at: Millis,
    pub sent_at: Option<Millis>,
}

pub(crate) fn contact_from_row(row: &AnyRow) -> Result<ContactRow> {
    Ok(ContactRow {
        id: ContactId(get(row, "id")?),
        channel_id: ChannelId(get(row, "channel_id")?),
        external_id: get(row, "external_id")?,
        first_name: get(row, "first_name")?,
        last_name: get(row, "last_name")?,
        username: get(row, "username")?,
        locale: get(row, "locale")?,
        source_ref: get(row, "source_ref")?,
        source_kind: get(row, "source_kind")?,
        reachable: get::<Option<i64>>(row, "reachable")? != Some(0),
        last_window_action_at: get::<Option<i64>>(row, "last_window_action_at")?.map(Millis),
        last_window_action_kind: get(row, "last_window_action_kind")?,
        subscribed: get::<i64>(row, "subscribed")? != 0,
        attributes: parse_json(row, "attributes")?,
        created_at: Millis(get(row, "created_at")?),
    })
}

pub(crate) fn conversation_from_row(row: &AnyRow) -> Result<ConversationRow> {
    Ok(ConversationRow {
        id: ConversationId(get(row, "id")?),
        channel_id: ChannelId(get(row, "channel_id")?),
        contact_id: ContactId(get(row, "contact_id")?),
        status: get(row, "status")?,
        waiting_since: get::<Option<i64>>(row, "waiting_since")?.map(Millis),
        assignee: get(row, "assignee")?,
        assignee_id: get::<Option<i64>>(row, "assignee_id")?.map(UserId),
        snoozed_until: get::<Option<i64>>(row, "snoozed_until")?.map(Millis),
        last_message_at: get::<Option<i64>>(row, "last_message_at")?.map(Millis),
        created_at: Millis(get(row, "created_at")?),
        automation_state: get(row, "automation_state")?,
    })
}

pub(crate) fn message_from_row(row: &AnyRow) -> Result<MessageRow> {
    Ok(MessageRow {
        id: MessageId(get(row, "id")?),
        conversation_id: ConversationId(get(row, "conversation_id")?),
        direction: parse_enum(row, "direction", Direction::parse)?,
        author_kind: parse_enum(row, "author_kind", AuthorKind::parse)?,
        text: get(row, "text")?,
        content: parse_json(row, "content")?,
        status: parse_enum(row, "status", MessageStatus::parse)?,
        platform_message_id: get(row, "platform_message_id")?,
        error_class: get(row, "error_class")?,
        error_detail: get(row, "error_detail")?,
        created_at: Millis(get(row, "created_at")?),
        sent_at: get::<Option<i64>>(row, "sent_at")?.map(Millis),
    })
}

pub(crate) const CONTACT_COLUMNS: &str = "id, channel_id, external_id, first_name, last_name, username, locale, source_ref, \
     source_kind, reachable, last_window_action_at, last_window_action_kind, subscribed, attributes, \
     created_at";
pub(crate) const CONVERSATION_COLUMNS: &str = "id, channel_id, contact_id, status, waiting_since, assignee, \
     assignee_id, snoozed_until, last_message_at, created_at, automation_state";
pub(crate) const MESSAGE_COLUMNS: &str = "id, conversation_id, direction, author_kind, text, content, status, \
     platform_message_id, error_class, error_detail, created_at, sent_at";

impl Store {
    pub async fn list_contacts(&self, channel: ChannelId) -> Result<Vec<ContactRow>> {
        let sql =
            format!("SELECT {CONTACT_COLUMNS} FROM contacts WHERE channel_id = $1 ORDER BY id");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(channel.0)
            .fetch_all(&self.read)
            .await?;
        rows.iter().map(contact_from_row).collect()
    }

    pub async fn get_contact(&self, id: ContactId) -> Result<ContactRow> {
        let sql = format!("SELECT {CONTACT_COLUMNS} FROM contacts WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id.0)
            .fetch_one(&self.read)
            .await?;
        contact_from_row(&row)
    }

    pub async fn find_contact(
        &self,
        channel: ChannelId,
        external_id: &str,
    ) -> Result<Option<ContactRow>> {
        let sql = format!(
            "SELECT {CONTACT_COLUMNS} FROM contacts WHERE channel_id = $1 AND external_id = $2"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(channel.0)
            .bind(external_id)
            .fetch_optional(&self.read)
            .await?;
        row.as_ref().map(contact_from_row).transpose()
    }

    /// Conversations of a channel, most recently active first.
    pub async fn list_conversations(&self, channel: ChannelId) -> Result<Vec<ConversationRow>> {
        let sql = format!(
            "SELECT {CONVERSATION_COLUMNS} FROM conversations
             WHERE channel_id = $1 ORDER BY last_message_at DESC, id DESC"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(channel.0)
            .fetch_all(&self.read)
            .await?;
        rows.iter().map(conversation_from_row).collect()
    }

    pub async fn get_conversation(&self, id: ConversationId) -> Result<ConversationRow> {
        let sql = format!("SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id.0)
            .fetch_one(&self.read)
            .await?;
        conversation_from_row(&row)
    }

    /// A conversation's messages in the order they were stored.
    pub async fn list_messages(&self, conversation: ConversationId) -> Result<Vec<MessageRow>> {
        let sql = format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = $1 ORDER BY id"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(conversation.0)
            .fetch_all(&self.read)
            .await?;
        rows.iter().map(message_from_row).collect()
    }

    pub async fn get_message(&self, id: MessageId) -> Result<MessageRow> {
        let sql = format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id.0)
            .fetch_one(&self.read)
            .await?;
        message_from_row(&row)
    }

    /// How many events of a channel are stored (dedupe checks, benchmarks).
    pub async fn count_events(&self, channel: ChannelId) -> Result<i64> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM events WHERE channel_id = $1")
            .bind(channel.0)
            .fetch_one(&self.read)
            .await?;
        get(&row, "n")
    }
}

/// What a sender needs to know about a conversation before queuing a message on it: who it is
/// with, when they last wrote, and which bulk messages they got recently.
#[derive(Debug, Clone)]
pub struct SendContext {
    pub conversation: ConversationRow,
    pub contact: ContactRow,
    /// The person's latest inbound message (HUMAN_AGENT counts from it).
    pub last_inbound_at: Option<Millis>,
    /// Bulk messages to this person since the requested time: sent, in flight or still queued
    /// (a queued one will go out, so it counts against the frequency cap already). Failed ones
    /// do not count.
    pub recent_bulk: Vec<Millis>,
}

impl Store {
    pub async fn send_context(
        &self,
        conversation: ConversationId,
        bulk_since: Millis,
    ) -> Result<SendContext> {
        let conversation = self.get_conversation(conversation).await?;
        let contact = conversation.contact_id;
        self.contexts_of(vec![conversation], bulk_since)
            .await?
            .remove(&contact)
            .ok_or(StoreError::NotFound)
    }

    /// [`Store::send_context`] for many people at once, by contact (each has one conversation):
    /// four statements whatever their number, so a batch of automatic answers costs no more
    /// round trips than one. People without a conversation yet are left out.
    pub async fn send_contexts(
        &self,
        contacts: &[ContactId],
        bulk_since: Millis,
    ) -> Result<HashMap<ContactId, SendContext>> {
        let ids: BTreeSet<i64> = contacts.iter().map(|c| c.0).collect();
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let sql = format!(
            "SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE contact_id IN ({})",
            placeholders(0, ids.len())
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for id in &ids {
            q = q.bind(*id);
        }
        let conversations = q
            .fetch_all(&self.read)
            .await?
            .iter()
            .map(conversation_from_row)
            .collect::<Result<Vec<_>>>()?;
        self.contexts_of(conversations, bulk_since).await
    }

    /// The rest of each conversation's send context: its contact, their last inbound message
    /// and recent bulk sends (three statements for any number of conversations).
    async fn contexts_of(
        &self,
        conversations: Vec<ConversationRow>,
        bulk_since: Millis,
    ) -> Result<HashMap<ContactId, SendContext>> {
        let ids: BTreeSet<i64> = conversations.iter().map(|c| c.contact_id.0).collect();
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let list = placeholders(0, ids.len());
        let bind_ids = |sql: String| {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for id in &ids {
                q = q.bind(*id);
            }
            q
        };
        let people: HashMap<i64, ContactRow> = bind_ids(format!(
            "SELECT {CONTACT_COLUMNS} FROM contacts WHERE id IN ({list})"
        ))
        .fetch_all(&self.read)
        .await?
        .iter()
        .map(|r| contact_from_row(r).map(|c| (c.id.0, c)))
        .collect::<Result<_>>()?;
        let last_inbound: HashMap<i64, i64> = bind_ids(format!(
            "SELECT contact_id, MAX(created_at) AS at FROM messages
             WHERE contact_id IN ({list}) AND direction = 'in' GROUP BY contact_id"
        ))
        .fetch_all(&self.read)
        .await?
        .iter()
        .map(|r| Ok((get(r, "contact_id")?, get(r, "at")?)))
        .collect::<Result<_>>()?;
        let mut recent_bulk: HashMap<i64, Vec<Millis>> = HashMap::new();
        let recent = bind_ids(format!(
            "SELECT contact_id, COALESCE(sent_at, created_at) AS at FROM messages
             WHERE contact_id IN ({list}) AND lane = 'bulk' AND status <> 'failed'
               AND COALESCE(sent_at, created_at) >= ${}",
            ids.len() + 1
        ))
        .bind(bulk_since.0)
        .fetch_all(&self.read)
        .await?;
        for r in &recent {
            recent_bulk
                .entry(get(r, "contact_id")?)
                .or_default()
                .push(Millis(get(r, "at")?));
        }

        let mut out = HashMap::with_capacity(conversations.len());
        for conversation in conversations {
            let key = conversation.contact_id;
            let Some(contact) = people.get(&key.0).cloned() else {
                continue;
            };
            out.insert(
                key,
                SendContext {
                    last_inbound_at: last_inbound.get(&key.0).copied().map(Millis),
                    recent_bulk: recent_bulk.remove(&key.0).unwrap_or_default(),
                    conversation,
                    contact,
                },
            );
        }
        Ok(out)
    }
}

impl Store {
    /// Messages still to be sent (queued or in flight), across all channels.
    pub async fn count_unsent(&self) -> Result<i64> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM messages WHERE outbox_state = 'queued' OR outbox_state = 'sending'",
        )
        .fetch_one(&self.read)
        .await?;
        get(&row, "n")
    }
}
