//! Messenger side: webhook driver signatures, Send API rules, window model.

mod common;

use std::time::Duration;

use common::*;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use switchboard_emulator::{EmulatorConfig, MessengerUserProfile, Platform, Signing};

const PSID: &str = "6789012345";

fn send_url(emu: &switchboard_emulator::EmulatorHandle) -> String {
    format!(
        "{}/me/messages?access_token={PAGE_TOKEN}",
        emu.graph_api_url()
    )
}

fn text_msg(text: &str) -> Value {
    json!({ "recipient": { "id": PSID }, "messaging_type": "RESPONSE", "message": { "text": text } })
}

fn err(body: &Value) -> (i64, Option<i64>) {
    (
        body["error"]["code"].as_i64().expect("error.code"),
        body["error"]["error_subcode"].as_i64(),
    )
}

/// Page with a webhook to a fresh receiver, and PSID having written once.
async fn setup() -> (
    switchboard_emulator::EmulatorHandle,
    Receiver,
    reqwest::Client,
) {
    let emu = emulator().await;
    let rx = Receiver::start().await;
    emu.set_page_webhook(PAGE, &rx.url);
    let r = emu.messenger_user_sends_text(PAGE, PSID, "hello").await;
    assert_eq!(r.status, 200, "{r:?}");
    (emu, rx, client())
}

#[tokio::test]
async fn driver_signs_the_exact_bytes_it_sends() {
    let emu = emulator().await;
    let rx = Receiver::start().await;
    emu.set_page_webhook(PAGE, &rx.url);
    let text = "héllo / 😀 \"quoted\"";
    let r = emu.messenger_user_sends_text(PAGE, PSID, text).await;
    assert_eq!(
        (r.status, r.ok, r.body.as_str()),
        (200, true, "EVENT_RECEIVED")
    );

    let hit = rx.posts().pop().expect("one delivery");
    assert_eq!(
        hit.header("content-type").as_deref(),
        Some("application/json")
    );
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(APP_SECRET.as_bytes()).unwrap();
    mac.update(&hit.body);
    let expected256 = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    assert_eq!(hit.header("x-hub-signature-256"), Some(expected256));
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(APP_SECRET.as_bytes()).unwrap();
    mac.update(&hit.body);
    let expected1 = format!("sha1={}", hex::encode(mac.finalize().into_bytes()));
    assert_eq!(hit.header("x-hub-signature"), Some(expected1));

    // Meta escapes non-ASCII, so the bytes differ from a naive re-serialisation.
    assert!(hit.body.is_ascii());
    let v = hit.json();
    assert_ne!(serde_json::to_vec(&v).unwrap(), hit.body.to_vec());
    assert_eq!(v["object"], "page");
    let entry = &v["entry"][0];
    assert_eq!(entry["id"], PAGE);
    let ev = &entry["messaging"][0];
    assert_eq!(ev["sender"]["id"], PSID);
    assert_eq!(ev["recipient"]["id"], PAGE);
    assert_eq!(ev["message"]["text"], text);
    assert!(ev["message"]["mid"].as_str().unwrap().starts_with("m_"));
    assert_eq!(ev["timestamp"], entry["time"]);
    let ts = ev["timestamp"].as_i64().unwrap();
    assert!(
        (ts - emu.now_millis()).abs() < 5_000,
        "timestamp is epoch ms"
    );
}

#[tokio::test]
async fn raw_delivery_signing_modes() {
    let emu = emulator().await;
    let rx = Receiver::start().await;
    emu.set_page_webhook(PAGE, &rx.url);
    let body = br#"{"object":"page","entry":[]}"#.to_vec();
    emu.messenger_deliver_raw(PAGE, body.clone(), Signing::Invalid)
        .await;
    emu.messenger_deliver_raw(PAGE, body.clone(), Signing::Missing)
        .await;
    emu.messenger_deliver_raw(PAGE, body.clone(), Signing::Valid)
        .await;
    let hits = rx.posts();
    assert_eq!(hits.len(), 3);
    assert!(hits.iter().all(|h| h.body.as_ref() == body.as_slice()));
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(APP_SECRET.as_bytes()).unwrap();
    mac.update(&body);
    let good = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    let bad = hits[0]
        .header("x-hub-signature-256")
        .expect("invalid still has header");
    assert!(bad.starts_with("sha256=") && bad != good);
    assert_eq!(hits[1].header("x-hub-signature-256"), None);
    assert_eq!(hits[1].header("x-hub-signature"), None);
    assert_eq!(hits[2].header("x-hub-signature-256"), Some(good));
}

