//! Guided flows (bots) as data: nodes that say things, ask and wait, branch on the answer,
//! capture it into a contact attribute, tag, and end by handing over or closing politely.
//!
//! A step runs from a node until it must wait for the person (an `ask`), hands over, or ends.
//! At most [`MAX_NODES_PER_STEP`] nodes run in one step, and validation refuses cycles that do not
//! pass through an `ask`, so a flow can never loop on its own.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use switchboard_domain::OutgoingMessage;

use crate::FieldError;
use crate::localized::Localized;
use crate::state::{FlowPosition, HandoverReason};
use crate::text;

pub const MAX_NODES_PER_STEP: usize = 20;
/// A flow nobody answered for this long is forgotten; the next message starts afresh.
pub const IDLE_EXPIRY_MS: i64 = 24 * 3600 * 1000;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Flow {
    /// Stable id, `[a-z0-9_]{1,32}`.
    pub id: String,
    pub name: String,
    /// Who the bot appears to be (Messenger persona: name and avatar).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persona: Option<Persona>,
    /// What starts the flow besides a rule's `start_flow`.
    #[serde(default)]
    pub triggers: FlowTriggers,
    pub start: String,
    pub nodes: BTreeMap<String, Node>,
}

pub use switchboard_domain::Persona;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FlowTriggers {
    /// Postback / quick-reply payloads (a menu item, a button).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub payloads: Vec<String>,
    /// m.me `ref` / Telegram `/start` parameters.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub refs: Vec<String>,
    /// Words or phrases, per language, that start the flow from free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keywords: Option<Localized<Vec<String>>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Node {
    /// Says something and goes on.
    Say {
        message: Localized<OutgoingMessage>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        next: Option<String>,
    },
    /// Asks and waits for the answer.
    Ask {
        message: Localized<OutgoingMessage>,
        /// Stores the answer in a contact attribute (validated by kind).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        capture: Option<Capture>,
        /// Tried in order; the first that matches decides the next node.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        branches: Vec<Branch>,
        /// Where any other acceptable answer goes. Without it, an answer no branch matches (and
        /// no capture accepts) is unrecognised and the question is asked again.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        next: Option<String>,
    },
    /// Tags and attributes, then goes on.
    Act {
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        add_tags: Vec<String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        remove_tags: Vec<String>,
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        set_attributes: BTreeMap<String, String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        next: Option<String>,
    },
    /// Hands the conversation to a human (optionally saying so).
    HandOver {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message: Option<Localized<OutgoingMessage>>,
    },
    /// Ends the flow (optionally saying goodbye).
    End {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message: Option<Localized<OutgoingMessage>>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capture {
    /// Contact attribute key.
    pub attribute: String,
    #[serde(default)]
    pub kind: CaptureKind,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaptureKind {
    #[default]
    Text,
    Email,
    Phone,
    Number,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Branch {
    #[serde(flatten)]
    pub when: When,
    pub next: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum When {
    /// A tapped quick reply or button.
    Payload { payload: String },
    /// Typed text containing any of these words or phrases (per language).
    Text { text: Localized<Vec<String>> },
}

/// What a step of a flow produces.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Step {
    pub messages: Vec<OutgoingMessage>,
    pub effects: Vec<FlowEffect>,
    /// Where the flow waits now; `None` when it ended or handed over.
    pub position: Option<FlowPosition>,
    /// The person's answer was not understood (the question is asked again).
    pub unrecognised: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FlowEffect {
    AddTag(String),
    RemoveTag(String),
    SetAttribute { key: String, value: String },
    HandOver(HandoverReason),
}

/// The person's answer to an `ask`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Answer<'a> {
    pub text: Option<&'a str>,
    /// Quick-reply or button payload (a Messenger email/phone quick reply carries the value).
    pub payload: Option<&'a str>,
}

impl Flow {
    /// Enters the flow at its start.
    pub fn start(&self, locale: Option<&str>, now_ms: i64) -> Step {
        let mut step = Step::default();
        self.run_from(&self.start, locale, now_ms, &mut step);
        step
    }

    /// Takes the person's answer at `position` (an `ask` node). `max_retries` unrecognised answers
    /// in a row hand over to a human.
    pub fn answer(
        &self,
        position: &FlowPosition,
        answer: Answer<'_>,
        locale: Option<&str>,
        max_retries: u32,
        now_ms: i64,
    ) -> Step {
        let mut step = Step::default();
        let Some(Node::Ask {
            message,
            capture,
            branches,
            next,
        }) = self.nodes.get(&position.node)
        else {
            // The flow was edited and the node is gone: end quietly rather than guess.
            return step;
        };
        let language = locale.map(crate::localized::normalise_locale);
        let branch = branches.iter().find(|b| match &b.when {
            When::Payload { payload } => answer.payload == Some(payload.as_str()),
            When::Text { text: words } => answer.text.is_some_and(|t| {
                words
                    .pick(language.as_deref())
                    .iter()
                    .chain(words.default.iter())
                    .any(|w| text::contains_phrase(t, w))
            }),
        });
        let captured = capture.as_ref().and_then(|c| {
            let raw = answer.payload.or(answer.text)?;
            accept(c.kind, raw).map(|value| (c.attribute.clone(), value))
        });
        let target = match (branch, &captured, next) {
            (Some(b), _, _) => Some(b.next.clone()),
            // Captured, or any answer accepted.
            (None, Some(_), Some(n)) => Some(n.clone()),
            (None, None, Some(n)) if capture.is_none() => Some(n.clone()),
            (None, Some(_), None) => None,
            _ => {
                // Not understood: ask again, or step back for a human.
                step.unrecognised = true;
                let retries = position.retries + 1;
                if retries >= max_retries {
                    step.effects
                        .push(FlowEffect::HandOver(HandoverReason::Unrecognised));
                } else {
                    step.messages.push(message.pick(locale).clone());
                    step.position = Some(FlowPosition {
                        retries,
                        ..position.clone()
                    });
                }
                return step;
            }
        };
        if let Some((key, value)) = captured {
            step.effects.push(FlowEffect::SetAttribute { key, value });
        }
        if let Some(target) = target {
            self.run_from(&target, locale, now_ms, &mut step);
        }
        step
    }

    fn run_from(&self, from: &str, locale: Option<&str>, now_ms: i64, step: &mut Step) {
        let mut current = Some(from.to_owned());
        for _ in 0..MAX_NODES_PER_STEP {
            let Some(id) = current.take() else { return };
            let Some(node) = self.nodes.get(&id) else {
                return;
            };
            match node {
                Node::Say { message, next } => {
                    step.messages.push(message.pick(locale).clone());
                    current = next.clone();
                }
                Node::Ask { message, .. } => {
                    step.messages.push(message.pick(locale).clone());
                    step.position = Some(FlowPosition {
                        flow_id: self.id.clone(),
                        node: id,
                        since: now_ms,
                        retries: 0,
                    });
                    return;
                }
                Node::Act {
                    add_tags,
                    remove_tags,
                    set_attributes,
                    next,
                } => {
                    step.effects
                        .extend(add_tags.iter().cloned().map(FlowEffect::AddTag));
                    step.effects
                        .extend(remove_tags.iter().cloned().map(FlowEffect::RemoveTag));
                    step.effects.extend(set_attributes.iter().map(|(k, v)| {
                        FlowEffect::SetAttribute {
                            key: k.clone(),
                            value: v.clone(),
                        }
                    }));
                    current = next.clone();
                }
                Node::HandOver { message } => {
                    if let Some(m) = message {
                        step.messages.push(m.pick(locale).clone());
                    }
                    step.effects
                        .push(FlowEffect::HandOver(HandoverReason::Automation));
                    return;
                }
                Node::End { message } => {
                    if let Some(m) = message {
                        step.messages.push(m.pick(locale).clone());
                    }
                    return;
                }
            }
        }
    }

    /// Whether free text, a payload or a referral starts this flow.
    pub fn triggered_by(
        &self,
        text_in: Option<&str>,
        payload: Option<&str>,
        referral: Option<&str>,
        locale: Option<&str>,
    ) -> bool {
        let t = &self.triggers;
        payload.is_some_and(|p| t.payloads.iter().any(|x| x == p))
            || referral.is_some_and(|r| t.refs.iter().any(|x| x == r))
            || match (&t.keywords, text_in) {
                (Some(words), Some(input)) => words
                    .pick(locale)
                    .iter()
                    .chain(words.default.iter())
                    .any(|w| text::contains_phrase(input, w)),
                _ => false,
            }
    }

    pub fn validate(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        if !crate::config::is_id(&self.id) {
            errors.push(FieldError::new("id", "an id is 1–32 of a-z, 0-9 and _"));
        }
        if self.name.trim().is_empty() {
            errors.push(FieldError::new("name", "a flow needs a name"));
        }
        if !self.nodes.contains_key(&self.start) {
            errors.push(FieldError::new(
                "start",
                format!("no node {:?} in nodes", self.start),
            ));
        }
        if let Some(p) = &self.persona
            && (p.name.trim().is_empty() || p.name.chars().count() > 64)
        {
            errors.push(FieldError::new(
                "persona.name",
                "a persona name is 1–64 characters",
            ));
        }
        if let Some(url) = self.persona.as_ref().and_then(|p| p.avatar_url.as_deref())
            && !url.starts_with("https://")
        {
            errors.push(FieldError::new(
                "persona.avatar_url",
                "the persona's picture must be an https:// URL (Meta fetches it)",
            ));
        }
        let link = |errors: &mut Vec<FieldError>, at: String, target: &Option<String>| {
            if let Some(t) = target
                && !self.nodes.contains_key(t)
            {
                errors.push(FieldError::new(at, format!("no node {t:?} in nodes")));
            }
        };
        for (id, node) in &self.nodes {
            let at = format!("nodes.{id}");
            let message = |m: &Localized<OutgoingMessage>, errors: &mut Vec<FieldError>| {
                errors.extend(
                    crate::config::check_message(m)
                        .into_iter()
                        .map(|e| e.under(&format!("{at}.message"))),
                );
            };
            match node {
                Node::Say { message: m, next } => {
                    message(m, &mut errors);
                    link(&mut errors, format!("{at}.next"), next);
                }
                Node::Ask {
                    message: m,
                    capture,
                    branches,
                    next,
                } => {
                    message(m, &mut errors);
                    link(&mut errors, format!("{at}.next"), next);
                    for (i, b) in branches.iter().enumerate() {
                        link(
                            &mut errors,
                            format!("{at}.branches[{i}].next"),
                            &Some(b.next.clone()),
                        );
                    }
                    if let Some(c) = capture
                        && !crate::config::is_id(&c.attribute)
                    {
                        errors.push(FieldError::new(
                            format!("{at}.capture.attribute"),
                            "an attribute key is 1–32 of a-z, 0-9 and _",
                        ));
                    }
                    if branches.is_empty() && next.is_none() && capture.is_none() {
                        errors.push(FieldError::new(
                            at.clone(),
                            "an ask needs branches, a capture or a next node",
                        ));
                    }
                }
                Node::Act {
                    set_attributes,
                    next,
                    ..
                } => {
                    link(&mut errors, format!("{at}.next"), next);
                    for key in set_attributes.keys() {
                        if !crate::config::is_id(key) {
                            errors.push(FieldError::new(
                                format!("{at}.set_attributes.{key}"),
                                "an attribute key is 1–32 of a-z, 0-9 and _",
                            ));
                        }
                    }
                }
                Node::HandOver { message: Some(m) } | Node::End { message: Some(m) } => {
                    message(m, &mut errors)
                }
                Node::HandOver { message: None } | Node::End { message: None } => {}
            }
        }
        if let Some(cycle) = self.silent_cycle() {
            errors.push(FieldError::new(
                format!("nodes.{cycle}"),
                "this node can reach itself without asking anything: the flow would loop",
            ));
        }
        errors
    }

    /// A node on a cycle of `say`/`act` nodes (no `ask` to wait on), if any.
    fn silent_cycle(&self) -> Option<String> {
        let next_silent = |id: &str| -> Option<&str> {
            match self.nodes.get(id)? {
                Node::Say { next, .. } | Node::Act { next, .. } => next.as_deref(),
                _ => None,
            }
        };
        for start in self.nodes.keys() {
            let mut seen = BTreeSet::new();
            let mut at = Some(start.as_str());
            while let Some(id) = at {
                if !seen.insert(id) {
                    return Some(id.to_owned());
                }
                at = next_silent(id);
            }
        }
        None
    }
}

/// Checks and tidies an answer to capture; `None` when it is not acceptable.
pub fn accept(kind: CaptureKind, raw: &str) -> Option<String> {
    let value = raw.trim();
    if value.is_empty() || value.chars().count() > 500 {
        return None;
    }
    match kind {
        CaptureKind::Text => Some(value.to_owned()),
        CaptureKind::Email => {
            let (user, domain) = value.split_once('@')?;
            let ok = !user.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !value.chars().any(char::is_whitespace);
            ok.then(|| value.to_lowercase())
        }
        CaptureKind::Phone => {
            let digits: String = value.chars().filter(char::is_ascii_digit).collect();
            let allowed = value
                .chars()
                .all(|c| c.is_ascii_digit() || " +-().".contains(c));
            (allowed && (7..=15).contains(&digits.len())).then(|| {
                if value.starts_with('+') {
                    format!("+{digits}")
                } else {
                    digits
                }
            })
        }
        CaptureKind::Number => {
            // Budgets are typed as "50", "50€", "€ 49,90", "Rp 100.000": keep the number.
            let cleaned: String = value
                .chars()
                .filter(|c| c.is_ascii_digit() || *c == '.' || *c == ',')
                .collect();
            let has_digit = cleaned.chars().any(|c| c.is_ascii_digit());
            has_digit.then_some(cleaned)
        }
    }
}

/// The reference flow shipped with Switchboard (and run by the demo): a gift finder that asks
/// who the gift is for and the budget, suggests products as a carousel, and closes politely.
pub fn gift_finder() -> Flow {
    serde_json::from_str(include_str!("../reference/gift_finder.json"))
        .expect("the shipped reference flow parses")
}
