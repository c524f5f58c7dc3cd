//! One inbound event in, at most one answer out.
//!
//! Precedence, first that applies wins the answer:
//!
//! 1. **Unsubscribe** (`stop`, `berhenti`, `annulla`, … as the whole message, or the UNSUBSCRIBE
//!    payload): the person leaves, with the goodbye message. This works even while a human has
//!    the conversation — opting out must never depend on who is answering.
//! 2. **Resubscribe** (an unsubscribed person says `start`, …): back in, with the welcome.
//! 3. **Hand-over state**: a human has the conversation; automations stay silent until it is
//!    resolved or the hand-over times out.
//! 4. **Asking for a human** (`agent`, `operatore`, the HUMAN payload): hand-over.
//! 5. **Active flow**: the answer to the bot's question.
//! 6. **Flow triggers** (a payload, `ref` or keyword that starts a flow).
//! 7. **Keyword rules**, first match.
//! 8. **FAQ** (command, ice-breaker payload, or matched question).
//! 9. **Welcome** for a new or explicitly starting person.
//! 10. **Away** outside business hours (once per closed period), saying when the team is back.
//! 11. **Instant reply** in a new conversation.
//! 12. **Default reply** when nothing matched.
//!
//! Free text that nothing from 4 to 8 understood counts as unrecognised; at the channel's limit
//! the bot hands over instead of answering again. Automations react only to what people do,
//! never to messages we send, and their actions raise no further events: there are no loops.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use switchboard_domain::{AuthorKind, ChannelKind, OutgoingMessage};

use crate::config::{
    BACK_AT, ChannelAutomations, GET_STARTED_PAYLOAD, HUMAN_PAYLOAD, SUBSCRIBE_PAYLOAD,
    UNSUBSCRIBE_PAYLOAD,
};
use crate::flow::{self, Flow, FlowEffect, Persona, Step};
use crate::hours::Availability;
use crate::localized::{Localized, normalise_locale};
use crate::rules::{Action, RuleInput, Trigger};
use crate::state::{AutomationState, Handover, HandoverReason};
use crate::text;

/// What the person did, as automations see it.
#[derive(Debug, Clone, Copy)]
pub struct Inbound<'a> {
    pub channel: ChannelKind,
    /// Typed text (or a Telegram command); `None` for taps and attachments.
    pub text: Option<&'a str>,
    /// A tapped button, quick reply or Get Started (its payload).
    pub payload: Option<&'a str>,
    /// An m.me `ref`, ad, or Telegram `/start` parameter.
    pub referral: Option<&'a str>,
    /// This event created the contact.
    pub new_contact: bool,
}

/// What we know about the person.
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    pub locale: Option<&'a str>,
    pub subscribed: bool,
    pub tags: &'a BTreeSet<String>,
    pub attributes: &'a BTreeMap<String, String>,
}

/// Which automation answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AnswerSource {
    Goodbye,
    Welcome,
    Handover,
    Flow { flow_id: String },
    Rule { rule_id: String },
    Faq { faq_id: String },
    Away,
    InstantReply,
    DefaultReply,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub source: AnswerSource,
    /// `Bot` for flows, `Automation` otherwise.
    pub author: AuthorKind,
    pub persona: Option<Persona>,
    /// One or more messages, sent in order (a flow may say something, then ask).
    pub messages: Vec<OutgoingMessage>,
}

/// A change the server applies with the answer, in the same transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Effect {
    Subscribe,
    Unsubscribe,
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
    Assign {
        to: String,
    },
    /// The conversation now waits for a human.
    HandOver {
        reason: HandoverReason,
    },
    CallWebhook {
        url: String,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub answer: Option<Answer>,
    pub effects: Vec<Effect>,
    pub state: AutomationState,
}

struct Ctx<'a> {
    /// The first event since the conversation started or was resolved.
    new_conversation: bool,
    config: &'a ChannelAutomations,
    inbound: &'a Inbound<'a>,
    facts: &'a Facts<'a>,
    locale: Option<String>,
    now: jiff::Timestamp,
    now_ms: i64,
}

