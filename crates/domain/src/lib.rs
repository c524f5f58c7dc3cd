//! The canonical model of Switchboard.
//!
//! Everything above the channel adapters speaks these types; nothing here knows a platform's JSON
//! field names. Types are parsed once at the edge ("parse, don't validate"), so a value of
//! [`MessageText`] is always within its channel's limit and a [`Psid`] is always a page-scoped id.

pub mod channel;
pub mod event;
pub mod ids;
pub mod message;
pub mod people;
pub mod policy;
pub mod responsiveness;
pub mod rich;
pub mod send;
pub mod template;
pub mod time;

pub use channel::{
    ChannelKind, ChannelSettings, MessengerSettings, RateLimits, TelegramReceiveMode,
    TelegramSettings,
};
pub use event::{
    Attachment, AttachmentKind, ContactRef, EventKind, InboundEnvelope, InboundEvent, Referral,
    ThreadControl,
};
pub use ids::{
    ChannelId, ContactId, ConversationId, ExternalUserId, MessageId, Psid, TeamId, TelegramChatId,
    UserId,
};
pub use message::{AuthorKind, Content, Direction, MessageStatus, MessageText, Persona, TextError};
pub use people::{Availability, Email, Role};
pub use rich::{
    Button, Card, MediaKind, MediaSource, MessageBody, OutgoingMessage, QuickReply, Violation,
};
pub use send::{SendError, SendErrorClass, SendReceipt};
pub use time::Millis;
