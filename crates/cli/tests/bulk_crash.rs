//! A 10,000-recipient campaign, and the server killed with SIGKILL at 20 random moments while it
//! sends. After every restart (same node id) the rows the dead process had in flight are settled;
//! at the end:
//! - no recipient got the campaign message twice (counted at the emulator);
//! - every outbox row is terminal: `sent`, `failed` or `unknown`, and they add up to 10,000;
//! - each kill left at most the dispatcher's bulk in-flight window `unknown`.
//!
//! The kill moments come from a seeded RNG: 20 points spread over the campaign (a number of sends
//! the platform has accepted), each plus a random delay, so the process dies at any stage of a
//! send — claimed, waiting for its slot, marked, in the air, answered, recorded. The seed is
//! printed, and `BULK_CRASH_SEED=<n>` replays a run's schedule.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use common::{messenger_page, outbound_statuses, queue_campaign, serve};
use sqlx::Row;
use switchboard_domain::RateLimits;
use switchboard_emulator::{Emulator, EmulatorConfig, Platform};
use switchboard_server::dispatcher::BULK_IN_FLIGHT_WINDOW;
use switchboard_storage::testing::TestDatabase;
use switchboard_storage::{Store, StoreOptions, on_both_backends};

const RECIPIENTS: usize = 10_000;
const CHANNELS: usize = 4;
/// Per channel: the campaign needs at least 5 s of sending.
const RATE_PER_CHANNEL: f64 = 500.0;
const KILLS: usize = 20;
/// Kills happen while the platform has accepted less than this share of the campaign.
const KILLS_WITHIN: f64 = 0.9;
/// The most a kill waits after its point in the campaign was reached.
const MAX_KILL_DELAY_MS: u64 = 60;
const NODE: &str = "bulk-crash-node";
const TEXT: &str = "Our spring collection is here.";

/// SplitMix64: enough randomness for kill moments, reproducible from the printed seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn seed() -> u64 {
    std::env::var("BULK_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        })
}

fn page_id(c: usize) -> String {
    format!("{}", 1_000_000_000 + c)
}

fn psid(i: usize) -> String {
    format!("{}", 8_000_000_000_000_000u64 + i as u64)
}

/// Channels, recipients (known to the emulator, window open) and one bulk message each, queued
/// through the same store calls a campaign uses.
async fn seed_campaign(store: &Store, emulator: &switchboard_emulator::EmulatorHandle) {
    let limits = RateLimits::parse(RATE_PER_CHANNEL, None).expect("rate");
    for c in 0..CHANNELS {
        let page = page_id(c);
        let channel = messenger_page(store, emulator, &page, Some(limits), None).await;
        let psids: Vec<String> = (c..RECIPIENTS).step_by(CHANNELS).map(psid).collect();
        queue_campaign(store, emulator, channel, &page, &psids, TEXT).await;
    }
}

fn count(statuses: &BTreeMap<String, i64>, status: &str) -> i64 {
    statuses.get(status).copied().unwrap_or(0)
}

on_both_backends!(a_bulk_send_killed_twenty_times_sends_nobody_anything_twice);

