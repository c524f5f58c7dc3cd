//! An agent writes to a customer through the one send API: personalised, linted, and checked
//! against the channel's policy before anything is queued.

mod common;

use std::time::Duration;

use common::*;
use serde_json::{Value, json};
use switchboard_emulator::{Platform, Signing, TelegramUser};
use switchboard_storage::on_both_backends;
use switchboard_storage::testing::TestDatabase;

const PAGE: &str = "1000000001";
const ANN: &str = "24000000000000001";
const BOT: &str = "7000000001:AAtestTOKEN_abc";

on_both_backends!(
    an_agent_reply_inside_the_window_is_personalised_and_sent_as_a_response,
    outside_the_window_promotions_are_refused_and_the_rule_is_named,
    unknown_placeholders_are_refused_before_anything_is_queued,
    a_blocked_telegram_contact_is_refused,
    lint_reports_misspellings_and_blocking_errors,
    with_the_human_agent_permission_an_agent_answers_after_two_days,
);

async fn conversation_with(app: &TestApp, channel: &Channel, external_id: &str) -> i64 {
    let (_, conversations) = app
        .get_api(&format!("/api/v1/conversations?channel_id={}", channel.id))
        .await;
    let contacts = app.contacts(channel).await;
    let contact = contacts
        .iter()
        .find(|c| c["external_id"] == external_id)
        .expect("contact");
    conversations["items"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["contact_id"] == contact["id"])
        .and_then(|c| c["id"].as_i64())
        .expect("conversation")
}

async fn send(app: &TestApp, conversation: i64, body: Value) -> (u16, Value) {
    app.post_api(
        &format!("/api/v1/conversations/{conversation}/messages"),
        body,
    )
    .await
}

async fn an_agent_reply_inside_the_window_is_personalised_and_sent_as_a_response(db: TestDatabase) {
    let app = spawn_app(db).await;
    let bot = app.connect_bot(BOT, "webhook").await;
    app.emulator
        .telegram_user_sends_text(BOT, TelegramUser::new(42, "Budi"), "ada ukuran M?")
        .await;
    let conversation = conversation_with(&app, &bot, "42").await;
    app.emulator
        .wait_for_calls(
            Platform::Telegram,
            "sendMessage",
            1,
            Duration::from_secs(10),
        )
        .await;

    let (status, body) = send(
        &app,
        conversation,
        json!({"text": "Halo {{first_name|teman}}, ukuran M masih ada."}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["policy"]["decision"]["decision"], "allow", "{body}");
    assert_eq!(
        body["policy"]["decision"]["messaging_type"], "not_applicable",
        "Telegram has no messaging types"
    );
    assert_eq!(body["message"]["author_kind"], "agent");
    let sent = app
        .emulator
        .wait_for_calls(
            Platform::Telegram,
            "sendMessage",
            2,
            Duration::from_secs(10),
        )
        .await;
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[1].request["text"], "Halo Budi, ukuran M masih ada.");
    app.stop().await;
}

async fn outside_the_window_promotions_are_refused_and_the_rule_is_named(db: TestDatabase) {
    let app = spawn_app(db).await;
    let page = app.connect_page(PAGE).await;
    app.emulator.messenger_register_user(PAGE, ANN);
    let two_days_ago = app.emulator.now_millis() - 48 * 3600 * 1000;
    let old = json!({"object": "page", "entry": [{"id": PAGE, "time": two_days_ago, "messaging": [{
        "sender": {"id": ANN}, "recipient": {"id": PAGE}, "timestamp": two_days_ago,
        "message": {"mid": "m_old", "text": "do you have it in blue?"}}]}]});
    let r = app
        .emulator
        .messenger_deliver_raw(PAGE, serde_json::to_vec(&old).unwrap(), Signing::Valid)
        .await;
    assert_eq!(r.status, 200);
    let conversation = conversation_with(&app, &page, ANN).await;
    let before = app.messages_with(&page, ANN).await.len();

    let (status, body) = send(
        &app,
        conversation,
        json!({"text": "Spring sale: 20% off!", "promotional": true}),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "policy_denied");
    assert_eq!(body["error"]["rule"], "promotional_outside_window");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("meta-2026 v1"),
        "{body}"
    );

    // A human's answer after 48 h needs HUMAN_AGENT, and this page has not been granted it.
    let (status, body) = send(
        &app,
        conversation,
        json!({"text": "Yes, blue is back in stock."}),
    )
    .await;
    assert_eq!(
        (status, body["error"]["rule"].as_str()),
        (422, Some("human_agent_permission_missing")),
        "{body}"
    );
    assert_eq!(
        app.messages_with(&page, ANN).await.len(),
        before,
        "nothing was queued"
    );
    app.stop().await;
}

