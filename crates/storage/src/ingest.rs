//! Storing inbound events: one transaction for a whole batch of webhook deliveries.
//!
//! The server's ingest writer collects concurrent webhook requests into a batch, calls
//! [`Store::ingest`] once, and acknowledges every request in the batch only after it returns
//! (group commit: one fsync for many events). Replies decided for an event are written as
//! outbound messages, already queued for the dispatcher, in the same transaction, so an
//! acknowledged event can never lose its reply.
//!
//! The batch is written with a handful of multi-row statements (contacts, events,
//! conversations, messages) rather than several statements per event: on SQLite every statement
//! is a round trip to the driver's worker thread, and on PostgreSQL one over the network, and
//! those round trips — not the database's own work — are what limit ingest.

use std::collections::HashMap;

use sqlx::{Any, Transaction};
use switchboard_domain::{
    AuthorKind, ChannelId, Content, InboundEnvelope, InboundEvent, MessageId, MessageStatus,
    Millis, Referral,
};

use crate::Backend;
use crate::outbox::{Lane, OutgoingItem};
use crate::rows::{ROWS_PER_STATEMENT, get, placeholders, to_json};
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

pub(crate) type Tx = Transaction<'static, Any>;
type ContactKey<'a> = (i64, &'a str);

impl Store {
    /// Stores a batch of events atomically: either all of them (and their replies) are durable
    /// when this returns `Ok`, or none are.
    pub async fn ingest(&self, items: &[IngestItem]) -> Result<Vec<IngestOutcome>> {
        // PostgreSQL may pick a batch as a deadlock's victim (another writer, e.g. the
        // automation worker, locking the same conversations in another order): the batch was
        // rolled back whole, so it is simply run again rather than answered with a 503.
        crate::run_again_on_conflict("ingest batch", || self.ingest_once(items)).await
    }

    async fn ingest_once(&self, items: &[IngestItem]) -> Result<Vec<IngestOutcome>> {
        let now = Millis::now();
        let mut tx = self.write.begin().await?;
        let db = self.backend;
        let contacts = upsert_contacts(&mut tx, db, items, now).await?;
        let contact_of = |item: &IngestItem| -> Option<i64> {
            let c = item.envelope.contact.as_ref()?;
            contacts
                .get(&(item.channel_id.0, c.external_id.as_str()))
                .copied()
        };
        let events = insert_events(&mut tx, db, items, &contact_of, now).await?;
        let conversations =
            upsert_conversations(&mut tx, db, items, &events, &contact_of, now).await?;
        let queued = insert_messages(
            &mut tx,
            db,
            items,
            &events,
            &contact_of,
            &conversations,
            now,
        )
        .await?;
        for ((item, event), contact) in items.iter().zip(&events).zip(items.iter().map(contact_of))
        {
            if let (Some(_), Some(contact)) = (event, contact) {
                apply_updates(&mut tx, item.channel_id, contact, &item.envelope, now).await?;
            }
        }
        tx.commit().await?;
        Ok(events
            .iter()
            .map(|event| match event {
                Some(id) => IngestOutcome::Stored {
                    event_id: *id,
                    queued: queued.get(id).cloned().unwrap_or_default(),
                },
                None => IngestOutcome::Duplicate,
            })
            .collect())
    }
}

/// What a batch says about one contact, merged in arrival order with the same meaning as
/// applying the events one by one: later names win, the first referral is the source, the
/// latest reachability signal wins, the window clock takes the latest window-opening action.
#[derive(Default)]
struct ContactFacts<'a> {
    first_name: Option<&'a str>,
    last_name: Option<&'a str>,
    username: Option<&'a str>,
    locale: Option<&'a str>,
    source: Option<&'a Referral>,
    reachable: Option<bool>,
    window: Option<(i64, &'static str)>,
}

