//! Idempotency keys for the send API: a retried request gets the first response, and its
//! messages are queued exactly once.
//!
//! Exactly once, under crashes and races, because the key, the request's hash and the response
//! are written in the same transaction as the message rows: a crash leaves both or neither. Two
//! requests with the same key race on the `(scope, idem_key)` primary key; the loser's insert
//! finds the winner's row (PostgreSQL makes it wait for the winner's commit), so it writes
//! nothing, rolls back, and answers with the winner's stored response.

use switchboard_domain::Millis;

use crate::inbox::{MESSAGE_COLUMNS, message_from_row};
use crate::rows::get;
use crate::{MessageRow, OutgoingItem, Result, Store, StoreError};

/// How long a key is remembered: 24 hours. Older keys are treated as new.
pub const IDEMPOTENCY_TTL_MS: i64 = 24 * 60 * 60 * 1000;

/// One request's key: who may reuse it (`scope`: method, path and caller), the key the caller
/// chose, and the hash of the request body.
#[derive(Debug, Clone, Copy)]
pub struct IdempotencyKey<'a> {
    pub scope: &'a str,
    pub key: &'a str,
    pub request_hash: &'a str,
}

/// The response first given for a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    pub request_hash: String,
    pub status: u16,
    pub body: String,
}

/// What [`Store::enqueue_once`] did.
#[derive(Debug)]
pub enum Idempotent {
    /// This request queued the messages; the response was stored with them.
    Created(StoredResponse),
    /// Another request with the same key got there first: nothing was written.
    Replay(StoredResponse),
}

impl Store {
    /// The response stored for a key within the last 24 hours, if any. Expired rows (of any
    /// key) are deleted on the way, a few at a time.
    pub async fn stored_response(
        &self,
        scope: &str,
        key: &str,
        now: Millis,
    ) -> Result<Option<StoredResponse>> {
        let since = now.0 - IDEMPOTENCY_TTL_MS;
        if fastrand::u8(..) < 8 {
            // Opportunistic expiry: about one lookup in 32 pays for it; the index makes it cheap.
            sqlx::query("DELETE FROM idempotency_keys WHERE created_at < $1")
                .bind(since)
                .execute(&self.write)
                .await?;
        }
        let row = sqlx::query(
            "SELECT request_hash, status, response FROM idempotency_keys
             WHERE scope = $1 AND idem_key = $2 AND created_at >= $3",
        )
        .bind(scope)
        .bind(key)
        .bind(since)
        .fetch_optional(&self.read)
        .await?;
        row.map(|row| {
            Ok(StoredResponse {
                request_hash: get(&row, "request_hash")?,
                status: u16::try_from(get::<i64>(&row, "status")?)
                    .map_err(|e| StoreError::Corrupt(format!("idempotency status: {e}")))?,
                body: get(&row, "response")?,
            })
        })
        .transpose()
    }

    /// Queues `items` (like [`Store::enqueue`]) and records `key` with the response `respond`
    /// builds from the written rows, all in one transaction — unless the key is already taken,
    /// in which case nothing is written and the stored response is returned.
    pub async fn enqueue_once(
        &self,
        items: &[OutgoingItem],
        key: IdempotencyKey<'_>,
        now: Millis,
        respond: impl FnOnce(&[MessageRow]) -> (u16, String),
    ) -> Result<Idempotent> {
        let mut tx = self.write.begin().await?;
        // An expired key is a new key.
        sqlx::query(
            "DELETE FROM idempotency_keys WHERE scope = $1 AND idem_key = $2 AND created_at < $3",
        )
        .bind(key.scope)
        .bind(key.key)
        .bind(now.0 - IDEMPOTENCY_TTL_MS)
        .execute(&mut *tx)
        .await?;
        let claimed = sqlx::query(
            "INSERT INTO idempotency_keys (scope, idem_key, request_hash, status, response, created_at)
             VALUES ($1, $2, $3, 0, '', $4) ON CONFLICT (scope, idem_key) DO NOTHING
             RETURNING idem_key",
        )
        .bind(key.scope)
        .bind(key.key)
        .bind(key.request_hash)
        .bind(now.0)
        .fetch_optional(&mut *tx)
        .await?;
        if claimed.is_none() {
            tx.rollback().await?;
            return match self.stored_response(key.scope, key.key, now).await? {
                Some(stored) => Ok(Idempotent::Replay(stored)),
                None => Err(StoreError::Conflict(
                    "idempotency key expired meanwhile".into(),
                )),
            };
        }

        let written = crate::outbox::queue_in(&mut tx, self.backend, items, now).await?;
        let mut messages = Vec::with_capacity(written.len());
        for id in written {
            let sql = format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE id = $1");
            let row = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(id.0)
                .fetch_one(&mut *tx)
                .await?;
            messages.push(message_from_row(&row)?);
        }
        let (status, body) = respond(&messages);
        sqlx::query(
            "UPDATE idempotency_keys SET status = $1, response = $2 WHERE scope = $3 AND idem_key = $4",
        )
        .bind(i64::from(status))
        .bind(&body)
        .bind(key.scope)
        .bind(key.key)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Idempotent::Created(StoredResponse {
            request_hash: key.request_hash.to_owned(),
            status,
            body,
        }))
    }

    /// Moves a key's creation time (tests of expiry).
    pub async fn set_idempotency_created_at(&self, key: &str, at: Millis) -> Result<()> {
        sqlx::query("UPDATE idempotency_keys SET created_at = $1 WHERE idem_key = $2")
            .bind(at.0)
            .bind(key)
            .execute(&self.write)
            .await?;
        Ok(())
    }
}
