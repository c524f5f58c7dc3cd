//! A customer writes to a Facebook Page; Switchboard stores it once and answers once.

mod common;

use common::*;
use serde_json::{Value, json};
use switchboard_emulator::{Fault, FaultRule, Platform, Signing};
use switchboard_storage::on_both_backends;
use switchboard_storage::testing::TestDatabase;

const PAGE: &str = "1000000001";
const ANN: &str = "24000000000000001";

/// Platform timestamps are real: automatic answers go out only inside the 24-hour window.
fn now_ms() -> i64 {
    switchboard_domain::Millis::now().0
}

fn one_message(mid: &str, psid: &str, text: &str) -> Vec<u8> {
    let t = now_ms();
    serde_json::to_vec(
        &json!({"object": "page", "entry": [{"id": PAGE, "time": t, "messaging": [{
        "sender": {"id": psid}, "recipient": {"id": PAGE}, "timestamp": t,
        "message": {"mid": mid, "text": text}}]}]}),
    )
    .unwrap()
}

on_both_backends!(
    a_signed_message_is_stored_once_and_answered_once,
    a_retried_delivery_changes_nothing,
    bad_or_missing_signatures_are_refused_and_store_nothing,
    invalid_json_with_a_valid_signature_is_a_400,
    an_oversized_body_is_a_413,
    every_event_of_a_batched_delivery_is_stored,
    the_verification_handshake_echoes_the_challenge_only_for_our_token,
    receipts_move_the_reply_to_delivered_and_read,
    a_blocked_person_is_marked_unreachable_not_retried,
    a_transient_platform_error_is_retried_and_sent_once,
    when_the_database_is_down_webhooks_get_503_so_meta_retries,
);

async fn a_signed_message_is_stored_once_and_answered_once(db: TestDatabase) {
    let app = spawn_app(db).await;
    let page = app.connect_page(PAGE).await;

    let delivery = app
        .emulator
        .messenger_user_sends_text(PAGE, ANN, "Hi! Do you ship to Jakarta?")
        .await;
    assert_eq!(delivery.status, 200, "{}", delivery.body);

    let messages = app.settled_messages(&page, ANN).await;
    assert_eq!(messages.len(), 2, "{messages:#?}");
    assert_eq!(
        (
            messages[0]["direction"].as_str(),
            messages[0]["text"].as_str()
        ),
        (Some("in"), Some("Hi! Do you ship to Jakarta?"))
    );
    assert_eq!(
        (
            messages[1]["direction"].as_str(),
            messages[1]["status"].as_str()
        ),
        (Some("out"), Some("sent"))
    );
    assert_eq!(messages[1]["author_kind"], "automation");

    let sends = app.sends(Platform::Messenger);
    assert_eq!(sends.len(), 1);
    let request = &sends[0].request;
    assert_eq!(request["recipient"]["id"], ANN);
    assert_eq!(request["messaging_type"], "RESPONSE");
    assert_eq!(request["message"]["text"], DEFAULT_REPLY);
    assert_eq!(
        messages[1]["platform_message_id"],
        sends[0].response["message_id"]
    );
    app.stop().await;
}

