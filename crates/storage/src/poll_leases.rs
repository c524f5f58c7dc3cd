//! One Telegram poller per bot across nodes: `getUpdates` admits one caller per bot (a second
//! ends the first with 409), so the nodes sharing a database agree through a lease row per
//! channel. Taking and renewing are one compare-and-set upsert: it succeeds when the row is
//! missing, already ours, or expired.

use switchboard_domain::{ChannelId, Millis};

use crate::rows::get;
use crate::{Result, Store};

impl Store {
    /// Takes or renews the poll lease of `channel` for `holder` until `now + lease_ms`. Returns
    /// whether `holder` holds it now; `false` means another live holder has it.
    pub async fn acquire_poll_lease(
        &self,
        channel: ChannelId,
        holder: &str,
        now: Millis,
        lease_ms: i64,
    ) -> Result<bool> {
        let row = sqlx::query(
            "INSERT INTO poll_leases (channel_id, holder, lease_until) VALUES ($1, $2, $3)
             ON CONFLICT (channel_id) DO UPDATE
                SET holder = excluded.holder, lease_until = excluded.lease_until
                WHERE poll_leases.holder = excluded.holder OR poll_leases.lease_until < $4
             RETURNING holder",
        )
        .bind(channel.0)
        .bind(holder)
        .bind(now.0 + lease_ms)
        .bind(now.0)
        .fetch_optional(&self.write)
        .await?;
        Ok(row.is_some())
    }

    /// Gives up every poll lease `holder` has (a node shutting down), so another node takes over
    /// at its next renewal instead of after the expiry.
    pub async fn release_poll_leases(&self, holder: &str) -> Result<()> {
        sqlx::query("DELETE FROM poll_leases WHERE holder = $1")
            .bind(holder)
            .execute(&self.write)
            .await?;
        Ok(())
    }

    /// Who holds the lease of `channel` and until when, if anyone (operations and tests).
    pub async fn poll_lease(&self, channel: ChannelId) -> Result<Option<(String, Millis)>> {
        let row = sqlx::query("SELECT holder, lease_until FROM poll_leases WHERE channel_id = $1")
            .bind(channel.0)
            .fetch_optional(&self.read)
            .await?;
        row.map(|r| Ok((get(&r, "holder")?, Millis(get(&r, "lease_until")?))))
            .transpose()
    }
}
