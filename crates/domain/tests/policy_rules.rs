//! One test per rule, on each built-in profile: what each profile allows, and the rule it names
//! when it refuses.

use switchboard_domain::policy::{
    ChannelFacts, ContactFacts, MessagingType, PolicyDecision, PolicyProfile, RuleId, SendIntent,
    decide,
};
use switchboard_domain::{AuthorKind, ChannelKind, Millis};

const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;
/// 2026-09-21, after meta-2026 took effect.
const NOW: Millis = Millis(1_790_000_000_000);

const META: [&str; 2] = ["meta-2026", "meta-2020"];
const ALL: [&str; 3] = ["meta-2026", "meta-2020", "telegram-2026"];

fn profile(id: &str) -> PolicyProfile {
    PolicyProfile::builtin(id).expect("built-in profile")
}

fn ago(ms: i64) -> Option<Millis> {
    Some(NOW.plus_millis(-ms))
}

/// A channel of the profile's platform with every permission.
fn channel(p: &PolicyProfile) -> ChannelFacts {
    match p.platform() {
        ChannelKind::Messenger => ChannelFacts::messenger(true, true),
        ChannelKind::Telegram => ChannelFacts::telegram(),
    }
}

/// The person wrote `ms` ago and has done nothing since.
fn wrote(ms: i64) -> ContactFacts {
    ContactFacts {
        last_window_action_at: ago(ms),
        last_message_at: ago(ms),
        ..ContactFacts::new()
    }
}

fn reply(p: &PolicyProfile, author: AuthorKind) -> SendIntent {
    SendIntent::reply(channel(p), author)
}

fn check(p: &PolicyProfile, intent: &SendIntent, contact: &ContactFacts) -> PolicyDecision {
    decide(p, intent, contact, NOW)
}

#[track_caller]
fn assert_denied(p: &PolicyProfile, d: &PolicyDecision, rule: RuleId) {
    match d {
        PolicyDecision::Deny {
            rule: got,
            explanation,
        } => {
            assert_eq!(*got, rule, "{}: {explanation}", p.id());
            let prefix = format!("{} v{}: ", p.id(), p.version());
            assert!(explanation.starts_with(&prefix), "{explanation}");
        }
        other => panic!("{}: expected {rule}, got {other:?}", p.id()),
    }
}

#[track_caller]
fn assert_allowed(
    p: &PolicyProfile,
    d: &PolicyDecision,
    messaging_type: MessagingType,
    tag: Option<&str>,
) {
    assert_eq!(
        *d,
        PolicyDecision::Allow {
            messaging_type,
            tag: tag.map(str::to_owned)
        },
        "{}",
        p.id()
    );
}

/// Inside the window on Messenger, or anywhere on Telegram: the type for the lane.
fn standard(p: &PolicyProfile, bulk: bool) -> MessagingType {
    match (p.platform(), bulk) {
        (ChannelKind::Telegram, _) => MessagingType::NotApplicable,
        (_, false) => MessagingType::Response,
        (_, true) => MessagingType::Update,
    }
}

#[test]
fn inside_the_window_anything_goes_as_response_or_update() {
    for id in ALL {
        let p = profile(id);
        let c = wrote(2 * HOUR);
        let promo_reply = reply(&p, AuthorKind::Bot).with_promotional(true);
        assert_allowed(&p, &check(&p, &promo_reply, &c), standard(&p, false), None);
        let campaign = SendIntent::campaign(channel(&p));
        assert!(campaign.promotional, "campaigns are promotional by default");
        assert_allowed(&p, &check(&p, &campaign, &c), standard(&p, true), None);
    }
}

#[test]
fn window_closed() {
    for id in META {
        let p = profile(id);
        let bot = reply(&p, AuthorKind::Bot);
        assert_allowed(
            &p,
            &check(&p, &bot, &wrote(DAY - 1)),
            MessagingType::Response,
            None,
        );
        // The bound is strict: 24 hours after the action the window is closed.
        assert_denied(&p, &check(&p, &bot, &wrote(DAY)), RuleId::WindowClosed);
        assert_denied(
            &p,
            &check(&p, &bot, &ContactFacts::new()),
            RuleId::WindowClosed,
        );
        let automation = SendIntent::reply(channel(&p), AuthorKind::Automation);
        assert_denied(
            &p,
            &check(&p, &automation, &wrote(3 * DAY)),
            RuleId::WindowClosed,
        );
    }
    // Telegram has no window.
    let p = profile("telegram-2026");
    let d = check(&p, &reply(&p, AuthorKind::Bot), &wrote(300 * DAY));
    assert_allowed(&p, &d, MessagingType::NotApplicable, None);
    let d = check(&p, &reply(&p, AuthorKind::Bot), &ContactFacts::new());
    assert_allowed(&p, &d, MessagingType::NotApplicable, None);
}

