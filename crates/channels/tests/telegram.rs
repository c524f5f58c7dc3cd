//! Telegram inbound: the webhook secret and updates → events.

use proptest::prelude::*;
use serde_json::{Value, json};
use switchboard_channels::telegram::{
    UpdateParseError, parse_update, parse_update_value, update_id, verify_secret,
};
use switchboard_domain::{
    AttachmentKind, ContactRef, ExternalUserId, InboundEnvelope, InboundEvent, Millis, Referral,
    TelegramChatId,
};

fn parse(update: Value) -> InboundEnvelope {
    parse_update(&serde_json::to_vec(&update).unwrap()).unwrap()
}

fn ann() -> Value {
    json!({"id": 111, "is_bot": false, "first_name": "Ann", "last_name": "Lee", "username": "ann", "language_code": "en"})
}

fn private_chat() -> Value {
    json!({"id": 111, "type": "private", "first_name": "Ann", "username": "ann"})
}

fn message(extra: Value) -> Value {
    let mut m =
        json!({"message_id": 42, "date": 1735689600, "from": ann(), "chat": private_chat()});
    for (k, v) in extra.as_object().unwrap() {
        m[k] = v.clone();
    }
    m
}

fn text_of(env: &InboundEnvelope) -> Option<&str> {
    match &env.event {
        InboundEvent::Message { content, .. } | InboundEvent::Edit { content, .. } => {
            content.text.as_deref()
        }
        other => panic!("{other:?}"),
    }
}

// ---------------------------------------------------------------- secret

#[test]
fn telegram_webhook_with_the_right_secret_is_accepted() {
    assert!(verify_secret("s3cr3t_-token", Some("s3cr3t_-token")));
}

#[test]
fn telegram_webhook_with_a_wrong_or_missing_secret_is_rejected() {
    assert!(!verify_secret("s3cr3t", Some("s3cr3T")));
    assert!(!verify_secret("s3cr3t", Some("s3cr3")));
    assert!(!verify_secret("s3cr3t", Some("")));
    assert!(!verify_secret("s3cr3t", None));
    assert!(!verify_secret("", Some("")));
    assert!(!verify_secret("", None));
}

// ---------------------------------------------------------------- envelope

#[test]
fn non_updates_are_errors() {
    assert!(matches!(
        parse_update(b"{not json"),
        Err(UpdateParseError::NotJson(_))
    ));
    for bad in [
        json!({"message": {}}),
        json!({"update_id": "10001"}),
        json!({"update_id": 1.5}),
        json!([{"update_id": 1}]),
        json!(10001),
    ] {
        assert_eq!(
            parse_update(&serde_json::to_vec(&bad).unwrap()),
            Err(UpdateParseError::NotAnUpdate),
            "{bad}"
        );
    }
}

#[test]
fn update_id_is_read_for_offset_confirmation() {
    assert_eq!(
        update_id(&json!({"update_id": 10001, "message": {}})),
        Some(10001)
    );
    assert_eq!(update_id(&json!({"message": {}})), None);
    assert_eq!(update_id(&json!("x")), None);
}

#[test]
fn dedupe_key_is_the_update_id() {
    let env = parse(json!({"update_id": 10001, "message": message(json!({"text": "hi"}))}));
    assert_eq!(env.dedupe_key, "update:10001");
    assert!(!env.standby);
}

// ---------------------------------------------------------------- messages

#[test]
fn private_text_message_becomes_a_message_from_the_chat() {
    let env =
        parse(json!({"update_id": 10002, "message": message(json!({"text": "Hello there"}))}));
    assert_eq!(
        env.contact,
        Some(ContactRef {
            external_id: ExternalUserId::from(TelegramChatId(111)),
            first_name: Some("Ann".into()),
            last_name: Some("Lee".into()),
            username: Some("ann".into()),
            locale: Some("en".into()),
        })
    );
    assert_eq!(env.occurred_at, Millis(1735689600000));
    let InboundEvent::Message {
        platform_message_id,
        content,
        referral,
    } = env.event
    else {
        panic!()
    };
    assert_eq!(platform_message_id, "42");
    assert_eq!(content.text.as_deref(), Some("Hello there"));
    assert_eq!(referral, None);
}

#[test]
fn deep_link_start_promo1_sets_the_referral() {
    let env = parse(json!({"update_id": 10001, "message": message(json!({
        "text": "/start promo1", "entities": [{"offset": 0, "length": 6, "type": "bot_command"}]
    }))}));
    let InboundEvent::Message {
        referral, content, ..
    } = env.event
    else {
        panic!()
    };
    assert_eq!(content.text.as_deref(), Some("/start promo1"));
    assert_eq!(
        referral,
        Some(Referral {
            r#ref: Some("promo1".into()),
            source: "telegram_start".into(),
            ad_id: None,
            referer_uri: None
        })
    );
}

