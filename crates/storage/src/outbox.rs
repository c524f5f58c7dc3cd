//! The durable outbox. It lives on the message row itself: an outgoing message is written with
//! `outbox_state = 'queued'` before any request is made.
//!
//! Life of a row: `queued` → (claimed with a lease and a claim token) `sending` → (call started)
//! → `done`, or back to `queued` with a later `run_at` for a retryable failure. A row still
//! `sending` when its lease expires belonged to a process that died mid-send; see
//! [`Store::recover_expired_leases`] for what happens to it.
//!
//! **Fencing.** Every claim gets its own unguessable [`ClaimToken`], and every later write about
//! a claimed row — the call-started mark, lease renewal, results — is conditional on it. Recovery
//! clears the token. So a worker that lost its claim (a lease that ran out, a process taken for
//! dead) cannot mark, renew or record a row that has been re-queued or claimed again: its stale
//! write changes nothing and is counted ([`Recorded::stale`]). The claim's holder renews the lease
//! while its rows legitimately wait ([`Store::renew_outbox_lease`]).
//!
//! **Per-person order.** A row is claimed only when no earlier unfinished row of the same person
//! and lane stays outside the claim: a message waiting for a retry (queued with a later `run_at`)
//! or in flight elsewhere holds back the ones queued after it, for that person only.
//!
//! Between the claim and the platform call a row may wait (for a pacing slot, for a free send
//! permit), so a claimed row has not necessarily been sent. The dispatcher therefore records, and
//! waits for the commit of, `call_started_at` immediately before it makes the call
//! ([`Store::mark_calls_started`]), one statement for a whole group of rows. A claimed row without
//! that mark provably never reached the platform.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use sqlx::any::AnyRow;
use switchboard_domain::{
    ChannelId, ConversationId, ExternalUserId, MessageId, MessageStatus, Millis, SendErrorClass,
};

use crate::ingest::status_rank;
use crate::ingest::{NewMessage, OutgoingDraft, write_messages};
use crate::rows::{ROWS_PER_STATEMENT, get, parse_enum, parse_json, placeholders};
use crate::{Result, Store, StoreError, run_again_on_conflict};

/// Which queue a message waits in (replies never wait behind bulk work). One definition, in
/// the domain, shared with the policy engine.
pub use switchboard_domain::policy::Lane;

/// The fence of one claim: 128 random bits, new for every [`Store::claim_outbox`] call, shared by
/// the rows that call claimed. Not a secret (it guards against our own stale workers, not against
/// an attacker), but unguessable so no two claims can ever share one.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ClaimToken(Arc<str>);

impl ClaimToken {
    fn new() -> ClaimToken {
        let mut bytes = [0u8; 16];
        if getrandom::getrandom(&mut bytes).is_err() {
            // No OS randomness: still unique per claim, which is what fencing needs.
            bytes = (fastrand::u128(..) ^ u128::from(Millis::now().0.unsigned_abs())).to_le_bytes();
        }
        ClaimToken(hex::encode(bytes).into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ClaimToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ClaimToken({}…)", &self.0[..8.min(self.0.len())])
    }
}

/// A claimed message, with everything needed to send it.
#[derive(Debug, Clone)]
pub struct OutboxJob {
    pub message_id: MessageId,
    /// The claim this row was taken under: every write about it must carry this.
    pub claim: ClaimToken,
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
        /// When the call was made (just before the request left): receipts carry the platform's
        /// time of the message, which is never earlier than this.
        at: Millis,
    },
    /// Not sent, through no fault of the message (the channel had no free slot, the platform
    /// asked us to slow down, or an earlier message to the same person must go first): back to
    /// the queue for `run_at`, without spending an attempt.
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

impl DispatchResult {
    /// When the message goes back to the queue, the moment it is due again: until then it holds
    /// back the messages queued after it for the same person.
    pub fn requeued_until(&self) -> Option<Millis> {
        match self {
            DispatchResult::Deferred { run_at, .. } | DispatchResult::Retry { run_at, .. } => {
                Some(*run_at)
            }
            _ => None,
        }
    }
}

/// What recording a batch of results did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Recorded {
    /// Results that changed nothing because their claim was no longer current (the row was
    /// recovered or claimed again meanwhile).
    pub stale: u64,
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

fn job_from_row(row: &AnyRow, claim: &ClaimToken) -> Result<OutboxJob> {
    Ok(OutboxJob {
        message_id: MessageId(get(row, "id")?),
        claim: claim.clone(),
        channel_id: ChannelId(get(row, "channel_id")?),
        contact_id: get(row, "contact_id")?,
        recipient: ExternalUserId::from_stored(get(row, "recipient")?),
        content: parse_json(row, "content")?,
        lane: parse_enum(row, "lane", Lane::parse)?,
        attempts: get(row, "attempts")?,
        messaging_type: get(row, "messaging_type")?,
    })
}

/// A process restarting under a node name, for [`Store::recover_previous_lives`].
#[derive(Debug, Clone, Copy)]
pub struct Restart<'a> {
    /// The configured node name (`SWITCHBOARD_NODE_ID`).
    pub node: &'a str,
    /// This process's identity: the node name, `#`, its boot id.
    pub process: &'a str,
    /// A process that heartbeat after this is alive, whatever its name.
    pub alive_after: Millis,
}

