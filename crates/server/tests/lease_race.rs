//! A platform slower than the outbox lease: many agent messages queued for a few people, each
//! Send API call answering after the lease would have run out. The claims' leases are renewed
//! and every write is fenced by its claim, so no message reaches a person twice and each
//! person receives their messages in the order they were queued — also when a second process
//! was started with the same node id by mistake.

mod common;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use common::*;
use serde_json::json;
use switchboard_emulator::{Fault, FaultRule, Platform};
use switchboard_server::{Server, ServerConfig};
use switchboard_storage::on_both_backends;
use switchboard_storage::testing::TestDatabase;

const PAGE: &str = "1000000077";
const PEOPLE: usize = 4;
const MESSAGES_EACH: usize = 6;
const LEASE: Duration = Duration::from_millis(600);
/// Every Send API answer takes this long: three leases.
const PLATFORM_LATENCY_MS: u64 = 1_800;

on_both_backends!(
    a_platform_slower_than_the_lease_gets_each_message_once_and_in_order,
    two_processes_sharing_a_node_id_send_nothing_twice,
);

async fn a_platform_slower_than_the_lease_gets_each_message_once_and_in_order(db: TestDatabase) {
    let app = spawn_app_with(db, slow_platform_config).await;
    let conversations = people_waiting(&app).await;
    queue_messages(&app, &conversations).await;
    wait_until_settled(&app, PEOPLE * MESSAGES_EACH).await;
    assert_each_once_in_order(&app);
    assert_all_recorded_sent(&app, &conversations).await;
    app.stop().await;
}

async fn two_processes_sharing_a_node_id_send_nothing_twice(db: TestDatabase) {
    let app = spawn_app_with(db, |c| {
        slow_platform_config(c);
        c.node_id = Some("same-name".into());
    })
    .await;
    let conversations = people_waiting(&app).await;
    queue_messages(&app, &conversations).await;
    // The first process has claimed and started sending; the second, misconfigured with the
    // same node id, starts while those calls are in flight. Its start-up recovery must see a
    // live process, not a previous life.
    wait_for(|| async { (!app.sends_started().is_empty()).then_some(()) }).await;
    let mut config = ServerConfig::new(app.db.url.clone(), SocketAddr::from(([127, 0, 0, 1], 0)));
    config.graph_api_url = app.emulator.graph_api_url();
    config.telegram_api_url = app.emulator.telegram_api_url();
    slow_platform_config(&mut config);
    config.node_id = Some("same-name".into());
    let twin = Server::start(config).await.expect("start the twin");
    wait_until_settled(&app, PEOPLE * MESSAGES_EACH).await;
    assert_each_once_in_order(&app);
    assert_all_recorded_sent(&app, &conversations).await;
    twin.shutdown().await;
    app.stop().await;
}

fn slow_platform_config(c: &mut ServerConfig) {
    c.outbox_lease = LEASE;
    c.platform_timeout = Duration::from_secs(30);
}

impl TestApp {
    /// Send API calls the emulator has received (answered or not yet).
    fn sends_started(&self) -> Vec<switchboard_emulator::CallRecord> {
        self.emulator
            .calls_matching(Platform::Messenger, "messages")
    }
}

/// People who wrote to the page (their window is open); returns their conversations.
async fn people_waiting(app: &TestApp) -> Vec<i64> {
    let (status, page) = app
        .post_api(
            "/api/v1/channels",
            json!({"kind": "messenger", "name": "p", "page_id": PAGE, "page_access_token": PAGE_TOKEN,
                   "app_secret": APP_SECRET, "verify_token": VERIFY_TOKEN}),
        )
        .await;
    assert_eq!(status, 201, "{page}");
    let url = format!("{}{}", app.base, page["webhook_path"].as_str().unwrap());
    app.emulator.add_page(
        switchboard_emulator::PageSpec::new(PAGE, PAGE_TOKEN, APP_SECRET).with_webhook(url),
    );
    for i in 0..PEOPLE {
        let psid = format!("2400000000077{i:02}");
        app.emulator
            .messenger_user_sends_text(PAGE, &psid, "hi")
            .await;
    }
    let path = format!("/api/v1/conversations?channel_id={}", page["id"]);
    wait_for(|| async {
        let (_, list) = app.get_api(&path).await;
        let ids: Vec<i64> = list["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c["id"].as_i64())
            .collect();
        (ids.len() == PEOPLE).then_some(ids)
    })
    .await
}

/// Queues the agent's messages "k of conversation" in order, through the API, and only then
/// makes the platform slow.
async fn queue_messages(app: &TestApp, conversations: &[i64]) {
    app.emulator.inject(
        FaultRule::always(Fault::latency(PLATFORM_LATENCY_MS)).on_platform(Platform::Messenger),
    );
    for k in 0..MESSAGES_EACH {
        for conversation in conversations {
            let (status, body) = app
                .post_api(
                    &format!("/api/v1/conversations/{conversation}/messages"),
                    json!({"text": format!("{k} of {conversation}")}),
                )
                .await;
            assert_eq!(status, 201, "{body}");
        }
    }
}

/// Waits until the outbox is empty (every row terminal), then a little longer, so a duplicate
/// that would come late is seen too.
async fn wait_until_settled(app: &TestApp, expected: usize) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    loop {
        let pending = app.server.store.outbox_pending().await.expect("pending");
        if pending == 0 && app.sends(Platform::Messenger).len() >= expected {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{pending} messages still pending, {} sends",
            app.sends(Platform::Messenger).len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(PLATFORM_LATENCY_MS + 500)).await;
}

fn assert_each_once_in_order(app: &TestApp) {
    let mut calls = app.sends_started();
    calls.sort_by_key(|c| c.seq);
    let mut per_text: HashMap<String, usize> = HashMap::new();
    let mut per_person: HashMap<String, Vec<usize>> = HashMap::new();
    for call in &calls {
        let text = call.request["message"]["text"]
            .as_str()
            .unwrap_or("")
            .to_owned();
        *per_text.entry(text.clone()).or_default() += 1;
        let k: usize = text
            .split(' ')
            .next()
            .and_then(|k| k.parse().ok())
            .expect("k");
        per_person
            .entry(
                call.request["recipient"]["id"]
                    .as_str()
                    .unwrap_or("")
                    .to_owned(),
            )
            .or_default()
            .push(k);
    }
    let twice: Vec<_> = per_text.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "sent more than once: {twice:?}");
    assert_eq!(
        per_text.len(),
        PEOPLE * MESSAGES_EACH,
        "every message went out"
    );
    for (person, ks) in per_person {
        assert_eq!(
            ks,
            (0..MESSAGES_EACH).collect::<Vec<_>>(),
            "{person} got their messages out of order"
        );
    }
}

/// A live claim keeps its rows (its lease is renewed while the platform is slow), so every send
/// is recorded as what it was — `sent` — rather than given up as `unknown` by lease recovery.
async fn assert_all_recorded_sent(app: &TestApp, conversations: &[i64]) {
    for conversation in conversations {
        let (_, messages) = app
            .get_api(&format!("/api/v1/conversations/{conversation}/messages"))
            .await;
        let outbound: Vec<_> = messages
            .as_array()
            .into_iter()
            .flatten()
            .filter(|m| m["direction"] == "out")
            .map(|m| m["status"].as_str().unwrap_or("").to_owned())
            .collect();
        assert_eq!(outbound.len(), MESSAGES_EACH);
        assert!(
            outbound.iter().all(|s| s == "sent"),
            "conversation {conversation}: {outbound:?}"
        );
    }
}
