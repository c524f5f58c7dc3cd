//! The process is killed (SIGKILL) while a reply is on its way; after a restart with the same
//! node id, what happens to the reply depends on whether its platform call had started:
//! - it had (the request was in flight): the reply becomes `unknown` and is not sent again — the
//!   platform may have it already;
//! - it had not (claimed, waiting for its turn): it goes back to the queue and is sent once.

mod common;

use std::io::Read;
use std::net::{SocketAddr, TcpListener};

use common::{ADMIN_TOKEN, serve};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::json;
use switchboard_domain::{
    AuthorKind, ChannelId, ChannelSettings, ContactRef, Content, InboundEnvelope, InboundEvent,
    MessageStatus, MessengerSettings, Millis, Psid,
};
use switchboard_emulator::{Emulator, EmulatorConfig, PageSpec, Platform};
use switchboard_storage::testing::TestDatabase;
use switchboard_storage::{
    IngestItem, Lane, NewChannel, OutgoingDraft, Store, StoreOptions, on_both_backends,
};

const PAGE: &str = "1000000001";
const PSID: &str = "24000000000000009";
const NODE: &str = "crash-test-node";

/// A "platform" that accepts connections and never answers: a send to it stays in flight. Says
/// on the channel when a Send API request (`POST …/messages`) has arrived.
fn black_hole() -> (std::thread::JoinHandle<()>, SocketAddr, mpsc::Receiver<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (seen, sends) = mpsc::channel();
    let handle = std::thread::spawn(move || {
        for mut stream in listener.incoming().take(64).flatten() {
            let seen = seen.clone();
            std::thread::spawn(move || {
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while let Ok(n) = stream.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    head.extend_from_slice(&buf[..n]);
                    let text = String::from_utf8_lossy(&head);
                    if text.starts_with("POST") && text.contains("/messages") {
                        let _ = seen.send(());
                        break;
                    }
                }
                // Hold the connection open, unanswered, until the test ends.
                std::thread::sleep(Duration::from_secs(120));
                drop(stream);
            });
        }
    });
    (handle, addr, sends)
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

async fn wait_for_reply_status(store: &Store, channel: ChannelId, wanted: MessageStatus) {
    let mut status = None;
    for _ in 0..200 {
        status = reply_status(store, channel).await;
        if status == Some(wanted) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("reply status {status:?}, expected {wanted:?}");
}

on_both_backends!(
    a_reply_whose_call_had_started_when_the_process_died_is_unknown_and_not_resent,
    a_reply_claimed_but_not_yet_called_when_the_process_died_is_sent_once_after_restart,
);

async fn a_reply_whose_call_had_started_when_the_process_died_is_unknown_and_not_resent(
    db: TestDatabase,
) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::new();
    let emulator = Emulator::start(EmulatorConfig::default())
        .await
        .expect("emulator");
    let (_hole, hole_addr, hole_sends) = black_hole();

    // First life: the Graph API swallows requests, so the reply is stuck in flight.
    let first = serve(&db.url, &format!("http://{hole_addr}/v23.0"), NODE, "warn");
    first.wait_healthy(&http).await;
    let base = first.base.clone();
    let created: serde_json::Value = http
        .post(format!("{base}/api/v1/channels"))
        .bearer_auth(ADMIN_TOKEN)
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
    // The Send API request has reached the "platform": the call provably started.
    tokio::task::spawn_blocking(move || hole_sends.recv_timeout(Duration::from_secs(20)))
        .await
        .expect("join")
        .expect("the reply's Send API request reached the platform");
    assert_eq!(
        reply_status(&store, channel).await,
        Some(MessageStatus::Sending),
        "the reply is in flight when the process dies"
    );

    first.sigkill().await;

    // Second life: the same node comes back with a working Graph API.
    let second = serve(&db.url, &emulator.graph_api_url(), NODE, "warn");
    second.wait_healthy(&http).await;
    // The platform may have accepted the first call: the reply is recorded `unknown` (for an
    // agent to see) and not sent a second time.
    wait_for_reply_status(&store, channel, MessageStatus::Unknown).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        emulator.count_calls(Platform::Messenger, "messages", false),
        0,
        "not re-sent"
    );
    assert_eq!(
        reply_status(&store, channel).await,
        Some(MessageStatus::Unknown),
        "terminal"
    );
    assert_eq!(store.outbox_pending().await.unwrap(), 0);

    second.sigkill().await;
    store.close().await;
}

