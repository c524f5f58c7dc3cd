//! One inbound message never yields two automatic answers. For every pair of automations that
//! would both answer the same message, exactly one answers, and it is the one the documented
//! precedence names: unsubscribe > hand-over state > asking for a human > active flow > flow
//! trigger > keyword rule > FAQ > welcome > away > instant reply > default reply.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::json;
use switchboard_automation::config::{AutoMessage, ChannelAutomations};
use switchboard_automation::engine::{AnswerSource, Facts, Inbound, respond};
use switchboard_automation::faq::{Faq, FaqEntry};
use switchboard_automation::flow::Flow;
use switchboard_automation::hours::BusinessHours;
use switchboard_automation::localized::Localized;
use switchboard_automation::rules::Rule;
use switchboard_automation::state::{AutomationState, FlowPosition, Handover, HandoverReason};
use switchboard_domain::{ChannelKind, OutgoingMessage};

/// The message every automation below is set up to answer.
const WORD: &str = "stop";
/// Tuesday 2026-11-24 23:00 in Rome: outside business hours.
const LATE: &str = "2026-11-24T22:00:00Z";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Automation {
    Unsubscribe,
    HandoverActive,
    AskForHuman,
    ActiveFlow,
    FlowTrigger,
    Rule,
    Faq,
    Welcome,
    Away,
    Instant,
    Default,
}

use Automation::*;

const ALL: [Automation; 11] = [
    Unsubscribe,
    HandoverActive,
    AskForHuman,
    ActiveFlow,
    FlowTrigger,
    Rule,
    Faq,
    Welcome,
    Away,
    Instant,
    Default,
];

fn say(text: &str) -> Localized<OutgoingMessage> {
    Localized::new(OutgoingMessage::text(text))
}

fn nothing() -> Localized<Vec<String>> {
    Localized::new(vec!["zzz-never".to_owned()])
}

fn flow(id: &str, keyword: Option<&str>) -> Flow {
    serde_json::from_value(json!({
        "id": id, "name": id,
        "triggers": keyword.map(|k| json!({"keywords": {"default": [k]}})).unwrap_or(json!({})),
        "start": "ask",
        "nodes": {
            "ask": {"type": "ask", "message": {"default": {"type": "text", "text": format!("{id} asks")}}, "next": "done"},
            "done": {"type": "end", "message": {"default": {"type": "text", "text": format!("{id} done")}}}
        }
    }))
    .unwrap()
}

/// A configuration and state in which exactly `enabled` would answer `WORD`.
fn setup(enabled: &[Automation]) -> (ChannelAutomations, AutomationState, bool) {
    let mut c = ChannelAutomations::default();
    let mut state = AutomationState {
        started: true,
        ..AutomationState::default()
    };
    let mut new_contact = false;
    c.keywords.unsubscribe = nothing();
    c.keywords.human = nothing();
    c.goodbye = AutoMessage::on(say("goodbye"));
    c.handover.message = Some(say("a human will answer"));
    for a in enabled {
        match a {
            Unsubscribe => c.keywords.unsubscribe = Localized::new(vec![WORD.into()]),
            HandoverActive => {
                state.handover = Some(Handover {
                    since: jiff::Timestamp::from_str_lenient(LATE) - 60_000,
                    reason: HandoverReason::Requested,
                })
            }
            AskForHuman => c.keywords.human = Localized::new(vec![WORD.into()]),
            ActiveFlow => {
                c.flows.push(flow("active", None));
                state.flow = Some(FlowPosition {
                    flow_id: "active".into(),
                    node: "ask".into(),
                    since: jiff::Timestamp::from_str_lenient(LATE) - 60_000,
                    retries: 0,
                });
            }
            FlowTrigger => c.flows.push(flow("triggered", Some(WORD))),
            Rule => c.rules.push(
                serde_json::from_value::<Rule>(json!({
                    "id": "r1", "trigger": "message_received",
                    "conditions": [{"type": "text_contains", "any_of": [WORD]}],
                    "actions": [{"type": "send_message", "message": {"default": {"type": "text", "text": "rule"}}}]
                }))
                .unwrap(),
            ),
            Faq => {
                c.faq = Faq {
                    entries: vec![FaqEntry {
                        id: "q".into(),
                        question: Localized::new("When do you stop shipping?".into()),
                        phrasings: Localized::new(vec![WORD.into()]),
                        answer: say("faq"),
                        offer: false,
                    }],
                }
            }
            Welcome => {
                c.welcome = AutoMessage::on(say("welcome"));
                new_contact = true;
            }
            Away => {
                c.away = AutoMessage::on(say("back {{back_at}}"));
                c.business_hours = Some(
                    serde_json::from_value::<BusinessHours>(json!({
                        "time_zone": "Europe/Rome",
                        "weekly": [{"day": "tuesday", "open": "09:00", "close": "18:00"},
                                   {"day": "wednesday", "open": "09:00", "close": "18:00"}]
                    }))
                    .unwrap(),
                );
            }
            Instant => {
                c.instant_reply = AutoMessage::on(say("instant"));
                state.started = false;
            }
            Default => c.default_reply = AutoMessage::on(say("default")),
        }
    }
    (c, state, new_contact)
}

