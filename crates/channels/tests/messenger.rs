//! Messenger inbound: signatures, the subscription handshake, and webhook bodies → events.

use hmac::{Hmac, KeyInit, Mac};
use proptest::prelude::*;
use serde_json::{Value, json};
use sha2::Sha256;
use switchboard_channels::messenger::{
    METADATA_PREFIX, ParsedWebhook, SignatureError, WebhookParseError, parse_webhook,
    verify_handshake, verify_signature,
};
use switchboard_domain::{
    AttachmentKind, ExternalUserId, InboundEnvelope, InboundEvent, Millis, Psid, Referral,
    ThreadControl,
};

const PAGE: &str = "1029384756";
const PSID: &str = "1254459154682919";
const SECRET: &[u8] = b"app-secret-0f9e";

// ---------------------------------------------------------------- helpers

fn sign(secret: &[u8], body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

fn item(event_key: &str, event: Value) -> Value {
    json!({
        "sender": {"id": PSID},
        "recipient": {"id": PAGE},
        "timestamp": 1458692752478_i64,
        event_key: event,
    })
}

fn body(items: Vec<Value>) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "object": "page",
        "entry": [{"id": PAGE, "time": 1458692752000_i64, "messaging": items}],
    }))
    .unwrap()
}

fn parse(items: Vec<Value>) -> ParsedWebhook {
    parse_webhook(&body(items), PAGE).unwrap()
}

fn only(items: Vec<Value>) -> InboundEnvelope {
    let parsed = parse(items);
    assert_eq!(parsed.envelopes.len(), 1, "{parsed:?}");
    parsed.envelopes.into_iter().next().unwrap()
}

fn psid_contact(env: &InboundEnvelope) -> &str {
    env.contact
        .as_ref()
        .expect("a contact")
        .external_id
        .as_str()
}

// ---------------------------------------------------------------- signature and handshake

#[test]
fn meta_signed_body_is_accepted() {
    let body =
        br#"{"object":"page","entry":[{"id":"1","messaging":[{"message":{"text":"\u00e9"}}]}]}"#;
    assert_eq!(
        verify_signature(SECRET, body, Some(&sign(SECRET, body))),
        Ok(())
    );
}

#[test]
fn uppercase_hex_signature_is_accepted() {
    let body = b"{}";
    let header = sign(SECRET, body)
        .to_uppercase()
        .replace("SHA256=", "sha256=");
    assert_eq!(verify_signature(SECRET, body, Some(&header)), Ok(()));
}

#[test]
fn body_signed_with_another_secret_is_rejected_as_mismatch() {
    let body = b"{\"object\":\"page\"}";
    let forged = sign(b"someone-elses-secret", body);
    assert_eq!(
        verify_signature(SECRET, body, Some(&forged)),
        Err(SignatureError::Mismatch)
    );
}

#[test]
fn tampered_body_is_rejected_as_mismatch() {
    let header = sign(SECRET, b"{\"amount\":1}");
    assert_eq!(
        verify_signature(SECRET, b"{\"amount\":9}", Some(&header)),
        Err(SignatureError::Mismatch)
    );
}

#[test]
fn request_without_signature_header_is_reported_missing() {
    assert_eq!(
        verify_signature(SECRET, b"{}", None),
        Err(SignatureError::Missing)
    );
}

#[test]
fn garbled_signature_headers_are_reported_malformed() {
    let good_hex = sign(SECRET, b"{}").trim_start_matches("sha256=").to_owned();
    for header in [
        String::new(),
        "sha256=".to_owned(),
        "sha256=zz".to_owned(),
        format!("sha1={good_hex}"),
        good_hex.clone(),
        format!("sha256={}", &good_hex[..62]),
        format!("sha256={good_hex}00"),
    ] {
        assert_eq!(
            verify_signature(SECRET, b"{}", Some(&header)),
            Err(SignatureError::Malformed),
            "{header:?}"
        );
    }
}

#[test]
fn meta_subscription_handshake_echoes_the_challenge() {
    assert_eq!(
        verify_handshake(
            Some("subscribe"),
            Some("tok-123"),
            Some("1158201444"),
            "tok-123"
        ),
        Some("1158201444".to_owned())
    );
}

