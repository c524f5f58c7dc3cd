//! Storing inbound events: one transaction for a whole batch of webhook deliveries.
//!
//! The server's ingest writer collects concurrent webhook requests into a batch, calls
//! [`Store::ingest`] once, and acknowledges every request in the batch only after it returns
//! (group commit: one fsync for many events). Replies decided for an event are written as
//! outbound messages plus outbox rows in the same transaction, so an acknowledged event can never
//! lose its reply.

use sqlx::{Any, Transaction};
use switchboard_domain::{
    AuthorKind, ChannelId, ContactRef, Content, InboundEnvelope, InboundEvent, MessageId,
    MessageStatus, Millis, Referral,
};

use crate::outbox::Lane;
use crate::rows::{get, placeholders};
use crate::{Result, Store, StoreError};

/// One event to store, with the replies already decided for it.
#[derive(Debug, Clone)]
pub struct IngestItem {
    pub channel_id: ChannelId,
    pub envelope: InboundEnvelope,
    /// Written only if the event is new; a platform retry of the same event queues nothing.
    pub replies: Vec<OutgoingDraft>,
}

/// A message we intend to send, before it has a row.
#[derive(Debug, Clone, PartialEq)]
pub struct OutgoingDraft {
    pub content: Content,
    pub author: AuthorKind,
    pub lane: Lane,
    /// Platform-level send mode chosen by policy (Messenger `RESPONSE`, `UPDATE`, `MESSAGE_TAG:<tag>`).
    pub messaging_type: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IngestOutcome {
    Stored {
        event_id: i64,
        queued: Vec<MessageId>,
    },
    /// Already stored earlier (a platform retry): nothing was changed.
    Duplicate,
}

impl Store {
    /// Stores a batch of events atomically: either all of them (and their replies) are durable
    /// when this returns `Ok`, or none are.
    pub async fn ingest(&self, items: &[IngestItem]) -> Result<Vec<IngestOutcome>> {
        let now = Millis::now();
        let mut tx = self.write.begin().await?;
        let mut outcomes = Vec::with_capacity(items.len());
        for item in items {
            outcomes.push(ingest_one(&mut tx, item, now).await?);
        }
        tx.commit().await?;
        Ok(outcomes)
    }
}

type Tx = Transaction<'static, Any>;

async fn ingest_one(tx: &mut Tx, item: &IngestItem, now: Millis) -> Result<IngestOutcome> {
    let env = &item.envelope;
    let contact_id = match &env.contact {
        Some(contact) => Some(
            upsert_contact(
                tx,
                item.channel_id,
                contact,
                &env.event,
                env.occurred_at,
                now,
            )
            .await?,
        ),
        None => None,
    };
    let payload =
        serde_json::to_string(&env.event).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let inserted = sqlx::query(
        "INSERT INTO events (channel_id, dedupe_key, contact_id, kind, payload, standby, occurred_at, received_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (channel_id, dedupe_key) DO NOTHING
         RETURNING id",
    )
    .bind(item.channel_id.0)
    .bind(env.dedupe_key.as_str())
    .bind(contact_id)
    .bind(env.event.kind().as_str())
    .bind(payload)
    .bind(i64::from(env.standby))
    .bind(env.occurred_at.0)
    .bind(now.0)
    .fetch_optional(&mut **tx)
    .await?;
    let Some(row) = inserted else {
        return Ok(IngestOutcome::Duplicate);
    };
    let event_id: i64 = get(&row, "id")?;
    let Some(contact_id) = contact_id else {
        return Ok(IngestOutcome::Stored {
            event_id,
            queued: Vec::new(),
        });
    };

    apply_event(tx, item.channel_id, contact_id, env, now).await?;

    let mut queued = Vec::with_capacity(item.replies.len());
    if !item.replies.is_empty() {
        let conversation_id =
            upsert_conversation(tx, item.channel_id, contact_id, now, false).await?;
        for draft in &item.replies {
            queued
                .push(enqueue(tx, item.channel_id, contact_id, conversation_id, draft, now).await?);
        }
    }
    Ok(IngestOutcome::Stored { event_id, queued })
}

/// Applies what the event means to the inbox model (messages, statuses, reachability).
async fn apply_event(
    tx: &mut Tx,
    channel: ChannelId,
    contact: i64,
    env: &InboundEnvelope,
    now: Millis,
) -> Result<()> {
    match &env.event {
        InboundEvent::Message {
            platform_message_id,
            content,
            ..
        } => {
            let conversation =
                upsert_conversation(tx, channel, contact, env.occurred_at, true).await?;
            let m = NewMessageRow {
                direction: "in",
                author: AuthorKind::Contact,
                status: MessageStatus::Received,
                platform_message_id: Some(platform_message_id),
                sent_at: None,
            };
            insert_message(
                tx,
                channel,
                contact,
                conversation,
                content,
                &m,
                env.occurred_at,
            )
            .await?;
        }
        InboundEvent::Echo {
            platform_message_id,
            content,
            ours: false,
        } => {
            // Sent from outside Switchboard (Page inbox, another app): keep the thread complete.
            let conversation =
                upsert_conversation(tx, channel, contact, env.occurred_at, false).await?;
            let m = NewMessageRow {
                direction: "out",
                author: AuthorKind::Page,
                status: MessageStatus::Sent,
                platform_message_id: Some(platform_message_id),
                sent_at: Some(env.occurred_at),
            };
            insert_message(
                tx,
                channel,
                contact,
                conversation,
                content,
                &m,
                env.occurred_at,
            )
            .await?;
        }
        InboundEvent::Edit {
            platform_message_id,
            content,
        } => {
            let json =
                serde_json::to_string(content).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            sqlx::query(
                "UPDATE messages SET content = $1, text = $2, updated_at = $3
                 WHERE channel_id = $4 AND platform_message_id = $5 AND direction = 'in'",
            )
            .bind(json)
            .bind(content.text.clone())
            .bind(now.0)
            .bind(channel.0)
            .bind(platform_message_id.as_str())
            .execute(&mut **tx)
            .await?;
        }
        InboundEvent::Delivery {
            watermark,
            platform_message_ids,
        } => {
            advance_receipts(
                tx,
                contact,
                MessageStatus::Delivered,
                *watermark,
                platform_message_ids,
                channel,
                now,
            )
            .await?;
        }
        InboundEvent::Read { watermark } => {
            advance_receipts(
                tx,
                contact,
                MessageStatus::Read,
                *watermark,
                &[],
                channel,
                now,
            )
            .await?;
        }
        _ => {}
    }
    Ok(())
}

/// The ordering of outbound statuses; receipts only ever move a message up this scale.
pub(crate) fn status_rank(status: MessageStatus) -> i64 {
    match status {
        MessageStatus::Received => 0,
        MessageStatus::Queued => 1,
        MessageStatus::Sending => 2,
        MessageStatus::Sent => 3,
        MessageStatus::Delivered => 4,
        MessageStatus::Read => 5,
        MessageStatus::Failed => -1,
        MessageStatus::Unknown => -2,
    }
}

/// Delivery and read receipts: every outbound message sent at or before the watermark (and any
/// listed by id) moves forward to `to`; a message already further along is left alone.
async fn advance_receipts(
    tx: &mut Tx,
    contact: i64,
    to: MessageStatus,
    watermark: Millis,
    platform_ids: &[String],
    channel: ChannelId,
    now: Millis,
) -> Result<()> {
    let rank = status_rank(to);
    sqlx::query(
        "UPDATE messages SET status = $1, status_rank = $2, updated_at = $3
         WHERE contact_id = $4 AND direction = 'out' AND status_rank >= 3 AND status_rank < $2
           AND sent_at <= $5",
    )
    .bind(to.as_str())
    .bind(rank)
    .bind(now.0)
    .bind(contact)
    .bind(watermark.0)
    .execute(&mut **tx)
    .await?;
    if !platform_ids.is_empty() {
        let sql = format!(
            "UPDATE messages SET status = $1, status_rank = $2, updated_at = $3
             WHERE channel_id = $4 AND direction = 'out' AND status_rank >= 1 AND status_rank < $2
               AND platform_message_id IN ({})",
            placeholders(4, platform_ids.len())
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(to.as_str())
            .bind(rank)
            .bind(now.0)
            .bind(channel.0);
        for id in platform_ids {
            q = q.bind(id.as_str());
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

/// Creates the contact on first sight; afterwards fills in names it did not have, keeps the
/// first source it came from, and moves the window-opening timestamp forward (never back, so a
/// late retry of an old event cannot shorten the window).
async fn upsert_contact(
    tx: &mut Tx,
    channel: ChannelId,
    contact: &ContactRef,
    event: &InboundEvent,
    occurred_at: Millis,
    now: Millis,
) -> Result<i64> {
    let window = event.opens_window().then_some(occurred_at.0);
    let window_kind = event.opens_window().then(|| event.kind().as_str());
    let referral = referral_of(event);
    // Reachability: an explicit block/unblock says so; any action that opens the window proves
    // the person can be reached again.
    let reachable = match event {
        InboundEvent::Reachability { reachable } => Some(*reachable),
        e if e.opens_window() => Some(true),
        _ => None,
    };
    let row = sqlx::query(
        "INSERT INTO contacts (channel_id, external_id, first_name, last_name, username, locale,
                               source_ref, source_kind, reachable, last_window_action_at,
                               last_window_action_kind, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12)
         ON CONFLICT (channel_id, external_id) DO UPDATE SET
           first_name = COALESCE(excluded.first_name, contacts.first_name),
           last_name  = COALESCE(excluded.last_name, contacts.last_name),
           username   = COALESCE(excluded.username, contacts.username),
           locale     = COALESCE(excluded.locale, contacts.locale),
           source_kind = CASE WHEN contacts.source_ref IS NULL AND contacts.source_kind IS NULL
                              THEN excluded.source_kind ELSE contacts.source_kind END,
           source_ref = CASE WHEN contacts.source_ref IS NULL AND contacts.source_kind IS NULL
                             THEN excluded.source_ref ELSE contacts.source_ref END,
           reachable  = CASE WHEN $13 = 1 THEN excluded.reachable ELSE contacts.reachable END,
           last_window_action_kind = CASE
               WHEN excluded.last_window_action_at IS NOT NULL
                AND (contacts.last_window_action_at IS NULL
                     OR excluded.last_window_action_at > contacts.last_window_action_at)
               THEN excluded.last_window_action_kind ELSE contacts.last_window_action_kind END,
           last_window_action_at = CASE
               WHEN excluded.last_window_action_at IS NOT NULL
                AND (contacts.last_window_action_at IS NULL
                     OR excluded.last_window_action_at > contacts.last_window_action_at)
               THEN excluded.last_window_action_at ELSE contacts.last_window_action_at END,
           updated_at = excluded.updated_at
         RETURNING id",
    )
    .bind(channel.0)
    .bind(contact.external_id.as_str())
    .bind(contact.first_name.clone())
    .bind(contact.last_name.clone())
    .bind(contact.username.clone())
    .bind(contact.locale.clone())
    .bind(referral.and_then(|r| r.r#ref.clone()))
    .bind(referral.map(|r| r.source.clone()))
    .bind(i64::from(reachable.unwrap_or(true)))
    .bind(window)
    .bind(window_kind)
    .bind(now.0)
    .bind(i64::from(reachable.is_some()))
    .fetch_one(&mut **tx)
    .await?;
    get(&row, "id")
}

fn referral_of(event: &InboundEvent) -> Option<&Referral> {
    match event {
        InboundEvent::Referral(r) => Some(r),
        InboundEvent::Message { referral, .. } | InboundEvent::Postback { referral, .. } => {
            referral.as_ref()
        }
        _ => None,
    }
}

/// Every contact has exactly one conversation (its full history). An inbound message reopens it.
pub(crate) async fn upsert_conversation(
    tx: &mut Tx,
    channel: ChannelId,
    contact: i64,
    at: Millis,
    reopen: bool,
) -> Result<i64> {
    let row = sqlx::query(
        "INSERT INTO conversations (channel_id, contact_id, status, last_message_at, created_at)
         VALUES ($1, $2, 'open', $3, $3)
         ON CONFLICT (contact_id) DO UPDATE SET
           status = CASE WHEN $4 = 1 THEN 'open' ELSE conversations.status END,
           last_message_at = CASE WHEN conversations.last_message_at IS NULL
                                    OR excluded.last_message_at > conversations.last_message_at
                                  THEN excluded.last_message_at ELSE conversations.last_message_at END
         RETURNING id",
    )
    .bind(channel.0)
    .bind(contact)
    .bind(at.0)
    .bind(i64::from(reopen))
    .fetch_one(&mut **tx)
    .await?;
    get(&row, "id")
}

pub(crate) struct NewMessageRow<'a> {
    pub direction: &'static str,
    pub author: AuthorKind,
    pub status: MessageStatus,
    pub platform_message_id: Option<&'a str>,
    pub sent_at: Option<Millis>,
}

/// Inserts a message; a platform id already stored on this channel is kept as it is.
pub(crate) async fn insert_message(
    tx: &mut Tx,
    channel: ChannelId,
    contact: i64,
    conversation: i64,
    content: &Content,
    m: &NewMessageRow<'_>,
    at: Millis,
) -> Result<Option<i64>> {
    let json = serde_json::to_string(content).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let row = sqlx::query(
        "INSERT INTO messages (conversation_id, channel_id, contact_id, direction, author_kind, content,
                               text, platform_message_id, status, status_rank, created_at, sent_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $11)
         ON CONFLICT (channel_id, platform_message_id) DO NOTHING
         RETURNING id",
    )
    .bind(conversation)
    .bind(channel.0)
    .bind(contact)
    .bind(m.direction)
    .bind(m.author.as_str())
    .bind(json)
    .bind(content.text.clone())
    .bind(m.platform_message_id)
    .bind(m.status.as_str())
    .bind(status_rank(m.status))
    .bind(at.0)
    .bind(m.sent_at.map(|t| t.0))
    .fetch_optional(&mut **tx)
    .await?;
    row.map(|r| get(&r, "id")).transpose()
}

/// Writes an outbound message and its outbox row.
pub(crate) async fn enqueue(
    tx: &mut Tx,
    channel: ChannelId,
    contact: i64,
    conversation: i64,
    draft: &OutgoingDraft,
    now: Millis,
) -> Result<MessageId> {
    let m = NewMessageRow {
        direction: "out",
        author: draft.author,
        status: MessageStatus::Queued,
        platform_message_id: None,
        sent_at: None,
    };
    let id = insert_message(tx, channel, contact, conversation, &draft.content, &m, now)
        .await?
        .ok_or_else(|| {
            StoreError::Corrupt("outbound message without platform id conflicted".into())
        })?;
    sqlx::query(
        "INSERT INTO outbox (message_id, channel_id, lane, state, attempts, run_at, messaging_type, created_at)
         VALUES ($1, $2, $3, 'queued', 0, $4, $5, $4)",
    )
    .bind(id)
    .bind(channel.0)
    .bind(draft.lane.as_str())
    .bind(now.0)
    .bind(draft.messaging_type.clone())
    .execute(&mut **tx)
    .await?;
    Ok(MessageId(id))
}