async fn upsert_contacts<'a>(
    tx: &mut Tx,
    db: Backend,
    items: &'a [IngestItem],
    now: Millis,
) -> Result<HashMap<ContactKey<'a>, i64>> {
    let mut order: Vec<ContactKey<'a>> = Vec::new();
    let mut facts: HashMap<ContactKey<'a>, ContactFacts<'a>> = HashMap::new();
    for item in items {
        let Some(c) = &item.envelope.contact else {
            continue;
        };
        let key = (item.channel_id.0, c.external_id.as_str());
        let f = facts.entry(key).or_insert_with(|| {
            order.push(key);
            ContactFacts::default()
        });
        let event = &item.envelope.event;
        f.first_name = c.first_name.as_deref().or(f.first_name);
        f.last_name = c.last_name.as_deref().or(f.last_name);
        f.username = c.username.as_deref().or(f.username);
        f.locale = c.locale.as_deref().or(f.locale);
        f.source = f.source.or(referral_of(event));
        // An explicit block/unblock says so; any window-opening action proves the person can be
        // reached again.
        match event {
            InboundEvent::Reachability { reachable } => f.reachable = Some(*reachable),
            e if e.opens_window() => f.reachable = Some(true),
            _ => {}
        }
        if event.opens_window() {
            let at = item.envelope.occurred_at.0;
            if f.window.is_none_or(|(t, _)| at >= t) {
                f.window = Some((at, event.kind().as_str()));
            }
        }
    }
    let mut ids = HashMap::with_capacity(order.len());
    for chunk in order.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "INSERT INTO contacts (channel_id, external_id, first_name, last_name, username, locale,
                                   source_ref, source_kind, reachable, last_window_action_at,
                                   last_window_action_kind, created_at, updated_at)
             VALUES {}
             ON CONFLICT (channel_id, external_id) DO UPDATE SET
               first_name = COALESCE(excluded.first_name, contacts.first_name),
               last_name  = COALESCE(excluded.last_name, contacts.last_name),
               username   = COALESCE(excluded.username, contacts.username),
               locale     = COALESCE(excluded.locale, contacts.locale),
               source_kind = CASE WHEN contacts.source_kind IS NULL THEN excluded.source_kind ELSE contacts.source_kind END,
               source_ref = CASE WHEN contacts.source_kind IS NULL THEN excluded.source_ref ELSE contacts.source_ref END,
               reachable  = COALESCE(excluded.reachable, contacts.reachable),
               last_window_action_kind = CASE
                   WHEN excluded.last_window_action_at > COALESCE(contacts.last_window_action_at, -1)
                   THEN excluded.last_window_action_kind ELSE contacts.last_window_action_kind END,
               last_window_action_at = CASE
                   WHEN excluded.last_window_action_at > COALESCE(contacts.last_window_action_at, -1)
                   THEN excluded.last_window_action_at ELSE contacts.last_window_action_at END,
               updated_at = excluded.updated_at
             RETURNING id, channel_id, external_id",
            db.values_rows(chunk.len(), 13, 0)
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for key in chunk {
            let f = &facts[key];
            q = q
                .bind(key.0)
                .bind(key.1)
                .bind(f.first_name)
                .bind(f.last_name)
                .bind(f.username)
                .bind(f.locale)
                .bind(f.source.and_then(|r| r.r#ref.as_deref()))
                .bind(f.source.map(|r| r.source.as_str()))
                .bind(f.reachable.map(i64::from))
                .bind(f.window.map(|w| w.0))
                .bind(f.window.map(|w| w.1))
                .bind(now.0)
                .bind(now.0);
        }
        for row in q.fetch_all(&mut **tx).await? {
            let (channel, external): (i64, String) =
                (get(&row, "channel_id")?, get(&row, "external_id")?);
            let key = chunk
                .iter()
                .find(|k| k.0 == channel && k.1 == external)
                .ok_or_else(|| {
                    StoreError::Corrupt("contact upsert returned an unknown key".into())
                })?;
            ids.insert(*key, get(&row, "id")?);
        }
    }
    Ok(ids)
}

