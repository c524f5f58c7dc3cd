//! Property test of the policy engine over random timelines.
//!
//! A timeline is a sequence of steps: the person acts, time passes, or someone tries to send. A
//! tiny simulator keeps `ContactFacts` as storage would (the window moves only on window-opening
//! actions, allowed bulk sends are recorded) and asks the engine. Every answer is then checked
//! against an oracle that recomputes the facts from the raw event log and knows each built-in
//! profile's rules from the sources (protocols.md A8, A9, B7), not from the profile data: a wrong
//! number in a JSON file fails here just like a wrong comparison in the engine.

use proptest::prelude::*;
use proptest::test_runner::Config;
use switchboard_domain::policy::{
    ChannelFacts, ContactFacts, Lane, MessagingType, PolicyDecision, PolicyProfile, RuleId, SendAs,
    SendIntent, decide,
};
use switchboard_domain::{AuthorKind, ChannelKind, Millis};

const SECOND: i64 = 1000;
const MINUTE: i64 = 60 * SECOND;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;
/// 2026-06-01T00:00:00Z.
const START: Millis = Millis(1_780_272_000_000);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Act {
    Message,
    Postback,
    Reaction,
    /// A marketing opt-in: does NOT open the window (A9).
    MarketingOptIn,
    Block,
    Unblock,
    Unsubscribe,
    Resubscribe,
}

#[derive(Debug, Clone)]
struct Attempt {
    author: AuthorKind,
    lane: Lane,
    promotional: bool,
    send_as: SendAs,
}

#[derive(Debug, Clone)]
enum Step {
    Person(Act),
    Wait(i64),
    Send(Attempt),
}

/// Tags of every status across the profiles, and some no profile knows.
const TAG_POOL: &[&str] = &[
    "HUMAN_AGENT",
    "CONFIRMED_EVENT_UPDATE",
    "POST_PURCHASE_UPDATE",
    "ACCOUNT_UPDATE",
    "SHIPPING_UPDATE",
    "ISSUE_RESOLUTION",
    "NON_PROMOTIONAL_SUBSCRIPTION",
    "CUSTOMER_FEEDBACK",
    "MADE_UP",
];

fn act() -> impl Strategy<Value = Act> {
    prop_oneof![
        4 => Just(Act::Message),
        2 => Just(Act::Postback),
        2 => Just(Act::Reaction),
        2 => Just(Act::MarketingOptIn),
        1 => Just(Act::Block),
        1 => Just(Act::Unblock),
        1 => Just(Act::Unsubscribe),
        1 => Just(Act::Resubscribe),
    ]
}

/// Seconds to 10 days, with weight on the edges of the 24-hour window and the 7-day period.
fn wait() -> impl Strategy<Value = i64> {
    prop_oneof![
        (1..=60i64).prop_map(|s| s * SECOND),
        (1..=180i64).prop_map(|m| m * MINUTE),
        SECOND..=DAY,
        23 * HOUR..=25 * HOUR,
        6 * DAY..=8 * DAY,
        SECOND..=10 * DAY,
        prop::sample::select(vec![1, DAY - 1, DAY, 7 * DAY - 1, 7 * DAY]),
    ]
}

fn attempt() -> impl Strategy<Value = Attempt> {
    let author = prop::sample::select(vec![
        AuthorKind::Agent,
        AuthorKind::Bot,
        AuthorKind::Automation,
        AuthorKind::Campaign,
    ]);
    let lane = prop_oneof![Just(Lane::Reply), Just(Lane::Bulk)];
    let send_as = prop_oneof![
        3 => Just(SendAs::Auto),
        2 => prop::sample::select(TAG_POOL).prop_map(|t| SendAs::Tag(t.to_owned())),
        1 => Just(SendAs::UtilityTemplate),
    ];
    (author, lane, any::<bool>(), send_as).prop_map(|(author, lane, promotional, send_as)| {
        Attempt {
            author,
            lane,
            promotional,
            send_as,
        }
    })
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => act().prop_map(Step::Person),
        3 => wait().prop_map(Step::Wait),
        4 => attempt().prop_map(Step::Send),
    ]
}

