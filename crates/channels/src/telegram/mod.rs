//! Telegram Bot API: webhook secret, update parsing, Bot API calls.

mod client;
mod rich;
mod secret;
mod update;

pub use client::{TelegramClient, classify_telegram_error};
pub use secret::verify_secret;
pub use update::{UpdateParseError, parse_update, parse_update_value, update_id};
