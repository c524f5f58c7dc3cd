//! Rough throughput check of the Send API hot path:
//! `cargo run --release -p switchboard-emulator --example send_throughput`.
//! The client shares the machine, so the number is a lower bound.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use switchboard_emulator::{Emulator, EmulatorConfig, PageSpec, Platform};

#[tokio::main]
async fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let emu = Emulator::start(EmulatorConfig::default())
        .await
        .expect("start");
    emu.add_page(PageSpec::new("1", "tok", "sec"));
    // No webhook: the driver records the action; delivery fails harmlessly.
    for i in 0..100 {
        emu.messenger_user_event(
            "1",
            &format!("u{i}"),
            serde_json::json!({"message":{"text":"hi"}}),
        )
        .await;
    }
    let client = reqwest::Client::new();
    let url = format!("{}/me/messages?access_token=tok", emu.graph_api_url());
    let done = Arc::new(AtomicU64::new(0));
    let secs = 5;
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for w in 0..64 {
        let (client, url, done) = (client.clone(), url.clone(), done.clone());
        tasks.push(tokio::spawn(async move {
            let body = serde_json::json!({
                "recipient": {"id": format!("u{}", w % 100)},
                "messaging_type": "RESPONSE",
                "message": {"text": "hello from the benchmark"}
            })
            .to_string();
            while Instant::now() < deadline {
                let r = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(body.clone())
                    .send()
                    .await
                    .expect("send");
                assert!(r.status().is_success());
                let _ = r.bytes().await;
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    let poller = {
        let emu = emu.clone();
        tokio::spawn(async move {
            let mut polls = 0u64;
            while Instant::now() < deadline {
                let _ = emu.count_calls(Platform::Messenger, "messages", true);
                polls += 1;
                tokio::time::sleep(Duration::from_micros(200)).await;
            }
            polls
        })
    };
    for t in tasks {
        t.await.expect("task");
    }
    let polls = poller.await.expect("poller");
    let n = done.load(Ordering::Relaxed);
    println!(
        "{} sends in {secs}s = {:.0}/s; counted {}; {polls} count_calls polls",
        n,
        n as f64 / secs as f64,
        emu.count_calls(Platform::Messenger, "messages", true)
    );
}
