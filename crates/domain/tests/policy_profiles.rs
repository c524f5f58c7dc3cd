//! Profiles are data: loading one from JSON changes decisions with no code change.

use switchboard_domain::policy::{
    ChannelFacts, ContactFacts, MessagingType, PolicyDecision, PolicyProfile, ProfileError, RuleId,
    SendIntent, decide,
};
use switchboard_domain::{AuthorKind, Millis};

const HOUR: i64 = 3_600_000;
const NOW: Millis = Millis(1_830_000_000_000);

/// Next year's rules, invented: a 48-hour window, HUMAN_AGENT for 10 days without a permission,
/// a new feedback tag good for 72 hours after the last action, a looser bulk cap.
const META_2027: &str = r#"{
  "id": "meta-2027",
  "version": 3,
  "platform": "messenger",
  "effective_from": "2027-01-01",
  "window": { "hours": 48 },
  "human_agent": {
    "tag": "HUMAN_AGENT", "max_days": 10, "counts_from": "last_message",
    "requires_permission": false
  },
  "tags": [{ "name": "FEEDBACK_REQUEST", "max_age_hours": 72 }],
  "refused_tags": [
    { "name": "POST_PURCHASE_UPDATE", "since": "2026-04-27", "reason": "deprecated" }
  ],
  "utility_templates": { "outside_window": false, "requires_permission": true },
  "frequency_cap": { "max_messages": 2, "per_hours": 24 }
}"#;

fn wrote(hours: i64) -> ContactFacts {
    ContactFacts {
        last_window_action_at: Some(NOW.plus_millis(-hours * HOUR)),
        last_message_at: Some(NOW.plus_millis(-hours * HOUR)),
        ..ContactFacts::new()
    }
}

fn allow(messaging_type: MessagingType, tag: Option<&str>) -> PolicyDecision {
    PolicyDecision::Allow {
        messaging_type,
        tag: tag.map(str::to_owned),
    }
}

#[test]
fn a_profile_loaded_from_json_changes_decisions() {
    let m26 = PolicyProfile::builtin("meta-2026").unwrap();
    let m27 = PolicyProfile::from_json(META_2027).unwrap();
    assert_eq!(
        (m27.id(), m27.version(), m27.window_hours()),
        ("meta-2027", 3, Some(48))
    );

    let channel = ChannelFacts::messenger(false, true);
    let bot = SendIntent::reply(channel, AuthorKind::Bot);
    let c = wrote(30);
    assert_eq!(
        decide(&m26, &bot, &c, NOW).rule(),
        Some(RuleId::WindowClosed)
    );
    assert_eq!(
        decide(&m27, &bot, &c, NOW),
        allow(MessagingType::Response, None)
    );
    assert_eq!(
        decide(&m27, &bot, &wrote(48), NOW).rule(),
        Some(RuleId::WindowClosed)
    );

    // HUMAN_AGENT: 10 days, no permission needed.
    let agent = SendIntent::reply(channel, AuthorKind::Agent);
    let nine_days = wrote(9 * 24);
    assert_eq!(
        decide(&m26, &agent, &nine_days, NOW).rule(),
        Some(RuleId::HumanAgentPermissionMissing)
    );
    assert_eq!(
        decide(&m27, &agent, &nine_days, NOW),
        allow(MessagingType::MessageTag, Some("HUMAN_AGENT"))
    );

    // A tag meta-2026 does not know, with its own age limit.
    let feedback = bot.clone().with_tag("FEEDBACK_REQUEST");
    assert_eq!(
        decide(&m26, &feedback, &wrote(60), NOW).rule(),
        Some(RuleId::UnknownTag)
    );
    assert_eq!(
        decide(&m27, &feedback, &wrote(60), NOW),
        allow(MessagingType::MessageTag, Some("FEEDBACK_REQUEST"))
    );
    assert_eq!(
        decide(&m27, &feedback, &wrote(72), NOW).rule(),
        Some(RuleId::TagExpired)
    );

    // A tag meta-2027 no longer refuses is merely unknown to it.
    let account = bot.clone().with_tag("ACCOUNT_UPDATE");
    assert_eq!(
        decide(&m26, &account, &c, NOW).rule(),
        Some(RuleId::TagRefused)
    );
    assert_eq!(
        decide(&m27, &account, &c, NOW).rule(),
        Some(RuleId::UnknownTag)
    );

    // Utility templates only inside the window.
    let utility = bot.clone().as_utility_template();
    assert_eq!(
        decide(&m26, &utility, &wrote(60), NOW),
        allow(MessagingType::Utility, None)
    );
    assert_eq!(
        decide(&m27, &utility, &wrote(60), NOW).rule(),
        Some(RuleId::WindowClosed)
    );
    assert_eq!(
        decide(&m27, &utility, &wrote(1), NOW),
        allow(MessagingType::Utility, None)
    );

    // Two campaign messages a day.
    let one_sent = ContactFacts {
        recent_bulk_sends: vec![NOW.plus_millis(-HOUR)],
        ..wrote(1)
    };
    let campaign = SendIntent::campaign(channel);
    assert_eq!(
        decide(&m26, &campaign, &one_sent, NOW).rule(),
        Some(RuleId::FrequencyCap)
    );
    assert_eq!(
        decide(&m27, &campaign, &one_sent, NOW),
        allow(MessagingType::Update, None)
    );

    // Every refusal names the profile that made it.
    let PolicyDecision::Deny { explanation, .. } = decide(&m27, &bot, &wrote(50), NOW) else {
        panic!("expected a refusal");
    };
    assert!(explanation.starts_with("meta-2027 v3: "), "{explanation}");
    assert!(explanation.contains("48 hours"), "{explanation}");
}

#[test]
fn builtins_round_trip_through_json() {
    for id in PolicyProfile::builtin_ids() {
        let p = PolicyProfile::builtin(id).unwrap();
        let json = p.to_json_pretty();
        assert_eq!(PolicyProfile::from_json(&json), Ok(p.clone()), "{id}");
        // Serde's Deserialize validates too, so a profile embedded in other config is sound.
        assert_eq!(serde_json::from_str::<PolicyProfile>(&json).unwrap(), p);
    }
}

#[test]
fn deserialising_validates() {
    let bad = META_2027.replace(r#""hours": 48"#, r#""hours": 0"#);
    assert_eq!(
        PolicyProfile::from_json(&bad),
        Err(ProfileError::NotPositive("window.hours"))
    );
    let err = serde_json::from_str::<PolicyProfile>(&bad).unwrap_err();
    assert!(
        err.to_string().contains("window.hours must be positive"),
        "{err}"
    );
}
