//! The automation queue: inbound events people caused wait here until the automation worker has
//! decided and applied its answer — exactly once, in order per person.
//!
//! Claiming follows the outbox (one statement, a lease, `SKIP LOCKED` on PostgreSQL). Only a
//! person's oldest open event is claimable, so one person's events are decided one after another,
//! in the order they arrived, and a batch holds at most one event per person: its decisions are
//! independent and can be written in one transaction. Applying is one transaction: the answer is
//! queued, the effects written and the event marked `done` together, so a crash either loses
//! nothing (the lease expires and the event is decided again) or did everything.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use switchboard_domain::{ChannelId, ContactId, ConversationId, InboundEvent, MessageId, Millis};

use crate::inbox::SendContext;
use crate::ingest::{NewMessage, write_messages};
use crate::outbox::OutgoingItem;
use crate::rows::{ROWS_PER_STATEMENT, get, parse_json, placeholders, to_json};
use crate::{Result, Store, StoreError};

/// An event to decide an automatic answer for.
#[derive(Debug, Clone, PartialEq)]
pub struct AutomationJob {
    pub event_id: i64,
    pub channel_id: ChannelId,
    pub contact_id: ContactId,
    pub event: InboundEvent,
    pub occurred_at: Millis,
    /// The first event ever stored for this person: they just arrived.
    pub first_event_of_contact: bool,
}

/// What automations know about a conversation.
#[derive(Debug, Clone, PartialEq)]
pub struct AutomationSubject {
    pub conversation_id: ConversationId,
    pub status: String,
    /// The automation state JSON exactly as stored (the compare-and-set token when applying).
    pub state: String,
    pub tags: BTreeSet<String>,
}

/// Everything one decision changes, written in one transaction.
#[derive(Debug, Clone, Default)]
pub struct AutomationChanges {
    /// The new automation state (JSON).
    pub state: String,
    /// `Some("waiting")` when handed over to a human (with `waiting_since`), `Some("open")` when
    /// automations take it back.
    pub status: Option<String>,
    pub waiting_since: Option<Millis>,
    pub assignee: Option<String>,
    pub add_tags: Vec<String>,
    pub remove_tags: Vec<String>,
    pub set_attributes: BTreeMap<String, String>,
    pub subscribed: Option<bool>,
    /// Messages to queue, in order.
    pub messages: Vec<OutgoingItem>,
}

/// Everything a decision reads: the conversation's automation facts and what the compose path
/// needs to queue an answer on it.
#[derive(Debug, Clone)]
pub struct AutomationContext {
    pub subject: AutomationSubject,
    pub send: SendContext,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    Done {
        queued: Vec<MessageId>,
    },
    /// Someone else changed the conversation's automation state, or our claim expired: nothing
    /// was written; decide again.
    Conflict,
}

