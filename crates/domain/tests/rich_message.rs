//! The rich message model: one JSON shape, checked against each platform's limits before it is
//! queued, with the path of every offending field.

use serde_json::json;
use switchboard_domain::{ChannelKind, MessageBody, OutgoingMessage};

fn parse(v: serde_json::Value) -> OutgoingMessage {
    serde_json::from_value(v).expect("valid message JSON")
}

fn rules(m: &OutgoingMessage, kind: ChannelKind) -> Vec<(String, &'static str)> {
    match m.check(kind) {
        Ok(()) => vec![],
        Err(v) => v.into_iter().map(|v| (v.path, v.rule)).collect(),
    }
}

#[test]
fn the_json_shape_round_trips() {
    let v = json!({
        "type": "text", "text": "Pick one",
        "buttons": [
            {"type": "url", "title": "Shop", "url": "https://shop.example/"},
            {"type": "postback", "title": "Agent", "payload": "HUMAN"},
            {"type": "phone", "title": "Call us", "number": "+390612345678"}
        ],
        "quick_replies": [{"type": "text", "title": "Yes", "payload": "Y"}, {"type": "email"}, {"type": "phone"}]
    });
    let m = parse(v.clone());
    assert_eq!(serde_json::to_value(&m).unwrap(), v);
    assert_eq!(rules(&m, ChannelKind::Messenger), vec![]);
    assert_eq!(
        rules(&m, ChannelKind::Telegram),
        vec![("quick_replies".into(), "telegram_keyboard_conflict")]
    );
    let phone_only = parse(
        json!({"type": "text", "text": "Your number?", "quick_replies": [{"type": "phone", "title": "Share"}, {"type": "email"}]}),
    );
    assert_eq!(rules(&phone_only, ChannelKind::Telegram), vec![]);
}

#[test]
fn text_limits_depend_on_platform_and_buttons() {
    let plain = OutgoingMessage::text("a".repeat(2001));
    assert_eq!(
        rules(&plain, ChannelKind::Messenger),
        vec![("text".into(), "text_length")]
    );
    assert_eq!(rules(&plain, ChannelKind::Telegram), vec![]);
    // With buttons a Messenger text is a button template: 640 characters.
    let with_button = parse(json!({"type": "text", "text": "é".repeat(641),
        "buttons": [{"type": "postback", "title": "OK", "payload": "OK"}]}));
    assert_eq!(
        rules(&with_button, ChannelKind::Messenger),
        vec![("text".into(), "text_length")]
    );
    assert_eq!(
        rules(&OutgoingMessage::text(" "), ChannelKind::Telegram),
        vec![("text".into(), "text_length")]
    );
}

#[test]
fn every_violation_is_reported_with_its_path() {
    let m = parse(json!({
        "type": "cards",
        "cards": [
            {"title": "Mug", "subtitle": "12 €", "buttons": [
                {"type": "postback", "title": "A title longer than twenty", "payload": "x".repeat(65)},
                {"type": "url", "title": "Go", "url": "ftp://nope"},
                {"type": "phone", "title": "Call", "number": "0612"},
                {"type": "postback", "title": "Four", "payload": "4"}
            ]},
            {"title": "Only a title"}
        ],
        "quick_replies": [{"type": "text", "title": "Same", "payload": "1"}, {"type": "phone"}]
    }));
    let found = rules(&m, ChannelKind::Telegram);
    for expected in [
        ("cards[0].buttons", "button_count"),
        ("cards[0].buttons[0].title", "button_title_length"),
        ("cards[0].buttons[0].payload", "payload_length"),
        ("cards[0].buttons[1].url", "url"),
        ("cards[0].buttons[2].number", "phone_number"),
        ("cards[1]", "card_needs_content"),
        ("quick_replies", "telegram_keyboard_conflict"),
    ] {
        assert!(
            found.contains(&(expected.0.to_owned(), expected.1)),
            "missing {expected:?} in {found:?}"
        );
    }
    // 65 bytes of payload is fine on Messenger (1000), and Messenger mixes phone quick replies
    // with anything.
    let messenger = rules(&m, ChannelKind::Messenger);
    assert!(
        !messenger
            .iter()
            .any(|(p, _)| p == "cards[0].buttons[0].payload")
    );
    assert!(
        !messenger
            .iter()
            .any(|(_, r)| *r == "telegram_keyboard_conflict")
    );
}

