//! The customer's side: what a simulated person has received, as they would see it.

mod common;

use common::*;
use serde_json::{Value, json};
use switchboard_emulator::TelegramUser;

const PSID: &str = "6100000000000042";
const CHAT: i64 = 730_001;

#[tokio::test]
async fn a_messenger_customer_sees_texts_buttons_quick_replies_cards_and_personas() {
    let emu = emulator().await;
    let c = client();
    emu.messenger_register_user(PAGE, PSID);
    emu.messenger_user_sends_text(PAGE, PSID, "hi").await;
    let send = format!(
        "{}/me/messages?access_token={PAGE_TOKEN}",
        emu.graph_api_url()
    );
    let persona: Value = c
        .post(format!(
            "{}/me/personas?access_token={PAGE_TOKEN}",
            emu.graph_api_url()
        ))
        .json(&json!({"name": "Gifty", "profile_picture_url": "https://shop.test/g.png"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let to = json!({"id": PSID});
    for body in [
        json!({"recipient": to, "message": {"text": "Which size?", "quick_replies": [
            {"content_type": "text", "title": "M", "payload": "SIZE_M"},
            {"content_type": "user_email"}]}}),
        json!({"recipient": to, "persona_id": persona["id"], "message": {"attachment": {"type": "template",
            "payload": {"template_type": "button", "text": "Your order", "buttons": [
                {"type": "web_url", "url": "https://shop.test/o/1", "title": "Track"},
                {"type": "postback", "payload": "HUMAN", "title": "Talk to us"}]}}}}),
        json!({"recipient": to, "message": {"attachment": {"type": "template", "payload": {
            "template_type": "generic", "elements": [{"title": "Shirt", "subtitle": "€20",
            "image_url": "https://shop.test/s.jpg",
            "buttons": [{"type": "postback", "title": "Buy", "payload": "BUY_1"}]}]}}}}),
        json!({"recipient": to, "sender_action": "typing_on"}),
    ] {
        let r = c.post(&send).json(&body).send().await.unwrap();
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    }
    // A refused send is not something the customer sees.
    let r = c
        .post(&send)
        .json(&json!({"recipient": to, "message": {"text": ""}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);

    let (status, view) = get_json(
        &c,
        &format!(
            "{}/_emulator/messenger/pages/{PAGE}/users/{PSID}/received",
            emu.base_url()
        ),
    )
    .await;
    assert_eq!(status, 200);
    let seen = view["messages"].as_array().unwrap();
    assert_eq!(seen.len(), 3, "{view}");
    assert_eq!(seen[0]["text"], "Which size?");
    assert_eq!(
        seen[0]["quick_replies"],
        json!([{"title": "M", "payload": "SIZE_M", "image_url": null},
               {"title": "Email", "kind": "email"}])
    );
    assert_eq!(seen[1]["text"], "Your order");
    assert_eq!(seen[1]["buttons"][0][0]["url"], "https://shop.test/o/1");
    assert_eq!(seen[1]["buttons"][0][1]["payload"], "HUMAN");
    assert_eq!(seen[1]["persona"]["name"], "Gifty");
    assert_eq!(seen[2]["cards"][0]["title"], "Shirt");
    assert_eq!(seen[2]["cards"][0]["buttons"][0]["payload"], "BUY_1");
    assert_eq!(emu.messenger_received(PAGE, PSID), seen.clone());
    assert!(emu.messenger_received(PAGE, "someone-else").is_empty());
}

#[tokio::test]
async fn a_telegram_customer_sees_the_chat_as_it_stands_after_edits_and_deletions() {
    let emu = emulator().await;
    let c = client();
    emu.telegram_register_user(BOT_TOKEN, TelegramUser::new(CHAT, "Dana"));
    let api = |m: &str| format!("{}/bot{BOT_TOKEN}/{m}", emu.base_url());
    let (_, first) = post_json(
        &c,
        &api("sendMessage"),
        &json!({"chat_id": CHAT, "text": "<b>Sale</b> today", "parse_mode": "HTML",
                "reply_markup": {"inline_keyboard": [[{"text": "Shop", "url": "https://shop.test"},
                                                      {"text": "Later", "callback_data": "later"}]]}}),
    )
    .await;
    let (_, second) = post_json(
        &c,
        &api("sendMessage"),
        &json!({"chat_id": CHAT, "text": "Size?",
                "reply_markup": {"keyboard": [[{"text": "S"}, "M"]], "one_time_keyboard": true}}),
    )
    .await;
    let (_, third) = post_json(
        &c,
        &api("sendMessage"),
        &json!({"chat_id": CHAT, "text": "oops"}),
    )
    .await;
    post_json(
        &c,
        &api("editMessageText"),
        &json!({"chat_id": CHAT, "message_id": second["result"]["message_id"], "text": "Which size?"}),
    )
    .await;
    post_json(
        &c,
        &api("deleteMessage"),
        &json!({"chat_id": CHAT, "message_id": third["result"]["message_id"]}),
    )
    .await;

    let (status, view) = get_json(
        &c,
        &format!(
            "{}/_emulator/telegram/bots/{BOT_TOKEN}/users/{CHAT}/received",
            emu.base_url()
        ),
    )
    .await;
    assert_eq!(status, 200);
    let seen = view["messages"].as_array().unwrap();
    assert_eq!(seen.len(), 2, "the deleted message is gone: {view}");
    assert_eq!(seen[0]["message_id"], first["result"]["message_id"]);
    assert_eq!(seen[0]["text"], "Sale today");
    assert_eq!(seen[0]["entities"][0]["type"], "bold");
    assert_eq!(
        seen[0]["buttons"],
        json!([[{"title": "Shop", "type": "web_url", "url": "https://shop.test"},
                {"title": "Later", "type": "postback", "payload": "later"}]])
    );
    assert_eq!(seen[1]["text"], "Which size?", "the edit shows");
    assert!(seen[1]["edit_date"].is_number());
    assert_eq!(
        seen[1]["quick_replies"],
        json!([{"title": "S", "payload": "S"}, {"title": "M", "payload": "M"}])
    );
    let (status, _) = get_json(
        &c,
        &format!(
            "{}/_emulator/telegram/bots/{BOT_TOKEN}/users/1/received",
            emu.base_url()
        ),
    )
    .await;
    assert_eq!(status, 404);
}