#[test]
fn a_marketing_optin_does_not_count_as_an_action() {
    // Storage keeps marketing opt-ins out of last_window_action_at; the engine reads only that.
    for id in META {
        let p = profile(id);
        let c = ContactFacts {
            last_window_action_at: ago(2 * DAY),
            ..ContactFacts::new()
        };
        assert_denied(
            &p,
            &check(&p, &reply(&p, AuthorKind::Bot), &c),
            RuleId::WindowClosed,
        );
    }
}

#[test]
fn promotional_outside_window() {
    for id in META {
        let p = profile(id);
        let c = wrote(2 * DAY);
        let campaign = SendIntent::campaign(channel(&p));
        assert_denied(
            &p,
            &check(&p, &campaign, &c),
            RuleId::PromotionalOutsideWindow,
        );
        // Even an agent's promotional reply: the human-agent tag cannot carry it.
        let agent = reply(&p, AuthorKind::Agent).with_promotional(true);
        assert_denied(&p, &check(&p, &agent, &c), RuleId::PromotionalOutsideWindow);
    }
    let p = profile("telegram-2026");
    let d = check(&p, &SendIntent::campaign(channel(&p)), &wrote(30 * DAY));
    assert_allowed(&p, &d, MessagingType::NotApplicable, None);
}

#[test]
fn human_agent_is_added_automatically_to_late_agent_replies() {
    for id in META {
        let p = profile(id);
        let agent = reply(&p, AuthorKind::Agent);
        for late in [DAY, 3 * DAY, 7 * DAY - 1] {
            let d = check(&p, &agent, &wrote(late));
            assert_allowed(&p, &d, MessagingType::MessageTag, Some("HUMAN_AGENT"));
        }
        // Inside the window no tag is used.
        assert_allowed(
            &p,
            &check(&p, &agent, &wrote(HOUR)),
            MessagingType::Response,
            None,
        );
        // Asking for it explicitly is the same.
        let asked = agent.clone().with_tag("HUMAN_AGENT");
        let d = check(&p, &asked, &wrote(2 * DAY));
        assert_allowed(&p, &d, MessagingType::MessageTag, Some("HUMAN_AGENT"));
        assert_allowed(
            &p,
            &check(&p, &asked, &wrote(HOUR)),
            MessagingType::Response,
            None,
        );
    }
}

#[test]
fn human_agent_only_for_agents() {
    for id in META {
        let p = profile(id);
        for author in [
            AuthorKind::Bot,
            AuthorKind::Automation,
            AuthorKind::Campaign,
        ] {
            let asked = reply(&p, author)
                .with_promotional(false)
                .with_tag("HUMAN_AGENT");
            assert_denied(
                &p,
                &check(&p, &asked, &wrote(2 * DAY)),
                RuleId::HumanAgentOnlyForAgents,
            );
            // Not automatic for them either: the window is simply closed.
            let auto = reply(&p, author).with_promotional(false);
            assert_denied(&p, &check(&p, &auto, &wrote(2 * DAY)), RuleId::WindowClosed);
        }
    }
}

#[test]
fn human_agent_permission_missing() {
    for id in META {
        let p = profile(id);
        let no_permission = ChannelFacts::messenger(false, true);
        let agent = SendIntent::reply(no_permission, AuthorKind::Agent);
        assert_denied(
            &p,
            &check(&p, &agent, &wrote(2 * DAY)),
            RuleId::HumanAgentPermissionMissing,
        );
        // Inside the window the permission is not needed.
        assert_allowed(
            &p,
            &check(&p, &agent, &wrote(HOUR)),
            MessagingType::Response,
            None,
        );
    }
}

#[test]
fn human_agent_expired_counts_from_the_last_message() {
    for id in META {
        let p = profile(id);
        let agent = reply(&p, AuthorKind::Agent);
        assert_denied(
            &p,
            &check(&p, &agent, &wrote(7 * DAY)),
            RuleId::HumanAgentExpired,
        );
        assert_denied(
            &p,
            &check(&p, &agent, &ContactFacts::new()),
            RuleId::HumanAgentExpired,
        );
        // A reaction two days ago (window closed) does not restart the 7 days.
        let reacted = ContactFacts {
            last_window_action_at: ago(2 * DAY),
            last_message_at: ago(8 * DAY),
            ..ContactFacts::new()
        };
        assert_denied(&p, &check(&p, &agent, &reacted), RuleId::HumanAgentExpired);
        // A reaction an hour ago opens the window, whatever the last message's age.
        let reacted_now = ContactFacts {
            last_window_action_at: ago(HOUR),
            ..reacted
        };
        assert_allowed(
            &p,
            &check(&p, &agent, &reacted_now),
            MessagingType::Response,
            None,
        );
    }
}

