//! Deciding automatic replies for an inbound event, before it is stored, so the reply is written
//! in the same transaction as the event.
//!
//! Today there is one automation: the channel's default reply to an inbound text message.

use switchboard_domain::{
    AuthorKind, ChannelKind, Content, InboundEnvelope, InboundEvent, MessageText,
};
use switchboard_storage::{ChannelRecord, Lane, OutgoingDraft};

/// Messenger send mode for an answer to something the person just did (inside the window).
pub const MESSAGING_TYPE_RESPONSE: &str = "RESPONSE";

pub fn plan_replies(channel: &ChannelRecord, envelope: &InboundEnvelope) -> Vec<OutgoingDraft> {
    // In standby another app owns the thread; answering would talk over it.
    if envelope.standby {
        return Vec::new();
    }
    let InboundEvent::Message { content, .. } = &envelope.event else {
        return Vec::new();
    };
    if content.text.as_deref().is_none_or(|t| t.trim().is_empty()) {
        return Vec::new();
    }
    let Some(reply) = channel.default_reply.as_deref() else {
        return Vec::new();
    };
    // The text was validated when the channel was saved; re-parse to keep the type honest.
    let Ok(text) = MessageText::parse(reply, channel.kind) else {
        tracing::warn!(channel = %channel.id, "default reply no longer fits the channel; not sent");
        return Vec::new();
    };
    vec![OutgoingDraft {
        content: Content::text(text),
        author: AuthorKind::Automation,
        lane: Lane::Reply,
        messaging_type: match channel.kind {
            ChannelKind::Messenger => Some(MESSAGING_TYPE_RESPONSE.into()),
            ChannelKind::Telegram => None,
        },
    }]
}