#[test]
fn handshake_with_wrong_token_mode_or_no_challenge_is_refused() {
    assert_eq!(
        verify_handshake(Some("subscribe"), Some("tok-124"), Some("1"), "tok-123"),
        None
    );
    assert_eq!(
        verify_handshake(Some("subscribe"), Some("tok-12"), Some("1"), "tok-123"),
        None
    );
    assert_eq!(
        verify_handshake(Some("unsubscribe"), Some("tok-123"), Some("1"), "tok-123"),
        None
    );
    assert_eq!(
        verify_handshake(None, Some("tok-123"), Some("1"), "tok-123"),
        None
    );
    assert_eq!(
        verify_handshake(Some("subscribe"), None, Some("1"), "tok-123"),
        None
    );
    assert_eq!(
        verify_handshake(Some("subscribe"), Some("tok-123"), None, "tok-123"),
        None
    );
}

#[test]
fn handshake_never_matches_an_unset_verify_token() {
    assert_eq!(
        verify_handshake(Some("subscribe"), Some(""), Some("1"), ""),
        None
    );
}

// ---------------------------------------------------------------- envelope shape

#[test]
fn non_json_and_non_page_bodies_are_errors() {
    assert!(matches!(
        parse_webhook(b"not json", PAGE),
        Err(WebhookParseError::NotJson(_))
    ));
    for bad in [
        json!({"object": "instagram", "entry": []}),
        json!({"object": "page"}),
        json!({"object": "page", "entry": {}}),
        json!([1, 2]),
        json!("page"),
    ] {
        assert_eq!(
            parse_webhook(&serde_json::to_vec(&bad).unwrap(), PAGE),
            Err(WebhookParseError::NotPageWebhook),
            "{bad}"
        );
    }
}