/// The separator between a node's name and its boot id in a process identity.
pub const BOOT_SEPARATOR: char = '#';

impl Store {
    /// Claims up to `limit` due messages of a lane for `process`, leasing them until
    /// `lease_until` under a new [`ClaimToken`]. Several nodes may call this at once: PostgreSQL
    /// skips rows another node holds; SQLite's single writer serialises the claims. Jobs come
    /// back in queue order, and a person's rows only behind every earlier unfinished one of
    /// theirs (see the module doc).
    pub async fn claim_outbox(
        &self,
        process: &str,
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
                placeholders(6, skip_channels.len())
            )
        };
        let claim = ClaimToken::new();
        // One statement, atomic on its own: no explicit transaction, so a claim costs a single
        // round trip on the writer connection that webhook ingest is waiting for. A candidate
        // is held back when an earlier unfinished row of its person and lane is not itself a
        // candidate: waiting for a retry, in flight, beyond the limit, or (PostgreSQL) locked
        // by a concurrent claim, which this statement's snapshot still sees as queued.
        let sql = format!(
            "WITH candidates AS MATERIALIZED (
                 SELECT id, contact_id, lane FROM messages
                 WHERE outbox_state = 'queued' AND lane = $3 AND run_at <= $4 {skip}
                 ORDER BY run_at, id LIMIT $5 {})
             UPDATE messages SET outbox_state = 'sending', status = 'sending', status_rank = 2,
                    lease_until = $1, claimed_by = $2, claim_token = $6, attempts = attempts + 1,
                    updated_at = $4, call_started_at = NULL
             WHERE id IN (
                 SELECT c.id FROM candidates c
                 WHERE NOT EXISTS (
                     SELECT 1 FROM messages e
                     WHERE e.contact_id = c.contact_id AND e.lane = c.lane AND e.id < c.id
                       AND e.outbox_state IN ('queued', 'sending')
                       AND e.id NOT IN (SELECT id FROM candidates)))
             RETURNING id, channel_id, contact_id, recipient, content, lane, attempts, messaging_type",
            self.backend.skip_locked()
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(lease_until.0)
            .bind(process)
            .bind(lane.as_str())
            .bind(now.0)
            .bind(limit)
            .bind(claim.as_str());
        for channel in skip_channels {
            q = q.bind(channel.0);
        }
        let rows = q.fetch_all(&self.write).await?;
        let mut jobs = rows
            .iter()
            .map(|row| job_from_row(row, &claim))
            .collect::<Result<Vec<_>>>()?;
        jobs.sort_by_key(|j| j.message_id);
        Ok(jobs)
    }

    /// Marks claimed rows as "platform call about to be made", durably: when this returns `Ok`
    /// the mark is committed, and only then may the caller make the calls — and only for the ids
    /// returned. One statement per group of rows (per 400), never one per message.
    ///
    /// A row is marked only while it is still held under `claim` and its lease has not expired
    /// at `now`. Ids missing from the answer are no longer ours (the lease ran out and recovery
    /// or another node took the row): the caller must neither send nor record them.
    ///
    /// If this fails, nothing may be sent: the rows may be handed back (`Deferred`), or left to
    /// lease recovery, which re-queues them because they carry no mark.
    pub async fn mark_calls_started(
        &self,
        claim: &ClaimToken,
        ids: &[MessageId],
        now: Millis,
    ) -> Result<Vec<MessageId>> {
        let mut marked = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(ROWS_PER_STATEMENT) {
            // Every parameter comes from `params`, in binding order (SQLite gets `?`).
            let p = |offset, n| self.backend.params(offset, n);
            let sql = format!(
                "UPDATE messages SET call_started_at = {}
                 WHERE outbox_state = 'sending' AND claim_token = {} AND lease_until > {}
                   AND id IN ({})
                 RETURNING id",
                p(0, 1),
                p(1, 1),
                p(2, 1),
                p(3, chunk.len())
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(now.0)
                .bind(claim.as_str())
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

    /// Extends the lease of every row still held under `claim` (one statement for the whole
    /// claim), while they legitimately wait: behind a person's earlier messages, for a permit,
    /// or for a platform that answers slowly. Returns how many rows are still held.
    pub async fn renew_outbox_lease(&self, claim: &ClaimToken, lease_until: Millis) -> Result<u64> {
        let done = sqlx::query(
            "UPDATE messages SET lease_until = $1 WHERE claim_token = $2 AND outbox_state = 'sending'",
        )
        .bind(lease_until.0)
        .bind(claim.as_str())
        .execute(&self.write)
        .await?;
        Ok(done.rows_affected())
    }

    /// Records a batch of results of one claim in one transaction. A result whose row is no
    /// longer held under `claim` changes nothing and is counted as stale. A PostgreSQL deadlock
    /// with a concurrent writer (receipts, ingest) is run again.
    pub async fn record_dispatch(
        &self,
        claim: &ClaimToken,
        results: &[DispatchResult],
    ) -> Result<Recorded> {
        if results.is_empty() {
            return Ok(Recorded::default());
        }
        // The common case — every send succeeded — is one statement, atomic without a
        // transaction around it.
        let applied = match self.record_together(claim, results).await {
            // Two results of the batch carry the same platform id for one person (a platform
            // answering an id twice): one by one, each sees the one before and keeps its send.
            Err(StoreError::Conflict(detail)) if results.len() > 1 => {
                tracing::warn!(%detail, "a batch of send results repeats a platform id; recording them one by one");
                let mut applied = 0;
                for result in results {
                    applied += self
                        .record_together(claim, std::slice::from_ref(result))
                        .await?;
                }
                applied
            }
            other => other?,
        };
        Ok(Recorded {
            stale: (results.len() as u64).saturating_sub(applied),
        })
    }

    async fn record_together(&self, claim: &ClaimToken, results: &[DispatchResult]) -> Result<u64> {
        let all_sent = results
            .iter()
            .all(|r| matches!(r, DispatchResult::Sent { .. }));
        run_again_on_conflict("record send results", || async {
            if all_sent && results.len() <= ROWS_PER_STATEMENT {
                let mut conn = self.write.acquire().await?;
                return self.record_sent(&mut conn, claim, results).await;
            }
            let mut tx = self.write.begin().await?;
            let applied = self.record_in(&mut tx, claim, results).await?;
            tx.commit().await?;
            Ok(applied)
        })
        .await
    }

    /// Marks the `Sent` results of a batch, with one multi-row UPDATE per chunk; returns how many
    /// rows it changed.
    ///
    /// A platform message id already recorded for another of the person's messages (a platform
    /// answering the same id twice) is not stored again: the send is still recorded, with the
    /// odd id in `error_detail`, so one strange answer can neither fail the batch nor leave rows
    /// `sending`. A receipt that arrived before this result (its watermark already on the
    /// contact) moves the message on at once.
    async fn record_sent(
        &self,
        conn: &mut sqlx::AnyConnection,
        claim: &ClaimToken,
        results: &[DispatchResult],
    ) -> Result<u64> {
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
        let mut applied = 0;
        for chunk in sent.chunks(ROWS_PER_STATEMENT) {
            let taken = "EXISTS (SELECT 1 FROM messages o
                          WHERE o.channel_id = messages.channel_id AND o.contact_id = messages.contact_id
                            AND o.platform_message_id = v.column2 AND o.id <> messages.id)";
            let rank = "CASE WHEN messages.status_rank >= 3 THEN messages.status_rank
                             WHEN k.read_watermark >= v.column3 THEN 5
                             WHEN k.delivered_watermark >= v.column3 THEN 4 ELSE 3 END";
            let sql = format!(
                "UPDATE messages SET
                   status = CASE {rank} WHEN 5 THEN 'read' WHEN 4 THEN 'delivered' ELSE 'sent' END,
                   status_rank = {rank},
                   platform_message_id = CASE WHEN {taken} THEN NULL ELSE v.column2 END,
                   error_detail = CASE WHEN {taken}
                       THEN 'the platform answered message id ' || v.column2 || ', already recorded for another message'
                       ELSE NULL END,
                   sent_at = v.column3, updated_at = v.column4,
                   outbox_state = 'done', lease_until = NULL, claim_token = NULL, error_class = NULL
                 FROM (VALUES {}) AS v, contacts k
                 WHERE messages.id = v.column1 AND k.id = messages.contact_id
                   AND messages.outbox_state = 'sending' AND messages.claim_token = v.column5",
                self.backend.values_rows(chunk.len(), 5, 0)
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for (id, platform_id, at) in chunk {
                q = q
                    .bind(id.0)
                    .bind(platform_id.as_str())
                    .bind(at.0)
                    .bind(now.0)
                    .bind(claim.as_str());
            }
            applied += q.execute(&mut *conn).await?.rows_affected();
        }
        Ok(applied)
    }

    async fn record_in(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        claim: &ClaimToken,
        results: &[DispatchResult],
    ) -> Result<u64> {
        let mut applied = self.record_sent(tx, claim, results).await?;
        let now = Millis::now();
        for result in results {
            let (back_in_queue, finished) = match result {
                DispatchResult::Sent { .. } => continue,
                DispatchResult::Deferred { message_id, run_at } => {
                    (Some((*message_id, *run_at, 1, None)), None)
                }
                DispatchResult::Retry {
                    message_id,
                    run_at,
                    detail,
                } => (Some((*message_id, *run_at, 0, Some(detail.as_str()))), None),
                DispatchResult::Unknown { message_id, detail } => (
                    None,
                    Some((
                        *message_id,
                        MessageStatus::Unknown,
                        SendErrorClass::Transient,
                        detail.as_str(),
                    )),
                ),
                DispatchResult::Failed {
                    message_id,
                    class,
                    detail,
                    contact_unreachable,
                } => {
                    if let Some(contact) = contact_unreachable {
                        sqlx::query(
                            "UPDATE contacts SET reachable = 0, updated_at = $1 WHERE id = $2",
                        )
                        .bind(now.0)
                        .bind(*contact)
                        .execute(&mut **tx)
                        .await?;
                    }
                    (
                        None,
                        Some((*message_id, MessageStatus::Failed, *class, detail.as_str())),
                    )
                }
            };
            // Back to the queue: a deferral gives its attempt back, a retry keeps its detail.
            if let Some((id, run_at, refund, detail)) = back_in_queue {
                applied += sqlx::query(
                    "UPDATE messages SET outbox_state = 'queued', run_at = $1, lease_until = NULL, claimed_by = NULL,
                            claim_token = NULL, status = 'queued', status_rank = 1, attempts = attempts - $2,
                            error_detail = COALESCE($3, error_detail), updated_at = $4, call_started_at = NULL
                     WHERE id = $5 AND outbox_state = 'sending' AND claim_token = $6",
                )
                .bind(run_at.0)
                .bind(refund)
                .bind(detail)
                .bind(now.0)
                .bind(id.0)
                .bind(claim.as_str())
                .execute(&mut **tx)
                .await?
                .rows_affected();
            }
            // Terminal: `unknown` (the call's answer was lost) or `failed`.
            if let Some((id, status, class, detail)) = finished {
                applied += sqlx::query(
                    "UPDATE messages SET status = $1, status_rank = $2, error_class = $3, error_detail = $4,
                            updated_at = $5, outbox_state = 'done', lease_until = NULL, claim_token = NULL
                     WHERE id = $6 AND outbox_state = 'sending' AND claim_token = $7",
                )
                .bind(status.as_str())
                .bind(status_rank(status))
                .bind(class.as_str())
                .bind(detail)
                .bind(now.0)
                .bind(id.0)
                .bind(claim.as_str())
                .execute(&mut **tx)
                .await?
                .rows_affected();
            }
        }
        Ok(applied)
    }

    /// Periodic recovery: deals with rows whose lease has expired — their holder stopped
    /// renewing, so it died mid-send (a live holder renews while its rows wait).
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
    /// Either way the claim token is cleared, so the old holder, should it still be running,
    /// can no longer mark, renew or record the row. Returns how many rows were recovered.
    pub async fn recover_expired_leases(&self, now: Millis) -> Result<u64> {
        self.recover_where("lease_until < $1", &[Bind::Int(now.0)], now)
            .await
    }

    /// Recovery at start-up: rows still claimed by an earlier life of this node (the same node
    /// name, another boot) whose process is really gone — it has not heartbeat since
    /// `alive_after` — are recovered at once, without waiting for their leases, as in
    /// [`Store::recover_expired_leases`]. A process of the same name that is still alive (two
    /// processes configured with one node id by mistake) keeps its rows.
    pub async fn recover_previous_lives(&self, restart: Restart<'_>, now: Millis) -> Result<u64> {
        let prefix = format!("{}{BOOT_SEPARATOR}", restart.node);
        let prefix_len = i64::try_from(prefix.chars().count()).unwrap_or(i64::MAX);
        self.recover_where(
            "substr(claimed_by, 1, CAST($1 AS INTEGER)) = $2 AND claimed_by <> $3
             AND claimed_by NOT IN (SELECT node_id FROM nodes WHERE last_seen > $4)",
            &[
                Bind::Int(prefix_len),
                Bind::Text(&prefix),
                Bind::Text(restart.process),
                Bind::Int(restart.alive_after.0),
            ],
            now,
        )
        .await
    }

    /// The latest heartbeat of another process of this node's name that still holds rows in
    /// flight: a restarting process waits until that is old enough to prove the process gone.
    pub async fn previous_life_last_seen(
        &self,
        node: &str,
        process: &str,
    ) -> Result<Option<Millis>> {
        let prefix = format!("{node}{BOOT_SEPARATOR}");
        let prefix_len = i64::try_from(prefix.chars().count()).unwrap_or(i64::MAX);
        let row = sqlx::query(
            "SELECT MAX(last_seen) AS seen FROM nodes
             WHERE substr(node_id, 1, CAST($1 AS INTEGER)) = $2 AND node_id <> $3
               AND node_id IN (SELECT claimed_by FROM messages WHERE outbox_state = 'sending')",
        )
        .bind(prefix_len)
        .bind(&prefix)
        .bind(process)
        .fetch_one(&self.write)
        .await?;
        Ok(get::<Option<i64>>(&row, "seen")?.map(Millis))
    }

    /// The two recovery statements over the `sending` rows `predicate` selects (its parameters
    /// `$1`… are `binds`; the time of recovery comes after them).
    async fn recover_where(&self, predicate: &str, binds: &[Bind<'_>], now: Millis) -> Result<u64> {
        let at = binds.len() + 1;
        let started = format!(
            "UPDATE messages SET status = 'unknown', status_rank = -2, outbox_state = 'done', lease_until = NULL,
                    claim_token = NULL, updated_at = ${at},
                    error_detail = 'the platform call had started when its sender stopped; not re-sent'
             WHERE outbox_state = 'sending' AND call_started_at IS NOT NULL AND ({predicate})"
        );
        let never_called = format!(
            "UPDATE messages SET status = 'queued', status_rank = 1, outbox_state = 'queued', run_at = ${at},
                    lease_until = NULL, claimed_by = NULL, claim_token = NULL, updated_at = ${at}
             WHERE outbox_state = 'sending' AND call_started_at IS NULL AND ({predicate})"
        );
        let mut tx = self.write.begin().await?;
        let mut recovered = 0;
        for sql in [started, never_called] {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for bind in binds {
                q = match bind {
                    Bind::Int(v) => q.bind(*v),
                    Bind::Text(v) => q.bind(*v),
                };
            }
            recovered += q.bind(now.0).execute(&mut *tx).await?.rows_affected();
        }
        tx.commit().await?;
        Ok(recovered)
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
        let now = Millis::now();
        let mut tx = self.write.begin().await?;
        let written = queue_in(&mut tx, self.backend, items, now).await?;
        tx.commit().await?;
        Ok(written)
    }
}

/// Writes queued rows for `items` inside `tx` (their conversations looked up in a few
/// statements), in the order given; ids returned in that order. An unknown conversation is
/// `NotFound`. Shared by [`Store::enqueue`] and the idempotent send.
pub(crate) async fn queue_in(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    backend: crate::Backend,
    items: &[OutgoingItem],
    now: Millis,
) -> Result<Vec<MessageId>> {
    let mut ids: Vec<i64> = items.iter().map(|i| i.conversation_id.0).collect();
    ids.sort_unstable();
    ids.dedup();
    let mut targets: HashMap<i64, (i64, i64, String)> = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "SELECT v.id, v.channel_id, v.contact_id, k.external_id
                 FROM conversations v JOIN contacts k ON k.id = v.contact_id WHERE v.id IN ({})",
            backend.params(0, chunk.len())
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for id in chunk {
            q = q.bind(*id);
        }
        for row in q.fetch_all(&mut **tx).await? {
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
    let written = write_messages(tx, backend, &rows, now).await?;
    Ok(written.into_iter().map(|w| w.0).collect())
}

/// A bind parameter of a statement assembled at run time.
enum Bind<'a> {
    Int(i64),
    Text(&'a str),
}