/// The rules of each built-in profile, written from the sources independently of its JSON.
struct Expected {
    messenger: bool,
    window: i64,
    human_agent_period: i64,
    /// Tags (other than HUMAN_AGENT) that may be used outside the window.
    tags_outside_window: &'static [&'static str],
    refused: &'static [&'static str],
    utility: bool,
    cap_max: usize,
    cap_period: i64,
}

fn expected(id: &str) -> Expected {
    const LEGACY_IN_POOL: [&str; 3] = [
        "SHIPPING_UPDATE",
        "ISSUE_RESOLUTION",
        "NON_PROMOTIONAL_SUBSCRIPTION",
    ];
    match id {
        "meta-2026" => Expected {
            messenger: true,
            window: DAY,
            human_agent_period: 7 * DAY,
            tags_outside_window: &[],
            refused: &[
                "CONFIRMED_EVENT_UPDATE",
                "POST_PURCHASE_UPDATE",
                "ACCOUNT_UPDATE",
                LEGACY_IN_POOL[0],
                LEGACY_IN_POOL[1],
                LEGACY_IN_POOL[2],
            ],
            utility: true,
            cap_max: 1,
            cap_period: DAY,
        },
        "meta-2020" => Expected {
            messenger: true,
            window: DAY,
            human_agent_period: 7 * DAY,
            tags_outside_window: &[
                "CONFIRMED_EVENT_UPDATE",
                "POST_PURCHASE_UPDATE",
                "ACCOUNT_UPDATE",
            ],
            refused: &LEGACY_IN_POOL,
            utility: false,
            cap_max: 1,
            cap_period: DAY,
        },
        "telegram-2026" => Expected {
            messenger: false,
            window: 0,
            human_agent_period: 0,
            tags_outside_window: &[],
            refused: &[],
            utility: false,
            cap_max: 1,
            cap_period: DAY,
        },
        other => panic!("no expectations written for {other}"),
    }
}

/// What storage does: facts updated incrementally, event by event.
struct Simulator {
    now: Millis,
    facts: ContactFacts,
}

impl Simulator {
    fn apply(&mut self, act: Act) {
        let f = &mut self.facts;
        match act {
            Act::Message => {
                f.last_window_action_at = Some(self.now);
                f.last_message_at = Some(self.now);
            }
            Act::Postback | Act::Reaction => f.last_window_action_at = Some(self.now),
            Act::MarketingOptIn => {}
            Act::Block => f.reachable = false,
            Act::Unblock => f.reachable = true,
            Act::Unsubscribe => f.subscribed = false,
            Act::Resubscribe => f.subscribed = true,
        }
    }
}

/// The oracle's view: recomputed from the raw log at each question.
struct Log {
    acts: Vec<(Millis, Act)>,
    bulk_sent: Vec<Millis>,
}

impl Log {
    fn last(&self, kinds: &[Act]) -> Option<Millis> {
        self.acts
            .iter()
            .filter(|(_, a)| kinds.contains(a))
            .map(|(t, _)| *t)
            .max()
    }

    /// Whether the latest of `on`/`off` is `on` (or neither happened: `default`).
    fn latest_is(&self, on: Act, off: Act, default: bool) -> bool {
        self.acts
            .iter()
            .rev()
            .find(|(_, a)| *a == on || *a == off)
            .map_or(default, |(_, a)| *a == on)
    }

    fn since(at: Option<Millis>, now: Millis) -> Option<i64> {
        at.map(|t| now.0 - t.0)
    }

    fn bulk_in_period(&self, now: Millis, period: i64) -> usize {
        self.bulk_sent
            .iter()
            .filter(|t| now.0 - t.0 < period)
            .count()
    }
}

