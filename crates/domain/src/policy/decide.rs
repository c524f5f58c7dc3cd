//! The engine: interprets a profile for one message. All numbers and tag names come from the
//! profile; this file only knows the *shape* of the rules (a window, a human-agent period, tags,
//! utility templates, consent, a frequency cap).

use super::intent::{ContactFacts, Lane, SendAs, SendIntent};
use super::profile::{
    Anchor, HumanAgentRule, MessengerRules, PlatformRules, PolicyProfile, TagClass,
};
use super::rules::{MessagingType, PolicyDecision, RuleId};
use crate::message::AuthorKind;
use crate::time::Millis;

/// A refusal under construction; the profile label is added once, in [`decide`].
struct Refusal {
    rule: RuleId,
    detail: String,
}

fn refuse<T>(rule: RuleId, detail: impl Into<String>) -> Result<T, Refusal> {
    Err(Refusal {
        rule,
        detail: detail.into(),
    })
}

/// A permitted send: the messaging type and, for `MESSAGE_TAG`, the tag.
type Route = (MessagingType, Option<String>);

/// Decides whether `intent` may be queued for the person described by `contact` at `now`.
///
/// Checks run from the most fundamental to the most incidental, and the first failing rule is the
/// one named: the platform, the person's reachability, their consent, the form of the message
/// (tag, utility template) and the window, then the frequency cap.
pub fn decide(
    profile: &PolicyProfile,
    intent: &SendIntent,
    contact: &ContactFacts,
    now: Millis,
) -> PolicyDecision {
    match route(profile, intent, contact, now) {
        Ok((messaging_type, tag)) => PolicyDecision::Allow {
            messaging_type,
            tag,
        },
        Err(Refusal { rule, detail }) => PolicyDecision::Deny {
            rule,
            explanation: format!("{}: {detail}", profile.label()),
        },
    }
}

fn route(
    profile: &PolicyProfile,
    intent: &SendIntent,
    contact: &ContactFacts,
    now: Millis,
) -> Result<Route, Refusal> {
    if intent.channel.platform != profile.platform() {
        return refuse(
            RuleId::WrongPlatform,
            format!(
                "this profile is for {}, the channel is {}",
                profile.platform().as_str(),
                intent.channel.platform.as_str()
            ),
        );
    }
    // Not a profile setting: every platform refuses delivery to someone who blocked us
    // (Messenger 551/1545041, Telegram 403), so sending would only earn an error.
    if !contact.reachable {
        return refuse(
            RuleId::RecipientUnreachable,
            "the person blocked this channel or cannot receive messages",
        );
    }
    check_consent(profile, intent, contact)?;

    let route = match profile.rules() {
        PlatformRules::Messenger(m) => messenger_route(m, intent, contact, now)?,
        PlatformRules::Telegram => telegram_route(intent)?,
    };

    if intent.lane == Lane::Bulk {
        let cap = profile.frequency_cap();
        if !cap.has_room(&contact.recent_bulk_sends, now) {
            return refuse(
                RuleId::FrequencyCap,
                format!(
                    "at most {} bulk message(s) per person in any {} hours; {} already sent",
                    cap.max_messages(),
                    cap.per_hours(),
                    cap.used(&contact.recent_bulk_sends, now)
                ),
            );
        }
    }
    Ok(route)
}

/// Unsubscribed people still get answers to their own messages, never marketing or broadcasts.
fn check_consent(
    profile: &PolicyProfile,
    intent: &SendIntent,
    contact: &ContactFacts,
) -> Result<(), Refusal> {
    if contact.subscribed {
        return Ok(());
    }
    let rules = profile.marketing();
    if intent.promotional && rules.refuse_promotional_to_unsubscribed() {
        return refuse(
            RuleId::RecipientUnsubscribed,
            "the person unsubscribed; promotional content is not sent to them",
        );
    }
    if intent.lane == Lane::Bulk && rules.refuse_bulk_to_unsubscribed() {
        return refuse(
            RuleId::RecipientUnsubscribed,
            "the person unsubscribed; bulk messages are not sent to them",
        );
    }
    Ok(())
}