#[test]
fn tag_refused() {
    let p = profile("meta-2026");
    for tag in [
        "CONFIRMED_EVENT_UPDATE",
        "POST_PURCHASE_UPDATE",
        "ACCOUNT_UPDATE",
    ] {
        // Refused even inside the window: the platform answers error 100 to any request with it.
        for c in [wrote(HOUR), wrote(2 * DAY)] {
            let d = check(&p, &reply(&p, AuthorKind::Automation).with_tag(tag), &c);
            assert_denied(&p, &d, RuleId::TagRefused);
            let PolicyDecision::Deny { explanation, .. } = d else {
                unreachable!()
            };
            assert!(explanation.contains("2026-04-27"), "{explanation}");
        }
    }
    for id in META {
        let p = profile(id);
        for tag in [
            "SHIPPING_UPDATE",
            "ISSUE_RESOLUTION",
            "TICKET_UPDATE",
            "BUSINESS_PRODUCTIVITY",
        ] {
            let d = check(
                &p,
                &reply(&p, AuthorKind::Automation).with_tag(tag),
                &wrote(2 * DAY),
            );
            assert_denied(&p, &d, RuleId::TagRefused);
        }
    }
}

#[test]
fn meta_2020_update_tags_are_allowed_outside_the_window() {
    let p = profile("meta-2020");
    for tag in [
        "CONFIRMED_EVENT_UPDATE",
        "POST_PURCHASE_UPDATE",
        "ACCOUNT_UPDATE",
    ] {
        let intent = reply(&p, AuthorKind::Automation).with_tag(tag);
        assert_allowed(
            &p,
            &check(&p, &intent, &wrote(30 * DAY)),
            MessagingType::MessageTag,
            Some(tag),
        );
        // Inside the window the tag is not needed and not sent.
        assert_allowed(
            &p,
            &check(&p, &intent, &wrote(HOUR)),
            MessagingType::Response,
            None,
        );
        let bulk = intent.with_lane(switchboard_domain::policy::Lane::Bulk);
        assert_allowed(
            &p,
            &check(&p, &bulk, &wrote(30 * DAY)),
            MessagingType::MessageTag,
            Some(tag),
        );
    }
}

#[test]
fn tag_not_allowed_for_promotional() {
    let p = profile("meta-2020");
    let promo = SendIntent::campaign(channel(&p)).with_tag("POST_PURCHASE_UPDATE");
    for c in [wrote(HOUR), wrote(2 * DAY)] {
        assert_denied(
            &p,
            &check(&p, &promo, &c),
            RuleId::TagNotAllowedForPromotional,
        );
    }
    for id in META {
        let p = profile(id);
        let agent = reply(&p, AuthorKind::Agent)
            .with_promotional(true)
            .with_tag("HUMAN_AGENT");
        assert_denied(
            &p,
            &check(&p, &agent, &wrote(2 * DAY)),
            RuleId::TagNotAllowedForPromotional,
        );
    }
}

#[test]
fn unknown_tag() {
    for id in ALL {
        let p = profile(id);
        let d = check(
            &p,
            &reply(&p, AuthorKind::Bot).with_tag("MADE_UP_TAG"),
            &wrote(HOUR),
        );
        assert_denied(&p, &d, RuleId::UnknownTag);
        // Names are exact, as they go on the wire.
        let d = check(
            &p,
            &reply(&p, AuthorKind::Agent).with_tag("human_agent"),
            &wrote(HOUR),
        );
        assert_denied(&p, &d, RuleId::UnknownTag);
    }
    let p = profile("meta-2026");
    let d = check(
        &p,
        &reply(&p, AuthorKind::Bot).with_tag("CUSTOMER_FEEDBACK"),
        &wrote(HOUR),
    );
    assert_denied(&p, &d, RuleId::UnknownTag);
    let p = profile("telegram-2026");
    let d = check(
        &p,
        &reply(&p, AuthorKind::Agent).with_tag("HUMAN_AGENT"),
        &wrote(HOUR),
    );
    assert_denied(&p, &d, RuleId::UnknownTag);
}