/// Decides the automatic answer to one inbound event.
pub fn respond(
    config: &ChannelAutomations,
    inbound: &Inbound<'_>,
    facts: &Facts<'_>,
    state: &AutomationState,
    now: jiff::Timestamp,
) -> Outcome {
    let ctx = Ctx {
        new_conversation: !state.started,
        config,
        inbound,
        facts,
        locale: facts.locale.map(normalise_locale),
        now,
        now_ms: now.as_millisecond(),
    };
    let mut out = Outcome {
        answer: None,
        effects: Vec::new(),
        state: state.clone(),
    };
    ctx.expire(&mut out.state);
    out.state.started = true;

    if ctx.wants_unsubscribe() {
        if facts.subscribed {
            out.effects.push(Effect::Unsubscribe);
            out.state.flow = None;
            out.answer = ctx.auto(&config.goodbye, AnswerSource::Goodbye);
        }
        return out;
    }
    if !facts.subscribed && ctx.wants_resubscribe() {
        out.effects.push(Effect::Subscribe);
        out.answer = ctx.auto(&config.welcome, AnswerSource::Welcome);
        return out;
    }
    if out.state.handover.is_some() {
        return out;
    }
    if ctx.wants_human() {
        ctx.hand_over(&mut out, HandoverReason::Requested);
        return out;
    }
    if ctx.continue_flow(&mut out) || ctx.start_triggered_flow(&mut out) || ctx.rules(&mut out) {
        return out;
    }
    if let Some(answer) = ctx.faq() {
        out.state.unrecognised = 0;
        out.answer = Some(answer);
        return out;
    }
    ctx.fallbacks(&mut out);
    out
}

/// An agent resolved the conversation: automations take over again from a clean slate.
pub fn on_resolved(state: &AutomationState) -> AutomationState {
    AutomationState {
        away_until: state.away_until,
        ..AutomationState::default()
    }
}