/// Telegram has no window and no message types (B7): a reachable, consenting person may be sent
/// anything. Messenger-only forms are refused rather than silently dropped, since the sender
/// built the message around them.
fn telegram_route(intent: &SendIntent) -> Result<Route, Refusal> {
    match &intent.send_as {
        SendAs::Auto => Ok((MessagingType::NotApplicable, None)),
        SendAs::Tag(tag) => refuse(
            RuleId::UnknownTag,
            format!("Telegram has no message tags (asked for {tag})"),
        ),
        SendAs::UtilityTemplate => refuse(
            RuleId::UtilityNotAllowed,
            "Telegram has no utility templates",
        ),
    }
}

fn messenger_route(
    m: &MessengerRules,
    intent: &SendIntent,
    contact: &ContactFacts,
    now: Millis,
) -> Result<Route, Refusal> {
    let in_window = m.window_open(contact.last_window_action_at, now);
    // Inside the window anything goes, promotional included (A9), with the type naming the lane.
    let standard = match intent.lane {
        Lane::Reply => (MessagingType::Response, None),
        Lane::Bulk => (MessagingType::Update, None),
    };
    let closed = || {
        format!(
            "more than {} hours since the person's last action",
            m.window_hours()
        )
    };

    match &intent.send_as {
        SendAs::Tag(tag) => {
            // A requested tag is checked in full even inside the window: asking for a retired
            // tag, or one the sender is not entitled to, is a mistake to surface, not to hide.
            // Inside the window the tag is then not used: it is not needed, and overusing tags
            // is penalised (613/2018338).
            let not_promotional = || {
                if intent.promotional {
                    refuse(
                        RuleId::TagNotAllowedForPromotional,
                        format!("{tag} may not carry promotional content"),
                    )
                } else {
                    Ok(())
                }
            };
            match m.classify(tag) {
                TagClass::Refused(r) => refuse(
                    RuleId::TagRefused,
                    format!(
                        "{} is refused since {}: {}",
                        r.name(),
                        r.since(),
                        r.reason()
                    ),
                ),
                TagClass::Unknown => refuse(
                    RuleId::UnknownTag,
                    format!("{tag} is not a tag this profile knows"),
                ),
                TagClass::HumanAgent(ha) => {
                    not_promotional()?;
                    let tagged = human_agent_route(ha, intent, contact, now, !in_window)?;
                    Ok(if in_window { standard } else { tagged })
                }
                TagClass::Allowed(t) => {
                    not_promotional()?;
                    if in_window {
                        return Ok(standard);
                    }
                    match t.max_age() {
                        Some(age) if !age.allows(anchor_time(contact, age.counts_from()), now) => {
                            refuse(
                                RuleId::TagExpired,
                                format!(
                                    "{} may be sent up to {} hours after {}",
                                    t.name(),
                                    age.hours(),
                                    age.counts_from().describe()
                                ),
                            )
                        }
                        _ => Ok((MessagingType::MessageTag, Some(t.name().to_owned()))),
                    }
                }
            }
        }
        SendAs::UtilityTemplate => {
            // A utility template is its own payload (A8: `messaging_type: UTILITY` with a
            // `template`), so it goes as UTILITY inside the window too.
            let Some(u) = m.utility() else {
                return refuse(
                    RuleId::UtilityNotAllowed,
                    "this profile has no utility templates",
                );
            };
            if intent.promotional {
                return refuse(
                    RuleId::UtilityNotAllowedForPromotional,
                    "utility templates may not contain marketing",
                );
            }
            if u.requires_permission() && !intent.channel.utility_messaging_permission {
                return refuse(
                    RuleId::UtilityPermissionMissing,
                    "the channel lacks the utility messaging permission (page_utility_messaging)",
                );
            }
            if !in_window && !u.outside_window() {
                return refuse(
                    RuleId::WindowClosed,
                    format!(
                        "{}; utility templates are only allowed inside the window",
                        closed()
                    ),
                );
            }
            Ok((MessagingType::Utility, None))
        }
        SendAs::Auto => {
            if in_window {
                return Ok(standard);
            }
            if intent.promotional {
                return refuse(
                    RuleId::PromotionalOutsideWindow,
                    format!(
                        "{}; promotional content is only allowed inside the window",
                        closed()
                    ),
                );
            }
            match m.human_agent() {
                // The one automatic tag: a person on the team answering late keeps the
                // conversation going without having to know about tags.
                Some(ha) if intent.author == AuthorKind::Agent => {
                    human_agent_route(ha, intent, contact, now, true)
                }
                _ => refuse(RuleId::WindowClosed, closed()),
            }
        }
    }
}