fn run(profile: &PolicyProfile, steps: &[Step], ha_perm: bool, util_perm: bool) {
    let exp = expected(profile.id());
    let channel = match profile.platform() {
        ChannelKind::Messenger => ChannelFacts::messenger(ha_perm, util_perm),
        ChannelKind::Telegram => ChannelFacts::telegram(),
    };
    assert_eq!(exp.messenger, profile.platform() == ChannelKind::Messenger);
    let mut sim = Simulator {
        now: START,
        facts: ContactFacts::new(),
    };
    let mut log = Log {
        acts: Vec::new(),
        bulk_sent: Vec::new(),
    };
    let label = format!("{} v{}: ", profile.id(), profile.version());

    for (i, step) in steps.iter().enumerate() {
        match step {
            Step::Wait(ms) => sim.now = sim.now.plus_millis(*ms),
            Step::Person(act) => {
                sim.apply(*act);
                log.acts.push((sim.now, *act));
            }
            Step::Send(a) => {
                let now = sim.now;
                let intent = SendIntent {
                    channel,
                    author: a.author,
                    lane: a.lane,
                    promotional: a.promotional,
                    send_as: a.send_as.clone(),
                };
                let decision = decide(profile, &intent, &sim.facts, now);
                let ctx = || format!("{} step {i}: {a:?} -> {decision:?}", profile.id());

                // Independent recomputation from the log.
                let reachable = log.latest_is(Act::Unblock, Act::Block, true);
                let subscribed = log.latest_is(Act::Resubscribe, Act::Unsubscribe, true);
                let since_action =
                    Log::since(log.last(&[Act::Message, Act::Postback, Act::Reaction]), now);
                let since_message = Log::since(log.last(&[Act::Message]), now);
                let in_window = since_action.is_some_and(|d| d < exp.window);
                let in_ha_period = since_message.is_some_and(|d| d < exp.human_agent_period);
                let cap_room = log.bulk_in_period(now, exp.cap_period) < exp.cap_max;
                let consent =
                    reachable && (subscribed || (!a.promotional && a.lane == Lane::Reply));

                match &decision {
                    PolicyDecision::Deny { rule, explanation } => {
                        assert!(explanation.starts_with(&label), "{}", ctx());
                        if !reachable {
                            assert_eq!(*rule, RuleId::RecipientUnreachable, "{}", ctx());
                        }
                    }
                    PolicyDecision::Allow {
                        messaging_type,
                        tag,
                    } => {
                        // Safety, on every platform.
                        assert!(reachable, "sent to a blocked person: {}", ctx());
                        if a.promotional || a.lane == Lane::Bulk {
                            assert!(subscribed, "promotional/bulk to unsubscribed: {}", ctx());
                        }
                        if a.promotional {
                            assert!(tag.is_none(), "promotional with a tag: {}", ctx());
                        }
                        assert_eq!(
                            tag.is_some(),
                            *messaging_type == MessagingType::MessageTag,
                            "{}",
                            ctx()
                        );
                        if let Some(t) = tag {
                            assert!(!exp.refused.contains(&t.as_str()), "refused tag: {}", ctx());
                        }
                        if exp.messenger {
                            check_messenger_allow(
                                &exp,
                                a,
                                *messaging_type,
                                tag.as_deref(),
                                ctx,
                                (in_window, in_ha_period, ha_perm, util_perm),
                            );
                        } else {
                            assert_eq!(*messaging_type, MessagingType::NotApplicable, "{}", ctx());
                            assert_eq!(a.send_as, SendAs::Auto, "{}", ctx());
                        }
                        if a.lane == Lane::Bulk {
                            assert!(cap_room, "frequency cap: {}", ctx());
                            log.bulk_sent.push(now);
                            sim.facts.recent_bulk_sends.push(now);
                            // No sliding period (ending at any send) holds more than the cap.
                            assert!(
                                log.bulk_in_period(now, exp.cap_period) <= exp.cap_max,
                                "{}",
                                ctx()
                            );
                        }
                    }
                }

                // Liveness: the engine is not merely refusing everything.
                let unhindered = consent && (a.lane == Lane::Reply || cap_room);
                if unhindered {
                    let must = must_allow(&exp, a, in_window, in_ha_period, ha_perm, util_perm);
                    if let Some((mt, tag)) = must {
                        assert_eq!(
                            decision,
                            PolicyDecision::Allow {
                                messaging_type: mt,
                                tag: tag.map(str::to_owned)
                            },
                            "should be allowed: {}",
                            ctx()
                        );
                    }
                }
            }
        }
    }
}