impl Ctx<'_> {
    fn locale(&self) -> Option<&str> {
        self.locale.as_deref()
    }

    fn expire(&self, state: &mut AutomationState) {
        if state
            .flow
            .as_ref()
            .is_some_and(|f| self.now_ms - f.since > flow::IDLE_EXPIRY_MS)
        {
            state.flow = None;
        }
        let timeout_ms = i64::from(self.config.handover.timeout_minutes) * 60_000;
        if state
            .handover
            .as_ref()
            .is_some_and(|h| self.now_ms - h.since > timeout_ms)
        {
            state.handover = None;
            state.unrecognised = 0;
        }
        if state.away_until.is_some_and(|t| t <= self.now_ms) {
            state.away_until = None;
        }
    }

    /// The whole message is one of the words, in the person's language or the default list.
    fn says_exactly(&self, words: &Localized<Vec<String>>) -> bool {
        let Some(input) = self.inbound.text else {
            return false;
        };
        let input = text::normalise(input);
        !input.is_empty()
            && words
                .pick(self.locale())
                .iter()
                .chain(&words.default)
                .any(|w| text::normalise(w) == input)
    }

    fn wants_unsubscribe(&self) -> bool {
        self.inbound.payload == Some(UNSUBSCRIBE_PAYLOAD)
            || self.says_exactly(&self.config.keywords.unsubscribe)
    }

    fn wants_resubscribe(&self) -> bool {
        self.inbound.payload == Some(SUBSCRIBE_PAYLOAD)
            || self.says_exactly(&self.config.keywords.resubscribe)
            || self.is_start()
    }

    fn wants_human(&self) -> bool {
        if self.inbound.payload == Some(HUMAN_PAYLOAD) {
            return true;
        }
        let Some(input) = self.inbound.text else {
            return false;
        };
        let words = &self.config.keywords.human;
        words
            .pick(self.locale())
            .iter()
            .chain(&words.default)
            .any(|w| text::contains_phrase(input, w))
    }

    /// Get Started, or a Telegram `/start` (with or without a parameter).
    fn is_start(&self) -> bool {
        self.inbound.payload == Some(GET_STARTED_PAYLOAD)
            || self.inbound.text.is_some_and(|t| {
                let t = t.trim();
                t == "/start" || t.starts_with("/start ") || t.starts_with("/start@")
            })
    }

    fn auto(&self, auto: &crate::config::AutoMessage, source: AnswerSource) -> Option<Answer> {
        auto.active().map(|m| Answer {
            source,
            author: AuthorKind::Automation,
            persona: None,
            messages: vec![m.pick(self.locale()).clone()],
        })
    }

    fn hand_over(&self, out: &mut Outcome, reason: HandoverReason) {
        out.effects.push(Effect::HandOver { reason });
        out.state.handover = Some(Handover {
            since: self.now_ms,
            reason,
        });
        out.state.flow = None;
        out.state.unrecognised = 0;
        out.answer = self.config.handover.message.as_ref().map(|m| Answer {
            source: AnswerSource::Handover,
            author: AuthorKind::Automation,
            persona: None,
            messages: vec![m.pick(self.locale()).clone()],
        });
    }

    fn flow(&self, id: &str) -> Option<&Flow> {
        self.config.flows.iter().find(|f| f.id == id)
    }

    /// Applies a flow step: its messages are the answer, its effects are applied.
    fn apply_step(&self, out: &mut Outcome, flow: &Flow, step: Step) {
        let mut handed_over = None;
        for effect in step.effects {
            match effect {
                FlowEffect::AddTag(tag) => out.effects.push(Effect::AddTag { tag }),
                FlowEffect::RemoveTag(tag) => out.effects.push(Effect::RemoveTag { tag }),
                FlowEffect::SetAttribute { key, value } => {
                    out.effects.push(Effect::SetAttribute { key, value })
                }
                FlowEffect::HandOver(reason) => handed_over = Some(reason),
            }
        }
        out.state.flow = step.position;
        out.state.unrecognised = if step.unrecognised {
            out.state.unrecognised + 1
        } else {
            0
        };
        let answer = (!step.messages.is_empty()).then(|| Answer {
            source: AnswerSource::Flow {
                flow_id: flow.id.clone(),
            },
            author: AuthorKind::Bot,
            persona: flow.persona.clone(),
            messages: step.messages,
        });
        match handed_over {
            Some(reason) => {
                self.hand_over(out, reason);
                // A flow that says goodbye before handing over keeps its own words.
                if answer.is_some() {
                    out.answer = answer;
                }
            }
            None => out.answer = answer,
        }
    }

    fn continue_flow(&self, out: &mut Outcome) -> bool {
        let Some(position) = out.state.flow.clone() else {
            return false;
        };
        let Some(flow) = self.flow(&position.flow_id) else {
            out.state.flow = None;
            return false;
        };
        let step = flow.answer(
            &position,
            flow::Answer {
                text: self.inbound.text,
                payload: self.inbound.payload,
            },
            self.locale(),
            self.config.handover.max_unrecognised,
            self.now_ms,
        );
        self.apply_step(out, flow, step);
        true
    }

    fn start_triggered_flow(&self, out: &mut Outcome) -> bool {
        let Some(flow) = self.config.flows.iter().find(|f| {
            f.triggered_by(
                self.inbound.text,
                self.inbound.payload,
                self.inbound.referral,
                self.locale(),
            )
        }) else {
            return false;
        };
        let step = flow.start(self.locale(), self.now_ms);
        self.apply_step(out, flow, step);
        true
    }

    fn triggers(&self) -> BTreeSet<Trigger> {
        let mut t = BTreeSet::new();
        if self.inbound.text.is_some() || self.inbound.payload.is_none() {
            t.insert(Trigger::MessageReceived);
        }
        if self.inbound.payload.is_some() {
            t.insert(Trigger::Postback);
        }
        if self.inbound.referral.is_some() {
            t.insert(Trigger::Referral);
        }
        if self.inbound.new_contact {
            t.insert(Trigger::Subscribed);
        }
        if self.new_conversation {
            t.insert(Trigger::ConversationOpened);
        }
        t
    }

    fn open(&self) -> Option<bool> {
        self.config
            .business_hours
            .as_ref()
            .map(|h| matches!(h.availability(self.now), Availability::Open))
    }

    /// The first matching rule runs. It answers if it sends or starts a flow; a rule that only
    /// tags lets the rest of the precedence find the answer.
    fn rules(&self, out: &mut Outcome) -> bool {
        let triggers = self.triggers();
        let input = RuleInput {
            text: self.inbound.text,
            payload: self.inbound.payload,
            referral: self.inbound.referral,
            channel: self.inbound.channel,
            tags: self.facts.tags,
            attributes: self.facts.attributes,
            open: self.open(),
        };
        let Some(rule) = self
            .config
            .rules
            .iter()
            .find(|r| r.matches(&triggers, &input))
        else {
            return false;
        };
        let mut answered = false;
        for action in &rule.actions {
            match action {
                Action::SendMessage { message } => {
                    out.answer = Some(Answer {
                        source: AnswerSource::Rule {
                            rule_id: rule.id.clone(),
                        },
                        author: AuthorKind::Automation,
                        persona: None,
                        messages: vec![message.pick(self.locale()).clone()],
                    });
                    answered = true;
                }
                Action::StartFlow { flow_id } => {
                    if let Some(flow) = self.flow(flow_id) {
                        let step = flow.start(self.locale(), self.now_ms);
                        self.apply_step(out, flow, step);
                        answered = true;
                    }
                }
                Action::HandOver => {
                    self.hand_over(out, HandoverReason::Automation);
                    answered = true;
                }
                Action::AddTag { tag } => out.effects.push(Effect::AddTag { tag: tag.clone() }),
                Action::RemoveTag { tag } => {
                    out.effects.push(Effect::RemoveTag { tag: tag.clone() })
                }
                Action::SetAttribute { key, value } => out.effects.push(Effect::SetAttribute {
                    key: key.clone(),
                    value: value.clone(),
                }),
                Action::Assign { to } => out.effects.push(Effect::Assign { to: to.clone() }),
                Action::Subscribe => out.effects.push(Effect::Subscribe),
                Action::Unsubscribe => out.effects.push(Effect::Unsubscribe),
                Action::CallWebhook { url } => {
                    out.effects.push(Effect::CallWebhook { url: url.clone() })
                }
            }
        }
        if answered {
            out.state.unrecognised = 0;
        }
        answered
    }

    fn faq(&self) -> Option<Answer> {
        let faq = &self.config.faq;
        let entry = [self.inbound.payload, self.inbound.text]
            .into_iter()
            .flatten()
            .find_map(|p| faq.match_command_or_payload(p))
            .or_else(|| {
                self.inbound
                    .text
                    .and_then(|t| faq.match_text(t, self.locale()))
                    .map(|m| m.entry)
            })?;
        Some(Answer {
            source: AnswerSource::Faq {
                faq_id: entry.id.clone(),
            },
            author: AuthorKind::Automation,
            persona: None,
            messages: vec![entry.answer.pick(self.locale()).clone()],
        })
    }

    /// Welcome, away, instant and default replies — and unrecognised counting.
    fn fallbacks(&self, out: &mut Outcome) {
        let free_text = self.inbound.text.is_some() && !self.is_start();
        if free_text {
            out.state.unrecognised += 1;
            if out.state.unrecognised >= self.config.handover.max_unrecognised {
                self.hand_over(out, HandoverReason::Unrecognised);
                return;
            }
        } else {
            out.state.unrecognised = 0;
        }
        if (self.inbound.new_contact || self.is_start())
            && let Some(answer) = self.auto(&self.config.welcome, AnswerSource::Welcome)
        {
            out.answer = Some(answer);
            return;
        }
        if let Some(answer) = self.away(out) {
            out.answer = Some(answer);
            return;
        }
        if out.state.away_until.is_some() {
            // Closed, and the away message already told them when we are back.
            return;
        }
        if self.new_conversation
            && let Some(answer) = self.auto(&self.config.instant_reply, AnswerSource::InstantReply)
        {
            out.answer = Some(answer);
            return;
        }
        if free_text {
            out.answer = self.auto(&self.config.default_reply, AnswerSource::DefaultReply);
        }
    }

    fn away(&self, out: &mut Outcome) -> Option<Answer> {
        let message = self.config.away.active()?;
        let hours = self.config.business_hours.as_ref()?;
        let Availability::Closed { reopens_at } = hours.availability(self.now) else {
            return None;
        };
        if out.state.away_until.is_some() {
            return None;
        }
        let back_at = reopens_at
            .map(|t| hours.describe_reopening(self.now, t, self.locale()))
            .unwrap_or_default();
        let picked = message.pick(self.locale());
        let filled = picked
            .map_texts(|_, t| Ok::<_, ()>(t.replace(BACK_AT, &back_at)))
            .unwrap_or_else(|_| picked.clone());
        // Covered until reopening (or a day, when no reopening is scheduled).
        out.state.away_until = Some(
            reopens_at
                .map(|t| t.as_millisecond())
                .unwrap_or(self.now_ms + 24 * 3600 * 1000),
        );
        Some(Answer {
            source: AnswerSource::Away,
            author: AuthorKind::Automation,
            persona: None,
            messages: vec![filled],
        })
    }
}
