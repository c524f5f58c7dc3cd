//! Two real `switchboard serve` processes on one PostgreSQL database, started at the same moment
//! on an empty database. Webhooks arrive at both; a 5,000-recipient campaign is sent; one node is
//! SIGKILLed midway and restarted. At the end, as the platform counts: nobody got anything twice,
//! every outbox row is terminal, each page's rate held across both nodes, and every person who
//! wrote got exactly one answer.

mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use common::{messenger_page, outbound_statuses, queue_campaign, serve};
use switchboard_domain::RateLimits;
use switchboard_emulator::{CallRecord, Emulator, EmulatorConfig, Platform};
use switchboard_storage::testing::TestDatabase;
use switchboard_storage::{Store, StoreOptions};

const RECIPIENTS: usize = 5_000;
const CAMPAIGN_PAGES: usize = 2;
const RATE_PER_PAGE: f64 = 250.0;
/// People writing to each of the two chat pages (one page's webhooks go to each node).
const WRITERS: usize = 100;
const TEXT: &str = "Our spring collection is here.";
const ANSWER: &str = "Thanks, we will be right with you.";
/// Pacing is exact up to the jitter of a call's start (see the pacing scenario tests).
const JITTER_MS: i64 = 100;

fn page_id(i: usize) -> String {
    format!("{}", 1_100_000_000 + i)
}

fn psid(page: usize, i: usize) -> String {
    format!(
        "{}",
        8_100_000_000_000_000u64 + (page as u64) * 100_000 + i as u64
    )
}

