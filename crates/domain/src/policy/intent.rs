//! What the engine is asked about: the message about to be queued, and what we know of the person.

use serde::{Deserialize, Serialize};

use crate::channel::ChannelKind;
use crate::message::AuthorKind;
use crate::time::Millis;

/// Which outbox lane the message will travel in: conversational replies never wait behind bulk
/// work. Storage uses this same type for its queues.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lane {
    /// Conversational: replies by automations, bots and agents.
    Reply,
    /// Campaigns and feeds.
    Bulk,
}

impl Lane {
    pub fn as_str(self) -> &'static str {
        match self {
            Lane::Reply => "reply",
            Lane::Bulk => "bulk",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "reply" => Some(Lane::Reply),
            "bulk" => Some(Lane::Bulk),
            _ => None,
        }
    }
}

/// How the sender wants the message to go. One enum rather than a tag plus a utility flag, because
/// a utility template cannot also carry a tag (it has its own messaging type).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SendAs {
    /// Let the engine choose: the window, or the human-agent tag for an agent's reply.
    Auto,
    /// The sender asks for this message tag.
    Tag(String),
    /// The content is an approved utility template.
    UtilityTemplate,
}

/// What the channel (a Messenger page or a Telegram bot) may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ChannelFacts {
    pub platform: ChannelKind,
    /// Messenger's Human Agent permission (needed for `HUMAN_AGENT`, A8).
    pub human_agent_permission: bool,
    /// Messenger's `page_utility_messaging` permission (needed for utility templates, A8).
    pub utility_messaging_permission: bool,
}

impl ChannelFacts {
    pub fn messenger(human_agent_permission: bool, utility_messaging_permission: bool) -> Self {
        ChannelFacts {
            platform: ChannelKind::Messenger,
            human_agent_permission,
            utility_messaging_permission,
        }
    }

    pub fn telegram() -> Self {
        ChannelFacts {
            platform: ChannelKind::Telegram,
            human_agent_permission: false,
            utility_messaging_permission: false,
        }
    }
}

/// A message about to be queued, as the policy sees it (its content is not the policy's business,
/// only whether the sender marked it promotional).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SendIntent {
    pub channel: ChannelFacts,
    pub author: AuthorKind,
    pub lane: Lane,
    /// Marketing content. Set by the sender; see [`SendIntent::promotional_by_default`].
    pub promotional: bool,
    pub send_as: SendAs,
}

impl SendIntent {
    /// Campaigns are promotional unless their author says otherwise; everything else is not.
    pub fn promotional_by_default(author: AuthorKind) -> bool {
        author == AuthorKind::Campaign
    }

    /// A conversational message by `author`, promotional by default only for campaigns.
    pub fn reply(channel: ChannelFacts, author: AuthorKind) -> Self {
        SendIntent {
            channel,
            author,
            lane: Lane::Reply,
            promotional: Self::promotional_by_default(author),
            send_as: SendAs::Auto,
        }
    }

    /// A campaign message in the bulk lane, promotional (the default for campaigns).
    pub fn campaign(channel: ChannelFacts) -> Self {
        SendIntent {
            channel,
            author: AuthorKind::Campaign,
            lane: Lane::Bulk,
            promotional: Self::promotional_by_default(AuthorKind::Campaign),
            send_as: SendAs::Auto,
        }
    }

    pub fn with_lane(mut self, lane: Lane) -> Self {
        self.lane = lane;
        self
    }

    pub fn with_promotional(mut self, promotional: bool) -> Self {
        self.promotional = promotional;
        self
    }

    pub fn with_tag(mut self, tag: impl Into<String>) -> Self {
        self.send_as = SendAs::Tag(tag.into());
        self
    }

    pub fn as_utility_template(mut self) -> Self {
        self.send_as = SendAs::UtilityTemplate;
        self
    }
}

/// What storage knows about the person, at decision time.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ContactFacts {
    /// The latest window-opening action (A9; `contacts.last_window_action_at`): a message,
    /// postback, quick reply, referral, reaction or plugin opt-in — not a marketing opt-in.
    pub last_window_action_at: Option<Millis>,
    /// The person's latest *message*: the human-agent period counts from it (A8: "up to 7 days
    /// after the user's last message"), not from reactions or taps.
    pub last_message_at: Option<Millis>,
    /// False after a block, Messenger 551/1545041 or Telegram 403.
    pub reachable: bool,
    /// False after the person unsubscribed.
    pub subscribed: bool,
    /// When bulk-lane messages to this person were queued as allowed. Storage must supply at
    /// least those within the profile's frequency-cap period before now
    /// ([`super::FrequencyCap::per_hours`]); older ones are ignored. Times rather than a count so
    /// the sliding cap is exact.
    pub recent_bulk_sends: Vec<Millis>,
}

impl ContactFacts {
    /// A person we can reach, subscribed, who has done nothing yet.
    pub fn new() -> Self {
        ContactFacts {
            last_window_action_at: None,
            last_message_at: None,
            reachable: true,
            subscribed: true,
            recent_bulk_sends: Vec::new(),
        }
    }
}

impl Default for ContactFacts {
    fn default() -> Self {
        Self::new()
    }
}
