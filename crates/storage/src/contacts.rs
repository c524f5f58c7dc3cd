//! Changing what we know about a person outside ingest: subscription, custom attributes, the
//! platform profile; and a channel's alert.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use switchboard_domain::{ChannelId, ContactId, Millis};

use crate::rows::{get, parse_json, to_json};
use crate::{Result, Store, StoreError};

/// A Messenger contact whose profile has not been asked for yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingProfile {
    pub contact_id: ContactId,
    pub channel_id: ChannelId,
    pub external_id: String,
}

/// Names and locale from the platform. Fields left `None` keep what is stored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProfileFacts {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub locale: Option<String>,
}

/// A problem on a channel that a person must fix, shown with the channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelAlert {
    /// Stable name, e.g. `credentials_rejected`.
    pub kind: String,
    /// What the platform said (numeric code first), for people.
    pub message: String,
    /// The platform's numeric error code, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<i64>,
    pub since: Millis,
}

impl Store {
    /// Records a subscribe or unsubscribe. Returns whether anything changed (saying "stop" twice
    /// is not two unsubscriptions).
    pub async fn set_subscribed(
        &self,
        contact: ContactId,
        subscribed: bool,
        now: Millis,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE contacts SET subscribed = $1, subscription_changed_at = $2, updated_at = $2
             WHERE id = $3 AND subscribed <> $1",
        )
        .bind(i64::from(subscribed))
        .bind(now.0)
        .bind(contact.0)
        .execute(&self.write)
        .await?;
        if done.rows_affected() == 0 {
            // Either unchanged or no such contact: tell them apart.
            self.contact_exists(contact).await?;
            return Ok(false);
        }
        Ok(true)
    }

    /// Merges custom attributes into the contact's (a `None` value removes the key).
    pub async fn merge_contact_attributes(
        &self,
        contact: ContactId,
        changes: &BTreeMap<String, Option<String>>,
        now: Millis,
    ) -> Result<BTreeMap<String, String>> {
        let mut tx = self.write.begin().await?;
        let row = sqlx::query("SELECT attributes FROM contacts WHERE id = $1")
            .bind(contact.0)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(StoreError::NotFound)?;
        let mut attributes: BTreeMap<String, String> = parse_json(&row, "attributes")?;
        for (key, value) in changes {
            match value {
                Some(v) => attributes.insert(key.clone(), v.clone()),
                None => attributes.remove(key),
            };
        }
        sqlx::query("UPDATE contacts SET attributes = $1, updated_at = $2 WHERE id = $3")
            .bind(to_json(&attributes)?)
            .bind(now.0)
            .bind(contact.0)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(attributes)
    }

    async fn contact_exists(&self, contact: ContactId) -> Result<()> {
        sqlx::query("SELECT id FROM contacts WHERE id = $1")
            .bind(contact.0)
            .fetch_optional(&self.read)
            .await?
            .map(|_| ())
            .ok_or(StoreError::NotFound)
    }

    /// Messenger contacts created before `created_before` whose profile was never asked for,
    /// oldest first.
    pub async fn pending_profiles(
        &self,
        limit: i64,
        created_before: Millis,
    ) -> Result<Vec<PendingProfile>> {
        let rows = sqlx::query(
            "SELECT c.id, c.channel_id, c.external_id FROM contacts c
             JOIN channels ch ON ch.id = c.channel_id
             WHERE c.profile_fetched_at IS NULL AND ch.kind = 'messenger' AND c.created_at < $2
             ORDER BY c.id LIMIT $1",
        )
        .bind(limit)
        .bind(created_before.0)
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(PendingProfile {
                    contact_id: ContactId(get(row, "id")?),
                    channel_id: ChannelId(get(row, "channel_id")?),
                    external_id: get(row, "external_id")?,
                })
            })
            .collect()
    }

    /// Stores a fetched profile (or, with empty facts, that there was nothing to fetch) so it is
    /// asked for once. Names already known (e.g. typed by an agent) are kept when the platform
    /// gives none.
    pub async fn record_profile(
        &self,
        contact: ContactId,
        facts: &ProfileFacts,
        now: Millis,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE contacts SET
                first_name = COALESCE($1, first_name),
                last_name = COALESCE($2, last_name),
                locale = COALESCE($3, locale),
                profile_fetched_at = $4,
                updated_at = $4
             WHERE id = $5",
        )
        .bind(facts.first_name.as_deref())
        .bind(facts.last_name.as_deref())
        .bind(facts.locale.as_deref())
        .bind(now.0)
        .bind(contact.0)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    /// Declares the custom attribute keys of a channel (replacing the list).
    pub async fn set_attribute_keys(&self, channel: ChannelId, keys: &[String]) -> Result<()> {
        let done = sqlx::query("UPDATE channels SET attribute_keys = $1 WHERE id = $2")
            .bind(to_json(keys)?)
            .bind(channel.0)
            .execute(&self.write)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// Raises (`Some`) or clears (`None`) a channel's alert.
    pub async fn set_channel_alert(
        &self,
        channel: ChannelId,
        alert: Option<&ChannelAlert>,
    ) -> Result<()> {
        let json = alert.map(to_json).transpose()?;
        sqlx::query("UPDATE channels SET alert = $1 WHERE id = $2")
            .bind(json)
            .bind(channel.0)
            .execute(&self.write)
            .await?;
        Ok(())
    }
}

impl Store {
    /// Forgets processes that have not heartbeat for an hour: every restart is a new process,
    /// so the table would otherwise grow with each one.
    pub async fn forget_silent_processes(&self, now: Millis) -> Result<()> {
        sqlx::query("DELETE FROM nodes WHERE last_seen < $1")
            .bind(now.0 - FORGET_PROCESSES_AFTER_MS)
            .execute(&self.write)
            .await?;
        Ok(())
    }

    /// Records that `node` (a process: node name and boot id) is alive and returns how many
    /// were seen within `window_ms` (this one included).
    pub async fn heartbeat(&self, node: &str, now: Millis, window_ms: i64) -> Result<u32> {
        sqlx::query(
            "INSERT INTO nodes (node_id, last_seen) VALUES ($1, $2)
             ON CONFLICT (node_id) DO UPDATE SET last_seen = excluded.last_seen",
        )
        .bind(node)
        .bind(now.0)
        .execute(&self.write)
        .await?;
        let row = sqlx::query("SELECT COUNT(*) AS n FROM nodes WHERE last_seen > $1")
            .bind(now.0 - window_ms)
            .fetch_one(&self.read)
            .await?;
        let n: i64 = get(&row, "n")?;
        Ok(u32::try_from(n).unwrap_or(u32::MAX).max(1))
    }
}

/// How long a process that stopped heartbeating stays in the `nodes` table.
const FORGET_PROCESSES_AFTER_MS: i64 = 3_600_000;
