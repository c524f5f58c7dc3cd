use serde::{Deserialize, Serialize};

use crate::channel::ChannelKind;
use crate::event::Attachment;
use crate::rich::OutgoingMessage;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    In,
    Out,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::In => "in",
            Direction::Out => "out",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "in" => Some(Direction::In),
            "out" => Some(Direction::Out),
            _ => None,
        }
    }
}

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthorKind {
    /// The customer.
    Contact,
    /// A person on the team, through Switchboard.
    Agent,
    Bot,
    Automation,
    Campaign,
    /// Sent from outside Switchboard (the Page inbox, another app) and seen as an echo.
    Page,
}

impl AuthorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthorKind::Contact => "contact",
            AuthorKind::Agent => "agent",
            AuthorKind::Bot => "bot",
            AuthorKind::Automation => "automation",
            AuthorKind::Campaign => "campaign",
            AuthorKind::Page => "page",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "contact" => AuthorKind::Contact,
            "agent" => AuthorKind::Agent,
            "bot" => AuthorKind::Bot,
            "automation" => AuthorKind::Automation,
            "campaign" => AuthorKind::Campaign,
            "page" => AuthorKind::Page,
            _ => return None,
        })
    }
}

/// The life of a message. Outbound statuses only move forward along
/// `queued → sending → sent → delivered → read`; `failed` and `unknown` are terminal.
/// Inbound messages are `received`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MessageStatus {
    Received,
    Queued,
    Sending,
    Sent,
    Delivered,
    Read,
    Failed,
    /// Was in flight when the process died and the platform's answer is not known.
    Unknown,
}

impl MessageStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            MessageStatus::Received => "received",
            MessageStatus::Queued => "queued",
            MessageStatus::Sending => "sending",
            MessageStatus::Sent => "sent",
            MessageStatus::Delivered => "delivered",
            MessageStatus::Read => "read",
            MessageStatus::Failed => "failed",
            MessageStatus::Unknown => "unknown",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "received" => MessageStatus::Received,
            "queued" => MessageStatus::Queued,
            "sending" => MessageStatus::Sending,
            "sent" => MessageStatus::Sent,
            "delivered" => MessageStatus::Delivered,
            "read" => MessageStatus::Read,
            "failed" => MessageStatus::Failed,
            "unknown" => MessageStatus::Unknown,
            _ => return None,
        })
    }
}

/// Text that fits in one message on a given channel: non-empty and within the platform limit,
/// counted in Unicode scalar values as both platforms count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct MessageText(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    #[error("message text is empty")]
    Empty,
    #[error("message text is {len} characters; {kind:?} allows at most {limit}")]
    TooLong {
        len: usize,
        limit: usize,
        kind: ChannelKind,
    },
}

impl MessageText {
    pub fn parse(text: &str, kind: ChannelKind) -> Result<Self, TextError> {
        if text.trim().is_empty() {
            return Err(TextError::Empty);
        }
        let len = text.chars().count();
        let limit = kind.text_limit();
        if len > limit {
            return Err(TextError::TooLong { len, limit, kind });
        }
        Ok(MessageText(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// What a message says, as structured data (our shape, not a platform's).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Content {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<Attachment>,
    /// The payload of a tapped quick reply (Messenger) — user_email/user_phone_number values too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quick_reply_payload: Option<String>,
    /// The platform id of the message this one replies to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
    /// An outgoing message's full structure (buttons, media, cards); `text` then holds its
    /// plain-text summary for the inbox.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rich: Option<OutgoingMessage>,
    /// Who a bot's message appears to come from (a flow's persona); `None` = the page or bot
    /// itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persona: Option<Persona>,
}

/// A bot's face: a name and a picture, shown instead of the page's on Messenger (the Personas
/// API). A Telegram bot has one identity, its own, so there the persona is not shown.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Persona {
    pub name: String,
    /// Messenger needs a picture to create a persona; without one the message goes as the page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avatar_url: Option<String>,
}

impl Content {
    pub fn text(text: MessageText) -> Self {
        Content {
            text: Some(text.into_string()),
            ..Content::default()
        }
    }

    /// An outgoing rich message, with its summary as the text.
    pub fn rich(message: OutgoingMessage) -> Self {
        Content {
            text: Some(message.summary()),
            rich: Some(message),
            ..Content::default()
        }
    }

    /// What to send: the rich structure, or the plain text as a text message.
    pub fn outgoing(&self) -> Option<OutgoingMessage> {
        match (&self.rich, &self.text) {
            (Some(rich), _) => Some(rich.clone()),
            (None, Some(text)) => Some(OutgoingMessage::text(text.clone())),
            (None, None) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_limits_are_per_channel_and_count_characters() {
        let arabic = "م".repeat(2000); // 4000 bytes, 2000 characters
        assert!(MessageText::parse(&arabic, ChannelKind::Messenger).is_ok());
        let too_long = "a".repeat(2001);
        assert_eq!(
            MessageText::parse(&too_long, ChannelKind::Messenger),
            Err(TextError::TooLong {
                len: 2001,
                limit: 2000,
                kind: ChannelKind::Messenger
            })
        );
        assert!(MessageText::parse(&too_long, ChannelKind::Telegram).is_ok());
        assert!(MessageText::parse(&"a".repeat(4097), ChannelKind::Telegram).is_err());
        assert_eq!(
            MessageText::parse("  \n", ChannelKind::Telegram),
            Err(TextError::Empty)
        );
    }

    #[test]
    fn statuses_round_trip_through_their_names() {
        for s in [
            MessageStatus::Received,
            MessageStatus::Queued,
            MessageStatus::Sending,
            MessageStatus::Sent,
            MessageStatus::Delivered,
            MessageStatus::Read,
            MessageStatus::Failed,
            MessageStatus::Unknown,
        ] {
            assert_eq!(MessageStatus::parse(s.as_str()), Some(s));
        }
    }
}