#[test]
fn empty_entry_list_is_a_valid_empty_webhook() {
    let parsed = parse_webhook(br#"{"object":"page","entry":[]}"#, PAGE).unwrap();
    assert!(parsed.envelopes.is_empty());
    assert_eq!(parsed.skipped_foreign_entries, 0);
}

#[test]
fn batched_entries_with_several_items_each_become_envelopes_in_order() {
    let b = serde_json::to_vec(&json!({
        "object": "page",
        "entry": [
            {"id": PAGE, "time": 1, "messaging": [
                item("message", json!({"mid": "m_1", "text": "one"})),
                item("message", json!({"mid": "m_2", "text": "two"})),
            ]},
            {"id": PAGE, "time": 2, "messaging": [
                item("read", json!({"watermark": 1458668856253_i64})),
            ], "standby": [
                item("message", json!({"mid": "m_3", "text": "three"})),
            ]},
        ],
    }))
    .unwrap();
    let parsed = parse_webhook(&b, PAGE).unwrap();
    let keys: Vec<&str> = parsed
        .envelopes
        .iter()
        .map(|e| e.dedupe_key.as_str())
        .collect();
    assert_eq!(keys[..2], ["mid:m_1", "mid:m_2"]);
    assert!(keys[2].starts_with("read:"));
    assert_eq!(keys[3], "mid:m_3");
    assert_eq!(
        parsed
            .envelopes
            .iter()
            .map(|e| e.standby)
            .collect::<Vec<_>>(),
        [false, false, false, true]
    );
}

#[test]
fn items_for_another_page_are_skipped_and_counted() {
    let b = serde_json::to_vec(&json!({
        "object": "page",
        "entry": [
            {"id": "999999", "time": 1, "messaging": [
                item("message", json!({"mid": "m_other1", "text": "x"})),
                item("message", json!({"mid": "m_other2", "text": "y"})),
            ], "standby": [item("read", json!({"watermark": 5}))]},
            {"id": PAGE, "time": 1, "messaging": [item("message", json!({"mid": "m_ours", "text": "z"}))]},
        ],
    }))
    .unwrap();
    let parsed = parse_webhook(&b, PAGE).unwrap();
    assert_eq!(parsed.skipped_foreign_entries, 3);
    assert_eq!(parsed.envelopes.len(), 1);
    assert_eq!(parsed.envelopes[0].dedupe_key, "mid:m_ours");
}

#[test]
fn standby_events_are_flagged() {
    let b = serde_json::to_vec(&json!({
        "object": "page",
        "entry": [{"id": PAGE, "time": 1, "standby": [
            item("postback", json!({"title": "Get Started"})),
        ]}],
    }))
    .unwrap();
    let parsed = parse_webhook(&b, PAGE).unwrap();
    assert_eq!(parsed.envelopes.len(), 1);
    assert!(parsed.envelopes[0].standby);
    assert!(matches!(
        parsed.envelopes[0].event,
        InboundEvent::Postback { payload: None, .. }
    ));
}

#[test]
fn occurred_at_is_the_item_timestamp_else_the_entry_time() {
    let env = only(vec![item("message", json!({"mid": "m_t", "text": "hi"}))]);
    assert_eq!(env.occurred_at, Millis(1458692752478));

    let mut no_ts = item("message", json!({"mid": "m_u", "text": "hi"}));
    no_ts.as_object_mut().unwrap().remove("timestamp");
    let env = only(vec![no_ts]);
    assert_eq!(env.occurred_at, Millis(1458692752000));
}

// ---------------------------------------------------------------- messages

#[test]
fn customer_text_message_becomes_a_message_from_their_psid() {
    let env = only(vec![item(
        "message",
        json!({"mid": "m_AG5Hz", "text": "hi, is this open?"}),
    )]);
    assert_eq!(env.dedupe_key, "mid:m_AG5Hz");
    assert_eq!(
        env.contact.as_ref().unwrap().external_id,
        ExternalUserId::from(Psid::parse(PSID).unwrap())
    );
    assert!(!env.standby);
    let InboundEvent::Message {
        platform_message_id,
        content,
        referral,
    } = env.event
    else {
        panic!("{:?}", env.event)
    };
    assert_eq!(platform_message_id, "m_AG5Hz");
    assert_eq!(content.text.as_deref(), Some("hi, is this open?"));
    assert!(content.attachments.is_empty());
    assert_eq!(referral, None);
}

#[test]
fn quick_reply_tap_and_email_quick_reply_keep_their_payloads() {
    let parsed = parse(vec![
        item(
            "message",
            json!({"mid": "m_q1", "text": "Red", "quick_reply": {"payload": "COLOR_RED"}}),
        ),
        item(
            "message",
            json!({"mid": "m_q2", "text": "ann@example.com", "quick_reply": {"payload": "ann@example.com"}}),
        ),
    ]);
    let payloads: Vec<_> = parsed
        .envelopes
        .iter()
        .map(|e| match &e.event {
            InboundEvent::Message { content, .. } => content.quick_reply_payload.clone(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        payloads,
        [
            Some("COLOR_RED".to_owned()),
            Some("ann@example.com".to_owned())
        ]
    );
}

#[test]
fn reply_keeps_the_quoted_mid() {
    let env = only(vec![item(
        "message",
        json!({"mid": "m_r", "text": "yes", "reply_to": {"mid": "m_orig", "is_self_reply": false}}),
    )]);
    let InboundEvent::Message { content, .. } = env.event else {
        panic!()
    };
    assert_eq!(content.reply_to.as_deref(), Some("m_orig"));
}

#[test]
fn attachments_map_to_canonical_kinds() {
    let env = only(vec![item(
        "message",
        json!({"mid": "m_att", "attachments": [
            {"type": "image", "payload": {"url": "https://cdn.example/i.jpg"}},
            {"type": "video", "payload": {"url": "https://cdn.example/v.mp4"}},
            {"type": "audio", "payload": {"url": "https://cdn.example/a.mp4"}},
            {"type": "file", "payload": {"url": "https://cdn.example/f.pdf"}},
            {"type": "sticker", "payload": {"url": "https://cdn.example/s.png", "sticker_id": 369239263222822_i64}},
            {"type": "fallback", "payload": {"url": "https://example.com/article", "title": "An article"}},
            {"type": "fallback"},
            {"type": "location", "payload": {"coordinates": {"lat": 52.52, "long": 13.405}}},
            {"type": "ig_reel", "payload": {"url": "https://instagram.example/reel", "title": "Reel"}},
            {"type": "template", "payload": {"template_type": "generic"}},
            {"payload": {"url": "https://x"}},
        ]}),
    )]);
    let InboundEvent::Message { content, .. } = env.event else {
        panic!()
    };
    let a = &content.attachments;
    let kinds: Vec<_> = a.iter().map(|x| x.kind).collect();
    use AttachmentKind::*;
    assert_eq!(
        kinds,
        [
            Image, Video, Audio, File, Sticker, Fallback, Fallback, Location, Other, Other, Other
        ]
    );
    assert_eq!(a[0].url.as_deref(), Some("https://cdn.example/i.jpg"));
    assert_eq!(a[4].platform_ref.as_deref(), Some("369239263222822"));
    assert_eq!(a[5].title.as_deref(), Some("An article"));
    assert_eq!(a[5].url.as_deref(), Some("https://example.com/article"));
    assert_eq!(a[6].url, None);
    assert_eq!((a[7].latitude, a[7].longitude), (Some(52.52), Some(13.405)));
    assert_eq!(a[8].original_type.as_deref(), Some("ig_reel"));
    assert_eq!(a[8].title.as_deref(), Some("Reel"));
    assert_eq!(a[9].original_type.as_deref(), Some("template"));
    assert_eq!(a[0].original_type, None);
}

#[test]
fn click_to_messenger_ad_message_carries_the_ad_referral() {
    let env = only(vec![item(
        "message",
        json!({"mid": "m_ad", "text": "Is this available?", "referral": {
            "ref": "spring", "ad_id": "6045246247433", "source": "ADS", "type": "OPEN_THREAD",
            "ads_context_data": {"ad_title": "Spring sale", "photo_url": "https://x", "post_id": "1"}
        }}),
    )]);
    let InboundEvent::Message { referral, .. } = env.event else {
        panic!()
    };
    assert_eq!(
        referral,
        Some(Referral {
            r#ref: Some("spring".into()),
            source: "ADS".into(),
            ad_id: Some("6045246247433".into()),
            referer_uri: None,
        })
    );
}

#[test]
fn echo_of_our_own_send_is_marked_ours_and_attributed_to_the_recipient() {
    let echo = json!({
        "sender": {"id": PAGE}, "recipient": {"id": PSID}, "timestamp": 1458692752478_i64,
        "message": {"is_echo": true, "app_id": 1517776481860111_i64,
                    "metadata": format!("{METADATA_PREFIX}4711"), "mid": "m_echo1", "text": "Thanks!"},
    });
    let env = only(vec![echo]);
    assert_eq!(env.dedupe_key, "echo:m_echo1");
    assert_eq!(psid_contact(&env), PSID);
    let InboundEvent::Echo {
        platform_message_id,
        content,
        ours,
    } = env.event
    else {
        panic!()
    };
    assert_eq!(platform_message_id, "m_echo1");
    assert_eq!(content.text.as_deref(), Some("Thanks!"));
    assert!(ours);
}

#[test]
fn echo_of_an_inbox_reply_is_not_ours() {
    for metadata in [None, Some("other-app:1"), Some("SWITCHBOARD:1")] {
        let mut message = json!({"is_echo": true, "app_id": 263902037430900_i64, "mid": "m_inbox", "text": "hello from the inbox"});
        if let Some(md) = metadata {
            message["metadata"] = json!(md);
        }
        let echo = json!({"sender": {"id": PAGE}, "recipient": {"id": PSID}, "timestamp": 1, "message": message});
        let env = only(vec![echo]);
        assert!(
            matches!(env.event, InboundEvent::Echo { ours: false, .. }),
            "{metadata:?}"
        );
    }
}

#[test]
fn edited_message_becomes_an_edit_keyed_by_mid_and_edit_number() {
    let parsed = parse(vec![
        item(
            "message_edit",
            json!({"mid": "m_e", "text": "fixed typo", "num_edit": 1}),
        ),
        item(
            "message_edit",
            json!({"mid": "m_e", "text": "fixed again", "num_edit": 2}),
        ),
    ]);
    assert_eq!(parsed.envelopes[0].dedupe_key, "edit:m_e:1");
    assert_eq!(parsed.envelopes[1].dedupe_key, "edit:m_e:2");
    let InboundEvent::Edit {
        platform_message_id,
        content,
    } = &parsed.envelopes[0].event
    else {
        panic!()
    };
    assert_eq!(platform_message_id, "m_e");
    assert_eq!(content.text.as_deref(), Some("fixed typo"));
}

#[test]
fn get_started_postback_from_an_m_me_link_carries_the_referral() {
    let env = only(vec![item(
        "postback",
        json!({"mid": "m_pb", "title": "Get Started", "payload": "GET_STARTED",
               "referral": {"ref": "summer", "source": "SHORTLINK", "type": "OPEN_THREAD"}}),
    )]);
    assert_eq!(env.dedupe_key, "postback:m_pb");
    assert_eq!(
        env.event,
        InboundEvent::Postback {
            title: Some("Get Started".into()),
            payload: Some("GET_STARTED".into()),
            referral: Some(Referral {
                r#ref: Some("summer".into()),
                source: "SHORTLINK".into(),
                ad_id: None,
                referer_uri: None
            }),
            callback_id: None,
        }
    );
}

#[test]
fn postback_without_mid_is_keyed_by_content_digest() {
    let env = only(vec![item(
        "postback",
        json!({"title": "Menu", "payload": "MENU"}),
    )]);
    assert!(env.dedupe_key.starts_with("postback:"));
    assert_eq!(env.dedupe_key.len(), "postback:".len() + 64);
}

#[test]
fn m_me_link_into_an_existing_thread_becomes_a_referral() {
    let env = only(vec![item(
        "referral",
        json!({"ref": "winter_promo", "source": "SHORTLINK", "type": "OPEN_THREAD",
               "referer_uri": "https://m.me/shop?ref=winter_promo"}),
    )]);
    assert_eq!(psid_contact(&env), PSID);
    assert!(env.dedupe_key.starts_with("referral:"));
    assert_eq!(
        env.event,
        InboundEvent::Referral(Referral {
            r#ref: Some("winter_promo".into()),
            source: "SHORTLINK".into(),
            ad_id: None,
            referer_uri: Some("https://m.me/shop?ref=winter_promo".into()),
        })
    );
    assert!(env.event.opens_window());
}

#[test]
fn plugin_optin_opens_the_window_but_marketing_and_otn_optins_do_not() {
    let parsed = parse(vec![
        item("optin", json!({"ref": "checkout_page"})),
        item(
            "optin",
            json!({"type": "notification_messages", "payload": "WEEKLY",
                             "notification_messages_token": "tok", "notification_messages_timezone": "UTC",
                             "token_expiry_timestamp": 1, "user_token_status": "NOT_REFRESHED",
                             "notification_messages_status": "RESUME_NOTIFICATIONS", "title": "Weekly"}),
        ),
        item(
            "optin",
            json!({"type": "one_time_notif_req", "payload": "RESTOCK", "one_time_notif_token": "otn"}),
        ),
    ]);
    let e = &parsed.envelopes;
    assert_eq!(
        e[0].event,
        InboundEvent::Optin {
            r#ref: Some("checkout_page".into()),
            optin_type: None,
            payload: None,
            opens_window: true
        }
    );
    assert_eq!(
        e[1].event,
        InboundEvent::Optin {
            r#ref: None,
            optin_type: Some("notification_messages".into()),
            payload: Some("WEEKLY".into()),
            opens_window: false
        }
    );
    assert!(
        matches!(&e[2].event, InboundEvent::Optin { opens_window: false, optin_type: Some(t), .. } if t == "one_time_notif_req")
    );
}

#[test]
fn delivery_and_read_receipts_carry_watermarks() {
    let parsed = parse(vec![
        item(
            "delivery",
            json!({"mids": ["m_a", "m_b"], "watermark": 1458668856253_i64}),
        ),
        item("delivery", json!({"watermark": 1458668856300_i64})),
        item("read", json!({"watermark": 1458668856400_i64})),
    ]);
    let e = &parsed.envelopes;
    assert_eq!(
        e[0].event,
        InboundEvent::Delivery {
            watermark: Millis(1458668856253),
            platform_message_ids: vec!["m_a".into(), "m_b".into()]
        }
    );
    assert_eq!(
        e[1].event,
        InboundEvent::Delivery {
            watermark: Millis(1458668856300),
            platform_message_ids: vec![]
        }
    );
    assert_eq!(
        e[2].event,
        InboundEvent::Read {
            watermark: Millis(1458668856400)
        }
    );
    assert!(e[0].dedupe_key.starts_with("delivery:"));
    assert!(e[2].dedupe_key.starts_with("read:"));
    assert_eq!(psid_contact(&e[2]), PSID);
}

#[test]
fn reactions_and_unreactions_are_told_apart() {
    let parsed = parse(vec![
        item(
            "reaction",
            json!({"reaction": "love", "emoji": "\u{2764}\u{fe0f}", "action": "react", "mid": "m_target"}),
        ),
        item("reaction", json!({"action": "unreact", "mid": "m_target"})),
    ]);
    assert_eq!(
        parsed.envelopes[0].event,
        InboundEvent::Reaction {
            platform_message_id: "m_target".into(),
            reaction: Some("love".into()),
            emoji: Some("\u{2764}\u{fe0f}".into()),
            removed: false
        }
    );
    assert_eq!(
        parsed.envelopes[1].event,
        InboundEvent::Reaction {
            platform_message_id: "m_target".into(),
            reaction: None,
            emoji: None,
            removed: true
        }
    );
    assert_ne!(
        parsed.envelopes[0].dedupe_key,
        parsed.envelopes[1].dedupe_key
    );
}

#[test]
fn handover_events_become_thread_control() {
    let parsed = parse(vec![
        item(
            "pass_thread_control",
            json!({"previous_owner_app_id": null, "new_owner_app_id": "263902037430900", "metadata": "to inbox"}),
        ),
        item(
            "take_thread_control",
            json!({"previous_owner_app_id": "263902037430900", "new_owner_app_id": "1517776481860111", "metadata": "back"}),
        ),
        item(
            "request_thread_control",
            json!({"requested_owner_app_id": 123456789_i64, "metadata": "please"}),
        ),
        item(
            "release_thread_control",
            json!({"new_owner_app_id": "263902037430900"}),
        ),
    ]);
    let got: Vec<_> = parsed.envelopes.iter().map(|e| e.event.clone()).collect();
    assert_eq!(
        got,
        [
            InboundEvent::ThreadControl {
                action: ThreadControl::Pass,
                app_id: Some("263902037430900".into()),
                metadata: Some("to inbox".into())
            },
            InboundEvent::ThreadControl {
                action: ThreadControl::Take,
                app_id: Some("1517776481860111".into()),
                metadata: Some("back".into())
            },
            InboundEvent::ThreadControl {
                action: ThreadControl::Request,
                app_id: Some("123456789".into()),
                metadata: Some("please".into())
            },
            InboundEvent::ThreadControl {
                action: ThreadControl::Release,
                app_id: Some("263902037430900".into()),
                metadata: None
            },
        ]
    );
}

#[test]
fn policy_enforcement_is_a_page_level_event_without_contact() {
    let pe = json!({"recipient": {"id": PAGE}, "timestamp": 1458692752478_i64,
                    "policy_enforcement": {"action": "block", "reason": "The bot violated our Platform Policies"}});
    let env = only(vec![pe]);
    assert_eq!(env.contact, None);
    assert_eq!(
        env.event,
        InboundEvent::PolicyEnforcement {
            action: "block".into(),
            reason: Some("The bot violated our Platform Policies".into())
        }
    );
    assert!(env.dedupe_key.starts_with("policy_enforcement:"));
}

// ---------------------------------------------------------------- unknowns

#[test]
fn unknown_event_kind_is_kept_verbatim_not_rejected() {
    let raw = item(
        "messaging_feedback",
        json!({"feedback_screens": [{"screen_id": 0}]}),
    );
    let env = only(vec![raw.clone()]);
    assert_eq!(
        env.event,
        InboundEvent::Unknown {
            platform_kind: "messaging_feedback".into(),
            raw
        }
    );
    assert_eq!(psid_contact(&env), PSID);
    assert!(env.dedupe_key.starts_with("unknown:"));
}

#[test]
fn plugin_user_ref_sender_becomes_unknown_with_the_raw_item() {
    let raw = json!({"sender": {"user_ref": "ur_abc"}, "recipient": {"id": PAGE}, "timestamp": 1,
                     "message": {"mid": "m_plugin", "text": "hi from the plugin"}});
    let env = only(vec![raw.clone()]);
    assert_eq!(env.contact, None);
    assert_eq!(
        env.event,
        InboundEvent::Unknown {
            platform_kind: "message".into(),
            raw
        }
    );
}

#[test]
fn items_missing_what_their_kind_needs_become_unknown() {
    let no_sender =
        json!({"recipient": {"id": PAGE}, "timestamp": 1, "message": {"mid": "m_x", "text": "?"}});
    let parsed = parse(vec![
        no_sender,
        item("message", json!({"text": "no mid"})),
        item("read", json!({})),
        item("reaction", json!({"action": "react"})),
        item("message", json!("not an object")),
        json!({"timestamp": 5}),
        json!(42),
    ]);
    let kinds: Vec<_> = parsed
        .envelopes
        .iter()
        .map(|e| match &e.event {
            InboundEvent::Unknown { platform_kind, .. } => platform_kind.as_str(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "message",
            "message",
            "read",
            "reaction",
            "message",
            "unrecognised",
            "unrecognised"
        ]
    );
}

// ---------------------------------------------------------------- dedupe keys

#[test]
fn meta_retry_of_the_same_delivery_yields_the_same_dedupe_keys() {
    let items = || {
        vec![
            item("message", json!({"mid": "m_1", "text": "hi"})),
            item("read", json!({"watermark": 100})),
            item(
                "reaction",
                json!({"reaction": "like", "action": "react", "mid": "m_0"}),
            ),
            item("optin", json!({"ref": "x"})),
            item("some_future_kind", json!({"a": 1})),
        ]
    };
    let first: Vec<_> = parse(items())
        .envelopes
        .into_iter()
        .map(|e| e.dedupe_key)
        .collect();
    let again: Vec<_> = parse(items())
        .envelopes
        .into_iter()
        .map(|e| e.dedupe_key)
        .collect();
    assert_eq!(first, again);
    // Field order on the wire does not matter either.
    let reordered = br#"{"entry":[{"messaging":[{"read":{"watermark":100},"timestamp":1458692752478,
        "recipient":{"id":"1029384756"},"sender":{"id":"1254459154682919"}}],"time":1,"id":"1029384756"}],
        "object":"page"}"#;
    let parsed = parse_webhook(reordered, PAGE).unwrap();
    assert_eq!(parsed.envelopes[0].dedupe_key, first[1]);
}

