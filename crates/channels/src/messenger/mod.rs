//! Facebook Messenger (Graph API): webhook signature and handshake, webhook parsing, Send API.

mod send;
mod signature;
mod webhook;

pub use send::{MessagingType, MessengerClient, Profile, classify_graph_error};
pub use signature::{SignatureError, verify_handshake, verify_signature};
pub use webhook::{METADATA_PREFIX, ParsedWebhook, WebhookParseError, parse_webhook};
