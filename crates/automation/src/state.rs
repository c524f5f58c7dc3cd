//! What automations remember about one conversation between two events.

use serde::{Deserialize, Serialize};

/// Stored with the conversation; `Default` is a conversation automations have never touched.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AutomationState {
    /// False until the first event of a conversation was handled, and again after it is
    /// resolved: the next message starts a new conversation (instant reply).
    #[serde(default)]
    pub started: bool,
    /// Set while a human is wanted or working: automations stay silent until the conversation is
    /// resolved or the hand-over times out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handover: Option<Handover>,
    /// The guided flow the person is in, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flow: Option<FlowPosition>,
    /// Consecutive inputs nothing understood (outside and inside flows). Reset by anything
    /// recognised; at the channel's limit the bot hands over.
    #[serde(default)]
    pub unrecognised: u32,
    /// While closed, the away message was sent and covers the person until this time (epoch ms,
    /// the reopening): one away message per closed period, not one per message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub away_until: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Handover {
    /// Epoch ms when the conversation started waiting for a human.
    pub since: i64,
    pub reason: HandoverReason,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HandoverReason {
    /// The person asked for a human ("agent", "operatore", a menu item).
    Requested,
    /// Too many inputs the bot did not understand.
    Unrecognised,
    /// A flow or rule handed over.
    Automation,
    /// Another app passed thread control to the page inbox, or an agent took over.
    Agent,
}

/// Where a person is in a guided flow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowPosition {
    pub flow_id: String,
    /// The node waiting for the person's answer.
    pub node: String,
    /// Epoch ms the flow was entered; a flow left idle for a day is forgotten.
    pub since: i64,
    /// Unrecognised answers to the current question.
    #[serde(default)]
    pub retries: u32,
}