async fn unknown_placeholders_are_refused_before_anything_is_queued(db: TestDatabase) {
    let app = spawn_app(db).await;
    let page = app.connect_page(PAGE).await;
    app.emulator
        .messenger_user_sends_text(PAGE, ANN, "hi")
        .await;
    let conversation = conversation_with(&app, &page, ANN).await;
    let before = app.settled_messages(&page, ANN).await.len();
    let (status, body) = send(&app, conversation, json!({"text": "Hi {{frist_name}}!"})).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "invalid_template");
    assert_eq!(
        body["error"]["errors"][0]["span"],
        json!({"start": 5, "end": 15}),
        "points at the name: {body}"
    );
    assert_eq!(body["error"]["errors"][0]["suggestion"], "first_name");
    let (status, _) = send(&app, conversation, json!({"text": "x".repeat(2001)})).await;
    assert_eq!(status, 422, "over Messenger's 2000 characters");
    assert_eq!(app.messages_with(&page, ANN).await.len(), before);
    app.stop().await;
}

async fn a_blocked_telegram_contact_is_refused(db: TestDatabase) {
    let app = spawn_app(db).await;
    let bot = app.connect_bot(BOT, "webhook").await;
    let budi = TelegramUser::new(42, "Budi");
    app.emulator
        .telegram_user_sends_text(BOT, budi.clone(), "halo")
        .await;
    app.emulator.telegram_user_blocks(BOT, budi).await;
    let conversation = conversation_with(&app, &bot, "42").await;
    let (status, body) = send(&app, conversation, json!({"text": "Are you still there?"})).await;
    assert_eq!(
        (status, body["error"]["rule"].as_str()),
        (422, Some("recipient_unreachable")),
        "{body}"
    );
    app.stop().await;
}

async fn lint_reports_misspellings_and_blocking_errors(db: TestDatabase) {
    let app = spawn_app(db).await;
    let (status, body) = app
        .post_api(
            "/api/v1/lint",
            json!({"text": "See you tommorow!", "channel": "messenger", "language": "en"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["ok"], true);
    let finding = &body["findings"][0];
    assert_eq!(finding["kind"]["type"], "misspelling", "{body}");
    assert!(
        finding["suggestions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s == "tomorrow"),
        "{body}"
    );
    let (_, body) = app
        .post_api(
            "/api/v1/lint",
            json!({"text": format!("Hi {{{{nme}}}} {}", "y".repeat(2000)), "channel": "messenger"}),
        )
        .await;
    assert_eq!(body["ok"], false, "{body}");
    assert!(
        !body["template_errors"].as_array().unwrap().is_empty(),
        "{body}"
    );
    app.stop().await;
}

async fn with_the_human_agent_permission_an_agent_answers_after_two_days(db: TestDatabase) {
    let app = spawn_app(db).await;
    let (status, body) = app
        .post_api(
            "/api/v1/channels",
            json!({"kind": "messenger", "name": "Granted page", "page_id": PAGE,
                   "page_access_token": PAGE_TOKEN, "app_secret": APP_SECRET,
                   "verify_token": VERIFY_TOKEN, "human_agent_permission": true}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["permissions"]["human_agent"], true);
    let page = Channel {
        id: body["id"].as_i64().unwrap(),
        webhook_url: format!("{}{}", app.base, body["webhook_path"].as_str().unwrap()),
    };
    app.emulator.add_page(
        switchboard_emulator::PageSpec::new(PAGE, PAGE_TOKEN, APP_SECRET)
            .with_webhook(&page.webhook_url),
    );
    app.emulator.messenger_register_user(PAGE, ANN);
    let two_days_ago = app.emulator.now_millis() - 48 * 3600 * 1000;
    let old = json!({"object": "page", "entry": [{"id": PAGE, "time": two_days_ago, "messaging": [{
        "sender": {"id": ANN}, "recipient": {"id": PAGE}, "timestamp": two_days_ago,
        "message": {"mid": "m_old2", "text": "do you have it in blue?"}}]}]});
    let r = app
        .emulator
        .messenger_deliver_raw(PAGE, serde_json::to_vec(&old).unwrap(), Signing::Valid)
        .await;
    assert_eq!(r.status, 200);
    let conversation = conversation_with(&app, &page, ANN).await;
    let (status, body) = send(
        &app,
        conversation,
        json!({"text": "Yes, blue is back in stock."}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["policy"]["decision"]["tag"], "HUMAN_AGENT", "{body}");
    let sent = app
        .emulator
        .wait_for_calls(Platform::Messenger, "messages", 1, Duration::from_secs(10))
        .await;
    assert_eq!(sent[0].request["tag"], "HUMAN_AGENT");
    assert!(sent[0].is_success(), "{:?}", sent[0].response);
    app.stop().await;
}
