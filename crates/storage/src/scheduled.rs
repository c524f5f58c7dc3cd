//! Agent messages to send later. The row keeps the request as the agent made it; when it falls
//! due a node claims it (a lease, so a crash hands it to another), composes it again — policy
//! and lint at *that* moment — and records the outcome. The messages it queues are written with
//! the idempotency key `scheduled:<id>` (`Store::enqueue_once`), so a claim that ran twice after
//! a crash queues them once.

use sqlx::any::AnyRow;
use switchboard_domain::{ConversationId, MessageId, Millis, UserId};

use crate::rows::get;
use crate::{Result, Store, StoreError};

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ScheduledRow {
    pub id: i64,
    pub conversation_id: ConversationId,
    pub author_id: Option<UserId>,
    /// The agent's request (JSON the service layer wrote).
    #[serde(skip)]
    pub request: String,
    pub send_at: Millis,
    /// `scheduled`, `sending`, `sent`, `refused` or `cancelled`.
    pub status: String,
    /// Why it was not sent (a policy rule's name, `lint_failed`, `author_inactive`, …).
    pub rule: Option<String>,
    pub detail: Option<String>,
    pub message_ids: Vec<MessageId>,
    pub created_at: Millis,
}

const COLUMNS: &str = "id, conversation_id, author_id, request, send_at, status, rule, detail, \
     message_ids, created_at";

fn from_row(row: &AnyRow) -> Result<ScheduledRow> {
    let ids: Option<String> = get(row, "message_ids")?;
    Ok(ScheduledRow {
        id: get(row, "id")?,
        conversation_id: ConversationId(get(row, "conversation_id")?),
        author_id: get::<Option<i64>>(row, "author_id")?.map(UserId),
        request: get(row, "request")?,
        send_at: Millis(get(row, "send_at")?),
        status: get(row, "status")?,
        rule: get(row, "rule")?,
        detail: get(row, "detail")?,
        message_ids: ids
            .map(|raw| serde_json::from_str(&raw))
            .transpose()
            .map_err(|e| StoreError::Corrupt(format!("message_ids: {e}")))?
            .unwrap_or_default(),
        created_at: Millis(get(row, "created_at")?),
    })
}

impl Store {
    pub async fn schedule_message(
        &self,
        conversation: ConversationId,
        author: Option<UserId>,
        request: &str,
        send_at: Millis,
        now: Millis,
    ) -> Result<ScheduledRow> {
        let row = sqlx::query(
            "INSERT INTO scheduled_messages (conversation_id, author_id, request, send_at, status,
                                             created_at, updated_at)
             VALUES ($1, $2, $3, $4, 'scheduled', $5, $5) RETURNING id",
        )
        .bind(conversation.0)
        .bind(author.map(|u| u.0))
        .bind(request)
        .bind(send_at.0)
        .bind(now.0)
        .fetch_one(&self.write)
        .await?;
        self.get_scheduled(get(&row, "id")?).await
    }

    pub async fn get_scheduled(&self, id: i64) -> Result<ScheduledRow> {
        let sql = format!("SELECT {COLUMNS} FROM scheduled_messages WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&self.read)
            .await?
            .ok_or(StoreError::NotFound)?;
        from_row(&row)
    }

    pub async fn list_scheduled(&self, conversation: ConversationId) -> Result<Vec<ScheduledRow>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM scheduled_messages WHERE conversation_id = $1 ORDER BY id"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(conversation.0)
            .fetch_all(&self.read)
            .await?;
        rows.iter().map(from_row).collect()
    }

    /// Cancels a message that has not been taken for sending; `false` if it was too late.
    pub async fn cancel_scheduled(&self, id: i64, now: Millis) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE scheduled_messages SET status = 'cancelled', updated_at = $1
             WHERE id = $2 AND status = 'scheduled'",
        )
        .bind(now.0)
        .bind(id)
        .execute(&self.write)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Takes up to `limit` due messages (and ones whose claim's lease ran out) for `lease`.
    pub async fn claim_due_scheduled(
        &self,
        now: Millis,
        lease_ms: i64,
        limit: i64,
    ) -> Result<Vec<ScheduledRow>> {
        let mut tx = self.write.begin().await?;
        let sql = format!(
            "SELECT id FROM scheduled_messages
             WHERE (status = 'scheduled' AND send_at <= $1)
                OR (status = 'sending' AND lease_until <= $1)
             ORDER BY send_at LIMIT $2 {}",
            self.backend.skip_locked()
        );
        let ids: Vec<i64> = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(now.0)
            .bind(limit)
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(|r| get(r, "id"))
            .collect::<Result<_>>()?;
        let mut claimed = Vec::with_capacity(ids.len());
        for id in ids {
            let sql = format!(
                "UPDATE scheduled_messages SET status = 'sending', lease_until = $1, updated_at = $2
                 WHERE id = $3 RETURNING {COLUMNS}"
            );
            let row = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(now.0 + lease_ms)
                .bind(now.0)
                .bind(id)
                .fetch_one(&mut *tx)
                .await?;
            claimed.push(from_row(&row)?);
        }
        tx.commit().await?;
        Ok(claimed)
    }

    /// Records how a claimed message ended: `sent` with its message ids, or `refused` with why.
    pub async fn finish_scheduled(
        &self,
        id: i64,
        outcome: ScheduledOutcome<'_>,
        now: Millis,
    ) -> Result<()> {
        let (status, rule, detail, ids) = match outcome {
            ScheduledOutcome::Sent(ids) => (
                "sent",
                None,
                None,
                Some(serde_json::to_string(ids).map_err(|e| StoreError::Corrupt(e.to_string()))?),
            ),
            ScheduledOutcome::Refused { rule, detail } => {
                ("refused", Some(rule), Some(detail), None)
            }
        };
        sqlx::query(
            "UPDATE scheduled_messages SET status = $1, rule = $2, detail = $3, message_ids = $4,
                    lease_until = NULL, updated_at = $5
             WHERE id = $6 AND status = 'sending'",
        )
        .bind(status)
        .bind(rule)
        .bind(detail)
        .bind(ids)
        .bind(now.0)
        .bind(id)
        .execute(&self.write)
        .await?;
        Ok(())
    }
}

/// How a scheduled message ended.
#[derive(Debug, Clone, Copy)]
pub enum ScheduledOutcome<'a> {
    Sent(&'a [MessageId]),
    Refused { rule: &'a str, detail: &'a str },
}