#[test]
fn callback_data_is_counted_in_bytes() {
    // 22 three-byte characters: 22 characters, 66 bytes.
    let m = parse(json!({"type": "text", "text": "t",
        "buttons": [{"type": "postback", "title": "x", "payload": "€".repeat(22)}]}));
    assert_eq!(
        rules(&m, ChannelKind::Telegram),
        vec![("buttons[0].payload".into(), "payload_length")]
    );
    assert_eq!(rules(&m, ChannelKind::Messenger), vec![]);
}

#[test]
fn counts_of_cards_and_quick_replies_are_capped() {
    let card = json!({"title": "t", "subtitle": "s"});
    let m = parse(json!({"type": "cards", "cards": vec![card; 11],
        "quick_replies": (0..14).map(|i| json!({"type": "text", "title": format!("q{i}"), "payload": "p"})).collect::<Vec<_>>()}));
    let found = rules(&m, ChannelKind::Messenger);
    assert!(found.contains(&("cards".into(), "card_count")));
    assert!(found.contains(&("quick_replies".into(), "quick_reply_count")));
    let empty = parse(json!({"type": "cards", "cards": []}));
    assert_eq!(
        rules(&empty, ChannelKind::Telegram),
        vec![("cards".into(), "card_count")]
    );
}

#[test]
fn media_rules_differ_per_platform() {
    let captioned = parse(
        json!({"type": "media", "kind": "image", "media": {"media_id": 3},
        "caption": "c".repeat(1025)}),
    );
    assert_eq!(
        rules(&captioned, ChannelKind::Telegram),
        vec![("caption".into(), "caption_length")]
    );
    assert_eq!(
        rules(&captioned, ChannelKind::Messenger),
        vec![("caption".into(), "caption_unsupported")]
    );
    let audio_with_button = parse(
        json!({"type": "media", "kind": "audio", "media": {"media_id": 3},
        "buttons": [{"type": "url", "title": "More", "url": "https://x.example"}]}),
    );
    assert_eq!(
        rules(&audio_with_button, ChannelKind::Messenger),
        vec![("buttons".into(), "media_buttons_unsupported")]
    );
    assert_eq!(rules(&audio_with_button, ChannelKind::Telegram), vec![]);
}

#[test]
fn a_telegram_carousel_becomes_one_message_per_card_with_quick_replies_last() {
    let m = parse(json!({"type": "cards",
        "cards": [{"title": "A", "subtitle": "1"}, {"title": "B", "subtitle": "2"}, {"title": "C", "subtitle": "3"}],
        "quick_replies": [{"type": "text", "title": "More", "payload": "MORE"}]}));
    assert_eq!(m.clone().split_for(ChannelKind::Messenger), vec![m.clone()]);
    let parts = m.split_for(ChannelKind::Telegram);
    assert_eq!(parts.len(), 3);
    for (i, part) in parts.iter().enumerate() {
        let MessageBody::Cards { cards } = &part.body else {
            panic!("still cards")
        };
        assert_eq!(cards.len(), 1);
        assert_eq!(part.quick_replies.is_empty(), i < 2);
    }
}

#[test]
fn map_texts_rewrites_every_visible_text_and_keeps_the_rest() {
    let m = parse(json!({"type": "cards",
        "cards": [{"title": "Hi {{n}}", "subtitle": "for {{n}}", "default_url": "https://x.example/{{n}}",
                   "buttons": [{"type": "postback", "title": "Yes {{n}}", "payload": "{{n}}"}]}],
        "quick_replies": [{"type": "text", "title": "{{n}}!", "payload": "P{{n}}"}]}));
    let paths: Vec<String> = m.visible_texts().into_iter().map(|(p, _)| p).collect();
    assert_eq!(
        paths,
        [
            "cards[0].title",
            "cards[0].subtitle",
            "cards[0].buttons[0].title",
            "quick_replies[0].title"
        ]
    );
    let out = m
        .map_texts(|_, s| Ok::<_, ()>(s.replace("{{n}}", "Ada")))
        .unwrap();
    let v = serde_json::to_value(&out).unwrap();
    assert_eq!(v["cards"][0]["title"], "Hi Ada");
    assert_eq!(v["cards"][0]["subtitle"], "for Ada");
    assert_eq!(v["cards"][0]["buttons"][0]["title"], "Yes Ada");
    // Payloads and URLs are machine data: untouched.
    assert_eq!(v["cards"][0]["buttons"][0]["payload"], "{{n}}");
    assert_eq!(v["cards"][0]["default_url"], "https://x.example/{{n}}");
    assert_eq!(v["quick_replies"][0]["title"], "Ada!");
    let err = m.map_texts(|p, _| {
        if p.ends_with("subtitle") {
            Err("boom")
        } else {
            Ok("x".into())
        }
    });
    assert_eq!(err, Err(("cards[0].subtitle".to_owned(), "boom")));
}
