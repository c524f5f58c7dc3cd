//! Identifiers. Our own rows have integer ids; platform users have string ids parsed at the edge.

use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! row_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

row_id!(
    /// A Messenger page or a Telegram bot connected to Switchboard.
    ChannelId
);
row_id!(
    /// One person on one channel.
    ContactId
);
row_id!(
    /// The single thread Switchboard keeps per contact.
    ConversationId
);
row_id!(
    /// A stored message, inbound or outbound.
    MessageId
);
row_id!(
    /// A person who works in Switchboard (an agent, a marketer, an owner…).
    UserId
);
row_id!(
    /// A group of users who answer the conversations of some channels.
    TeamId
);

/// The platform's id of a person on one channel: a PSID on Messenger, a chat id on Telegram.
///
/// Kept as text so both platforms share one column; construct it through [`Psid`] or
/// [`TelegramChatId`] so it is always well-formed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ExternalUserId(String);

impl ExternalUserId {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Rebuilds an id read back from our own storage, where it was written already parsed.
    pub fn from_stored(s: String) -> Self {
        ExternalUserId(s)
    }
}

impl fmt::Display for ExternalUserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A Messenger page-scoped user id: a non-empty string of ASCII digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Psid(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("a PSID is 1 to 32 ASCII digits, got {0:?}")]
pub struct InvalidPsid(pub String);

impl Psid {
    pub fn parse(s: &str) -> Result<Self, InvalidPsid> {
        if !s.is_empty() && s.len() <= 32 && s.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Psid(s.to_owned()))
        } else {
            Err(InvalidPsid(s.chars().take(40).collect()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<Psid> for ExternalUserId {
    fn from(p: Psid) -> Self {
        ExternalUserId(p.0)
    }
}

/// A Telegram chat id (negative for groups).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TelegramChatId(pub i64);

impl From<TelegramChatId> for ExternalUserId {
    fn from(c: TelegramChatId) -> Self {
        ExternalUserId(c.0.to_string())
    }
}

impl TryFrom<&ExternalUserId> for TelegramChatId {
    type Error = std::num::ParseIntError;
    fn try_from(id: &ExternalUserId) -> Result<Self, Self::Error> {
        id.0.parse().map(TelegramChatId)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn psid_accepts_digits_only() {
        assert!(Psid::parse("1254459154682919").is_ok());
        assert!(Psid::parse("").is_err());
        assert!(Psid::parse("12a4").is_err());
        assert!(Psid::parse(&"9".repeat(33)).is_err());
    }
}
