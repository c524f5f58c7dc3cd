use serde::{Deserialize, Serialize};

/// The platforms Switchboard speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChannelKind {
    Messenger,
    Telegram,
}

impl ChannelKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChannelKind::Messenger => "messenger",
            ChannelKind::Telegram => "telegram",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "messenger" => Some(ChannelKind::Messenger),
            "telegram" => Some(ChannelKind::Telegram),
            _ => None,
        }
    }

    /// The longest text one message may carry on this platform, in Unicode scalar values.
    pub fn text_limit(self) -> usize {
        match self {
            ChannelKind::Messenger => 2000,
            ChannelKind::Telegram => 4096,
        }
    }
}

/// Per-platform configuration of a channel, including its secrets.
///
/// Secrets live only here and in storage: API responses are built from a separate view type that
/// has no field for them, so they cannot be returned by accident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum ChannelSettings {
    Messenger(MessengerSettings),
    Telegram(TelegramSettings),
}

impl ChannelSettings {
    pub fn kind(&self) -> ChannelKind {
        match self {
            ChannelSettings::Messenger(_) => ChannelKind::Messenger,
            ChannelSettings::Telegram(_) => ChannelKind::Telegram,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessengerSettings {
    pub page_id: String,
    pub page_access_token: String,
    pub app_secret: String,
    pub verify_token: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TelegramSettings {
    pub bot_token: String,
    /// Expected in `X-Telegram-Bot-Api-Secret-Token` on every webhook POST.
    pub secret_token: String,
    #[serde(default)]
    pub receive: TelegramReceiveMode,
}

/// How a Telegram bot's updates reach us.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TelegramReceiveMode {
    /// Telegram POSTs to our webhook (needs public HTTPS).
    #[default]
    Webhook,
    /// We long-poll `getUpdates` (works behind NAT, no public endpoint).
    Polling,
}
