//! What the engine answers: a messaging type to send with, or the named rule that refused.

use std::fmt;

use serde::{Deserialize, Serialize};

/// How a permitted message goes out.
///
/// Messenger requires one of its `messaging_type`s on every Send API call (A7); Telegram has no
/// such notion, so its profiles answer [`MessagingType::NotApplicable`] rather than pretending a
/// Telegram message is a `RESPONSE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessagingType {
    /// Inside the standard window, answering the person (reply lane).
    Response,
    /// Inside the standard window, proactive (bulk lane).
    Update,
    /// Outside the window under a message tag (the decision carries the tag).
    MessageTag,
    /// An approved, non-promotional utility template.
    Utility,
    /// The platform has no messaging types (Telegram).
    NotApplicable,
}

impl MessagingType {
    pub fn as_str(self) -> &'static str {
        match self {
            MessagingType::Response => "response",
            MessagingType::Update => "update",
            MessagingType::MessageTag => "message_tag",
            MessagingType::Utility => "utility",
            MessagingType::NotApplicable => "not_applicable",
        }
    }

    /// The Graph API `messaging_type` value, if the platform has one.
    pub fn graph_value(self) -> Option<&'static str> {
        match self {
            MessagingType::Response => Some("RESPONSE"),
            MessagingType::Update => Some("UPDATE"),
            MessagingType::MessageTag => Some("MESSAGE_TAG"),
            MessagingType::Utility => Some("UTILITY"),
            MessagingType::NotApplicable => None,
        }
    }
}

macro_rules! rule_ids {
    ($($(#[$doc:meta])* $variant:ident => $name:literal,)*) => {
        /// The stable name of the rule behind a refusal.
        ///
        /// These names are identifiers: they are stored with refused messages, shown to users
        /// and matched by API clients, so a name never changes meaning. Profiles change which
        /// rules fire and with which numbers; the names stay.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum RuleId {
            $($(#[$doc])* $variant,)*
        }

        impl RuleId {
            /// Every rule, for documentation and exhaustive tests.
            pub const ALL: &'static [RuleId] = &[$(RuleId::$variant,)*];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(RuleId::$variant => $name,)*
                }
            }

            pub fn parse(s: &str) -> Option<Self> {
                match s {
                    $($name => Some(RuleId::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

rule_ids! {
    /// The profile is for another platform than the channel the message is for.
    WrongPlatform => "wrong_platform",
    /// The person blocked us or cannot receive messages (Messenger 551/1545041, Telegram 403).
    RecipientUnreachable => "recipient_unreachable",
    /// The person unsubscribed; only non-promotional replies may still reach them.
    RecipientUnsubscribed => "recipient_unsubscribed",
    /// Outside the standard window with nothing (tag, utility template) that permits sending.
    WindowClosed => "window_closed",
    /// Promotional content outside the standard window: nothing permits it.
    PromotionalOutsideWindow => "promotional_outside_window",
    /// The requested tag is not known to the profile.
    UnknownTag => "unknown_tag",
    /// The requested tag is retired or deprecated in this profile.
    TagRefused => "tag_refused",
    /// Tags may never carry promotional content (A8).
    TagNotAllowedForPromotional => "tag_not_allowed_for_promotional",
    /// The requested tag is past its maximum age.
    TagExpired => "tag_expired",
    /// The human-agent tag is for replies written by a person on the team.
    HumanAgentOnlyForAgents => "human_agent_only_for_agents",
    /// The channel lacks the Human Agent permission.
    HumanAgentPermissionMissing => "human_agent_permission_missing",
    /// The person's last message is older than the human-agent period.
    HumanAgentExpired => "human_agent_expired",
    /// The profile has no utility templates, or not outside the window.
    UtilityNotAllowed => "utility_not_allowed",
    /// Utility templates must not contain marketing.
    UtilityNotAllowedForPromotional => "utility_not_allowed_for_promotional",
    /// The channel lacks the utility messaging permission (`page_utility_messaging`).
    UtilityPermissionMissing => "utility_permission_missing",
    /// The contact already got the profile's maximum of bulk messages in the cap's period.
    FrequencyCap => "frequency_cap",
}

impl fmt::Display for RuleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The engine's answer for one message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum PolicyDecision {
    Allow {
        messaging_type: MessagingType,
        /// Set exactly when `messaging_type` is [`MessagingType::MessageTag`].
        #[serde(default, skip_serializing_if = "Option::is_none")]
        tag: Option<String>,
    },
    Deny {
        rule: RuleId,
        /// For people: starts with the profile and its version ("meta-2026 v1: …").
        explanation: String,
    },
}

impl PolicyDecision {
    pub fn is_allowed(&self) -> bool {
        matches!(self, PolicyDecision::Allow { .. })
    }

    /// The refusing rule, if refused.
    pub fn rule(&self) -> Option<RuleId> {
        match self {
            PolicyDecision::Allow { .. } => None,
            PolicyDecision::Deny { rule, .. } => Some(*rule),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_names_round_trip_and_are_snake_case() {
        for &rule in RuleId::ALL {
            assert_eq!(RuleId::parse(rule.as_str()), Some(rule));
            let json = serde_json::to_string(&rule).unwrap();
            assert_eq!(json, format!("\"{}\"", rule.as_str()));
            assert!(
                rule.as_str()
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b == b'_')
            );
        }
    }
}
