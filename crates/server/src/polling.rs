//! Telegram long polling (`getUpdates`) for bots without a public HTTPS endpoint.
//!
//! An update is confirmed to Telegram (by asking for `offset = last + 1`) only after it has been
//! committed, so a crash re-fetches rather than loses; dedupe on `update_id` absorbs the repeat.
//!
//! Telegram admits one `getUpdates` caller per bot, so when several nodes share a database only
//! the holder of the bot's poll lease (`poll_leases`, see storage) polls. Every node runs a poller
//! per polling bot; it renews or tries to take the lease every [`RENEW`] (also while a long poll
//! is running), for [`LEASE`]. A node that lost the lease finishes its current `getUpdates` and
//! stores nothing it fetched: the lease is checked again right before storing. A dead holder's
//! lease expires, and another node takes over within `LEASE + RENEW`; a node that shuts down
//! releases its leases at once.

use std::sync::Arc;
use std::time::{Duration, Instant};

use switchboard_channels::telegram;
use switchboard_domain::Millis;
use tokio::task::JoinHandle;

use crate::app::AppState;
use crate::registry::{LiveChannel, PlatformClient};
use crate::webhooks::store_events;

const LONG_POLL_SECS: u32 = 25;
/// How often the lease is renewed (or, by a node without it, tried).
pub const RENEW: Duration = Duration::from_secs(2);
/// How long a lease lasts without renewal: three missed renewals.
pub const LEASE: Duration = Duration::from_secs(6);

pub fn start(state: AppState, channel: Arc<LiveChannel>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let PlatformClient::Telegram(client) = &channel.client else {
            return;
        };
        let id = channel.record.id;
        let mut backoff = Backoff::default();
        let mut webhook_deleted = false;
        let mut offset: Option<i64> = None;
        let mut lease = PollLease {
            state: &state,
            channel: id,
            renewed_at: None,
        };
        loop {
            if !lease.held().await {
                // Someone else polls; whatever offset we knew may be stale when we take over.
                offset = None;
                tokio::time::sleep(RENEW).await;
                continue;
            }
            // Webhook and polling exclude each other (409 otherwise).
            if !webhook_deleted {
                if let Err(e) = client.delete_webhook().await {
                    tracing::warn!(channel = %id, error = %e, "deleteWebhook failed before polling");
                    backoff.wait(e.retry_after_secs).await;
                    continue;
                }
                webhook_deleted = true;
            }
            let poll = client.get_updates(offset, LONG_POLL_SECS);
            tokio::pin!(poll);
            let polled = loop {
                tokio::select! {
                    polled = &mut poll => break polled,
                    // Keep the lease during the long poll; losing it is noticed before storing.
                    () = tokio::time::sleep(RENEW) => { lease.held().await; }
                }
            };
            let updates = match polled {
                Ok(u) => u,
                Err(e) => {
                    tracing::warn!(channel = %id, error = %e, "getUpdates failed");
                    backoff.wait(e.retry_after_secs).await;
                    continue;
                }
            };
            backoff.reset();
            if updates.is_empty() {
                continue;
            }
            if !lease.held().await {
                tracing::info!(channel = %id, "poll lease lost during getUpdates; its updates are left to the new holder");
                continue;
            }
            let Some(last) = updates.iter().filter_map(telegram::update_id).max() else {
                continue;
            };
            let envelopes = updates
                .iter()
                .filter_map(|u| match telegram::parse_update_value(u) {
                    Ok(e) => Some(e),
                    Err(e) => {
                        tracing::warn!(channel = %id, error = %e, "unparseable update skipped");
                        None
                    }
                })
                .collect();
            match store_events(&state, &channel, envelopes).await {
                Ok(_) => offset = Some(last + 1),
                Err(e) => {
                    tracing::warn!(channel = %id, error = %e, "polled updates not stored; fetching again");
                    backoff.wait(None).await;
                }
            }
        }
    })
}

/// This process's hold on one bot's poll lease.
struct PollLease<'a> {
    state: &'a AppState,
    channel: switchboard_domain::ChannelId,
    /// The last successful take or renewal.
    renewed_at: Option<Instant>,
}

impl PollLease<'_> {
    /// Whether this process holds the lease. Within [`RENEW`] of a successful renewal the
    /// answer is known without asking (the lease still has `LEASE - RENEW` to run), so a busy
    /// bot does not cost a database write per `getUpdates`; otherwise the lease is taken or
    /// renewed. A database error counts as not holding it (better no poller for a moment than
    /// two).
    async fn held(&mut self) -> bool {
        if self.renewed_at.is_some_and(|t| t.elapsed() < RENEW) {
            return true;
        }
        let lease_ms = i64::try_from(LEASE.as_millis()).unwrap_or(i64::MAX);
        let asked_at = Instant::now();
        let held = match self
            .state
            .store
            .acquire_poll_lease(
                self.channel,
                &self.state.poll_holder,
                Millis::now(),
                lease_ms,
            )
            .await
        {
            Ok(held) => held,
            Err(e) => {
                tracing::warn!(channel = %self.channel, error = %e, "poll lease not renewed");
                false
            }
        };
        self.renewed_at = held.then_some(asked_at);
        held
    }
}

/// Doubling waits from 1 s to 60 s, or what the platform asked for.
#[derive(Default)]
struct Backoff(u32);

impl Backoff {
    async fn wait(&mut self, retry_after_secs: Option<u64>) {
        let secs = retry_after_secs.unwrap_or(1u64 << self.0.min(6)).min(3600);
        self.0 += 1;
        tokio::time::sleep(Duration::from_secs(secs)).await;
    }

    fn reset(&mut self) {
        self.0 = 0;
    }
}
