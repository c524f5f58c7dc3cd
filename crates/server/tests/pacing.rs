//! Sending at the right speed: per-channel limits, and a platform's "slow down" pausing only the
//! channel it was said to.

mod common;

use std::time::Duration;

use common::*;
use serde_json::json;
use switchboard_emulator::{Fault, FaultRule, PageSpec, Platform, TelegramUser};
use switchboard_storage::on_both_backends;
use switchboard_storage::testing::TestDatabase;

const PAGE: &str = "1000000001";
const BOT: &str = "7000000001:AAtestTOKEN_abc";

on_both_backends!(
    a_telegram_flood_wait_pauses_telegram_only_and_is_honoured,
    a_channel_never_sends_faster_than_its_limit,
    messenger_audio_goes_at_most_ten_per_second,
);

async fn a_telegram_flood_wait_pauses_telegram_only_and_is_honoured(db: TestDatabase) {
    let app = spawn_app(db).await;
    app.connect_page(PAGE).await;
    app.connect_bot(BOT, "webhook").await;
    app.emulator.inject(
        FaultRule::next(1, Fault::telegram_flood(2))
            .on_platform(Platform::Telegram)
            .on_method("sendMessage"),
    );

    app.emulator
        .telegram_user_sends_text(BOT, TelegramUser::new(42, "Budi"), "halo")
        .await;
    let flood = app
        .emulator
        .wait_for_calls(Platform::Telegram, "sendMessage", 0, Duration::ZERO)
        .await;
    assert!(flood.is_empty(), "no successful Telegram send yet");
    app.emulator
        .messenger_user_sends_text(PAGE, "24000000000000001", "hello")
        .await;

    let messenger = app
        .emulator
        .wait_for_calls(Platform::Messenger, "messages", 1, Duration::from_secs(10))
        .await;
    let telegram = app
        .emulator
        .wait_for_calls(
            Platform::Telegram,
            "sendMessage",
            1,
            Duration::from_secs(15),
        )
        .await;
    assert_eq!((messenger.len(), telegram.len()), (1, 1));
    let refused = app
        .emulator
        .calls_matching(Platform::Telegram, "sendMessage");
    let first_try = refused
        .iter()
        .find(|c| c.status == 429)
        .expect("the 429 was served");
    assert!(
        messenger[0].at_ms < telegram[0].at_ms,
        "Messenger kept flowing while Telegram was paused"
    );
    assert!(
        telegram[0].at_ms - first_try.at_ms >= 2_000,
        "retry_after=2 honoured: retried {} ms later",
        telegram[0].at_ms - first_try.at_ms
    );
    settle().await;
    assert_eq!(app.sends(Platform::Telegram).len(), 1, "sent once");
    app.stop().await;
}

async fn a_channel_never_sends_faster_than_its_limit(db: TestDatabase) {
    let app = spawn_app(db).await;
    let (status, body) = app
        .post_api(
            "/api/v1/channels",
            json!({"kind": "messenger", "name": "slow page", "page_id": PAGE, "page_access_token": PAGE_TOKEN,
                   "app_secret": APP_SECRET, "verify_token": VERIFY_TOKEN, "default_reply": "thanks",
                   "rate_limits": {"per_second": 5}}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["rate_limits"]["per_second"], 5.0);
    let url = format!("{}{}", app.base, body["webhook_path"].as_str().unwrap());
    app.emulator
        .add_page(PageSpec::new(PAGE, PAGE_TOKEN, APP_SECRET).with_webhook(url));
    for i in 0..12 {
        let r = app
            .emulator
            .messenger_user_sends_text(PAGE, &format!("2400000000000{i:04}"), "hi")
            .await;
        assert_eq!(r.status, 200);
    }
    let sent = app
        .emulator
        .wait_for_calls(Platform::Messenger, "messages", 12, Duration::from_secs(20))
        .await;
    assert_eq!(sent.len(), 12);
    let times: Vec<i64> = sent.iter().map(|c| c.at_ms).collect();
    assert_paced(&times, 5, "replies");
    app.stop().await;
}

async fn messenger_audio_goes_at_most_ten_per_second(db: TestDatabase) {
    let app = spawn_app(db).await;
    let page = app.connect_page(PAGE).await;
    let people: Vec<String> = (0..25).map(|i| format!("2400000000001{i:04}")).collect();
    for psid in &people {
        app.emulator
            .messenger_user_sends_text(PAGE, psid, "hi")
            .await;
    }
    for psid in &people {
        app.settled_messages(&page, psid).await;
    }
    let res = app
        .http
        .post(format!(
            "{}/api/v1/media?kind=audio&filename=jingle.mp3",
            app.base
        ))
        .bearer_auth(ADMIN_TOKEN)
        .header("content-type", "audio/mpeg")
        .body(vec![0xFFu8, 0xFB, 0x90, 0x64, 1, 2, 3, 4])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 201);
    let media: serde_json::Value = res.json().await.unwrap();
    let (_, conversations) = app
        .get_api(&format!("/api/v1/conversations?channel_id={}", page.id))
        .await;
    for c in conversations["items"].as_array().unwrap() {
        let (status, body) = app
            .post_api(
                &format!("/api/v1/conversations/{}/messages", c["id"]),
                json!({"message": {"type": "media", "kind": "audio", "media": {"media_id": media["id"]}}}),
            )
            .await;
        assert_eq!(status, 201, "{body}");
    }
    let calls = wait_for(|| async {
        let audio: Vec<i64> = app
            .sends(Platform::Messenger)
            .iter()
            .filter(|c| c.request["message"]["attachment"]["type"] == "audio")
            .map(|c| c.at_ms)
            .collect();
        (audio.len() == 25).then_some(audio)
    })
    .await;
    assert_paced(&calls, 10, "audio messages");
    app.stop().await;
}

/// How much the platform's clock may see a send late relative to the next one: the pacer spaces
/// the *starts* of our calls; the emulator stamps each answer, after an upload, a commit or a
/// busy core. The pacer's exact calendar-second behaviour is unit-tested on a simulated clock
/// (`pacing.rs`); here, at the platform, it is checked within this jitter.
const JITTER_MS: i64 = 100;

/// At most `rate` per second as the platform sees it: any `rate + 1` consecutive sends span at
/// least a second (less the jitter), so the whole run takes as long as the rate demands.
fn assert_paced(times: &[i64], rate: usize, what: &str) {
    let mut times = times.to_vec();
    times.sort_unstable();
    let mut per_second = std::collections::BTreeMap::new();
    for t in &times {
        *per_second.entry(t / 1_000).or_insert(0) += 1;
    }
    for w in times.windows(rate + 1) {
        assert!(
            w[rate] - w[0] >= 1_000 - JITTER_MS,
            "{} {what} within {} ms (at most {rate} a second); per calendar second: {per_second:?}",
            rate + 1,
            w[rate] - w[0]
        );
    }
}