#[test]
fn utility_templates_under_meta_2026() {
    let p = profile("meta-2026");
    let utility = reply(&p, AuthorKind::Automation).as_utility_template();
    for c in [
        wrote(HOUR),
        wrote(2 * DAY),
        wrote(90 * DAY),
        ContactFacts::new(),
    ] {
        assert_allowed(&p, &check(&p, &utility, &c), MessagingType::Utility, None);
    }
}

#[test]
fn utility_permission_missing() {
    let p = profile("meta-2026");
    let intent = SendIntent::reply(ChannelFacts::messenger(true, false), AuthorKind::Automation)
        .as_utility_template();
    for c in [wrote(HOUR), wrote(2 * DAY)] {
        assert_denied(
            &p,
            &check(&p, &intent, &c),
            RuleId::UtilityPermissionMissing,
        );
    }
}

#[test]
fn utility_not_allowed_for_promotional() {
    let p = profile("meta-2026");
    let intent = SendIntent::campaign(channel(&p)).as_utility_template();
    assert_denied(
        &p,
        &check(&p, &intent, &wrote(2 * DAY)),
        RuleId::UtilityNotAllowedForPromotional,
    );
}

#[test]
fn utility_not_allowed() {
    for id in ["meta-2020", "telegram-2026"] {
        let p = profile(id);
        let intent = reply(&p, AuthorKind::Automation).as_utility_template();
        assert_denied(
            &p,
            &check(&p, &intent, &wrote(2 * DAY)),
            RuleId::UtilityNotAllowed,
        );
    }
}

#[test]
fn recipient_unreachable_is_refused_everything() {
    for id in ALL {
        let p = profile(id);
        let blocked = ContactFacts {
            reachable: false,
            ..wrote(HOUR)
        };
        for intent in [
            reply(&p, AuthorKind::Agent),
            reply(&p, AuthorKind::Bot),
            SendIntent::campaign(channel(&p)),
        ] {
            assert_denied(
                &p,
                &check(&p, &intent, &blocked),
                RuleId::RecipientUnreachable,
            );
        }
    }
}

#[test]
fn recipient_unsubscribed_still_gets_replies() {
    for id in ALL {
        let p = profile(id);
        let gone = ContactFacts {
            subscribed: false,
            ..wrote(HOUR)
        };
        let campaign = SendIntent::campaign(channel(&p));
        assert_denied(
            &p,
            &check(&p, &campaign, &gone),
            RuleId::RecipientUnsubscribed,
        );
        let bulk_info = campaign.with_promotional(false);
        assert_denied(
            &p,
            &check(&p, &bulk_info, &gone),
            RuleId::RecipientUnsubscribed,
        );
        let promo_reply = reply(&p, AuthorKind::Bot).with_promotional(true);
        assert_denied(
            &p,
            &check(&p, &promo_reply, &gone),
            RuleId::RecipientUnsubscribed,
        );
        let answer = reply(&p, AuthorKind::Bot);
        assert_allowed(&p, &check(&p, &answer, &gone), standard(&p, false), None);
    }
}

#[test]
fn frequency_cap() {
    for id in ALL {
        let p = profile(id);
        let sent_at = |ms: i64| ContactFacts {
            recent_bulk_sends: vec![NOW.plus_millis(-ms)],
            ..wrote(HOUR)
        };
        let campaign = SendIntent::campaign(channel(&p));
        assert_denied(
            &p,
            &check(&p, &campaign, &sent_at(DAY - 1)),
            RuleId::FrequencyCap,
        );
        assert_allowed(
            &p,
            &check(&p, &campaign, &sent_at(DAY)),
            standard(&p, true),
            None,
        );
        // The cap is for the bulk lane: conversation is not rationed.
        let answer = reply(&p, AuthorKind::Bot);
        assert_allowed(
            &p,
            &check(&p, &answer, &sent_at(HOUR)),
            standard(&p, false),
            None,
        );
    }
}

#[test]
fn wrong_platform() {
    let p = profile("meta-2026");
    let d = check(
        &p,
        &SendIntent::reply(ChannelFacts::telegram(), AuthorKind::Bot),
        &wrote(HOUR),
    );
    assert_denied(&p, &d, RuleId::WrongPlatform);
    let p = profile("telegram-2026");
    let d = check(
        &p,
        &SendIntent::reply(ChannelFacts::messenger(true, true), AuthorKind::Bot),
        &wrote(HOUR),
    );
    assert_denied(&p, &d, RuleId::WrongPlatform);
}