/// The campaign's audience (their windows open) and one bulk message each.
async fn seed_campaign(store: &Store, emulator: &switchboard_emulator::EmulatorHandle) {
    let rate = RateLimits::parse(RATE_PER_PAGE, None).expect("rate");
    for p in 0..CAMPAIGN_PAGES {
        let page = page_id(p);
        let channel = messenger_page(store, emulator, &page, Some(rate), None).await;
        let psids: Vec<String> = (0..RECIPIENTS / CAMPAIGN_PAGES)
            .map(|i| psid(p, i))
            .collect();
        queue_campaign(store, emulator, channel, &page, &psids, TEXT).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_on_one_postgres_survive_a_kill_without_sending_anything_twice() {
    let Some(db) = TestDatabase::postgres().await else {
        return;
    };
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::new();
    let emulator = Emulator::start(EmulatorConfig::default())
        .await
        .expect("emulator");
    let graph = emulator.graph_api_url();

    // Both nodes start at the same moment on the empty database: both migrate, both come up.
    let nodes = [
        serve(&db.url, &graph, "node-1", "error"),
        serve(&db.url, &graph, "node-2", "error"),
    ];
    for node in &nodes {
        node.wait_healthy(&http).await;
    }
    let [first, second] = nodes;

    let store = Store::connect(StoreOptions::new(db.url.clone()))
        .await
        .expect("store");
    // Two chat pages, answered automatically; one page's webhooks go to each node.
    let mut chat_pages = Vec::new();
    for (i, node) in [&first, &second].into_iter().enumerate() {
        let p = CAMPAIGN_PAGES + i;
        let channel = messenger_page(&store, &emulator, &page_id(p), None, Some(ANSWER)).await;
        emulator.set_page_webhook(
            &page_id(p),
            &format!("{}/webhooks/messenger/{channel}", node.base),
        );
        chat_pages.push(p);
    }
    seed_campaign(&store, &emulator).await;

    let writers = tokio::spawn({
        let emulator = emulator.clone();
        async move {
            for i in 0..WRITERS {
                for p in [CAMPAIGN_PAGES, CAMPAIGN_PAGES + 1] {
                    let ack = emulator
                        .messenger_user_sends_text(&page_id(p), &psid(p, i), "hello?")
                        .await;
                    assert_eq!(ack.status, 200, "{}", ack.body);
                }
            }
        }
    });

    // Midway through the campaign, the first node is killed and comes back.
    let deadline = Instant::now() + Duration::from_secs(60);
    while bulk_sends(&emulator).len() < RECIPIENTS * 2 / 5 {
        assert!(Instant::now() < deadline, "the campaign does not progress");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    first.sigkill().await;
    let first = serve(&db.url, &graph, "node-1", "error");
    first.wait_healthy(&http).await;
    writers.await.expect("writers");

    let deadline = Instant::now() + Duration::from_secs(120);
    while store.outbox_pending().await.unwrap() > 0
        || store.count_open_automation().await.unwrap() > 0
    {
        assert!(Instant::now() < deadline, "work left after two minutes");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;

    // Nobody got the campaign twice, and the platform has everything recorded as sent.
    let mut accepted: HashMap<String, usize> = HashMap::new();
    for call in bulk_sends(&emulator) {
        *accepted.entry(recipient(&call)).or_default() += 1;
    }
    let twice: Vec<_> = accepted.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "campaign sent twice: {twice:?}");
    sqlx::any::install_default_drivers();
    let pool = sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .connect(&db.url)
        .await
        .expect("connect");
    let statuses = outbound_statuses(&pool).await;
    pool.close().await;
    let terminal: i64 = ["sent", "delivered", "read", "failed", "unknown"]
        .iter()
        .map(|s| statuses.get(*s).copied().unwrap_or(0))
        .sum();
    let total: i64 = statuses.values().sum();
    assert_eq!(terminal, total, "every row terminal: {statuses:?}");
    let sent = statuses.get("sent").copied().unwrap_or(0);
    let unknown = statuses.get("unknown").copied().unwrap_or(0);
    assert!(
        accepted.len() as i64 + WRITERS as i64 * 2 >= sent,
        "recorded sent {sent}, accepted {}",
        accepted.len()
    );
    assert!(
        accepted.len() as i64 >= RECIPIENTS as i64 - unknown,
        "only the kill's in-flight sends may be missing: accepted {}, unknown {unknown}",
        accepted.len()
    );

    // Every person who wrote got exactly one answer, whichever node stored their message.
    let mut answers: HashMap<String, usize> = HashMap::new();
    for call in emulator.calls_matching(Platform::Messenger, "messages") {
        if call.is_success() && call.request["message"]["text"] == ANSWER {
            *answers.entry(recipient(&call)).or_default() += 1;
        }
    }
    assert_eq!(answers.len(), WRITERS * 2, "everyone answered");
    assert!(
        answers.values().all(|n| *n == 1),
        "answered once each: {answers:?}"
    );

    // Each campaign page's rate held across both nodes: any R+1 consecutive accepted sends
    // span at least a second (less the jitter of a call's start).
    let r = RATE_PER_PAGE as usize;
    for p in 0..CAMPAIGN_PAGES {
        let mut at: Vec<i64> = bulk_sends(&emulator)
            .iter()
            .filter(|c| c.credential == page_id(p))
            .map(|c| c.at_ms)
            .collect();
        at.sort_unstable();
        for w in at.windows(r + 1) {
            assert!(
                w[r] - w[0] >= 1_000 - JITTER_MS,
                "page {p}: {} sends within {} ms",
                r + 1,
                w[r] - w[0]
            );
        }
    }
    println!(
        "two nodes: {statuses:?}; the platform accepted {} campaign messages, none twice",
        accepted.len()
    );
    second.sigkill().await;
    first.sigkill().await;
    store.close().await;
    emulator.shutdown();
}

fn bulk_sends(emulator: &switchboard_emulator::EmulatorHandle) -> Vec<CallRecord> {
    emulator
        .calls_matching(Platform::Messenger, "messages")
        .into_iter()
        .filter(|c| c.is_success() && c.request["message"]["text"] == TEXT)
        .collect()
}

fn recipient(call: &CallRecord) -> String {
    call.request["recipient"]["id"]
        .as_str()
        .unwrap_or("")
        .to_owned()
}