/// The human-agent tag's conditions: an agent, a permitted channel and, when the tag will
/// actually be used (`check_age`), the period since the person's last message.
fn human_agent_route(
    ha: &HumanAgentRule,
    intent: &SendIntent,
    contact: &ContactFacts,
    now: Millis,
    check_age: bool,
) -> Result<Route, Refusal> {
    if intent.author != AuthorKind::Agent {
        return refuse(
            RuleId::HumanAgentOnlyForAgents,
            format!(
                "{} is only for replies written by a person on the team, not by {}",
                ha.tag(),
                intent.author.as_str()
            ),
        );
    }
    if ha.requires_permission() && !intent.channel.human_agent_permission {
        return refuse(
            RuleId::HumanAgentPermissionMissing,
            format!("{} needs the channel's Human Agent permission", ha.tag()),
        );
    }
    if check_age && !ha.in_period(anchor_time(contact, ha.counts_from()), now) {
        return refuse(
            RuleId::HumanAgentExpired,
            format!(
                "the window is closed and {} may be sent up to {} days after {}",
                ha.tag(),
                ha.max_days(),
                ha.counts_from().describe()
            ),
        );
    }
    Ok((MessagingType::MessageTag, Some(ha.tag().to_owned())))
}

fn anchor_time(contact: &ContactFacts, anchor: Anchor) -> Option<Millis> {
    match anchor {
        Anchor::LastMessage => contact.last_message_at,
        Anchor::LastWindowAction => contact.last_window_action_at,
    }
}

/// How a person can be answered now: what the inbox shows beside each conversation, before
/// anyone types. Read from the same profile as [`decide`], and agreeing with it (a property test
/// holds them together): `Open` means an agent's reply goes as a standard response, `HumanAgent`
/// that it goes with the human-agent tag, `Closed` that a plain reply is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum WindowState {
    /// Anything may be sent until `until` (the standard window).
    Open { until: Millis },
    /// Only replies written by people on the team, with the human-agent tag, until `until`.
    HumanAgent { until: Millis },
    /// Only what tags or templates allow.
    Closed,
    /// The platform has no window (Telegram).
    Unlimited,
}

const HOUR_MS: i64 = 3_600_000;

pub fn window_state(
    profile: &PolicyProfile,
    channel: &super::intent::ChannelFacts,
    contact: &ContactFacts,
    now: Millis,
) -> WindowState {
    let PlatformRules::Messenger(m) = profile.rules() else {
        return WindowState::Unlimited;
    };
    if let Some(at) = contact.last_window_action_at
        && m.window_open(Some(at), now)
    {
        return WindowState::Open {
            until: Millis(at.0 + i64::from(m.window_hours()) * HOUR_MS),
        };
    }
    let Some(ha) = m.human_agent() else {
        return WindowState::Closed;
    };
    let anchor = anchor_time(contact, ha.counts_from());
    match anchor {
        Some(at)
            if (!ha.requires_permission() || channel.human_agent_permission)
                && ha.in_period(Some(at), now) =>
        {
            WindowState::HumanAgent {
                until: Millis(at.0 + i64::from(ha.max_days()) * 24 * HOUR_MS),
            }
        }
        _ => WindowState::Closed,
    }
}
