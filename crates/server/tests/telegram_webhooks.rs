//! A customer writes to a Telegram bot; Switchboard stores it once and answers once.

mod common;

use std::time::Duration;

use common::*;
use serde_json::json;
use switchboard_emulator::{Platform, TelegramUser};
use switchboard_storage::on_both_backends;
use switchboard_storage::testing::TestDatabase;

const BOT: &str = "7000000001:AAtestTOKEN_abc";

fn budi() -> TelegramUser {
    TelegramUser::new(5_551_234, "Budi")
        .with_language("id")
        .with_username("budi")
}

fn update(update_id: i64, text: &str) -> Vec<u8> {
    serde_json::to_vec(
        &json!({"update_id": update_id, "message": {"message_id": 7, "date": 1_735_689_600,
        "from": {"id": 5_551_234, "is_bot": false, "first_name": "Budi"},
        "chat": {"id": 5_551_234, "type": "private", "first_name": "Budi"}, "text": text}}),
    )
    .unwrap()
}

on_both_backends!(
    a_message_with_the_secret_header_is_stored_once_and_answered_once,
    a_repeated_update_changes_nothing,
    a_wrong_or_missing_secret_is_refused_and_stores_nothing,
    malformed_and_oversized_updates_are_refused,
    start_with_a_parameter_records_where_the_contact_came_from,
    blocking_and_unblocking_the_bot_changes_reachability,
    a_polling_bot_receives_and_answers_without_a_webhook,
    two_chats_may_use_the_same_message_id,
);

/// Telegram numbers messages per chat: the same message_id in two chats is two messages.
async fn two_chats_may_use_the_same_message_id(db: TestDatabase) {
    let app = spawn_app(db).await;
    let bot = app.connect_bot(BOT, "webhook").await;
    for (update_id, chat, name) in [(1, 111, "Ann"), (2, 222, "Budi")] {
        app.emulator
            .telegram_register_user(BOT, TelegramUser::new(chat, name));
        let body = json!({"update_id": update_id, "message": {"message_id": 7, "date": 1_735_689_600,
            "from": {"id": chat, "is_bot": false, "first_name": name},
            "chat": {"id": chat, "type": "private", "first_name": name}, "text": format!("hi from {name}")}});
        let r = app
            .emulator
            .telegram_deliver_raw(BOT, serde_json::to_vec(&body).unwrap(), Some(BOT_SECRET))
            .await;
        assert_eq!(r.status, 200);
    }
    for chat in ["111", "222"] {
        let messages = app.settled_messages(&bot, chat).await;
        assert_eq!(messages.len(), 2, "{chat}: {messages:#?}");
        assert_eq!(
            messages[1]["status"], "sent",
            "{chat}: the replies, numbered per chat by Telegram, are both recorded"
        );
    }
    app.stop().await;
}

async fn a_message_with_the_secret_header_is_stored_once_and_answered_once(db: TestDatabase) {
    let app = spawn_app(db).await;
    let bot = app.connect_bot(BOT, "webhook").await;
    let r = app
        .emulator
        .telegram_user_sends_text(BOT, budi(), "Halo, ada ukuran M?")
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let messages = app.settled_messages(&bot, "5551234").await;
    assert_eq!(messages.len(), 2, "{messages:#?}");
    assert_eq!(messages[0]["text"], "Halo, ada ukuran M?");
    assert_eq!(messages[1]["status"], "sent");
    let sends = app.sends(Platform::Telegram);
    assert_eq!(sends.len(), 1);
    assert_eq!(sends[0].request["chat_id"], 5_551_234);
    assert_eq!(sends[0].request["text"], DEFAULT_REPLY);
    let contact = &app.contacts(&bot).await[0];
    assert_eq!(
        (
            contact["first_name"].as_str(),
            contact["username"].as_str(),
            contact["locale"].as_str()
        ),
        (Some("Budi"), Some("budi"), Some("id"))
    );
    app.stop().await;
}

