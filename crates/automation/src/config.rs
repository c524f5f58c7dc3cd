//! A channel's automations, as one JSON document, and its validation.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use switchboard_domain::{ChannelKind, OutgoingMessage};

use crate::FieldError;
use crate::faq::Faq;
use crate::flow::Flow;
use crate::hours::BusinessHours;
use crate::localized::Localized;
use crate::rules::Rule;

/// The placeholder an away message may use for the computed reopening time.
pub const BACK_AT: &str = "{{back_at}}";
/// Messenger greeting text limit (A15).
pub const GREETING_LIMIT: usize = 160;
/// Postback payloads Switchboard itself understands.
pub const GET_STARTED_PAYLOAD: &str = "GET_STARTED";
pub const HUMAN_PAYLOAD: &str = "HUMAN";
pub const UNSUBSCRIBE_PAYLOAD: &str = "UNSUBSCRIBE";
pub const SUBSCRIBE_PAYLOAD: &str = "SUBSCRIBE";

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelAutomations {
    #[serde(default)]
    pub presentation: Presentation,
    /// When a person subscribes (Get Started, `/start`, their first message, or resubscribing).
    #[serde(default)]
    pub welcome: AutoMessage,
    /// When a person unsubscribes.
    #[serde(default)]
    pub goodbye: AutoMessage,
    /// The first answer in a new conversation: thanks, and when a human will answer.
    #[serde(default)]
    pub instant_reply: AutoMessage,
    /// When nothing else matched.
    #[serde(default)]
    pub default_reply: AutoMessage,
    /// Outside business hours; may say `{{back_at}}`, computed from the hours.
    #[serde(default)]
    pub away: AutoMessage,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub business_hours: Option<BusinessHours>,
    #[serde(default)]
    pub keywords: Keywords,
    #[serde(default)]
    pub handover: HandoverSettings,
    #[serde(default)]
    pub faq: Faq,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<Rule>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flows: Vec<Flow>,
}

/// An automatic message: on or off, with per-locale variants.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AutoMessage {
    #[serde(default)]
    pub enabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<Localized<OutgoingMessage>>,
}

impl AutoMessage {
    pub fn on(message: Localized<OutgoingMessage>) -> Self {
        AutoMessage {
            enabled: true,
            message: Some(message),
        }
    }

    /// The message to send, if this automation is on.
    pub fn active(&self) -> Option<&Localized<OutgoingMessage>> {
        self.message.as_ref().filter(|_| self.enabled)
    }
}

/// What a person sees before and when they first start.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Presentation {
    /// Messenger greeting (before the conversation starts, ≤ 160 characters per locale; may use
    /// Messenger's `{{user_first_name}}`) and Telegram bot description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub greeting: Option<Localized<String>>,
    /// Show the Get Started button (Messenger). Telegram always has `/start`.
    #[serde(default)]
    pub get_started: bool,
}

/// Words that do the same thing everywhere: unsubscribe, resubscribe, ask for a human.
/// Unsubscribe and resubscribe words must be the **whole** message (so "don't stop the deals"
/// does not unsubscribe); human words may appear anywhere in it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Keywords {
    #[serde(default = "default_unsubscribe")]
    pub unsubscribe: Localized<Vec<String>>,
    #[serde(default = "default_resubscribe")]
    pub resubscribe: Localized<Vec<String>>,
    #[serde(default = "default_human")]
    pub human: Localized<Vec<String>>,
}

impl Default for Keywords {
    fn default() -> Self {
        Keywords {
            unsubscribe: default_unsubscribe(),
            resubscribe: default_resubscribe(),
            human: default_human(),
        }
    }
}

fn words(list: &[&str]) -> Vec<String> {
    list.iter().map(|w| (*w).to_owned()).collect()
}

fn default_unsubscribe() -> Localized<Vec<String>> {
    Localized::new(words(&["stop", "unsubscribe"]))
        .with("id", words(&["berhenti", "stop", "unsubscribe"]))
        .with("it", words(&["annulla", "disiscrivimi", "stop"]))
        .with("fi", words(&["lopeta", "stop"]))
        .with("ar", words(&["إلغاء", "الغاء", "توقف", "stop"]))
}