trait Lenient {
    fn from_str_lenient(s: &str) -> i64;
}

impl Lenient for jiff::Timestamp {
    fn from_str_lenient(s: &str) -> i64 {
        s.parse::<jiff::Timestamp>().unwrap().as_millisecond()
    }
}

/// Who answers, if anyone.
fn answer_of(enabled: &[Automation]) -> Option<AnswerSource> {
    let (config, state, new_contact) = setup(enabled);
    assert!(
        config.validate().is_empty(),
        "{enabled:?}: {:?}",
        config.validate()
    );
    let tags = BTreeSet::new();
    let attributes = BTreeMap::new();
    let outcome = respond(
        &config,
        &Inbound {
            channel: ChannelKind::Messenger,
            text: Some(WORD),
            payload: None,
            referral: None,
            new_contact,
        },
        &Facts {
            locale: Some("en_US"),
            subscribed: true,
            tags: &tags,
            attributes: &attributes,
        },
        &state,
        LATE.parse().unwrap(),
    );
    outcome.answer.map(|a| {
        assert!(!a.messages.is_empty(), "an answer says something");
        a.source
    })
}

fn expected_source(a: Automation) -> Option<AnswerSource> {
    Some(match a {
        Unsubscribe => AnswerSource::Goodbye,
        HandoverActive => return None,
        AskForHuman => AnswerSource::Handover,
        ActiveFlow => AnswerSource::Flow {
            flow_id: "active".into(),
        },
        FlowTrigger => AnswerSource::Flow {
            flow_id: "triggered".into(),
        },
        Rule => AnswerSource::Rule {
            rule_id: "r1".into(),
        },
        Faq => AnswerSource::Faq { faq_id: "q".into() },
        Welcome => AnswerSource::Welcome,
        Away => AnswerSource::Away,
        Instant => AnswerSource::InstantReply,
        Default => AnswerSource::DefaultReply,
    })
}

#[test]
fn each_automation_alone_answers() {
    for a in ALL {
        assert_eq!(answer_of(&[a]), expected_source(a), "{a:?} alone");
    }
}

#[test]
fn of_every_competing_pair_exactly_the_higher_one_answers() {
    for (i, &a) in ALL.iter().enumerate() {
        for &b in &ALL[i + 1..] {
            // `ALL` is in precedence order, so `a` wins.
            assert_eq!(
                answer_of(&[a, b]),
                expected_source(a),
                "{a:?} together with {b:?}"
            );
            assert_eq!(answer_of(&[b, a]), expected_source(a), "{b:?} with {a:?}");
        }
    }
}

#[test]
fn with_everything_on_the_first_in_precedence_answers_and_only_it() {
    assert_eq!(answer_of(&ALL), expected_source(Unsubscribe));
    assert_eq!(answer_of(&ALL[1..]), None, "a human has the conversation");
    assert_eq!(answer_of(&ALL[2..]), expected_source(AskForHuman));
}
