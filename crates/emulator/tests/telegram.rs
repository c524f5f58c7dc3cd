//! Telegram side: Bot API methods, errors, update delivery and polling.

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};
use switchboard_emulator::{EmulatorConfig, EmulatorHandle, Platform, TelegramUser};

const ANN: i64 = 555_001;

fn ann() -> TelegramUser {
    TelegramUser::new(ANN, "Ann")
        .with_username("ann")
        .with_language("en")
}

fn api(emu: &EmulatorHandle, method: &str) -> String {
    format!("{}/bot{BOT_TOKEN}/{method}", emu.telegram_api_url())
}

fn desc(body: &Value) -> &str {
    body["description"].as_str().unwrap_or("")
}

#[tokio::test]
async fn send_message_happy_path() {
    let emu = emulator().await;
    let c = client();
    let r = emu
        .telegram_user_sends_text(BOT_TOKEN, ann(), "/start ref_abc")
        .await;
    assert!(r.ok, "{r:?}");

    let (status, body) = post_json(
        &c,
        &api(&emu, "sendMessage"),
        &json!({ "chat_id": ANN, "text": "Welcome!" }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["ok"], true);
    let m = &body["result"];
    assert_eq!(m["text"], "Welcome!");
    assert_eq!(m["chat"]["id"], ANN);
    assert_eq!(m["chat"]["type"], "private");
    assert_eq!(m["from"]["is_bot"], true);
    assert_eq!(m["from"]["username"], BOT_NAME);
    assert_eq!(m["from"]["id"], 123456789);
    let date = m["date"].as_i64().unwrap();
    assert!((date - emu.now_millis() / 1000).abs() < 5);
    let first_id = m["message_id"].as_i64().unwrap();
    assert!(
        first_id >= 2,
        "the user's message took an id in the same chat"
    );

    // Form encoding, query string and case-insensitive method names.
    let r = c
        .post(api(&emu, "sendmessage"))
        .form(&[("chat_id", ANN.to_string()), ("text", "form".into())])
        .send()
        .await
        .unwrap();
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["result"]["message_id"].as_i64(), Some(first_id + 1));
    let r = c
        .get(format!(
            "{}?chat_id={ANN}&text=query",
            api(&emu, "SENDMESSAGE")
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    let calls = emu.calls_matching(Platform::Telegram, "sendMessage");
    assert_eq!(calls.len(), 3);
    assert!(
        calls
            .iter()
            .all(|c| c.method == "sendMessage" && c.credential == BOT_TOKEN)
    );
    assert_eq!(calls[1].request["text"], "form");
    assert_eq!(calls[2].request["chat_id"], ANN.to_string());
    assert_eq!(emu.count_calls(Platform::Telegram, "sendMessage", true), 3);

    let (_, me) = get_json(&c, &api(&emu, "getMe")).await;
    assert_eq!(me["result"]["username"], BOT_NAME);
}

#[tokio::test]
async fn bot_api_errors() {
    let emu = emulator().await;
    let c = client();
    emu.telegram_user_sends_text(BOT_TOKEN, ann(), "hi").await;

    let (status, body) = post_json(
        &c,
        &format!("{}/bot1:nope/sendMessage", emu.telegram_api_url()),
        &json!({ "chat_id": ANN, "text": "x" }),
    )
    .await;
    assert_eq!(
        (status, body.clone()),
        (
            401,
            json!({ "ok": false, "error_code": 401, "description": "Unauthorized" })
        )
    );

    let (status, body) = post_json(&c, &api(&emu, "sendTelepathy"), &json!({})).await;
    assert_eq!((status, desc(&body)), (404, "Not Found: method not found"));

    let (status, body) = post_json(
        &c,
        &api(&emu, "sendMessage"),
        &json!({ "chat_id": 42, "text": "x" }),
    )
    .await;
    assert_eq!((status, desc(&body)), (400, "Bad Request: chat not found"));

    let (status, body) = post_json(
        &c,
        &api(&emu, "sendMessage"),
        &json!({ "chat_id": ANN, "text": "   " }),
    )
    .await;
    assert_eq!(
        (status, desc(&body)),
        (400, "Bad Request: message text is empty")
    );

    let long = "a".repeat(4097);
    let (status, body) = post_json(
        &c,
        &api(&emu, "sendMessage"),
        &json!({ "chat_id": ANN, "text": long }),
    )
    .await;
    assert_eq!(
        (status, desc(&body)),
        (400, "Bad Request: message is too long")
    );

    let kb = |data: &str| json!({ "chat_id": ANN, "text": "pick", "reply_markup": { "inline_keyboard": [[{ "text": "A", "callback_data": data }]] } });
    let (status, body) = post_json(&c, &api(&emu, "sendMessage"), &kb(&"d".repeat(65))).await;
    assert_eq!(
        (status, desc(&body)),
        (400, "Bad Request: BUTTON_DATA_INVALID")
    );
    let (status, body) = post_json(&c, &api(&emu, "sendMessage"), &kb(&"d".repeat(64))).await;
    assert_eq!(status, 200);
    assert_eq!(
        body["result"]["reply_markup"]["inline_keyboard"][0][0]["callback_data"],
        "d".repeat(64)
    );

    let md = json!({ "chat_id": ANN, "text": "Total: 5.00", "parse_mode": "MarkdownV2" });
    let (status, body) = post_json(&c, &api(&emu, "sendMessage"), &md).await;
    assert_eq!(status, 400);
    assert!(desc(&body).starts_with("Bad Request: can't parse entities"));

    let r = emu.telegram_user_blocks(BOT_TOKEN, ann()).await;
    assert!(r.ok);
    let (status, body) = post_json(
        &c,
        &api(&emu, "sendMessage"),
        &json!({ "chat_id": ANN, "text": "x" }),
    )
    .await;
    assert_eq!(
        (status, desc(&body)),
        (403, "Forbidden: bot was blocked by the user")
    );
    emu.telegram_user_unblocks(BOT_TOKEN, ann()).await;
    assert_eq!(
        post_json(
            &c,
            &api(&emu, "sendMessage"),
            &json!({ "chat_id": ANN, "text": "x" })
        )
        .await
        .0,
        200
    );

    // The block and unblock arrived as my_chat_member updates.
    let (_, ups) = get_json(&c, &api(&emu, "getUpdates")).await;
    let kinds: Vec<&str> = ups["result"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|u| u["my_chat_member"]["new_chat_member"]["status"].as_str())
        .collect();
    assert_eq!(kinds, ["kicked", "member"]);

    let (status, body) = post_json(
        &c,
        &api(&emu, "setWebhook"),
        &json!({ "url": "https://example.com/h", "secret_token": "bad secret!" }),
    )
    .await;
    assert_eq!(
        (status, desc(&body)),
        (
            400,
            "Bad Request: secret token contains unallowed characters"
        )
    );
    let (status, body) = post_json(
        &c,
        &api(&emu, "setWebhook"),
        &json!({ "url": "https://example.com:8080/h" }),
    )
    .await;
    assert_eq!(status, 400, "{body}");
}

#[tokio::test]
async fn get_updates_confirmation_and_conflict() {
    let emu = emulator().await;
    let c = client();
    for t in ["one", "two", "three"] {
        let r = emu.telegram_user_sends_text(BOT_TOKEN, ann(), t).await;
        assert!(r.ok && r.status == 0, "queued: {r:?}");
    }
    let (_, body) = get_json(&c, &api(&emu, "getUpdates")).await;
    let ups = body["result"].as_array().unwrap().clone();
    assert_eq!(ups.len(), 3);
    let ids: Vec<i64> = ups
        .iter()
        .map(|u| u["update_id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids[1], ids[0] + 1);
    assert_eq!(ids[2], ids[1] + 1);
    assert_eq!(ups[0]["message"]["text"], "one");
    assert_eq!(ups[0]["message"]["from"]["username"], "ann");

    // Not confirmed yet: the same updates again; limit applies.
    let (_, body) = get_json(&c, &format!("{}?limit=2", api(&emu, "getUpdates"))).await;
    assert_eq!(body["result"].as_array().unwrap().len(), 2);
    // offset = id+1 confirms everything up to id.
    let (_, body) = get_json(
        &c,
        &format!("{}?offset={}", api(&emu, "getUpdates"), ids[1] + 1),
    )
    .await;
    assert_eq!(body["result"].as_array().unwrap().len(), 1);
    assert_eq!(body["result"][0]["update_id"], ids[2]);
    let (_, body) = get_json(
        &c,
        &format!("{}?offset={}", api(&emu, "getUpdates"), ids[2] + 1),
    )
    .await;
    assert_eq!(body["result"], json!([]));
    // Confirmed updates do not come back with an older offset.
    let (_, body) = get_json(
        &c,
        &format!("{}?offset={}", api(&emu, "getUpdates"), ids[0]),
    )
    .await;
    assert_eq!(body["result"], json!([]));

    let rx = Receiver::start().await;
    let (status, body) = post_json(&c, &api(&emu, "setWebhook"), &json!({ "url": rx.url })).await;
    assert_eq!((status, body["result"].clone()), (200, json!(true)));
    let (status, body) = get_json(&c, &api(&emu, "getUpdates")).await;
    assert_eq!(status, 409);
    assert_eq!(
        desc(&body),
        "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first"
    );
    let (_, info) = get_json(&c, &api(&emu, "getWebhookInfo")).await;
    assert_eq!(info["result"]["url"], rx.url);
    assert_eq!(
        post_json(&c, &api(&emu, "deleteWebhook"), &json!({}))
            .await
            .0,
        200
    );
    assert_eq!(get_json(&c, &api(&emu, "getUpdates")).await.0, 200);
}

#[tokio::test]
async fn long_poll_returns_as_soon_as_an_update_arrives() {
    let emu = emulator().await;
    let c = client();
    let url = format!("{}?timeout=20", api(&emu, "getUpdates"));
    let started = Instant::now();
    let poll = tokio::spawn(async move { get_json(&c, &url).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!poll.is_finished(), "long poll must wait for an update");
    emu.telegram_user_sends_text(BOT_TOKEN, ann(), "ping").await;
    let (status, body) = tokio::time::timeout(Duration::from_secs(5), poll)
        .await
        .expect("returned promptly")
        .unwrap();
    assert_eq!(status, 200);
    assert_eq!(body["result"][0]["message"]["text"], "ping");
    assert!(started.elapsed() < Duration::from_secs(5));

    // A short timeout with nothing queued returns an empty list after waiting.
    let c = client();
    let (_, body) = get_json(
        &c,
        &format!(
            "{}?timeout=1&offset={}",
            api(&emu, "getUpdates"),
            body["result"][0]["update_id"].as_i64().unwrap() + 1
        ),
    )
    .await;
    assert_eq!(body["result"], json!([]));
}

#[tokio::test]
async fn webhook_delivery_with_secret_and_redelivery() {
    let emu = emulator_with(EmulatorConfig {
        webhook_retry_initial: Duration::from_millis(20),
        webhook_retry_cap: Duration::from_millis(50),
        ..Default::default()
    })
    .await;
    let c = client();
    let rx = Receiver::start().await;
    let (status, _) = post_json(
        &c,
        &api(&emu, "setWebhook"),
        &json!({ "url": rx.url, "secret_token": "s3cr3t_TOKEN-1" }),
    )
    .await;
    assert_eq!(status, 200);

    let r = emu
        .telegram_user_sends_text(BOT_TOKEN, ann(), "hello")
        .await;
    assert_eq!((r.status, r.ok), (200, true));
    let hit = rx.posts().pop().unwrap();
    assert_eq!(
        hit.header("x-telegram-bot-api-secret-token").as_deref(),
        Some("s3cr3t_TOKEN-1")
    );
    assert_eq!(
        hit.header("content-type").as_deref(),
        Some("application/json")
    );
    let up = hit.json();
    assert_eq!(up["message"]["text"], "hello");
    assert_eq!(up["message"]["chat"]["id"], ANN);
    let first_id = up["update_id"].as_i64().unwrap();

    // Non-2xx: kept and redelivered in the background.
    rx.set_status(500);
    let r = emu
        .telegram_user_sends_text(BOT_TOKEN, ann(), "again")
        .await;
    assert_eq!((r.status, r.ok), (500, false));
    let (_, info) = get_json(&c, &api(&emu, "getWebhookInfo")).await;
    assert_eq!(info["result"]["pending_update_count"], 1);
    assert!(
        info["result"]["last_error_message"]
            .as_str()
            .unwrap()
            .contains("500")
    );
    rx.set_status(200);
    let hits = rx.wait_posts(3, Duration::from_secs(5)).await;
    let redelivered = hits.last().unwrap().json();
    assert_eq!(redelivered["update_id"], first_id + 1);
    assert_eq!(redelivered["message"]["text"], "again");
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (_, info) = get_json(&c, &api(&emu, "getWebhookInfo")).await;
    assert_eq!(info["result"]["pending_update_count"], 0);

    // Raw delivery carries exactly the given secret (or none).
    emu.telegram_deliver_raw(BOT_TOKEN, b"{}".to_vec(), None)
        .await;
    let hit = rx.posts().pop().unwrap();
    assert_eq!(hit.header("x-telegram-bot-api-secret-token"), None);
    assert_eq!(hit.body.as_ref(), b"{}");
}

#[tokio::test]
async fn callback_queries_are_answered_once() {
    let emu = emulator().await;
    let c = client();
    emu.telegram_user_sends_text(BOT_TOKEN, ann(), "hi").await;
    let kb = json!({ "chat_id": ANN, "text": "pick", "reply_markup": { "inline_keyboard": [[{ "text": "Yes", "callback_data": "y" }]] } });
    let (_, sent) = post_json(&c, &api(&emu, "sendMessage"), &kb).await;
    let r = emu
        .telegram_user_update(
            BOT_TOKEN,
            ann(),
            json!({ "callback_query": { "data": "y" } }),
        )
        .await;
    assert!(r.ok);
    let (_, ups) = get_json(&c, &api(&emu, "getUpdates")).await;
    let cq = ups["result"].as_array().unwrap().last().unwrap()["callback_query"].clone();
    assert_eq!(cq["data"], "y");
    assert_eq!(cq["from"]["id"], ANN);
    assert_eq!(cq["message"]["message_id"], sent["result"]["message_id"]);
    let id = cq["id"].as_str().unwrap();

    let long = json!({ "callback_query_id": id, "text": "x".repeat(201) });
    assert_eq!(
        post_json(&c, &api(&emu, "answerCallbackQuery"), &long)
            .await
            .0,
        400
    );
    let (status, body) = post_json(
        &c,
        &api(&emu, "answerCallbackQuery"),
        &json!({ "callback_query_id": id, "text": "Done" }),
    )
    .await;
    assert_eq!((status, body["result"].clone()), (200, json!(true)));
    let (status, body) = post_json(
        &c,
        &api(&emu, "answerCallbackQuery"),
        &json!({ "callback_query_id": id }),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        desc(&body),
        "Bad Request: query is too old and response timeout expired or query ID is invalid"
    );
}

#[tokio::test]
async fn rate_limits_per_chat_with_paid_broadcast_escape() {
    let emu = emulator().await;
    let c = client();
    emu.telegram_user_sends_text(BOT_TOKEN, ann(), "hi").await;
    let msg = json!({ "chat_id": ANN, "text": "burst" });
    let mut statuses = Vec::new();
    let mut last = Value::Null;
    // A short burst is tolerated; beyond it, about one a second.
    for _ in 0..12 {
        let (s, b) = post_json(&c, &api(&emu, "sendMessage"), &msg).await;
        statuses.push(s);
        last = b;
    }
    assert_eq!(statuses[..10], [200; 10]);
    assert_eq!(statuses[11], 429);
    assert!(last["parameters"]["retry_after"].as_u64().unwrap() >= 1);
    assert!(desc(&last).starts_with("Too Many Requests: retry after "));
    let paid = json!({ "chat_id": ANN, "text": "paid", "allow_paid_broadcast": true });
    assert_eq!(post_json(&c, &api(&emu, "sendMessage"), &paid).await.0, 200);
    emu.advance_clock(Duration::from_secs(5));
    assert_eq!(post_json(&c, &api(&emu, "sendMessage"), &msg).await.0, 200);
    // The average holds: after the burst is spent, one more per second.
    for _ in 0..4 {
        assert_eq!(post_json(&c, &api(&emu, "sendMessage"), &msg).await.0, 200);
    }
    assert_eq!(post_json(&c, &api(&emu, "sendMessage"), &msg).await.0, 429);
    emu.advance_clock(Duration::from_secs(1));
    assert_eq!(post_json(&c, &api(&emu, "sendMessage"), &msg).await.0, 200);

    let fast = emulator_with(EmulatorConfig {
        telegram_rate_limits: false,
        ..Default::default()
    })
    .await;
    fast.telegram_register_user(BOT_TOKEN, ann());
    for _ in 0..50 {
        assert_eq!(post_json(&c, &api(&fast, "sendMessage"), &msg).await.0, 200);
    }
}

#[tokio::test]
async fn media_methods() {
    let emu = emulator().await;
    let c = client();
    emu.telegram_register_user(BOT_TOKEN, ann());
    let (status, body) = post_json(
        &c,
        &api(&emu, "sendPhoto"),
        &json!({ "chat_id": ANN, "photo": "https://example.com/cat.jpg", "caption": "cat" }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body["result"]["photo"].as_array().unwrap().len() >= 2);
    assert_eq!(body["result"]["caption"], "cat");

    // Hand-built multipart body (the workspace's reqwest has no multipart feature).
    let mut form = format!(
        "--BOUNDARY\r\nContent-Disposition: form-data; name=\"chat_id\"\r\n\r\n{ANN}\r\n--BOUNDARY\r\nContent-Disposition: form-data; name=\"document\"; filename=\"report.pdf\"\r\nContent-Type: application/pdf\r\n\r\n"
    )
    .into_bytes();
    form.extend_from_slice(&[1u8; 1000]);
    form.extend_from_slice(b"\r\n--BOUNDARY--\r\n");
    let r = c
        .post(api(&emu, "sendDocument"))
        .header("content-type", "multipart/form-data; boundary=BOUNDARY")
        .body(form)
        .send()
        .await
        .unwrap();
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["result"]["document"]["file_name"], "report.pdf");
    assert_eq!(body["result"]["document"]["file_size"], 1000);
    let file_id = body["result"]["document"]["file_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, body) = post_json(
        &c,
        &api(&emu, "sendDocument"),
        &json!({ "chat_id": ANN, "document": file_id }),
    )
    .await;
    assert_eq!(body["result"]["document"]["file_id"], file_id.as_str());

    let (status, body) = post_json(&c, &api(&emu, "sendVideo"), &json!({ "chat_id": ANN, "video": "https://example.com/v.mp4", "caption": "c".repeat(1025) })).await;
    assert_eq!(
        (status, desc(&body)),
        (400, "Bad Request: message caption is too long")
    );
    let (status, body) = post_json(&c, &api(&emu, "sendAudio"), &json!({ "chat_id": ANN })).await;
    assert_eq!(
        (status, desc(&body)),
        (400, "Bad Request: there is no audio in the request")
    );
}

#[tokio::test]
async fn formatted_text_comes_back_with_its_entities_in_utf16_offsets() {
    let emu = emulator().await;
    let c = client();
    emu.telegram_register_user(BOT_TOKEN, ann());
    let (status, body) = post_json(
        &c,
        &api(&emu, "sendMessage"),
        &json!({ "chat_id": ANN, "parse_mode": "HTML",
                 "text": "👋 <b>مرحبا</b> see https://shop.test" }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let m = &body["result"];
    assert_eq!(m["text"], "👋 مرحبا see https://shop.test");
    assert_eq!(
        m["entities"],
        json!([
            {"type": "bold", "offset": 3, "length": 5},
            {"type": "url", "offset": 13, "length": 17},
        ])
    );
    let (status, body) = post_json(
        &c,
        &api(&emu, "sendMessage"),
        &json!({ "chat_id": ANN, "parse_mode": "MarkdownV2", "text": "Price 5.00" }),
    )
    .await;
    assert_eq!(status, 400);
    assert!(desc(&body).starts_with("Bad Request: can't parse entities"));
    // Plain text has no `entities` field at all.
    let (_, body) = post_json(
        &c,
        &api(&emu, "sendMessage"),
        &json!({ "chat_id": ANN, "text": "plain" }),
    )
    .await;
    assert!(body["result"].get("entities").is_none(), "{body}");
}

#[tokio::test]
async fn replies_carry_the_message_they_answer_and_need_it_to_exist() {
    let emu = emulator().await;
    let c = client();
    emu.telegram_user_sends_text(BOT_TOKEN, ann(), "where is my order? shop.test/o/1")
        .await;
    let (_, updates) = get_json(&c, &api(&emu, "getUpdates")).await;
    let asked = &updates["result"][0]["message"];
    assert_eq!(
        asked["entities"],
        json!([{"type": "url", "offset": 19, "length": 13}]),
        "Telegram marks links in what users write"
    );
    let asked_id = asked["message_id"].as_i64().unwrap();

    let (status, body) = post_json(
        &c,
        &api(&emu, "sendMessage"),
        &json!({ "chat_id": ANN, "text": "On its way",
                 "reply_parameters": {"message_id": asked_id} }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"]["reply_to_message"]["message_id"], asked_id);
    assert_eq!(
        body["result"]["reply_to_message"]["text"],
        "where is my order? shop.test/o/1"
    );

    let missing = json!({ "chat_id": ANN, "text": "?", "reply_parameters": {"message_id": 9999} });
    let (status, body) = post_json(&c, &api(&emu, "sendMessage"), &missing).await;
    assert_eq!(status, 400);
    assert_eq!(desc(&body), "Bad Request: message to be replied not found");
    let tolerant = json!({ "chat_id": ANN, "text": "?",
        "reply_parameters": {"message_id": 9999, "allow_sending_without_reply": true} });
    let (status, body) = post_json(&c, &api(&emu, "sendMessage"), &tolerant).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["result"].get("reply_to_message").is_none());
    // The older parameter still works.
    let legacy = json!({ "chat_id": ANN, "text": "ok", "reply_to_message_id": asked_id });
    let (_, body) = post_json(&c, &api(&emu, "sendMessage"), &legacy).await;
    assert_eq!(body["result"]["reply_to_message"]["message_id"], asked_id);
}

/// A multipart body from text fields and `(name, filename, content type, bytes)` files.
fn multipart(fields: &[(&str, String)], files: &[(&str, &str, &str, Vec<u8>)]) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!("--B\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
                .as_bytes(),
        );
    }
    for (name, filename, ctype, bytes) in files {
        body.extend_from_slice(
            format!(
                "--B\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{filename}\"\r\nContent-Type: {ctype}\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(b"--B--\r\n");
    body
}

async fn post_multipart(c: &reqwest::Client, url: &str, body: Vec<u8>) -> (u16, Value) {
    let r = c
        .post(url)
        .header("content-type", "multipart/form-data; boundary=B")
        .body(body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

#[tokio::test]
async fn albums_copies_keyboards_chats_and_reactions() {
    let emu = emulator().await;
    let c = client();
    emu.telegram_user_sends_text(BOT_TOKEN, ann(), "show me")
        .await;

    // An album: one photo by URL, one uploaded and named with attach://.
    let media = json!([
        {"type": "photo", "media": "https://shop.test/a.jpg", "caption": "<b>A</b>", "parse_mode": "HTML"},
        {"type": "photo", "media": "attach://second"},
    ]);
    let body = multipart(
        &[("chat_id", ANN.to_string()), ("media", media.to_string())],
        &[("second", "b.jpg", "image/jpeg", vec![7u8; 300])],
    );
    let (status, album) = post_multipart(&c, &api(&emu, "sendMediaGroup"), body).await;
    assert_eq!(status, 200, "{album}");
    let album = album["result"].as_array().unwrap().clone();
    assert_eq!(album.len(), 2);
    assert_eq!(album[0]["media_group_id"], album[1]["media_group_id"]);
    assert_eq!(album[0]["caption"], "A");
    assert_eq!(album[0]["caption_entities"][0]["type"], "bold");
    let one =
        json!({"chat_id": ANN, "media": [{"type": "photo", "media": "https://shop.test/a.jpg"}]});
    let (status, body) = post_json(&c, &api(&emu, "sendMediaGroup"), &one).await;
    assert_eq!(status, 400, "{body}");
    let mixed = json!({"chat_id": ANN, "media": [
        {"type": "photo", "media": "https://shop.test/a.jpg"},
        {"type": "document", "media": "https://shop.test/a.pdf"}]});
    assert_eq!(
        post_json(&c, &api(&emu, "sendMediaGroup"), &mixed).await.0,
        400
    );

    // A keyboard replaced, then removed; the same keyboard again is "not modified".
    let kb = json!({"inline_keyboard": [[{"text": "Buy", "callback_data": "buy"}]]});
    let (_, sent) = post_json(
        &c,
        &api(&emu, "sendMessage"),
        &json!({"chat_id": ANN, "text": "Offer", "reply_markup": kb}),
    )
    .await;
    let id = sent["result"]["message_id"].as_i64().unwrap();
    let kb2 = json!({"inline_keyboard": [[{"text": "Sold out", "callback_data": "none"}]]});
    let edit = json!({"chat_id": ANN, "message_id": id, "reply_markup": kb2});
    let (status, body) = post_json(&c, &api(&emu, "editMessageReplyMarkup"), &edit).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"]["reply_markup"], kb2);
    assert_eq!(body["result"]["text"], "Offer");
    let (status, body) = post_json(&c, &api(&emu, "editMessageReplyMarkup"), &edit).await;
    assert_eq!(status, 400);
    assert!(desc(&body).contains("message is not modified"));
    let clear = json!({"chat_id": ANN, "message_id": id});
    let (_, body) = post_json(&c, &api(&emu, "editMessageReplyMarkup"), &clear).await;
    assert!(body["result"].get("reply_markup").is_none(), "{body}");

    // A copy has the content and a new id, and says nothing else.
    let copy = json!({"chat_id": ANN, "from_chat_id": ANN, "message_id": id});
    let (status, body) = post_json(&c, &api(&emu, "copyMessage"), &copy).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["result"]["message_id"].as_i64().unwrap() > id);
    assert_eq!(body["result"].as_object().unwrap().len(), 1);
    let gone = json!({"chat_id": ANN, "from_chat_id": ANN, "message_id": 9999});
    let (_, body) = post_json(&c, &api(&emu, "copyMessage"), &gone).await;
    assert_eq!(desc(&body), "Bad Request: message to copy not found");

    // getChat, and reactions: one allowed emoji, anything else refused.
    let (status, chat) = post_json(&c, &api(&emu, "getChat"), &json!({"chat_id": ANN})).await;
    assert_eq!(status, 200, "{chat}");
    assert_eq!(chat["result"]["id"], ANN);
    assert_eq!(chat["result"]["type"], "private");
    assert_eq!(chat["result"]["username"], "ann");
    let (_, body) = post_json(&c, &api(&emu, "getChat"), &json!({"chat_id": 42})).await;
    assert_eq!(desc(&body), "Bad Request: chat not found");
    let react = |emoji: &str| json!({"chat_id": ANN, "message_id": id, "reaction": [{"type": "emoji", "emoji": emoji}]});
    let (status, body) = post_json(&c, &api(&emu, "setMessageReaction"), &react("👍")).await;
    assert_eq!((status, body["result"].clone()), (200, json!(true)));
    let (status, body) = post_json(&c, &api(&emu, "setMessageReaction"), &react("🦀")).await;
    assert_eq!(status, 400);
    assert_eq!(desc(&body), "Bad Request: REACTION_INVALID");
}

/// The first bytes of a PNG of `w` × `h` (signature and IHDR are all a reader needs).
fn png(w: u32, h: u32) -> Vec<u8> {
    let mut b = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    b.extend_from_slice(&w.to_be_bytes());
    b.extend_from_slice(&h.to_be_bytes());
    b.extend_from_slice(&[8, 6, 0, 0, 0, 0, 0, 0, 0]);
    b.extend_from_slice(&[0u8; 200]);
    b
}

#[tokio::test]
async fn uploaded_photos_keep_their_dimensions_and_can_be_downloaded() {
    let emu = emulator().await;
    let c = client();
    emu.telegram_register_user(BOT_TOKEN, ann());
    let original = png(1000, 500);
    let body = multipart(
        &[
            ("chat_id", ANN.to_string()),
            ("photo", "attach://pic".into()),
        ],
        &[("pic", "banner.png", "image/png", original.clone())],
    );
    let (status, sent) = post_multipart(&c, &api(&emu, "sendPhoto"), body).await;
    assert_eq!(status, 200, "{sent}");
    let sizes: Vec<(i64, i64)> = sent["result"]["photo"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["width"].as_i64().unwrap(), s["height"].as_i64().unwrap()))
        .collect();
    assert_eq!(sizes, [(90, 45), (320, 160), (800, 400), (1000, 500)]);
    let largest = sent["result"]["photo"][3].clone();
    assert_eq!(largest["file_size"], original.len());

    let (status, file) = post_json(
        &c,
        &api(&emu, "getFile"),
        &json!({ "file_id": largest["file_id"] }),
    )
    .await;
    assert_eq!(status, 200, "{file}");
    let path = file["result"]["file_path"].as_str().unwrap().to_owned();
    assert!(path.starts_with("photos/"), "{path}");
    let url = format!("{}/file/bot{BOT_TOKEN}/{path}", emu.base_url());
    let downloaded = c.get(&url).send().await.unwrap();
    assert_eq!(downloaded.status(), 200);
    assert_eq!(
        downloaded.bytes().await.unwrap().as_ref(),
        original.as_slice()
    );
    let missing = format!("{}/file/bot{BOT_TOKEN}/photos/nothing.jpg", emu.base_url());
    assert_eq!(c.get(&missing).send().await.unwrap().status(), 404);
    let (status, body) = post_json(&c, &api(&emu, "getFile"), &json!({ "file_id": "nope" })).await;
    assert_eq!((status, desc(&body)), (400, "Bad Request: invalid file_id"));

    // A small image is kept as it is: no copy larger than the original.
    let body = multipart(
        &[("chat_id", ANN.to_string())],
        &[("photo", "icon.png", "image/png", png(60, 40))],
    );
    let (_, sent) = post_multipart(&c, &api(&emu, "sendPhoto"), body).await;
    assert_eq!(sent["result"]["photo"].as_array().unwrap().len(), 1);
    assert_eq!(sent["result"]["photo"][0]["width"], 60);
    // attach:// naming a part that is not there.
    let body = multipart(
        &[
            ("chat_id", ANN.to_string()),
            ("photo", "attach://gone".into()),
        ],
        &[],
    );
    let (status, body) = post_multipart(&c, &api(&emu, "sendPhoto"), body).await;
    assert_eq!(
        (status, desc(&body)),
        (400, "Bad Request: there is no photo in the request")
    );
}
