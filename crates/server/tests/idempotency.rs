//! `Idempotency-Key` on the send API: a retry gets the first response and queues nothing new,
//! even when the two requests race; a reused key with another body is refused; after 24 hours a
//! key is new again.

mod common;

use common::*;
use serde_json::{Value, json};
use switchboard_domain::Millis;
use switchboard_emulator::{Platform, TelegramUser};
use switchboard_storage::on_both_backends;
use switchboard_storage::testing::TestDatabase;

const BOT: &str = "7000000001:AAtestTOKEN_abc";

on_both_backends!(
    a_retry_returns_the_first_response_and_sends_once,
    a_reused_key_with_another_body_is_refused,
    two_racing_requests_with_one_key_queue_one_message,
    a_key_older_than_a_day_is_new,
    a_malformed_key_is_refused,
);

/// A bot, a customer who wrote (the window is open) and the default reply already sent.
async fn setup(db: TestDatabase) -> (TestApp, Channel, i64) {
    let app = spawn_app(db).await;
    let (bot, conversation) = app
        .bot_with_a_person_who_wrote(BOT, TelegramUser::new(42, "Budi"), "halo")
        .await;
    (app, bot, conversation)
}

async fn send(app: &TestApp, conversation: i64, key: &str, body: &Value) -> (u16, String) {
    let res = app
        .http
        .post(format!(
            "{}/api/v1/conversations/{conversation}/messages",
            app.base
        ))
        .bearer_auth(ADMIN_TOKEN)
        .header("Idempotency-Key", key)
        .json(body)
        .send()
        .await
        .expect("send");
    (res.status().as_u16(), res.text().await.expect("body"))
}

async fn agent_messages(app: &TestApp, bot: &Channel) -> usize {
    app.settled_messages(bot, "42")
        .await
        .iter()
        .filter(|m| m["author_kind"] == "agent")
        .count()
}

async fn a_retry_returns_the_first_response_and_sends_once(db: TestDatabase) {
    let (app, bot, conversation) = setup(db).await;
    let body = json!({"text": "Pesanan Anda sudah dikirim."});
    let first = send(&app, conversation, "order-17-shipped", &body).await;
    assert_eq!(first.0, 201, "{}", first.1);
    let again = send(&app, conversation, "order-17-shipped", &body).await;
    assert_eq!(
        again, first,
        "a retry gets the first response, byte for byte"
    );
    app.settled_messages(&bot, "42").await;
    settle().await;
    assert_eq!(
        app.sends(Platform::Telegram).len(),
        2,
        "default reply + one agent message"
    );
    assert_eq!(agent_messages(&app, &bot).await, 1);
    app.stop().await;
}

async fn a_reused_key_with_another_body_is_refused(db: TestDatabase) {
    let (app, bot, conversation) = setup(db).await;
    let first = send(&app, conversation, "k1", &json!({"text": "Satu"})).await;
    assert_eq!(first.0, 201, "{}", first.1);
    let (status, body) = send(&app, conversation, "k1", &json!({"text": "Dua"})).await;
    assert_eq!(status, 422, "{body}");
    let body: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(body["error"]["code"], "idempotency_key_reused", "{body}");
    assert_eq!(agent_messages(&app, &bot).await, 1, "nothing more queued");
    app.stop().await;
}

async fn two_racing_requests_with_one_key_queue_one_message(db: TestDatabase) {
    let (app, bot, conversation) = setup(db).await;
    let body = json!({"text": "Terima kasih!"});
    let (a, b) = tokio::join!(
        send(&app, conversation, "race", &body),
        send(&app, conversation, "race", &body)
    );
    assert_eq!(a.0, 201, "{}", a.1);
    assert_eq!(a, b, "both answers are the winner's");
    assert_eq!(agent_messages(&app, &bot).await, 1);
    settle().await;
    assert_eq!(app.sends(Platform::Telegram).len(), 2);
    app.stop().await;
}

async fn a_key_older_than_a_day_is_new(db: TestDatabase) {
    let (app, bot, conversation) = setup(db).await;
    let body = json!({"text": "Halo lagi"});
    let first = send(&app, conversation, "daily", &body).await;
    assert_eq!(first.0, 201, "{}", first.1);
    let day_ago = Millis(Millis::now().0 - 24 * 60 * 60 * 1000 - 1000);
    app.server
        .store
        .set_idempotency_created_at("daily", day_ago)
        .await
        .expect("age the key");
    let second = send(&app, conversation, "daily", &body).await;
    assert_eq!(second.0, 201, "{}", second.1);
    assert_ne!(second.1, first.1, "a new message, not a replay");
    assert_eq!(agent_messages(&app, &bot).await, 2);
    app.stop().await;
}

async fn a_malformed_key_is_refused(db: TestDatabase) {
    let (app, bot, conversation) = setup(db).await;
    for key in ["", "has space", &"k".repeat(256)] {
        let (status, body) = send(&app, conversation, key, &json!({"text": "x"})).await;
        assert_eq!(status, 422, "{key:?}: {body}");
        assert!(body.contains("Idempotency-Key"), "{body}");
    }
    assert_eq!(agent_messages(&app, &bot).await, 0);
    app.stop().await;
}
