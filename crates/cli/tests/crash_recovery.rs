//! The webhook was acknowledged, then the process was killed (SIGKILL) before the reply went out.
//! After a restart the reply is sent — exactly once.

use std::net::{SocketAddr, TcpListener};
use std::process::Stdio;
use std::time::Duration;

use serde_json::json;
use switchboard_domain::{ChannelId, MessageStatus};
use switchboard_emulator::{Emulator, EmulatorConfig, PageSpec, Platform};
use switchboard_storage::testing::TestDatabase;
use switchboard_storage::{Store, StoreOptions, on_both_backends};
use tokio::process::{Child, Command};

const PAGE: &str = "1000000001";
const PSID: &str = "24000000000000009";
const TOKEN: &str = "crash-test-admin";

fn free_port() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr")
}

/// A "platform" that accepts connections and never answers: a send to it stays in flight.
fn black_hole() -> (std::thread::JoinHandle<()>, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let handle = std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().take(64).flatten() {
            held.push(stream);
        }
    });
    (handle, addr)
}

fn serve(db_url: &str, listen: SocketAddr, graph: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .arg("serve")
        .env("SWITCHBOARD_DATABASE_URL", db_url)
        .env("SWITCHBOARD_LISTEN", listen.to_string())
        .env("SWITCHBOARD_GRAPH_API_URL", graph)
        .env("SWITCHBOARD_ADMIN_TOKEN", TOKEN)
        .env("SWITCHBOARD_NODE_ID", "crash-test-node")
        .env("SWITCHBOARD_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn switchboard")
}

async fn wait_healthy(http: &reqwest::Client, base: &str) {
    for _ in 0..200 {
        if let Ok(r) = http.get(format!("{base}/healthz")).send().await
            && r.status().is_success()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("server at {base} did not become healthy");
}

async fn reply_status(store: &Store, channel: ChannelId) -> Option<MessageStatus> {
    let conversation = store
        .list_conversations(channel)
        .await
        .ok()?
        .into_iter()
        .next()?;
    let messages = store.list_messages(conversation.id).await.ok()?;
    messages
        .iter()
        .find(|m| m.direction == switchboard_domain::Direction::Out)
        .map(|m| m.status)
}

on_both_backends!(a_reply_acknowledged_before_a_crash_is_sent_exactly_once_after_restart);

async fn a_reply_acknowledged_before_a_crash_is_sent_exactly_once_after_restart(db: TestDatabase) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::new();
    let emulator = Emulator::start(EmulatorConfig::default())
        .await
        .expect("emulator");
    let (_hole, hole_addr) = black_hole();

    // First life: the Graph API swallows requests, so the reply is stuck in flight.
    let listen = free_port();
    let base = format!("http://{listen}");
    let mut first = serve(&db.url, listen, &format!("http://{hole_addr}/v23.0"));
    wait_healthy(&http, &base).await;
    let created: serde_json::Value = http
        .post(format!("{base}/api/v1/channels"))
        .bearer_auth(TOKEN)
        .json(
            &json!({"kind": "messenger", "name": "Shop", "page_id": PAGE, "page_access_token": "pt",
                      "app_secret": "as", "verify_token": "vt", "default_reply": "We got it!"}),
        )
        .send()
        .await
        .expect("create channel")
        .json()
        .await
        .expect("json");
    let channel = ChannelId(created["id"].as_i64().expect("id"));
    emulator.add_page(PageSpec::new(PAGE, "pt", "as").with_webhook(format!(
        "{base}{}",
        created["webhook_path"].as_str().unwrap()
    )));

    let ack = emulator
        .messenger_user_sends_text(PAGE, PSID, "Are you open on Sunday?")
        .await;
    assert_eq!(ack.status, 200, "acknowledged: {}", ack.body);

    let store = Store::connect(StoreOptions::new(db.url.clone()))
        .await
        .expect("store");
    let mut status = None;
    for _ in 0..100 {
        status = reply_status(&store, channel).await;
        if status == Some(MessageStatus::Sending) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        status,
        Some(MessageStatus::Sending),
        "the reply is in flight when the process dies"
    );

    first.start_kill().expect("SIGKILL");
    first.wait().await.expect("reaped");

    // Second life: the same node comes back with a working Graph API.
    let listen = free_port();
    let base = format!("http://{listen}");
    let mut second = serve(&db.url, listen, &emulator.graph_api_url());
    wait_healthy(&http, &base).await;
    let sent = emulator
        .wait_for_calls(Platform::Messenger, "messages", 1, Duration::from_secs(20))
        .await;
    assert_eq!(sent.len(), 1, "the reply went out after the restart");
    assert_eq!(sent[0].request["recipient"]["id"], PSID);
    assert_eq!(sent[0].request["message"]["text"], "We got it!");
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        emulator.count_calls(Platform::Messenger, "messages", false),
        1,
        "exactly once"
    );
    assert_eq!(
        reply_status(&store, channel).await,
        Some(MessageStatus::Sent)
    );

    second.start_kill().expect("kill");
    let _ = second.wait().await;
    store.close().await;
}