fn default_resubscribe() -> Localized<Vec<String>> {
    Localized::new(words(&["start", "subscribe"]))
        .with("id", words(&["mulai", "langganan", "start"]))
        .with("it", words(&["iscrivimi", "riprendi", "start"]))
        .with("fi", words(&["tilaa", "aloita", "start"]))
        .with("ar", words(&["اشتراك", "ابدأ", "start"]))
}

fn default_human() -> Localized<Vec<String>> {
    Localized::new(words(&["agent", "human", "operator", "real person"]))
        .with(
            "id",
            words(&["agen", "manusia", "operator", "cs", "agent", "human"]),
        )
        .with(
            "it",
            words(&["operatore", "persona reale", "assistenza", "agent", "human"]),
        )
        .with(
            "fi",
            words(&["asiakaspalvelu", "ihminen", "agent", "human"]),
        )
        .with(
            "ar",
            words(&["موظف", "انسان", "خدمة العملاء", "agent", "human"]),
        )
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HandoverSettings {
    /// Unrecognised inputs in a row before the bot steps back for a human.
    #[serde(default = "default_max_unrecognised")]
    pub max_unrecognised: u32,
    /// Automations resume by themselves this long after a hand-over nobody resolved.
    #[serde(default = "default_timeout_minutes")]
    pub timeout_minutes: u32,
    /// Said when handing over ("A colleague will answer you here shortly.").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<Localized<OutgoingMessage>>,
}

fn default_max_unrecognised() -> u32 {
    3
}

fn default_timeout_minutes() -> u32 {
    24 * 60
}

impl Default for HandoverSettings {
    fn default() -> Self {
        HandoverSettings {
            max_unrecognised: default_max_unrecognised(),
            timeout_minutes: default_timeout_minutes(),
            message: None,
        }
    }
}

/// `[a-z0-9_]{1,32}`: ids of rules, flows, FAQ entries; attribute keys.
pub fn is_id(s: &str) -> bool {
    (1..=32).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// Every variant of a message must fit both platforms (a channel's automations may be copied to
/// another channel; the stricter rule is the safe one).
pub fn check_message(message: &Localized<OutgoingMessage>) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for (key, variant) in message.variants() {
        let prefix = Localized::<()>::path_of(key);
        let mut seen = BTreeSet::new();
        for kind in [ChannelKind::Messenger, ChannelKind::Telegram] {
            if let Err(violations) = variant.check(kind) {
                for v in violations {
                    let field = format!("{prefix}.{}", v.path);
                    if seen.insert((field.clone(), v.message.clone())) {
                        errors.push(FieldError::new(field, v.message));
                    }
                }
            }
        }
    }
    errors
}

impl ChannelAutomations {
    /// Every mistake, each with the path of its field.
    pub fn validate(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        for (name, auto) in [
            ("welcome", &self.welcome),
            ("goodbye", &self.goodbye),
            ("instant_reply", &self.instant_reply),
            ("default_reply", &self.default_reply),
            ("away", &self.away),
        ] {
            match &auto.message {
                Some(m) => errors.extend(
                    check_message(&without_back_at(m))
                        .into_iter()
                        .map(|e| e.under(&format!("{name}.message"))),
                ),
                None if auto.enabled => errors.push(FieldError::new(
                    format!("{name}.message"),
                    "an enabled automatic message needs a message",
                )),
                None => {}
            }
        }
        if self.away.enabled && self.business_hours.is_none() {
            errors.push(FieldError::new(
                "business_hours",
                "the away message needs business hours to know when the team is away",
            ));
        }
        if let Some(hours) = &self.business_hours {
            errors.extend(
                hours
                    .validate()
                    .into_iter()
                    .map(|e| e.under("business_hours")),
            );
        }
        if let Some(greeting) = &self.presentation.greeting {
            for (key, text) in greeting.variants() {
                let n = text.chars().count();
                if n == 0 || n > GREETING_LIMIT {
                    errors.push(FieldError::new(
                        format!("presentation.greeting.{}", Localized::<()>::path_of(key)),
                        format!("a greeting is 1–{GREETING_LIMIT} characters, this is {n}"),
                    ));
                }
            }
        }
        if self.handover.max_unrecognised == 0 {
            errors.push(FieldError::new(
                "handover.max_unrecognised",
                "must be at least 1",
            ));
        }
        if let Some(m) = &self.handover.message {
            errors.extend(
                check_message(m)
                    .into_iter()
                    .map(|e| e.under("handover.message")),
            );
        }
        errors.extend(self.faq.validate().into_iter().map(|e| e.under("faq")));
        let flow_ids: BTreeSet<&str> = self.flows.iter().map(|f| f.id.as_str()).collect();
        let mut seen_rules = BTreeSet::new();
        for (i, rule) in self.rules.iter().enumerate() {
            let at = format!("rules[{i}]");
            if !seen_rules.insert(rule.id.as_str()) {
                errors.push(FieldError::new(format!("{at}.id"), "duplicate rule id"));
            }
            errors.extend(rule.validate(&flow_ids).into_iter().map(|e| e.under(&at)));
        }
        let mut seen_flows = BTreeSet::new();
        for (i, flow) in self.flows.iter().enumerate() {
            let at = format!("flows[{i}]");
            if !seen_flows.insert(flow.id.as_str()) {
                errors.push(FieldError::new(format!("{at}.id"), "duplicate flow id"));
            }
            errors.extend(flow.validate().into_iter().map(|e| e.under(&at)));
        }
        errors
    }
}

/// The away message with `{{back_at}}` filled by a sample, so the rest can be checked.
fn without_back_at(m: &Localized<OutgoingMessage>) -> Localized<OutgoingMessage> {
    let fill = |msg: &OutgoingMessage| {
        msg.map_texts(|_, t| Ok::<_, ()>(t.replace(BACK_AT, "tomorrow at 09:00")))
            .unwrap_or_else(|_| msg.clone())
    };
    Localized {
        default: fill(&m.default),
        locales: m
            .locales
            .iter()
            .map(|(k, v)| (k.clone(), fill(v)))
            .collect(),
    }
}

impl ChannelAutomations {
    /// Every message these automations can send, with its field path and the locale key of the
    /// variant (`default`, `it`, …): what is linted and template-checked when they are saved.
    pub fn messages(&self) -> Vec<(String, &str, &OutgoingMessage)> {
        let mut out = Vec::new();
        fn push<'a>(
            out: &mut Vec<(String, &'a str, &'a OutgoingMessage)>,
            path: String,
            m: &'a Localized<OutgoingMessage>,
        ) {
            for (key, variant) in m.variants() {
                out.push((
                    format!("{path}.{}", Localized::<()>::path_of(key)),
                    key,
                    variant,
                ));
            }
        }
        for (name, auto) in [
            ("welcome", &self.welcome),
            ("goodbye", &self.goodbye),
            ("instant_reply", &self.instant_reply),
            ("default_reply", &self.default_reply),
            ("away", &self.away),
        ] {
            if let Some(m) = &auto.message {
                push(&mut out, format!("{name}.message"), m);
            }
        }
        if let Some(m) = &self.handover.message {
            push(&mut out, "handover.message".into(), m);
        }
        for (i, entry) in self.faq.entries.iter().enumerate() {
            push(&mut out, format!("faq[{i}].answer"), &entry.answer);
        }
        for (i, rule) in self.rules.iter().enumerate() {
            for (j, action) in rule.actions.iter().enumerate() {
                if let crate::rules::Action::SendMessage { message } = action {
                    push(
                        &mut out,
                        format!("rules[{i}].actions[{j}].message"),
                        message,
                    );
                }
            }
        }
        for (i, flow) in self.flows.iter().enumerate() {
            for (id, node) in &flow.nodes {
                let message = match node {
                    crate::flow::Node::Say { message, .. }
                    | crate::flow::Node::Ask { message, .. } => Some(message),
                    crate::flow::Node::HandOver { message }
                    | crate::flow::Node::End { message } => message.as_ref(),
                    crate::flow::Node::Act { .. } => None,
                };
                if let Some(m) = message {
                    push(&mut out, format!("flows[{i}].nodes.{id}.message"), m);
                }
            }
        }
        out
    }
}