impl Store {
    /// Claims up to `limit` pending events, oldest first, skipping people with an event still
    /// being decided elsewhere.
    pub async fn claim_automation(
        &self,
        worker: &str,
        now: Millis,
        lease_until: Millis,
        limit: i64,
    ) -> Result<Vec<AutomationJob>> {
        // Expired claims are handed back by `recover_automation`, not here.
        let _ = now;
        let sql = format!(
            "UPDATE events SET automation = 'claimed', automation_lease_until = $1, automation_claimed_by = $2
             WHERE id IN (
                 SELECT e.id FROM events e
                 WHERE e.automation = 'pending'
                   AND NOT EXISTS (SELECT 1 FROM events p
                                   WHERE p.contact_id = e.contact_id AND p.automation IN ('pending', 'claimed')
                                     AND p.id < e.id)
                 ORDER BY e.id LIMIT $3 {})
             RETURNING id, channel_id, contact_id, payload, occurred_at",
            self.backend.skip_locked()
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(lease_until.0)
            .bind(worker)
            .bind(limit)
            .fetch_all(&self.write)
            .await?;
        let mut jobs = Vec::with_capacity(rows.len());
        for row in &rows {
            let Some(contact) = get::<Option<i64>>(row, "contact_id")? else {
                continue;
            };
            jobs.push(AutomationJob {
                event_id: get(row, "id")?,
                channel_id: ChannelId(get(row, "channel_id")?),
                contact_id: ContactId(contact),
                event: parse_json(row, "payload")?,
                occurred_at: Millis(get(row, "occurred_at")?),
                first_event_of_contact: false,
            });
        }
        jobs.sort_by_key(|j| j.event_id);
        if jobs.is_empty() {
            return Ok(jobs);
        }
        let contacts: BTreeSet<i64> = jobs.iter().map(|j| j.contact_id.0).collect();
        let sql = format!(
            "SELECT contact_id, MIN(id) AS first FROM events WHERE contact_id IN ({}) GROUP BY contact_id",
            self.backend.params(0, contacts.len())
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for c in &contacts {
            q = q.bind(*c);
        }
        let first: HashMap<i64, i64> = q
            .fetch_all(&self.read)
            .await?
            .iter()
            .map(|r| Ok((get(r, "contact_id")?, get(r, "first")?)))
            .collect::<Result<_>>()?;
        for job in &mut jobs {
            job.first_event_of_contact = first.get(&job.contact_id.0) == Some(&job.event_id);
        }
        Ok(jobs)
    }

    /// Events still waiting for (or being given) their automatic answer.
    pub async fn count_open_automation(&self) -> Result<i64> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM events WHERE automation IN ('pending', 'claimed')",
        )
        .fetch_one(&self.read)
        .await?;
        get(&row, "n")
    }

    /// Events whose claim expired (the node died) become pending again.
    pub async fn recover_automation(&self, now: Millis) -> Result<u64> {
        let done = sqlx::query(
            "UPDATE events SET automation = 'pending', automation_claimed_by = NULL
             WHERE automation = 'claimed' AND automation_lease_until < $1",
        )
        .bind(now.0)
        .execute(&self.write)
        .await?;
        Ok(done.rows_affected())
    }