#[test]
fn start_addressed_to_the_bot_by_name_also_counts() {
    let env = parse(
        json!({"update_id": 7, "message": message(json!({"text": "/start@shop_bot ref_abc"}))}),
    );
    let InboundEvent::Message { referral, .. } = env.event else {
        panic!()
    };
    assert_eq!(referral.and_then(|r| r.r#ref).as_deref(), Some("ref_abc"));
}

#[test]
fn plain_start_or_invalid_parameter_keeps_the_message_without_referral() {
    for text in [
        "/start",
        "/start not/valid",
        &format!("/start {}", "x".repeat(65)),
        "/starter kit",
    ] {
        let env = parse(json!({"update_id": 8, "message": message(json!({"text": text}))}));
        let InboundEvent::Message {
            referral, content, ..
        } = env.event
        else {
            panic!()
        };
        assert_eq!(referral, None, "{text}");
        assert_eq!(content.text.as_deref(), Some(text));
    }
}

#[test]
fn photo_with_caption_keeps_the_largest_size_and_the_caption() {
    let env = parse(json!({"update_id": 9, "message": message(json!({
        "caption": "our new menu",
        "photo": [
            {"file_id": "small", "file_unique_id": "a", "width": 90, "height": 67, "file_size": 1200},
            {"file_id": "medium", "file_unique_id": "b", "width": 320, "height": 240, "file_size": 15000},
            {"file_id": "large", "file_unique_id": "c", "width": 1280, "height": 960, "file_size": 120000},
        ]
    }))}));
    assert_eq!(text_of(&env), Some("our new menu"));
    let InboundEvent::Message { content, .. } = env.event else {
        panic!()
    };
    assert_eq!(content.attachments.len(), 1);
    assert_eq!(content.attachments[0].kind, AttachmentKind::Image);
    assert_eq!(
        content.attachments[0].platform_ref.as_deref(),
        Some("large")
    );
}

#[test]
fn media_location_and_contact_messages_map_to_attachments() {
    let cases = [
        (
            json!({"document": {"file_id": "doc1", "file_unique_id": "u", "file_name": "invoice.pdf", "mime_type": "application/pdf"}}),
            AttachmentKind::File,
        ),
        (
            json!({"video": {"file_id": "vid1", "file_unique_id": "u", "width": 1, "height": 1, "duration": 3, "mime_type": "video/mp4"}}),
            AttachmentKind::Video,
        ),
        (
            json!({"audio": {"file_id": "aud1", "file_unique_id": "u", "duration": 3, "title": "Jingle", "mime_type": "audio/mpeg"}}),
            AttachmentKind::Audio,
        ),
        (
            json!({"voice": {"file_id": "voi1", "file_unique_id": "u", "duration": 2, "mime_type": "audio/ogg"}}),
            AttachmentKind::Audio,
        ),
        (
            json!({"sticker": {"file_id": "stk1", "file_unique_id": "u", "type": "regular", "width": 512, "height": 512, "emoji": "👍"}}),
            AttachmentKind::Sticker,
        ),
        (
            json!({"location": {"latitude": 52.52, "longitude": 13.405}}),
            AttachmentKind::Location,
        ),
        (
            json!({"contact": {"phone_number": "+4915112345678", "first_name": "Bob", "user_id": 222}}),
            AttachmentKind::Contact,
        ),
    ];
    for (extra, kind) in cases {
        let env = parse(json!({"update_id": 11, "message": message(extra.clone())}));
        let InboundEvent::Message { content, .. } = env.event else {
            panic!()
        };
        assert_eq!(content.attachments.len(), 1, "{extra}");
        let a = &content.attachments[0];
        assert_eq!(a.kind, kind, "{extra}");
        match kind {
            AttachmentKind::File => {
                assert_eq!(a.platform_ref.as_deref(), Some("doc1"));
                assert_eq!(a.title.as_deref(), Some("invoice.pdf"));
                assert_eq!(a.mime_type.as_deref(), Some("application/pdf"));
            }
            AttachmentKind::Location => {
                assert_eq!((a.latitude, a.longitude), (Some(52.52), Some(13.405)))
            }
            AttachmentKind::Contact => assert_eq!(a.title.as_deref(), Some("+4915112345678")),
            _ => assert!(a.platform_ref.is_some(), "{extra}"),
        }
    }
}

#[test]
fn edited_message_becomes_an_edit_at_the_edit_date() {
    let env = parse(
        json!({"update_id": 12, "edited_message": message(json!({"text": "fixed", "edit_date": 1735689700}))}),
    );
    assert_eq!(env.occurred_at, Millis(1735689700000));
    assert_eq!(
        env.event,
        InboundEvent::Edit {
            platform_message_id: "42".into(),
            content: switchboard_domain::Content {
                text: Some("fixed".into()),
                ..Default::default()
            }
        }
    );
}

#[test]
fn inline_button_tap_becomes_a_postback_that_can_be_answered() {
    let env = parse(json!({"update_id": 13, "callback_query": {
        "id": "4382bfdwdsb323b2d9", "from": ann(), "chat_instance": "-123",
        "data": "size_m",
        "message": {"message_id": 40, "date": 1735689000, "chat": private_chat(), "text": "Pick a size"},
    }}));
    assert_eq!(env.contact.as_ref().unwrap().external_id.as_str(), "111");
    assert_eq!(
        env.contact.as_ref().unwrap().first_name.as_deref(),
        Some("Ann")
    );
    assert_eq!(
        env.event,
        InboundEvent::Postback {
            title: None,
            payload: Some("size_m".into()),
            referral: None,
            callback_id: Some("4382bfdwdsb323b2d9".into())
        }
    );
}

#[test]
fn callback_without_message_is_attributed_to_the_user() {
    let env = parse(json!({"update_id": 14, "callback_query": {
        "id": "cb2", "from": {"id": 555, "is_bot": false, "first_name": "Cy"}, "chat_instance": "1",
        "inline_message_id": "AAA", "data": "x",
    }}));
    assert_eq!(env.contact.unwrap().external_id.as_str(), "555");
}

#[test]
fn user_blocking_and_unblocking_the_bot_changes_reachability() {
    let member_update = |old: &str, new: &str| {
        json!({"update_id": 15, "my_chat_member": {
            "chat": private_chat(), "from": ann(), "date": 1735690000,
            "old_chat_member": {"status": old, "user": {"id": 999, "is_bot": true, "first_name": "Shop"}},
            "new_chat_member": {"status": new, "user": {"id": 999, "is_bot": true, "first_name": "Shop"}, "until_date": 0},
        }})
    };
    let blocked = parse(member_update("member", "kicked"));
    assert_eq!(
        blocked.event,
        InboundEvent::Reachability { reachable: false }
    );
    assert_eq!(blocked.contact.unwrap().external_id.as_str(), "111");
    assert_eq!(blocked.occurred_at, Millis(1735690000000));
    let unblocked = parse(member_update("kicked", "member"));
    assert_eq!(
        unblocked.event,
        InboundEvent::Reachability { reachable: true }
    );
}

#[test]
fn bot_added_to_a_group_is_unknown_not_reachability() {
    let raw = json!({"update_id": 16, "my_chat_member": {
        "chat": {"id": -100123, "type": "supergroup", "title": "Fans"}, "from": ann(), "date": 1,
        "old_chat_member": {"status": "left", "user": {"id": 999}},
        "new_chat_member": {"status": "member", "user": {"id": 999}},
    }});
    let env = parse(raw.clone());
    assert_eq!(
        env.event,
        InboundEvent::Unknown {
            platform_kind: "my_chat_member".into(),
            raw
        }
    );
    assert_eq!(env.contact, None);
}

#[test]
fn unmodelled_update_kinds_are_kept_verbatim() {
    let raw = json!({"update_id": 17, "message_reaction": {
        "chat": private_chat(), "message_id": 42, "user": ann(), "date": 1735690001,
        "old_reaction": [], "new_reaction": [{"type": "emoji", "emoji": "👍"}],
    }});
    let env = parse_update_value(&raw).unwrap();
    assert_eq!(env.dedupe_key, "update:17");
    assert_eq!(env.occurred_at, Millis(1735690001000));
    assert_eq!(env.contact.as_ref().unwrap().external_id.as_str(), "111");
    assert_eq!(
        env.event,
        InboundEvent::Unknown {
            platform_kind: "message_reaction".into(),
            raw
        }
    );

    let bare = json!({"update_id": 18});
    let env = parse_update_value(&bare).unwrap();
    assert_eq!(
        env.event,
        InboundEvent::Unknown {
            platform_kind: "unrecognised".into(),
            raw: bare
        }
    );
}

#[test]
fn malformed_known_payload_is_unknown() {
    let raw = json!({"update_id": 19, "message": {"text": "no chat"}});
    let env = parse(raw.clone());
    assert_eq!(
        env.event,
        InboundEvent::Unknown {
            platform_kind: "message".into(),
            raw
        }
    );
}

// ---------------------------------------------------------------- never panics

fn telegramish() -> impl Strategy<Value = Value> {
    let key = prop::sample::select(vec![
        "update_id",
        "message",
        "edited_message",
        "callback_query",
        "my_chat_member",
        "message_id",
        "date",
        "edit_date",
        "from",
        "chat",
        "id",
        "type",
        "text",
        "caption",
        "photo",
        "file_id",
        "width",
        "height",
        "file_size",
        "document",
        "file_name",
        "mime_type",
        "video",
        "audio",
        "voice",
        "sticker",
        "location",
        "latitude",
        "longitude",
        "contact",
        "phone_number",
        "data",
        "new_chat_member",
        "status",
        "first_name",
        "language_code",
        "reply_to_message",
    ]);
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        prop::sample::select(vec![
            "/start promo1",
            "/start@",
            "/start",
            "private",
            "kicked",
            "member",
            ""
        ])
        .prop_map(Value::from),
        ".{0,12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(6, 96, 8, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(key.clone(), inner, 0..6).prop_map(|m| {
                Value::Object(m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
            }),
        ]
    })
}