async fn a_repeated_update_changes_nothing(db: TestDatabase) {
    let app = spawn_app(db).await;
    let bot = app.connect_bot(BOT, "webhook").await;
    app.emulator.telegram_register_user(BOT, budi());
    for _ in 0..3 {
        let r = app
            .emulator
            .telegram_deliver_raw(BOT, update(900_001, "hello"), Some(BOT_SECRET))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let messages = app.settled_messages(&bot, "5551234").await;
    settle().await;
    assert_eq!(messages.len(), 2, "{messages:#?}");
    assert_eq!(app.sends(Platform::Telegram).len(), 1);
    app.stop().await;
}

async fn a_wrong_or_missing_secret_is_refused_and_stores_nothing(db: TestDatabase) {
    let app = spawn_app(db).await;
    let bot = app.connect_bot(BOT, "webhook").await;
    let wrong = app
        .emulator
        .telegram_deliver_raw(BOT, update(1, "hi"), Some("not-the-secret"))
        .await;
    assert_eq!(wrong.status, 403);
    let missing = app
        .emulator
        .telegram_deliver_raw(BOT, update(2, "hi"), None)
        .await;
    assert_eq!(missing.status, 401);
    assert!(app.contacts(&bot).await.is_empty());
    app.stop().await;
}

async fn malformed_and_oversized_updates_are_refused(db: TestDatabase) {
    let app = spawn_app(db).await;
    let bot = app.connect_bot(BOT, "webhook").await;
    let bad = app
        .emulator
        .telegram_deliver_raw(BOT, b"{\"update_id\": ".to_vec(), Some(BOT_SECRET))
        .await;
    assert_eq!(bad.status, 400);
    let no_id = app
        .emulator
        .telegram_deliver_raw(BOT, b"{\"message\": {}}".to_vec(), Some(BOT_SECRET))
        .await;
    assert_eq!(no_id.status, 400);
    let huge = app
        .emulator
        .telegram_deliver_raw(
            BOT,
            update(3, &"y".repeat(2 * 1024 * 1024)),
            Some(BOT_SECRET),
        )
        .await;
    assert_eq!(huge.status, 413);
    assert!(app.contacts(&bot).await.is_empty());
    app.stop().await;
}

async fn start_with_a_parameter_records_where_the_contact_came_from(db: TestDatabase) {
    let app = spawn_app(db).await;
    let bot = app.connect_bot(BOT, "webhook").await;
    app.emulator
        .telegram_user_sends_text(BOT, budi(), "/start promo1")
        .await;
    app.emulator
        .telegram_user_sends_text(BOT, budi(), "/start other_campaign")
        .await;
    let contact = &app.contacts(&bot).await[0];
    assert_eq!(contact["source_ref"], "promo1", "first touch wins");
    assert_eq!(contact["source_kind"], "telegram_start");
    app.stop().await;
}

async fn blocking_and_unblocking_the_bot_changes_reachability(db: TestDatabase) {
    let app = spawn_app(db).await;
    let bot = app.connect_bot(BOT, "webhook").await;
    app.emulator
        .telegram_user_sends_text(BOT, budi(), "hi")
        .await;
    assert_eq!(app.contacts(&bot).await[0]["reachable"], true);
    let r = app.emulator.telegram_user_blocks(BOT, budi()).await;
    assert_eq!(r.status, 200);
    assert_eq!(app.contacts(&bot).await[0]["reachable"], false);
    app.emulator.telegram_user_unblocks(BOT, budi()).await;
    assert_eq!(app.contacts(&bot).await[0]["reachable"], true);
    app.stop().await;
}

async fn a_polling_bot_receives_and_answers_without_a_webhook(db: TestDatabase) {
    let app = spawn_app(db).await;
    let bot = app.connect_bot(BOT, "polling").await;
    let r = app
        .emulator
        .telegram_user_sends_text(BOT, budi(), "anyone there?")
        .await;
    assert!(
        r.status == 0 || r.status == 200,
        "queued for getUpdates: {r:?}"
    );
    let sends = app
        .emulator
        .wait_for_calls(
            Platform::Telegram,
            "sendMessage",
            1,
            Duration::from_secs(15),
        )
        .await;
    assert_eq!(sends.len(), 1, "the polled message was answered");
    let messages = app.settled_messages(&bot, "5551234").await;
    assert_eq!(messages[0]["text"], "anyone there?");
    settle().await;
    assert_eq!(app.sends(Platform::Telegram).len(), 1);
    app.stop().await;
}
