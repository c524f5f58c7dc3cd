//! Sending through a flaky platform: with a fifth of all calls failing in every way the
//! emulator knows (5xx, slow answers, timeouts, dropped connections, 613, 429 with
//! `retry_after`), every message still ends in a terminal state, none is delivered twice, and
//! a message told to wait is not tried again before its `retry_after`.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::*;
use serde_json::json;
use switchboard_emulator::{Fault, FaultRule, PageSpec, Platform, TelegramUser};
use switchboard_storage::on_both_backends;
use switchboard_storage::testing::TestDatabase;

const PAGE: &str = "1000000001";
const BOT: &str = "7000000001:AAtestTOKEN_abc";
const PEOPLE: usize = 15;
/// Our platform call timeout in this test; the emulator's slowest fault answers later.
const CALL_TIMEOUT: Duration = Duration::from_millis(800);
const FLOOD_WAIT_SECS: u64 = 1;

on_both_backends!(twenty_percent_faults_end_every_message_terminal_and_none_twice);

async fn twenty_percent_faults_end_every_message_terminal_and_none_twice(db: TestDatabase) {
    let app = spawn_app_with(db, |c| c.platform_timeout = CALL_TIMEOUT).await;
    // Channels without a default reply: only the agent's messages below are sent.
    let (_, page) = app
        .post_api("/api/v1/channels", json!({"kind": "messenger", "name": "p", "page_id": PAGE, "page_access_token": PAGE_TOKEN,
                                             "app_secret": APP_SECRET, "verify_token": VERIFY_TOKEN}))
        .await;
    let page_url = format!("{}{}", app.base, page["webhook_path"].as_str().unwrap());
    app.emulator
        .add_page(PageSpec::new(PAGE, PAGE_TOKEN, APP_SECRET).with_webhook(page_url));
    app.emulator
        .add_bot(switchboard_emulator::BotSpec::new(BOT, "shop_bot"));
    let (_, bot) = app
        .post_api(
            "/api/v1/channels",
            json!({"kind": "telegram", "name": "b", "bot_token": BOT, "secret_token": BOT_SECRET}),
        )
        .await;
    let bot_url = format!("{}{}", app.base, bot["webhook_path"].as_str().unwrap());
    app.emulator
        .set_bot_webhook(BOT, &bot_url, Some(BOT_SECRET));
    for i in 0..PEOPLE {
        app.emulator
            .messenger_user_sends_text(PAGE, &format!("2400000000000{i:04}"), "hi")
            .await;
        app.emulator
            .telegram_user_sends_text(BOT, TelegramUser::new(500 + i as i64, "P"), "hi")
            .await;
    }

    for rule in [
        FaultRule::always(Fault::ServerError).with_probability(0.04),
        FaultRule::always(Fault::latency(300)).with_probability(0.03),
        // Answered after our timeout: the request arrived and is processed, we never learn it.
        FaultRule::always(Fault::latency(1_500)).with_probability(0.03),
        FaultRule::always(Fault::DropConnection).with_probability(0.03),
        FaultRule::always(Fault::graph(613, None))
            .on_platform(Platform::Messenger)
            .with_probability(0.04),
        FaultRule::always(Fault::telegram_flood(FLOOD_WAIT_SECS))
            .on_platform(Platform::Telegram)
            .with_probability(0.04),
    ] {
        app.emulator.inject(rule);
    }

    let (_, conversations_fb) = app
        .get_api(&format!("/api/v1/conversations?channel_id={}", page["id"]))
        .await;
    let (_, conversations_tg) = app
        .get_api(&format!("/api/v1/conversations?channel_id={}", bot["id"]))
        .await;
    let mut conversations: Vec<i64> = Vec::new();
    for list in [&conversations_fb, &conversations_tg] {
        conversations.extend(
            list["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["id"].as_i64().unwrap()),
        );
    }
    assert_eq!(conversations.len(), 2 * PEOPLE);
    let mut queued = 0;
    for (n, conversation) in conversations.iter().enumerate() {
        for k in 0..2 {
            let text = format!("Update {n}-{k}: your order has shipped.");
            let (status, body) = app
                .post_api(
                    &format!("/api/v1/conversations/{conversation}/messages"),
                    json!({"text": text}),
                )
                .await;
            assert_eq!(status, 201, "{body}");
            queued += 1;
        }
    }

    // Every message reaches a terminal state.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let statuses = loop {
        let mut statuses = Vec::new();
        for conversation in &conversations {
            let (_, messages) = app
                .get_api(&format!("/api/v1/conversations/{conversation}/messages"))
                .await;
            statuses.extend(
                messages
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|m| m["author_kind"] == "agent")
                    .map(|m| m["status"].as_str().unwrap().to_owned()),
            );
        }
        let done = statuses.iter().all(|s| {
            matches!(
                s.as_str(),
                "sent" | "delivered" | "read" | "failed" | "unknown"
            )
        });
        if done || tokio::time::Instant::now() > deadline {
            break statuses;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(statuses.len(), queued);
    assert!(
        statuses.iter().all(|s| matches!(
            s.as_str(),
            "sent" | "delivered" | "read" | "failed" | "unknown"
        )),
        "not terminal: {statuses:?}"
    );
    app.emulator.clear_faults();
    settle().await;

    // None delivered twice: each text reached the platform successfully at most once.
    let mut delivered: HashMap<String, usize> = HashMap::new();
    for call in app.emulator.calls() {
        if call.status == 200 && matches!(call.method.as_str(), "messages" | "sendMessage") {
            let text = call.request["message"]["text"]
                .as_str()
                .or(call.request["text"].as_str())
                .unwrap_or("")
                .to_owned();
            *delivered.entry(text).or_default() += 1;
        }
    }
    let twice: Vec<_> = delivered.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "delivered more than once: {twice:?}");
    let injected = app
        .emulator
        .calls()
        .iter()
        .filter(|c| c.status != 200)
        .count();
    assert!(injected > 0, "the faults actually happened");
    // A timed-out call may still have been delivered (the platform got it, we never heard):
    // such a message is `unknown`, never re-sent. So the platform has every message recorded
    // as sent, and at most the unknown ones besides.
    let sent = statuses
        .iter()
        .filter(|s| *s != "failed" && *s != "unknown")
        .count();
    let unknown = statuses.iter().filter(|s| *s == "unknown").count();
    let delivered_total = delivered.values().sum::<usize>();
    assert!(
        sent <= delivered_total && delivered_total <= sent + unknown,
        "recorded sent {sent}, unknown {unknown}; the platform accepted {delivered_total}"
    );

    // retry_after honoured: a message refused with 429 is not tried again sooner. (The retry
    // can only leave after the 429's answer, which was produced at `at_ms`.)
    let calls = app.emulator.calls();
    let telegram_text =
        |c: &switchboard_emulator::CallRecord| c.request["text"].as_str().map(str::to_owned);
    let mut floods = 0;
    for (i, flood) in calls
        .iter()
        .enumerate()
        .filter(|(_, c)| c.method == "sendMessage" && c.status == 429)
    {
        floods += 1;
        let text = telegram_text(flood);
        if let Some(retry) = calls[i + 1..]
            .iter()
            .find(|c| c.method == "sendMessage" && telegram_text(c) == text)
        {
            let waited = retry.at_ms - flood.at_ms;
            assert!(
                waited >= i64::try_from(FLOOD_WAIT_SECS * 1000).unwrap(),
                "{text:?} was retried {waited} ms after a 429 with retry_after={FLOOD_WAIT_SECS}"
            );
        }
    }
    println!(
        "{queued} messages: {sent} sent, {unknown} unknown, {} failed; {injected} faulty calls, {floods} flood waits",
        statuses.len() - sent - unknown
    );
    app.stop().await;
}
