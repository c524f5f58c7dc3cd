//! Platform webhooks. Each handler: find the channel, check the platform's proof (signature or
//! secret header) on the raw bytes, parse, plan replies, hand to the ingest writer, and answer
//! 200 only after the commit (503 otherwise, so the platform retries).

pub mod messenger;
pub mod telegram;

use switchboard_domain::{ChannelId, ChannelKind, InboundEnvelope};
use switchboard_storage::{IngestItem, IngestOutcome};

use crate::app::AppState;
use crate::error::ApiError;
use crate::registry::LiveChannel;
use std::sync::Arc;

/// Bodies are read up to the configured limit; larger ones are refused before anything else.
pub(crate) use crate::body::read_body;

/// Looks up a channel of the expected kind; anything else is a 404 (and says nothing more).
pub(crate) async fn channel_of_kind(
    state: &AppState,
    id: i64,
    kind: ChannelKind,
) -> Result<Arc<LiveChannel>, ApiError> {
    let channel = state.registry.get(ChannelId(id)).await?;
    if channel.record.kind != kind {
        return Err(ApiError::NotFound);
    }
    Ok(channel)
}

/// Stores the events durably (automations react to them afterwards).
pub(crate) async fn store_events(
    state: &AppState,
    channel: &LiveChannel,
    envelopes: Vec<InboundEnvelope>,
) -> Result<Vec<IngestOutcome>, ApiError> {
    let items = envelopes
        .into_iter()
        .map(|envelope| IngestItem {
            channel_id: channel.record.id,
            // Automatic answers are decided after the commit, by the automation worker.
            replies: Vec::new(),
            envelope,
        })
        .collect();
    state
        .ingest
        .submit(items)
        .await
        .map_err(|_| ApiError::Unavailable)
}

/// The path a platform is told to call for a channel.
pub fn webhook_path(kind: ChannelKind, id: ChannelId) -> String {
    format!("/webhooks/{}/{}", kind.as_str(), id)
}