async fn a_reply_claimed_but_not_yet_called_when_the_process_died_is_sent_once_after_restart(
    db: TestDatabase,
) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::new();
    let emulator = Emulator::start(EmulatorConfig::default())
        .await
        .expect("emulator");
    emulator.add_page(PageSpec::new(PAGE, "pt", "as"));
    emulator.messenger_register_user(PAGE, PSID);

    // What the first life left behind: a stored message, its reply queued in the same
    // transaction, and the reply claimed by this node, which died before its platform call (it
    // was waiting for a pacing slot or a send permit). Written through the store so the moment of
    // death is exact.
    let store = Store::open(StoreOptions::new(db.url.clone()))
        .await
        .expect("store");
    let channel = store
        .create_channel(NewChannel {
            name: "Shop".into(),
            external_id: PAGE.into(),
            settings: ChannelSettings::Messenger(MessengerSettings {
                page_id: PAGE.into(),
                page_access_token: "pt".into(),
                app_secret: "as".into(),
                verify_token: "vt".into(),
                rate_limits: None,
                human_agent_permission: false,
                utility_messaging_permission: false,
            }),
            // No automatic answers: the only message is the reply queued below.
            default_reply: None,
        })
        .await
        .expect("channel")
        .id;
    let text = |t: &str| Content {
        text: Some(t.into()),
        ..Content::default()
    };
    store
        .ingest(&[IngestItem {
            channel_id: channel,
            envelope: InboundEnvelope {
                dedupe_key: "mid:m_1".into(),
                contact: Some(ContactRef::id_only(Psid::parse(PSID).unwrap().into())),
                occurred_at: Millis::now(),
                standby: false,
                event: InboundEvent::Message {
                    platform_message_id: "m_1".into(),
                    content: text("Are you open on Sunday?"),
                    referral: None,
                },
            },
            replies: vec![OutgoingDraft {
                content: text("Yes, 10 to 4."),
                author: AuthorKind::Automation,
                lane: Lane::Reply,
                messaging_type: Some("RESPONSE".into()),
            }],
        }])
        .await
        .expect("ingest");
    let now = Millis::now();
    let claimed = store
        .claim_outbox(
            &format!("{NODE}#a-previous-boot"),
            Lane::Reply,
            now,
            now.plus_millis(600_000),
            10,
            &[],
        )
        .await
        .expect("claim");
    assert_eq!(claimed.len(), 1);
    assert_eq!(
        reply_status(&store, channel).await,
        Some(MessageStatus::Sending)
    );

    // The same node comes back (its lease has ten minutes to run: restart recovery does not wait
    // for it, only for the previous life's heartbeat to be provably old; this one never beat).
    let server = serve(&db.url, &emulator.graph_api_url(), NODE, "warn");
    server.wait_healthy(&http).await;
    let sent = emulator
        .wait_for_calls(Platform::Messenger, "messages", 1, Duration::from_secs(20))
        .await;
    assert_eq!(sent.len(), 1, "the reply went out after the restart");
    assert_eq!(sent[0].request["recipient"]["id"], PSID);
    assert_eq!(sent[0].request["message"]["text"], "Yes, 10 to 4.");
    wait_for_reply_status(&store, channel, MessageStatus::Sent).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let calls = emulator.calls_matching(Platform::Messenger, "messages");
    assert_eq!(calls.len(), 1, "exactly once: {calls:#?}");

    server.sigkill().await;
    store.close().await;
}