/// File, location and contact objects with plausible keys and random value types.
fn telegram_object() -> impl Strategy<Value = Value> {
    prop::collection::btree_map(
        prop::sample::select(vec![
            "file_id",
            "file_name",
            "mime_type",
            "width",
            "height",
            "file_size",
            "latitude",
            "longitude",
            "phone_number",
            "emoji",
            "title",
            "status",
            "id",
            "first_name",
        ]),
        telegramish(),
        0..6,
    )
    .prop_map(|m| Value::Object(m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()))
}

/// Updates shaped like Telegram's (one payload key, usually a real chat) with random fields, so
/// every branch of the parser sees odd field types and missing fields.
fn telegram_updates() -> impl Strategy<Value = Value> {
    let payload_key = prop_oneof![
        4 => Just("message"),
        2 => Just("edited_message"),
        2 => Just("callback_query"),
        2 => Just("my_chat_member"),
        1 => Just("channel_post"),
    ];
    let value = prop_oneof![
        2 => telegramish(),
        3 => telegram_object(),
        1 => prop::collection::vec(telegram_object(), 0..4).prop_map(Value::Array),
    ];
    let fields = prop::collection::btree_map(
        prop::sample::select(vec![
            "message_id",
            "date",
            "edit_date",
            "from",
            "text",
            "caption",
            "photo",
            "document",
            "video",
            "video_note",
            "audio",
            "voice",
            "sticker",
            "location",
            "contact",
            "id",
            "data",
            "message",
            "new_chat_member",
            "reply_to_message",
        ]),
        value,
        0..10,
    );
    let chat = prop_oneof![
        1 => Just(Value::Null),
        4 => (any::<i64>(), prop::sample::select(vec!["private", "group", "channel"]))
            .prop_map(|(id, ty)| json!({"id": id, "type": ty})),
        1 => telegramish(),
    ];
    (
        any::<i64>(),
        payload_key,
        fields,
        chat,
        prop::bool::weighted(0.9),
    )
        .prop_map(|(update_id, key, fields, chat, with_message_id)| {
            let mut payload: serde_json::Map<String, Value> =
                fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
            payload.insert("chat".into(), chat);
            if with_message_id {
                payload.insert("message_id".into(), json!(42));
            }
            json!({"update_id": update_id, key: payload})
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn parse_update_never_panics_on_telegram_updates(update in telegram_updates()) {
        prop_assert!(parse_update_value(&update).is_ok());
    }
}

proptest! {
    #[test]
    fn parse_update_never_panics_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse_update(&bytes);
    }

    #[test]
    fn parse_update_never_panics_on_json_ish_text(text in r#"[\[\]{}":,0-9a-z_ /@.-]{0,200}"#) {
        let _ = parse_update(text.as_bytes());
    }

    #[test]
    fn parse_update_accepts_any_object_with_an_integer_update_id(id in any::<i64>(), payload in telegramish()) {
        let update = json!({"update_id": id, "message": payload.clone(), "callback_query": payload.clone(), "x": payload});
        let env = parse_update_value(&update);
        prop_assert!(env.is_ok());
        prop_assert_eq!(env.unwrap().dedupe_key, format!("update:{id}"));
    }

    #[test]
    fn parse_update_never_panics_on_telegram_shaped_json(update in telegramish()) {
        let _ = parse_update(&serde_json::to_vec(&update).unwrap());
    }

    #[test]
    fn verify_secret_never_panics(expected in ".{0,40}", header in prop::option::of(".{0,40}")) {
        let ok = verify_secret(&expected, header.as_deref());
        prop_assert_eq!(ok, !expected.is_empty() && header.as_deref() == Some(expected.as_str()));
    }
}