    /// Gives an event back (e.g. after a conflict), to be decided again.
    pub async fn release_automation(&self, event_id: i64, worker: &str) -> Result<()> {
        sqlx::query(
            "UPDATE events SET automation = 'pending', automation_claimed_by = NULL
             WHERE id = $1 AND automation = 'claimed' AND automation_claimed_by = $2",
        )
        .bind(event_id)
        .bind(worker)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    /// Marks an event decided without changing anything (nothing to do, or it cannot be
    /// answered).
    pub async fn skip_automation(&self, event_id: i64, worker: &str) -> Result<()> {
        sqlx::query(
            "UPDATE events SET automation = 'done' WHERE id = $1 AND automation = 'claimed' AND automation_claimed_by = $2",
        )
        .bind(event_id)
        .bind(worker)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    /// What the decisions of a claimed batch read, for all of its people at once (a handful of
    /// statements, not a handful per person). Conversations are created for people whose
    /// first event carried no message (a Get Started tap).
    pub async fn automation_contexts(
        &self,
        people: &[(ChannelId, ContactId)],
        bulk_since: Millis,
    ) -> Result<HashMap<ContactId, AutomationContext>> {
        let contacts: Vec<ContactId> = people.iter().map(|(_, c)| *c).collect();
        let mut send = self.send_contexts(&contacts, bulk_since).await?;
        let missing: Vec<(ChannelId, ContactId)> = people
            .iter()
            .filter(|(_, c)| !send.contains_key(c))
            .copied()
            .collect();
        if !missing.is_empty() {
            for (channel, contact) in &missing {
                sqlx::query(
                    "INSERT INTO conversations (channel_id, contact_id, status, last_message_at, created_at)
                     VALUES ($1, $2, 'open', $3, $3) ON CONFLICT (contact_id) DO NOTHING",
                )
                .bind(channel.0)
                .bind(contact.0)
                .bind(Millis::now().0)
                .execute(&self.write)
                .await?;
            }
            let created: Vec<ContactId> = missing.iter().map(|(_, c)| *c).collect();
            send.extend(self.send_contexts(&created, bulk_since).await?);
        }
        let mut tags = self.tags_of(&contacts).await?;
        Ok(send
            .into_iter()
            .map(|(contact, send)| {
                let subject = AutomationSubject {
                    conversation_id: send.conversation.id,
                    status: send.conversation.status.clone(),
                    state: send.conversation.automation_state.clone(),
                    tags: tags.remove(&contact.0).unwrap_or_default(),
                };
                (contact, AutomationContext { subject, send })
            })
            .collect())
    }

    async fn tags_of(&self, contacts: &[ContactId]) -> Result<HashMap<i64, BTreeSet<String>>> {
        let mut tags: HashMap<i64, BTreeSet<String>> = HashMap::new();
        if contacts.is_empty() {
            return Ok(tags);
        }
        let sql = format!(
            "SELECT contact_id, tag FROM contact_tags WHERE contact_id IN ({})",
            placeholders(0, contacts.len())
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for c in contacts {
            q = q.bind(c.0);
        }
        for row in q.fetch_all(&self.read).await? {
            tags.entry(get(&row, "contact_id")?)
                .or_default()
                .insert(get(&row, "tag")?);
        }
        Ok(tags)
    }

    pub async fn contact_tags(&self, contact: ContactId) -> Result<BTreeSet<String>> {
        let rows = sqlx::query("SELECT tag FROM contact_tags WHERE contact_id = $1 ORDER BY tag")
            .bind(contact.0)
            .fetch_all(&self.read)
            .await?;
        rows.iter().map(|r| get(r, "tag")).collect()
    }

    /// Applies a batch of decisions (one per person) in one transaction: one commit and a
    /// handful of multi-row statements for the lot, which is what keeps automations from
    /// starving webhook ingest of the single SQLite writer. Each decision still stands or falls
    /// on its own: a decision whose event is no longer ours, or whose conversation changed
    /// meanwhile, writes nothing and comes back as `Conflict` (its event given back to be
    /// decided again).
    pub async fn apply_automations(
        &self,
        worker: &str,
        decisions: &[(&AutomationJob, &AutomationSubject, &AutomationChanges)],
    ) -> Result<Vec<Applied>> {
        if decisions.is_empty() {
            return Ok(Vec::new());
        }
        // A deadlock with webhook ingest (PostgreSQL) rolls the whole batch back: run it again.
        crate::run_again_on_conflict("automation batch", || {
            self.apply_automations_once(worker, decisions)
        })
        .await
    }

    async fn apply_automations_once(
        &self,
        worker: &str,
        decisions: &[(&AutomationJob, &AutomationSubject, &AutomationChanges)],
    ) -> Result<Vec<Applied>> {
        let now = Millis::now();
        let mut tx = self.write.begin().await?;

        // Our claims: those events are decided now.
        let sql = format!(
            "UPDATE events SET automation = 'done'
             WHERE automation = 'claimed' AND automation_claimed_by = $1 AND id IN ({}) RETURNING id",
            placeholders(1, decisions.len())
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(worker);
        for (job, _, _) in decisions {
            q = q.bind(job.event_id);
        }
        let ours: HashSet<i64> = q
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(|r| get(r, "id"))
            .collect::<Result<_>>()?;
        let candidates: Vec<_> = decisions
            .iter()
            .filter(|(job, _, _)| ours.contains(&job.event_id))
            .collect();

        // Compare-and-set every conversation's automation state at once.
        let mut applied_conversations = HashSet::new();
        for chunk in candidates.chunks(ROWS_PER_STATEMENT) {
            let sql = format!(
                "UPDATE conversations SET automation_state = v.column3, status = v.column4,
                        waiting_since = CASE WHEN v.column4 = 'waiting'
                                             THEN COALESCE(conversations.waiting_since, v.column5) ELSE NULL END,
                        assignee = COALESCE(v.column6, conversations.assignee)
                 FROM (VALUES {}) AS v
                 WHERE conversations.id = v.column1 AND conversations.automation_state = v.column2
                 RETURNING conversations.id",
                self.backend.values_rows(chunk.len(), 6, 0)
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for (_, subject, changes) in chunk {
                q = q
                    .bind(subject.conversation_id.0)
                    .bind(subject.state.as_str())
                    .bind(changes.state.as_str())
                    .bind(changes.status.as_deref().unwrap_or(subject.status.as_str()))
                    .bind(changes.waiting_since.map(|t| t.0))
                    .bind(changes.assignee.as_deref());
            }
            for row in q.fetch_all(&mut *tx).await? {
                applied_conversations.insert(get::<i64>(&row, "id")?);
            }
        }
        let (applied, conflicted): (Vec<_>, Vec<_>) =
            candidates.into_iter().partition(|(_, subject, _)| {
                applied_conversations.contains(&subject.conversation_id.0)
            });
        // Decided on a state that changed meanwhile: give the event back, write nothing else.
        if !conflicted.is_empty() {
            let sql = format!(
                "UPDATE events SET automation = 'pending', automation_claimed_by = NULL WHERE id IN ({})",
                placeholders(0, conflicted.len())
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for (job, _, _) in &conflicted {
                q = q.bind(job.event_id);
            }
            q.execute(&mut *tx).await?;
        }

        for (job, _, changes) in &applied {
            self.apply_contact_changes(&mut tx, job.contact_id, changes, now)
                .await?;
        }
        let recipients =
            recipients(&mut tx, applied.iter().map(|(job, _, _)| job.contact_id)).await?;
        let mut rows: Vec<NewMessage<'_>> = Vec::new();
        for (job, _, changes) in &applied {
            let recipient = recipients
                .get(&job.contact_id.0)
                .ok_or(StoreError::NotFound)?;
            rows.extend(changes.messages.iter().map(|item| {
                NewMessage::queued(
                    item,
                    (job.channel_id.0, job.contact_id.0),
                    recipient,
                    Some(job.event_id),
                    now,
                )
            }));
        }
        let mut queued: HashMap<i64, Vec<MessageId>> = HashMap::new();
        for (id, origin, _) in write_messages(&mut tx, self.backend, &rows, now).await? {
            if let Some(event) = origin {
                queued.entry(event).or_default().push(id);
            }
        }
        tx.commit().await?;

        let applied_events: HashSet<i64> = applied.iter().map(|(job, _, _)| job.event_id).collect();
        Ok(decisions
            .iter()
            .map(|(job, _, _)| {
                if applied_events.contains(&job.event_id) {
                    Applied::Done {
                        queued: queued.remove(&job.event_id).unwrap_or_default(),
                    }
                } else {
                    Applied::Conflict
                }
            })
            .collect())
    }

    /// Tags, attributes and subscription of one decision (rare next to the answer itself, so
    /// row by row).
    async fn apply_contact_changes(
        &self,
        tx: &mut crate::ingest::Tx,
        contact: ContactId,
        changes: &AutomationChanges,
        now: Millis,
    ) -> Result<()> {
        for tag in &changes.add_tags {
            sqlx::query(
                "INSERT INTO contact_tags (contact_id, tag, created_at) VALUES ($1, $2, $3)
                 ON CONFLICT (contact_id, tag) DO NOTHING",
            )
            .bind(contact.0)
            .bind(tag)
            .bind(now.0)
            .execute(&mut **tx)
            .await?;
        }
        for tag in &changes.remove_tags {
            sqlx::query("DELETE FROM contact_tags WHERE contact_id = $1 AND tag = $2")
                .bind(contact.0)
                .bind(tag)
                .execute(&mut **tx)
                .await?;
        }
        if !changes.set_attributes.is_empty() {
            let row = sqlx::query("SELECT attributes FROM contacts WHERE id = $1")
                .bind(contact.0)
                .fetch_optional(&mut **tx)
                .await?
                .ok_or(StoreError::NotFound)?;
            let mut attributes: BTreeMap<String, String> = parse_json(&row, "attributes")?;
            attributes.extend(changes.set_attributes.clone());
            sqlx::query("UPDATE contacts SET attributes = $1, updated_at = $2 WHERE id = $3")
                .bind(to_json(&attributes)?)
                .bind(now.0)
                .bind(contact.0)
                .execute(&mut **tx)
                .await?;
        }
        if let Some(subscribed) = changes.subscribed {
            sqlx::query(
                "UPDATE contacts SET subscribed = $1, subscription_changed_at = $2, updated_at = $2
                 WHERE id = $3 AND subscribed <> $1",
            )
            .bind(i64::from(subscribed))
            .bind(now.0)
            .bind(contact.0)
            .execute(&mut **tx)
            .await?;
        }
        Ok(())
    }
}

/// The platform ids the answers go to, by contact, in one statement.
async fn recipients(
    tx: &mut crate::ingest::Tx,
    contacts: impl Iterator<Item = ContactId>,
) -> Result<HashMap<i64, String>> {
    let ids: BTreeSet<i64> = contacts.map(|c| c.0).collect();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let sql = format!(
        "SELECT id, external_id FROM contacts WHERE id IN ({})",
        placeholders(0, ids.len())
    );
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
    for id in &ids {
        q = q.bind(*id);
    }
    q.fetch_all(&mut **tx)
        .await?
        .iter()
        .map(|r| Ok((get(r, "id")?, get(r, "external_id")?)))
        .collect()
}

/// A channel's stored automations document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAutomations {
    /// JSON of `switchboard_automation::config::ChannelAutomations`.
    pub config: String,
    /// Increases with every save.
    pub version: i64,
    /// Signs outgoing webhook calls.
    pub secret: String,
    pub updated_at: Millis,
}

impl Store {
    pub async fn get_automations(&self, channel: ChannelId) -> Result<Option<StoredAutomations>> {
        let row = sqlx::query(
            "SELECT config, version, secret, updated_at FROM automations WHERE channel_id = $1",
        )
        .bind(channel.0)
        .fetch_optional(&self.read)
        .await?;
        row.map(|row| {
            Ok(StoredAutomations {
                config: get(&row, "config")?,
                version: get(&row, "version")?,
                secret: get(&row, "secret")?,
                updated_at: Millis(get(&row, "updated_at")?),
            })
        })
        .transpose()
    }

    /// Saves a channel's automations (already validated by the caller) and returns the new
    /// version. `new_secret` is kept only when the channel had no automations yet.
    pub async fn put_automations(
        &self,
        channel: ChannelId,
        config: &str,
        new_secret: &str,
    ) -> Result<i64> {
        let row = sqlx::query(
            "INSERT INTO automations (channel_id, config, secret, version, updated_at) VALUES ($1, $2, $4, 1, $3)
             ON CONFLICT (channel_id)
             DO UPDATE SET config = excluded.config, version = automations.version + 1,
                           updated_at = excluded.updated_at
             RETURNING version",
        )
        .bind(channel.0)
        .bind(config)
        .bind(Millis::now().0)
        .bind(new_secret)
        .fetch_one(&self.write)
        .await?;
        get(&row, "version")
    }

    /// Sets a conversation's status and automation state, if the state is still `expected`
    /// (compare-and-set). Returns whether it was written.
    pub async fn set_conversation_automation(
        &self,
        conversation: ConversationId,
        expected_state: &str,
        state: &str,
        status: &str,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE conversations SET automation_state = $1, status = $2,
                    waiting_since = CASE WHEN $2 = 'waiting' THEN waiting_since ELSE NULL END
             WHERE id = $3 AND automation_state = $4",
        )
        .bind(state)
        .bind(status)
        .bind(conversation.0)
        .bind(expected_state)
        .execute(&self.write)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// The conversation's automation state JSON and status.
    pub async fn conversation_automation(
        &self,
        conversation: ConversationId,
    ) -> Result<(String, String)> {
        let row = sqlx::query("SELECT automation_state, status FROM conversations WHERE id = $1")
            .bind(conversation.0)
            .fetch_one(&self.read)
            .await?;
        Ok((get(&row, "automation_state")?, get(&row, "status")?))
    }
}