/// Inserts the events; the result holds each item's new event id, or `None` for a duplicate
/// (stored earlier, or earlier in this same batch).
async fn insert_events(
    tx: &mut Tx,
    db: Backend,
    items: &[IngestItem],
    contact_of: &impl Fn(&IngestItem) -> Option<i64>,
    now: Millis,
) -> Result<Vec<Option<i64>>> {
    let mut inserted: HashMap<(i64, String), i64> = HashMap::with_capacity(items.len());
    for chunk in items.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "INSERT INTO events (channel_id, dedupe_key, contact_id, kind, payload, standby, occurred_at, received_at, automation)
             VALUES {}
             ON CONFLICT (channel_id, dedupe_key) DO NOTHING
             RETURNING id, channel_id, dedupe_key",
            db.values_rows(chunk.len(), 9, 0)
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for item in chunk {
            let env = &item.envelope;
            let payload = to_json(&env.event)?;
            q = q
                .bind(item.channel_id.0)
                .bind(env.dedupe_key.as_str())
                .bind(contact_of(item))
                .bind(env.event.kind().as_str())
                .bind(payload)
                .bind(i64::from(env.standby))
                .bind(env.occurred_at.0)
                .bind(now.0)
                .bind(awaits_automation(env).then_some("pending"));
        }
        for row in q.fetch_all(&mut **tx).await? {
            inserted.insert(
                (get(&row, "channel_id")?, get(&row, "dedupe_key")?),
                get(&row, "id")?,
            );
        }
    }
    // The first item with a given key owns the new row; repeats within the batch are duplicates.
    Ok(items
        .iter()
        .map(|item| inserted.remove(&(item.channel_id.0, item.envelope.dedupe_key.clone())))
        .collect())
}

/// Whether automations should react: something a person did, in a thread we own (in standby
/// another app answers). Receipts, echoes and edits get no automatic answer.
/// Thread-control changes are always wanted: they decide whether we may answer at all.
fn awaits_automation(env: &InboundEnvelope) -> bool {
    env.contact.is_some()
        && match env.event {
            InboundEvent::Message { .. }
            | InboundEvent::Postback { .. }
            | InboundEvent::Referral(_)
            | InboundEvent::Optin { .. } => !env.standby,
            InboundEvent::ThreadControl { .. } => true,
            _ => false,
        }
}

/// Whether a new event adds a message to its contact's thread.
fn adds_message(event: &InboundEvent) -> bool {
    matches!(
        event,
        InboundEvent::Message { .. } | InboundEvent::Echo { ours: false, .. }
    )
}

/// Every contact has exactly one conversation (its whole history); this makes sure the ones
/// this batch writes messages to exist. An inbound message reopens a resolved conversation.
async fn upsert_conversations(
    tx: &mut Tx,
    db: Backend,
    items: &[IngestItem],
    events: &[Option<i64>],
    contact_of: &impl Fn(&IngestItem) -> Option<i64>,
    now: Millis,
) -> Result<HashMap<i64, i64>> {
    // contact → (channel, last message time, reopen)
    let mut needed: Vec<(i64, i64, i64, bool)> = Vec::new();
    let mut index: HashMap<i64, usize> = HashMap::new();
    for (item, event) in items.iter().zip(events) {
        let (Some(_), Some(contact)) = (event, contact_of(item)) else {
            continue;
        };
        let event = &item.envelope.event;
        let at = if adds_message(event) {
            item.envelope.occurred_at.0
        } else {
            now.0
        };
        if !adds_message(event) && item.replies.is_empty() {
            continue;
        }
        let reopen = matches!(event, InboundEvent::Message { .. });
        match index.get(&contact) {
            Some(&i) => {
                needed[i].2 = needed[i].2.max(at);
                needed[i].3 |= reopen;
            }
            None => {
                index.insert(contact, needed.len());
                needed.push((contact, item.channel_id.0, at, reopen));
            }
        }
    }
    let mut ids = HashMap::with_capacity(needed.len());
    for reopen in [true, false] {
        let group: Vec<_> = needed.iter().filter(|n| n.3 == reopen).collect();
        // A customer's message reopens a resolved conversation and wakes a snoozed one.
        let status = if reopen {
            "'open', snoozed_until = NULL"
        } else {
            "conversations.status"
        };
        for chunk in group.chunks(ROWS_PER_STATEMENT) {
            let sql = format!(
                "INSERT INTO conversations (channel_id, contact_id, status, last_message_at, created_at)
                 VALUES {}
                 ON CONFLICT (contact_id) DO UPDATE SET
                   status = {status},
                   last_message_at = CASE WHEN excluded.last_message_at > COALESCE(conversations.last_message_at, -1)
                                          THEN excluded.last_message_at ELSE conversations.last_message_at END
                 RETURNING id, contact_id",
                db.values_rows(chunk.len(), 5, 0)
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for (contact, channel, at, _) in chunk {
                q = q
                    .bind(*channel)
                    .bind(*contact)
                    .bind("open")
                    .bind(*at)
                    .bind(*at);
            }
            for row in q.fetch_all(&mut **tx).await? {
                ids.insert(get(&row, "contact_id")?, get(&row, "id")?);
            }
        }
    }
    Ok(ids)
}

/// One message row about to be written.
pub(crate) struct NewMessage<'a> {
    pub(crate) conversation: i64,
    pub(crate) channel: i64,
    pub(crate) contact: i64,
    pub(crate) direction: &'static str,
    pub(crate) author: AuthorKind,
    pub(crate) content: &'a Content,
    pub(crate) platform_message_id: Option<&'a str>,
    pub(crate) status: MessageStatus,
    pub(crate) created_at: Millis,
    pub(crate) sent_at: Option<Millis>,
    pub(crate) origin_event_id: Option<i64>,
    pub(crate) recipient: &'a str,
    /// `Some` for messages we are to send: they enter the outbox queued.
    pub(crate) outbox: Option<&'a OutgoingDraft>,
}

