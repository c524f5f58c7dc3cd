//! Facebook Messenger (Graph API): webhook signature and handshake, webhook parsing, Send API.

mod profile;
mod rich;
mod send;
mod signature;
mod webhook;

pub use profile::{PageProfile, messenger_locale};
pub use send::{MessagingType, MessengerClient, Profile, SenderAction, classify_graph_error};
pub use signature::{SignatureError, verify_handshake, verify_signature};
pub use webhook::{METADATA_PREFIX, ParsedWebhook, WebhookParseError, parse_webhook};
