//! An agent sends more than text: a photo uploaded once and reused, a carousel, buttons — each
//! checked against the platform's limits before it is queued. And when the platform rejects the
//! channel's credentials, the channel shows an alert instead of failing message after message.

mod common;

use std::time::Duration;

use common::*;
use serde_json::{Value, json};
use switchboard_emulator::{Fault, FaultRule, Platform, TelegramUser};
use switchboard_storage::on_both_backends;
use switchboard_storage::testing::TestDatabase;

const BOT: &str = "7000000066:AAtestTOKEN_rich";
const PAGE: &str = "1000000066";
const ANN: &str = "24000000000000066";

on_both_backends!(
    a_photo_is_uploaded_as_bytes_once_and_then_reused,
    a_telegram_carousel_goes_out_as_one_photo_per_card,
    limits_are_checked_before_anything_is_queued,
    rejected_credentials_raise_a_channel_alert_and_hold_messages,
);

/// A PNG's worth of bytes (the emulator does not decode images).
fn png() -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
    bytes.extend((0..2048u32).map(|i| (i % 251) as u8));
    bytes
}

async fn upload(
    app: &TestApp,
    kind: &str,
    filename: &str,
    mime: &str,
    bytes: Vec<u8>,
) -> (u16, Value) {
    let res = app
        .http
        .post(format!(
            "{}/api/v1/media?kind={kind}&filename={filename}",
            app.base
        ))
        .bearer_auth(ADMIN_TOKEN)
        .header("content-type", mime)
        .body(bytes)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// `reply_markup` of a recorded call (a JSON string in multipart requests).
fn markup(call: &switchboard_emulator::CallRecord) -> Value {
    match &call.request["reply_markup"] {
        Value::String(s) => serde_json::from_str(s).expect("reply_markup JSON"),
        other => other.clone(),
    }
}

async fn telegram_conversation(app: &TestApp, bot: &Channel, user: i64) -> i64 {
    app.emulator
        .telegram_user_sends_text(BOT, TelegramUser::new(user, "Rina"), "hi")
        .await;
    app.settled_messages(bot, &user.to_string()).await;
    let (_, conversations) = app
        .get_api(&format!("/api/v1/conversations?channel_id={}", bot.id))
        .await;
    conversations["items"][0]["id"].as_i64().unwrap()
}

async fn send(app: &TestApp, conversation: i64, message: Value) -> (u16, Value) {
    app.post_api(
        &format!("/api/v1/conversations/{conversation}/messages"),
        json!({ "message": message }),
    )
    .await
}

async fn a_photo_is_uploaded_as_bytes_once_and_then_reused(db: TestDatabase) {
    let app = spawn_app(db).await;
    let bot = app.connect_bot(BOT, "webhook").await;
    let conversation = telegram_conversation(&app, &bot, 601).await;
    let (status, media) = upload(&app, "image", "mug.png", "image/png", png()).await;
    assert_eq!(status, 201, "{media}");
    assert_eq!(media["size_bytes"], 2056);
    let photo = json!({"type": "media", "kind": "image", "media": {"media_id": media["id"]},
                       "caption": "Hand-painted in Deruta",
                       "quick_replies": [{"type": "text", "title": "I want it", "payload": "BUY_MUG"}]});
    for _ in 0..2 {
        let (status, body) = send(&app, conversation, photo.clone()).await;
        assert_eq!(status, 201, "{body}");
        app.settled_messages(&bot, "601").await;
    }
    let sent = app.emulator.calls_matching(Platform::Telegram, "sendPhoto");
    assert_eq!(sent.len(), 2);
    assert!(sent.iter().all(|c| c.is_success()), "{sent:#?}");
    assert_eq!(sent[0].request["caption"], "Hand-painted in Deruta");
    assert_eq!(
        markup(&sent[0])["inline_keyboard"][0][0]["callback_data"],
        "BUY_MUG"
    );
    // The first carries the bytes; the second only the file_id Telegram gave back.
    let file_id = sent[0].response["result"]["photo"]
        .as_array()
        .and_then(|sizes| sizes.last())
        .map(|p| p["file_id"].clone())
        .expect("a file_id");
    assert_ne!(sent[0].request["photo"], file_id, "bytes, not an id");
    assert_eq!(sent[1].request["photo"], file_id);

    // Uploads are checked: an image must say it is one, and cannot be empty.
    let (status, _) = upload(&app, "image", "menu.pdf", "application/pdf", png()).await;
    assert_eq!(status, 422);
    let (status, _) = upload(&app, "image", "empty.png", "image/png", Vec::new()).await;
    assert_eq!(status, 422);
    app.stop().await;
}

async fn a_telegram_carousel_goes_out_as_one_photo_per_card(db: TestDatabase) {
    let app = spawn_app(db).await;
    let bot = app.connect_bot(BOT, "webhook").await;
    let conversation = telegram_conversation(&app, &bot, 602).await;
    let mut cards = Vec::new();
    for (i, name) in ["Mug", "Scarf", "Notebook"].iter().enumerate() {
        let (_, media) = upload(&app, "image", &format!("{i}.png"), "image/png", png()).await;
        cards.push(json!({"title": name, "subtitle": format!("{} €", 19 + i * 20),
            "image": {"media_id": media["id"]},
            "buttons": [{"type": "postback", "title": "Gift-wrap it", "payload": format!("WRAP_{i}")}]}));
    }
    let (status, body) = send(
        &app,
        conversation,
        json!({"type": "cards", "cards": cards,
               "quick_replies": [{"type": "text", "title": "More ideas", "payload": "MORE"}]}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["messages"].as_array().unwrap().len(), 3, "{body}");
    let messages = app.settled_messages(&bot, "602").await;
    assert!(
        messages.iter().all(|m| m["status"] != "failed"),
        "{messages:#?}"
    );
    let photos = app.emulator.calls_matching(Platform::Telegram, "sendPhoto");
    assert_eq!(photos.len(), 3);
    assert!(
        photos[0].request["caption"]
            .as_str()
            .unwrap()
            .contains("Mug")
    );
    // Quick replies ride on the last card only.
    let keyboard = |i: usize| markup(&photos[i])["inline_keyboard"].clone();
    assert_eq!(keyboard(0).as_array().unwrap().len(), 1);
    assert_eq!(keyboard(2).as_array().unwrap().len(), 2);
    app.stop().await;
}

async fn limits_are_checked_before_anything_is_queued(db: TestDatabase) {
    let app = spawn_app(db).await;
    let page = app.connect_page(PAGE).await;
    app.emulator
        .messenger_user_sends_text(PAGE, ANN, "hi")
        .await;
    let before = app.settled_messages(&page, ANN).await.len();
    let (_, conversations) = app
        .get_api(&format!("/api/v1/conversations?channel_id={}", page.id))
        .await;
    let conversation = conversations["items"][0]["id"].as_i64().unwrap();

    let (status, body) = send(
        &app,
        conversation,
        json!({"type": "text", "text": "Pick one",
               "buttons": [{"type": "postback", "title": "A title far longer than twenty", "payload": "A"},
                           {"type": "url", "title": "Shop", "url": "not a url"}]}),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "message_invalid");
    let paths: Vec<&str> = body["error"]["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["buttons[0].title", "buttons[1].url"]);

    // Messenger fetches card images by URL: without a public URL an uploaded one is refused.
    let (_, media) = upload(&app, "image", "mug.png", "image/png", png()).await;
    let (status, body) = send(
        &app,
        conversation,
        json!({"type": "cards", "cards": [{"title": "Mug", "image": {"media_id": media["id"]}}]}),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(
        body["error"]["violations"][0]["rule"],
        "card_image_needs_public_url"
    );
    // Media that does not exist.
    let (status, body) = send(
        &app,
        conversation,
        json!({"type": "media", "kind": "video", "media": {"media_id": 987654}}),
    )
    .await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (422, &json!("media_invalid"))
    );
    assert_eq!(app.settled_messages(&page, ANN).await.len(), before);
    app.stop().await;
}

async fn rejected_credentials_raise_a_channel_alert_and_hold_messages(db: TestDatabase) {
    let app = spawn_app(db).await;
    let page = app.connect_page(PAGE).await;
    app.emulator.inject(
        FaultRule::always(Fault::graph(190, Some(463)))
            .on_platform(Platform::Messenger)
            .on_method("messages"),
    );
    app.emulator
        .messenger_user_sends_text(PAGE, ANN, "hi")
        .await;
    let alert = wait_for(|| async {
        let (_, channels) = app.get_api("/api/v1/channels").await;
        let alert = channels[0]["alert"].clone();
        (!alert.is_null()).then_some(alert)
    })
    .await;
    assert_eq!(alert["kind"], "credentials_rejected");
    assert_eq!(alert["code"], 190);
    // The reply is held, not failed.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let messages = app.messages_with(&page, ANN).await;
    assert_eq!(
        messages.last().unwrap()["status"],
        "queued",
        "{messages:#?}"
    );
    let _ = page;
    app.stop().await;
}