#[tokio::test]
async fn verification_handshake() {
    let emu = emulator().await;
    let rx = Receiver::start().await;
    emu.set_page_webhook(PAGE, &rx.url);
    let r = emu.messenger_verify_webhook(PAGE).await;
    assert!(r.ok, "{r:?}");
    assert_eq!(r.status, 200);
    let hit = rx.hits().pop().unwrap();
    assert_eq!(hit.method, "GET");
    assert!(hit.uri.contains("hub.mode=subscribe"));
    assert!(
        hit.uri
            .contains(&format!("hub.verify_token={VERIFY_TOKEN}"))
    );

    emu.add_page(
        switchboard_emulator::PageSpec::new(PAGE, PAGE_TOKEN, APP_SECRET)
            .with_webhook(&rx.url)
            .with_verify_token("wrong"),
    );
    let r = emu.messenger_verify_webhook(PAGE).await;
    assert_eq!((r.status, r.ok), (403, false));
}

#[tokio::test]
async fn send_api_happy_path_is_logged() {
    let (emu, _rx, c) = setup().await;
    let (status, body) = post_json(&c, &send_url(&emu), &text_msg("Hi there")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["recipient_id"], PSID);
    assert!(body["message_id"].as_str().unwrap().starts_with("m_"));

    // Form encoding with JSON-string values, token in the body, page id path.
    let r = c
        .post(format!("{}/{PAGE}/messages", emu.graph_api_url()))
        .form(&[
            ("access_token", PAGE_TOKEN),
            ("recipient", &json!({ "id": PSID }).to_string()),
            ("messaging_type", "UPDATE"),
            ("message", &json!({ "text": "form" }).to_string()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    assert_eq!(emu.count_calls(Platform::Messenger, "messages", true), 2);
    let calls = emu.calls_matching(Platform::Messenger, "messages");
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0].credential, PAGE);
    assert_eq!(calls[0].request["message"]["text"], "Hi there");
    assert_eq!(calls[0].response["message_id"], body["message_id"]);
    assert_eq!(calls[1].request["message"]["text"], "form");
    assert!(calls[0].seq < calls[1].seq);

    // Typing indicator: recipient_id only.
    let (status, body) = post_json(
        &c,
        &send_url(&emu),
        &json!({ "recipient": { "id": PSID }, "sender_action": "typing_on" }),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body, json!({ "recipient_id": PSID }));
}

#[tokio::test]
async fn send_api_errors() {
    let (emu, _rx, c) = setup().await;
    let url = send_url(&emu);

    let bad_token = format!("{}/me/messages?access_token=nope", emu.graph_api_url());
    let (status, body) = post_json(&c, &bad_token, &text_msg("x")).await;
    assert_eq!((status, err(&body).0), (400, 190));
    assert_eq!(body["error"]["type"], "OAuthException");
    assert!(body["error"]["fbtrace_id"].is_string());
    assert_eq!(
        emu.calls_matching(Platform::Messenger, "messages")[0].credential,
        ""
    );

    let stranger = json!({ "recipient": { "id": "999" }, "message": { "text": "x" } });
    let (status, body) = post_json(&c, &url, &stranger).await;
    assert_eq!((status, err(&body)), (400, (100, Some(2018001))));

    let both = json!({ "recipient": { "id": PSID }, "message": { "text": "x" }, "sender_action": "typing_on" });
    assert_eq!(
        err(&post_json(&c, &url, &both).await.1),
        (100, Some(2018014))
    );

    let (status, _) = post_json(&c, &url, &text_msg(&"a".repeat(2000))).await;
    assert_eq!(status, 200);
    let (status, body) = post_json(&c, &url, &text_msg(&"a".repeat(2001))).await;
    assert_eq!((status, err(&body).0), (400, 100));

    let qrs: Vec<Value> = (0..14)
        .map(|i| json!({ "content_type": "text", "title": format!("q{i}"), "payload": "p" }))
        .collect();
    let many =
        json!({ "recipient": { "id": PSID }, "message": { "text": "pick", "quick_replies": qrs } });
    assert_eq!(err(&post_json(&c, &url, &many).await.1).0, 100);

    emu.messenger_user_blocks_page(PAGE, PSID);
    let (status, body) = post_json(&c, &url, &text_msg("x")).await;
    assert_eq!((status, err(&body)), (400, (551, Some(1545041))));
    emu.messenger_user_unblocks_page(PAGE, PSID);
    assert_eq!(post_json(&c, &url, &text_msg("x")).await.0, 200);

    // Malformed bodies get the Graph error shape, not a panic or a 500.
    let r = c
        .post(&url)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(err(&body).0, 100);
    assert_eq!(emu.count_calls(Platform::Messenger, "messages", false), 9);
    assert_eq!(emu.count_calls(Platform::Messenger, "messages", true), 2);
}

#[tokio::test]
async fn window_model_and_tags() {
    let (emu, _rx, c) = setup().await;
    let url = send_url(&emu);
    let tagged = |tag: &str| json!({ "recipient": { "id": PSID }, "messaging_type": "MESSAGE_TAG", "tag": tag, "message": { "text": "t" } });

    // Deprecated tags fail even inside the window; unknown tags too.
    for tag in [
        "CONFIRMED_EVENT_UPDATE",
        "POST_PURCHASE_UPDATE",
        "ACCOUNT_UPDATE",
        "SHIPPING_UPDATE",
    ] {
        let (status, body) = post_json(&c, &url, &tagged(tag)).await;
        assert_eq!((status, err(&body).0), (400, 100), "{tag}");
    }

    emu.advance_clock(Duration::from_secs(25 * 3600));
    let (status, body) = post_json(&c, &url, &text_msg("late")).await;
    assert_eq!((status, err(&body)), (400, (10, Some(2018278))));
    let no_type = json!({ "recipient": { "id": PSID }, "message": { "text": "late" } });
    assert_eq!(
        err(&post_json(&c, &url, &no_type).await.1),
        (10, Some(2018278))
    );
    assert_eq!(post_json(&c, &url, &tagged("HUMAN_AGENT")).await.0, 200);

    // A marketing opt-in does not reopen the window; a postback does.
    let optin = json!({ "optin": { "type": "notification_messages", "payload": "p", "notification_messages_token": "tok" } });
    assert_eq!(
        emu.messenger_user_event(PAGE, PSID, optin).await.status,
        200
    );
    assert_eq!(post_json(&c, &url, &text_msg("still closed")).await.0, 400);

    emu.advance_clock(Duration::from_secs(6 * 24 * 3600));
    let (status, body) = post_json(&c, &url, &tagged("HUMAN_AGENT")).await;
    assert_eq!(
        (status, err(&body)),
        (400, (10, Some(2018278))),
        "7 days passed"
    );

    let postback = json!({ "postback": { "title": "Get Started", "payload": "GET_STARTED" } });
    let r = emu.messenger_user_event(PAGE, PSID, postback).await;
    assert_eq!(r.status, 200);
    assert_eq!(post_json(&c, &url, &text_msg("open again")).await.0, 200);
}

#[tokio::test]
async fn templates_attachments_and_profiles() {
    let (emu, _rx, c) = setup().await;
    let url = send_url(&emu);
    let button = |title: &str| json!({ "type": "postback", "title": title, "payload": "P" });
    let tpl = |buttons: Vec<Value>| {
        json!({ "recipient": { "id": PSID }, "message": { "attachment": { "type": "template",
            "payload": { "template_type": "button", "text": "Choose", "buttons": buttons } } } })
    };
    assert_eq!(
        post_json(&c, &url, &tpl(vec![button("A"), button("B"), button("C")]))
            .await
            .0,
        200
    );
    assert_eq!(post_json(&c, &url, &tpl(vec![button("A"); 4])).await.0, 400);
    assert_eq!(
        post_json(&c, &url, &tpl(vec![button(&"x".repeat(21))]))
            .await
            .0,
        400
    );

    // Upload, then reuse the id; a foreign id is refused.
    let upload = json!({ "message": { "attachment": { "type": "image", "payload": { "url": "https://example.com/a.png", "is_reusable": true } } } });
    let (status, body) = post_json(
        &c,
        &format!(
            "{}/{PAGE}/message_attachments?access_token={PAGE_TOKEN}",
            emu.graph_api_url()
        ),
        &upload,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let id = body["attachment_id"].as_str().unwrap().to_owned();
    let with_id = |id: &str| json!({ "recipient": { "id": PSID }, "message": { "attachment": { "type": "image", "payload": { "attachment_id": id } } } });
    assert_eq!(post_json(&c, &url, &with_id(&id)).await.0, 200);
    assert_eq!(post_json(&c, &url, &with_id("424242")).await.0, 400);
    assert_eq!(
        emu.count_calls(Platform::Messenger, "message_attachments", true),
        1
    );

    // User profile.
    emu.messenger_set_user_profile(
        PAGE,
        PSID,
        MessengerUserProfile {
            first_name: "Ann".into(),
            last_name: "Lee".into(),
            locale: Some("fr_FR".into()),
            ..Default::default()
        },
    );
    let (status, body) = get_json(
        &c,
        &format!(
            "{}/{PSID}?fields=first_name,last_name,locale&access_token={PAGE_TOKEN}",
            emu.graph_api_url()
        ),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        (
            body["first_name"].as_str(),
            body["last_name"].as_str(),
            body["locale"].as_str()
        ),
        (Some("Ann"), Some("Lee"), Some("fr_FR"))
    );
    let (status, _) = get_json(
        &c,
        &format!(
            "{}/555?fields=first_name&access_token={PAGE_TOKEN}",
            emu.graph_api_url()
        ),
    )
    .await;
    assert_eq!(status, 400);

    // Messenger profile: the menu needs get_started.
    let prof_url = format!(
        "{}/me/messenger_profile?access_token={PAGE_TOKEN}",
        emu.graph_api_url()
    );
    let menu = json!({ "persistent_menu": [{ "locale": "default", "call_to_actions": [{ "type": "postback", "title": "Help", "payload": "HELP" }] }] });
    assert_eq!(post_json(&c, &prof_url, &menu).await.0, 400);
    let (status, body) = post_json(&c, &prof_url, &json!({ "get_started": { "payload": "GET_STARTED" }, "greeting": [{ "locale": "default", "text": "Hi!" }] })).await;
    assert_eq!((status, body), (200, json!({ "result": "success" })));
    assert_eq!(post_json(&c, &prof_url, &menu).await.0, 200);
    let (_, got) = get_json(&c, &format!("{prof_url}&fields=get_started,greeting")).await;
    assert_eq!(got["data"][0]["get_started"]["payload"], "GET_STARTED");
    let r = c
        .delete(&prof_url)
        .json(&json!({ "fields": ["greeting"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (_, got) = get_json(&c, &format!("{prof_url}&fields=greeting")).await;
    assert_eq!(got, json!({ "data": [] }));
    assert_eq!(
        emu.count_calls(Platform::Messenger, "messenger_profile", false),
        6
    );

    let (status, body) = post_json(
        &c,
        &format!(
            "{}/{PAGE}/subscribed_apps?access_token={PAGE_TOKEN}&subscribed_fields=messages",
            emu.graph_api_url()
        ),
        &json!({}),
    )
    .await;
    assert_eq!((status, body), (200, json!({ "success": true })));
}

#[tokio::test]
async fn auto_receipts_follow_a_send() {
    let emu = emulator_with(EmulatorConfig {
        auto_receipts: true,
        ..Default::default()
    })
    .await;
    let rx = Receiver::start().await;
    emu.set_page_webhook(PAGE, &rx.url);
    emu.messenger_user_sends_text(PAGE, PSID, "hi").await;
    let c = client();
    let before = emu.now_millis();
    let (status, body) = post_json(&c, &send_url(&emu), &text_msg("reply")).await;
    assert_eq!(status, 200);
    let hits = rx.wait_posts(3, Duration::from_secs(5)).await;
    let delivery = hits[1].json()["entry"][0]["messaging"][0].clone();
    assert_eq!(delivery["delivery"]["mids"][0], body["message_id"]);
    let watermark = delivery["delivery"]["watermark"].as_i64().unwrap();
    assert!(watermark >= before - 1000 && watermark <= emu.now_millis());
    let read = hits[2].json()["entry"][0]["messaging"][0].clone();
    assert_eq!(read["read"]["watermark"], watermark);
    assert_eq!(read["sender"]["id"], PSID);
}

#[tokio::test]
async fn failed_deliveries_are_retried_then_the_webhook_is_disabled() {
    let emu = emulator_with(EmulatorConfig {
        webhook_retry_initial: Duration::from_millis(20),
        webhook_retry_cap: Duration::from_millis(40),
        ..Default::default()
    })
    .await;
    let rx = Receiver::start().await;
    emu.set_page_webhook(PAGE, &rx.url);
    rx.set_status(500);
    let r = emu.messenger_user_sends_text(PAGE, PSID, "one").await;
    assert_eq!((r.status, r.ok), (500, false));
    let first = rx.posts()[0].body.clone();
    rx.set_status(200);
    let hits = rx.wait_posts(2, Duration::from_secs(5)).await;
    assert_eq!(hits[1].body, first, "the retry resends the same bytes");

    // An hour of failures disables the webhook (app unsubscribed).
    rx.set_status(503);
    emu.messenger_user_sends_text(PAGE, PSID, "two").await;
    emu.advance_clock(Duration::from_secs(3601));
    emu.messenger_user_sends_text(PAGE, PSID, "three").await;
    let r = emu.messenger_user_sends_text(PAGE, PSID, "four").await;
    assert_eq!((r.status, r.ok), (0, false), "{r:?}");
    rx.set_status(200);
    // Resubscribing re-enables deliveries.
    let c = client();
    let (status, _) = post_json(
        &c,
        &format!(
            "{}/{PAGE}/subscribed_apps?access_token={PAGE_TOKEN}",
            emu.graph_api_url()
        ),
        &json!({}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        emu.messenger_user_sends_text(PAGE, PSID, "five")
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn registered_and_raw_delivered_users_can_be_answered() {
    let emu = emulator().await;
    let rx = Receiver::start().await;
    emu.set_page_webhook(PAGE, &rx.url);
    let c = client();
    let url = send_url(&emu);
    let to = |id: &str| json!({ "recipient": { "id": id }, "messaging_type": "RESPONSE", "message": { "text": "x" } });

    assert_eq!(
        err(&post_json(&c, &url, &to("111")).await.1),
        (100, Some(2018001))
    );
    emu.messenger_register_user(PAGE, "111");
    assert_eq!(post_json(&c, &url, &to("111")).await.0, 200);

    let body = json!({ "object": "page", "entry": [{ "id": PAGE, "time": 1, "messaging": [
        { "sender": { "id": "222" }, "recipient": { "id": PAGE }, "timestamp": 1, "message": { "mid": "m_1", "text": "hi" } }
    ] }] });
    let bytes = serde_json::to_vec(&body).unwrap();
    emu.messenger_deliver_raw(PAGE, bytes.clone(), Signing::Invalid)
        .await;
    assert_eq!(
        err(&post_json(&c, &url, &to("222")).await.1),
        (100, Some(2018001)),
        "forged events change nothing"
    );
    emu.messenger_deliver_raw(PAGE, bytes, Signing::Valid).await;
    assert_eq!(post_json(&c, &url, &to("222")).await.0, 200);
}

#[tokio::test]
async fn personas_are_created_per_page_and_only_known_ones_may_speak() {
    let (emu, _rx, http) = setup().await;
    let personas_url = format!(
        "{}/me/personas?access_token={PAGE_TOKEN}",
        emu.graph_api_url()
    );
    // Both fields are required.
    let r = http
        .post(&personas_url)
        .json(&json!({"name": "Gifty"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(err(&r.json().await.unwrap()), (100, None));

    let created: Value = http
        .post(&personas_url)
        .json(&json!({"name": "Gifty", "profile_picture_url": "https://shop.example/g.png"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().expect("persona id").to_owned();
    let listed: Value = http
        .get(&personas_url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["data"][0]["id"], id.as_str());
    assert_eq!(listed["data"][0]["name"], "Gifty");

    let mut as_persona = text_msg("Hi, I am Gifty");
    as_persona["persona_id"] = json!(id);
    let r = http
        .post(send_url(&emu))
        .json(&as_persona)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    as_persona["persona_id"] = json!("999999");
    let r = http
        .post(send_url(&emu))
        .json(&as_persona)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(err(&r.json().await.unwrap()), (100, None));

    // The persona object: read it, delete it, and it may no longer speak.
    let persona_url = format!("{}/{id}?access_token={PAGE_TOKEN}", emu.graph_api_url());
    let read: Value = http
        .get(&persona_url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        read,
        json!({"id": id, "name": "Gifty", "profile_picture_url": "https://shop.example/g.png"})
    );
    let deleted: Value = http
        .delete(&persona_url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(deleted, json!({"success": true}));
    as_persona["persona_id"] = json!(id);
    let r = http
        .post(send_url(&emu))
        .json(&as_persona)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn a_file_can_be_sent_as_multipart_filedata() {
    let (emu, _rx, http) = setup().await;
    let mut body = Vec::new();
    for (name, value) in [
        ("recipient", json!({"id": PSID}).to_string()),
        (
            "message",
            json!({"attachment": {"type": "image", "payload": {"is_reusable": true}}}).to_string(),
        ),
    ] {
        body.extend_from_slice(
            format!("--B\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
                .as_bytes(),
        );
    }
    body.extend_from_slice(
        b"--B\r\nContent-Disposition: form-data; name=\"filedata\"; filename=\"shirt.png\"\r\nContent-Type: image/png\r\n\r\n",
    );
    body.extend_from_slice(&[9u8; 500]);
    body.extend_from_slice(b"\r\n--B--\r\n");
    let post = |body: Vec<u8>| {
        http.post(send_url(&emu))
            .header("content-type", "multipart/form-data; boundary=B")
            .body(body)
            .send()
    };
    let r = post(body.clone()).await.unwrap();
    assert_eq!(r.status(), 200);
    let sent: Value = r.json().await.unwrap();
    assert!(sent["message_id"].as_str().is_some(), "{sent}");
    assert!(
        sent["attachment_id"].as_str().is_some(),
        "reusable upload: {sent}"
    );
    // Without the file part the payload names no source: refused as before.
    let without_file: Vec<u8> = {
        let text = String::from_utf8_lossy(&body).into_owned();
        let at = text
            .find("--B\r\nContent-Disposition: form-data; name=\"filedata\"")
            .unwrap();
        let mut b = text.as_bytes()[..at].to_vec();
        b.extend_from_slice(b"--B--\r\n");
        b
    };
    let r = post(without_file).await.unwrap();
    assert_eq!(r.status(), 400);
}