async fn a_bulk_send_killed_twenty_times_sends_nobody_anything_twice(db: TestDatabase) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let seed = seed();
    println!(
        "bulk_crash ({:?}): seed {seed} (BULK_CRASH_SEED={seed} replays it)",
        db.backend
    );
    let mut rng = Rng(seed);
    let started = Instant::now();
    let http = reqwest::Client::new();
    let emulator = Emulator::start(EmulatorConfig::default())
        .await
        .expect("emulator");
    let store = Store::open(StoreOptions::new(db.url.clone()))
        .await
        .expect("store");
    seed_campaign(&store, &emulator).await;
    sqlx::any::install_default_drivers();
    let sql = sqlx::any::AnyPoolOptions::new()
        .max_connections(2)
        .connect(&db.url)
        .await
        .expect("connect for counting");
    println!(
        "seeded {RECIPIENTS} bulk messages in {:?}",
        started.elapsed()
    );

    // Where in the campaign each kill lands: after this many sends were accepted.
    let mut kill_points: Vec<usize> = (0..KILLS)
        .map(|_| rng.below((RECIPIENTS as f64 * KILLS_WITHIN) as u64) as usize)
        .collect();
    kill_points.sort_unstable();
    println!("kills after these many accepted sends: {kill_points:?}");

    let window = i64::try_from(BULK_IN_FLIGHT_WINDOW).unwrap();
    let mut unknown_before = 0;
    let mut pending = i64::MAX;
    for life in 0..=KILLS {
        let node = serve(&db.url, &emulator.graph_api_url(), NODE, "error");
        node.wait_healthy(&http).await;
        // The previous life's rows are settled by now (restart recovery runs before the server
        // answers), and this life's own sends cannot make a row `unknown` (only recovery does).
        let now = outbound_statuses(&sql).await;
        let unknown = count(&now, "unknown");
        pending = count(&now, "queued") + count(&now, "sending");
        println!(
            "life {life} at {:?}: after recovery {now:?}; the last kill left {} unknown",
            started.elapsed(),
            unknown - unknown_before
        );
        assert!(
            unknown - unknown_before <= window,
            "kill {life} left {} rows unknown, more than the in-flight window {window}",
            unknown - unknown_before
        );
        unknown_before = unknown;
        let Some(&point) = kill_points.get(life) else {
            // The last life finishes the campaign.
            let deadline = Instant::now() + Duration::from_secs(120);
            while store.outbox_pending().await.expect("pending") > 0 {
                assert!(Instant::now() < deadline, "the campaign did not finish");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            node.sigkill().await;
            break;
        };
        assert!(
            pending > 0,
            "the campaign finished before kill {life}: kills must land mid-send"
        );
        let deadline = Instant::now() + Duration::from_secs(30);
        while emulator.count_calls(Platform::Messenger, "messages", true) < point {
            assert!(Instant::now() < deadline, "no progress towards kill {life}");
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        tokio::time::sleep(Duration::from_millis(rng.below(MAX_KILL_DELAY_MS + 1))).await;
        node.sigkill().await;
    }
    assert!(
        pending > 0,
        "work was left after the last kill, so every kill landed mid-send"
    );

    // Every row terminal, and they add up.
    let end = outbound_statuses(&sql).await;
    println!("end after {:?}: {end:?}", started.elapsed());
    let (sent, failed, unknown) = (
        count(&end, "sent") + count(&end, "delivered") + count(&end, "read"),
        count(&end, "failed"),
        count(&end, "unknown"),
    );
    assert_eq!(
        sent + failed + unknown,
        RECIPIENTS as i64,
        "every row terminal: {end:?}"
    );

    // Nobody got it twice, as the platform counts.
    let calls = emulator.calls_matching(Platform::Messenger, "messages");
    assert_eq!(
        calls.len(),
        emulator.count_calls(Platform::Messenger, "messages", false),
        "the call log kept every call"
    );
    let mut accepted: HashMap<String, usize> = HashMap::new();
    for call in calls.iter().filter(|c| c.is_success()) {
        assert_eq!(call.request["message"]["text"], TEXT);
        let recipient = call.request["recipient"]["id"]
            .as_str()
            .expect("recipient")
            .to_owned();
        *accepted.entry(recipient).or_default() += 1;
    }
    let twice: Vec<_> = accepted.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "sent twice: {twice:?}");

    // The platform has every message we recorded as sent.
    let rows = sqlx::query("SELECT recipient, status FROM messages WHERE direction = 'out'")
        .fetch_all(&sql)
        .await
        .expect("rows");
    for row in &rows {
        let recipient: String = row.get("recipient");
        let status: String = row.get("status");
        if matches!(status.as_str(), "sent" | "delivered" | "read") {
            assert!(
                accepted.contains_key(&recipient),
                "{recipient} recorded {status} but never accepted"
            );
        }
    }
    let accepted_total = accepted.len() as i64;
    assert!(
        sent <= accepted_total && accepted_total <= sent + unknown + failed,
        "accepted {accepted_total}, recorded sent {sent}, unknown {unknown}, failed {failed}"
    );
    println!(
        "{KILLS} kills: {sent} sent, {failed} failed, {unknown} unknown (window {window} per kill); \
         the platform accepted {accepted_total}, none twice; {:?} in all",
        started.elapsed()
    );
    sql.close().await;
    store.close().await;
    emulator.shutdown();
}
