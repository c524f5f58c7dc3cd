//! Keyword rules: when *this* happens and *these* hold, do *that*.
//!
//! Rules are evaluated in order and the **first** whose trigger and conditions all match runs its
//! actions; later rules are not looked at. First-match keeps the outcome predictable for the
//! person writing the rules and guarantees one answer per event.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use switchboard_domain::{ChannelKind, OutgoingMessage};

use crate::FieldError;
use crate::localized::Localized;
use crate::text;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    /// Stable id, `[a-z0-9_]{1,32}`.
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default = "yes")]
    pub enabled: bool,
    pub trigger: Trigger,
    #[serde(default)]
    pub conditions: Vec<Condition>,
    pub actions: Vec<Action>,
}

fn yes() -> bool {
    true
}

/// What happened. One inbound event can be several at once (a new person's first message is
/// `subscribed`, `conversation_opened` and `message_received`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    MessageReceived,
    Postback,
    /// An m.me `ref`, an ad, or a Telegram `/start <param>`.
    Referral,
    Subscribed,
    Unsubscribed,
    ConversationOpened,
    ConversationResolved,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Condition {
    /// The text contains any of these words or phrases (whole words, accents and case ignored).
    TextContains {
        any_of: Vec<String>,
    },
    /// The whole text is one of these (accents, case and punctuation ignored).
    TextEquals {
        any_of: Vec<String>,
    },
    /// A regular expression over the raw text.
    TextMatches {
        pattern: String,
    },
    /// The postback or quick-reply payload is exactly this.
    Payload {
        equals: String,
    },
    /// The referral (`ref`, `/start` parameter) is exactly this.
    Referral {
        equals: String,
    },
    Channel {
        kind: ChannelKind,
    },
    HasTag {
        tag: String,
    },
    LacksTag {
        tag: String,
    },
    /// The contact's attribute equals this value; `equals: null` means the attribute is unset.
    Attribute {
        key: String,
        equals: Option<String>,
    },
    /// Inside (`true`) or outside (`false`) the channel's business hours.
    BusinessHours {
        open: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Action {
    SendMessage {
        message: Localized<OutgoingMessage>,
    },
    AddTag {
        tag: String,
    },
    RemoveTag {
        tag: String,
    },
    SetAttribute {
        key: String,
        value: String,
    },
    /// Assigns the conversation to a team member (by their id in Switchboard).
    Assign {
        to: String,
    },
    StartFlow {
        flow_id: String,
    },
    HandOver,
    Subscribe,
    Unsubscribe,
    /// POSTs the event to a URL, signed with the channel's automation secret.
    CallWebhook {
        url: String,
    },
}

/// What a rule's conditions can see.
#[derive(Debug, Clone, Copy)]
pub struct RuleInput<'a> {
    pub text: Option<&'a str>,
    pub payload: Option<&'a str>,
    pub referral: Option<&'a str>,
    pub channel: ChannelKind,
    pub tags: &'a BTreeSet<String>,
    pub attributes: &'a BTreeMap<String, String>,
    /// `None` when the channel has no business hours (always open).
    pub open: Option<bool>,
}

impl Condition {
    pub fn holds(&self, input: &RuleInput<'_>) -> bool {
        match self {
            Condition::TextContains { any_of } => input
                .text
                .is_some_and(|t| any_of.iter().any(|p| text::contains_phrase(t, p))),
            Condition::TextEquals { any_of } => input.text.is_some_and(|t| {
                let t = text::normalise(t);
                any_of.iter().any(|p| text::normalise(p) == t)
            }),
            Condition::TextMatches { pattern } => {
                match (input.text, regex_lite::Regex::new(pattern)) {
                    (Some(t), Ok(re)) => re.is_match(t),
                    _ => false,
                }
            }
            Condition::Payload { equals } => input.payload == Some(equals.as_str()),
            Condition::Referral { equals } => input.referral == Some(equals.as_str()),
            Condition::Channel { kind } => input.channel == *kind,
            Condition::HasTag { tag } => input.tags.contains(tag),
            Condition::LacksTag { tag } => !input.tags.contains(tag),
            Condition::Attribute { key, equals } => input.attributes.get(key) == equals.as_ref(),
            Condition::BusinessHours { open } => input.open.unwrap_or(true) == *open,
        }
    }
}

impl Rule {
    pub fn matches(&self, triggers: &BTreeSet<Trigger>, input: &RuleInput<'_>) -> bool {
        self.enabled
            && triggers.contains(&self.trigger)
            && self.conditions.iter().all(|c| c.holds(input))
    }

    pub fn validate(&self, flow_ids: &BTreeSet<&str>) -> Vec<FieldError> {
        let mut errors = Vec::new();
        if !crate::config::is_id(&self.id) {
            errors.push(FieldError::new("id", "an id is 1–32 of a-z, 0-9 and _"));
        }
        if self.actions.is_empty() {
            errors.push(FieldError::new(
                "actions",
                "a rule needs at least one action",
            ));
        }
        for (i, c) in self.conditions.iter().enumerate() {
            let at = format!("conditions[{i}]");
            match c {
                Condition::TextMatches { pattern } => {
                    if let Err(e) = regex_lite::Regex::new(pattern) {
                        errors.push(FieldError::new(format!("{at}.pattern"), e.to_string()));
                    }
                }
                Condition::TextContains { any_of } | Condition::TextEquals { any_of }
                    if any_of.iter().all(|p| text::normalise(p).is_empty()) =>
                {
                    errors.push(FieldError::new(
                        format!("{at}.any_of"),
                        "give at least one word or phrase",
                    ));
                }
                _ => {}
            }
        }
        let sends = self
            .actions
            .iter()
            .filter(|a| matches!(a, Action::SendMessage { .. } | Action::StartFlow { .. }))
            .count();
        if sends > 1 {
            errors.push(FieldError::new(
                "actions",
                "a rule answers once: at most one send_message or start_flow",
            ));
        }
        for (i, a) in self.actions.iter().enumerate() {
            let at = format!("actions[{i}]");
            match a {
                Action::SendMessage { message } => {
                    errors.extend(
                        crate::config::check_message(message)
                            .into_iter()
                            .map(|e| e.under(&format!("{at}.message"))),
                    );
                }
                Action::StartFlow { flow_id } if !flow_ids.contains(flow_id.as_str()) => {
                    errors.push(FieldError::new(
                        format!("{at}.flow_id"),
                        format!("no flow with id {flow_id:?}"),
                    ));
                }
                Action::SetAttribute { key, .. } if !crate::config::is_id(key) => {
                    errors.push(FieldError::new(
                        format!("{at}.key"),
                        "an attribute key is 1–32 of a-z, 0-9 and _",
                    ));
                }
                Action::AddTag { tag } | Action::RemoveTag { tag }
                    if tag.trim().is_empty() || tag.chars().count() > 64 =>
                {
                    errors.push(FieldError::new(
                        format!("{at}.tag"),
                        "a tag is 1–64 characters",
                    ));
                }
                Action::CallWebhook { url }
                    if !url.starts_with("https://") && !url.starts_with("http://") =>
                {
                    errors.push(FieldError::new(
                        format!("{at}.url"),
                        "an absolute http(s) URL is required",
                    ));
                }
                _ => {}
            }
        }
        errors
    }
}
