//! The durable outbox: every outgoing message is a row before it is a request.
//!
//! Life of a row: `queued` → (claimed with a lease) `sending` → `done`, or back to `queued` with a
//! later `run_at` for a retryable failure. A row still `sending` when its lease expires belonged
//! to a process that died mid-send; see [`Store::recover_expired`] for what happens to it.

use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use switchboard_domain::{
    ChannelId, Content, ExternalUserId, MessageId, MessageStatus, Millis, SendErrorClass,
};

use crate::ingest::status_rank;
use crate::rows::{get, parse_enum, parse_json, placeholders};
use crate::{Result, Store};

/// Which queue a message waits in. Replies never wait behind bulk work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lane {
    /// Conversational: replies by automations, bots and agents.
    Reply,
    /// Campaigns and feeds.
    Bulk,
}

impl Lane {
    pub fn as_str(self) -> &'static str {
        match self {
            Lane::Reply => "reply",
            Lane::Bulk => "bulk",
        }
    }

    pub fn parse(s: &str) -> Option<Lane> {
        match s {
            "reply" => Some(Lane::Reply),
            "bulk" => Some(Lane::Bulk),
            _ => None,
        }
    }
}

/// A claimed row, with everything needed to send it.
#[derive(Debug, Clone)]
pub struct OutboxJob {
    pub outbox_id: i64,
    pub message_id: MessageId,
    pub channel_id: ChannelId,
    pub contact_id: i64,
    pub recipient: ExternalUserId,
    pub content: Content,
    pub lane: Lane,
    /// How many times this row has been claimed, this claim included.
    pub attempts: i64,
    pub messaging_type: Option<String>,
}

/// What happened when a claimed row was sent.
#[derive(Debug, Clone)]
pub enum DispatchResult {
    Sent {
        outbox_id: i64,
        message_id: MessageId,
        platform_message_id: String,
        at: Millis,
    },
    /// Try again at `run_at`.
    Retry {
        outbox_id: i64,
        message_id: MessageId,
        run_at: Millis,
        detail: String,
    },
    /// Terminal failure, recorded on the message.
    Failed {
        outbox_id: i64,
        message_id: MessageId,
        class: SendErrorClass,
        detail: String,
        /// The platform said the person blocked us or cannot be reached.
        contact_unreachable: Option<i64>,
    },
}

/// Exponential backoff with full jitter for retryable send failures.
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
        outbox_id: get(row, "outbox_id")?,
        message_id: MessageId(get(row, "message_id")?),
        channel_id: ChannelId(get(row, "channel_id")?),
        contact_id: get(row, "contact_id")?,
        recipient: ExternalUserId::from_stored(get(row, "external_id")?),
        content: parse_json(row, "content")?,
        lane: parse_enum(row, "lane", Lane::parse)?,
        attempts: get(row, "attempts")?,
        messaging_type: get(row, "messaging_type")?,
    })
}

impl Store {
    /// Claims up to `limit` due rows of a lane for `worker`, leasing them until `lease_until`.
    /// Several nodes may call this at once: PostgreSQL skips rows another node holds; SQLite's
    /// single writer serialises the claims.
    pub async fn claim_outbox(
        &self,
        worker: &str,
        lane: Lane,
        now: Millis,
        lease_until: Millis,
        limit: i64,
    ) -> Result<Vec<OutboxJob>> {
        let mut tx = self.write.begin().await?;
        let sql = format!(
            "UPDATE outbox SET state = 'sending', lease_until = $1, claimed_by = $2, attempts = attempts + 1
             WHERE id IN (SELECT id FROM outbox WHERE state = 'queued' AND lane = $3 AND run_at <= $4
                          ORDER BY run_at, id LIMIT $5 {})
             RETURNING id",
            self.backend.skip_locked()
        );
        let claimed = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(lease_until.0)
            .bind(worker)
            .bind(lane.as_str())
            .bind(now.0)
            .bind(limit)
            .fetch_all(&mut *tx)
            .await?;
        if claimed.is_empty() {
            tx.commit().await?;
            return Ok(Vec::new());
        }
        let ids: Vec<i64> = claimed
            .iter()
            .map(|r| get(r, "id"))
            .collect::<Result<_>>()?;
        let list = placeholders(0, ids.len());
        let select = format!(
            "SELECT o.id AS outbox_id, o.message_id, o.channel_id, o.lane, o.attempts, o.messaging_type,
                    m.contact_id, m.content, c.external_id
             FROM outbox o JOIN messages m ON m.id = o.message_id JOIN contacts c ON c.id = m.contact_id
             WHERE o.id IN ({list}) ORDER BY o.id"
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(select));
        for id in &ids {
            q = q.bind(*id);
        }
        let rows = q.fetch_all(&mut *tx).await?;
        let mark = format!(
            "UPDATE messages SET status = 'sending', status_rank = 2
             WHERE status_rank < 2 AND status_rank >= 0 AND id IN (SELECT message_id FROM outbox WHERE id IN ({list}))"
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(mark));
        for id in &ids {
            q = q.bind(*id);
        }
        q.execute(&mut *tx).await?;
        tx.commit().await?;
        rows.iter().map(job_from_row).collect()
    }

