//! Canonical inbound events: what a platform told us, in our words.
//!
//! Channel adapters turn webhook bodies and Telegram updates into [`InboundEnvelope`]s; storage
//! keeps them (deduplicated on [`InboundEnvelope::dedupe_key`]) and the rest of the system reacts
//! to them. Kinds we do not understand are kept as [`InboundEvent::Unknown`] with the raw JSON,
//! never dropped and never an error.

use serde::{Deserialize, Serialize};

use crate::ids::ExternalUserId;
use crate::message::Content;
use crate::time::Millis;

/// One event with its routing facts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InboundEnvelope {
    /// Stable across platform retries: Messenger `mid` (or a digest of the event for kinds without
    /// one), Telegram `update_id`. Unique per channel.
    pub dedupe_key: String,
    /// The person the event is about (sender, or recipient for echoes). `None` for page-level
    /// events such as policy enforcement.
    pub contact: Option<ContactRef>,
    /// When the platform says it happened.
    pub occurred_at: Millis,
    /// Messenger `standby`: the event was seen while another app owns the thread.
    pub standby: bool,
    pub event: InboundEvent,
}

/// Who the event is about, with whatever profile facts the platform put in the event itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactRef {
    pub external_id: ExternalUserId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
}

impl ContactRef {
    pub fn id_only(external_id: ExternalUserId) -> Self {
        ContactRef {
            external_id,
            first_name: None,
            last_name: None,
            username: None,
            locale: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AttachmentKind {
    Image,
    Video,
    Audio,
    File,
    Sticker,
    Location,
    Contact,
    /// A shared link or anything the platform could not render.
    Fallback,
    Other,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attachment {
    pub kind: AttachmentKind,
    /// Where the platform serves it (Messenger) — expires on the platform's schedule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The platform's handle for re-use (Telegram `file_id`, Messenger sticker id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform_ref: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latitude: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub longitude: Option<f64>,
    /// Platform attachment type we map to `Other`, kept for display.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original_type: Option<String>,
}

impl Attachment {
    pub fn new(kind: AttachmentKind) -> Self {
        Attachment {
            kind,
            url: None,
            platform_ref: None,
            title: None,
            mime_type: None,
            latitude: None,
            longitude: None,
            original_type: None,
        }
    }
}

/// Where a person came from: an m.me `ref`, an ad, a Telegram `/start` parameter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Referral {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub r#ref: Option<String>,
    /// `SHORTLINK`, `ADS`, `CUSTOMER_CHAT_PLUGIN`, `telegram_start`, …
    pub source: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ad_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referer_uri: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ThreadControl {
    Pass,
    Take,
    Request,
    Release,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum InboundEvent {
    /// A message from the person (text, attachments, quick-reply tap).
    Message {
        platform_message_id: String,
        content: Content,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        referral: Option<Referral>,
    },
    /// A message the page sent, echoed back. `ours` is set when the echo carries our own
    /// metadata tag, i.e. we already hold the message.
    Echo {
        platform_message_id: String,
        content: Content,
        ours: bool,
    },
    /// The person edited an earlier message (Messenger `message_edit`, Telegram `edited_message`).
    Edit {
        platform_message_id: String,
        content: Content,
    },
    /// A button or Get Started tap (Messenger postback) or an inline-keyboard tap (Telegram
    /// callback query, `callback_id` set so it can be answered).
    Postback {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        title: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        payload: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        referral: Option<Referral>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        callback_id: Option<String>,
    },
    /// The person entered an existing thread through a tracked link or ad, or started a Telegram
    /// bot with `/start <param>`.
    Referral(Referral),
    /// A plugin or marketing opt-in. `opens_window` is false for marketing opt-ins (A9).
    Optin {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        r#ref: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        optin_type: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        payload: Option<String>,
        opens_window: bool,
    },
    /// Every outbound message sent at or before `watermark` (and those listed) reached the person.
    Delivery {
        watermark: Millis,
        platform_message_ids: Vec<String>,
    },
    /// Every outbound message sent at or before `watermark` was read.
    Read { watermark: Millis },
    Reaction {
        platform_message_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reaction: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        emoji: Option<String>,
        removed: bool,
    },
    ThreadControl {
        action: ThreadControl,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        app_id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        metadata: Option<String>,
    },
    /// Meta warned, blocked or unblocked the page.
    PolicyEnforcement {
        action: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// The person blocked (`reachable: false`) or unblocked the bot (Telegram `my_chat_member`).
    Reachability { reachable: bool },
    /// Anything we do not model yet, kept verbatim.
    Unknown {
        platform_kind: String,
        raw: serde_json::Value,
    },
}

/// The short name of an event kind, as stored in `events.kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    Message,
    Echo,
    Edit,
    Postback,
    Referral,
    Optin,
    Delivery,
    Read,
    Reaction,
    ThreadControl,
    PolicyEnforcement,
    Reachability,
    Unknown,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Message => "message",
            EventKind::Echo => "echo",
            EventKind::Edit => "edit",
            EventKind::Postback => "postback",
            EventKind::Referral => "referral",
            EventKind::Optin => "optin",
            EventKind::Delivery => "delivery",
            EventKind::Read => "read",
            EventKind::Reaction => "reaction",
            EventKind::ThreadControl => "thread_control",
            EventKind::PolicyEnforcement => "policy_enforcement",
            EventKind::Reachability => "reachability",
            EventKind::Unknown => "unknown",
        }
    }
}

impl InboundEvent {
    pub fn kind(&self) -> EventKind {
        match self {
            InboundEvent::Message { .. } => EventKind::Message,
            InboundEvent::Echo { .. } => EventKind::Echo,
            InboundEvent::Edit { .. } => EventKind::Edit,
            InboundEvent::Postback { .. } => EventKind::Postback,
            InboundEvent::Referral(_) => EventKind::Referral,
            InboundEvent::Optin { .. } => EventKind::Optin,
            InboundEvent::Delivery { .. } => EventKind::Delivery,
            InboundEvent::Read { .. } => EventKind::Read,
            InboundEvent::Reaction { .. } => EventKind::Reaction,
            InboundEvent::ThreadControl { .. } => EventKind::ThreadControl,
            InboundEvent::PolicyEnforcement { .. } => EventKind::PolicyEnforcement,
            InboundEvent::Reachability { .. } => EventKind::Reachability,
            InboundEvent::Unknown { .. } => EventKind::Unknown,
        }
    }

    /// Whether this action by the person opens or resets the standard messaging window (A9):
    /// a message, a CTA tap, a referral into an existing thread, a reaction, a plugin opt-in.
    /// Echoes, receipts, marketing opt-ins and page-level events do not.
    pub fn opens_window(&self) -> bool {
        match self {
            InboundEvent::Message { .. }
            | InboundEvent::Postback { .. }
            | InboundEvent::Referral(_)
            | InboundEvent::Reaction { .. } => true,
            InboundEvent::Optin { opens_window, .. } => *opens_window,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marketing_optins_and_receipts_do_not_open_the_window() {
        let optin = InboundEvent::Optin {
            r#ref: None,
            optin_type: Some("notification_messages".into()),
            payload: None,
            opens_window: false,
        };
        assert!(!optin.opens_window());
        assert!(
            !InboundEvent::Read {
                watermark: Millis(1)
            }
            .opens_window()
        );
        let reaction = InboundEvent::Reaction {
            platform_message_id: "m_1".into(),
            reaction: Some("love".into()),
            emoji: None,
            removed: false,
        };
        assert!(reaction.opens_window());
    }

    #[test]
    fn events_round_trip_through_json() {
        let e = InboundEvent::Postback {
            title: Some("Get Started".into()),
            payload: Some("GET_STARTED".into()),
            referral: Some(Referral {
                r#ref: Some("summer".into()),
                source: "SHORTLINK".into(),
                ad_id: None,
                referer_uri: None,
            }),
            callback_id: None,
        };
        let json = serde_json::to_string(&e).unwrap();
        assert_eq!(serde_json::from_str::<InboundEvent>(&json).unwrap(), e);
    }
}