fn check_messenger_allow(
    exp: &Expected,
    a: &Attempt,
    mt: MessagingType,
    tag: Option<&str>,
    ctx: impl Fn() -> String,
    (in_window, in_ha_period, ha_perm, util_perm): (bool, bool, bool, bool),
) {
    match mt {
        MessagingType::Response | MessagingType::Update => {
            assert!(in_window, "RESPONSE/UPDATE outside the window: {}", ctx());
            let lane_type = match a.lane {
                Lane::Reply => MessagingType::Response,
                Lane::Bulk => MessagingType::Update,
            };
            assert_eq!(mt, lane_type, "{}", ctx());
            assert_ne!(a.send_as, SendAs::UtilityTemplate, "{}", ctx());
        }
        MessagingType::MessageTag => {
            let t = tag.expect("checked by the caller");
            assert!(!in_window, "a tag used inside the window: {}", ctx());
            assert!(!a.promotional, "{}", ctx());
            match &a.send_as {
                SendAs::Tag(asked) => assert_eq!(asked, t, "{}", ctx()),
                SendAs::Auto => assert_eq!(t, "HUMAN_AGENT", "{}", ctx()),
                SendAs::UtilityTemplate => panic!("utility template sent as a tag: {}", ctx()),
            }
            if t == "HUMAN_AGENT" {
                assert_eq!(
                    a.author,
                    AuthorKind::Agent,
                    "HUMAN_AGENT for a non-agent: {}",
                    ctx()
                );
                assert!(ha_perm, "HUMAN_AGENT without the permission: {}", ctx());
                assert!(in_ha_period, "HUMAN_AGENT after 7 days: {}", ctx());
            } else {
                assert!(
                    exp.tags_outside_window.contains(&t),
                    "tag not allowed: {}",
                    ctx()
                );
            }
        }
        MessagingType::Utility => {
            assert!(exp.utility, "{}", ctx());
            assert!(util_perm, "utility without the permission: {}", ctx());
            assert!(!a.promotional, "promotional utility template: {}", ctx());
            assert_eq!(a.send_as, SendAs::UtilityTemplate, "{}", ctx());
        }
        MessagingType::NotApplicable => panic!("no messaging type on Messenger: {}", ctx()),
    }
}

/// What the sources say must be allowed (for a reachable, consenting person under the cap).
fn must_allow(
    exp: &Expected,
    a: &Attempt,
    in_window: bool,
    in_ha_period: bool,
    ha_perm: bool,
    util_perm: bool,
) -> Option<(MessagingType, Option<&'static str>)> {
    let standard = match a.lane {
        Lane::Reply => MessagingType::Response,
        Lane::Bulk => MessagingType::Update,
    };
    if !exp.messenger {
        return (a.send_as == SendAs::Auto).then_some((MessagingType::NotApplicable, None));
    }
    match &a.send_as {
        SendAs::Auto if in_window => Some((standard, None)),
        SendAs::Auto
            if !a.promotional && a.author == AuthorKind::Agent && ha_perm && in_ha_period =>
        {
            Some((MessagingType::MessageTag, Some("HUMAN_AGENT")))
        }
        SendAs::UtilityTemplate if exp.utility && util_perm && !a.promotional => {
            Some((MessagingType::Utility, None))
        }
        SendAs::Tag(t) if !a.promotional => {
            let known = exp.tags_outside_window.iter().find(|k| *k == t).copied();
            match known {
                Some(_) if in_window => Some((standard, None)),
                Some(k) => Some((MessagingType::MessageTag, Some(k))),
                None => None,
            }
        }
        _ => None,
    }
}

proptest! {
    // No regression file: this crate's tests may only add files named tests/policy_*.rs. A
    // failure prints its minimal timeline; turn it into a unit test in policy_rules.rs.
    #![proptest_config(Config { cases: 1000, failure_persistence: None, ..Config::default() })]

    #[test]
    fn timelines_never_break_the_profile(
        steps in prop::collection::vec(step(), 1..80),
        ha_perm in any::<bool>(),
        util_perm in any::<bool>(),
    ) {
        for id in PolicyProfile::builtin_ids() {
            let profile = PolicyProfile::builtin(id).unwrap();
            run(&profile, &steps, ha_perm, util_perm);
        }
    }
}