    /// Records a batch of send results in one transaction.
    pub async fn record_dispatch(&self, results: &[DispatchResult]) -> Result<()> {
        if results.is_empty() {
            return Ok(());
        }
        let now = Millis::now();
        let mut tx = self.write.begin().await?;
        for result in results {
            match result {
                DispatchResult::Sent {
                    outbox_id,
                    message_id,
                    platform_message_id,
                    at,
                } => {
                    sqlx::query(
                        "UPDATE messages SET status = 'sent', status_rank = 3, platform_message_id = $1,
                                sent_at = $2, updated_at = $3, error_class = NULL, error_detail = NULL
                         WHERE id = $4 AND status_rank < 3",
                    )
                    .bind(platform_message_id.as_str())
                    .bind(at.0)
                    .bind(now.0)
                    .bind(message_id.0)
                    .execute(&mut *tx)
                    .await?;
                    finish(&mut tx, *outbox_id).await?;
                }
                DispatchResult::Retry {
                    outbox_id,
                    message_id,
                    run_at,
                    detail,
                } => {
                    sqlx::query(
                        "UPDATE outbox SET state = 'queued', run_at = $1, lease_until = NULL, claimed_by = NULL
                         WHERE id = $2",
                    )
                    .bind(run_at.0)
                    .bind(*outbox_id)
                    .execute(&mut *tx)
                    .await?;
                    sqlx::query(
                        "UPDATE messages SET status = 'queued', status_rank = 1, error_detail = $1, updated_at = $2
                         WHERE id = $3 AND status_rank = 2",
                    )
                    .bind(detail.as_str())
                    .bind(now.0)
                    .bind(message_id.0)
                    .execute(&mut *tx)
                    .await?;
                }
                DispatchResult::Failed {
                    outbox_id,
                    message_id,
                    class,
                    detail,
                    contact_unreachable,
                } => {
                    set_terminal(
                        &mut tx,
                        *message_id,
                        MessageStatus::Failed,
                        Some(class.as_str()),
                        detail,
                        now,
                    )
                    .await?;
                    finish(&mut tx, *outbox_id).await?;
                    if let Some(contact) = contact_unreachable {
                        sqlx::query(
                            "UPDATE contacts SET reachable = 0, updated_at = $1 WHERE id = $2",
                        )
                        .bind(now.0)
                        .bind(*contact)
                        .execute(&mut *tx)
                        .await?;
                    }
                }
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// Deals with rows whose sender died mid-send: rows claimed by `worker` itself (a restarted
    /// node with the same id knows its previous life is over) and rows of any worker whose lease
    /// has expired.
    ///
    /// Replies go back to the queue: a missing answer to a customer is worse than the rare
    /// duplicate when the crash fell between the platform accepting the message and our commit.
    /// Bulk rows become `unknown` and are never re-sent: a duplicate marketing message is worse
    /// than a missing one. Returns how many rows were recovered.
    pub async fn recover_outbox(&self, worker: &str, now: Millis) -> Result<u64> {
        let mut tx = self.write.begin().await?;
        let stale = "state = 'sending' AND (claimed_by = $1 OR lease_until < $2)";
        let unknown = format!(
            "UPDATE messages SET status = 'unknown', status_rank = -2, updated_at = $2,
                    error_detail = 'in flight when its sender stopped; not re-sent'
             WHERE id IN (SELECT message_id FROM outbox WHERE lane = 'bulk' AND {stale})"
        );
        sqlx::query(sqlx::AssertSqlSafe(unknown))
            .bind(worker)
            .bind(now.0)
            .execute(&mut *tx)
            .await?;
        let done = format!(
            "UPDATE outbox SET state = 'done', lease_until = NULL WHERE lane = 'bulk' AND {stale}"
        );
        let bulk = sqlx::query(sqlx::AssertSqlSafe(done))
            .bind(worker)
            .bind(now.0)
            .execute(&mut *tx)
            .await?;
        let requeue_msgs = format!(
            "UPDATE messages SET status = 'queued', status_rank = 1, updated_at = $2
             WHERE status_rank = 2 AND id IN (SELECT message_id FROM outbox WHERE lane = 'reply' AND {stale})"
        );
        sqlx::query(sqlx::AssertSqlSafe(requeue_msgs))
            .bind(worker)
            .bind(now.0)
            .execute(&mut *tx)
            .await?;
        let requeue = format!(
            "UPDATE outbox SET state = 'queued', run_at = $2, lease_until = NULL, claimed_by = NULL
             WHERE lane = 'reply' AND {stale}"
        );
        let replies = sqlx::query(sqlx::AssertSqlSafe(requeue))
            .bind(worker)
            .bind(now.0)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(bulk.rows_affected() + replies.rows_affected())
    }

    /// Rows not yet finished, by state (`queued`, `sending`): for health checks and tests.
    pub async fn outbox_pending(&self) -> Result<i64> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM outbox WHERE state <> 'done'")
            .fetch_one(&self.read)
            .await?;
        get(&row, "n")
    }
}

async fn finish(tx: &mut sqlx::Transaction<'static, sqlx::Any>, outbox_id: i64) -> Result<()> {
    sqlx::query("UPDATE outbox SET state = 'done', lease_until = NULL WHERE id = $1")
        .bind(outbox_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

async fn set_terminal(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    message: MessageId,
    status: MessageStatus,
    class: Option<&str>,
    detail: &str,
    now: Millis,
) -> Result<()> {
    sqlx::query(
        "UPDATE messages SET status = $1, status_rank = $2, error_class = $3, error_detail = $4, updated_at = $5
         WHERE id = $6",
    )
    .bind(status.as_str())
    .bind(status_rank(status))
    .bind(class)
    .bind(detail)
    .bind(now.0)
    .bind(message.0)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
