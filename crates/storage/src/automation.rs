//! The automation queue: inbound events people caused wait here until the automation worker has
//! decided and applied its answer — exactly once, in order per person.
//!
//! Claiming follows the outbox (one statement, a lease, `SKIP LOCKED` on PostgreSQL). Only a
//! person's oldest open event is claimable, so one person's events are decided one after another,
//! in the order they arrived, and a batch holds at most one event per person: its decisions are
//! independent and can be written in one transaction. Applying is one transaction: the answer is
//! queued, the effects written and the event marked `done` together, so a crash either loses
//! nothing (the lease expires and the event is decided again) or did everything.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use switchboard_domain::{
    ChannelId, ContactId, ConversationId, InboundEvent, MessageId, MessageStatus, Millis,
};

use crate::ingest::{NewMessage, write_messages};
use crate::outbox::OutgoingItem;
use crate::rows::{get, parse_json, to_json};
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

    /// The person's conversation, created if their first event carried no message (a Get
    /// Started tap), with its automation state and the person's tags.
    pub async fn automation_subject(
        &self,
        channel: ChannelId,
        contact: ContactId,
    ) -> Result<AutomationSubject> {
        let find = || {
            sqlx::query(
                "SELECT id, status, automation_state FROM conversations WHERE contact_id = $1",
            )
            .bind(contact.0)
        };
        let row = match find().fetch_optional(&self.read).await? {
            Some(row) => row,
            None => {
                sqlx::query(
                    "INSERT INTO conversations (channel_id, contact_id, status, created_at)
                     VALUES ($1, $2, 'open', $3) ON CONFLICT (contact_id) DO NOTHING",
                )
                .bind(channel.0)
                .bind(contact.0)
                .bind(Millis::now().0)
                .execute(&self.write)
                .await?;
                find().fetch_one(&self.write).await?
            }
        };
        Ok(AutomationSubject {
            conversation_id: ConversationId(get(&row, "id")?),
            status: get(&row, "status")?,
            state: get(&row, "automation_state")?,
            tags: self.contact_tags(contact).await?,
        })
    }

    pub async fn contact_tags(&self, contact: ContactId) -> Result<BTreeSet<String>> {
        let rows = sqlx::query("SELECT tag FROM contact_tags WHERE contact_id = $1 ORDER BY tag")
            .bind(contact.0)
            .fetch_all(&self.read)
            .await?;
        rows.iter().map(|r| get(r, "tag")).collect()
    }

    /// Applies one decision atomically, if the event is still ours and the conversation's
    /// automation state is still the one it was decided on.
    pub async fn apply_automation(
        &self,
        worker: &str,
        job: &AutomationJob,
        subject: &AutomationSubject,
        changes: &AutomationChanges,
    ) -> Result<Applied> {
        let mut applied = self
            .apply_automations(worker, &[(job, subject, changes)])
            .await?;
        Ok(applied.pop().unwrap_or(Applied::Conflict))
    }

    /// Applies a batch of decisions (one per person) in one transaction: one commit for the lot,
    /// which is what keeps automations from starving webhook ingest of the single SQLite
    /// writer. Each decision still stands or falls on its own: a decision whose event is no
    /// longer ours, or whose conversation changed meanwhile, writes nothing and comes back as
    /// `Conflict` (its event given back to be decided again).
    pub async fn apply_automations(
        &self,
        worker: &str,
        decisions: &[(&AutomationJob, &AutomationSubject, &AutomationChanges)],
    ) -> Result<Vec<Applied>> {
        let mut tx = self.write.begin().await?;
        let mut results = Vec::with_capacity(decisions.len());
        for (job, subject, changes) in decisions {
            results.push(
                self.apply_in(&mut tx, worker, job, subject, changes)
                    .await?,
            );
        }
        tx.commit().await?;
        Ok(results)
    }

    async fn apply_in(
        &self,
        tx: &mut crate::ingest::Tx,
        worker: &str,
        job: &AutomationJob,
        subject: &AutomationSubject,
        changes: &AutomationChanges,
    ) -> Result<Applied> {
        let now = Millis::now();
        let ours = sqlx::query(
            "UPDATE events SET automation = 'done' WHERE id = $1 AND automation = 'claimed' AND automation_claimed_by = $2",
        )
        .bind(job.event_id)
        .bind(worker)
        .execute(&mut **tx)
        .await?;
        if ours.rows_affected() == 0 {
            return Ok(Applied::Conflict);
        }
        let status = changes.status.as_deref().unwrap_or(subject.status.as_str());
        let state = sqlx::query(
            "UPDATE conversations SET automation_state = $1, status = $2,
                    waiting_since = CASE WHEN $2 = 'waiting' THEN COALESCE(waiting_since, $3) ELSE NULL END,
                    assignee = COALESCE($4, assignee)
             WHERE id = $5 AND automation_state = $6",
        )
        .bind(changes.state.as_str())
        .bind(status)
        .bind(changes.waiting_since.map(|t| t.0))
        .bind(changes.assignee.as_deref())
        .bind(subject.conversation_id.0)
        .bind(subject.state.as_str())
        .execute(&mut **tx)
        .await?;
        if state.rows_affected() == 0 {
            // Decided on a state that changed meanwhile: give the event back, write nothing else.
            sqlx::query(
                "UPDATE events SET automation = 'pending', automation_claimed_by = NULL WHERE id = $1",
            )
            .bind(job.event_id)
            .execute(&mut **tx)
            .await?;
            return Ok(Applied::Conflict);
        }
        for tag in &changes.add_tags {
            sqlx::query(
                "INSERT INTO contact_tags (contact_id, tag, created_at) VALUES ($1, $2, $3)
                 ON CONFLICT (contact_id, tag) DO NOTHING",
            )
            .bind(job.contact_id.0)
            .bind(tag)
            .bind(now.0)
            .execute(&mut **tx)
            .await?;
        }
        for tag in &changes.remove_tags {
            sqlx::query("DELETE FROM contact_tags WHERE contact_id = $1 AND tag = $2")
                .bind(job.contact_id.0)
                .bind(tag)
                .execute(&mut **tx)
                .await?;
        }
        let contact = sqlx::query("SELECT external_id, attributes FROM contacts WHERE id = $1")
            .bind(job.contact_id.0)
            .fetch_optional(&mut **tx)
            .await?
            .ok_or(StoreError::NotFound)?;
        if !changes.set_attributes.is_empty() {
            let mut attributes: BTreeMap<String, String> = parse_json(&contact, "attributes")?;
            attributes.extend(changes.set_attributes.clone());
            sqlx::query("UPDATE contacts SET attributes = $1, updated_at = $2 WHERE id = $3")
                .bind(to_json(&attributes)?)
                .bind(now.0)
                .bind(job.contact_id.0)
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
            .bind(job.contact_id.0)
            .execute(&mut **tx)
            .await?;
        }
        let recipient: String = get(&contact, "external_id")?;
        let rows: Vec<NewMessage<'_>> = changes
            .messages
            .iter()
            .map(|item| NewMessage {
                conversation: item.conversation_id.0,
                channel: job.channel_id.0,
                contact: job.contact_id.0,
                direction: "out",
                author: item.draft.author,
                content: &item.draft.content,
                platform_message_id: None,
                status: MessageStatus::Queued,
                created_at: now,
                sent_at: None,
                origin_event_id: Some(job.event_id),
                recipient: &recipient,
                outbox: Some(&item.draft),
            })
            .collect();
        let written = write_messages(tx, self.backend, &rows, now).await?;
        Ok(Applied::Done {
            queued: written.into_iter().map(|w| w.0).collect(),
        })
    }
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
