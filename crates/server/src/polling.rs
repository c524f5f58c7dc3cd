//! Telegram long polling (`getUpdates`) for bots without a public HTTPS endpoint.
//!
//! An update is confirmed to Telegram (by asking for `offset = last + 1`) only after it has been
//! committed, so a crash re-fetches rather than loses; dedupe on `update_id` absorbs the repeat.

use std::sync::Arc;
use std::time::Duration;

use switchboard_channels::telegram;
use tokio::task::JoinHandle;

use crate::app::AppState;
use crate::registry::{LiveChannel, PlatformClient};
use crate::webhooks::store_events;

const LONG_POLL_SECS: u32 = 25;

pub fn start(state: AppState, channel: Arc<LiveChannel>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let PlatformClient::Telegram(client) = &channel.client else {
            return;
        };
        let id = channel.record.id;
        // Webhook and polling exclude each other (409 otherwise).
        let mut backoff = Backoff::default();
        while let Err(e) = client.delete_webhook().await {
            tracing::warn!(channel = %id, error = %e, "deleteWebhook failed before polling");
            backoff.wait(e.retry_after_secs).await;
        }
        let mut offset: Option<i64> = None;
        loop {
            let updates = match client.get_updates(offset, LONG_POLL_SECS).await {
                Ok(u) => u,
                Err(e) => {
                    tracing::warn!(channel = %id, error = %e, "getUpdates failed");
                    backoff.wait(e.retry_after_secs).await;
                    continue;
                }
            };
            backoff.reset();
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