#[test]
fn different_events_get_different_dedupe_keys() {
    let parsed = parse(vec![
        item("read", json!({"watermark": 100})),
        item("read", json!({"watermark": 101})),
        item(
            "reaction",
            json!({"reaction": "like", "action": "react", "mid": "m_0"}),
        ),
        item(
            "reaction",
            json!({"reaction": "like", "action": "unreact", "mid": "m_0"}),
        ),
        item("message", json!({"mid": "m_1", "text": "hi"})),
        item("message", json!({"mid": "m_2", "text": "hi"})),
    ]);
    let mut keys: Vec<_> = parsed
        .envelopes
        .iter()
        .map(|e| e.dedupe_key.clone())
        .collect();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), 6);
}

// ---------------------------------------------------------------- never panics

/// JSON values built from Messenger's own vocabulary, so the fuzzer reaches deep into the parser
/// instead of stopping at "not JSON".
fn messengerish() -> impl Strategy<Value = Value> {
    let key = prop::sample::select(vec![
        "object",
        "entry",
        "id",
        "time",
        "messaging",
        "standby",
        "sender",
        "recipient",
        "timestamp",
        "message",
        "mid",
        "text",
        "is_echo",
        "metadata",
        "attachments",
        "type",
        "payload",
        "url",
        "sticker_id",
        "coordinates",
        "lat",
        "long",
        "quick_reply",
        "reply_to",
        "referral",
        "ref",
        "source",
        "ad_id",
        "postback",
        "title",
        "optin",
        "delivery",
        "mids",
        "watermark",
        "read",
        "reaction",
        "action",
        "emoji",
        "message_edit",
        "num_edit",
        "pass_thread_control",
        "new_owner_app_id",
        "policy_enforcement",
        "user_ref",
    ]);
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        prop::sample::select(vec![
            "page",
            PAGE,
            PSID,
            "m_1",
            "switchboard:1",
            "unreact",
            "image",
            "location",
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

/// Items shaped like Meta's (routing keys plus one event key) with random payloads, so every
/// event branch of the parser sees odd field types and missing fields.
fn messenger_items() -> impl Strategy<Value = Value> {
    let event_key = prop::sample::select(vec![
        "message",
        "message_edit",
        "postback",
        "referral",
        "optin",
        "delivery",
        "read",
        "reaction",
        "pass_thread_control",
        "take_thread_control",
        "request_thread_control",
        "release_thread_control",
        "policy_enforcement",
        "app_roles",
    ]);
    (
        event_key,
        messengerish(),
        prop::collection::btree_map(
            prop::sample::select(vec![
                "mid",
                "text",
                "is_echo",
                "metadata",
                "attachments",
                "quick_reply",
                "reply_to",
                "referral",
                "ref",
                "source",
                "type",
                "payload",
                "title",
                "mids",
                "watermark",
                "reaction",
                "action",
                "emoji",
                "num_edit",
                "new_owner_app_id",
                "reason",
            ]),
            messengerish(),
            0..8,
        ),
        prop::option::weighted(0.8, prop::sample::select(vec![PSID, PAGE, "", "abc"])),
        any::<bool>(),
    )
        .prop_map(|(key, sender, payload, psid, echo)| {
            let mut payload: serde_json::Map<String, Value> = payload
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect();
            if echo {
                payload.insert("is_echo".into(), Value::Bool(true));
            }
            let mut item = json!({"recipient": {"id": PSID}, "timestamp": 1, key: payload});
            item["sender"] = match psid {
                Some(id) => json!({"id": id}),
                None => sender,
            };
            item
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn parse_webhook_never_panics_on_messenger_items(items in prop::collection::vec(messenger_items(), 1..6)) {
        let parsed = parse_webhook(&body(items.clone()), PAGE);
        prop_assert!(parsed.is_ok());
        prop_assert_eq!(parsed.unwrap().envelopes.len(), items.len());
    }
}

proptest! {
    #[test]
    fn parse_webhook_never_panics_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse_webhook(&bytes, PAGE);
    }

    #[test]
    fn parse_webhook_never_panics_on_json_ish_text(text in r#"[\[\]{}":,0-9a-z_ .-]{0,200}"#) {
        let _ = parse_webhook(text.as_bytes(), PAGE);
    }

    #[test]
    fn parse_webhook_never_panics_on_messenger_shaped_json(entries in prop::collection::vec(messengerish(), 0..4)) {
        let body = json!({"object": "page", "entry": entries.iter().map(|e| {
            json!({"id": PAGE, "messaging": [e], "standby": e})
        }).collect::<Vec<_>>()});
        let parsed = parse_webhook(&serde_json::to_vec(&body).unwrap(), PAGE);
        prop_assert!(parsed.is_ok());
    }

    #[test]
    fn verify_signature_never_panics(
        secret in prop::collection::vec(any::<u8>(), 0..80),
        body in prop::collection::vec(any::<u8>(), 0..256),
        header in prop::option::of(".{0,80}"),
    ) {
        let _ = verify_signature(&secret, &body, header.as_deref());
    }

    #[test]
    fn correctly_signed_arbitrary_bodies_verify(
        secret in prop::collection::vec(any::<u8>(), 0..80),
        body in prop::collection::vec(any::<u8>(), 0..256),
    ) {
        prop_assert_eq!(verify_signature(&secret, &body, Some(&sign(&secret, &body))), Ok(()));
    }
}
