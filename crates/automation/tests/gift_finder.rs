//! The shipped gift-finder flow, step by step, without a server.

use switchboard_automation::config::ChannelAutomations;
use switchboard_automation::flow::{Answer, FlowEffect, gift_finder};
use switchboard_domain::{ChannelKind, MessageBody};

#[test]
fn the_reference_flow_is_valid_and_fits_both_platforms() {
    let config = ChannelAutomations {
        flows: vec![gift_finder()],
        ..ChannelAutomations::default()
    };
    assert_eq!(config.validate(), vec![]);
    for kind in [ChannelKind::Messenger, ChannelKind::Telegram] {
        for node in gift_finder().nodes.values() {
            let json = serde_json::to_value(node).unwrap();
            if let Some(m) = json.get("message") {
                let m: switchboard_domain::OutgoingMessage =
                    serde_json::from_value(m["default"].clone()).unwrap();
                assert!(m.check(kind).is_ok(), "{kind:?}: {m:?}");
            }
        }
    }
}

#[test]
fn who_then_budget_then_a_carousel_then_anything_else() {
    let flow = gift_finder();
    let t0 = 1_800_000_000_000;
    let start = flow.start(None, t0);
    assert_eq!(start.messages.len(), 1);
    let at_who = start.position.expect("waits for who");

    let who = flow.answer(
        &at_who,
        Answer {
            text: Some("Mum"),
            payload: Some("WHO_MUM"),
        },
        None,
        3,
        t0,
    );
    assert!(who.effects.contains(&FlowEffect::SetAttribute {
        key: "gift_for".into(),
        value: "mum".into()
    }));
    let at_budget = who.position.expect("waits for the budget");
    assert_eq!(at_budget.node, "ask_budget");

    // A typed amount is captured, then the carousel and the closing question follow.
    let budget = flow.answer(
        &at_budget,
        Answer {
            text: Some("about 40 €"),
            payload: None,
        },
        None,
        3,
        t0,
    );
    assert!(budget.effects.contains(&FlowEffect::SetAttribute {
        key: "budget".into(),
        value: "40".into()
    }));
    assert_eq!(budget.messages.len(), 2);
    let MessageBody::Cards { cards } = &budget.messages[0].body else {
        panic!("a carousel first")
    };
    assert_eq!(cards.len(), 3);
    let at_end = budget.position.expect("asks if there is anything else");
    assert_eq!(at_end.node, "anything_else");

    let bye = flow.answer(
        &at_end,
        Answer {
            text: Some("no thanks"),
            payload: None,
        },
        None,
        3,
        t0,
    );
    assert_eq!(bye.position, None, "the flow ended");
    assert_eq!(bye.messages.len(), 1);
}

#[test]
fn an_unrecognised_answer_asks_again_then_hands_over() {
    let flow = gift_finder();
    let mut at = flow.start(None, 0).position.unwrap();
    for attempt in 1..3 {
        let step = flow.answer(
            &at,
            Answer {
                text: Some("purple elephant"),
                payload: None,
            },
            None,
            3,
            0,
        );
        assert!(step.unrecognised);
        assert_eq!(step.messages.len(), 1, "asked again");
        at = step.position.expect("still waiting");
        assert_eq!(at.retries, attempt);
    }
    let step = flow.answer(
        &at,
        Answer {
            text: Some("purple elephant"),
            payload: None,
        },
        None,
        3,
        0,
    );
    assert!(matches!(step.effects.as_slice(), [FlowEffect::HandOver(_)]));
    assert_eq!(step.position, None);
}
