//! The durable outbox. It lives on the message row itself: an outgoing message is written with
//! `outbox_state = 'queued'` before any request is made.
//!
//! Life of a row: `queued` → (claimed with a lease) `sending` → (call started) → `done`, or back to
//! `queued` with a later `run_at` for a retryable failure. A row still `sending` when its lease
//! expires belonged to a process that died mid-send; see [`Store::recover_outbox`] for what happens
//! to it.
//!
//! Between the claim and the platform call a row may wait (for a pacing slot, for a free send
//! permit), so a claimed row has not necessarily been sent. The dispatcher therefore records, and
//! waits for the commit of, `call_started_at` immediately before it makes the call
//! ([`Store::mark_calls_started`]), one statement for a whole group of rows. A claimed row without
//! that mark provably never reached the platform.

use std::collections::HashMap;

use sqlx::any::AnyRow;
use switchboard_domain::{
    ChannelId, ConversationId, ExternalUserId, MessageId, MessageStatus, Millis, SendErrorClass,
};

use crate::ingest::status_rank;
use crate::ingest::{NewMessage, OutgoingDraft, write_messages};
use crate::rows::{ROWS_PER_STATEMENT, get, parse_enum, parse_json, placeholders};
use crate::{Result, Store, StoreError};

/// Which queue a message waits in (replies never wait behind bulk work). One definition, in
/// the domain, shared with the policy engine.
pub use switchboard_domain::policy::Lane;

/// A claimed message, with everything needed to send it.
#[derive(Debug, Clone)]
pub struct OutboxJob {
    pub message_id: MessageId,
    pub channel_id: ChannelId,
    pub contact_id: i64,
    pub recipient: ExternalUserId,
    pub content: switchboard_domain::Content,
    pub lane: Lane,
    /// How many times this message has been claimed, this claim included.
    pub attempts: i64,
    pub messaging_type: Option<String>,
}

/// What happened when a claimed message was sent.
#[derive(Debug, Clone)]
pub enum DispatchResult {
    Sent {
        message_id: MessageId,
        platform_message_id: String,
        at: Millis,
    },
    /// Not sent, through no fault of the message (the channel had no free slot, or the platform
    /// asked us to slow down): back to the queue for `run_at`, without spending an attempt.
    Deferred {
        message_id: MessageId,
        run_at: Millis,
    },
    /// Try again at `run_at`.
    Retry {
        message_id: MessageId,
        run_at: Millis,
        detail: String,
    },
    /// The platform call was made but its answer was lost (a timeout or dropped connection after
    /// the request went out): the message may have arrived. Terminal, never re-sent.
    Unknown {
        message_id: MessageId,
        detail: String,
    },
    /// Terminal failure, recorded on the message.
    Failed {
        message_id: MessageId,
        class: SendErrorClass,
        detail: String,
        /// The platform said the person blocked us or cannot be reached.
        contact_unreachable: Option<i64>,
    },
}

/// Exponential backoff with jitter for retryable send failures.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub max_attempts: i64,
    pub base_ms: i64,
    pub max_ms: i64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 8,
            base_ms: 500,
            max_ms: 60_000,
        }
    }
}

impl RetryPolicy {
    /// Delay before attempt `attempts + 1`, honouring a platform's `retry_after` as a floor.
    pub fn delay_ms(&self, attempts: i64, retry_after_secs: Option<u64>) -> i64 {
        let exp = self
            .base_ms
            .saturating_mul(1_i64 << attempts.clamp(0, 20))
            .min(self.max_ms);
        let jittered = exp / 2 + fastrand::i64(0..=exp / 2);
        let floor = retry_after_secs.map_or(0, |s| {
            i64::try_from(s).unwrap_or(i64::MAX).saturating_mul(1000)
        });
        jittered.max(floor)
    }
}

fn job_from_row(row: &AnyRow) -> Result<OutboxJob> {
    Ok(OutboxJob {
        message_id: MessageId(get(row, "id")?),
        channel_id: ChannelId(get(row, "channel_id")?),
        contact_id: get(row, "contact_id")?,
        recipient: ExternalUserId::from_stored(get(row, "recipient")?),
        content: parse_json(row, "content")?,
        lane: parse_enum(row, "lane", Lane::parse)?,
        attempts: get(row, "attempts")?,
        messaging_type: get(row, "messaging_type")?,
    })
}

