//! Fault injection and the call-log waiting helpers.

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};
use switchboard_emulator::{EmulatorHandle, Fault, FaultRule, Platform, TelegramUser};

const PSID: &str = "424242";

async fn ready() -> (EmulatorHandle, reqwest::Client) {
    let emu = emulator().await;
    let rx = Receiver::start().await;
    emu.set_page_webhook(PAGE, &rx.url);
    emu.messenger_user_sends_text(PAGE, PSID, "hi").await;
    emu.telegram_register_user(BOT_TOKEN, TelegramUser::new(7, "Bo"));
    (emu, client())
}

fn send_url(emu: &EmulatorHandle) -> String {
    format!(
        "{}/me/messages?access_token={PAGE_TOKEN}",
        emu.graph_api_url()
    )
}

fn msg() -> Value {
    json!({ "recipient": { "id": PSID }, "messaging_type": "RESPONSE", "message": { "text": "x" } })
}

fn tg(emu: &EmulatorHandle, method: &str) -> String {
    format!("{}/bot{BOT_TOKEN}/{method}", emu.telegram_api_url())
}

#[tokio::test]
async fn graph_error_with_times_one_hits_exactly_one_call() {
    let (emu, c) = ready().await;
    emu.inject(FaultRule::next(1, Fault::graph(2, None)).on_method("messages"));
    let (s1, b1) = post_json(&c, &send_url(&emu), &msg()).await;
    let (s2, _) = post_json(&c, &send_url(&emu), &msg()).await;
    let (s3, _) = post_json(&c, &send_url(&emu), &msg()).await;
    assert_eq!((s1, s2, s3), (400, 200, 200));
    assert_eq!(b1["error"]["code"], 2);
    assert_eq!(emu.count_calls(Platform::Messenger, "messages", false), 3);
    assert_eq!(emu.count_calls(Platform::Messenger, "messages", true), 2);
    let first = &emu.calls_matching(Platform::Messenger, "messages")[0];
    assert_eq!(
        (first.status, first.response["error"]["code"].clone()),
        (400, json!(2))
    );

    // Method filter: a rule for another method leaves sends alone.
    emu.inject(FaultRule::always(Fault::ServerError).on_method("user_profile"));
    assert_eq!(post_json(&c, &send_url(&emu), &msg()).await.0, 200);
    let (status, body) = get_json(
        &c,
        &format!("{}/{PSID}?access_token={PAGE_TOKEN}", emu.graph_api_url()),
    )
    .await;
    assert_eq!(status, 500);
    assert_eq!(body["error"]["is_transient"], true);
    emu.clear_faults();
    assert_eq!(
        get_json(
            &c,
            &format!("{}/{PSID}?access_token={PAGE_TOKEN}", emu.graph_api_url())
        )
        .await
        .0,
        200
    );
}

#[tokio::test]
async fn telegram_429_carries_retry_after() {
    let (emu, c) = ready().await;
    emu.inject(FaultRule::next(2, Fault::telegram_flood(7)).on_platform(Platform::Telegram));
    let body = json!({ "chat_id": 7, "text": "x" });
    let (status, b) = post_json(&c, &tg(&emu, "sendMessage"), &body).await;
    assert_eq!(status, 429);
    assert_eq!(
        b,
        json!({ "ok": false, "error_code": 429, "description": "Too Many Requests: retry after 7", "parameters": { "retry_after": 7 } })
    );
    // Telegram faults never fire on Messenger calls.
    assert_eq!(post_json(&c, &send_url(&emu), &msg()).await.0, 200);
    assert_eq!(post_json(&c, &tg(&emu, "sendMessage"), &body).await.0, 429);
    assert_eq!(post_json(&c, &tg(&emu, "sendMessage"), &body).await.0, 200);

    emu.inject(FaultRule::next(1, Fault::ServerError).on_platform(Platform::Telegram));
    let (status, b) = post_json(&c, &tg(&emu, "sendMessage"), &body).await;
    assert_eq!(
        (status, b["error_code"].clone(), b["ok"].clone()),
        (500, json!(500), json!(false))
    );
}

#[tokio::test]
async fn latency_delays_then_proceeds() {
    let (emu, c) = ready().await;
    emu.inject(FaultRule::next(1, Fault::latency(400)));
    let t = Instant::now();
    let (status, _) = post_json(&c, &send_url(&emu), &msg()).await;
    assert_eq!(status, 200);
    assert!(
        t.elapsed() >= Duration::from_millis(400),
        "{:?}",
        t.elapsed()
    );
    let t = Instant::now();
    post_json(&c, &send_url(&emu), &msg()).await;
    assert!(t.elapsed() < Duration::from_millis(400));
}

#[tokio::test]
async fn drop_connection_is_a_transport_error() {
    let (emu, c) = ready().await;
    emu.inject(FaultRule::next(1, Fault::DropConnection).on_platform(Platform::Messenger));
    let err = c
        .post(send_url(&emu))
        .json(&msg())
        .send()
        .await
        .expect_err("transport error");
    assert!(!err.is_status(), "{err:?}");
    assert_eq!(emu.count_calls(Platform::Messenger, "messages", true), 0);
    let calls = emu.calls_matching(Platform::Messenger, "messages");
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].status, 0);
    // The emulator keeps serving.
    assert_eq!(post_json(&c, &send_url(&emu), &msg()).await.0, 200);

    emu.inject(FaultRule::next(1, Fault::DropConnection).on_method("sendMessage"));
    assert!(
        c.post(tg(&emu, "sendMessage"))
            .json(&json!({ "chat_id": 7, "text": "x" }))
            .send()
            .await
            .is_err()
    );
    assert_eq!(emu.count_calls(Platform::Telegram, "sendMessage", true), 0);
}

#[tokio::test]
async fn probability_zero_never_fires() {
    let (emu, c) = ready().await;
    emu.inject(FaultRule::always(Fault::ServerError).with_probability(0.0));
    for _ in 0..5 {
        assert_eq!(post_json(&c, &send_url(&emu), &msg()).await.0, 200);
    }
}

#[tokio::test]
async fn wait_for_calls_wakes_on_arrival_and_times_out() {
    let (emu, c) = ready().await;
    let waiter = {
        let emu = emu.clone();
        tokio::spawn(async move {
            emu.wait_for_calls(Platform::Messenger, "messages", 3, Duration::from_secs(10))
                .await
        })
    };
    let t = Instant::now();
    for _ in 0..3 {
        post_json(&c, &send_url(&emu), &msg()).await;
    }
    let got = tokio::time::timeout(Duration::from_secs(5), waiter)
        .await
        .expect("woke up")
        .unwrap();
    assert_eq!(got.len(), 3);
    assert!(t.elapsed() < Duration::from_secs(5));

    let t = Instant::now();
    let got = emu
        .wait_for_calls(
            Platform::Telegram,
            "sendMessage",
            1,
            Duration::from_millis(200),
        )
        .await;
    assert!(got.is_empty());
    assert!(t.elapsed() >= Duration::from_millis(200));

    emu.clear_calls();
    assert!(emu.calls().is_empty());
    assert_eq!(emu.count_calls(Platform::Messenger, "messages", false), 0);
}