impl<'a> NewMessage<'a> {
    /// A message of ours entering the outbox queued, on the conversation `item` names.
    pub(crate) fn queued(
        item: &'a OutgoingItem,
        (channel, contact): (i64, i64),
        recipient: &'a str,
        origin_event_id: Option<i64>,
        now: Millis,
    ) -> Self {
        NewMessage {
            conversation: item.conversation_id.0,
            channel,
            contact,
            direction: "out",
            author: item.draft.author,
            content: &item.draft.content,
            platform_message_id: None,
            status: MessageStatus::Queued,
            created_at: now,
            sent_at: None,
            origin_event_id,
            recipient,
            outbox: Some(&item.draft),
        }
    }
}

/// Writes inbound messages, echoes of messages sent elsewhere, and queued replies. Returns the
/// queued reply ids per event.
async fn insert_messages<'a>(
    tx: &mut Tx,
    db: Backend,
    items: &'a [IngestItem],
    events: &[Option<i64>],
    contact_of: &impl Fn(&IngestItem) -> Option<i64>,
    conversations: &HashMap<i64, i64>,
    now: Millis,
) -> Result<HashMap<i64, Vec<MessageId>>> {
    let mut rows: Vec<NewMessage<'a>> = Vec::new();
    for (item, event) in items.iter().zip(events) {
        let (Some(event_id), Some(contact)) = (*event, contact_of(item)) else {
            continue;
        };
        let Some(&conversation) = conversations.get(&contact) else {
            continue;
        };
        let Some(person) = &item.envelope.contact else {
            continue;
        };
        let env = &item.envelope;
        let base = |direction,
                    author,
                    content,
                    platform_message_id,
                    status,
                    sent_at,
                    outbox: Option<&'a OutgoingDraft>| NewMessage {
            conversation,
            channel: item.channel_id.0,
            contact,
            direction,
            author,
            content,
            platform_message_id,
            status,
            created_at: if outbox.is_some() {
                now
            } else {
                env.occurred_at
            },
            sent_at,
            origin_event_id: Some(event_id),
            recipient: person.external_id.as_str(),
            outbox,
        };
        match &env.event {
            InboundEvent::Message {
                platform_message_id,
                content,
                ..
            } => {
                rows.push(base(
                    "in",
                    AuthorKind::Contact,
                    content,
                    Some(platform_message_id),
                    MessageStatus::Received,
                    None,
                    None,
                ));
            }
            // Sent from outside Switchboard (Page inbox, another app): keep the thread complete.
            InboundEvent::Echo {
                platform_message_id,
                content,
                ours: false,
            } => rows.push(base(
                "out",
                AuthorKind::Page,
                content,
                Some(platform_message_id),
                MessageStatus::Sent,
                Some(env.occurred_at),
                None,
            )),
            _ => {}
        }
        for draft in &item.replies {
            rows.push(base(
                "out",
                draft.author,
                &draft.content,
                None,
                MessageStatus::Queued,
                None,
                Some(draft),
            ));
        }
    }
    let mut queued: HashMap<i64, Vec<MessageId>> = HashMap::new();
    for (id, origin, outbox) in write_messages(tx, db, &rows, now).await? {
        if let (Some(origin), true) = (origin, outbox) {
            queued.entry(origin).or_default().push(id);
        }
    }
    for ids in queued.values_mut() {
        ids.sort();
    }
    Ok(queued)
}