async fn a_retried_delivery_changes_nothing(db: TestDatabase) {
    let app = spawn_app(db).await;
    let page = app.connect_page(PAGE).await;
    app.emulator.messenger_register_user(PAGE, ANN);
    let body = one_message("m_retry_1", ANN, "Is the blue one in stock?");
    for _ in 0..3 {
        let r = app
            .emulator
            .messenger_deliver_raw(PAGE, body.clone(), Signing::Valid)
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let messages = app.settled_messages(&page, ANN).await;
    settle().await;
    assert_eq!(
        messages.iter().filter(|m| m["direction"] == "in").count(),
        1,
        "{messages:#?}"
    );
    assert_eq!(
        app.sends(Platform::Messenger).len(),
        1,
        "one reply, not three"
    );
    app.stop().await;
}

async fn bad_or_missing_signatures_are_refused_and_store_nothing(db: TestDatabase) {
    let app = spawn_app(db).await;
    let page = app.connect_page(PAGE).await;
    let body = one_message("m_forged", ANN, "forged");
    let forged = app
        .emulator
        .messenger_deliver_raw(PAGE, body.clone(), Signing::Invalid)
        .await;
    assert_eq!(forged.status, 403);
    let unsigned = app
        .emulator
        .messenger_deliver_raw(PAGE, body, Signing::Missing)
        .await;
    assert_eq!(unsigned.status, 401);
    let error: Value = serde_json::from_str(&unsigned.body).expect("JSON error body");
    assert_eq!(error["error"]["code"], "unauthenticated");
    assert!(app.contacts(&page).await.is_empty());
    assert_eq!(
        app.server
            .store
            .count_events(switchboard_domain::ChannelId(page.id))
            .await
            .unwrap(),
        0
    );
    settle().await;
    assert!(app.sends(Platform::Messenger).is_empty());
    app.stop().await;
}

async fn invalid_json_with_a_valid_signature_is_a_400(db: TestDatabase) {
    let app = spawn_app(db).await;
    let page = app.connect_page(PAGE).await;
    let r = app
        .emulator
        .messenger_deliver_raw(
            PAGE,
            b"{\"object\":\"page\",\"entry\":[".to_vec(),
            Signing::Valid,
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    let r = app
        .emulator
        .messenger_deliver_raw(PAGE, b"[1,2,3]".to_vec(), Signing::Valid)
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(app.contacts(&page).await.is_empty());
    app.stop().await;
}

async fn an_oversized_body_is_a_413(db: TestDatabase) {
    let app = spawn_app(db).await;
    let page = app.connect_page(PAGE).await;
    let huge = one_message("m_huge", ANN, &"x".repeat(2 * 1024 * 1024));
    let r = app
        .emulator
        .messenger_deliver_raw(PAGE, huge, Signing::Valid)
        .await;
    assert_eq!(r.status, 413, "{}", r.body);
    assert!(app.contacts(&page).await.is_empty());
    app.stop().await;
}

async fn every_event_of_a_batched_delivery_is_stored(db: TestDatabase) {
    let app = spawn_app(db).await;
    let page = app.connect_page(PAGE).await;
    for psid in ["101", "102", "103"] {
        app.emulator.messenger_register_user(PAGE, psid);
    }
    let item = |psid: &str, mid: &str, t: i64| {
        json!({"sender": {"id": psid}, "recipient": {"id": PAGE}, "timestamp": t,
                                                      "message": {"mid": mid, "text": format!("hello {mid}")}})
    };
    let t = now_ms();
    let body = json!({"object": "page", "entry": [
        {"id": PAGE, "time": t, "messaging": [item("101", "m_a", t), item("102", "m_b", t + 1)]},
        {"id": PAGE, "time": t + 2, "messaging": [item("103", "m_c", t + 2),
            {"sender": {"id": "101"}, "recipient": {"id": PAGE}, "timestamp": t + 3,
             "postback": {"mid": "m_pb", "title": "Get Started", "payload": "GET_STARTED"}}]}
    ]});
    let r = app
        .emulator
        .messenger_deliver_raw(PAGE, serde_json::to_vec(&body).unwrap(), Signing::Valid)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    for psid in ["101", "102", "103"] {
        let messages = app.settled_messages(&page, psid).await;
        assert_eq!(messages.len(), 2, "{psid}: {messages:#?}");
    }
    assert_eq!(
        app.server
            .store
            .count_events(switchboard_domain::ChannelId(page.id))
            .await
            .unwrap(),
        4
    );
    assert_eq!(
        app.sends(Platform::Messenger).len(),
        3,
        "postbacks get no default reply"
    );
    app.stop().await;
}

async fn the_verification_handshake_echoes_the_challenge_only_for_our_token(db: TestDatabase) {
    let app = spawn_app(db).await;
    let page = app.connect_page(PAGE).await;
    let ok = app.emulator.messenger_verify_webhook(PAGE).await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    let url = format!(
        "{}?hub.mode=subscribe&hub.verify_token=nope&hub.challenge=1158201444",
        page.webhook_url
    );
    let wrong = app.http.get(&url).send().await.unwrap();
    assert_eq!(wrong.status().as_u16(), 403);
    let url = format!(
        "{}?hub.mode=subscribe&hub.verify_token={VERIFY_TOKEN}&hub.challenge=1158201444",
        page.webhook_url
    );
    let right = app.http.get(&url).send().await.unwrap();
    assert_eq!(right.text().await.unwrap(), "1158201444");
    app.stop().await;
}

async fn receipts_move_the_reply_to_delivered_and_read(db: TestDatabase) {
    let app = spawn_app(db).await;
    let page = app.connect_page(PAGE).await;
    app.emulator
        .messenger_user_sends_text(PAGE, ANN, "hello")
        .await;
    let messages = app.settled_messages(&page, ANN).await;
    let reply_mid = messages[1]["platform_message_id"]
        .as_str()
        .expect("sent")
        .to_owned();
    let now = app.emulator.now_millis() + 1_000;
    let r = app
        .emulator
        .messenger_user_event(
            PAGE,
            ANN,
            json!({"delivery": {"mids": [reply_mid], "watermark": now}}),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        app.messages_with(&page, ANN).await[1]["status"],
        "delivered"
    );
    app.emulator
        .messenger_user_event(PAGE, ANN, json!({"read": {"watermark": now}}))
        .await;
    assert_eq!(app.messages_with(&page, ANN).await[1]["status"], "read");
    // A late delivery receipt never moves it back.
    app.emulator
        .messenger_user_event(PAGE, ANN, json!({"delivery": {"watermark": now + 5}}))
        .await;
    assert_eq!(app.messages_with(&page, ANN).await[1]["status"], "read");
    app.stop().await;
}

async fn a_blocked_person_is_marked_unreachable_not_retried(db: TestDatabase) {
    let app = spawn_app(db).await;
    let page = app.connect_page(PAGE).await;
    app.emulator.inject(
        FaultRule::next(1, Fault::graph(551, 1545041))
            .on_platform(Platform::Messenger)
            .on_method("messages"),
    );
    app.emulator
        .messenger_user_sends_text(PAGE, ANN, "hello")
        .await;
    let messages = app.settled_messages(&page, ANN).await;
    assert_eq!(messages[1]["status"], "failed", "{messages:#?}");
    assert_eq!(messages[1]["error_class"], "recipient_unavailable");
    settle().await;
    assert_eq!(
        app.emulator
            .count_calls(Platform::Messenger, "messages", false),
        1,
        "not retried"
    );
    let contact = &app.contacts(&page).await[0];
    assert_eq!(contact["reachable"], false);
    app.stop().await;
}

async fn a_transient_platform_error_is_retried_and_sent_once(db: TestDatabase) {
    let app = spawn_app(db).await;
    let page = app.connect_page(PAGE).await;
    app.emulator.inject(
        FaultRule::next(1, Fault::graph(2, None))
            .on_platform(Platform::Messenger)
            .on_method("messages"),
    );
    app.emulator
        .messenger_user_sends_text(PAGE, ANN, "hello")
        .await;
    let messages = app.settled_messages(&page, ANN).await;
    assert_eq!(messages[1]["status"], "sent", "{messages:#?}");
    settle().await;
    assert_eq!(
        app.emulator
            .count_calls(Platform::Messenger, "messages", false),
        2
    );
    assert_eq!(app.sends(Platform::Messenger).len(), 1);
    app.stop().await;
}

async fn when_the_database_is_down_webhooks_get_503_so_meta_retries(db: TestDatabase) {
    let app = spawn_app(db).await;
    let _page = app.connect_page(PAGE).await;
    let health = app
        .http
        .get(format!("{}/healthz", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status().as_u16(), 200);
    // Closing the server's pools is what a database outage looks like from inside: every query fails.
    app.server.store.close().await;
    let r = app
        .emulator
        .messenger_deliver_raw(PAGE, one_message("m_down", ANN, "anyone?"), Signing::Valid)
        .await;
    assert_eq!(r.status, 503, "{}", r.body);
    let health = app
        .http
        .get(format!("{}/healthz", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status().as_u16(), 503);
    app.stop().await;
}