impl Store {
    /// Claims up to `limit` due messages of a lane for `worker`, leasing them until
    /// `lease_until`. Several nodes may call this at once: PostgreSQL skips rows another node
    /// holds; SQLite's single writer serialises the claims. Jobs come back in queue order.
    pub async fn claim_outbox(
        &self,
        worker: &str,
        lane: Lane,
        now: Millis,
        lease_until: Millis,
        limit: i64,
        skip_channels: &[ChannelId],
    ) -> Result<Vec<OutboxJob>> {
        let skip = if skip_channels.is_empty() {
            String::new()
        } else {
            format!(
                "AND channel_id NOT IN ({})",
                placeholders(5, skip_channels.len())
            )
        };
        // One statement, atomic on its own: no explicit transaction, so a claim costs a single
        // round trip on the writer connection that webhook ingest is waiting for.
        let sql = format!(
            "UPDATE messages SET outbox_state = 'sending', status = 'sending', status_rank = 2,
                    lease_until = $1, claimed_by = $2, attempts = attempts + 1, updated_at = $4,
                    call_started_at = NULL
             WHERE id IN (SELECT id FROM messages WHERE outbox_state = 'queued' AND lane = $3 AND run_at <= $4
                          {skip} ORDER BY run_at, id LIMIT $5 {})
             RETURNING id, channel_id, contact_id, recipient, content, lane, attempts, messaging_type",
            self.backend.skip_locked()
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(lease_until.0)
            .bind(worker)
            .bind(lane.as_str())
            .bind(now.0)
            .bind(limit);
        for channel in skip_channels {
            q = q.bind(channel.0);
        }
        let rows = q.fetch_all(&self.write).await?;
        let mut jobs = rows.iter().map(job_from_row).collect::<Result<Vec<_>>>()?;
        jobs.sort_by_key(|j| j.message_id);
        Ok(jobs)
    }

    /// Marks claimed rows as "platform call about to be made", durably: when this returns `Ok`
    /// the mark is committed, and only then may the caller make the calls — and only for the ids
    /// returned. One statement per group of rows (per 400), never one per message.
    ///
    /// A row is marked only while it is still this `worker`'s claim and its lease has not expired
    /// at `now`. Ids missing from the answer are no longer ours (the lease ran out and recovery
    /// or another node took the row): the caller must neither send nor record them.
    ///
    /// If this fails, nothing may be sent: the rows may be handed back (`Deferred`), or left to
    /// lease recovery, which re-queues them because they carry no mark.
    pub async fn mark_calls_started(
        &self,
        worker: &str,
        ids: &[MessageId],
        now: Millis,
    ) -> Result<Vec<MessageId>> {
        let mut marked = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(ROWS_PER_STATEMENT) {
            // Every parameter comes from `params`, in binding order (SQLite gets `?`).
            let p = |offset, n| self.backend.params(offset, n);
            let sql = format!(
                "UPDATE messages SET call_started_at = {}
                 WHERE outbox_state = 'sending' AND claimed_by = {} AND lease_until > {}
                   AND id IN ({})
                 RETURNING id",
                p(0, 1),
                p(1, 1),
                p(2, 1),
                p(3, chunk.len())
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(now.0)
                .bind(worker)
                .bind(now.0);
            for id in chunk {
                q = q.bind(id.0);
            }
            for row in q.fetch_all(&self.write).await? {
                marked.push(MessageId(get(&row, "id")?));
            }
        }
        Ok(marked)
    }

    /// Records a batch of send results in one transaction.
    pub async fn record_dispatch(&self, results: &[DispatchResult]) -> Result<()> {
        if results.is_empty() {
            return Ok(());
        }
        // The common case — every send succeeded — is one statement, atomic without a
        // transaction around it.
        let all_sent = results
            .iter()
            .all(|r| matches!(r, DispatchResult::Sent { .. }));
        if all_sent && results.len() <= ROWS_PER_STATEMENT {
            let mut conn = self.write.acquire().await?;
            return self.record_sent(&mut conn, results).await;
        }
        let mut tx = self.write.begin().await?;
        self.record_in(&mut tx, results).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Marks the `Sent` results of a batch, with one multi-row UPDATE per chunk.
    async fn record_sent(
        &self,
        conn: &mut sqlx::AnyConnection,
        results: &[DispatchResult],
    ) -> Result<()> {
        let now = Millis::now();
        let sent: Vec<_> = results
            .iter()
            .filter_map(|r| match r {
                DispatchResult::Sent {
                    message_id,
                    platform_message_id,
                    at,
                } => Some((message_id, platform_message_id, at)),
                _ => None,
            })
            .collect();
        for chunk in sent.chunks(ROWS_PER_STATEMENT) {
            // A receipt can never have moved a message we had not recorded as sent, but keep the
            // "never backwards" rule explicit anyway.
            let sql = format!(
                "UPDATE messages SET
                   status = CASE WHEN messages.status_rank < 3 THEN 'sent' ELSE messages.status END,
                   status_rank = CASE WHEN messages.status_rank < 3 THEN 3 ELSE messages.status_rank END,
                   platform_message_id = v.column2, sent_at = v.column3, updated_at = v.column4,
                   outbox_state = 'done', lease_until = NULL, error_class = NULL, error_detail = NULL
                 FROM (VALUES {}) AS v
                 WHERE messages.id = v.column1",
                self.backend.values_rows(chunk.len(), 4, 0)
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for (id, platform_id, at) in chunk {
                q = q
                    .bind(id.0)
                    .bind(platform_id.as_str())
                    .bind(at.0)
                    .bind(now.0);
            }
            q.execute(&mut *conn).await?;
        }
        Ok(())
    }

    async fn record_in(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        results: &[DispatchResult],
    ) -> Result<()> {
        self.record_sent(tx, results).await?;
        let now = Millis::now();
        for result in results {
            match result {
                DispatchResult::Sent { .. } => {}
                DispatchResult::Deferred { message_id, run_at } => {
                    sqlx::query(
                        "UPDATE messages SET outbox_state = 'queued', run_at = $1, lease_until = NULL, claimed_by = NULL,
                                status = 'queued', status_rank = 1, attempts = attempts - 1, updated_at = $2,
                                call_started_at = NULL
                         WHERE id = $3",
                    )
                    .bind(run_at.0)
                    .bind(now.0)
                    .bind(message_id.0)
                    .execute(&mut **tx)
                    .await?;
                }
                DispatchResult::Retry {
                    message_id,
                    run_at,
                    detail,
                } => {
                    sqlx::query(
                        "UPDATE messages SET outbox_state = 'queued', run_at = $1, lease_until = NULL, claimed_by = NULL,
                                status = 'queued', status_rank = 1, error_detail = $2, updated_at = $3,
                                call_started_at = NULL
                         WHERE id = $4",
                    )
                    .bind(run_at.0)
                    .bind(detail.as_str())
                    .bind(now.0)
                    .bind(message_id.0)
                    .execute(&mut **tx)
                    .await?;
                }
                DispatchResult::Unknown { message_id, detail } => {
                    sqlx::query(
                        "UPDATE messages SET status = $1, status_rank = $2, error_class = 'transient', error_detail = $3,
                                updated_at = $4, outbox_state = 'done', lease_until = NULL
                         WHERE id = $5",
                    )
                    .bind(MessageStatus::Unknown.as_str())
                    .bind(status_rank(MessageStatus::Unknown))
                    .bind(detail.as_str())
                    .bind(now.0)
                    .bind(message_id.0)
                    .execute(&mut **tx)
                    .await?;
                }
                DispatchResult::Failed {
                    message_id,
                    class,
                    detail,
                    contact_unreachable,
                } => {
                    sqlx::query(
                        "UPDATE messages SET status = $1, status_rank = $2, error_class = $3, error_detail = $4,
                                updated_at = $5, outbox_state = 'done', lease_until = NULL
                         WHERE id = $6",
                    )
                    .bind(MessageStatus::Failed.as_str())
                    .bind(status_rank(MessageStatus::Failed))
                    .bind(class.as_str())
                    .bind(detail.as_str())
                    .bind(now.0)
                    .bind(message_id.0)
                    .execute(&mut **tx)
                    .await?;
                    if let Some(contact) = contact_unreachable {
                        sqlx::query(
                            "UPDATE contacts SET reachable = 0, updated_at = $1 WHERE id = $2",
                        )
                        .bind(now.0)
                        .bind(*contact)
                        .execute(&mut **tx)
                        .await?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Deals with messages whose sender died mid-send: those whose lease has expired, plus —
    /// when a node restarts — every one still claimed under its own id (its previous life is
    /// over, so there is no need to wait for the leases). Never pass a live node's id: its
    /// in-flight messages would be sent twice.
    ///
    /// What happens depends on whether the platform call had started (see
    /// [`Store::mark_calls_started`]), not on the lane:
    /// - no `call_started_at`: the message provably never reached the platform, so it goes back
    ///   to the queue, replies and bulk alike (its claim still counts as an attempt);
    /// - `call_started_at` set: the platform may have accepted it. It becomes `unknown` and is
    ///   never re-sent — for bulk because a duplicate broadcast is worse than a missing one, and
    ///   for replies too: a reply is re-sent only when it provably was not sent, and an `unknown`
    ///   reply is visible to the agents, who can answer again by hand.
    ///
    /// So `unknown` rows are bounded by the sends that were really in flight. Returns how many
    /// rows were recovered.
    pub async fn recover_outbox(&self, restarted_node: Option<&str>, now: Millis) -> Result<u64> {
        // With no restarted node `$1` is '' and matches no claim (claims always carry an id).
        let worker = restarted_node.unwrap_or("");
        let mut tx = self.write.begin().await?;
        let started = sqlx::query(
            "UPDATE messages SET status = 'unknown', status_rank = -2, outbox_state = 'done', lease_until = NULL,
                    updated_at = $2,
                    error_detail = 'the platform call had started when its sender stopped; not re-sent'
             WHERE outbox_state = 'sending' AND call_started_at IS NOT NULL
               AND (claimed_by = $1 OR lease_until < $2)",
        )
        .bind(worker)
        .bind(now.0)
        .execute(&mut *tx)
        .await?;
        let never_called = sqlx::query(
            "UPDATE messages SET status = 'queued', status_rank = 1, outbox_state = 'queued', run_at = $2,
                    lease_until = NULL, claimed_by = NULL, updated_at = $2
             WHERE outbox_state = 'sending' AND call_started_at IS NULL
               AND (claimed_by = $1 OR lease_until < $2)",
        )
        .bind(worker)
        .bind(now.0)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(started.rows_affected() + never_called.rows_affected())
    }

    /// Messages not yet finished with (queued or in flight): for health checks and tests.
    pub async fn outbox_pending(&self) -> Result<i64> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM messages WHERE outbox_state IN ('queued', 'sending')",
        )
        .fetch_one(&self.read)
        .await?;
        get(&row, "n")
    }
}

/// A message to queue on an existing conversation: an agent's reply, an automation, a campaign.
#[derive(Debug, Clone)]
pub struct OutgoingItem {
    pub conversation_id: ConversationId,
    pub draft: OutgoingDraft,
}

impl Store {
    /// Queues messages for sending, atomically: either every item gets its row (in the order
    /// given, ids returned in that order) or none does. An unknown conversation is `NotFound`.
    /// Policy and lint are the caller's job, before this.
    pub async fn enqueue(&self, items: &[OutgoingItem]) -> Result<Vec<MessageId>> {
        if items.is_empty() {
            return Ok(Vec::new());
        }
        let mut ids: Vec<i64> = items.iter().map(|i| i.conversation_id.0).collect();
        ids.sort_unstable();
        ids.dedup();
        let mut targets: HashMap<i64, (i64, i64, String)> = HashMap::with_capacity(ids.len());
        let now = Millis::now();
        let mut tx = self.write.begin().await?;
        for chunk in ids.chunks(ROWS_PER_STATEMENT) {
            let sql = format!(
                "SELECT v.id, v.channel_id, v.contact_id, k.external_id
                 FROM conversations v JOIN contacts k ON k.id = v.contact_id WHERE v.id IN ({})",
                self.backend.params(0, chunk.len())
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for id in chunk {
                q = q.bind(*id);
            }
            for row in q.fetch_all(&mut *tx).await? {
                targets.insert(
                    get(&row, "id")?,
                    (
                        get(&row, "channel_id")?,
                        get(&row, "contact_id")?,
                        get(&row, "external_id")?,
                    ),
                );
            }
        }
        let mut rows = Vec::with_capacity(items.len());
        for item in items {
            let (channel, contact, recipient) = targets
                .get(&item.conversation_id.0)
                .ok_or(StoreError::NotFound)?;
            rows.push(NewMessage::queued(
                item,
                (*channel, *contact),
                recipient,
                None,
                now,
            ));
        }
        let written = write_messages(&mut tx, self.backend, &rows, now).await?;
        tx.commit().await?;
        Ok(written.into_iter().map(|w| w.0).collect())
    }
}