/// Writes message rows with one multi-row INSERT per chunk. A platform id already stored on the
/// channel is skipped (`ON CONFLICT DO NOTHING`). Returns each written row's id, origin event and
/// whether it entered the outbox, in id order (which is the order of `rows` on both databases).
pub(crate) async fn write_messages(
    tx: &mut Tx,
    db: Backend,
    rows: &[NewMessage<'_>],
    now: Millis,
) -> Result<Vec<(MessageId, Option<i64>, bool)>> {
    let mut written = Vec::with_capacity(rows.len());
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "INSERT INTO messages (conversation_id, channel_id, contact_id, direction, author_kind, content, text,
                                   platform_message_id, status, status_rank, created_at, sent_at, updated_at,
                                   origin_event_id, recipient, lane, outbox_state, run_at, messaging_type)
             VALUES {}
             ON CONFLICT (channel_id, contact_id, platform_message_id) DO NOTHING
             RETURNING id, origin_event_id, outbox_state",
            db.values_rows(chunk.len(), 19, 0)
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for m in chunk {
            let json = to_json(m.content)?;
            q = q
                .bind(m.conversation)
                .bind(m.channel)
                .bind(m.contact)
                .bind(m.direction)
                .bind(m.author.as_str())
                .bind(json)
                .bind(m.content.text.as_deref())
                .bind(m.platform_message_id)
                .bind(m.status.as_str())
                .bind(status_rank(m.status))
                .bind(m.created_at.0)
                .bind(m.sent_at.map(|t| t.0))
                .bind(now.0)
                .bind(m.origin_event_id)
                .bind(m.recipient)
                .bind(m.outbox.map(|d| d.lane.as_str()))
                .bind(m.outbox.map(|_| "queued"))
                .bind(m.outbox.map(|_| now.0))
                .bind(m.outbox.and_then(|d| d.messaging_type.as_deref()));
        }
        for row in q.fetch_all(&mut **tx).await? {
            written.push((
                MessageId(get(&row, "id")?),
                get::<Option<i64>>(&row, "origin_event_id")?,
                get::<Option<String>>(&row, "outbox_state")?.is_some(),
            ));
        }
    }
    written.sort_by_key(|w| w.0);
    Ok(written)
}

/// Events that change messages already stored: edits and receipts.
async fn apply_updates(
    tx: &mut Tx,
    channel: ChannelId,
    contact: i64,
    env: &InboundEnvelope,
    now: Millis,
) -> Result<()> {
    match &env.event {
        InboundEvent::Edit {
            platform_message_id,
            content,
        } => {
            let json = to_json(content)?;
            sqlx::query(
                "UPDATE messages SET content = $1, text = $2, updated_at = $3
                 WHERE channel_id = $4 AND contact_id = $6 AND platform_message_id = $5 AND direction = 'in'",
            )
            .bind(json)
            .bind(content.text.clone())
            .bind(now.0)
            .bind(channel.0)
            .bind(platform_message_id.as_str())
            .bind(contact)
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
    // Kept on the contact for a send whose result is recorded after this receipt (Meta may
    // deliver the webhook before the Send API answers): recording it applies the watermark.
    let column = match to {
        MessageStatus::Read => "read_watermark",
        _ => "delivered_watermark",
    };
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE contacts SET {column} = $1 WHERE id = $2 AND ({column} IS NULL OR {column} < $1)"
    )))
    .bind(watermark.0)
    .bind(contact)
    .execute(&mut **tx)
    .await?;
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
             WHERE channel_id = $4 AND direction = 'out' AND status_rank >= 3 AND status_rank < $2
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

fn referral_of(event: &InboundEvent) -> Option<&Referral> {
    match event {
        InboundEvent::Referral(r) => Some(r),
        InboundEvent::Message { referral, .. } | InboundEvent::Postback { referral, .. } => {
            referral.as_ref()
        }
        _ => None,
    }
}
