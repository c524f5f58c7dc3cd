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

    /// The platform's documented sending limits (protocols.md A13, B6), used unless a channel
    /// overrides them.
    pub fn default_rate_limits(self) -> RateLimits {
        match self {
            // 300 calls/s per page for text (10/s for audio and video, applied per message kind
            // once rich messages exist).
            ChannelKind::Messenger => RateLimits {
                per_second: 300.0,
                per_recipient_per_second: None,
                per_group_per_minute: None,
            },
            // ~30 messages/s per bot, ~1 message/s per chat, 20 messages/min per group.
            ChannelKind::Telegram => RateLimits {
                per_second: 30.0,
                per_recipient_per_second: Some(1.0),
                per_group_per_minute: Some(20.0),
            },
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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

    /// The limits in force: the channel's own, or its platform's defaults.
    pub fn rate_limits(&self) -> RateLimits {
        let own = match self {
            ChannelSettings::Messenger(m) => m.rate_limits,
            ChannelSettings::Telegram(t) => t.rate_limits,
        };
        own.unwrap_or_else(|| self.kind().default_rate_limits())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessengerSettings {
    pub page_id: String,
    pub page_access_token: String,
    pub app_secret: String,
    pub verify_token: String,
    /// Overrides [`ChannelKind::default_rate_limits`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limits: Option<RateLimits>,
    /// Meta granted this page's app the Human Agent permission: agents may answer with the
    /// `HUMAN_AGENT` tag up to 7 days after the person's last message.
    #[serde(default)]
    pub human_agent_permission: bool,
    /// Meta allows this page utility (template) messages outside the window.
    #[serde(default)]
    pub utility_messaging_permission: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TelegramSettings {
    pub bot_token: String,
    /// Expected in `X-Telegram-Bot-Api-Secret-Token` on every webhook POST.
    pub secret_token: String,
    #[serde(default)]
    pub receive: TelegramReceiveMode,
    /// Overrides [`ChannelKind::default_rate_limits`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limits: Option<RateLimits>,
}

/// How fast Switchboard may send on a channel. Sends are spaced evenly (no bursts), so no
/// one-second window ever holds more than `per_second` messages.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RateLimits {
    pub per_second: f64,
    /// Extra limit per recipient (Telegram: about one message per second per chat).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_recipient_per_second: Option<f64>,
    /// Limit per group chat instead (Telegram: about 20 messages per minute in a group,
    /// supergroup or channel — the chats with negative ids).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_group_per_minute: Option<f64>,
}

fn valid_rate(r: f64) -> bool {
    r.is_finite() && r > 0.0 && r <= 100_000.0
}

impl RateLimits {
    /// Accepts only positive, finite rates.
    pub fn parse(per_second: f64, per_recipient_per_second: Option<f64>) -> Option<RateLimits> {
        (valid_rate(per_second) && per_recipient_per_second.is_none_or(valid_rate)).then_some(
            RateLimits {
                per_second,
                per_recipient_per_second,
                per_group_per_minute: None,
            },
        )
    }

    /// With a per-group limit (messages per minute); `None` for an invalid rate.
    pub fn with_per_group_per_minute(self, per_minute: Option<f64>) -> Option<RateLimits> {
        per_minute.is_none_or(valid_rate).then_some(RateLimits {
            per_group_per_minute: per_minute,
            ..self
        })
    }

    /// How many messages per second one recipient may get: a Telegram group chat (a negative
    /// chat id; Messenger PSIDs never start with `-`) is held to `per_group_per_minute` when
    /// set, anyone else to `per_recipient_per_second`.
    pub fn recipient_rate(&self, recipient: &str) -> Option<f64> {
        match self.per_group_per_minute {
            Some(per_minute) if recipient.starts_with('-') => Some(per_minute / 60.0),
            _ => self.per_recipient_per_second,
        }
    }
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
