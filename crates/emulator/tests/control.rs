//! The `/_emulator` HTTP control plane drives the same state as the Rust API.

mod common;

use std::time::Duration;

use common::*;
use serde_json::{Value, json};
use switchboard_emulator::{Emulator, EmulatorConfig, Platform};

#[tokio::test]
async fn control_plane_round_trip() {
    let emu = Emulator::start(EmulatorConfig::default()).await.unwrap();
    let c = client();
    let base = format!("{}/_emulator", emu.base_url());
    let rx = Receiver::start().await;

    let page = json!({ "page_id": "77", "access_token": "tok77", "app_secret": "sec", "webhook_url": rx.url });
    assert_eq!(
        post_json(&c, &format!("{base}/messenger/pages"), &page)
            .await
            .0,
        200
    );
    let (status, res) = post_json(
        &c,
        &format!("{base}/messenger/pages/77/users/900/text"),
        &json!({ "text": "hi" }),
    )
    .await;
    assert_eq!(
        (status, res["status"].clone(), res["ok"].clone()),
        (200, json!(200), json!(true))
    );
    assert_eq!(
        rx.posts()[0].json()["entry"][0]["messaging"][0]["message"]["text"],
        "hi"
    );
    let ev = json!({ "postback": { "title": "Go", "payload": "GO" } });
    let (_, res) = post_json(
        &c,
        &format!("{base}/messenger/pages/77/users/900/event"),
        &ev,
    )
    .await;
    assert_eq!(res["status"], 200);

    let bot = json!({ "token": "42:abc", "username": "b42", "first_name": "Bot" });
    assert_eq!(
        post_json(&c, &format!("{base}/telegram/bots"), &bot)
            .await
            .0,
        200
    );
    let (_, res) = post_json(
        &c,
        &format!("{base}/telegram/bots/42:abc/users/5/text"),
        &json!({ "text": "yo", "first_name": "Cy" }),
    )
    .await;
    assert_eq!(res["ok"], true);

    // The platform API sees what the control plane set up.
    let send = json!({ "recipient": { "id": "900" }, "message": { "text": "reply" } });
    assert_eq!(
        post_json(
            &c,
            &format!("{}/v19.0/77/messages?access_token=tok77", emu.base_url()),
            &send
        )
        .await
        .0,
        200
    );
    let (_, ups) = get_json(&c, &format!("{}/bot42:abc/getUpdates", emu.base_url())).await;
    assert_eq!(ups["result"][0]["message"]["from"]["first_name"], "Cy");

    // Faults over HTTP.
    let rule = json!({ "platform": "messenger", "method": "messages", "times": 1,
        "fault": { "type": "graph_error", "http_status": 400, "code": 613, "message": "(#613) Calls to this api have exceeded the rate limit." } });
    assert_eq!(post_json(&c, &format!("{base}/faults"), &rule).await.0, 200);
    let (status, body) = post_json(
        &c,
        &format!("{}/v19.0/me/messages?access_token=tok77", emu.base_url()),
        &send,
    )
    .await;
    assert_eq!((status, body["error"]["code"].clone()), (400, json!(613)));
    let (status, _) = post_json(&c, &format!("{base}/faults"), &json!({ "nonsense": true })).await;
    assert_eq!(status, 400);
    assert_eq!(
        c.delete(format!("{base}/faults"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    // Call log over HTTP.
    let (_, calls) = get_json(
        &c,
        &format!("{base}/calls?platform=messenger&method=messages"),
    )
    .await;
    let calls = calls.as_array().unwrap();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0]["credential"], "77");
    assert_eq!(calls[0]["platform"], "messenger");
    let (_, all) = get_json(&c, &format!("{base}/calls")).await;
    assert_eq!(all.as_array().unwrap().len(), 3);
    assert_eq!(
        c.delete(format!("{base}/calls"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(emu.count_calls(Platform::Messenger, "messages", false), 0);

    // Clock.
    let before = emu.now_millis();
    let (_, res) = post_json(
        &c,
        &format!("{base}/clock/advance"),
        &json!({ "seconds": 90000 }),
    )
    .await;
    assert!(res["now_ms"].as_i64().unwrap() >= before + 90_000_000);
    let (status, body) = post_json(
        &c,
        &format!("{}/v19.0/me/messages?access_token=tok77", emu.base_url()),
        &send,
    )
    .await;
    assert_eq!(
        (status, body["error"]["error_subcode"].clone()),
        (400, json!(2018278))
    );
    assert!(emu.now_millis() - before >= Duration::from_secs(90000).as_millis() as i64);

    let (status, v): (u16, Value) = post_json(
        &c,
        &format!("{base}/messenger/pages"),
        &json!({ "page_id": 1 }),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(v["ok"], false);
}