#[test]
fn builtins_say_what_the_sources_say() {
    assert_eq!(
        PolicyProfile::builtin_ids(),
        ["meta-2026", "meta-2020", "telegram-2026"]
    );
    let m26 = profile("meta-2026");
    let m = m26.messenger().unwrap();
    assert_eq!((m26.version(), m.window_hours()), (1, 24));
    let ha = m.human_agent().unwrap();
    assert_eq!(
        (ha.tag(), ha.max_days(), ha.requires_permission()),
        ("HUMAN_AGENT", 7, true)
    );
    assert!(m.tags().is_empty());
    assert_eq!(
        m.refused_tags().len(),
        3 + 16,
        "three update tags + the other 16 legacy tags"
    );
    assert!(m.utility().unwrap().outside_window());
    assert_eq!(m26.effective_from().to_string(), "2026-04-27");

    let m20 = profile("meta-2020");
    let m = m20.messenger().unwrap();
    let allowed: Vec<_> = m.tags().iter().map(|t| t.name()).collect();
    assert_eq!(
        allowed,
        [
            "CONFIRMED_EVENT_UPDATE",
            "POST_PURCHASE_UPDATE",
            "ACCOUNT_UPDATE"
        ]
    );
    assert_eq!(
        m.refused_tags().len(),
        16,
        "17 legacy tags minus ACCOUNT_UPDATE, kept in 2020"
    );
    assert!(m.utility().is_none());

    let tg = profile("telegram-2026");
    assert_eq!(tg.platform(), ChannelKind::Telegram);
    assert_eq!(tg.window_hours(), None);
    for p in [&m26, &m20, &tg] {
        assert_eq!(
            (
                p.frequency_cap().max_messages(),
                p.frequency_cap().per_hours()
            ),
            (1, 24)
        );
    }
    assert!(PolicyProfile::builtin("meta-2019").is_none());
}

#[test]
fn the_profile_in_force_is_chosen_by_date() {
    let at = |s: &str| {
        switchboard_domain::policy::ProfileDate::parse(s)
            .unwrap()
            .start_millis()
    };
    let pick =
        |kind, date: &str| PolicyProfile::builtin_for(kind, at(date)).map(|p| p.id().to_owned());
    assert_eq!(pick(ChannelKind::Messenger, "2019-12-31"), None);
    assert_eq!(
        pick(ChannelKind::Messenger, "2020-03-04").as_deref(),
        Some("meta-2020")
    );
    assert_eq!(
        pick(ChannelKind::Messenger, "2026-04-26").as_deref(),
        Some("meta-2020")
    );
    assert_eq!(
        pick(ChannelKind::Messenger, "2026-04-27").as_deref(),
        Some("meta-2026")
    );
    assert_eq!(
        pick(ChannelKind::Telegram, "2026-06-01").as_deref(),
        Some("telegram-2026")
    );
}

#[test]
fn every_rule_is_reachable_with_builtin_or_loaded_profiles() {
    // `tag_expired` needs a tag with a maximum age, which no built-in profile has.
    let with_max_age = PolicyProfile::from_json(
        r#"{"id":"aged","version":1,"platform":"messenger","effective_from":"2026-01-01",
            "window":{"hours":24},"tags":[{"name":"FEEDBACK","max_age_hours":168}]}"#,
    )
    .unwrap();
    let intent = SendIntent::reply(ChannelFacts::messenger(true, true), AuthorKind::Bot)
        .with_tag("FEEDBACK");
    assert_allowed(
        &with_max_age,
        &decide(&with_max_age, &intent, &wrote(6 * DAY), NOW),
        MessagingType::MessageTag,
        Some("FEEDBACK"),
    );
    assert_denied(
        &with_max_age,
        &decide(&with_max_age, &intent, &wrote(7 * DAY), NOW),
        RuleId::TagExpired,
    );

    // The tests above name every other rule; keep this list in step with RuleId.
    let covered = [
        RuleId::WrongPlatform,
        RuleId::RecipientUnreachable,
        RuleId::RecipientUnsubscribed,
        RuleId::WindowClosed,
        RuleId::PromotionalOutsideWindow,
        RuleId::UnknownTag,
        RuleId::TagRefused,
        RuleId::TagNotAllowedForPromotional,
        RuleId::TagExpired,
        RuleId::HumanAgentOnlyForAgents,
        RuleId::HumanAgentPermissionMissing,
        RuleId::HumanAgentExpired,
        RuleId::UtilityNotAllowed,
        RuleId::UtilityNotAllowedForPromotional,
        RuleId::UtilityPermissionMissing,
        RuleId::FrequencyCap,
    ];
    assert_eq!(covered.as_slice(), RuleId::ALL);
}
