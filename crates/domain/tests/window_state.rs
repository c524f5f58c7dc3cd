//! The inbox's window state agrees with the policy engine: whatever the person's timeline, what
//! `window_state` shows beside a conversation is what `decide` does with an agent's plain reply —
//! and the state's `until` is the very moment that changes.

use proptest::prelude::*;
use switchboard_domain::policy::{
    ChannelFacts, ContactFacts, MessagingType, PolicyDecision, PolicyProfile, SendIntent,
    WindowState, decide, window_state,
};
use switchboard_domain::{AuthorKind, ChannelKind, Millis};

const HOUR: i64 = 3_600_000;
/// 2026-06-01T00:00:00Z.
const NOW: Millis = Millis(1_780_272_000_000);

fn agent_reply(channel: ChannelFacts) -> SendIntent {
    SendIntent::reply(channel, AuthorKind::Agent)
}

/// What `decide` does with an agent's plain reply, in window-state terms.
fn decided(
    profile: &PolicyProfile,
    channel: ChannelFacts,
    contact: &ContactFacts,
    now: Millis,
) -> &'static str {
    match decide(profile, &agent_reply(channel), contact, now) {
        PolicyDecision::Allow {
            messaging_type: MessagingType::Response,
            ..
        } => "open",
        PolicyDecision::Allow {
            messaging_type: MessagingType::MessageTag,
            tag: Some(tag),
        } if tag == "HUMAN_AGENT" => "human_agent",
        PolicyDecision::Allow {
            messaging_type: MessagingType::NotApplicable,
            ..
        } => "unlimited",
        PolicyDecision::Allow { .. } => "other",
        PolicyDecision::Deny { .. } => "closed",
    }
}

fn shown(state: WindowState) -> &'static str {
    match state {
        WindowState::Open { .. } => "open",
        WindowState::HumanAgent { .. } => "human_agent",
        WindowState::Closed => "closed",
        WindowState::Unlimited => "unlimited",
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]
    #[test]
    fn the_window_shown_is_the_window_the_engine_applies(
        message_hours_ago in proptest::option::of(0i64..24 * 10),
        later_action_hours in 0i64..24 * 3,
        permission in any::<bool>(),
        telegram in any::<bool>(),
    ) {
        let (profile, channel) = if telegram {
            (PolicyProfile::builtin_for(ChannelKind::Telegram, NOW).unwrap(), ChannelFacts::telegram())
        } else {
            (PolicyProfile::builtin_for(ChannelKind::Messenger, NOW).unwrap(), ChannelFacts::messenger(permission, false))
        };
        // A message opens the window; a later tap or reaction moves it on, not the message time.
        let last_message_at = message_hours_ago.map(|h| Millis(NOW.0 - h * HOUR));
        let last_window_action_at = last_message_at
            .map(|m| Millis((m.0 + later_action_hours * HOUR).min(NOW.0)));
        let contact = ContactFacts {
            last_window_action_at,
            last_message_at,
            ..ContactFacts::new()
        };
        let state = window_state(&profile, &channel, &contact, NOW);
        prop_assert_eq!(shown(state), decided(&profile, channel, &contact, NOW), "{:?}", state);
        // `until` is when it changes: the same a millisecond before, something else at it.
        if let WindowState::Open { until } | WindowState::HumanAgent { until } = state {
            prop_assert!(until > NOW);
            let before = Millis(until.0 - 1);
            prop_assert_eq!(shown(window_state(&profile, &channel, &contact, before)), shown(state));
            prop_assert_eq!(decided(&profile, channel, &contact, before), shown(state));
            prop_assert_ne!(decided(&profile, channel, &contact, until), shown(state));
        }
    }
}
